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

"""Tests of the MoNE ViViT factorised encoder, against Scenic's own."""

import importlib

from absl.testing import absltest
from absl.testing import parameterized
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from mone_plugin import capacity
from mone_plugin import flops
from mone_plugin import frameworks
from mone_plugin import inference
from mone_plugin import vivit

_MONE_ONLY = ("router", "alpha")


def tiny_config(classifier="token", representation_size=None):
  """Scenic SpaceTimeViViT fields of a tiny model: 4x32x32 clips, 2 frames."""
  cfg = ml_collections.ConfigDict
  return dict(
      spatial_mlp_dim=128, spatial_num_layers=1, spatial_num_heads=2,
      temporal_mlp_dim=96, temporal_num_layers=1, temporal_num_heads=2,
      num_classes=5, patches=cfg({"size": (8, 8, 2)}), hidden_size=64,
      temporal_encoding_config=cfg({"method": "3d_conv"}),
      attention_config=cfg({"type": "factorized_encoder"}),
      classifier=classifier, representation_size=representation_size,
      dropout_rate=0.0, attention_dropout_rate=0.0)


def without_mone(params):
  """The params less the transformers' router and alpha (Scenic's tree)."""
  return {k: ({n: p for n, p in v.items() if n not in _MONE_ONLY}
              if isinstance(v, dict) else v) for k, v in params.items()}


def random_params(model, x, seed=0):
  """Random non-zero values for every parameter (heads and cls included).

  Drawn with numpy from the abstract tree (cheaper than `model.init`); alpha
  stays 0, its initial value, and LayerNorm scales stay near 1.
  """
  rng = np.random.default_rng(seed)

  def draw(path, leaf):
    name = jax.tree_util.keystr(path[-1:])
    if "alpha" in name:
      return jnp.zeros(leaf.shape, leaf.dtype)
    noise = rng.normal(size=leaf.shape).astype(leaf.dtype)
    if "scale" in name:
      return jnp.asarray(1.0 + 0.1 * noise)
    fan_in = leaf.shape[0] if len(leaf.shape) == 2 else 64
    return jnp.asarray(noise / np.sqrt(fan_in))

  tree = jax.eval_shape(model.init, jax.random.PRNGKey(0), x)["params"]
  return jax.tree_util.tree_map_with_path(draw, tree)


def scenic_vivit():
  if not frameworks.available("scenic"):
    raise absltest.SkipTest("Scenic not found (see mone_plugin/frameworks.py).")
  return importlib.import_module("scenic.projects.vivit.model")


def shapes(tree):
  return jax.tree_util.tree_map(lambda a: tuple(a.shape), tree)


class ScenicCompatibilityTest(parameterized.TestCase):

  @parameterized.parameters(("token", None), ("gap", 48))
  def test_param_tree_is_scenics(self, classifier, representation_size):
    sv = scenic_vivit()
    cfg = tiny_config(classifier, representation_size)
    x = jnp.zeros((1, 4, 32, 32, 3))
    ours = jax.eval_shape(vivit.SpaceTimeViViT(**cfg).init,
                          jax.random.PRNGKey(0), x)
    theirs = jax.eval_shape(
        lambda x: sv.SpaceTimeViViT(**cfg).init(jax.random.PRNGKey(0), x,
                                                train=False), x)
    self.assertEqual(shapes(without_mone(ours["params"])),
                     shapes(theirs["params"]))
    for name in ("SpatialTransformer", "TemporalTransformer"):
      self.assertEqual(shapes(ours["params"][name]["router"]),
                       {"bias": (4,), "kernel": (64, 4)})
      self.assertEqual(ours["params"][name]["alpha"].shape, ())

  @parameterized.parameters(("token", (1.0, None)), ("gap", (1.0,)))
  def test_full_capacity_computes_scenics_vivit(self, classifier, e_cs):
    sv = scenic_vivit()
    cfg = tiny_config(classifier)
    x = jax.random.normal(jax.random.PRNGKey(1), (2, 4, 32, 32, 3))
    model = vivit.SpaceTimeViViT(**cfg)
    params = random_params(model, x)  # alpha at its initial 0.
    scenic_params = without_mone(params)
    want = jax.jit(lambda p, x: sv.SpaceTimeViViT(**cfg).apply(
        {"params": p}, x, train=False))(scenic_params, x)
    self.assertGreater(float(jnp.std(want)), 0.1)
    for e_c in e_cs:
      got, out = jax.jit(lambda p, x, e_c=e_c: model.apply(
          {"params": p}, x, e_c=e_c))(params, x)
      np.testing.assert_allclose(got, want, atol=2e-5, rtol=2e-5)
      if e_c is not None:
        self.assertTrue(np.all(out["experts"] == 3))


class RoutingTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    model = vivit.SpaceTimeViViT(**tiny_config(), e_c=0.4)
    params = random_params(model, jnp.zeros((1, 4, 32, 32, 3)))
    # One compilation per input shape, shared by the tests.
    cls.apply = staticmethod(jax.jit(
        lambda x: model.apply({"params": params}, x)[1]))

  def test_outputs(self):
    # Same shape as the other test's clips: one compilation.
    out = self.apply(jax.random.normal(jax.random.PRNGKey(2), (1, 4, 32, 32,
                                                               3)))
    self.assertEqual(out["experts"].shape, (1, 2, 16))
    self.assertEqual(out["router_probs"].shape, (1, 2, 16, 4))
    self.assertEqual(out["frame_tokens"].shape, (1, 2, 64))
    # Every frame fills its own EPR buckets.
    ks = capacity.tokens_per_expert(out["capacities"], 16)
    counts = np.stack([np.sum(out["experts"] == j, -1) for j in range(4)], -1)
    np.testing.assert_array_equal(counts, np.broadcast_to(ks, (1, 2, 4)))

  def test_routes_each_frame_on_its_own(self):
    clip = jax.random.normal(jax.random.PRNGKey(5), (1, 4, 32, 32, 3))
    experts = self.apply(clip)["experts"][0]
    self.assertFalse(np.array_equal(experts[0], experts[1]))
    for t in range(2):
      tubelet = clip[:, 2 * t:2 * t + 2]
      alone = self.apply(jnp.tile(tubelet, [1, 2, 1, 1, 1]))["experts"][0]
      # A clip of identical frames routes every frame identically...
      np.testing.assert_array_equal(alone[0], alone[1])
      # ... and as that frame is routed inside any other clip.
      np.testing.assert_array_equal(alone[0], experts[t])


class InferencePathTest(absltest.TestCase):

  def test_equals_params_path(self):
    # Routed spatial and dense temporal transformers both take the path.
    model = vivit.SpaceTimeViViT(**tiny_config(), e_c=0.4)
    x = jax.random.normal(jax.random.PRNGKey(3), (2, 4, 32, 32, 3))
    params = random_params(model, x, seed=4)
    for name in ("SpatialTransformer", "TemporalTransformer"):
      params[name]["alpha"] = jnp.float32(0.4)
    variables = inference.prepare_inference(params)
    self.assertIn("TemporalTransformer", variables["inference"])
    for e_c in (None, 0.4, 1.0):
      f = jax.jit(lambda v, x, e_c=e_c: model.apply(v, x, e_c=e_c)[0])
      np.testing.assert_allclose(f(variables, x), f({"params": params}, x),
                                 atol=1e-5, rtol=0, err_msg=f"e_c={e_c}")


class GflopsTest(parameterized.TestCase):

  @parameterized.parameters(None, 1.0, 0.4)
  def test_agrees_with_xla(self, e_c):
    # Small, not tiny: XLA's elementwise ops stay ~1% of the multiply-adds.
    model = vivit.SpaceTimeViViT(
        spatial_mlp_dim=1024, spatial_num_layers=1, spatial_num_heads=4,
        temporal_mlp_dim=1024, temporal_num_layers=1, temporal_num_heads=4,
        num_classes=10, patches={"size": (8, 8, 2)}, hidden_size=256,
        e_c=e_c)
    x = jnp.zeros((1, 4, 64, 64, 3))
    params = jax.eval_shape(model.init, jax.random.PRNGKey(0), x)
    fn = jax.jit(lambda p, x: model.apply(p, x)[0])
    cost = fn.lower(params, x).compile().cost_analysis()
    if isinstance(cost, (list, tuple)):
      cost = cost[0]
    want = model.gflops(x.shape[1:])
    self.assertAlmostEqual(want, flops.vivit_gflops(
        num_frames=4, image_size=64, patch_size=8, width=256,
        spatial_depth=1, temporal_depth=1, num_heads=4, num_classes=10,
        e_c=e_c))
    # XLA: 2 FLOPs per multiply-add, plus elementwise work (measured +1.0%
    # dense and at e_c=1, +2.4% at e_c=0.4).
    self.assertAlmostEqual(cost["flops"] / 2e9 / want, 1.0, delta=0.03)


class ConfigTest(parameterized.TestCase):

  @parameterized.parameters(
      (dict(attention_config={"type": "spacetime"}), "attention_config.type"),
      (dict(temporal_encoding_config={"method": "temporal_sampling"}),
       "temporal_encoding_config.method"),
      (dict(stochastic_droplayer_rate=1.0), "stochastic_droplayer_rate=1.0"),
      (dict(classifier="cls"), "classifier='cls'"),
      (dict(e_c=0.05), "e_c=0.05 is infeasible"),
  )
  def test_bad_config(self, kw, message):
    cfg = {**tiny_config(), **kw}
    with self.assertRaisesRegex(ValueError, message):
      vivit.SpaceTimeViViT(**cfg).init(jax.random.PRNGKey(0),
                                       jnp.zeros((1, 4, 32, 32, 3)))


if __name__ == "__main__":
  absltest.main()
