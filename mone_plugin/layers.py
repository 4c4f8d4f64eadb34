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
from mone_plugin.kernels import nested_matmul

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


def _one_expert_layouts(ys):
  """The layouts of groups that each hold one expert (no merging)."""
  return tuple(((y.shape[-2], y.shape[-1]),) for y in ys)


def _width_mask(layout, width):
  """[n, width] 1 where a channel exists for its token's expert, else 0.

  None for a group of one expert (every channel exists).
  """
  if len(layout) < 2:
    return None
  return np.concatenate([np.broadcast_to(np.arange(width) < d, (n, width))
                         for n, d in layout]).astype(np.float32)


def _masked(y, layout):
  """y [..., n, d] with each token's channels past its expert's width zero."""
  mask = _width_mask(layout, y.shape[-1])
  return y if mask is None else y * mask.astype(y.dtype)


def _nested_matmul(y, w, b, layout, nesting):
  """One Pallas launch for the experts of a group (`kernels.nested_matmul`)."""
  return nested_matmul.nested_matmul(
      y, w.astype(y.dtype), b, group_sizes=[n for n, _ in layout],
      group_widths=[d for _, d in layout], nesting=nesting)


class NestedLayerNorm(nn.Module):
  """Full-D LayerNorm of each group, returning only its first d channels.

  With `layouts` (one per group, see `MoneEncoder`), each token's channels
  past its own expert's width are zero: a merged group's in-projections then
  read only the channels of each token's expert.
  """
  width: int
  layouts: Optional[Tuple[Any, ...]] = None

  @nn.compact
  def __call__(self, groups: Sequence[Group]):
    scale = self.param("scale", nn.initializers.ones, (self.width,))
    bias = self.param("bias", nn.initializers.zeros, (self.width,))
    ys = []
    for i, g in enumerate(groups):
      d = g.h.shape[-1]
      h = g.h.astype(jnp.float32)
      mean = (jnp.sum(h, -1, keepdims=True) + g.tail_sum) / self.width
      msq = (jnp.sum(h * h, -1, keepdims=True) + g.tail_sumsq) / self.width
      var = jnp.maximum(0.0, msq - mean * mean)
      y = (h - mean) * jax.lax.rsqrt(var + _LN_EPS) * scale[:d] + bias[:d]
      if self.layouts:
        y = _masked(y, self.layouts[i])
      ys.append(y.astype(g.h.dtype))
    return ys


