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

"""Faults through the Big Vision trainer and evaluator: no silent damage.

One tiny run diverges at step 2 (lr 1e30 after a warmup from 0) with a
checkpoint every step; the tests check that it stopped before writing
anything non-finite, then damage copies of its workdir (a deleted chunk
file, a NaN) and resume it with another config or a second trainer.
"""

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile

from absl.testing import absltest
import numpy as np

from mone_plugin import checkpoints
from mone_plugin import workdir as workdir_lib
from tests import big_vision_test_util as bvu

DIVERGES = ("runlocal,e_c=0.5,eval_e_c=1,width=32,depth=2,heads=2,mlp=64,"
            "steps=4,lr=1e30,deterministic")
HOLD = ("import sys, time; from mone_plugin import workdir as workdir_lib; "
        "workdir_lib.lock(sys.argv[1]); print('locked', flush=True); "
        "time.sleep(120)")


def load_config(arg):
  config = bvu.load_config(arg)
  config.ckpt_steps = 1
  return config


def state(workdir):
  """Every file of `workdir` (but its lock) with its size and mtime."""
  out = {}
  for root, _, files in os.walk(workdir):
    for f in files:
      if f == workdir_lib.LOCK_NAME:
        continue
      st = os.stat(os.path.join(root, f))
      out[os.path.relpath(os.path.join(root, f), workdir)] = (
          st.st_size, st.st_mtime_ns)
  return out


@absltest.skipUnless(bvu.HAVE_BV, bvu.NO_BV)
class BigVisionFaultsTest(bvu.DataTestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    from mone_plugin.big_vision import train  # pylint: disable=g-import-not-at-top
    cls.workdir = os.path.join(cls.tmp.name, "diverged")
    cls.error = None
    try:
      train.train_and_evaluate(load_config(DIVERGES), cls.workdir)
    except checkpoints.NonFiniteError as e:
      cls.error = e
    workdir_lib.release(cls.workdir)

  def _copy(self, name):
    path = os.path.join(self.tmp.name, name)
    shutil.copytree(self.workdir, path)
    return path

  def test_divergence_stops_before_anything_non_finite_is_written(self):
    self.assertRegex(str(self.error), r"is (nan|inf) at step 2: training "
                     "stopped before writing")
    with open(os.path.join(self.workdir, "checkpoint.bv-LAST")) as f:
      self.assertEqual(f.read().strip(), "000000001-tmp")
    ckpt = os.path.join(self.workdir, "checkpoint.bv-000000001-tmp")
    checkpoints.check_chunks(ckpt)
    import big_vision.utils as u  # pylint: disable=g-import-not-at-top
    params = u.load_checkpoint_ts(ckpt, regex="params/.*")
    checkpoints.verify(params, params, source=ckpt)  # All finite.
    with open(os.path.join(self.workdir, "big_vision_metrics.txt")) as f:
      rows = [json.loads(line) for line in f]
    # Big Vision's timing warmup may log step 2's clock (uptime, examples
    # seen: timing-dependent); nothing the diverged step computed is written.
    for r in rows:
      self.assertTrue(all(math.isfinite(v) for v in r.values()
                          if isinstance(v, (int, float))), r)
      if r["step"] == 2:
        self.assertFalse({k for k in r if "loss" in k or "l2_" in k
                          or "prec@1" in k}, r)
    for r in rows:
      self.assertTrue(all(np.isfinite(v) for v in r.values()
                          if isinstance(v, float)), r)

  def _evaluate(self, workdir):
    from mone_plugin.big_vision import evaluate  # pylint: disable=g-import-not-at-top
    evaluate.evaluate(evaluate.load_config(workdir), workdir, (1.0,))

  def test_evaluate_refuses_a_deleted_chunk(self):
    workdir = self._copy("missing_chunk")
    chunk = os.path.join(workdir, "checkpoint.bv-000000001-tmp",
                         "params~head~kernel", "0.0")
    os.remove(chunk)
    with self.assertRaisesRegex(checkpoints.CheckpointError,
                                f"{chunk} is missing"):
      self._evaluate(workdir)

  def test_evaluate_refuses_nan(self):
    import tensorstore as ts  # pylint: disable=g-import-not-at-top
    workdir = self._copy("nan")
    array = os.path.join(workdir, "checkpoint.bv-000000001-tmp",
                         "params~head~kernel")
    store = ts.open({"driver": "zarr", "kvstore": {
        "driver": "file", "path": array}}).result()
    store[0, 3] = np.nan
    with self.assertRaisesRegex(
        checkpoints.CheckpointError, r"is damaged: parameter head/kernel "
        r"holds 1 NaN/inf value\(s\) of 320"):
      self._evaluate(workdir)

  def test_changed_config_refused_before_writing(self):
    from mone_plugin.big_vision import train  # pylint: disable=g-import-not-at-top
    workdir = self._copy("changed")
    before = state(workdir)
    with self.assertRaisesRegex(
        ValueError, r"refusing to resume it \(nothing was written\)\. "
        r"Changed:\n  model.width: 32 -> 64\n"):
      train.train_and_evaluate(load_config(DIVERGES + ",width=64"), workdir)
    self.assertEqual(state(workdir), before)

  def test_second_trainer_refused(self):
    from mone_plugin.big_vision import train  # pylint: disable=g-import-not-at-top
    workdir = self._copy("busy")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, workdir], stdout=subprocess.PIPE,
        text=True, env={**os.environ, "PYTHONPATH": bvu.REPO})
    self.addCleanup(holder.wait)
    self.addCleanup(holder.send_signal, signal.SIGKILL)
    self.assertEqual(holder.stdout.readline().strip(), "locked")
    before = state(workdir)
    with self.assertRaisesRegex(workdir_lib.WorkdirInUseError,
                                f"in use by another trainer .pid {holder.pid}"):
      train.train_and_evaluate(load_config(DIVERGES), workdir)
    self.assertEqual(state(workdir), before)


