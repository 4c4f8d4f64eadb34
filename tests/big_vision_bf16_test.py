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

"""A bf16 run through Big Vision's trainer learns, and evaluates in bf16.

Big Vision's vocabulary: `config.model.dtype_mm = "bfloat16"` (matmuls and
convolutions in bf16, parameters, optimizer state and the loss in float32).
The config file is the repo's Fashion-MNIST config with that one field set
(a wrapper written to the temp dir: the config has no argument for it, and
`--config.model.dtype_mm` cannot add a field the config lacks). One short
run of a tiny model (2 layers, width 32, 30 steps, deterministic input):
the loss must fall well below its start and the test accuracy must be at
least twice chance (10 classes); `mone_plugin.big_vision.evaluate` then reads the
run's config.json and checkpoint and must reproduce the trainer's last
number in bf16.
"""

import json
import os
import sys

from absl.testing import absltest

from tests import big_vision_test_util as bvu

ARGS = ("runlocal,e_c=0.5,eval_e_c=0.5,width=32,depth=2,heads=2,mlp=64,"
        "batch=32,steps=30,lr=0.01,deterministic")
WRAPPER = f"""
import importlib.util

_spec = importlib.util.spec_from_file_location("base", {bvu.CONFIG!r})
_base = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_base)


def get_config(arg=None):
  config = _base.get_config(arg)
  config.model.dtype_mm = "bfloat16"
  return config
"""


@absltest.skipUnless(bvu.HAVE_BV, bvu.NO_BV)
class BigVisionBf16Test(bvu.DataTestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.config = os.path.join(cls.tmp.name, "bf16_config.py")
    with open(cls.config, "w") as f:
      f.write(WRAPPER)
    cls.cache = os.path.join(cls.tmp.name, "jax_cache")
    cls.workdir = os.path.join(cls.tmp.name, "bf16")
    bvu.run(bvu.trainer_cmd(cls.workdir, ARGS, config=cls.config),
            bvu.env(cls.cache))
    cls.metrics = bvu.metrics(cls.workdir)

  def test_bf16_run_learns_and_evaluates(self):
    with open(os.path.join(self.workdir, "config.json")) as f:
      self.assertEqual(json.load(f)["model"]["dtype_mm"], "bfloat16")
    losses = {m["step"]: m["training_loss"] for m in self.metrics
              if "training_loss" in m}
    self.assertEqual(max(losses), 30)
    # ln(10) = 2.30 at the start (zero head). A logged loss is one batch's:
    # the mean of the last three logged. Measured (2 CPU cores, jax 0.10.2):
    # 2.30 -> 1.99, and 0.28 test accuracy (64 images); float32, same run:
    # within 0.05 of these.
    first = losses[min(losses)]
    last = sum(losses[s] for s in sorted(losses)[-3:]) / 3
    self.assertLess(last, first - 0.2, losses)
    acc = self.metrics[-1]["test_ec0.5/prec@1"]
    self.assertGreaterEqual(acc, 0.2)  # Chance: 0.1.
    # Evaluation from the checkpoint, in bf16 (the run's config.json).
    bvu.run([sys.executable, "-m", "mone_plugin.big_vision.evaluate",
             f"--workdir={self.workdir}", "--e_c=0.5"], bvu.env(self.cache))
    with open(os.path.join(self.workdir, "mone_eval.json")) as f:
      rows = json.load(f)
    self.assertAlmostEqual(rows[0]["test/prec@1"], acc, places=6)


if __name__ == "__main__":
  absltest.main()
