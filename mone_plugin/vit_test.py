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

"""Tests of the MoNE ViT: dense equivalence, Big Vision parity, routing."""

import functools

from absl.testing import absltest
from absl.testing import parameterized
import jax
from jax import export
import jax.numpy as jnp
import numpy as np

from mone_plugin import capacity
from mone_plugin import frameworks
from mone_plugin import inference
from mone_plugin import vit

# Tiny: 32 px, patch 8 -> 4x4 = 16 tokens, width 64 (experts 8/16/32/64).
TINY = dict(num_classes=10, patch_size=(8, 8), width=64, depth=2, mlp_dim=128,
            num_heads=4, head_zeroinit=False)
NUM_TOKENS = 16
_NO_BV = "Big Vision checkout not found (see mone_plugin/frameworks.py)."


# Three configurations cover the pooling types and the other options.
CONFIGS = {
    "gap": dict(pool_type="gap"),
    "tok": dict(pool_type="tok", rep_size=True),
    "map": dict(pool_type="map", posemb="sincos2d"),
}


def _images(seed=0, b=2):
  rng = np.random.default_rng(seed)
  return rng.uniform(-1, 1, size=(b, 32, 32, 3)).astype(np.float32)


IMAGES = _images(1)


@functools.partial(jax.jit, static_argnums=0)
def _init_jit(model, key, images):
  return model.init(key, images)["params"]


def _random_params(model, seed=0):
  """Random parameters of the model's tree, without compiling its init.

  Biases, LayerNorm scales, class token and probe are random too, so that
  every slice of them is exercised. alpha is 0 (its initial value).
  """
  shapes = jax.eval_shape(functools.partial(model.init, jax.random.PRNGKey(0)),
                          IMAGES)["params"]
  rng = np.random.default_rng(seed)

  def f(path, a):
    name, parent = path[-1].key, path[-2].key if len(path) > 1 else ""
    if name == "alpha":
      return jnp.zeros(a.shape, a.dtype)
    if name == "scale":
      v = 1 + 0.3 * rng.normal(size=a.shape)
    elif name in ("bias", "cls", "probe"):
      v = 0.3 * rng.normal(size=a.shape)
    elif name == "pos_embedding":
      v = rng.normal(size=a.shape) / np.sqrt(a.shape[-1])
    else:  # Kernels.
      fan_in = (a.shape[-3] if parent in ("query", "key", "value") else
                int(np.prod(a.shape[:-1])))
      v = rng.normal(size=a.shape) / np.sqrt(fan_in)
    return jnp.asarray(v, a.dtype)
  return jax.tree_util.tree_map_with_path(f, shapes)


_CONFIGURED = "configured e_c"  # Calls the model without an e_c override.


@functools.partial(jax.jit, static_argnums=(0, 3))
def _apply_jit(model, params, images, e_c):
  kw = {} if e_c == _CONFIGURED else {"e_c": e_c}
  return model.apply({"params": params}, images, **kw)


def _apply(model, params, images, e_c=_CONFIGURED):
  """Jitted forward with numpy outputs (keeps eager ops out of the tests)."""
  return jax.tree_util.tree_map(np.asarray,
                                _apply_jit(model, params, images, e_c))


def _model(cfg, **kw):
  return vit.Model(**TINY, **CONFIGS[cfg], **kw)


@functools.lru_cache(maxsize=None)
def _params(cfg):
  return _random_params(_model(cfg), seed=len(cfg))


@functools.lru_cache(maxsize=None)
def _forward(cfg, e_c):
  """(logits, out) of config `cfg` at `e_c` on IMAGES, computed once."""
  return _apply(_model(cfg), _params(cfg), IMAGES, e_c)


def _without_mone(params):
  t = {k: v for k, v in params["Transformer"].items()
       if k not in ("router", "alpha")}
  return {**params, "Transformer": t}


def _shapes(tree):
  return jax.tree_util.tree_map(lambda a: (a.shape, str(a.dtype)), tree)


