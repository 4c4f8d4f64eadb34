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

"""Analytic GFLOPs of ViT and ViViT (factorised encoder): dense, MoNE, MoD.

Convention: one multiply-add is one FLOP, as ViT papers count (XLA's
`cost_analysis()["flops"]` counts a multiply-add as 2). Per example (image or
clip), we count every matrix multiplication:

- patch (tubelet) embedding: N * (kernel volume * channels) * D;
- per layer, the Q, K, V and output projections (4 N D^2) and the two MLP
  Dense layers (2 N D mlp_dim). Under MoNE a token of expert i (dimension d_i)
  costs d_i / D of these, with the expert's real EPR bucket sizes
  `capacity.tokens_per_expert(capacities, N)` (floor-rounded; the rest goes to
  the smallest expert);
- per layer, the attention scores Q K^T and the weighted sum A V: 2 N^2 D,
  always at full D among all tokens, whatever their experts;
- the router, once: N_routed * D * E;
- the head: MAP pooling (when used), `pre_logits` and the classifier Dense.

Excluded: LayerNorm, softmax, GELU, tanh, bias additions, residual adds, the
MoNE scaling (alpha r + 1), pooling, EPR itself (a sort/top-k, no multiply-add)
and position embeddings. The class token (where used) is never routed: it
always takes the full expert and attends with the others.

How this reproduces the papers' figures (measured with this module and with
Scenic's own `SpaceTimeViViT` compiled by XLA, jax 0.10.2, CPU):

| model                              | here          | XLA/2 | paper         |
|------------------------------------|---------------|-------|---------------|
| ViT-B/16, 224 px, cls token (gap)  | 17.56 (17.47) |       | 17.5          |
| ViViT-FE-B/16x2, 32 fr, 224 px     | 283.3         | 284.4 | 284.4 (ViViT) |
| ViViT-FE-B/16x2, 32 fr, 256 px     | 374.1         | 375.5 | 376.3 (MoNE)  |

The accounting that reproduces them is Scenic's Kinetics/SSv2 ViViT-B
factorised-encoder config (`configs/kinetics400/vivit_base_factorised_encoder
.py`): tubelets 2x16x16 (32 frames become 16 time steps), spatial transformer
of depth 12 run on each of the 16 frames with a class token per frame
(`classifier='token'`: Scenic adds `cls_SpatialTransformer` to every frame and
`cls_TemporalTransformer` to the frame sequence), temporal transformer of depth
4 over the 16 + 1 frame tokens, no `pre_logits` (`representation_size=None`).
The ViViT paper's 284.4 GFLOPs is exactly XLA's cost analysis of that model
divided by 2 (it includes LayerNorm, GELU and softmax, ~0.4% more than the
multiply-adds alone); the MoNE paper's 376.3 at 256 px is within 0.6% of the
count here. The spatial transformer is 98.5% of the total (the tubelet
embedding 1.3%, the temporal transformer 0.13%). The MoNE paper's SSv2 model
at 162.8 GFLOPs is e_c = 0.39 here (`e_c_for_gflops(162.8, model="vivit",
image_size=256, num_classes=174)`).

Against XLA (`flops_test.py`): twice these counts are within 3% of
`jax.jit(...).lower(...).compile().cost_analysis()["flops"]` for
`mone_plugin.vit` (dense and MoNE down to e_c=0.2) and Scenic's ViViT at
width 256; XLA is higher by its elementwise work (ViT: +0.6% dense, +1.8% at
e_c=0.3; ViViT +1.0%). The Mixture-of-Depths ViT (`mod_capacity`) and the
nested models (one-hot capacities) are within 1% too.
"""

import math

import numpy as np
import scipy.optimize

from mone_plugin import capacity

VIT_POOL_TYPES = ("gap", "map", "tok", "0", "none")
VIVIT_CLASSIFIERS = ("token", "gap", "gmp", "gsp", "0")


def _pair(value, name):
  """An int or a pair of ints as a pair of positive ints."""
  if isinstance(value, (int, np.integer)):
    value = (value, value)
  try:
    a, b = (int(v) for v in value)
  except (TypeError, ValueError):
    raise ValueError(f"{name}={value!r} must be an int or a pair of ints."
                     ) from None
  if a <= 0 or b <= 0:
    raise ValueError(f"{name}={value!r} must be positive.")
  return a, b


def _grid(image_size, patch_size):
  """Token grid of a VALID, stride=kernel patch embedding (floors, as it)."""
  (ih, iw), (ph, pw) = _pair(image_size, "image_size"), _pair(patch_size,
                                                              "patch_size")
  h, w = ih // ph, iw // pw
  if not h or not w:
    raise ValueError(f"image_size={image_size!r} is smaller than patch_size="
                     f"{patch_size!r}: no token would be left.")
  return h, w, ph * pw


