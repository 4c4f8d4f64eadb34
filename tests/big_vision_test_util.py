# Copyright 2026 The MoNE Plugin Authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""Helpers of the Big Vision tests: the trainers run on the local data."""

import importlib.util
import json
import os
import subprocess
import sys
import tempfile

from absl.testing import absltest

from mone_plugin import frameworks

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(REPO, "configs", "mone_fashion_mnist.py")
HAVE_BV = frameworks.available("big_vision")
NO_BV = "Big Vision checkout not found (see README)."
MONE_TRAIN = "mone_plugin.big_vision.train"
STOCK_TRAIN = "mone_plugin.big_vision.stock_train"


def prepare_data(name="fashion_mnist_local"):
  """Builds the local TFDS data set `name` on first use; its data_dir."""
  from mone_plugin.data import prepare  # pylint: disable=g-import-not-at-top
  return prepare.ensure_prepared(name)


def env(cache_dir=None, extra_path=(), **extra):
  """The environment of a trainer subprocess (the repo on its path).

  Args:
    cache_dir: JAX's compilation cache, unless the suite's shared one
      (conftest.py) is set.
    extra_path: more directories for PYTHONPATH, after the repo's.
    **extra: more variables.
  """
  e = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", **extra)
  if cache_dir:
    e.setdefault("JAX_COMPILATION_CACHE_DIR", cache_dir)
  e["PYTHONPATH"] = os.pathsep.join(
      p for p in (REPO, *extra_path, os.environ.get("PYTHONPATH")) if p)
  return e


def trainer_cmd(workdir, args=None, module=MONE_TRAIN, config=CONFIG):
  """`python -m module --config=config[:args] --workdir=workdir`."""
  config = config if args is None else f"{config}:{args}"
  return [sys.executable, "-m", module, f"--config={config}",
          f"--workdir={workdir}"]


def run(cmd, env_=None, timeout=600, cwd=REPO, check=True):
  """Runs `cmd`; with `check`, a failure raises with the end of its log."""
  result = subprocess.run(cmd, env=env() if env_ is None else env_, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout,
                          check=False)
  if check and result.returncode:
    raise AssertionError(f"{cmd} failed ({result.returncode}):\n"
                         f"{result.stderr[-5000:]}")
  return result


def metrics(workdir):
  """The rows of a run's `big_vision_metrics.txt`."""
  with open(os.path.join(workdir, "big_vision_metrics.txt")) as f:
    return [json.loads(line) for line in f]


def final_params(workdir):
  """{name: array} of the parameters of a run's checkpoint."""
  import big_vision.utils as u  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top
  loaded = u.load_checkpoint_ts(os.path.join(workdir, "checkpoint.bv"),
                                regex="params/.*")
  return dict(u.tree_flatten_with_names(jax.device_get(loaded["params"]))[0])


def load_config(arg, path=CONFIG):
  """`get_config(arg)` of the config file `path` (MoNE registered)."""
  import mone_plugin.big_vision  # pylint: disable=g-import-not-at-top,unused-import
  name = os.path.splitext(os.path.basename(path))[0]
  spec = importlib.util.spec_from_file_location(name, path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config(arg)


def temp_dir(test_case):
  """A temporary directory removed when `test_case` ends; its path."""
  tmp = tempfile.TemporaryDirectory()
  test_case.addCleanup(tmp.cleanup)
  return tmp.name


class DataTestCase(absltest.TestCase):
  """Prepares `DATASET` (`cls.data_dir`) and a class temp dir `cls.tmp`."""
  DATASET = "fashion_mnist_local"

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.data_dir = prepare_data(cls.DATASET)
    cls.tmp = tempfile.TemporaryDirectory()

  @classmethod
  def tearDownClass(cls):
    cls.tmp.cleanup()
    super().tearDownClass()