class DenseEquivalenceTest(parameterized.TestCase):

  @parameterized.parameters(*CONFIGS)
  def test_full_capacity_equals_dense_path(self, cfg):
    full, out_full = _forward(cfg, 1.0)
    dense, out_dense = _forward(cfg, None)
    self.assertEqual(full.shape, (2, 10))
    np.testing.assert_allclose(full, dense, atol=1e-5)
    np.testing.assert_allclose(out_full["encoded"], out_dense["encoded"],
                               atol=1e-5)
    np.testing.assert_array_equal(out_full["experts"], 3)
    self.assertEqual(out_full["capacities"], (0.0, 0.0, 0.0, 1.0))
    self.assertIsNone(out_dense["capacities"])
    self.assertNotIn("experts", out_dense)
    self.assertGreater(np.abs(full).max(), 1e-2)  # Not a trivial zero head.

  def test_configured_e_c_none_is_dense(self):
    logits, out = _apply(_model("gap", e_c=None), _params("gap"), IMAGES)
    np.testing.assert_allclose(logits, _forward("gap", None)[0], atol=1e-6)
    self.assertNotIn("experts", out)


class InferencePathTest(parameterized.TestCase):
  """The inference path (`inference.prepare_inference`) is the same model."""

  # Each e_c compiles twice (~2 s each): all of them on GAP and class token,
  # one on the other configurations.
  @parameterized.parameters(("gap", False, (None, 0.3, 0.6, 1.0)),
                            ("tok", False, (None, 0.3, 0.6, 1.0)),
                            ("map", False, (0.4,)), ("gap", True, (0.4,)))
  def test_equals_params_path(self, cfg, scan, e_cs):
    model = _model(cfg, scan=scan)
    params = _random_params(model, seed=7)
    params["Transformer"]["alpha"] = jnp.float32(0.3)  # A live MLP scale.
    variables = inference.prepare_inference(params)
    for e_c in e_cs:
      want_logits, want = _apply(model, params, IMAGES, e_c)
      got_logits, got = jax.tree_util.tree_map(np.asarray, jax.jit(
          lambda v, x, e_c=e_c: model.apply(v, x, e_c=e_c))(
              variables, IMAGES))
      np.testing.assert_allclose(got_logits, want_logits, atol=1e-5, rtol=0,
                                 err_msg=f"e_c={e_c}")
      np.testing.assert_allclose(got["pre_logits"], want["pre_logits"],
                                 atol=1e-5, rtol=0, err_msg=f"e_c={e_c}")
      if e_c is not None:
        np.testing.assert_array_equal(got["experts"], want["experts"])

  def test_moves_block_kernels_and_keeps_checkpoint_names(self):
    model = _model("gap")
    params = _random_params(model)
    variables = inference.prepare_inference(params)
    block = variables["params"]["Transformer"]["encoderblock_0"]
    self.assertEqual(set(block), {"LayerNorm_0", "LayerNorm_1"})
    prepared = variables["inference"]["Transformer"]["encoderblock_0"]
    attn = prepared["MultiHeadDotProductAttention_0"]
    self.assertEqual(attn["qkv_kernel_8"].shape, (3, 4, 16, 8))
    self.assertEqual(attn["out_kernel_32"].shape, (4, 16, 32))
    self.assertEqual(prepared["MlpBlock_0"]["Dense_1_kernel_16"].shape,
                     (128, 16))
    # The checkpoint's own tree is left as it was.
    self.assertEqual(_shapes(params), _shapes(_random_params(model)))
    self.assertIn("query", params["Transformer"]["encoderblock_0"][
        "MultiHeadDotProductAttention_0"])

  def test_prepared_in_the_matmul_dtype(self):
    model = _model("gap", dtype_mm="bfloat16")
    params = _random_params(model)
    variables = inference.prepare_inference(params, dtype="bfloat16")
    attn = variables["inference"]["Transformer"]["encoderblock_1"][
        "MultiHeadDotProductAttention_0"]
    self.assertEqual(attn["qkv_kernel_64"].dtype, jnp.bfloat16)
    want, _ = _apply(model, params, IMAGES, 0.4)
    got, _ = jax.jit(lambda v, x: model.apply(v, x, e_c=0.4))(variables,
                                                               IMAGES)
    np.testing.assert_allclose(np.asarray(got, np.float32),
                               np.asarray(want, np.float32), atol=0.1)