def _check_width(width, num_heads):
  if width <= 0 or num_heads <= 0 or width % num_heads:
    raise ValueError(f"width={width} must be a positive multiple of num_heads="
                     f"{num_heads}.")


def _expert_token_counts(e_c, num_tokens, width, num_experts, capacity_method,
                         continuous):
  """Tokens per expert (smallest first) and expert dims, or None if dense."""
  if e_c is None:
    return None, None
  dims = capacity.expert_dims(width, num_experts)
  if isinstance(e_c, (tuple, list, np.ndarray)):  # Explicit capacities.
    capacities = capacity.validate_capacities(e_c)
    if len(capacities) != num_experts:
      raise ValueError(f"capacities={tuple(e_c)} must have one entry per "
                       f"expert ({num_experts}).")
  else:
    capacities = capacity.capacity_distribution(
        e_c, num_experts=num_experts, method=capacity_method)
  if continuous:
    counts = tuple(float(c) * num_tokens for c in capacities)
  else:
    counts = capacity.tokens_per_expert(capacities, num_tokens)
  return counts, dims


def _encoder_macs(*, num_routed, num_prefix, width, depth, mlp_dim,
                  counts=None, dims=None):
  """Multiply-adds of one transformer stack over one sequence.

  Args:
    num_routed: tokens that MoNE routes (the patch tokens).
    num_prefix: extra tokens (class token) that always take the full expert.
    width: D.
    depth: number of encoder blocks.
    mlp_dim: MLP hidden width.
    counts: tokens per expert, smallest first (None: dense, no router).
    dims: model dimension of each expert, smallest first.

  Returns:
    dict with "attention_projections", "mlp", "attention", "router".
  """
  if counts is None:
    # The dense path: every token at full width.
    width_tokens = (num_routed + num_prefix) * width
    router = 0.0
  else:
    width_tokens = sum(k * d for k, d in zip(counts, dims))
    width_tokens += num_prefix * width
    router = num_routed * width * len(dims)
  n = num_routed + num_prefix
  return {
      # Q, K, V read d_i features and write D; "out" reads D and writes d_i.
      "attention_projections": depth * 4.0 * width_tokens * width,
      # Dense_0 reads d_i and writes mlp_dim; Dense_1 the reverse.
      "mlp": depth * 2.0 * width_tokens * mlp_dim,
      # Q K^T and A V among all n tokens at full D.
      "attention": depth * 2.0 * n * n * width,
      "router": float(router),
  }


def _head_macs(width, num_classes, rep_size):
  macs = 0.0
  if rep_size:
    macs += width * rep_size
    width = rep_size
  if num_classes:
    macs += width * num_classes
  return float(macs)


