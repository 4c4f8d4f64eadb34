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

"""The results page's arithmetic: means over seeds, gaps, curves at equal FLOPs.

Every mean, spread and difference on docs/results.md is computed here. A curve is a list of (GFLOPs, accuracy) points. Between two points of a
curve, accuracy is interpolated linearly in log GFLOPs (FLOPs of a model
family grow about geometrically with width). Nothing is extrapolated: outside
a curve's FLOPs range the answer is None, and the page says so.
"""

import math

import numpy as np


def curve(points):
  """`points` sorted by GFLOPs, without missing values."""
  return sorted((float(g), float(a)) for g, a in points
                if g is not None and a is not None and g > 0)


def at_flops(points, gflops):
  """Accuracy of `points` at `gflops`, linear in log GFLOPs (None outside)."""
  pts = curve(points)
  if not pts or gflops is None or gflops <= 0:
    return None
  x = math.log(gflops)
  eps = 1e-9  # GFLOPs computed two ways differ in the last bits.
  for (g0, a0), (g1, a1) in zip(pts, pts[1:]):
    x0, x1 = math.log(g0), math.log(g1)
    if x0 - eps <= x <= x1 + eps:
      if x1 - x0 < eps:
        return max(a0, a1)
      t = min(1.0, max(0.0, (x - x0) / (x1 - x0)))
      return a0 + (a1 - a0) * t
  for g, a in pts:  # A single point: only at its own FLOPs.
    if abs(math.log(g) - x) < eps:
      return a
  return None


def flops_at_accuracy(points, accuracy):
  """The fewest GFLOPs at which `points` reach `accuracy` (None: never).

  The first crossing from below, interpolated linearly in log GFLOPs; a
  curve already above `accuracy` at its first point answers None (the
  crossing is outside the measured range).
  """
  pts = curve(points)
  if not pts or accuracy is None or pts[0][1] >= accuracy:
    return None
  for (g0, a0), (g1, a1) in zip(pts, pts[1:]):
    if a0 < accuracy <= a1:
      x0, x1 = math.log(g0), math.log(g1)
      return math.exp(x0 + (x1 - x0) * (accuracy - a0) / (a1 - a0))
  return None


def mean_std(values):
  """(mean, sample std) of `values` without None; (None, None) if empty."""
  values = [v for v in values if v is not None]
  if not values:
    return None, None
  return (float(np.mean(values)),
          float(np.std(values, ddof=1)) if len(values) > 1 else 0.0)


def paired_delta(ours, theirs):
  """Mean ± std over seeds of ours − theirs, on the seeds both have.

  Args:
    ours: {seed: accuracy}.
    theirs: {seed: accuracy}.

  Returns:
    (mean, sample std, number of seeds); (None, None, 0) with no seed in
    common.
  """
  seeds = sorted(s for s in ours if s in theirs and ours[s] is not None
                 and theirs[s] is not None)
  mean, std = mean_std([ours[s] - theirs[s] for s in seeds])
  return mean, std, len(seeds)


def versus_curve(points, reference):
  """Each point of `points` against `reference` at equal FLOPs.

  Args:
    points: (GFLOPs, accuracy) of the model under test.
    reference: the curve to compare with.

  Returns:
    [(GFLOPs, accuracy, reference accuracy or None, difference or None,
      FLOP ratio reference/ours at equal accuracy or None)] per point.
  """
  out = []
  for g, a in curve(points):
    ref = at_flops(reference, g)
    equal = flops_at_accuracy(reference, a)
    out.append((g, a, ref, None if ref is None else a - ref,
                None if equal is None else equal / g))
  return out


def gain_per_doubling(x0, a0, x1, a1):
  """Accuracy gained from (x0, a0) to (x1, a1) per doubling of x (FLOPs,
  steps)."""
  return (a1 - a0) / math.log2(x1 / x0)
