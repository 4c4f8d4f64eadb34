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
"""The inference path of the MoNE layers: kernels sliced once, at load time.

Applying a model to the variables of `prepare_inference` instead of its
params selects the inference-optimised path of every nested layer (same
numbers within float rounding): the kernels of every expert are sliced once,
at load or export time, into an "inference" collection (Q/K/V fused into one
[3, H, hd, d] kernel per expert, 1/sqrt(hd) folded into its query part), so
no layer copies kernel slices (docs/method.md §6). Training keeps the params
path.

This module owns the layout of that collection, which `layers.py` reads, and
the implementation choices of both paths (`default_choices`): which kernels
compute the nested projections, how attention is called, whether Q/K/V are
one product, which small expert groups are computed at a wider width. Every
choice computes the same numbers within float rounding.
"""

import jax
import jax.numpy as jnp
import numpy as np

from mone_plugin import capacity


# Names in the "inference" collection. Per-expert entries are
# `expert_key(<base>, d)`, d the expert's model dimension ("qkv_kernel_64").
QKV_BIAS = "qkv_bias"
MLP_IN_BIAS = "Dense_0_bias"
QKV_KERNEL, OUT_KERNEL, OUT_BIAS = "qkv_kernel", "out_kernel", "out_bias"
MLP_IN_KERNEL = "Dense_0_kernel"
MLP_OUT_KERNEL, MLP_OUT_BIAS = "Dense_1_kernel", "Dense_1_bias"


# Implementation choices of the MoNE encoder (`layers.MoneEncoder`).
# kernel: "xla" (one XLA product per expert group and projection) or
#   "pallas" (one `kernels.nested_matmul` launch per projection for all
#   groups, over the full-width expert-sorted residual stream).
KERNELS = ("xla", "pallas")
# attention_impl: "all_tokens" (queries of all groups in one score/softmax/
#   weighted-sum call), "per_query_group" (one call per query group against
#   the keys and values of all tokens), "dot_product_attention"
#   (`jax.nn.dot_product_attention` over all tokens; attention dropout in
#   training falls back to "all_tokens").
ATTENTION_IMPLS = ("all_tokens", "per_query_group", "dot_product_attention")

# Defaults per backend and path (params: training; prepared: inference path):
# (attention_impl, fuse_qkv, merge_small_groups). merge_small_groups: expert
# groups with fewer rows (batch x tokens) are computed at the width of the
# next wider group; 0 merges none.
# CPU, params path: one Q/K/V product per group and attention per query group
#   both made the ViT-B/16 training step slower (docs/speed.md).
# CPU, prepared path: ViT-B/16, 224 px, batch 8, float32, min of 3 reps
#   timed round-robin on 2 CPU cores shared with other jobs (load ~13, so
#   Big Vision's dense ViT took 7912 ms against 1861 ms in docs/speed.md).
#   ms at e_c 0.3 / 0.4 / 0.6: today's choices 3176 / 3606 / 5620;
#   all_tokens 3609 / 3828 / 5420; dot_product_attention 3722 / 4020 / 4888;
#   fuse_qkv off 3102 / 4504 / 5846; merge_small_groups=320 3510 / 4297 /
#   6344. No choice wins beyond the noise at every e_c: today's stay.
# GPU and TPU: today's choices, unmeasured; the device script times every
#   choice when an accelerator is at hand.
_DEFAULTS = {
    ("cpu", "params"): ("all_tokens", False, 0),
    ("cpu", "prepared"): ("per_query_group", True, 0),
    ("gpu", "params"): ("all_tokens", False, 0),
    ("gpu", "prepared"): ("per_query_group", True, 0),
    ("tpu", "params"): ("all_tokens", False, 0),
    ("tpu", "prepared"): ("per_query_group", True, 0),
}


def default_choices(backend, batch, prepared=False):
  """The implementation choices of the MoNE encoder on `backend`.

  Args:
    backend: `jax.default_backend()` ("cpu", "gpu", "cuda", "rocm", "tpu").
    batch: examples per call (the table may depend on it).
    prepared: the inference path (variables of `prepare_inference`).

  Returns:
    {"attention_impl": ..., "fuse_qkv": ..., "merge_small_groups": ...}.
  """
  del batch  # No measured choice depends on it yet.
  backend = {"cuda": "gpu", "rocm": "gpu"}.get(backend, backend)
  key = (backend if backend in ("gpu", "tpu") else "cpu",
         "prepared" if prepared else "params")
  impl, fuse, merge = _DEFAULTS[key]
  return dict(attention_impl=impl, fuse_qkv=fuse, merge_small_groups=merge)


def check_choices(kernel, attention_impl, merge_small_groups):
  """Raises ValueError naming a bad choice and the allowed ones."""
  if kernel not in KERNELS:
    raise ValueError(f"kernel={kernel!r} is unknown; allowed: "
                     f"{', '.join(map(repr, KERNELS))}.")
  if attention_impl not in ATTENTION_IMPLS:
    raise ValueError(f"attention_impl={attention_impl!r} is unknown; "
                     f"allowed: {', '.join(map(repr, ATTENTION_IMPLS))}.")
  if merge_small_groups < 0:
    raise ValueError(f"merge_small_groups={merge_small_groups} is not "
                     "allowed; allowed: rows >= 0 (0: merge none).")


