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

"""Tests of the nested layers and the MoNE encoder against numpy references.

The references are written per token with the slices of docs/method.md §1
spelled out (x[:d] @ W[:d, :], h @ W[:, :d] + b[:d], zero-padded back to D), in
float64, on a full-width residual stream: nothing is shared with the grouped,
expert-sorted implementation under test.
"""

import functools
import math

from absl.testing import absltest
from absl.testing import parameterized
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from mone_plugin import capacity
from mone_plugin import layers

WIDTH, HEADS, MLP, DEPTH = 64, 4, 96, 2
DIMS = (8, 16, 32, 64)
ATOL = RTOL = 2e-4


# ------------------------------------------------------------------ numpy ---
def _ln(x, scale, bias, eps=1e-6):
  mean = x.mean(-1, keepdims=True)
  var = ((x - mean) ** 2).mean(-1, keepdims=True)
  return (x - mean) / np.sqrt(var + eps) * scale + bias


def _gelu(x):  # flax.linen.gelu's default (tanh approximation).
  return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def _softmax(x, axis=-1):
  e = np.exp(x - x.max(axis, keepdims=True))
  return e / e.sum(axis, keepdims=True)


def _np(tree):
  return jax.tree_util.tree_map(lambda a: np.asarray(a, np.float64), tree)


def _attention_per_token(y, d, p):
  """y [N, D] full-D LN output of one example, d [N] width of each token."""
  n, width = y.shape
  wq, wk, wv = (p[k]["kernel"].reshape(width, width) for k in
                ("query", "key", "value"))
  bq, bk, bv = (p[k]["bias"].reshape(width) for k in ("query", "key", "value"))
  wo, bo = p["out"]["kernel"].reshape(width, width), p["out"]["bias"]
  heads = p["query"]["kernel"].shape[1]
  hd = width // heads
  q = np.stack([y[t, :d[t]] @ wq[:d[t], :] + bq for t in range(n)])
  k = np.stack([y[t, :d[t]] @ wk[:d[t], :] + bk for t in range(n)])
  v = np.stack([y[t, :d[t]] @ wv[:d[t], :] + bv for t in range(n)])
  q, k, v = (a.reshape(n, heads, hd) for a in (q, k, v))
  # Scores and weighted sum at full D among all tokens.
  w = _softmax(np.einsum("qhc,shc->hqs", q / np.sqrt(hd), k))
  a = np.einsum("hqs,shc->qhc", w, v).reshape(n, width)
  out = np.zeros((n, width))
  for t in range(n):
    out[t, :d[t]] = a[t] @ wo[:, :d[t]] + bo[:d[t]]  # Zero-padded to D.
  return out


def _mlp_per_token(y, d, p):
  n, width = y.shape
  w0, b0 = p["Dense_0"]["kernel"], p["Dense_0"]["bias"]
  w1, b1 = p["Dense_1"]["kernel"], p["Dense_1"]["bias"]
  out = np.zeros((n, width))
  for t in range(n):
    h = _gelu(y[t, :d[t]] @ w0[:d[t], :] + b0)  # Hidden at full mlp_dim.
    out[t, :d[t]] = h @ w1[:, :d[t]] + b1[:d[t]]
  return out


def _epr_reference(probs, capacities):
  """Expert Preferred Routing of one example, probs [N, E], as docs/method.md §3."""
  n, num_experts = probs.shape
  out, taken = np.zeros(n, np.int32), np.zeros(n, bool)
  for j in range(num_experts - 1, 0, -1):
    k = int(math.floor(capacities[j] * n + 1e-9))
    free = [t for t in range(n) if not taken[t]]
    free.sort(key=lambda t: (-probs[t, j], t))
    out[free[:k]], taken[free[:k]] = j, True
  return out


