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

"""Tests of Expert Preferred Routing against a per-example loop.

The loop is docs/method.md §3, written out for one example.
"""

import math

from absl.testing import absltest
from absl.testing import parameterized
import jax
import jax.numpy as jnp
import numpy as np

from mone_plugin import capacity
from mone_plugin import routing

_CAPACITIES = {
    "paper_0.3": tuple(capacity.capacity_distribution(0.3)),
    "paper_0.6": tuple(capacity.capacity_distribution(0.6)),
    "uniform": (0.25, 0.25, 0.25, 0.25),
    "zeros_mid": (0.3, 0.0, 0.0, 0.7),
    "zeros_small": (0.0, 0.0, 0.5, 0.5),
    "all_smallest": (1.0, 0.0, 0.0, 0.0),
    "all_largest": (0.0, 0.0, 0.0, 1.0),
    "rounding": (0.1, 0.3, 0.3, 0.3),
}


def _reference_one(probs, capacities):
  """docs/method.md §3 literally, for one example: probs [N, E] numpy."""
  n, num_experts = probs.shape
  assignment = [0] * n  # 1. Every token starts on the smallest expert.
  taken = [False] * n
  for j in range(num_experts - 1, 0, -1):  # 2. Largest expert first.
    k = int(math.floor(capacities[j] * n + 1e-9))
    free = [t for t in range(n) if not taken[t]]
    # Highest probability first; ties: lower token index first.
    free.sort(key=lambda t: (-float(probs[t, j]), t))
    for t in free[:k]:
      assignment[t] = j
      taken[t] = True
  return np.array(assignment, np.int32)  # 3. The rest stays on expert 0.


def _reference(probs, capacities):
  probs = np.asarray(probs, np.float32)
  lead = probs.shape[:-2]
  flat = probs.reshape((-1,) + probs.shape[-2:])
  out = np.stack([_reference_one(p, capacities) for p in flat])
  return out.reshape(lead + probs.shape[-2:-1])


def _random_probs(seed, shape, quantise=None):
  rng = np.random.default_rng(seed)
  logits = rng.normal(size=shape) * 2.0
  p = np.exp(logits - logits.max(-1, keepdims=True))
  p /= p.sum(-1, keepdims=True)
  if quantise:  # Many exact ties.
    p = np.round(p * quantise) / quantise
  return p.astype(np.float32)


# One jitted function for the whole file: every (shape, capacities) compiles
# once and is shared between tests (compiles dominate this file's time).
_epr = jax.jit(routing.expert_preferred_routing, static_argnums=1)

# (N, capacities) cases, each run on a batch mixing continuous probabilities
# with quantised ones (many exact ties).
_CASES = (
    (1, "paper_0.3"), (3, "uniform"), (7, "rounding"), (13, "paper_0.3"),
    (13, "zeros_mid"), (16, "all_smallest"), (16, "all_largest"),
    (50, "paper_0.6"), (50, "zeros_small"), (64, "uniform"),
)


def _mixed_batch(seed, n, num_experts=4):
  return np.concatenate(
      [_random_probs(seed, (8, n, num_experts))]
      + [_random_probs(seed + q, (6, n, num_experts), quantise=q)
         for q in (1, 2, 4, 10)])


