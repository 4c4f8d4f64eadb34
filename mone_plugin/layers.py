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
"""

from typing import Any, NamedTuple, Optional, Sequence, Tuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from mone_plugin import capacity as capacity_lib
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
  """
  width: int
  num_heads: int
  dtype_mm: str = "float32"

  @nn.compact
  def __call__(self, ys: Sequence[Array]):
    d_model, nh = self.width, self.num_heads
    if d_model % nh:
      raise ValueError(f"width={d_model} is not divisible by "
                       f"num_heads={nh}.")
    hd = d_model // nh
    qkv = [_Params((d_model, nh, hd), (nh, hd), name=n)() for n in
           ("query", "key", "value")]
    wo, bo = _Params((nh, hd, d_model), (d_model,), in_ndim=2, name="out")()
    dt = jnp.dtype(self.dtype_mm)

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
    a = jnp.einsum("bhqs,bhsk->bhqk", w, v)
    outs, start = [], 0
    for y in ys:
      n, d = y.shape[-2:]
      outs.append(jnp.einsum("bhqk,hkd->bqd", a[:, :, start:start + n],
                             wo[..., :d].astype(dt)) + bo[:d])
      start += n
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
    inits = dict(kernel_init=nn.initializers.xavier_uniform(),
                 bias_init=nn.initializers.normal(stddev=1e-6))
    w0, b0 = _Params((self.width, hidden), (hidden,), name="Dense_0", **inits)()
    w1, b1 = _Params((hidden, self.width), (self.width,), name="Dense_1",
                     **inits)()
    dt = jnp.dtype(self.dtype_mm)
    outs = []
    for y in ys:
      d = y.shape[-1]
      z = jnp.dot(y.astype(dt), w0[:d].astype(dt)) + b0
      z = nn.gelu(z)
      z = nn.Dropout(rate=self.dropout)(z, deterministic)
      outs.append(jnp.dot(z, w1[:, :d].astype(dt)) + b1[:d])
    return outs


class MoneEncoderBlock(nn.Module):
  """Pre-LN transformer block on expert groups (names as in ViT checkpoints).

  z = x + SA_j(LN(x)); x' = z + (alpha r_j + 1) MLP_j(LN(z)).
  """
  width: int
  mlp_dim: Optional[int] = None
  num_heads: int = 12
  dropout: float = 0.0
  dtype_mm: str = "float32"

  @nn.compact
  def __call__(self, groups: Sequence[Group], deterministic=True):
    drop = nn.Dropout(rate=self.dropout)
    ys = NestedLayerNorm(self.width, name="LayerNorm_0")(groups)
    ys = NestedAttention(self.width, self.num_heads, self.dtype_mm,
                         name="MultiHeadDotProductAttention_0")(ys)
    groups = [g._replace(h=g.h + drop(y, deterministic).astype(g.h.dtype))
              for g, y in zip(groups, ys)]
    ys = NestedLayerNorm(self.width, name="LayerNorm_1")(groups)
    ys = NestedMlpBlock(self.width, self.mlp_dim, self.dropout, self.dtype_mm,
                        name="MlpBlock_0")(ys, deterministic)
    out = []
    for g, y in zip(groups, ys):
      y = drop(y, deterministic)
      if g.mlp_scale is not None:
        y = y * g.mlp_scale
      out.append(g._replace(h=g.h + y.astype(g.h.dtype)))
    return out, None  # (carry, per-layer output) as nn.scan wants.


class Router(nn.Module):
  """Per-token softmax over the experts: r = softmax(W_r x + b_r)."""
  num_experts: int
  router_type: str = "learned"  # Or "random" (an ablation of the paper).

  @nn.compact
  def __call__(self, x):
    w = self.param("kernel", nn.initializers.lecun_normal(),
                   (x.shape[-1], self.num_experts))
    b = self.param("bias", nn.initializers.zeros, (self.num_experts,))
    logits = jnp.dot(x, w) + b
    if self.router_type == "random":
      # Random scores, fresh per call when a "router" rng is given.
      key = (self.make_rng("router") if self.has_rng("router")
             else jax.random.PRNGKey(0))
      logits = jax.random.normal(key, logits.shape) + 0 * logits
    elif self.router_type != "learned":
      raise ValueError(f"router_type={self.router_type!r} is unknown; "
                       "allowed: 'learned', 'random'.")
    return jax.nn.softmax(logits.astype(jnp.float32), axis=-1)


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
  """
  depth: int
  mlp_dim: Optional[int] = None
  num_heads: int = 12
  dropout: float = 0.0
  num_experts: int = 4
  router_type: str = "learned"
  scan: bool = False  # One compiled layer body: much faster compiles.
  remat_policy: str = "nothing_saveable"
  dtype_mm: str = "float32"

  @nn.compact
  def __call__(self, x, *, capacities=None, deterministic=True,
               num_prefix_tokens=0):
    out = {}
    b, n_all, width = x.shape
    dims = capacity_lib.expert_dims(width, self.num_experts)
    p = num_prefix_tokens
    prefix, tokens = x[:, :p], x[:, p:]
    n = tokens.shape[1]
    probs = Router(self.num_experts, self.router_type, name="router")(tokens)
    # Learnable MLP-branch scale, used clipped to [0, 1) [choice: clip]. The
    # clip is straight-through: alpha starts at the boundary 0, where a plain
    # clip would halve its gradient, and it must be able to come back.
    alpha = self.param("alpha", nn.initializers.zeros, ())
    alpha = alpha + jax.lax.stop_gradient(
        jnp.clip(alpha, 0.0, 1.0 - 1e-6) - alpha)

    if capacities is None:  # Dense ViT: one full-width group, no routing.
      sizes, scales, inverse = (0,) * (self.num_experts - 1) + (n_all,), None, None
      xs = x
    else:
      if len(capacities) != self.num_experts:
        raise ValueError(f"capacities={tuple(capacities)} must have "
                         f"num_experts={self.num_experts} entries.")
      ks = capacity_lib.tokens_per_expert(capacities, n)
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
                    dtype_mm=self.dtype_mm)
    if self.scan:
      # Same layout as Big Vision's scanned ViT: params stacked on axis 0 of
      # a single "encoderblock".
      block = nn.remat(
          MoneEncoderBlock, prevent_cse=False, static_argnums=(2,),
          policy=getattr(jax.checkpoint_policies, self.remat_policy, None))
      state, _ = nn.scan(
          block, variable_axes={"params": 0},
          split_rngs={"params": True, "dropout": True},
          in_axes=nn.broadcast, length=self.depth)(
              name="encoderblock", **block_kw)(state, deterministic)
    else:
      for lyr in range(self.depth):
        state, _ = MoneEncoderBlock(name=f"encoderblock_{lyr}", **block_kw)(
            state, deterministic)

    # Back to full width: untouched channels [d, D) are the input's.
    full, start = [], 0
    for j, g in zip(ids, state):
      nj = g.h.shape[1]
      full.append(jnp.concatenate(
          [g.h, xs[:, start:start + nj, dims[j]:].astype(g.h.dtype)], -1))
      start += nj
    x = jnp.concatenate(full, axis=1)
    x = nn.LayerNorm(name="encoder_norm")(x)
    if inverse is not None:
      # Undo the permutation once: prefix tokens first, then original order.
      routed = jnp.take_along_axis(x[:, :n], inverse[..., None], axis=1)
      x = jnp.concatenate([x[:, n:], routed], axis=1)
    return x, out
