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

"""Tests of the recipe probes' arguments and metric reading."""

import json
import os
import tempfile

from absl.testing import absltest

from experiments import recipe_probe


class RecipeProbeTest(absltest.TestCase):

  def test_every_probe_is_dense_on_the_validation_split(self):
    # Tuning must never see the test split: `val` in every probe.
    for name in recipe_probe.PROBES:
      args = recipe_probe.args_of(name).split(",")
      self.assertEqual(args[:2], ["dense", "val"], name)
    args = recipe_probe.args_of("res28_lr0.003_noflip").split(",")
    self.assertIn("noflip", args)  # A flag, not noflip=True.
    self.assertIn("res=28", args)
    self.assertIn("lr=0.003", args)

  def test_unknown_probe_is_named(self):
    with self.assertRaisesRegex(ValueError, "probe 'lr9' is unknown"):
      recipe_probe.args_of("lr9")

  def test_read_metrics(self):
    workdir = tempfile.mkdtemp()
    lines = [{"step": 0, "gflops_dense": 0.007},
             {"step": 50, "training_loss": 1.5, "uptime": 20.0},
             {"step": 1500, "training_loss": 0.41, "val/prec@1": 0.8512},
             {"step": 3000, "training_loss": 0.3377, "val/prec@1": 0.88123,
              "uptime": 800.5},
             {"step": 3000, "val/prec@1": 0.88123}]  # A resume's eval.
    with open(os.path.join(workdir, "big_vision_metrics.txt"), "w") as f:
      f.write("\n".join(json.dumps(l) for l in lines) + "\n")
    evals, loss, uptime = recipe_probe.read_metrics(workdir)
    self.assertEqual(evals, [dict(step=1500, prec_1=0.8512),
                             dict(step=3000, prec_1=0.8812)])
    self.assertEqual(loss, 0.3377)
    self.assertEqual(uptime, 800.5)


if __name__ == "__main__":
  absltest.main()