class ExpertPreferredRoutingTest(parameterized.TestCase):

  @parameterized.parameters(*_CASES)
  def test_matches_reference_and_bucket_counts(self, n, cap):
    capacities = _CAPACITIES[cap]
    probs = _mixed_batch(n, n)
    got = np.asarray(_epr(probs, capacities))
    self.assertEqual(got.dtype, np.int32)
    self.assertEqual(got.shape, probs.shape[:-1])
    np.testing.assert_array_equal(got, _reference(probs, capacities))
    ks = capacity.tokens_per_expert(capacities, n)
    for row in got:
      np.testing.assert_array_equal(np.bincount(row, minlength=4), ks)

  def test_all_tied_goes_by_token_index(self):
    probs = np.full((1, 10, 4), 0.25, np.float32)
    got = _epr(probs, (0.1, 0.2, 0.3, 0.4))
    # Largest expert takes tokens 0-3, then 4-6, then 7-8, rest: 9.
    np.testing.assert_array_equal(got[0], [3, 3, 3, 3, 2, 2, 2, 1, 1, 0])

  def test_hand_example(self):
    # 4 tokens, 2 experts, 50% on the large one: the two tokens with the
    # highest probability of the large expert take it.
    probs = np.array([[[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]]],
                     np.float32)
    got = _epr(probs, (0.5, 0.5))
    np.testing.assert_array_equal(got, [[0, 1, 0, 1]])

  def test_larger_expert_chooses_first(self):
    # Token 0 is best for both experts 1 and 2; expert 2 (larger) gets it.
    probs = np.array([[[0.0, 0.5, 0.5], [0.6, 0.3, 0.1], [0.7, 0.2, 0.1]]],
                     np.float32)
    got = _epr(probs, (1 / 3, 1 / 3, 1 / 3))
    np.testing.assert_array_equal(got, [[2, 1, 0]])

  @parameterized.parameters(((2, 3, 13, 4),), ((2, 2, 2, 7, 4),), ((13, 4),))
  def test_leading_axes(self, shape):
    probs = _random_probs(sum(shape), shape, quantise=8)
    capacities = _CAPACITIES["paper_0.3"]
    got = np.asarray(_epr(probs, capacities))
    self.assertEqual(got.shape, shape[:-1])
    np.testing.assert_array_equal(got, _reference(probs, capacities))

  @parameterized.parameters(2, 3, 5)
  def test_other_num_experts(self, num_experts):
    lo = 2.0 ** -(num_experts - 1)
    capacities = tuple(capacity.capacity_distribution((lo + 1) / 2,
                                                      num_experts))
    probs = _random_probs(num_experts, (3, 50, num_experts))
    got = np.asarray(_epr(probs, capacities))
    np.testing.assert_array_equal(got, _reference(probs, capacities))

  def test_examples_do_not_influence_each_other(self):
    capacities = _CAPACITIES["paper_0.3"]
    probs = _random_probs(0, (4, 3, 13, 4))
    base = np.asarray(_epr(probs, capacities))
    for b, t in [(0, 0), (2, 1), (3, 2)]:
      changed = probs.copy()
      changed[b, t] = _random_probs(100 + b, (13, 4))
      got = np.asarray(_epr(changed, capacities))
      self.assertFalse(np.array_equal(got[b, t], base[b, t]))
      mask = np.ones((4, 3), bool)
      mask[b, t] = False
      np.testing.assert_array_equal(got[mask], base[mask])

  def test_jit_matches_and_compiles_once_per_shape(self):
    traces = []

    def f(probs, capacities):
      traces.append(probs.shape)
      return routing.expert_preferred_routing(probs, capacities)

    jf = jax.jit(f, static_argnums=1)
    capacities = _CAPACITIES["paper_0.3"]
    for seed in range(3):
      probs = _random_probs(seed, (2, 50, 4), quantise=16)
      np.testing.assert_array_equal(jf(probs, capacities),
                                    _reference(probs, capacities))
    self.assertLen(traces, 1)
    jf(_random_probs(9, (2, 13, 4)), capacities)
    self.assertLen(traces, 2)

  @parameterized.parameters(jnp.float32, jnp.bfloat16)
  def test_taken_tokens_are_never_taken_again(self, dtype):
    # Expert 3 takes tokens 0 and 1. Every token has probability 0 for expert
    # 1 (as small probabilities underflow in bf16): it must still take the
    # free tokens 2 and 3, not re-take 0 and 1 (masking with 0 would tie).
    probs = np.zeros((2, 4, 4), np.float32)
    probs[:, :, 0] = 1.0
    probs[0, :, 3] = [0.9, 0.8, 0.0, 0.0]
    probs[1, :, 3] = [1e-30, 1e-20, 0.0, 0.0]
    got = np.asarray(_epr(jnp.asarray(probs, dtype), (0.0, 0.5, 0.0, 0.5)))
    np.testing.assert_array_equal(got, [[3, 3, 1, 1], [3, 3, 1, 1]])

  def test_bfloat16_matches_reference(self):
    probs = jnp.asarray(_random_probs(3, (3, 50, 4)), jnp.bfloat16)
    capacities = _CAPACITIES["paper_0.6"]
    got = _epr(probs, capacities)
    np.testing.assert_array_equal(
        got, _reference(np.asarray(probs.astype(jnp.float32)), capacities))

  @parameterized.parameters(((0.5, 0.5),), ((0.2, 0.2, 0.2, 0.2, 0.2),))
  def test_wrong_number_of_capacities(self, capacities):
    with self.assertRaisesRegex(
        ValueError, rf"capacities=.*{len(capacities)} entries.*4 experts"):
      routing.expert_preferred_routing(_random_probs(0, (2, 8, 4)),
                                       capacities)

  def test_capacities_not_summing_to_one(self):
    with self.assertRaisesRegex(ValueError, r"must sum to 1"):
      routing.expert_preferred_routing(_random_probs(0, (2, 8, 4)),
                                       (0.5, 0.5, 0.5, 0.5))


