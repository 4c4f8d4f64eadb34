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
"""Nested-expert transformer layers of MoNE, with real compute savings.

A token on expert j (model dimension d_j <= D) reads only the first d_j
channels of its residual stream in the in-projections (attention Q/K/V, first
MLP Dense) and writes only the first d_j channels in the out-projections;
attention runs at full D among all tokens. Parameter names and shapes are
those of Big Vision's and Scenic's ViT blocks, so ViT checkpoints load as is.

Savings are real because one router decides for all layers: the tokens are
permuted into expert-sorted order once, and each expert group is carried
through the stack as its own narrow residual stream `h` of width d_j. Channels
[d_j, D) of a group never change; only their sum and sum of squares are kept,
which is all the full-D LayerNorm needs. No layer gathers, scatters or pads.

The router and alpha are in `router.py`; the inference path reads kernels
that `inference.prepare_inference` sliced once (applying a model to its
variables instead of the params selects it).
"""

import functools
from typing import Any, NamedTuple, Optional, Sequence, Tuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from mone_plugin import capacity
from mone_plugin import inference
from mone_plugin import router
from mone_plugin import routing

Array = Any
_LN_EPS = 1e-6  # As flax.linen.LayerNorm.


class Group(NamedTuple):
  """The tokens of one expert, in expert-sorted order.

  Attributes:
    h: [B, n, d] the first d channels of the residual stream (they change).
    tail_sum: [B, n, 1] sum of channels [d, D) (they never change).
    tail_sumsq: [B, n, 1] sum of squares of channels [d, D).
    mlp_scale: [B, n, 1] (alpha * r + 1) scale of the MLP branch, or None.
  """
  h: Array
  tail_sum: Array
  tail_sumsq: Array
  mlp_scale: Optional[Array]


def _split_init(init, shape, in_ndim):
  """Initialises as a 2-D [fan_in, fan_out] kernel, like DenseGeneral."""
  def f(key, shape=shape, dtype=jnp.float32):
    flat = (int(np.prod(shape[:in_ndim])), int(np.prod(shape[in_ndim:])))
    return jnp.reshape(init(key, flat, dtype), shape)
  return f


class _Params(nn.Module):
  """Holds a kernel and bias under a Dense-like name (query, Dense_0, ...)."""
  kernel_shape: Tuple[int, ...]
  bias_shape: Tuple[int, ...]
  in_ndim: int = 1
  kernel_init: Any = nn.initializers.xavier_uniform()
  bias_init: Any = nn.initializers.zeros

  @nn.compact
  def __call__(self):
    k = self.param("kernel", _split_init(self.kernel_init, self.kernel_shape,
                                         self.in_ndim), self.kernel_shape)
    b = self.param("bias", self.bias_init, self.bias_shape)
    return k, b


def remat_policy(name):
  """The `jax.checkpoint_policies` policy called `name`, or a clear error.

  Args:
    name: "none" (`jax.checkpoint`'s default, as Big Vision's models read
      it) or a policy of `jax.checkpoint_policies` that takes no arguments:
      "nothing_saveable", "dots_saveable", "dots_with_no_batch_dims_saveable"
      or "everything_saveable".

  Returns:
    The policy (None for "none").
  """
  if name == "none":
    return None
  allowed = ["none"] + sorted(n for n in dir(jax.checkpoint_policies)
                              if n.endswith("saveable"))
  if name not in allowed:
    raise ValueError(f"remat_policy={name!r} is not a policy; allowed: "
                     f"{', '.join(allowed)}.")
  return getattr(jax.checkpoint_policies, name)


