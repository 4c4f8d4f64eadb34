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

"""Expert Preferred Routing (EPR), MoNE paper Algorithm 1.

Experts choose tokens, largest expert first, so every expert's bucket has a
static size k_j = floor(c_j N) and the whole routing is jittable.
"""

import jax
import jax.numpy as jnp

from mone_plugin import capacity


def expert_preferred_routing(router_probs, capacities):
  """Assigns every token to one nested expert.

  Per example (and frame: any leading axes route independently), every token
  starts on the smallest expert; then for j = E-1 down to 1 expert j takes the
  k_j = floor(c_j N) not yet taken tokens with the highest router_probs[..., j]
  (ties go to the lower token index); the rest stays on the smallest expert.

  Args:
    router_probs: float [..., N, E] router probabilities.
    capacities: static length-E capacities, smallest expert first.

  Returns:
    int32 [..., N]: the expert of each token, 0 = smallest.
  """
  *_, n, num_experts = router_probs.shape
  if len(capacities) != num_experts:
    raise ValueError(
        f"capacities={tuple(capacities)} has {len(capacities)} entries but "
        f"router_probs has {num_experts} experts (last axis); they must match.")
  ks = capacity.tokens_per_expert(capacities, n)
  # Sort keys: the f32 probabilities; taken tokens get -1, below every
  # probability. f32: in bf16 small probabilities underflow to 0, which must
  # still beat a taken token. (Their int32 bits would order the same and sort
  # ~0.5 ms faster per forward on CPU, but ONNX Runtime has no BitCast.)
  keys = router_probs.astype(jnp.float32)
  assignment = jnp.zeros(router_probs.shape[:-1], jnp.int32)
  taken = jnp.zeros(router_probs.shape[:-1], jnp.bool_)
  for j in range(num_experts - 1, 0, -1):
    if ks[j] == 0:
      continue
    chosen = _top_k_mask(jnp.where(taken, -1.0, keys[..., j]), ks[j])
    assignment = jnp.where(chosen, j, assignment)
    taken = taken | chosen
  return assignment


def _top_k_mask(scores, k):
  """bool mask of the k highest scores on the last axis (ties: lower index).

  The same choice as `jax.lax.top_k`, written as a value sort, a threshold
  and a running count of the ties at it: no index grid of the leading (batch)
  shape, so it traces with a symbolic batch size, and it lowers to plain
  StableHLO ops that older readers (TF's `XlaCallModule`) deserialize, unlike
  `top_k`'s composite.
  """
  n = scores.shape[-1]
  kth = jax.lax.sort(scores, dimension=scores.ndim - 1)[..., n - k:n - k + 1]
  above = scores > kth
  at = scores == kth
  missing = k - jnp.sum(above, axis=-1, keepdims=True, dtype=jnp.int32)
  return above | (at & (jnp.cumsum(at, axis=-1, dtype=jnp.int32) <= missing))


def expert_sort_permutation(assignment):
  """Permutation that sorts tokens by expert, smallest expert first.

  `jnp.take_along_axis(x, perm[..., None], axis=-2)` puts the tokens of expert
  0 first, then expert 1, ...; with the static bucket sizes of
  `capacity.tokens_per_expert` every expert's tokens form a static slice.
  The sort is stable, so tokens keep their order within an expert.

  Args:
    assignment: int [..., N] expert of each token.

  Returns:
    (perm, inverse): int32 [..., N] each; `inverse` undoes `perm`.
  """
  perm = jnp.argsort(assignment, axis=-1, stable=True).astype(jnp.int32)
  inverse = jnp.argsort(perm, axis=-1).astype(jnp.int32)
  return perm, inverse