def _encoder_reference(params, x, capacities, num_prefix_tokens=0,
                       dims=DIMS):
  """Masked MoNE encoder: a full-width residual per token, sliced per token.

  Returns (encoded [B, N, D], experts [B, N - p], probs [B, N - p, E]).
  """
  p = _np(params)
  x = np.asarray(x, np.float64)
  b, n_all, _ = x.shape
  npx = num_prefix_tokens
  alpha = float(np.tanh(np.abs(p["alpha"])))  # router.effective_alpha.
  probs = _softmax(x[:, npx:] @ p["router"]["kernel"] + p["router"]["bias"])
  # Router probabilities are computed in f32 by the model; route on those so
  # that near-ties are broken on the same numbers.
  probs32 = np.asarray(probs, np.float32)
  if capacities is None:
    experts = None
    d = np.full((b, n_all), dims[-1])
    scale = np.ones((b, n_all))
  else:
    experts = np.stack([_epr_reference(pr, capacities) for pr in probs32])
    r = np.take_along_axis(probs, experts[..., None], -1)[..., 0]
    d = np.concatenate([np.full((b, npx), dims[-1]),
                        np.asarray(dims)[experts]], 1)
    scale = np.concatenate([np.ones((b, npx)), alpha * r + 1], 1)
  for lyr in range(len([k for k in p if k.startswith("encoderblock_")])):
    blk = p[f"encoderblock_{lyr}"]
    for i in range(b):
      y = _ln(x[i], **blk["LayerNorm_0"])
      x[i] = x[i] + _attention_per_token(
          y, d[i], blk["MultiHeadDotProductAttention_0"])
      y = _ln(x[i], **blk["LayerNorm_1"])
      x[i] = x[i] + scale[i][:, None] * _mlp_per_token(y, d[i],
                                                       blk["MlpBlock_0"])
  return _ln(x, **p["encoder_norm"]), experts, probs


# ------------------------------------------------------------------ utils ---
def _perturbed(params, seed=0):
  """Random biases and LayerNorm scales, so that slicing them is tested."""
  rng = np.random.default_rng(seed)

  def f(path, a):
    name = path[-1].key
    if name == "alpha":
      return a
    if name == "scale":
      return jnp.asarray(1 + 0.3 * rng.normal(size=a.shape), a.dtype)
    if name == "bias":
      return jnp.asarray(0.3 * rng.normal(size=a.shape), a.dtype)
    return a
  return jax.tree_util.tree_map_with_path(f, params)


def _normal(seed, shape):
  return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def _init(module, *args, seed=0):
  """Random parameters of `module`'s tree, without compiling its init."""
  shapes = jax.eval_shape(
      functools.partial(module.init, jax.random.PRNGKey(0)), *args)
  rng = np.random.default_rng(seed)

  def f(path, a):
    name, parent = path[-1].key, path[-2].key if len(path) > 1 else ""
    if name == "alpha":
      return jnp.zeros(a.shape, a.dtype)
    if name != "kernel":
      return jnp.zeros(a.shape, a.dtype)  # Randomised by _perturbed.
    fan_in = (a.shape[0] if parent in ("query", "key", "value") else
              int(np.prod(a.shape[:-1])))
    return jnp.asarray(rng.normal(size=a.shape) / np.sqrt(fan_in), a.dtype)
  return _perturbed(jax.tree_util.tree_map_with_path(f, shapes), seed)


def _run(module, params, *args):
  return jax.tree_util.tree_map(np.asarray,
                                jax.jit(module.apply)(params, *args))


def _groups(xs, width=WIDTH, scales=None):
  """Group tuples from full-width per-group tokens [B, n_j, D] and dims."""
  out = []
  for i, (x, d) in enumerate(xs):
    x = jnp.asarray(x, jnp.float32)
    out.append(layers.Group(
        h=x[..., :d],
        tail_sum=jnp.sum(x[..., d:], -1, keepdims=True),
        tail_sumsq=jnp.sum(x[..., d:] ** 2, -1, keepdims=True),
        mlp_scale=None if scales is None else scales[i]))
  del width
  return out


@functools.partial(jax.jit,
                   static_argnames=("model", "capacities", "num_prefix_tokens"))
def _apply_jit(model, params, x, capacities, num_prefix_tokens=0):
  return model.apply({"params": params}, x, capacities=capacities,
                     num_prefix_tokens=num_prefix_tokens)


def _apply(model, params, x, capacities, num_prefix_tokens=0):
  """Jitted forward, numpy results (eager ops each compile: slow on CPU)."""
  return jax.tree_util.tree_map(
      np.asarray, _apply_jit(model, params, x, capacities, num_prefix_tokens))


def _encoder(**kw):
  return layers.MoneEncoder(depth=DEPTH, mlp_dim=MLP, num_heads=HEADS, **kw)