class NestedLayerNorm(nn.Module):
  """Full-D LayerNorm of each group, returning only its first d channels."""
  width: int

  @nn.compact
  def __call__(self, groups: Sequence[Group]):
    scale = self.param("scale", nn.initializers.ones, (self.width,))
    bias = self.param("bias", nn.initializers.zeros, (self.width,))
    ys = []
    for g in groups:
      d = g.h.shape[-1]
      h = g.h.astype(jnp.float32)
      mean = (jnp.sum(h, -1, keepdims=True) + g.tail_sum) / self.width
      msq = (jnp.sum(h * h, -1, keepdims=True) + g.tail_sumsq) / self.width
      var = jnp.maximum(0.0, msq - mean * mean)
      y = (h - mean) * jax.lax.rsqrt(var + _LN_EPS)
      ys.append((y * scale[:d] + bias[:d]).astype(g.h.dtype))
    return ys


class NestedAttention(nn.Module):
  """Multi-head self-attention over all groups, nested in the model dim.

  Group j's Q/K/V read its d_j input channels with the first d_j rows of the
  kernels; scores and the weighted sum run at full width among all tokens;
  the output projection writes only the first d_j channels.
  `attention_dropout` drops attention weights (Scenic's
  `attention_dropout_rate`). Given the "inference" variables of
  `inference.prepare_inference`, it runs the inference path.
  """
  width: int
  num_heads: int
  dtype_mm: str = "float32"
  attention_dropout: float = 0.0

  @nn.compact
  def __call__(self, ys: Sequence[Array], deterministic=True):
    d_model, nh = self.width, self.num_heads
    if d_model % nh:
      raise ValueError(f"width={d_model} is not divisible by "
                       f"num_heads={nh}.")
    hd = d_model // nh
    dt = jnp.dtype(self.dtype_mm)
    dropout = nn.Dropout(rate=self.attention_dropout)
    if self.has_variable("inference", inference.QKV_BIAS):
      return self._per_query_group(ys, dt, dropout, deterministic)
    qkv = [_Params((d_model, nh, hd), (nh, hd), name=n)() for n in
           ("query", "key", "value")]
    wo, bo = _Params((nh, hd, d_model), (d_model,), in_ndim=2, name="out")()

    def proj(y, w, b):
      # Heads-major [B, H, n, hd] outputs: the attention einsums then need
      # no transposes, which on CPU cost more than the scores themselves.
      d = y.shape[-1]
      return (jnp.einsum("bnd,dhk->bhnk", y.astype(dt), w[:d].astype(dt))
              + b[:, None, :])

    q, k, v = (jnp.concatenate([proj(y, w, b) for y in ys], axis=2)
               for w, b in qkv)
    logits = jnp.einsum("bhqk,bhsk->bhqs", q / np.sqrt(hd).astype(dt), k)
    w = jax.nn.softmax(logits.astype(jnp.float32), axis=-1).astype(dt)
    w = dropout(w, deterministic)
    a = jnp.einsum("bhqs,bhsk->bhqk", w, v)
    outs, start = [], 0
    for y in ys:
      n, d = y.shape[-2:]
      outs.append(jnp.einsum("bhqk,hkd->bqd", a[:, :, start:start + n],
                             wo[..., :d].astype(dt)) + bo[:d])
      start += n
    return outs

  def _per_query_group(self, ys, dt, dropout, deterministic):
    """The inference path: pre-sliced fused kernels, attention per group."""
    get = functools.partial(self.get_variable, "inference")
    sliced = lambda base, d: get(inference.expert_key(base, d))
    bias = get(inference.QKV_BIAS)[:, None, :, None, :]
    # One projection per group: [3, B, H, n, hd], 1/sqrt(hd) already in q.
    qkv = [jnp.einsum("bnd,thkd->tbhnk", y.astype(dt), sliced(
        inference.QKV_KERNEL, y.shape[-1]).astype(dt)) + bias for y in ys]
    # Keys and values of all tokens; queries stay in their groups.
    k = jnp.concatenate([t[1] for t in qkv], axis=2)
    v = jnp.concatenate([t[2] for t in qkv], axis=2)
    outs = []
    for y, t in zip(ys, qkv):
      d = y.shape[-1]
      logits = jnp.einsum("bhqk,bhsk->bhqs", t[0], k)
      w = jax.nn.softmax(logits.astype(jnp.float32), axis=-1).astype(dt)
      a = jnp.einsum("bhqs,bhsk->bhqk", dropout(w, deterministic), v)
      outs.append(jnp.einsum("bhqk,hkd->bqd", a,
                             sliced(inference.OUT_KERNEL, d).astype(dt))
                  + sliced(inference.OUT_BIAS, d))
    return outs