class RoutingOutputsTest(parameterized.TestCase):

  @parameterized.parameters(("gap", 0.3), ("tok", 0.6))
  def test_experts_and_counts(self, cfg, e_c):
    logits, out = _forward(cfg, e_c)
    capacities = capacity.as_static(capacity.capacity_distribution(e_c))
    self.assertEqual(out["capacities"], capacities)
    self.assertEqual(out["experts"].shape, (2, NUM_TOKENS))
    self.assertEqual(out["experts"].dtype, np.int32)
    self.assertEqual(out["router_probs"].shape, (2, NUM_TOKENS, 4))
    ks = capacity.tokens_per_expert(capacities, NUM_TOKENS)
    for row in out["experts"]:
      np.testing.assert_array_equal(np.bincount(row, minlength=4), ks)
    self.assertTrue(np.all(np.isfinite(logits)))
    self.assertEqual(out["pre_logits_2d"].shape[:3], (2, 4, 4))
    # Experts are in spatial token order: the token with the highest
    # probability for the largest expert is on it.
    for b in range(2):
      self.assertEqual(out["experts"][b, out["router_probs"][b, :, 3]
                                      .argmax()], 3)
    # Fewer channels updated: the budget changes the output.
    self.assertGreater(np.abs(logits - _forward(cfg, None)[0]).max(), 1e-3)

  def test_e_c_override_at_call_time(self):
    # A model configured at e_c=0.3, called with its default, equals the
    # e_c=1.0 model called with e_c=0.3.
    got, out_got = _apply(_model("gap", e_c=0.3), _params("gap"), IMAGES)
    want, out_want = _forward("gap", 0.3)
    np.testing.assert_allclose(got, want, atol=1e-6)
    np.testing.assert_array_equal(out_got["experts"], out_want["experts"])

  @parameterized.parameters(
      ("uniform", 0.5, (0.25, 0.25, 0.25, 0.25)),
      ("proportionate", 0.9, tuple(np.array([1, 2, 4, 8]) / 15)),
      ("mone", 0.3, tuple(capacity.capacity_distribution(0.3))),
      ("greedy", 0.3, (0.8, 0.0, 0.0, 0.2)))
  def test_capacity_method(self, method, e_c, expected):
    model = vit.Model(**TINY, capacity_method=method)
    got = model.capacities(e_c)
    self.assertIsInstance(got, tuple)
    np.testing.assert_allclose(got, expected, atol=1e-9)
    self.assertIsNone(model.capacities(None))