def vit_flops_breakdown(*, image_size=224, patch_size=16, width=768, depth=12,
                        mlp_dim=None, num_heads=12, num_classes=1000,
                        e_c=None, num_experts=4, capacity_method="mone",
                        pool_type="gap", channels=3, rep_size=False,
                        continuous=False, mod_capacity=None, mod_every=2):
  """GFLOPs of one image through a (MoNE) ViT, by component.

  The model is Big Vision's `models/vit.py` (and `mone_plugin.vit`):
  `pool_type="tok"` adds one class token, never routed; "map" adds the MAP
  head (counted under "head"); "none" applies the head to every token.
  With `mod_capacity` it is the Mixture-of-Depths ViT (`mone_plugin.mod`):
  depth // mod_every blocks process floor(mod_capacity N) tokens (plus the
  class token), attending among them only, and each has a router (N D); the
  other blocks are dense.

  Args:
    image_size: int or (height, width) in pixels.
    patch_size: int or (height, width).
    width: D.
    depth: number of encoder blocks.
    mlp_dim: MLP hidden width (default 4 D).
    num_heads: attention heads (only checked: the count does not depend on it).
    num_classes: classifier outputs (None or 0: no head).
    e_c: effective capacity of MoNE, or E capacities (smallest expert
      first; one-hot on expert j: the width-d_j nested model); None: the
      dense ViT (no router).
    num_experts: E, nested experts.
    capacity_method: see `capacity.capacity_distribution`.
    pool_type: one of VIT_POOL_TYPES, as in Big Vision.
    channels: input channels.
    rep_size: Big Vision's `rep_size` (False, True = width, or an int).
    continuous: count c_i * N tokens per expert instead of EPR's floor-rounded
      buckets (used to invert the count; never larger than the EPR count).
    mod_capacity: the Mixture-of-Depths baseline's fraction of processed
      tokens in its routed blocks (None: not MoD). Needs e_c=None.
    mod_every: every mod_every-th block (the 2nd, 4th, ...) is routed.

  Returns:
    dict of GFLOPs: "embedding", "attention_projections", "mlp", "attention",
    "router", "head", and their sum "total".
  """
  if pool_type not in VIT_POOL_TYPES:
    raise ValueError(f"pool_type={pool_type!r} is unknown; allowed: "
                     f"{VIT_POOL_TYPES}.")
  _check_width(width, num_heads)
  mlp_dim = mlp_dim or 4 * width
  h, w, patch_area = _grid(image_size, patch_size)
  n = h * w
  counts, dims = _expert_token_counts(e_c, n, width, num_experts,
                                      capacity_method, continuous)
  macs = {"embedding": float(n * patch_area * channels * width)}
  prefix = int(pool_type == "tok")
  if mod_capacity is not None:
    if e_c is not None:
      raise ValueError(f"e_c={e_c!r}: a Mixture-of-Depths model has no "
                       "nested experts; count it with e_c=None.")
    if not isinstance(mod_every, (int, np.integer)) or mod_every < 1:
      raise ValueError(f"mod_every={mod_every!r} must be an integer >= 1.")
    routed = depth // mod_every
    k = capacity.top_k_tokens(mod_capacity, n)
    full = _encoder_macs(num_routed=n, num_prefix=prefix, width=width,
                         depth=depth - routed, mlp_dim=mlp_dim)
    part = _encoder_macs(num_routed=k, num_prefix=prefix, width=width,
                         depth=routed, mlp_dim=mlp_dim)
    macs.update({key: full[key] + part[key] for key in full})
    macs["router"] = float(routed * n * width)  # One score per token.
  else:
    macs.update(_encoder_macs(
        num_routed=n, num_prefix=prefix, width=width,
        depth=depth, mlp_dim=mlp_dim, counts=counts, dims=dims))
  rep = width if rep_size is True else (rep_size or 0)
  head = _head_macs(width, num_classes, rep)
  if pool_type == "map":
    # One probe attends to the n tokens (Q and out on 1 token, K and V on n),
    # then an MLP on the probe.
    head += (2 + 2 * n) * width * width + 2 * n * width + 2 * width * mlp_dim
  elif pool_type == "none":
    head *= n
  macs["head"] = head
  out = {k: v / 1e9 for k, v in macs.items()}
  out["total"] = sum(out.values())
  return out


def vit_gflops(**kw) -> float:
  """Total GFLOPs of one image; arguments as `vit_flops_breakdown`."""
  return vit_flops_breakdown(**kw)["total"]


def vivit_flops_breakdown(*, num_frames=32, image_size=224, patch_size=16,
                          tubelet_size=2, width=768, spatial_depth=12,
                          temporal_depth=4, mlp_dim=None,
                          temporal_mlp_dim=None, num_heads=12,
                          num_classes=400, e_c=None, num_experts=4,
                          capacity_method="mone", classifier="token",
                          representation_size=None, channels=3,
                          continuous=False):
  """GFLOPs of one clip through a (MoNE) ViViT factorised encoder, by part.

  The model is Scenic's `SpaceTimeViViT` (and `mone_plugin.vivit`): a 3D
  tubelet embedding, the spatial transformer on each of the
  num_frames // tubelet_size frames (MoNE: routing each frame on its own), the
  temporal transformer (always dense) on one token per frame, and the head.
  With classifier="token" both transformers get a class token.

  Args:
    num_frames: input frames.
    image_size: int or (height, width) of the frames.
    patch_size: int or (height, width) of a tubelet.
    tubelet_size: frames per tubelet.
    width: D (shared by both transformers, as in Scenic's `hidden_size`).
    spatial_depth: blocks of the spatial transformer.
    temporal_depth: blocks of the temporal transformer.
    mlp_dim: MLP hidden width of the spatial transformer (default 4 D).
    temporal_mlp_dim: of the temporal transformer (default mlp_dim).
    num_heads: attention heads (only checked).
    num_classes: classifier outputs (None or 0: no `output_projection`).
    e_c: effective capacity of the spatial transformer; None: dense.
    num_experts: E, nested experts.
    capacity_method: see `capacity.capacity_distribution`.
    classifier: Scenic's `classifier`, one of VIVIT_CLASSIFIERS.
    representation_size: Scenic's `pre_logits` width (None: no layer).
    channels: input channels.
    continuous: as in `vit_flops_breakdown`.

  Returns:
    dict of GFLOPs: "embedding", "spatial" and "temporal" (each transformer,
    router included), "router" (also inside "spatial"), "head" and "total".
  """
  if classifier not in VIVIT_CLASSIFIERS:
    raise ValueError(f"classifier={classifier!r} is unknown; allowed: "
                     f"{VIVIT_CLASSIFIERS}.")
  _check_width(width, num_heads)
  if tubelet_size <= 0 or num_frames < tubelet_size:
    raise ValueError(f"num_frames={num_frames} and tubelet_size={tubelet_size}"
                     " leave no frame: need num_frames >= tubelet_size > 0.")
  frames = num_frames // tubelet_size
  mlp_dim = mlp_dim or 4 * width
  temporal_mlp_dim = temporal_mlp_dim or mlp_dim
  h, w, patch_area = _grid(image_size, patch_size)
  n = h * w
  prefix = int(classifier == "token")
  counts, dims = _expert_token_counts(e_c, n, width, num_experts,
                                      capacity_method, continuous)
  spatial = _encoder_macs(num_routed=n, num_prefix=prefix, width=width,
                          depth=spatial_depth, mlp_dim=mlp_dim, counts=counts,
                          dims=dims)
  temporal = _encoder_macs(num_routed=frames, num_prefix=prefix, width=width,
                           depth=temporal_depth, mlp_dim=temporal_mlp_dim)
  macs = {
      "embedding": float(frames * n * tubelet_size * patch_area * channels *
                         width),
      "spatial": frames * sum(spatial.values()),
      "temporal": sum(temporal.values()),
      "head": _head_macs(width, num_classes, representation_size),
  }
  out = {k: v / 1e9 for k, v in macs.items()}
  out["total"] = sum(out.values())
  out["router"] = frames * spatial["router"] / 1e9
  return out


