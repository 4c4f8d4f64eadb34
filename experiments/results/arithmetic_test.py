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


"""Tests of the page's arithmetic (means, gaps, interpolation at equal FLOPs)."""

import math

from absl.testing import absltest

from experiments.results import arithmetic

# A dense family: accuracy +10 points per 4x FLOPs.
FAMILY = [(4.0, 0.90), (1.0, 0.80), (16.0, 0.95)]


class ArithmeticTest(absltest.TestCase):

  def test_linear_in_log_flops(self):
    self.assertAlmostEqual(arithmetic.at_flops(FAMILY, 2.0), 0.85)
    self.assertAlmostEqual(arithmetic.at_flops(FAMILY, 8.0), 0.925)
    self.assertAlmostEqual(arithmetic.at_flops(FAMILY, math.sqrt(2)), 0.825)
    self.assertAlmostEqual(arithmetic.at_flops(FAMILY, 1.0), 0.80)
    self.assertAlmostEqual(arithmetic.at_flops(FAMILY, 16.0), 0.95)

  def test_no_extrapolation(self):
    self.assertIsNone(arithmetic.at_flops(FAMILY, 0.5))
    self.assertIsNone(arithmetic.at_flops(FAMILY, 17.0))
    self.assertIsNone(arithmetic.at_flops([], 1.0))
    self.assertIsNone(arithmetic.at_flops([(1.0, 0.8)], 2.0))
    self.assertEqual(arithmetic.at_flops([(1.0, 0.8)], 1.0), 0.8)

  def test_missing_values_are_dropped(self):
    self.assertAlmostEqual(arithmetic.at_flops(
        FAMILY + [(2.0, None), (None, 0.1)], 2.0), 0.85)

  def test_flops_at_accuracy(self):
    self.assertAlmostEqual(arithmetic.flops_at_accuracy(FAMILY, 0.85), 2.0)
    self.assertAlmostEqual(arithmetic.flops_at_accuracy(FAMILY, 0.95), 16.0)
    self.assertIsNone(arithmetic.flops_at_accuracy(FAMILY, 0.96))  # Above all.
    self.assertIsNone(arithmetic.flops_at_accuracy(FAMILY, 0.79))  # Below all.

  def test_versus_curve(self):
    # MoNE at 2 GFLOPs scoring what the family scores at 4: +5 points at
    # equal FLOPs, and the family needs 2x the FLOPs for that accuracy.
    (g, a, ref, delta, ratio), = arithmetic.versus_curve([(2.0, 0.90)], FAMILY)
    self.assertEqual((g, a), (2.0, 0.90))
    self.assertAlmostEqual(ref, 0.85)
    self.assertAlmostEqual(delta, 0.05)
    self.assertAlmostEqual(ratio, 2.0)
    (_, _, ref, delta, _), = arithmetic.versus_curve([(0.5, 0.7)], FAMILY)
    self.assertIsNone(ref)
    self.assertIsNone(delta)

  def test_mean_std_and_paired_delta(self):
    self.assertEqual(arithmetic.mean_std([]), (None, None))
    self.assertEqual(arithmetic.mean_std([0.5]), (0.5, 0.0))
    mean, std = arithmetic.mean_std([0.8, 0.9, None])
    self.assertAlmostEqual(mean, 0.85)
    self.assertAlmostEqual(std, math.sqrt(0.005))
    # Paired by seed: seed 2 of MoNE has no dense partner.
    mean, std, n = arithmetic.paired_delta({0: 0.80, 1: 0.82, 2: 0.5},
                                           {0: 0.81, 1: 0.81})
    self.assertEqual(n, 2)
    self.assertAlmostEqual(mean, 0.0)
    self.assertAlmostEqual(std, math.sqrt(2) * 0.01)
    self.assertEqual(arithmetic.paired_delta({0: 0.8}, {1: 0.8}),
                     (None, None, 0))

  def test_gain_per_doubling(self):
    self.assertAlmostEqual(arithmetic.gain_per_doubling(1, 0.8, 4, 0.9), 0.05)
    self.assertAlmostEqual(
        arithmetic.gain_per_doubling(1500, 0.84, 3000, 0.88), 0.04)


if __name__ == "__main__":
  absltest.main()