class BigVisionParityTest(parameterized.TestCase):

  def setUp(self):
    super().setUp()
    if not frameworks.available("big_vision"):
      self.skipTest(_NO_BV)
    self.bv = frameworks.ensure("big_vision")
    import big_vision.models.vit as bv_vit  # pylint: disable=g-import-not-at-top
    self.bv_vit = bv_vit

  @parameterized.parameters(*CONFIGS)
  def test_param_tree_and_logits(self, cfg):
    bv_model = self.bv_vit.Model(**TINY, **CONFIGS[cfg])
    params = _params(cfg)
    bv_shapes = jax.eval_shape(
        functools.partial(bv_model.init, jax.random.PRNGKey(0)),
        IMAGES)["params"]
    # Same paths, shapes and dtypes, apart from the router and alpha.
    self.assertEqual(_shapes(_without_mone(params)), _shapes(bv_shapes))
    self.assertEqual(_shapes(params["Transformer"]["router"]),
                     {"kernel": ((64, 4), "float32"),
                      "bias": ((4,), "float32")})
    self.assertEqual(params["Transformer"]["alpha"].shape, ())
    # Same parameters give Big Vision's outputs, at e_c=1 and dense.
    want, bv_out = jax.jit(bv_model.apply)({"params": _without_mone(params)},
                                           IMAGES)
    for e_c in (1.0, None):
      got, out = _forward(cfg, e_c)
      np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)
      for k in ("stem", "with_posemb", "encoded", "head_input", "pre_logits",
                "pre_logits_2d", "logits_2d"):
        np.testing.assert_allclose(out[k], bv_out[k], atol=1e-5, rtol=1e-5,
                                   err_msg=k)

  def test_scan_param_tree(self):
    # Scanned: the same stacked "encoderblock" tree as Big Vision's scan.
    bv_shapes = jax.eval_shape(
        functools.partial(self.bv_vit.Model(**TINY, scan=True).init,
                          jax.random.PRNGKey(0)), IMAGES)["params"]
    params = _random_params(vit.Model(**TINY, scan=True), seed=3)
    self.assertEqual(_shapes(_without_mone(params)), _shapes(bv_shapes))

  def test_scan_equals_unrolled(self):
    # With the same (restacked) parameters, scanned and unrolled MoNE agree
    # at a budget; the unrolled one equals Big Vision's ViT (tests above).
    model = vit.Model(**TINY, scan=True)
    params = _params("gap")
    t = dict(params["Transformer"])
    blocks = [t.pop(f"encoderblock_{i}") for i in range(TINY["depth"])]
    t["encoderblock"] = jax.tree_util.tree_map(lambda *a: jnp.stack(a),
                                               *blocks)
    got, out = _apply(model, {**params, "Transformer": t}, IMAGES, e_c=0.3)
    want, out_want = _forward("gap", 0.3)
    np.testing.assert_array_equal(out["experts"], out_want["experts"])
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)

  def test_same_initialisation(self):
    # Same names and initialisers: a fresh MoNE ViT starts as Big Vision's.
    key = jax.random.key(7, impl="rbg")  # Compiles faster than threefry.
    bv_params = _init_jit(self.bv_vit.Model(**TINY), key, IMAGES)
    params = _init_jit(_model("gap"), key, IMAGES)
    self.assertEqual(float(params["Transformer"]["alpha"]), 0.0)
    jax.tree_util.tree_map(np.testing.assert_array_equal,
                           _without_mone(params), bv_params)
    # A Big Vision tree plus router/alpha runs at any budget.
    logits, out = _apply(_model("gap"), {**bv_params, "Transformer": {
        **bv_params["Transformer"],
        "router": params["Transformer"]["router"],
        "alpha": params["Transformer"]["alpha"]}}, IMAGES, e_c=0.3)
    self.assertTrue(np.all(np.isfinite(logits)))
    self.assertEqual(out["experts"].shape, (2, NUM_TOKENS))

  @parameterized.parameters("mu/16", "Ti/16", "S/32", "B/16", "L/14", "So400m",
                            "g/14", "G/14", "B")
  def test_decode_variant(self, variant):
    self.assertEqual(vit.decode_variant(variant),
                     self.bv_vit.decode_variant(variant))

  def test_posemb_sincos_2d(self):
    np.testing.assert_allclose(vit.posemb_sincos_2d(4, 6, 64),
                               self.bv_vit.posemb_sincos_2d(4, 6, 64),
                               atol=1e-7)


class ModelOptionsTest(absltest.TestCase):

  def test_model_options_are_the_factory_keywords(self):
    options = vit.model_options()
    self.assertContainsSubset(
        {"num_classes", "width", "scan", "num_experts", "e_c",
         "capacity_method"}, options)
    self.assertNoCommonElements({"parent", "name"}, options)
    default = vit.Model()
    self.assertEqual(vit.Model(**{k: getattr(default, k) for k in options}),
                     default)