@absltest.skipUnless(bvu.HAVE_BV, bvu.NO_BV)
class BigVisionDataFaultsTest(absltest.TestCase):
  """Missing or corrupted data: one line naming the path and the fix."""

  def _train(self, data_dir):
    from mone_plugin.big_vision import train  # pylint: disable=g-import-not-at-top
    config = load_config(DIVERGES + f",data_dir={data_dir}")
    config.evals = {}  # Fails at the first training batch: no evaluators.
    train.train_and_evaluate(config, os.path.join(bvu.temp_dir(self), "w"))

  def test_missing_data_dir(self):
    with tempfile.TemporaryDirectory() as d:
      with self.assertRaisesRegex(
          FileNotFoundError, f"^Data set fashion_mnist_local is not built in "
          f"{d}: run `make data`"):
        self._train(d)

  def test_corrupted_tfrecord_named(self):
    source = os.path.join(bvu.prepare_data(), "fashion_mnist_local")
    with tempfile.TemporaryDirectory() as d:
      shutil.copytree(source, os.path.join(d, "fashion_mnist_local"),
                      ignore=shutil.ignore_patterns("*-train.tfrecord*"))
      (version,) = os.listdir(source)
      name = "fashion_mnist_local-train.tfrecord-00000-of-00001"
      path = os.path.join(d, "fashion_mnist_local", version, name)
      with open(os.path.join(source, version, name), "rb") as f:
        data = bytearray(f.read(300_000))
      data[5000:5010] = b"x" * 10
      with open(path, "wb") as f:
        f.write(data)
      with self.assertRaisesRegex(
          IOError, f"^Data set fashion_mnist_local: {path} is corrupted .*; "
          f"delete {d}/fashion_mnist_local and run `make data`"):
        self._train(d)


@absltest.skipUnless(bvu.HAVE_BV, bvu.NO_BV)
class BigVisionConfigFaultsTest(absltest.TestCase):
  """Bad values fail before anything is built or written, naming the key."""

  def test_bad_values_named(self):
    from mone_plugin.big_vision import train  # pylint: disable=g-import-not-at-top
    for arg, regex in (
        ("batch=0", r"config.input.batch_size=0 is not allowed: give a "
         "positive integer"),
        ("steps=-3", r"config.total_steps=-3 "),
        ("lr=-1", r"config.lr=-1.0 is not allowed: give a positive finite"),
        ("width=0", r"config.model.width=0 "),
        ("width=60", r"config.model.width=60 is not divisible by "
         r"2\^\(E-1\)=8"),
        ("heads=3", r"config.model.width=32 is not divisible by "
         r"config.model.num_heads=3"),
        ("res=30", r"res=30 is not a multiple of the patch size 4 "
         r"\(allowed: 28"),
    ):
      with self.subTest(arg):
        with tempfile.TemporaryDirectory() as d:
          workdir = os.path.join(d, "w")
          with self.assertRaisesRegex(ValueError, regex):
            train.train_and_evaluate(load_config(DIVERGES + "," + arg),
                                     workdir)
          self.assertFalse(os.path.exists(workdir))


if __name__ == "__main__":
  absltest.main()