def _init_encoder(seed=0, n=13, b=3, num_prefix_tokens=0, alpha=0.0, **kw):
  model = _encoder(**kw)
  x = _normal(seed + 1, (b, n + num_prefix_tokens, WIDTH))
  params = _init(model, x, seed=seed)["params"]
  params["alpha"] = jnp.asarray(alpha, jnp.float32)
  return model, params, x


# Groups of tokens of mixed widths: (tokens in group, d of the group).
_MIXED = (((3, 8), (2, 16), (4, 32), (1, 64)),
          ((5, 8), (2, 64)),
          ((1, 16), (1, 32)),
          ((6, 64),))


class NestedLayerNormTest(parameterized.TestCase):

  @parameterized.parameters(*_MIXED)
  def test_full_width_ln_then_slice(self, *spec):
    rng = np.random.default_rng(len(spec))
    xs = [(rng.normal(size=(2, n, WIDTH)) * 2 + 0.5, d) for n, d in spec]
    module = layers.NestedLayerNorm(WIDTH)
    params = _init(module, _groups(xs))
    ys = _run(module, params, _groups(xs))
    p = _np(params)["params"]
    for (x, d), y in zip(xs, ys):
      self.assertEqual(y.shape, x.shape[:-1] + (d,))
      np.testing.assert_allclose(y, _ln(x, **p)[..., :d], atol=ATOL,
                                 rtol=RTOL)


class NestedAttentionTest(parameterized.TestCase):

  @parameterized.parameters(*_MIXED)
  def test_against_per_token_slices(self, *spec):
    rng = np.random.default_rng(len(spec) + 10)
    ys = [rng.normal(size=(2, n, d)).astype(np.float32) for n, d in spec]
    module = layers.NestedAttention(WIDTH, HEADS)
    params = _init(module, ys)
    outs = _run(module, params, ys)
    p = _np(params)["params"]
    d = np.concatenate([[dj] * n for n, dj in spec])
    for i in range(2):
      full = np.full((len(d), WIDTH), np.nan)  # Past d: never read.
      tokens = [tok for y in ys for tok in y[i]]
      for t, tok in enumerate(tokens):
        full[t, :len(tok)] = tok
      ref = _attention_per_token(full, d, p)
      start = 0
      for (n, dj), o in zip(spec, outs):
        self.assertEqual(o.shape, (2, n, dj))
        np.testing.assert_allclose(o[i], ref[start:start + n, :dj],
                                   atol=ATOL, rtol=RTOL)
        # The reference's zero padding is what the narrow output leaves out.
        np.testing.assert_array_equal(ref[start:start + n, dj:], 0)
        start += n

  def test_full_width_equals_flax_attention(self):
    x = _normal(2, (2, 9, WIDTH))
    ref = nn.MultiHeadDotProductAttention(num_heads=HEADS)
    params = _init(ref, x, x)
    want = _run(ref, params, x, x)
    # Same params in two full-width groups and in one.
    nested = layers.NestedAttention(WIDTH, HEADS)
    got = _run(nested, params, [x[:, :4], x[:, 4:]])
    np.testing.assert_allclose(jnp.concatenate(got, 1), want, atol=1e-5)
    got = _run(nested, params, [x])
    np.testing.assert_allclose(got[0], want, atol=1e-5)

  def test_heads_must_divide_width(self):
    with self.assertRaisesRegex(ValueError,
                                r"width=64.*not divisible.*num_heads=5"):
      _init(layers.NestedAttention(WIDTH, 5), [jnp.zeros((1, 2, 8))])