class NestedMlpBlock(nn.Module):
  """Transformer MLP whose in/out projections are nested in the model dim."""
  width: int
  mlp_dim: Optional[int] = None  # Defaults to 4x width.
  dropout: float = 0.0
  dtype_mm: str = "float32"

  @nn.compact
  def __call__(self, ys: Sequence[Array], deterministic=True):
    hidden = self.mlp_dim or 4 * self.width
    dt = jnp.dtype(self.dtype_mm)
    if self.has_variable("inference", inference.MLP_IN_BIAS):
      # Inference path: kernels pre-sliced by `inference.prepare_inference`.
      get = functools.partial(self.get_variable, "inference")
      w0 = lambda d: get(inference.expert_key(inference.MLP_IN_KERNEL, d))
      b0 = get(inference.MLP_IN_BIAS)
      w1 = lambda d: get(inference.expert_key(inference.MLP_OUT_KERNEL, d))
      b1 = lambda d: get(inference.expert_key(inference.MLP_OUT_BIAS, d))
    else:
      inits = dict(kernel_init=nn.initializers.xavier_uniform(),
                   bias_init=nn.initializers.normal(stddev=1e-6))
      k0, b0 = _Params((self.width, hidden), (hidden,), name="Dense_0",
                       **inits)()
      k1, b1_full = _Params((hidden, self.width), (self.width,),
                            name="Dense_1", **inits)()
      w0, w1 = lambda d: k0[:d], lambda d: k1[:, :d]
      b1 = lambda d: b1_full[:d]
    outs = []
    for y in ys:
      d = y.shape[-1]
      z = jnp.dot(y.astype(dt), w0(d).astype(dt)) + b0
      z = nn.gelu(z)
      z = nn.Dropout(rate=self.dropout)(z, deterministic)
      outs.append(jnp.dot(z, w1(d).astype(dt)) + b1(d))
    return outs


class MoneEncoderBlock(nn.Module):
  """Pre-LN transformer block on expert groups (names as in ViT checkpoints).

  z = x + SA_j(LN(x)); x' = z + (alpha r_j + 1) MLP_j(LN(z)).

  `droplayer` (a call argument: the rate of this layer, or None) is stochastic
  depth: in training each branch is dropped per example, for all of its
  tokens whatever their expert, independently for attention and MLP (as
  Scenic's ViT and ViViT do); `droplayer_rescale` divides kept branches by
  1 - rate (Scenic ViT's `stochastic_depth`; ViViT's does not rescale).
  """
  width: int
  mlp_dim: Optional[int] = None
  num_heads: int = 12
  dropout: float = 0.0
  dtype_mm: str = "float32"
  attention_dropout: float = 0.0
  droplayer_rescale: bool = False

  def _keep(self, groups, deterministic, droplayer):
    """Per-example keep factor [B, 1, 1] of one branch (None: keep all)."""
    if deterministic or droplayer is None:
      return None
    b = groups[0].h.shape[0]
    drop = jax.random.bernoulli(self.make_rng("dropout"), droplayer, (b, 1, 1))
    keep = 1.0 - drop.astype(jnp.float32)
    return keep / (1.0 - droplayer) if self.droplayer_rescale else keep

  @nn.compact
  def __call__(self, groups: Sequence[Group], deterministic=True,
               droplayer=None):
    drop = nn.Dropout(rate=self.dropout)

    def branch(y, keep):
      y = drop(y, deterministic)
      return y if keep is None else y * keep.astype(y.dtype)

    ys = NestedLayerNorm(self.width, name="LayerNorm_0")(groups)
    ys = NestedAttention(self.width, self.num_heads, self.dtype_mm,
                         self.attention_dropout,
                         name="MultiHeadDotProductAttention_0")(
                             ys, deterministic)
    keep = self._keep(groups, deterministic, droplayer)
    groups = [g._replace(h=g.h + branch(y, keep).astype(g.h.dtype))
              for g, y in zip(groups, ys)]
    ys = NestedLayerNorm(self.width, name="LayerNorm_1")(groups)
    ys = NestedMlpBlock(self.width, self.mlp_dim, self.dropout, self.dtype_mm,
                        name="MlpBlock_0")(
                            ys, deterministic)
    out, keep = [], self._keep(groups, deterministic, droplayer)
    for g, y in zip(groups, ys):
      y = branch(y, keep)
      if g.mlp_scale is not None:
        y = y * g.mlp_scale
      out.append(g._replace(h=g.h + y.astype(g.h.dtype)))
    # (carry, per-layer output) as nn.scan wants: the groups' new channels,
    # from which the encoder builds Big Vision's per-block "+mlp".
    return out, tuple(g.h for g in out)