class NestedAttention(nn.Module):
  """Multi-head self-attention over all groups, nested in the model dim.

  Group j's Q/K/V read its d_j input channels with the first d_j rows of the
  kernels; scores and the weighted sum run at full width among all tokens;
  the output projection writes only the first d_j channels.
  `attention_dropout` drops attention weights (Scenic's
  `attention_dropout_rate`). Given the "inference" variables of
  `inference.prepare_inference`, it runs the inference path (pre-sliced
  kernels, Q/K/V fused, 1/sqrt(hd) folded into the query).

  `kernel`, `attention_impl` and `fuse_qkv` are implementation choices
  (`inference.default_choices`); `layouts` gives the experts each group
  holds (see `MoneEncoder`; None: one expert per group).
  """
  width: int
  num_heads: int
  dtype_mm: str = "float32"
  attention_dropout: float = 0.0
  kernel: str = "xla"
  attention_impl: str = "all_tokens"
  fuse_qkv: bool = False
  layouts: Optional[Tuple[Any, ...]] = None

  def _kernels(self, hd):
    """Kernels of both paths: (qkv(d), its einsum spec, the qkv bias
    [3, H, hd], out(d) [H, hd, d], out_bias(d) [d], whether q still needs
    1/sqrt(hd)). qkv(d) is [3, H, hd, d] ("thkd": the inference path),
    [3, d, H, hd] ("tdhk") or a list of three [d, H, hd]."""
    if self.has_variable("inference", inference.QKV_BIAS):
      get = functools.partial(self.get_variable, "inference")
      sliced = lambda base, d: get(inference.expert_key(base, d))
      # Stored input-last [3, H, hd, d]: read in place by the XLA einsums.
      return (lambda d: sliced(inference.QKV_KERNEL, d), "thkd",
              get(inference.QKV_BIAS),
              lambda d: sliced(inference.OUT_KERNEL, d),
              lambda d: sliced(inference.OUT_BIAS, d), False)
    d_model, nh = self.width, self.num_heads
    qkv = [_Params((d_model, nh, hd), (nh, hd), name=n)() for n in
           ("query", "key", "value")]
    wo, bo = _Params((nh, hd, d_model), (d_model,), in_ndim=2, name="out")()
    if self.fuse_qkv or self.kernel == "pallas":
      stacked = jnp.stack([w for w, _ in qkv])
      w_qkv = lambda d: stacked[:, :d]
    else:  # Three separate products: no stacked copy of the kernels.
      w_qkv = lambda d: [w[:d] for w, _ in qkv]
    return (w_qkv, "tdhk", jnp.stack([b for _, b in qkv]),
            lambda d: wo[..., :d], lambda d: bo[:d], True)

  @nn.compact
  def __call__(self, ys: Sequence[Array], deterministic=True):
    d_model, nh = self.width, self.num_heads
    if d_model % nh:
      raise ValueError(f"width={d_model} is not divisible by "
                       f"num_heads={nh}.")
    hd = d_model // nh
    dt = jnp.dtype(self.dtype_mm)
    dropout = nn.Dropout(rate=self.attention_dropout)
    layouts = self.layouts or _one_expert_layouts(ys)
    impl = self.attention_impl
    if (impl == "dot_product_attention" and self.attention_dropout
        and not deterministic):  # It has no dropout of its weights.
      impl = "all_tokens"
    # Heads-major [B, H, n, hd] for the einsums: they then need no
    # transposes, which on CPU cost more than the scores themselves.
    # jax.nn.dot_product_attention takes [B, n, H, hd].
    heads = "bhnk" if impl != "dot_product_attention" else "bnhk"
    w_qkv, w_spec, b_qkv, w_out, b_out, scale_q = self._kernels(hd)
    b_heads = b_qkv[:, :, None] if heads == "bhnk" else b_qkv[:, None]

    def project(y, layout):
      """[q, k, v] of one group, each [B, H, n, hd] or [B, n, H, hd]."""
      d, y = y.shape[-1], y.astype(dt)
      if self.kernel == "pallas":
        w = w_qkv(d)
        w = (jnp.moveaxis(w, -1, 0) if w_spec == "thkd" else
             jnp.moveaxis(w, 1, 0)).reshape(d, 3 * nh * hd)
        t = _nested_matmul(y, w, b_qkv.reshape(-1), layout, "contraction")
        t = t.reshape(*t.shape[:-1], 3, nh, hd)
        t = [t[..., i, :, :] for i in range(3)]
        return [jnp.swapaxes(a, 1, 2) for a in t] if heads == "bhnk" else t
      w = w_qkv(d)
      if self.fuse_qkv:  # One product for Q, K and V: [3, B, ...].
        t = jnp.einsum(f"bnd,{w_spec}->t{heads}", y, w.astype(dt))
        return list(t + b_heads[:, None])
      if not isinstance(w, list):
        w = [w[i] for i in range(3)]
      return [jnp.einsum(f"bnd,{w_spec[1:]}->{heads}", y, wi.astype(dt)) + bi
              for wi, bi in zip(w, b_heads)]

    qs, ks, vs = zip(*(project(y, lay) for y, lay in zip(ys, layouts)))
    if scale_q:
      qs = [q / np.sqrt(hd).astype(dt) for q in qs]
    axis = heads.index("n")
    k, v = (jnp.concatenate(t, axis) if len(t) > 1 else t[0]
            for t in (ks, vs))

    def attend(q):
      if impl == "dot_product_attention":
        return jax.nn.dot_product_attention(q, k, v, scale=1.0)
      logits = jnp.einsum("bhqk,bhsk->bhqs", q, k)
      w = jax.nn.softmax(logits.astype(jnp.float32), axis=-1).astype(dt)
      return jnp.einsum("bhqs,bhsk->bhqk", dropout(w, deterministic), v)

    if impl == "per_query_group":
      attended = [attend(q) for q in qs]
    else:  # One call over the queries of all groups.
      a = attend(jnp.concatenate(qs, axis) if len(qs) > 1 else qs[0])
      attended, start = [], 0
      for q in qs:
        n = q.shape[axis]
        attended.append(jax.lax.slice_in_dim(a, start, start + n, axis=axis))
        start += n
    outs = []
    for y, a, layout in zip(ys, attended, layouts):
      d = y.shape[-1]
      if self.kernel == "pallas":
        a = jnp.swapaxes(a, 1, 2) if heads == "bhnk" else a
        a = a.reshape(*a.shape[:2], nh * hd).astype(dt)
        outs.append(_nested_matmul(a, w_out(d).reshape(nh * hd, d),
                                   b_out(d), layout, "output"))
        continue
      y = jnp.einsum(f"{heads.replace('n', 'q')},hkd->bqd", a,
                     w_out(d).astype(dt)) + b_out(d)
      outs.append(_masked(y, layout))
    return outs