class ErrorsTest(parameterized.TestCase):

  @parameterized.parameters("X/16", "b/16", "Huge")
  def test_unknown_variant(self, variant):
    with self.assertRaisesRegex(ValueError,
                                rf"variant='{variant}'.*unknown.*'B'"):
      vit.Model(10, variant=variant)

  # Regression: "B/x" used to raise int()'s bare "invalid literal for int()".
  def test_bad_variant_patch(self):
    with self.assertRaisesRegex(ValueError, r"B/x"):
      vit.decode_variant("B/x")

  def test_unknown_pool_type(self):
    model = vit.Model(**TINY, pool_type="avg")
    with self.assertRaisesRegex(ValueError,
                                r"pool_type='avg'.*unknown.*'gap'.*'map'"
                                r".*'tok'"):
      jax.eval_shape(functools.partial(model.init, jax.random.PRNGKey(0)),
                     _images())

  def test_unknown_posemb(self):
    model = vit.Model(**TINY, posemb="rope")
    with self.assertRaisesRegex(ValueError,
                                r"posemb='rope'.*'learn'.*'sincos2d'"):
      jax.eval_shape(functools.partial(model.init, jax.random.PRNGKey(0)),
                     _images())

  @parameterized.parameters(
      (1.5, r"e_c=1\.5.*infeasible.*\[0\.125, 1\]"),
      (0.05, r"e_c=0\.05.*infeasible.*\[0\.125, 1\]"),
      ("abc", r"e_c='abc'.*not a number"))
  def test_bad_configured_e_c(self, e_c, msg):
    model = vit.Model(**TINY, e_c=e_c)
    with self.assertRaisesRegex(ValueError, msg):
      jax.eval_shape(functools.partial(model.init, jax.random.PRNGKey(0)),
                     _images())

  @parameterized.parameters(
      (1.5, r"e_c=1\.5.*infeasible"),
      (float("nan"), r"e_c=nan.*infeasible"))
  def test_bad_e_c_override(self, e_c, msg):
    model = vit.Model(**TINY, e_c=1.0)
    params = jax.eval_shape(
        functools.partial(model.init, jax.random.PRNGKey(0)), _images())
    with self.assertRaisesRegex(ValueError, msg):
      jax.eval_shape(functools.partial(model.apply, e_c=e_c), params,
                     _images())

  # Regression: any string override (e.g. "abc") used to run the configured
  # e_c silently.
  def test_string_e_c_override_is_not_ignored(self):
    model = vit.Model(**TINY, e_c=1.0)
    params = jax.eval_shape(
        functools.partial(model.init, jax.random.PRNGKey(0)), _images())
    with self.assertRaisesRegex(ValueError, r"e_c='abc'"):
      jax.eval_shape(functools.partial(model.apply, e_c="abc"), params,
                     _images())

  def test_width_not_divisible_by_experts(self):
    model = vit.Model(**{**TINY, "width": 36, "num_heads": 3})
    with self.assertRaisesRegex(ValueError, r"width=36.*not divisible.*8"):
      jax.eval_shape(functools.partial(model.init, jax.random.PRNGKey(0)),
                     _images())


def _max_abs_diff_ratio(got, want):
  """Largest |got - want| over the tree, relative to the largest |want|."""
  diff = max(float(np.max(np.abs(np.asarray(g) - np.asarray(w))))
             for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want)))
  return diff / max(float(np.max(np.abs(np.asarray(w))))
                    for w in jax.tree.leaves(want))