def expert_key(base, d):
  """The name of the expert of dimension d's slice of `base`."""
  return f"{base}_{d}"


def attention_inference_kernels(query, key, value, out, dims):
  """Per-expert attention kernels of the inference path, from the params.

  Works on unrolled ([D, H, hd]) and scanned ([L, D, H, hd]) kernels alike.

  Args:
    query: {"kernel": [..., D, H, hd], "bias": [..., H, hd]}; key, value too.
    out: {"kernel": [..., H, hd, D], "bias": [..., D]}.
    dims: the experts' model dimensions.

  Returns:
    {"qkv_bias": [..., 3, H, hd], "qkv_kernel_<d>": [..., 3, H, hd, d],
    "out_kernel_<d>": [..., H, hd, d], "out_bias_<d>": [..., d]}, with
    1/sqrt(hd) folded into the query kernel and bias. The fused kernel is
    stored input-last: for heads-major outputs XLA on CPU otherwise
    transposes it in every call.
  """
  hd = query["kernel"].shape[-1]
  scale = 1.0 / np.sqrt(hd)
  fused = jnp.moveaxis(jnp.stack([query["kernel"] * scale, key["kernel"],
                                  value["kernel"]], axis=-3), -4, -1)
  out_k, out_b = jnp.asarray(out["kernel"]), jnp.asarray(out["bias"])
  res = {QKV_BIAS: jnp.stack([query["bias"] * scale, key["bias"],
                                value["bias"]], axis=-3)}
  for d in dims:
    res[expert_key(QKV_KERNEL, d)] = fused[..., :d]
    res[expert_key(OUT_KERNEL, d)] = out_k[..., :d]
    res[expert_key(OUT_BIAS, d)] = out_b[..., :d]
  return res


def mlp_inference_kernels(dense_0, dense_1, dims):
  """Per-expert MLP kernels of the inference path, from the params."""
  w0, w1 = jnp.asarray(dense_0["kernel"]), jnp.asarray(dense_1["kernel"])
  b1 = jnp.asarray(dense_1["bias"])
  res = {MLP_IN_BIAS: jnp.asarray(dense_0["bias"])}
  for d in dims:
    res[expert_key(MLP_IN_KERNEL, d)] = w0[..., :d, :]
    res[expert_key(MLP_OUT_KERNEL, d)] = w1[..., :d]
    res[expert_key(MLP_OUT_BIAS, d)] = b1[..., :d]
  return res


def prepare_inference(params, dtype=None):
  """Variables of the inference-optimised path, sliced once from `params`.

  Call it once when a model is loaded or exported, then apply the model to
  the result instead of {"params": params}: that selects the inference path
  of every MoNE encoder (ViT and ViViT alike).

    variables = inference.prepare_inference(params)
    logits, out = model.apply(variables, images, e_c=0.4)

  Every MoNE encoder in the tree (a module holding `router` and `alpha`) has
  the kernels and biases of its attention and MLP blocks moved from "params"
  into the "inference" collection as per-expert slices (the other params stay
  in "params"). The checkpoint itself is unchanged: this is a derived tree,
  about 1.9x the size of the blocks' kernels.

  Args:
    params: a MoNE model's parameter tree (unrolled or scanned blocks).
    dtype: cast the prepared kernels to this dtype once (e.g. the model's
      `dtype_mm`), instead of in every call; None keeps theirs.

  Returns:
    {"params": ..., "inference": ...}.
  """
  cast = (lambda x: x) if dtype is None else (
      lambda x: jnp.asarray(x, jnp.dtype(dtype)))

  def visit(p):
    if not hasattr(p, "keys"):
      return p, None
    p = dict(p)
    if "router" in p and "alpha" in p:
      width, num_experts = p["router"]["kernel"].shape[-2:]
      dims = capacity.expert_dims(width, num_experts)
      inference = {}
      for name in [k for k in p if k.startswith("encoderblock")]:
        block = dict(p[name])
        attn = dict(block.pop("MultiHeadDotProductAttention_0"))
        mlp = dict(block.pop("MlpBlock_0"))
        inference[name] = jax.tree.map(cast, {
            "MultiHeadDotProductAttention_0": attention_inference_kernels(
                *(attn.pop(k) for k in ("query", "key", "value", "out")),
                dims),
            "MlpBlock_0": mlp_inference_kernels(
                mlp.pop("Dense_0"), mlp.pop("Dense_1"), dims)})
        if attn:
          block["MultiHeadDotProductAttention_0"] = attn
        if mlp:
          block["MlpBlock_0"] = mlp
        p[name] = block
      return p, inference
    inference = {}
    for k in list(p):
      p[k], sub = visit(p[k])
      if sub:
        inference[k] = sub
    return p, inference

  params, inference = visit(params)
  if not inference:
    raise ValueError("prepare_inference: the tree holds no MoNE encoder "
                     "(no module with `router` and `alpha`).")
  return {"params": params, "inference": inference}