class NestedMlpBlock(nn.Module):
  """Transformer MLP whose in/out projections are nested in the model dim.

  `kernel` and `layouts` as in `NestedAttention`.
  """
  width: int
  mlp_dim: Optional[int] = None  # Defaults to 4x width.
  dropout: float = 0.0
  dtype_mm: str = "float32"
  kernel: str = "xla"
  layouts: Optional[Tuple[Any, ...]] = None

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
    layouts = self.layouts or _one_expert_layouts(ys)
    for y, layout in zip(ys, layouts):
      d, y = y.shape[-1], y.astype(dt)
      if self.kernel == "pallas":
        z = _nested_matmul(y, w0(d), b0, layout, "contraction")
      else:
        z = jnp.dot(y, w0(d).astype(dt)) + b0
      z = nn.gelu(z)
      z = nn.Dropout(rate=self.dropout)(z, deterministic)
      if self.kernel == "pallas":
        outs.append(_nested_matmul(z.astype(dt), w1(d), b1(d), layout,
                                   "output"))
      else:
        outs.append(_masked(jnp.dot(z, w1(d).astype(dt)) + b1(d), layout))
    return outs


class MoneEncoderBlock(nn.Module):
  """Pre-LN transformer block on expert groups (names as in ViT checkpoints).

  z = x + SA_j(LN(x)); x' = z + (alpha r_j + 1) MLP_j(LN(z)).

  `droplayer` (a call argument: the rate of this layer, or None) is stochastic
  depth: in training each branch is dropped per example, for all of its
  tokens whatever their expert, independently for attention and MLP (as
  Scenic's ViT and ViViT do); `droplayer_rescale` divides kept branches by
  1 - rate (Scenic ViT's `stochastic_depth`; ViViT's does not rescale).
  `kernel`, `attention_impl`, `fuse_qkv` and `layouts`: see `MoneEncoder`.
  """
  width: int
  mlp_dim: Optional[int] = None
  num_heads: int = 12
  dropout: float = 0.0
  dtype_mm: str = "float32"
  attention_dropout: float = 0.0
  droplayer_rescale: bool = False
  kernel: str = "xla"
  attention_impl: str = "all_tokens"
  fuse_qkv: bool = False
  layouts: Optional[Tuple[Any, ...]] = None

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

    # The Pallas kernel masks each token's channels itself.
    ln_layouts = self.layouts if self.kernel == "xla" else None
    ys = NestedLayerNorm(self.width, ln_layouts, name="LayerNorm_0")(groups)
    ys = NestedAttention(self.width, self.num_heads, self.dtype_mm,
                         self.attention_dropout, self.kernel,
                         self.attention_impl, self.fuse_qkv, self.layouts,
                         name="MultiHeadDotProductAttention_0")(
                             ys, deterministic)
    keep = self._keep(groups, deterministic, droplayer)
    groups = [g._replace(h=g.h + branch(y, keep).astype(g.h.dtype))
              for g, y in zip(groups, ys)]
    ys = NestedLayerNorm(self.width, ln_layouts, name="LayerNorm_1")(groups)
    ys = NestedMlpBlock(self.width, self.mlp_dim, self.dropout, self.dtype_mm,
                        self.kernel, self.layouts, name="MlpBlock_0")(
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


def group_layouts(sizes, dims, batch, merge_small_groups=0, kernel="xla"):
  """Which experts each computed group holds: static layouts.

  Args:
    sizes: tokens per expert in each example (empty experts are skipped).
    dims: the experts' model dimensions (ascending).
    batch: examples per call.
    merge_small_groups: an expert with fewer rows (batch x tokens) is
      computed with the next wider group, at its width: its extra input
      channels are zero and its extra output channels dropped, so the numbers
      are the same. Chained; 0 merges none.
    kernel: with "pallas" all experts are one group (the nested kernel runs
      them in one launch at full width).

  Returns:
    One ((tokens, width), ...) per group, narrowest first, its experts in
    order; the group's width is its last expert's.
  """
  experts = [(n, d) for n, d in zip(sizes, dims) if n]
  if kernel == "pallas":
    return (tuple(experts),)
  layouts = []
  for n, d in reversed(experts):
    if layouts and batch * n < merge_small_groups:
      layouts[0] = ((n, d),) + layouts[0]
    else:
      layouts.insert(0, ((n, d),))
  return tuple(layouts)


def _groups_from_tokens(x, layouts, scales=None):
  """Splits expert-sorted tokens [B, N, D] into groups of `layouts`."""
  groups, start = [], 0
  for layout in layouts:
    n, d = sum(n for n, _ in layout), layout[-1][1]
    xj = x[:, start:start + n]
    tail = xj[..., d:].astype(jnp.float32)
    groups.append(Group(
        h=xj[..., :d],
        tail_sum=jnp.sum(tail, -1, keepdims=True),
        tail_sumsq=jnp.sum(tail * tail, -1, keepdims=True),
        mlp_scale=None if scales is None else scales[:, start:start + n]))
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

  Implementation choices (the same numbers within float rounding, see
  `inference.py`): `kernel` "xla" or "pallas" (one `kernels.nested_matmul`
  launch per projection for all experts, over the full-width sorted stream;
  training uses its custom gradient); `attention_impl`, `fuse_qkv` and
  `merge_small_groups` (see `group_layouts`), None taking
  `inference.default_choices` for the backend, batch and path.
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
  kernel: str = "xla"
  attention_impl: Optional[str] = None
  fuse_qkv: Optional[bool] = None
  merge_small_groups: Optional[int] = None

  @staticmethod
  def _full_width(state, xs, inverse):
    """The residual stream [B, N, D] of expert groups, in input token order.

    Channels [d, D) of a group are untouched: they are the input's.
    """
    full, start = [], 0
    for g in state:
      nj, d = g.h.shape[1:]
      full.append(g.h if d == xs.shape[-1] else jnp.concatenate(
          [g.h, xs[:, start:start + nj, d:].astype(g.h.dtype)], -1))
      start += nj
    x = jnp.concatenate(full, axis=1) if len(full) > 1 else full[0]
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

  def choices(self, batch):
    """(attention_impl, fuse_qkv, merge_small_groups) of this call."""
    table = inference.default_choices(
        jax.default_backend(), batch,
        prepared="inference" in self.variables)
    impl = self.attention_impl or table["attention_impl"]
    fuse = table["fuse_qkv"] if self.fuse_qkv is None else self.fuse_qkv
    merge = (table["merge_small_groups"] if self.merge_small_groups is None
             else self.merge_small_groups)
    inference.check_choices(self.kernel, impl, merge)
    return impl, bool(fuse), merge

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

    impl, fuse, merge = self.choices(b)
    layouts = group_layouts(sizes, dims, b, merge, self.kernel)
    state = _groups_from_tokens(xs, layouts, scales)
    block_kw = dict(width=width, mlp_dim=self.mlp_dim,
                    num_heads=self.num_heads, dropout=self.dropout,
                    dtype_mm=self.dtype_mm,
                    attention_dropout=self.attention_dropout,
                    droplayer_rescale=self.droplayer_rescale,
                    kernel=self.kernel, attention_impl=impl, fuse_qkv=fuse,
                    layouts=layouts)
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
            layer, xs, inverse)}
    else:
      for lyr in range(self.depth):
        state, _ = MoneEncoderBlock(name=f"encoderblock_{lyr}", **block_kw)(
            state, deterministic, None if rates is None else rates[lyr])
        # Big Vision's per-block output ("+mlp": the residual stream after
        # the block), in the input's token order. Unused, XLA drops it.
        out[f"block{lyr:02d}"] = {"+mlp": self._full_width(
            state, xs, inverse)}
      out["pre_ln"] = out[f"block{self.depth - 1:02d}"]["+mlp"]

    x = nn.LayerNorm(name="encoder_norm")(
        self._full_width(state, xs, inverse))
    return x, out
