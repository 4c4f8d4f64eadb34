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

"""The cluttered Fashion-MNIST config: what it changes, and 10 steps of MoNE.

The tiny run trains MoNE through Big Vision's trainer on the 64x64 canvases
(8x8 patches) and evaluates it on the validation split at two budgets.
"""

import json
import os
import subprocess
import sys
import tempfile

from absl.testing import absltest

from mone_plugin import frameworks

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(REPO, "configs", "mone_cluttered.py")
TINY = ("runlocal,val,e_c=0.5,eval_e_c=0.5;1,width=32,depth=2,heads=2,mlp=64,"
        "batch=32,steps=10,lr=0.003,deterministic")
HAVE_BV = frameworks.available("big_vision")


def get_config(arg):
  import configs.mone_cluttered as mone_cluttered  # pylint: disable=g-import-not-at-top
  return mone_cluttered.get_config(arg)


@absltest.skipUnless(HAVE_BV, "Big Vision checkout not found (see README).")
class ClutteredConfigTest(absltest.TestCase):

  def test_data_patch_and_splits(self):
    config = get_config("dense,width=32,heads=2,mlp=128")
    self.assertEqual(config.input.data.name, "cluttered_fashion_mnist")
    self.assertEqual(config.input.data.split, "train")
    self.assertEqual(config.model.patch_size, (8, 8))
    self.assertEqual(config.model.width, 32)
    self.assertIsNone(config.mone.e_c)
    self.assertIn("decode(channels=1)|resize(64)|flip_lr|", config.input.pp)
    self.assertEqual(list(config.evals), ["test"])
    self.assertEqual(config.evals.test.data.name, "cluttered_fashion_mnist")
    self.assertEqual(config.evals.test.data.split, "test")
    self.assertIn("|resize(64)|", config.evals.test.pp_fn)

  def test_val_trains_on_train_and_evaluates_validation(self):
    # The validation split is built from other garments than train's: the
    # whole train split is used, never test.
    config = get_config("val,e_c=0.4")
    self.assertEqual(config.input.data.split, "train")
    self.assertEqual(list(config.evals), ["val"])
    self.assertEqual(config.evals.val.data.split, "validation")
    self.assertEqual(get_config("val,runlocal").evals.val.data.split,
                     "validation[:64]")

  def test_res_is_refused(self):
    with self.assertRaisesRegex(ValueError, "res is fixed at the 64 px"):
      get_config("res=32")


@absltest.skipUnless(HAVE_BV, "Big Vision checkout not found (see README).")
class ClutteredTrainTest(absltest.TestCase):

  def test_10_steps_of_mone_evaluated_on_validation(self):
    from mone_plugin.data import prepare  # pylint: disable=g-import-not-at-top
    prepare.ensure_prepared("cluttered_fashion_mnist")
    with tempfile.TemporaryDirectory() as tmp:
      workdir = os.path.join(tmp, "run")
      path = [p for p in (REPO, os.environ.get("PYTHONPATH")) if p]
      env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2",
                 PYTHONPATH=os.pathsep.join(path))
      result = subprocess.run(
          [sys.executable, "-m", "mone_plugin.big_vision.train",
           f"--config={CONFIG}:{TINY}", f"--workdir={workdir}"],
          env=env, cwd=REPO, capture_output=True, text=True, timeout=900,
          check=False)
      self.assertEqual(result.returncode, 0, result.stderr[-5000:])
      with open(os.path.join(workdir, "big_vision_metrics.txt")) as f:
        metrics = [json.loads(line) for line in f]
      maps = os.listdir(os.path.join(workdir, "routing_maps"))
    last = metrics[-1]
    self.assertEqual(last["step"], 10)
    self.assertEqual(sorted(k for k in last if k.endswith("/prec@1")),
                     ["val_ec0.5/prec@1", "val_ec1/prec@1"])
    self.assertLess(metrics[0]["gflops_ec0.5"], metrics[0]["gflops_ec1"])
    self.assertIn("step0000010_ec0.5.png", maps)


if __name__ == "__main__":
  absltest.main()