def vivit_gflops(**kw) -> float:
  """Total GFLOPs of one clip; arguments as `vivit_flops_breakdown`."""
  return vivit_flops_breakdown(**kw)["total"]


_BREAKDOWNS = {"vit": vit_flops_breakdown, "vivit": vivit_flops_breakdown}


def e_c_for_gflops(gflops, *, model="vit", **model_cfg) -> float:
  """The effective capacity whose MoNE model costs `gflops` GFLOPs.

  The count with continuous capacities (c_i N tokens per expert) increases
  with e_c, so we solve it for e_c with `scipy.optimize.brentq` (for the
  methods that meet e_c exactly it is affine in e_c). EPR floor-rounds the
  larger experts' buckets and leaves the rest on the smallest expert, so the
  real cost at the returned e_c is at most `gflops`, and short of it by less
  than one token per expert per layer.

  Args:
    gflops: the budget, GFLOPs per image ("vit") or clip ("vivit").
    model: "vit" or "vivit".
    **model_cfg: arguments of `vit_gflops` / `vivit_gflops` (not e_c).

  Returns:
    e_c as a python float in the feasible range of `num_experts` experts.

  Raises:
    ValueError: if the budget is outside the GFLOPs the model can reach
      (all tokens on the smallest to all on the largest expert).
  """
  if model not in _BREAKDOWNS:
    raise ValueError(f"model={model!r} is unknown; allowed: "
                     f"{tuple(_BREAKDOWNS)}.")
  if "e_c" in model_cfg or "continuous" in model_cfg:
    raise ValueError("e_c_for_gflops computes e_c: do not pass e_c or "
                     "continuous in model_cfg.")
  breakdown = _BREAKDOWNS[model]
  lo, hi = capacity.feasible_range(model_cfg.get("num_experts", 4))

  def cost(e_c):
    return breakdown(e_c=e_c, continuous=True, **model_cfg)["total"]

  g_lo, g_hi = cost(lo), cost(hi)
  if not g_hi > g_lo:
    raise ValueError(
        f"capacity_method={model_cfg.get('capacity_method')!r} fixes its own "
        "capacities whatever e_c is, so no e_c meets a budget; use 'mone' or "
        "'greedy'.")
  budget = float(gflops)
  # A relative tolerance absorbs round-off at the ends of the range.
  tol = 1e-9 * g_hi
  if math.isnan(budget) or not g_lo - tol <= budget <= g_hi + tol:
    raise ValueError(
        f"A budget of {gflops} GFLOPs is infeasible for this {model} "
        f"(capacity_method={model_cfg.get('capacity_method', 'mone')!r}): "
        f"MoNE reaches [{g_lo:.4g}, {g_hi:.4g}] GFLOPs, from every token on "
        f"the smallest expert (e_c={lo:g}) to all on the largest (e_c={hi:g})."
    )
  if budget <= g_lo:
    return lo
  if budget >= g_hi:
    return hi
  e_c = scipy.optimize.brentq(lambda e: cost(e) - budget, lo, hi,
                              xtol=1e-12, rtol=1e-12)
  return float(e_c)


def gflops_range(*, model="vit", **model_cfg) -> tuple[float, float]:
  """The [min, max] GFLOPs MoNE reaches for a model config (EPR buckets)."""
  breakdown = _BREAKDOWNS[model]
  lo, hi = capacity.feasible_range(model_cfg.get("num_experts", 4))
  return (breakdown(e_c=lo, **model_cfg)["total"],
          breakdown(e_c=hi, **model_cfg)["total"])
