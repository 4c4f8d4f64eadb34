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


"""Tests of section 7's words on Figure 3 (no runs: hand-made curves)."""

from absl.testing import absltest

from experiments.results import plan
from experiments.results.sections import s7_figure3


class Figure3WhyTest(absltest.TestCase):

  def test_flat_dense_family_is_said_to_explain(self):
    # Widths 16 and 64 (16x the FLOPs) 0.8 points apart: 0.2 per doubling.
    data = {"dense_family": [(16, 0.001, 0.86, 0.0, 1),
                             (plan.WIDTH, 0.016, 0.868, 0.001, 3)],
            "matvit": [(plan.WIDTH // 2, 0.004, 0.87),
                       (plan.WIDTH, 0.016, 0.88)],
            "mone": [(0.4, 0.007, 0.858, 0.003, {0: 0.858})],
            "iso": (0.4, 0.007, 0.878, 6301), "mod": None, "adaptive": [],
            "dense_own": {0: 0.868}}
    text = s7_figure3.figure3_why(data)[0]
    self.assertIn("+0.80 points from width 16 to 64 (86.0% → 86.8%) for "
                  "16.0x the FLOPs, +0.20 points per doubling", text)
    self.assertIn(f"trained for 6301 steps instead of {plan.STEPS} gains "
                  "+2.00 points (85.80% → 87.80%)", text)
    self.assertIn("MatViT's full-width model, trained with a joint loss over "
                  "its 2 nested widths for the same steps, reaches 88.00% "
                  "against the dense ViT's 86.80%", text)
    self.assertIn("The dense family is nearly flat", text)
    self.assertNotIn("wider than", text)
    wider = s7_figure3.figure3_why(dict(data, dense_family=data[
        "dense_family"] + [(2 * plan.WIDTH, 0.064, 0.85, 0.0, 1)]))[0]
    self.assertIn("wider than the recipe's width it falls: width "
                  f"{2 * plan.WIDTH} 85.0% at 4.0x the FLOPs", wider)
    # One width only: nothing to say.
    self.assertEqual(s7_figure3.figure3_why(
        dict(data, dense_family=data["dense_family"][1:])), [])


if __name__ == "__main__":
  absltest.main()