class ImplementationChoicesTest(parameterized.TestCase):
  """Every implementation choice computes the reference model."""

  @parameterized.parameters(
      dict(attention_impl="all_tokens"),
      dict(attention_impl="per_query_group"),
      dict(attention_impl="dot_product_attention"),
      dict(fuse_qkv=True),
      dict(fuse_qkv=False),
      # 2 x 16 tokens: e_c 0.4 has 2 x (4, 4, 4, 4) rows, all merged at 64.
      dict(merge_small_groups=9),
      dict(merge_small_groups=1000, fuse_qkv=True),
  )
  def test_equals_reference_on_both_paths(self, **choices):
    model = _model("tok")
    params = _random_params(model, seed=3)
    params["Transformer"]["alpha"] = jnp.float32(0.3)
    want = _apply(model, params, IMAGES, 0.4)
    chosen = model.clone(**choices)
    for variables in ({"params": params},
                      inference.prepare_inference(params)):
      got = jax.jit(lambda v, x: chosen.apply(v, x, e_c=0.4))(variables,
                                                              IMAGES)
      np.testing.assert_allclose(got[0], want[0], atol=2e-6, rtol=0)
      np.testing.assert_allclose(got[1]["pre_logits"], want[1]["pre_logits"],
                                 atol=2e-6, rtol=0)

  def test_gradients_with_choices(self):
    model = _model("gap")
    params = _random_params(model, seed=4)
    grads = [jax.jit(jax.grad(lambda p, m=m: jnp.sum(m.apply(
        {"params": p}, IMAGES, e_c=0.3)[0] ** 2)))(params) for m in (
            model, model.clone(attention_impl="dot_product_attention",
                               fuse_qkv=True, merge_small_groups=1000))]
    self.assertLess(_max_abs_diff_ratio(*grads), 1e-5)

  @parameterized.parameters(
      (dict(kernel="triton"), r"kernel='triton'.*allowed: 'xla', 'pallas'"),
      (dict(attention_impl="flash"),
       r"attention_impl='flash'.*allowed: 'all_tokens'"),
      (dict(merge_small_groups=-1), r"merge_small_groups=-1"))
  def test_bad_choice_names_the_allowed_ones(self, choice, msg):
    model = _model("gap", **choice)
    with self.assertRaisesRegex(ValueError, msg):
      jax.eval_shape(functools.partial(model.init, jax.random.PRNGKey(0)),
                     IMAGES)


class PallasKernelTest(parameterized.TestCase):
  """kernel="pallas" (interpret mode on the CPU) is the XLA model."""

  def test_forward_and_gradients_equal_xla(self):
    model = _model("tok")
    params = _random_params(model, seed=5)
    params["Transformer"]["alpha"] = jnp.float32(0.3)
    pallas = model.clone(kernel="pallas")

    def loss(m, p):
      logits, out = m.apply({"params": p}, IMAGES, e_c=0.4)
      return jnp.sum(logits ** 2), (logits, out["pre_logits"])
    (_, want), want_g = jax.jit(jax.value_and_grad(
        functools.partial(loss, model), has_aux=True))(params)
    (_, got), got_g = jax.jit(jax.value_and_grad(
        functools.partial(loss, pallas), has_aux=True))(params)
    for g, w in zip(got, want):
      np.testing.assert_allclose(g, w, atol=2e-6, rtol=0)
    self.assertLess(_max_abs_diff_ratio(got_g, want_g), 1e-5)
    # The inference path reads its prepared kernels at full width.
    variables = inference.prepare_inference(params)
    got = jax.jit(lambda v, x: pallas.apply(v, x, e_c=0.4))(variables,
                                                             IMAGES)
    np.testing.assert_allclose(got[0], want[0], atol=2e-6, rtol=0)

  @parameterized.parameters("cuda", "tpu")
  def test_lowers_for_accelerators(self, platform):
    model = _model("gap", kernel="pallas")
    params = jax.eval_shape(
        functools.partial(model.init, jax.random.PRNGKey(0)), IMAGES)
    target = {"cuda": "__gpu$xla.gpu.triton", "tpu": "tpu_custom_call"}
    checks = ([export.DisabledSafetyCheck.custom_call(target["cuda"])]
              if platform == "cuda" else [])
    exported = export.export(
        jax.jit(lambda p, x: model.apply(p, x, e_c=0.4)[0]),
        platforms=[platform], disabled_checks=checks)(
            params, jax.ShapeDtypeStruct(IMAGES.shape, jnp.float32))
    # Four nested projections per block, two blocks.
    self.assertEqual(
        exported.mlir_module().count(f"custom_call @{target[platform]}"), 8)

  def test_mixture_of_depths_has_no_pallas_kernel(self):
    model = vit.Model(**TINY, mod_capacity=0.5, e_c=None, kernel="pallas")
    with self.assertRaisesRegex(ValueError, r"kernel='pallas'.*'xla'"):
      jax.eval_shape(functools.partial(model.init, jax.random.PRNGKey(0)),
                     IMAGES)


if __name__ == "__main__":
  absltest.main()
