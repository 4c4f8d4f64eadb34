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
"""Nested grouped matmul: one Pallas kernel for all expert groups of MoNE.

Layout. `x` is [..., N, K]: every example (axis -2) holds its tokens in
expert-sorted order, `group_sizes[j]` tokens of expert j (static, the same in
every example, as Expert Preferred Routing fills each capacity exactly). The
leading axes are flattened into M = B * N rows, so one launch covers all
groups of all examples. A row tile may straddle groups and examples: the
kernel derives each row's width d_j from its position in its example
(row mod N), so groups need not be multiples of the row block and no group is
padded or copied.

Two nestings (docs/method.md §1):
  "contraction": y[r] = x[r, :d] @ w[:d] (+ b), full-width output: Q/K/V and
    the MLP's first Dense. A row tile loops over K blocks only up to its
    widest row; columns past a row's own width are masked to zero.
  "output": y[r, :d] = x[r] @ w[:, :d] (+ b[:d]) and y[r, d:] = 0: the
    attention out projection and the MLP's second Dense. The output is one
    full-width buffer, ready to add to a full-width residual stream (no
    per-group concatenate or pad); column tiles past a row tile's widest row
    only store zeros.

Tiling. Grid (M / block_m, N_out / block_n), both parallel; x's block holds
the whole contraction axis and the kernel loops over it in block_k chunks.
Group metadata is static Python (group starts and widths) unrolled into a
few scalar and vector selects: Triton has no scalar prefetch and Mosaic keeps
small int arrays in VMEM, where scalar reads are awkward; static tables lower
on both. On GPU the chunk loop is a `fori_loop` with a dynamic trip count
(Triton pipelines loads only inside loops); on TPU it is unrolled with static
lane offsets, each chunk under a `cond`, as Mosaic prefers static lane slices.
Rows are padded to a multiple of block_m when M is not one (padded rows have
width 0); N_out and K must be multiples of block_n and block_k, which the
defaults shrink to fit (powers of two: Triton's load/dot shapes must be).

Gradients (custom VJP) are nested matmuls too. For "contraction",
dx[r, :d] = dy[r] @ w[:d].T is an "output" product with w transposed; for
"output", dx[r] = dy[r, :d] @ w[:, :d].T is a "contraction" one. Both run the
same kernel, reading w transposed in place (no copy). dw is an XLA reduction,
one dot per group (x_j[:, :d_j].T @ dy_j into dw[:d_j], or the transpose):
it reduces over all M rows, which in a kernel needs either a sequential grid
axis (Triton runs the grid in parallel) or all rows resident (too large for
TPU VMEM); XLA's per-group dots do exactly the nested FLOPs.

Export. `jax.export` for one platform works from any host ("cuda" needs
`DisabledSafetyCheck.custom_call("__gpu$xla.gpu.triton")`: Triton calls have
no compatibility guarantee). Several platforms in one artifact do not:
`lax.platform_dependent` lowers every branch for every platform, and a
compiled pallas_call lowers for its own backend only.
"""

import functools
from typing import NamedTuple, Optional, Sequence, Tuple

import jax
from jax import lax
from jax.experimental import pallas as pl
from jax.experimental.pallas import tpu as pltpu
from jax.experimental.pallas import triton as pltriton
import jax.numpy as jnp
import numpy as np

NESTINGS = ("contraction", "output")

# Default (block_m, block_n, block_k) per backend. Triton: 64x128 output
# tiles with 32-wide chunks, a common good config for 4 warps and 3 stages.
# Mosaic: larger tiles for the 128x128 MXU; x and w blocks of 128x3072 and
# 3072x256 (the MLP out projection of B/16) fit double-buffered in 16 MiB of
# VMEM in float32. To be tuned by the device benchmark.
_BLOCKS = {"triton": (64, 128, 32), "mosaic": (128, 256, 256),
           "interpret": (64, 128, 32)}


