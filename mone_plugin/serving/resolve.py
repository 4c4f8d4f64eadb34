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

"""A budget given as e_c, GFLOPs per image or a latency target -> e_c.

e_c (or "dense") is checked against what the model's experts reach; GFLOPs
are inverted with the analytic count (`flops.e_c_for_gflops`); a latency
target is met by timing the exported forward on the current JAX backend on
a grid of e_c and taking the largest that meets it.
"""

import time

import jax
import jax.numpy as jnp
import numpy as np

from mone_plugin import budgets as budgets_lib
from mone_plugin import capacity
from mone_plugin import flops
from mone_plugin import inference
from mone_plugin.serving import forward


def parse_e_c(values):
  """["0.3", "dense"] -> (0.3, None); see `budgets_lib.parse_e_c`."""
  try:
    return budgets_lib.parse_e_c(values)
  except ValueError as e:
    raise forward.ExportError(str(e)) from None


def check_e_c(model, e_cs):
  """Raises an ExportError naming the reachable range for a bad e_c."""
  lo, hi = capacity.feasible_range(model.num_experts)
  for e_c in e_cs:
    if e_c is None:
      continue
    if not lo <= e_c <= hi:
      raise forward.ExportError(
          f"e_c={e_c:g} is infeasible: {model.num_experts} nested experts "
          f"reach e_c in [{lo:g}, {hi:g}] (or 'dense').")
    model.capacities(e_c)  # Other method-specific checks.


def gflops(model, input_shape, e_c):
  """Analytic GFLOPs per image (or clip) of `model` at `e_c` (None: dense)."""
  return budgets_lib.gflops(model, input_shape, e_c)


def e_c_for_gflops(model, input_shape, budgets):
  """The e_c meeting each GFLOPs-per-image (or per-clip) budget."""
  kind, cfg = budgets_lib.flops_config(model, input_shape)
  try:
    return tuple(flops.e_c_for_gflops(g, model=kind, **cfg) for g in budgets)
  except ValueError as e:
    raise forward.ExportError(f"--gflops: {e}") from None


def latency_grid(num_experts, steps=8):
  """The e_c a latency target is searched on, smallest first."""
  lo, hi = capacity.feasible_range(num_experts)
  return tuple(float(e) for e in np.round(np.linspace(lo, hi, steps), 4))


def measure_latency(model, params, image_shape, e_cs, batch=1, reps=5):
  """Min over `reps` of the jitted forward's wall time (ms) at each e_c."""
  x = jnp.zeros((batch, *image_shape), jnp.uint8)
  variables = inference.prepare_inference(params)  # As exported.
  out = {}
  for e_c in e_cs:
    f = jax.jit(forward.forward_fn(model, e_c, (-1.0, 1.0)))
    jax.block_until_ready(f(variables, x))
    times = []
    for _ in range(reps):
      t = time.perf_counter()
      jax.block_until_ready(f(variables, x))
      times.append(1e3 * (time.perf_counter() - t))
    out[e_c] = min(times)
  return out


def pick_e_c_for_latency(latency_ms, target_ms):
  """The largest e_c whose latency meets `target_ms`.

  `latency_ms` maps e_c to a measured latency. Measurements are noisy, so an
  e_c meets the target only if every smaller e_c does too (its latency is
  taken as the running max over smaller e_c): the pick is then monotone in
  the target.
  """
  e_cs = sorted(latency_ms)
  envelope, worst = {}, 0.0
  for e in e_cs:
    worst = max(worst, latency_ms[e])
    envelope[e] = worst
  ok = [e for e in e_cs if envelope[e] <= target_ms]
  if not ok:
    raise forward.ExportError(
        f"--latency_ms={target_ms:g} is infeasible: on this backend the "
        f"model takes {envelope[e_cs[0]]:.3g} ms (e_c={e_cs[0]:g}) to "
        f"{envelope[e_cs[-1]]:.3g} ms (e_c={e_cs[-1]:g}); give a target in "
        "that range or above.")
  return ok[-1]


def budgets(model, params, image_shape, *, e_c, gflops=None, latency_ms=None,
            latency_batch=1):
  """The e_c to export, from `gflops`, else `latency_ms`, else `e_c`.

  Args:
    model: the `vit.Model`.
    params: its params (timed when a latency target is given).
    image_shape: its input shape (H, W, C).
    e_c: e_c values or "dense", as strings.
    gflops: GFLOPs-per-image budgets, as strings.
    latency_ms: a latency target in ms per batch of `latency_batch` images,
      on the current JAX backend.
    latency_batch: the batch size the latency target is for.

  Returns:
    (e_cs, latency): the e_c tuple, and the latency measurement (a dict to
    write as `latency.json`) or None without a latency target.
  """
  if gflops:
    try:
      targets = [float(g) for g in gflops]
    except ValueError:
      raise forward.ExportError(f"--gflops={','.join(gflops)} must be "
                                "numbers (GFLOPs per image).") from None
    return e_c_for_gflops(model, image_shape, targets), None
  if latency_ms is not None:
    times = measure_latency(model, params, image_shape,
                            latency_grid(model.num_experts),
                            batch=latency_batch)
    picked = pick_e_c_for_latency(times, latency_ms)
    return (picked,), {
        "target_ms": latency_ms, "batch": latency_batch,
        "backend": jax.default_backend(), "picked_e_c": picked,
        "measured_ms": {f"{k:g}": v for k, v in times.items()}}
  return parse_e_c(e_c), None