class NestedMlpBlockTest(parameterized.TestCase):

  @parameterized.parameters(*zip(_MIXED, (None, MLP, MLP, None)))
  def test_against_per_token_slices(self, spec, mlp_dim):
    rng = np.random.default_rng(len(spec) + 20)
    ys = [rng.normal(size=(2, n, d)).astype(np.float32) for n, d in spec]
    module = layers.NestedMlpBlock(WIDTH, mlp_dim)
    params = _init(module, ys)
    p = _np(params)["params"]
    self.assertEqual(p["Dense_0"]["kernel"].shape,
                     (WIDTH, mlp_dim or 4 * WIDTH))
    outs = _run(module, params, ys)
    for (n, dj), y, o in zip(spec, ys, outs):
      self.assertEqual(o.shape, (2, n, dj))
      for i in range(2):
        full = np.full((n, WIDTH), np.nan)
        full[:, :dj] = y[i]
        ref = _mlp_per_token(full, [dj] * n, p)
        np.testing.assert_allclose(o[i], ref[:, :dj], atol=ATOL, rtol=RTOL)
        np.testing.assert_array_equal(ref[:, dj:], 0)

  def test_full_width_equals_dense_layers(self):
    x = _normal(5, (2, 5, WIDTH))

    class Plain(nn.Module):

      @nn.compact
      def __call__(self, x):
        h = nn.gelu(nn.Dense(MLP)(x))  # Dense_0.
        return nn.Dense(WIDTH)(h)  # Dense_1.

    params = _init(Plain(), x)
    want = _run(Plain(), params, x)
    got = _run(layers.NestedMlpBlock(WIDTH, MLP), params, [x])[0]
    np.testing.assert_allclose(got, want, atol=1e-5)


class MoneEncoderTest(parameterized.TestCase):

  # Each case compiles the encoder (~4 s of CPU): the other tests reuse these
  # shapes and capacities.
  @parameterized.parameters((0.2, 0), (0.4, 1), (1.0, 1))
  def test_against_masked_reference(self, e_c, num_prefix_tokens):
    model, params, x = _init_encoder(
        seed=int(e_c * 10), num_prefix_tokens=num_prefix_tokens)
    capacities = capacity.as_static(capacity.capacity_distribution(e_c))
    got, out = _apply(model, params, x, capacities=capacities,
                           num_prefix_tokens=num_prefix_tokens)
    want, experts, probs = _encoder_reference(params, x, capacities,
                                              num_prefix_tokens)
    np.testing.assert_array_equal(out["experts"], experts)
    np.testing.assert_allclose(out["router_probs"], probs, atol=1e-5)
    self.assertEqual(got.shape, x.shape)
    np.testing.assert_allclose(got, want, atol=ATOL, rtol=RTOL)
    ks = capacity.tokens_per_expert(capacities, 13)
    for row in np.asarray(out["experts"]):
      np.testing.assert_array_equal(np.bincount(row, minlength=4), ks)

  @parameterized.parameters(0.5, 0.9, 2.0, -0.3)
  def test_alpha_scales_the_mlp_branch(self, alpha):
    model, params, x = _init_encoder(seed=3, num_prefix_tokens=1,
                                     alpha=alpha)
    capacities = capacity.as_static(capacity.capacity_distribution(0.4))
    got, _ = _apply(model, params, x, capacities=capacities,
                         num_prefix_tokens=1)
    # The reference uses tanh(|alpha|), in [0, 1) as docs/method.md §2 specifies.
    want, _, _ = _encoder_reference(params, x, capacities, 1)
    np.testing.assert_allclose(got, want, atol=ATOL, rtol=RTOL)
    if alpha:  # A negative raw alpha scales the branch too (|alpha|).
      no_alpha, _, _ = _encoder_reference(
          {**params, "alpha": jnp.float32(0)}, x, capacities, 1)
      self.assertGreater(np.abs(got - no_alpha).max(), 1e-3)

  def test_dense_path_equals_reference_and_all_largest(self):
    model, params, x = _init_encoder(seed=4, num_prefix_tokens=1)
    dense, out = _apply(model, params, x, capacities=None,
                             num_prefix_tokens=1)
    self.assertNotIn("experts", out)
    want, _, _ = _encoder_reference(params, x, None, 1)
    np.testing.assert_allclose(dense, want, atol=ATOL, rtol=RTOL)
    # Every token on the largest expert with alpha 0 is the dense model.
    full, out = _apply(model, params, x,
                       capacities=capacity.as_static(
                           capacity.capacity_distribution(1.0)),
                       num_prefix_tokens=1)
    np.testing.assert_array_equal(out["experts"], 3)
    np.testing.assert_allclose(full, dense, atol=1e-5)

  def test_prefix_token_is_not_routed(self):
    model, params, x = _init_encoder(seed=5, num_prefix_tokens=1)
    capacities = capacity.as_static(capacity.capacity_distribution(0.4))
    got, out = _apply(model, params, x, capacities=capacities,
                      num_prefix_tokens=1)
    self.assertEqual(out["experts"].shape, (3, 13))
    self.assertEqual(out["router_probs"].shape, (3, 13, 4))
    # The prefix token is the first output and has all D channels updated
    # (the reference gives it the full expert).
    want, _, _ = _encoder_reference(params, x, capacities, 1)
    np.testing.assert_allclose(got[:, 0], want[:, 0], atol=ATOL, rtol=RTOL)
    # The router reads only the routed tokens: changing the prefix token
    # leaves the router probabilities and the routing unchanged.
    x2 = x.copy()
    x2[:, 0] += _normal(11, x2[:, 0].shape)
    got2, out2 = _apply(model, params, x2, capacities=capacities,
                        num_prefix_tokens=1)
    np.testing.assert_array_equal(out2["router_probs"], out["router_probs"])
    np.testing.assert_array_equal(out2["experts"], out["experts"])
    self.assertGreater(np.abs(got2 - got).max(), 1e-3)

  def test_examples_do_not_influence_each_other(self):
    # Same shapes and capacities as a case above: no new compile.
    model, params, x = _init_encoder(seed=6)
    capacities = capacity.as_static(capacity.capacity_distribution(0.2))
    base, _ = _apply(model, params, x, capacities=capacities)
    x2 = x.copy()
    x2[1] = _normal(9, x[1].shape)
    got, _ = _apply(model, params, x2, capacities=capacities)
    np.testing.assert_allclose(got[0], base[0], atol=1e-6)
    np.testing.assert_allclose(got[2], base[2], atol=1e-6)
    self.assertGreater(np.abs(got[1] - base[1]).max(), 1e-2)

  def test_bad_capacities(self):
    model, params, x = _init_encoder()
    with self.assertRaisesRegex(ValueError,
                                r"capacities=\(0\.5, 0\.5\).*num_experts=4"):
      _apply(model, params, x, capacities=(0.5, 0.5))
    with self.assertRaisesRegex(ValueError, r"must sum to 1"):
      _apply(model, params, x, capacities=(0.5, 0.5, 0.5, 0.5))

  def test_width_not_divisible(self):
    with self.assertRaisesRegex(ValueError,
                                r"width=36.*not divisible.*8"):
      _init(_encoder(), jnp.zeros((1, 4, 36)))