class _Groups(NamedTuple):
  """Static group metadata of one example: non-empty groups only."""
  period: int  # N, tokens per example.
  starts: Tuple[int, ...]
  ends: Tuple[int, ...]
  widths: Tuple[int, ...]
  rows: int  # M, real rows (rows past it are padding, width 0).


def _make_groups(group_sizes, group_widths, period, rows, width_limit):
  sizes, widths = tuple(map(int, group_sizes)), tuple(map(int, group_widths))
  if len(sizes) != len(widths):
    raise ValueError(f"group_sizes={sizes} and group_widths={widths} must "
                     "have one entry per group.")
  if sum(sizes) != period or min(sizes) < 0:
    raise ValueError(f"group_sizes={sizes} must be >= 0 and sum to the "
                     f"tokens per example, x.shape[-2]={period}.")
  if any(not 0 < w <= width_limit for w, n in zip(widths, sizes) if n):
    raise ValueError(f"group_widths={widths} must be in (0, {width_limit}].")
  starts = np.cumsum((0,) + sizes[:-1])
  keep = [j for j, n in enumerate(sizes) if n]
  return _Groups(period, tuple(int(starts[j]) for j in keep),
                 tuple(int(starts[j] + sizes[j]) for j in keep),
                 tuple(widths[j] for j in keep), rows)