def _groups_from_tokens(x, sizes, dims, scales=None):
  """Splits expert-sorted tokens [B, N, D] into narrow groups."""
  groups, start = [], 0
  for j, (n, d) in enumerate(zip(sizes, dims)):
    if n == 0:
      continue
    xj = x[:, start:start + n]
    tail = xj[..., d:].astype(jnp.float32)
    groups.append((j, Group(
        h=xj[..., :d],
        tail_sum=jnp.sum(tail, -1, keepdims=True),
        tail_sumsq=jnp.sum(tail * tail, -1, keepdims=True),
        mlp_scale=None if scales is None else scales[:, start:start + n])))
    start += n
  return groups


class MoneEncoder(nn.Module):
  """Transformer encoder with a MoNE router and Expert Preferred Routing.

  With `capacities=None` it is the plain dense ViT encoder (same parameters).
  Otherwise one router at the input picks an expert for every token (reused by
  all layers); the first `num_prefix_tokens` tokens (e.g. a class token) are
  never routed and always take the full expert.

  Stochastic depth: layer l drops each branch with rate
  `droplayer_rate * l / (depth - 1)` (linear from 0, as Scenic and timm).
  """
  depth: int
  mlp_dim: Optional[int] = None
  num_heads: int = 12
  dropout: float = 0.0
  num_experts: int = 4
  router_type: str = "learned"
  router_noise: float = 0.0  # See `router.Router.noise`.
  scan: bool = False  # One compiled layer body: much faster compiles.
  remat_policy: str = "nothing_saveable"
  dtype_mm: str = "float32"
  attention_dropout: float = 0.0
  droplayer_rate: float = 0.0
  droplayer_rescale: bool = False

  @staticmethod
  def _full_width(ids, state, xs, dims, inverse):
    """The residual stream [B, N, D] of expert groups, in input token order.

    Channels [d, D) of a group are untouched: they are the input's.
    """
    full, start = [], 0
    for j, g in zip(ids, state):
      nj = g.h.shape[1]
      full.append(jnp.concatenate(
          [g.h, xs[:, start:start + nj, dims[j]:].astype(g.h.dtype)], -1))
      start += nj
    x = jnp.concatenate(full, axis=1)
    if inverse is not None:
      # Undo the permutation: prefix tokens first, then original order.
      n = inverse.shape[1]
      routed = jnp.take_along_axis(x[:, :n], inverse[..., None], axis=1)
      x = jnp.concatenate([x[:, n:], routed], axis=1)
    return x

  def droplayer_rates(self):
    """Per-layer stochastic-depth rates, or None when it is off."""
    if not 0.0 <= self.droplayer_rate < 1.0:
      raise ValueError(f"droplayer_rate={self.droplayer_rate} is not "
                       "allowed; allowed: 0 <= rate < 1.")
    if not self.droplayer_rate:
      return None
    return [self.droplayer_rate * lyr / max(self.depth - 1, 1)
            for lyr in range(self.depth)]

  @nn.compact
  def __call__(self, x, *, capacities=None, deterministic=True,
               num_prefix_tokens=0):
    out = {}
    b, n_all, width = x.shape
    dims = capacity.expert_dims(width, self.num_experts)
    p = num_prefix_tokens
    prefix, tokens = x[:, :p], x[:, p:]
    n = tokens.shape[1]
    probs = router.Router(self.num_experts, self.router_type,
                          self.router_noise, name="router")(tokens)
    # Learnable MLP-branch scale in [0, 1), initialised to 0 (the paper).
    alpha = router.effective_alpha(
        self.param("alpha", nn.initializers.zeros, ()))

    if capacities is None:  # Dense ViT: one full-width group, no routing.
      sizes, scales, inverse = (0,) * (self.num_experts - 1) + (n_all,), None, None
      xs = x
    else:
      if len(capacities) != self.num_experts:
        raise ValueError(f"capacities={tuple(capacities)} must have "
                         f"num_experts={self.num_experts} entries.")
      ks = capacity.tokens_per_expert(capacities, n)
      experts = routing.expert_preferred_routing(probs, capacities)
      perm, inverse = routing.expert_sort_permutation(experts)
      out["experts"], out["router_probs"] = experts, probs
      # The single permutation of the forward pass: tokens in expert order.
      xs = jnp.take_along_axis(tokens, perm[..., None], axis=1)
      r = jnp.take_along_axis(probs, experts[..., None], axis=-1)
      r = jnp.take_along_axis(r, perm[..., None], axis=1)
      scales = alpha * r + 1.0
      # Prefix tokens join the largest expert's group (scale 1: not routed).
      xs = jnp.concatenate([xs, prefix], axis=1)
      scales = jnp.concatenate(
          [scales, jnp.ones((b, p, 1), scales.dtype)], axis=1)
      sizes = ks[:-1] + (ks[-1] + p,)

    groups = _groups_from_tokens(xs, sizes, dims, scales)
    ids, state = [j for j, _ in groups], [g for _, g in groups]
    block_kw = dict(width=width, mlp_dim=self.mlp_dim,
                    num_heads=self.num_heads, dropout=self.dropout,
                    dtype_mm=self.dtype_mm,
                    attention_dropout=self.attention_dropout,
                    droplayer_rescale=self.droplayer_rescale)
    rates = self.droplayer_rates()
    if self.scan:
      # Same layout as Big Vision's scanned ViT: params stacked on axis 0 of
      # a single "encoderblock".
      block = nn.remat(
          MoneEncoderBlock, prevent_cse=False, static_argnums=(2,),
          policy=remat_policy(self.remat_policy))
      state, hs = nn.scan(
          block, variable_axes={"params": 0, "inference": 0},
          split_rngs={"params": True, "dropout": True},
          in_axes=(nn.broadcast, nn.broadcast if rates is None else 0),
          length=self.depth)(name="encoderblock", **block_kw)(
              state, deterministic,
              None if rates is None else jnp.asarray(rates, jnp.float32))
      # Big Vision's scanned ViT gives every block's output too (no pre_ln).
      # Unused, XLA drops them from the loop.
      for lyr in range(self.depth):
        layer = [g._replace(h=h[lyr]) for g, h in zip(state, hs)]
        out[f"block{lyr:02d}"] = {"+mlp": self._full_width(
            ids, layer, xs, dims, inverse)}
    else:
      for lyr in range(self.depth):
        state, _ = MoneEncoderBlock(name=f"encoderblock_{lyr}", **block_kw)(
            state, deterministic, None if rates is None else rates[lyr])
        # Big Vision's per-block output ("+mlp": the residual stream after
        # the block), in the input's token order. Unused, XLA drops it.
        out[f"block{lyr:02d}"] = {"+mlp": self._full_width(
            ids, state, xs, dims, inverse)}
      out["pre_ln"] = out[f"block{self.depth - 1:02d}"]["+mlp"]

    x = nn.LayerNorm(name="encoder_norm")(
        self._full_width(ids, state, xs, dims, inverse))
    return x, out