def _loss(params, model, x, target, capacities):
  y, _ = model.apply({"params": params}, x, capacities=capacities,
                     num_prefix_tokens=1)
  return jnp.sum(y * target)


_loss_and_grad = jax.jit(jax.value_and_grad(_loss), static_argnums=(1, 4))


class GradientTest(parameterized.TestCase):

  def _grads(self, alpha):
    # One layer and two expert groups: the gradient compiles quickly.
    model, params, x = _init_encoder(seed=7, num_prefix_tokens=1,
                                     alpha=alpha)
    model = model.clone(depth=1)
    params = {k: v for k, v in params.items() if k != "encoderblock_1"}
    capacities = (0.5, 0.0, 0.0, 0.5)
    target = _normal(8, x.shape)
    loss = lambda p: _loss_and_grad(p, model, x, target, capacities)[0]
    return _loss_and_grad(params, model, x, target, capacities)[1], loss, params

  def test_alpha_gets_gradient_at_init(self):
    grads, loss, params = self._grads(alpha=0.0)
    self.assertTrue(np.isfinite(grads["alpha"]))
    self.assertNotEqual(float(grads["alpha"]), 0.0)
    # Router gradient flows only through alpha * r, which is 0 at init.
    np.testing.assert_array_equal(grads["router"]["kernel"], 0.0)
    # Every other weight learns.
    for path, g in jax.tree_util.tree_leaves_with_path(grads):
      if "router" not in jax.tree_util.keystr(path):
        self.assertTrue(np.all(np.isfinite(g)), path)
    self.assertGreater(
        np.abs(grads["encoderblock_0"]["MlpBlock_0"]["Dense_0"]["kernel"])
        .max(), 0)
    del loss, params

  def test_router_and_alpha_get_gradient(self):
    grads, loss, params = self._grads(alpha=0.5)
    self.assertGreater(np.abs(grads["router"]["kernel"]).max(), 1e-6)
    self.assertGreater(np.abs(grads["router"]["bias"]).max(), 1e-7)
    # Matches a central finite difference in raw alpha.
    eps = 1e-2
    alpha = float(params["alpha"])
    fd = (loss({**params, "alpha": jnp.float32(alpha + eps)})
          - loss({**params, "alpha": jnp.float32(alpha - eps)})) / (2 * eps)
    np.testing.assert_allclose(grads["alpha"], fd, rtol=2e-2)

  def test_alpha_leaves_zero_with_a_one_sided_gradient(self):
    # alpha starts at 0, where |.| has no derivative: ours is the right-hand
    # one, so the first update moves alpha off 0 whichever way it goes.
    grads, loss, params = self._grads(alpha=0.0)
    eps = 1e-3
    fd = (loss({**params, "alpha": jnp.float32(eps)}) - loss(params)) / eps
    np.testing.assert_allclose(grads["alpha"], fd, rtol=2e-2)

  @parameterized.parameters(-0.1, -0.6, -3.0)
  def test_router_learns_when_raw_alpha_is_negative(self, alpha):
    # The defect of the old clip: raw alpha below 0 gave the forward 0 and the
    # router exactly 0 gradient. Now alpha is reflected: same forward and
    # router gradient as +|alpha|, and alpha's own gradient flips sign.
    below, loss, params = self._grads(alpha=alpha)
    above, _, _ = self._grads(alpha=-alpha)
    self.assertGreater(np.abs(below["router"]["kernel"]).max(), 1e-6)
    np.testing.assert_allclose(below["router"]["kernel"],
                               above["router"]["kernel"], rtol=1e-5)
    np.testing.assert_allclose(below["alpha"], -above["alpha"], rtol=1e-5)
    del loss, params