class ExpertSortPermutationTest(parameterized.TestCase):

  @parameterized.parameters(
      ((1, 7, 4), "rounding"), ((3, 13, 4), "zeros_mid"),
      ((2, 2, 50, 4), "paper_0.3"), ((3, 16, 4), "all_largest"))
  def test_contiguous_static_slices(self, shape, cap):
    capacities = _CAPACITIES[cap]
    probs = _random_probs(shape[-2], shape, quantise=4)
    experts = _epr(probs, capacities)
    perm, inverse = jax.jit(routing.expert_sort_permutation)(experts)
    perm, inverse, experts = map(np.asarray, (perm, inverse, experts))
    self.assertEqual(perm.dtype, np.int32)
    self.assertEqual(inverse.dtype, np.int32)
    self.assertEqual(perm.shape, experts.shape)
    ks = capacity.tokens_per_expert(capacities, shape[-2])
    starts = np.cumsum((0,) + ks)
    flat_e = experts.reshape(-1, shape[-2])
    flat_p = perm.reshape(-1, shape[-2])
    flat_i = inverse.reshape(-1, shape[-2])
    for e, p, inv in zip(flat_e, flat_p, flat_i):
      self.assertCountEqual(p, range(shape[-2]))  # A permutation.
      sorted_e = e[p]
      for j in range(4):
        seg = p[starts[j]:starts[j + 1]]
        np.testing.assert_array_equal(sorted_e[starts[j]:starts[j + 1]], j)
        # Stable: original token order kept inside an expert.
        self.assertTrue(np.all(np.diff(seg) > 0), seg)
      np.testing.assert_array_equal(p[inv], np.arange(shape[-2]))
      np.testing.assert_array_equal(inv[p], np.arange(shape[-2]))

  def test_same_choice_as_lax_top_k(self):
    # The sort formulation picks exactly the tokens lax.top_k would (the
    # earlier implementation, still what training checkpoints were made with).
    def with_top_k(probs, capacities):
      n = probs.shape[-2]
      ks = capacity.tokens_per_expert(capacities, n)
      assignment = np.zeros(probs.shape[:-1], np.int32)
      taken = np.zeros(probs.shape[:-1], bool)
      for j in range(probs.shape[-1] - 1, 0, -1):
        if ks[j]:
          scores = jnp.where(taken, -jnp.inf, probs[..., j])
          _, idx = jax.lax.top_k(scores, ks[j])
          chosen = np.zeros_like(taken)
          np.put_along_axis(chosen, np.asarray(idx), True, axis=-1)
          assignment[chosen] = j
          taken |= chosen
      return assignment

    for n, cap in _CASES:
      probs = _mixed_batch(n, n)
      np.testing.assert_array_equal(
          _epr(probs, _CAPACITIES[cap]), with_top_k(probs, _CAPACITIES[cap]))

  def test_exports_with_symbolic_batch_and_plain_ops(self):
    capacities = _CAPACITIES["paper_0.3"]
    shape = jax.export.symbolic_shape("b, 13, 4")
    exp = jax.export.export(jax.jit(
        lambda p: routing.expert_preferred_routing(p, capacities)))(
            jax.ShapeDtypeStruct(shape, jnp.float32))
    text = exp.mlir_module()
    self.assertNotIn("chlo.top_k", text)
    self.assertNotIn("stablehlo.composite", text)
    for b in (1, 5):
      probs = _random_probs(b, (b, 13, 4), quantise=8)
      np.testing.assert_array_equal(exp.call(probs),
                                    _reference(probs, capacities))

  def test_inverse_undoes_on_features(self):
    probs = _random_probs(0, (3, 13, 4))
    experts = _epr(probs, _CAPACITIES["uniform"])
    x = jnp.asarray(np.random.default_rng(0).normal(size=(3, 13, 5)))
    perm, inverse = jax.jit(routing.expert_sort_permutation)(experts)
    xs = jnp.take_along_axis(x, perm[..., None], axis=-2)
    np.testing.assert_array_equal(
        jnp.take_along_axis(xs, inverse[..., None], axis=-2), x)
    es = np.asarray(jnp.take_along_axis(experts, perm, axis=-1))
    self.assertTrue(np.all(np.diff(es, axis=-1) >= 0))


if __name__ == "__main__":
  absltest.main()