def _row_widths(g, start, shape):
  """Width of each row of the tile starting at row `start`, as `shape`."""
  bm = shape[0]
  rows = start + lax.broadcasted_iota(jnp.int32, shape, 0)
  pos = lax.rem(start, jnp.int32(g.period)) + lax.broadcasted_iota(
      jnp.int32, shape, 0)
  for _ in range(-(-bm // g.period)):  # Back into [0, N): bm < N + 1 wraps.
    pos = jnp.where(pos >= g.period, pos - g.period, pos)
  width = jnp.zeros(shape, jnp.int32)
  for s, d in zip(g.starts, g.widths):  # Starts ascend: later groups win.
    width = jnp.where(pos >= s, jnp.int32(d), width)
  return jnp.where(rows < g.rows, width, 0)


def _tile_width(g, start, bm):
  """Widest row of the tile starting at row `start` (a scalar, an upper bound).

  Scalar selects over the groups, no vector reduction: on TPU a vector value
  cannot steer a branch.
  """
  if bm >= g.period:  # The tile holds every position of an example.
    return jnp.int32(max(g.widths))
  a = lax.rem(start, jnp.int32(g.period))
  b = a + (bm - 1)
  wrapped = b >= g.period  # The tile runs into the next example.
  b_next = b - g.period
  width = jnp.int32(0)
  for s, e, d in zip(g.starts, g.ends, g.widths):
    hit = jnp.where(wrapped, (e > a) | (s <= b_next), (s <= b) & (e > a))
    width = jnp.maximum(width, jnp.where(hit, jnp.int32(d), 0))
  return width


def _kernel(*refs, g, nesting, transpose_w, has_bias, bm, bn, bk, kc, loop):
  """One [bm, bn] output tile; see the module docstring."""
  if has_bias:
    x_ref, w_ref, b_ref, o_ref = refs
  else:
    (x_ref, w_ref, o_ref), b_ref = refs, None
  start = pl.program_id(0) * bm
  col0 = pl.program_id(1) * bn
  tile_width = _tile_width(g, start, bm)

  def chunk(k0, acc, mask):
    xk = x_ref[:, pl.ds(k0, bk)]
    if mask:  # Columns past a row's width do not exist for that row.
      cols = k0 + lax.broadcasted_iota(jnp.int32, (bm, bk), 1)
      xk = jnp.where(cols < _row_widths(g, start, (bm, bk)), xk,
                     jnp.zeros_like(xk))
    if transpose_w:  # w is [N_out, K]: read it transposed, in place.
      wk = w_ref[:, pl.ds(k0, bk)]
      dims = (((1,), (1,)), ((), ()))
    else:
      wk = w_ref[pl.ds(k0, bk), :]
      dims = (((1,), (0,)), ((), ()))
    return acc + lax.dot_general(xk, wk, dims,
                                 preferred_element_type=jnp.float32)

  def contract(limit, mask):
    """x_tile @ w_tile over K chunks below `limit` (static or dynamic)."""
    acc = jnp.zeros((bm, bn), jnp.float32)
    if loop == "fori":
      num = kc // bk if isinstance(limit, int) else lax.div(
          limit + (bk - 1), jnp.int32(bk))
      return lax.fori_loop(
          0, num, lambda i, a: chunk(pl.multiple_of(i * bk, bk), a, mask),
          acc)
    for i in range(kc // bk):  # Static lane offsets (Mosaic).
      step = functools.partial(chunk, i * bk, mask=mask)
      if isinstance(limit, int):
        acc = step(acc)
      else:
        acc = lax.cond(i * bk < limit, step, lambda a: a, acc)
    return acc

  def add_bias(y):
    return y if b_ref is None else y + b_ref[...].astype(jnp.float32)

  if nesting == "contraction":
    y = add_bias(contract(tile_width, mask=True))
  else:
    def compute():
      y = add_bias(contract(kc, mask=False))
      cols = col0 + lax.broadcasted_iota(jnp.int32, (bm, bn), 1)
      return jnp.where(cols < _row_widths(g, start, (bm, bn)), y, 0.0)
    y = lax.cond(col0 < tile_width, compute,
                 lambda: jnp.zeros((bm, bn), jnp.float32))
  o_ref[...] = y.astype(o_ref.dtype)


def _fit(dim, block, name):
  """The largest power-of-two block <= `block` dividing `dim`, or `dim`."""
  if dim <= block:
    return dim
  b = block
  while dim % b:
    b //= 2
  if b < 8:
    raise ValueError(f"{name}: no power-of-two block >= 8 divides {dim}.")
  return b


def _pallas(x, w, b, *, g, nesting, transpose_w, blocks, mode, loop):
  """The pallas_call on 2-D x [M, K]; returns [M, N_out] in x.dtype."""
  m, kc = x.shape
  nc = w.shape[0] if transpose_w else w.shape[1]
  bm, bn, bk = (a or d for a, d in zip(blocks, _BLOCKS[mode]))
  bm = min(bm, max(8, pl.next_power_of_2(m)))
  bn, bk = _fit(nc, bn, "block_n"), _fit(kc, bk, "block_k")
  mp = -(-m // bm) * bm
  if mp != m:  # Padded rows have width 0: they cost nothing but a store.
    x = jnp.pad(x, ((0, mp - m), (0, 0)))
  if loop is None:
    loop = "unrolled" if mode == "mosaic" else "fori"
  kernel = functools.partial(
      _kernel, g=g, nesting=nesting, transpose_w=transpose_w,
      has_bias=b is not None, bm=bm, bn=bn, bk=bk, kc=kc, loop=loop)
  w_spec = (pl.BlockSpec((bn, kc), lambda i, j: (j, 0)) if transpose_w else
            pl.BlockSpec((kc, bn), lambda i, j: (0, j)))
  in_specs = [pl.BlockSpec((bm, kc), lambda i, j: (i, 0)), w_spec]
  args = [x, w]
  if b is not None:
    in_specs.append(pl.BlockSpec((1, bn), lambda i, j: (0, j)))
    args.append(b.reshape(1, nc))
  # The nested FLOPs (XLA schedules around custom calls by this estimate).
  examples = g.rows // g.period
  narrow = sum((e - s) * d for s, e, d in zip(g.starts, g.ends, g.widths))
  flops = 2 * examples * narrow * (nc if nesting == "contraction" else kc)
  params = {
      "triton": pltriton.CompilerParams(num_warps=4, num_stages=3),
      "mosaic": pltpu.CompilerParams(
          dimension_semantics=("parallel", "parallel")),
      "interpret": None}[mode]
  y = pl.pallas_call(
      kernel,
      out_shape=jax.ShapeDtypeStruct((mp, nc), x.dtype),
      grid=(mp // bm, nc // bn),
      in_specs=in_specs,
      out_specs=pl.BlockSpec((bm, bn), lambda i, j: (i, j)),
      compiler_params=params,
      interpret=mode == "interpret",
      cost_estimate=pl.CostEstimate(
          flops=flops, transcendentals=0,
          bytes_accessed=(x.size + w.size + mp * nc) * x.dtype.itemsize),
      name=f"nested_matmul_{nesting}",
  )(*args)
  return y[:m] if mp != m else y


def _dispatch(x, w, b, *, interpret, **kw):
  """Runs `_pallas` in the mode of the platform it is lowered for."""
  if interpret:
    return _pallas(x, w, b, mode="interpret", **kw)
  args = (x, w) if b is None else (x, w, b)

  def run(mode):
    def f(x, w, b=None):
      return _pallas(x, w, b, mode=mode, **kw)
    return f
  branches = dict(cuda=run("triton"), rocm=run("triton"), tpu=run("mosaic"))
  if interpret is None:
    branches["cpu"] = run("interpret")
  # Decided per lowering platform, not by the default backend: exporting for
  # "cuda" or "tpu" from a CPU host gets the compiled kernel.
  return lax.platform_dependent(*args, **branches)


class _Config(NamedTuple):
  g: _Groups
  nesting: str
  blocks: Tuple[Optional[int], Optional[int], Optional[int]]
  interpret: Optional[bool]
  loop: Optional[str]


def _per_group(cfg, x, dy, out_dtype):
  """dw of the nested product: one XLA dot per group (see module doc)."""
  g, n = cfg.g, cfg.g.period
  x3 = x.reshape(-1, n, x.shape[-1])
  dy3 = dy.reshape(-1, n, dy.shape[-1])
  k, nc = x.shape[-1], dy.shape[-1]
  contraction = cfg.nesting == "contraction"
  dw = jnp.zeros((k, nc), jnp.float32)
  for s, e, d in zip(g.starts, g.ends, g.widths):
    xj, dyj = x3[:, s:e], dy3[:, s:e]
    if contraction:
      xj = xj[..., :d]
    else:
      dyj = dyj[..., :d]
    part = jnp.einsum("bnk,bnc->kc", xj, dyj,
                      preferred_element_type=jnp.float32)
    dw = dw.at[:part.shape[0], :part.shape[1]].add(part)
  return dw.astype(out_dtype)


def _bias_grad(cfg, dy, out_dtype):
  if cfg.nesting == "contraction":
    return jnp.sum(dy, axis=0, dtype=jnp.float32).astype(out_dtype)
  g, n = cfg.g, cfg.g.period
  dy3 = dy.reshape(-1, n, dy.shape[-1])
  db = jnp.zeros((dy.shape[-1],), jnp.float32)
  for s, e, d in zip(g.starts, g.ends, g.widths):
    db = db.at[:d].add(jnp.sum(dy3[:, s:e, :d], axis=(0, 1),
                               dtype=jnp.float32))
  return db.astype(out_dtype)


def _forward(cfg, x, w, b, *, transpose_w=False):
  return _dispatch(x, w, b, g=cfg.g, nesting=cfg.nesting,
                   transpose_w=transpose_w, blocks=cfg.blocks,
                   interpret=cfg.interpret, loop=cfg.loop)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _nested(cfg, x, w, b):
  return _forward(cfg, x, w, b)


def _nested_fwd(cfg, x, w, b):
  return _forward(cfg, x, w, b), (x, w, b)


def _nested_bwd(cfg, res, dy):
  x, w, b = res
  # dx is the other nesting, through the same kernel with w read transposed.
  other = "output" if cfg.nesting == "contraction" else "contraction"
  dx = _forward(cfg._replace(nesting=other), dy, w, None, transpose_w=True)
  dw = _per_group(cfg, x, dy, w.dtype)
  db = None if b is None else _bias_grad(cfg, dy, b.dtype)
  return dx.astype(x.dtype), dw, db


_nested.defvjp(_nested_fwd, _nested_bwd)


def _check(x, w, bias, nesting):
  if nesting not in NESTINGS:
    raise ValueError(f"nesting={nesting!r} is unknown; allowed: "
                     f"{', '.join(map(repr, NESTINGS))}.")
  if x.ndim < 2 or w.ndim != 2 or x.shape[-1] != w.shape[0]:
    raise ValueError(f"x {x.shape} and w {w.shape} must be [..., N, K] and "
                     "[K, N_out].")
  if bias is not None and bias.shape != (w.shape[1],):
    raise ValueError(f"bias {bias.shape} must be [{w.shape[1]}].")


def nested_matmul(x, w, bias=None, *, group_sizes: Sequence[int],
                  group_widths: Sequence[int], nesting: str,
                  block_m: Optional[int] = None,
                  block_n: Optional[int] = None,
                  block_k: Optional[int] = None,
                  interpret: Optional[bool] = None):
  """Nested projection of all expert groups in one Pallas kernel.

  Args:
    x: [..., N, K] tokens, each example's in expert-sorted order.
    w: [K, N_out] kernel (cast to x's dtype).
    bias: optional [N_out] bias.
    group_sizes: tokens per expert in each example (static, sums to N).
    group_widths: the experts' model dimensions d_j (static).
    nesting: "contraction" (group j reads x[..., :d_j] and w[:d_j]; d_j <= K)
      or "output" (group j writes y[..., :d_j] from w[:, :d_j] and
      bias[:d_j], and zeros after; d_j <= N_out).
    block_m, block_n, block_k: tile sizes, None for the backend's default;
      block_n and block_k shrink to powers of two dividing N_out and K.
    interpret: None runs the kernel in interpret mode when lowered for the
      CPU and compiled (Triton on GPU, Mosaic on TPU) otherwise; True always
      interprets; False always compiles.

  Returns:
    [..., N, N_out] in x's dtype (accumulated in float32).
  """
  _check(x, w, bias, nesting)
  *lead, n, k = x.shape
  width_limit = k if nesting == "contraction" else w.shape[1]
  rows = int(np.prod(lead, dtype=np.int64)) * n
  cfg = _Config(_make_groups(group_sizes, group_widths, n, rows, width_limit),
                nesting, (block_m, block_n, block_k), interpret, None)
  y = _nested(cfg, x.reshape(rows, k), w.astype(x.dtype), bias)
  return y.reshape(*lead, n, w.shape[1])


def nested_matmul_reference(x, w, bias=None, *, group_sizes, group_widths,
                            nesting, block_m=None, block_n=None,
                            block_k=None, interpret=None):
  """`nested_matmul` in plain XLA (slices, dots, concatenate): the reference.

  Block sizes and `interpret` are accepted for a same signature and ignored.
  """
  del block_m, block_n, block_k, interpret
  _check(x, w, bias, nesting)
  w = w.astype(x.dtype)
  n_out = w.shape[1]
  ys, start = [], 0
  for size, d in zip(group_sizes, group_widths):
    xj = x[..., start:start + size, :]
    start += size
    if nesting == "contraction":
      y = jnp.dot(xj[..., :d], w[:d], preferred_element_type=jnp.float32)
      if bias is not None:
        y = y + bias.astype(jnp.float32)
    else:
      y = jnp.dot(xj, w[:, :d], preferred_element_type=jnp.float32)
      if bias is not None:
        y = y + bias[:d].astype(jnp.float32)
      y = jnp.pad(y, [(0, 0)] * (y.ndim - 1) + [(0, n_out - d)])
    ys.append(y.astype(x.dtype))
  return jnp.concatenate(ys, axis=-2)
