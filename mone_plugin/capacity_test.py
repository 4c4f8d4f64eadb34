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

"""Tests of the capacity distributions over nested experts (docs/method.md §4)."""

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np
import scipy.optimize

from mone_plugin import capacity


def _rel_dims(num_experts):
  return np.array([2.0 ** (i - num_experts + 1) for i in range(num_experts)])


def _paper_objective_solution(e_c, num_experts, beta=10.0, delta=2.0):
  """Solves the paper's program directly with SLSQP (independent reference)."""
  r = _rel_dims(num_experts)
  gain = delta ** np.arange(num_experts)

  def neg_objective(c):
    c = np.clip(c, 1e-12, 1.0)
    return -(np.dot(c, gain) - beta * np.sum(c * np.log(c)))

  cons = [{"type": "eq", "fun": lambda c: np.sum(c) - 1.0},
          {"type": "eq", "fun": lambda c: np.dot(c, r) - e_c}]
  res = scipy.optimize.minimize(
      neg_objective, np.full(num_experts, 1.0 / num_experts), method="SLSQP",
      bounds=[(0.0, 1.0)] * num_experts, constraints=cons,
      options={"ftol": 1e-14, "maxiter": 1000})
  return res.x


class ExpertDimsTest(parameterized.TestCase):

  @parameterized.parameters(
      (64, 4, (8, 16, 32, 64)),
      (768, 4, (96, 192, 384, 768)),
      (64, 2, (32, 64)),
      (96, 3, (24, 48, 96)),
      (64, 5, (4, 8, 16, 32, 64)),
  )
  def test_dims(self, width, num_experts, expected):
    self.assertEqual(capacity.expert_dims(width, num_experts), expected)

  @parameterized.parameters((100, 4), (36, 4), (6, 3), (63, 2))
  def test_width_not_divisible(self, width, num_experts):
    with self.assertRaisesRegex(ValueError,
                                rf"width={width}.*not divisible.*"
                                rf"{2 ** (num_experts - 1)}"):
      capacity.expert_dims(width, num_experts)

  @parameterized.parameters(1, 0, -3)
  def test_too_few_experts(self, num_experts):
    with self.assertRaisesRegex(ValueError,
                                rf"num_experts={num_experts}.*>= 2"):
      capacity.expert_dims(64, num_experts)