class JitTest(absltest.TestCase):

  def test_compiles_once_per_shape(self):
    model, params, x = _init_encoder(seed=9)
    model = model.clone(depth=1)  # Compiles three times: keep it small.
    params = {k: v for k, v in params.items() if k != "encoderblock_1"}
    traces = []

    def fwd(params, x, capacities):
      traces.append((x.shape, capacities))
      return model.apply({"params": params}, x, capacities=capacities)[0]

    jf = jax.jit(fwd, static_argnums=2)
    c3, c6 = (0.5, 0.0, 0.0, 0.5), (0.0, 0.0, 0.0, 1.0)  # Few groups.
    a = jf(params, x, c3)
    b = jf(params, x + 1.0, c3)
    jf(_perturbed(params, 1), x, c3)
    self.assertLen(traces, 1)
    self.assertFalse(np.allclose(a, b))
    jf(params, x, c6)
    self.assertLen(traces, 2)
    jf(params, x[:1], c3)
    self.assertLen(traces, 3)
    jf(params, x[:1] * 2, c3)
    jf(params, x, c6)
    self.assertLen(traces, 3)
    if hasattr(jf, "_cache_size"):
      self.assertEqual(jf._cache_size(), 3)  # pylint: disable=protected-access



@functools.partial(jax.jit, static_argnames=("model", "capacities"))
def _apply_train(model, params, x, capacities, seed=0):
  """Training-mode forward (dropout and stochastic depth on), prefix 1."""
  return model.apply({"params": params}, x, capacities=capacities,
                     num_prefix_tokens=1, deterministic=False,
                     rngs={"dropout": jax.random.PRNGKey(seed)})[0]


