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

"""Capacity distributions over nested experts (MoNE paper, Section 3.3).

Expert i (0 = smallest) of E nested experts has model dimension
d_i = D / 2^(E-1-i). A capacity distribution c (sum 1) says what fraction of
the tokens each expert processes; its effective capacity
e_c = sum_i c_i * d_i / D is the fraction of the dense model's projection FLOPs
it costs.
"""

import math
from typing import Sequence

import numpy as np
import scipy.optimize

METHODS = ("mone", "uniform", "proportionate", "greedy")


class _Configured:
  """Type of `CONFIGURED`."""

  def __repr__(self):
    return "CONFIGURED"


# Default of the models' call-time `e_c=` override: use the configured e_c.
# (None already means the dense path, so it cannot serve as the default.)
CONFIGURED = _Configured()


def _check_num_experts(num_experts):
  if not isinstance(num_experts, (int, np.integer)) or num_experts < 2:
    raise ValueError(
        f"num_experts={num_experts!r} is not allowed: MoNE needs an integer "
        "number of nested experts >= 2.")


def expert_dims(width, num_experts=4):
  """Model dimensions of the nested experts, smallest first: D/2^(E-1)..D."""
  _check_num_experts(num_experts)
  div = 2 ** (num_experts - 1)
  if width % div:
    raise ValueError(
        f"width={width} is not divisible by 2^(num_experts-1)={div}: the "
        f"{num_experts} nested experts need widths D/{div}, ..., D. Use a width "
        f"that is a multiple of {div} or fewer experts.")
  return tuple(width // 2 ** (num_experts - 1 - i) for i in range(num_experts))


def _relative_dims(num_experts):
  return np.array([2.0 ** -(num_experts - 1 - i) for i in range(num_experts)])


def feasible_range(num_experts=4):
  """The [min, max] effective capacity E nested experts can reach."""
  _check_num_experts(num_experts)
  return 2.0 ** -(num_experts - 1), 1.0


def effective_capacity(capacities):
  """e_c = sum_i c_i d_i / D of a capacity distribution (smallest first)."""
  c = validate_capacities(capacities)
  return float(np.dot(c, _relative_dims(len(c))))


def validate_capacities(capacities):
  """Checks a capacity distribution and returns it as a float64 array."""
  c = np.asarray(capacities, dtype=np.float64)
  if c.ndim != 1:
    raise ValueError(f"capacities={capacities!r} must be a 1-D sequence with "
                     "one entry per expert.")
  _check_num_experts(len(c))
  if np.any(c < 0) or not np.all(np.isfinite(c)):
    raise ValueError(f"capacities={list(c)} must be finite and >= 0.")
  if abs(c.sum() - 1.0) > 1e-6:
    raise ValueError(f"capacities={list(c)} sum to {c.sum():.6f}; they must "
                     "sum to 1 (each is the fraction of tokens of an expert).")
  return c


def capacity_distribution(e_c, num_experts=4, method="mone"):
  """Capacity of each nested expert for an effective capacity `e_c`.

  Args:
    e_c: target effective capacity, in [1/2^(E-1), 1].
    num_experts: E, the number of nested experts (>= 2).
    method: "mone": the paper's maximum-entropy solution: maximise
      sum_i c_i delta^i - beta sum_i c_i log c_i (delta=2, beta=10) subject to
      sum c = 1 and sum c_i d_i/D = e_c. For delta=2 the first term is
      constant on that set, so c_i is proportional to exp(-lambda d_i/D) with
      lambda found by 1-D root finding. "greedy": as many tokens as possible
      on the largest expert, the rest on the smallest (meets e_c).
      "uniform" (c_i = 1/E) and "proportionate" (c_i proportional to d_i) are
      baselines that fix their own e_c: they ignore the `e_c` argument (it is
      still checked for feasibility).

  Returns:
    float64 array of E capacities, smallest expert first, summing to 1.
  """
  _check_num_experts(num_experts)
  lo, hi = feasible_range(num_experts)
  try:
    e_c = float(e_c)
  except (TypeError, ValueError):
    raise ValueError(f"e_c={e_c!r} is not a number; allowed: a float in "
                     f"[{lo:g}, {hi:g}] for {num_experts} experts.") from None
  if not lo - 1e-12 <= e_c <= hi + 1e-12 or math.isnan(e_c):
    raise ValueError(
        f"e_c={e_c:g} is infeasible for {num_experts} nested experts: the "
        f"effective capacity must lie in [{lo:g}, {hi:g}] (1/2^(E-1) when every "
        "token takes the smallest expert, 1 when all take the largest).")
  r = _relative_dims(num_experts)
  if method == "uniform":
    return np.full(num_experts, 1.0 / num_experts)
  if method == "proportionate":
    return r / r.sum()
  if method == "greedy":
    c = np.zeros(num_experts)
    c[-1] = (e_c - lo) / (hi - lo)
    c[0] = 1.0 - c[-1]
    return c
  if method != "mone":
    raise ValueError(f"method={method!r} is unknown; allowed: {METHODS}.")
  # The end points are the one-hot distributions (lambda -> +-inf).
  if e_c <= lo + 1e-12:
    return np.eye(num_experts)[0]
  if e_c >= hi - 1e-12:
    return np.eye(num_experts)[-1]

  def dist(lam):
    logits = -lam * r
    w = np.exp(logits - logits.max())
    return w / w.sum()

  # e_c(lambda) decreases monotonically from 1 (lambda=-inf) to lo (+inf).
  bound = 1.0
  while not np.dot(dist(-bound), r) > e_c > np.dot(dist(bound), r):
    bound *= 2.0
  lam = scipy.optimize.brentq(lambda l: np.dot(dist(l), r) - e_c,
                              -bound, bound, xtol=1e-14, rtol=1e-14)
  return dist(lam)


def tokens_per_expert(capacities, num_tokens):
  """Static EPR bucket sizes: k_j = floor(c_j N) for the larger experts.

  Args:
    capacities: E capacities, smallest expert first (summing to 1).
    num_tokens: N, the number of routed tokens per example (or frame).

  Returns:
    Tuple of E ints summing to N; the smallest expert takes what is left
    (rounding included), as Expert Preferred Routing does.
  """
  c = validate_capacities(capacities)
  if num_tokens < 0 or int(num_tokens) != num_tokens:
    raise ValueError(f"num_tokens={num_tokens!r} must be an integer >= 0.")
  # The epsilon keeps e.g. 0.3 * 10 = 2.9999999996 from flooring to 2.
  k = [int(math.floor(ci * num_tokens + 1e-9)) for ci in c[1:]]
  return (int(num_tokens) - sum(k), *k)


def as_static(capacities: Sequence[float]):
  """A hashable tuple of python floats, for use as a jit-static argument."""
  return tuple(float(x) for x in validate_capacities(capacities))


def top_k_tokens(capacity, num_tokens):
  """Tokens a Mixture-of-Depths block processes: floor(capacity N), >= 1.

  Args:
    capacity: fraction of the tokens the block processes, in (0, 1].
    num_tokens: N, the routed tokens per example.

  Returns:
    k as a python int in [1, N] (static, so the block has static shapes).
  """
  if isinstance(capacity, bool) or not 0.0 < float(capacity) <= 1.0:
    raise ValueError(f"capacity={capacity!r} is not allowed: the fraction of "
                     "tokens a Mixture-of-Depths block processes must be in "
                     "(0, 1].")
  if num_tokens < 1 or int(num_tokens) != num_tokens:
    raise ValueError(f"num_tokens={num_tokens!r} must be an integer >= 1.")
  # The epsilon keeps e.g. 0.3 * 10 = 2.9999999996 from flooring to 2.
  return max(1, int(math.floor(float(capacity) * num_tokens + 1e-9)))