class CapacityDistributionTest(parameterized.TestCase):

  @parameterized.parameters(
      (0.3, (0.414, 0.321, 0.194, 0.071)),
      (0.4, (0.307, 0.283, 0.239, 0.171)),
      (0.6, (0.161, 0.184, 0.241, 0.413)),
  )
  def test_reference_values(self, e_c, expected):
    c = capacity.capacity_distribution(e_c)
    self.assertEqual(c.shape, (4,))
    np.testing.assert_allclose(c, expected, atol=1e-3)

  @parameterized.parameters(0.2, 0.3, 0.45, 0.7, 0.9)
  def test_matches_paper_program_solved_by_slsqp(self, e_c):
    np.testing.assert_allclose(capacity.capacity_distribution(e_c),
                               _paper_objective_solution(e_c, 4), atol=2e-4)

  @parameterized.product(
      num_experts=(2, 3, 4, 5),
      frac=(0.0, 1e-4, 0.05, 0.17, 0.333, 0.5, 0.61, 0.8, 0.95, 0.9999, 1.0),
      method=("mone", "greedy"),
  )
  def test_sums_to_one_and_meets_e_c(self, num_experts, frac, method):
    lo, hi = capacity.feasible_range(num_experts)
    e_c = lo + frac * (hi - lo)
    c = capacity.capacity_distribution(e_c, num_experts, method)
    self.assertEqual(c.shape, (num_experts,))
    self.assertTrue(np.all(c >= 0), c)
    self.assertAlmostEqual(float(c.sum()), 1.0, delta=1e-6)
    self.assertAlmostEqual(float(np.dot(c, _rel_dims(num_experts))), e_c,
                           delta=1e-6)
    self.assertAlmostEqual(capacity.effective_capacity(c), e_c, delta=1e-6)

  @parameterized.parameters(2, 3, 4, 5)
  def test_mone_is_monotone_in_e_c(self, num_experts):
    lo, hi = capacity.feasible_range(num_experts)
    grid = np.linspace(lo, hi, 23)[1:-1]
    largest = [capacity.capacity_distribution(e, num_experts)[-1]
               for e in grid]
    smallest = [capacity.capacity_distribution(e, num_experts)[0]
                for e in grid]
    self.assertTrue(np.all(np.diff(largest) > 0), largest)
    self.assertTrue(np.all(np.diff(smallest) < 0), smallest)

  @parameterized.parameters(2, 3, 4, 5)
  def test_endpoints(self, num_experts):
    lo = 2.0 ** -(num_experts - 1)
    self.assertEqual(capacity.feasible_range(num_experts), (lo, 1.0))
    np.testing.assert_allclose(
        capacity.capacity_distribution(lo, num_experts),
        np.eye(num_experts)[0], atol=1e-9)
    np.testing.assert_allclose(
        capacity.capacity_distribution(1.0, num_experts),
        np.eye(num_experts)[-1], atol=1e-9)

  def test_endpoints_e4(self):
    np.testing.assert_allclose(capacity.capacity_distribution(1 / 8),
                               [1, 0, 0, 0], atol=1e-9)
    np.testing.assert_allclose(capacity.capacity_distribution(1.0),
                               [0, 0, 0, 1], atol=1e-9)

  def test_two_experts_is_determined_by_e_c(self):
    # With E=2, c_1/2 + c_2 = e_c and c_1 + c_2 = 1 fix c.
    for e_c in (0.55, 0.75, 0.9):
      np.testing.assert_allclose(capacity.capacity_distribution(e_c, 2),
                                 [2 - 2 * e_c, 2 * e_c - 1], atol=1e-9)

  @parameterized.parameters(2, 3, 4, 5)
  def test_uniform(self, num_experts):
    c = capacity.capacity_distribution(0.5, num_experts, "uniform")
    np.testing.assert_allclose(c, np.full(num_experts, 1 / num_experts))
    # Ignores the e_c argument.
    np.testing.assert_array_equal(
        c, capacity.capacity_distribution(0.9, num_experts, "uniform"))

  def test_uniform_e_c(self):
    # (1/8 + 1/4 + 1/2 + 1) / 4.
    self.assertAlmostEqual(
        capacity.effective_capacity(
            capacity.capacity_distribution(0.5, 4, "uniform")), 0.46875)

  @parameterized.parameters(2, 3, 4, 5)
  def test_proportionate(self, num_experts):
    c = capacity.capacity_distribution(0.5, num_experts, "proportionate")
    r = _rel_dims(num_experts)
    np.testing.assert_allclose(c, r / r.sum())
    self.assertAlmostEqual(float(c.sum()), 1.0)
    np.testing.assert_array_equal(
        c, capacity.capacity_distribution(0.9, num_experts, "proportionate"))

  def test_proportionate_e4_values(self):
    np.testing.assert_allclose(
        capacity.capacity_distribution(0.5, 4, "proportionate"),
        np.array([1, 2, 4, 8]) / 15)

  def test_greedy_uses_only_smallest_and_largest(self):
    c = capacity.capacity_distribution(0.3, 4, "greedy")
    np.testing.assert_allclose(c, [1 - 0.2, 0, 0, 0.2], atol=1e-12)

  @parameterized.parameters(0.1, 1.2, 0.124, 1.0001, -0.5, float("inf"))
  def test_infeasible_e_c(self, e_c):
    with self.assertRaisesRegex(ValueError,
                                r"e_c=.*infeasible.*\[0\.125, 1\]"):
      capacity.capacity_distribution(e_c)

  def test_infeasible_e_c_other_num_experts(self):
    with self.assertRaisesRegex(ValueError, r"e_c=0\.4.*\[0\.5, 1\]"):
      capacity.capacity_distribution(0.4, 2)
    with self.assertRaisesRegex(ValueError, r"e_c=0\.05.*\[0\.0625, 1\]"):
      capacity.capacity_distribution(0.05, 5)

  @parameterized.parameters("mone", "uniform", "proportionate", "greedy")
  def test_infeasible_e_c_checked_for_every_method(self, method):
    with self.assertRaisesRegex(ValueError, r"e_c=1\.5.*infeasible"):
      capacity.capacity_distribution(1.5, 4, method)

  def test_nan_e_c(self):
    with self.assertRaisesRegex(ValueError, r"e_c=nan.*\[0\.125, 1\]"):
      capacity.capacity_distribution(float("nan"))

  @parameterized.parameters(("abc",), (None,), ([0.3, 0.4],))
  def test_non_numeric_e_c(self, e_c):
    with self.assertRaisesRegex(ValueError,
                                r"e_c=.*not a number.*\[0\.125, 1\]"):
      capacity.capacity_distribution(e_c)

  @parameterized.parameters(1, 0, -1, 2.0, "4")
  def test_bad_num_experts(self, num_experts):
    with self.assertRaisesRegex(ValueError, r"num_experts=.*>= 2"):
      capacity.capacity_distribution(0.5, num_experts)

  def test_unknown_method(self):
    with self.assertRaisesRegex(ValueError,
                                r"method='entropy'.*unknown.*'mone'.*"
                                r"'uniform'.*'proportionate'"):
      capacity.capacity_distribution(0.5, 4, "entropy")