class StochasticDepthTest(absltest.TestCase):
  """Droplayer per example in the MoNE blocks (depth 2: rates 0, r)."""

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    # One input copied 32 times: a per-example drop makes the copies differ.
    model, cls.params, x = _init_encoder(seed=5, b=1, num_prefix_tokens=1,
                                         alpha=0.3)
    cls.x = jnp.tile(x, (32, 1, 1))
    cls.capacities = capacity.as_static(capacity.capacity_distribution(0.4))
    p1 = {k: v for k, v in cls.params.items() if k != "encoderblock_1"}
    # The output with layer 1 dropped for both branches: a 1-layer encoder.
    cls.skipped = _apply(model.clone(depth=1), p1, x, cls.capacities, 1)[0]
    # Evaluation never drops, even at a rate near 1.
    cls.eval = _apply(_encoder(droplayer_rate=0.999), cls.params, x,
                      cls.capacities, 1)[0]

  def test_eval_does_not_drop(self):
    self.assertGreater(float(np.abs(self.eval - self.skipped).max()), 1e-3)

  def test_drops_whole_layers_per_example(self):
    plain, scaled = (np.asarray(_apply_train(
        _encoder(droplayer_rate=0.5, droplayer_rescale=r), self.params,
        self.x, self.capacities)) for r in (False, True))
    skipped = [np.allclose(g, self.skipped[0], atol=1e-5) for g in plain]
    self.assertTrue(any(skipped))
    self.assertFalse(all(skipped))
    distinct = {tuple(np.round(g[:, :4].ravel(), 4)) for g in plain}
    # Attention and MLP kept or dropped independently: up to 4 outcomes.
    self.assertBetween(len(distinct), 2, 4)
    # Same draws with rescaling (kept branches / (1 - rate)): the rows that
    # skipped layer 1 agree, the others differ.
    same = [np.allclose(a, b, atol=1e-6) for a, b in zip(plain, scaled)]
    self.assertEqual(same, skipped)

  def test_scanned_stack_drops_too(self):
    model = _encoder(droplayer_rate=0.999, scan=True)
    params = {k: v for k, v in self.params.items()
              if not k.startswith("encoderblock_")}
    params["encoderblock"] = jax.tree_util.tree_map(
        lambda *v: jnp.stack(v), self.params["encoderblock_0"],
        self.params["encoderblock_1"])
    got = _apply_train(model, params, self.x[:2], self.capacities)
    np.testing.assert_allclose(got, np.repeat(self.skipped, 2, 0), atol=1e-5)

  def test_attention_dropout_only_in_training(self):
    got = _apply_train(_encoder(attention_dropout=0.5), self.params,
                       self.x[:1], self.capacities)
    self.assertGreater(float(np.abs(got - self.eval).max()), 1e-3)

  def test_bad_rate(self):
    with self.assertRaisesRegex(ValueError, r"droplayer_rate=1.0 .*< 1"):
      _encoder(droplayer_rate=1.0).droplayer_rates()


class RematPolicyTest(parameterized.TestCase):

  @parameterized.parameters("none", "nothing_saveable", "dots_saveable",
                            "dots_with_no_batch_dims_saveable",
                            "everything_saveable")
  def test_policies_give_the_same_gradient(self, policy):
    model, params, x = _init_encoder(alpha=0.3, scan=True)
    caps = capacity.as_static(capacity.capacity_distribution(0.4))

    def grad(m):
      return jax.grad(lambda p: jnp.sum(m.apply(
          {"params": p}, x, capacities=caps)[0] ** 2))(params)
    want = grad(model.clone(remat_policy="nothing_saveable"))
    got = grad(model.clone(remat_policy=policy))
    for a, b in zip(jax.tree.leaves(want), jax.tree.leaves(got)):
      np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)

  def test_unknown_policy_names_the_allowed_ones(self):
    model, _, x = _init_encoder(scan=True)
    with self.assertRaisesRegex(
        ValueError, r"remat_policy='dots_savable' is not a policy; allowed: "
        r"none, dots_saveable, .*everything_saveable"):
      _init(model.clone(remat_policy="dots_savable"), x)


class GroupLayoutsTest(absltest.TestCase):

  def test_merges_small_groups_into_the_next_wider(self):
    sizes, dims = (6, 0, 3, 5), (8, 16, 32, 64)
    self.assertEqual(layers.group_layouts(sizes, dims, 2),
                     (((6, 8),), ((3, 32),), ((5, 64),)))
    # 2 x 3 rows < 7: the width-32 expert joins the width-64 group; the
    # width-8 one (12 rows) stays.
    self.assertEqual(layers.group_layouts(sizes, dims, 2, 7),
                     (((6, 8),), ((3, 32), (5, 64))))
    # Chained: everything below 13 rows joins the widest group.
    self.assertEqual(layers.group_layouts(sizes, dims, 2, 13),
                     (((6, 8), (3, 32), (5, 64)),))
    self.assertEqual(layers.group_layouts(sizes, dims, 2, kernel="pallas"),
                     (((6, 8), (3, 32), (5, 64)),))


if __name__ == "__main__":
  absltest.main()