class ValidateCapacitiesTest(parameterized.TestCase):

  @parameterized.parameters(
      ([0.5, 0.5, 0.5, 0.5], r"sum to 2\.0.*must sum to 1"),
      ([0.1, 0.1, 0.1, 0.1], r"sum to 0\.4.*must sum to 1"),
      ([0.6, 0.6, -0.2, 0.0], r">= 0"),
      ([0.5, float("nan"), 0.5, 0.0], r"finite"),
      ([[0.5, 0.5], [0.5, 0.5]], r"1-D"),
      ([1.0], r"num_experts=1.*>= 2"),
  )
  def test_bad_capacities(self, c, msg):
    with self.assertRaisesRegex(ValueError, msg):
      capacity.validate_capacities(c)
    with self.assertRaisesRegex(ValueError, msg):
      capacity.effective_capacity(c)
    with self.assertRaisesRegex(ValueError, msg):
      capacity.tokens_per_expert(c, 16)
    with self.assertRaisesRegex(ValueError, msg):
      capacity.as_static(c)

  def test_as_static_is_hashable_floats(self):
    s = capacity.as_static(np.array([0.25, 0.25, 0.25, 0.25], np.float32))
    self.assertEqual(s, (0.25, 0.25, 0.25, 0.25))
    self.assertTrue(all(type(x) is float for x in s))  # pylint: disable=unidiomatic-typecheck
    hash(s)

  def test_effective_capacity(self):
    self.assertAlmostEqual(capacity.effective_capacity([0.25] * 4), 0.46875)
    self.assertAlmostEqual(capacity.effective_capacity([0, 0, 0, 1]), 1.0)
    self.assertAlmostEqual(capacity.effective_capacity([1, 0, 0, 0]), 0.125)
    self.assertAlmostEqual(capacity.effective_capacity([0.5, 0.5]), 0.75)


class TokensPerExpertTest(parameterized.TestCase):

  @parameterized.parameters(
      ([0.4, 0.3, 0.2, 0.1], 10, (4, 3, 2, 1)),
      # 0.3 * 10 must floor to 3, not 2.
      ([0.1, 0.3, 0.3, 0.3], 10, (1, 3, 3, 3)),
      # 0.29 * 100 = 28.999999999999996 and 0.57 * 100 = 56.99999999999999
      # in floating point: still 29 and 57 tokens.
      ([0.14, 0.29, 0.0, 0.57], 100, (14, 29, 0, 57)),
      # Rounding remainder goes to the smallest expert.
      ([0.25, 0.25, 0.25, 0.25], 7, (4, 1, 1, 1)),
      ([0.0, 0.0, 0.5, 0.5], 13, (1, 0, 6, 6)),
      ([0.0, 0.0, 0.0, 1.0], 13, (0, 0, 0, 13)),
      ([1.0, 0.0, 0.0, 0.0], 13, (13, 0, 0, 0)),
      ([0.5, 0.5], 3, (2, 1)),
      ([0.2, 0.2, 0.2, 0.2, 0.2], 50, (10, 10, 10, 10, 10)),
      ([0.25, 0.25, 0.25, 0.25], 0, (0, 0, 0, 0)),
  )
  def test_values(self, c, n, expected):
    ks = capacity.tokens_per_expert(c, n)
    self.assertEqual(ks, expected)
    self.assertTrue(all(type(k) is int for k in ks))  # pylint: disable=unidiomatic-typecheck

  @parameterized.parameters(0.2, 0.3, 0.4, 0.6, 0.8)
  def test_paper_distributions(self, e_c):
    c = capacity.capacity_distribution(e_c)
    for n in (1, 7, 13, 16, 50, 64, 196, 197):
      ks = capacity.tokens_per_expert(c, n)
      self.assertLen(ks, 4)
      self.assertEqual(sum(ks), n)
      for j in range(1, 4):
        self.assertEqual(ks[j], int(np.floor(c[j] * n + 1e-9)))
      self.assertGreaterEqual(ks[0], 0)

  @parameterized.parameters(-1, 2.5)
  def test_bad_num_tokens(self, n):
    with self.assertRaisesRegex(ValueError, rf"num_tokens={n}.*integer >= 0"):
      capacity.tokens_per_expert([0.25] * 4, n)


if __name__ == "__main__":
  absltest.main()
