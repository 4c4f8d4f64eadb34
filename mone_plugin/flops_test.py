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

"""Tests of the analytic FLOP counts, against the papers and against XLA."""

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
from mone_plugin import vit

# Scenic's ViViT-B factorised encoder, 16x2 tubelets, 32 frames.
VIVIT_B = dict(num_frames=32, patch_size=16, tubelet_size=2, width=768,
               spatial_depth=12, temporal_depth=4, num_heads=12)
# Small, not tiny: elementwise ops (which XLA also counts) stay ~1% of the
# multiply-adds.
SMALL_VIT = dict(image_size=64, patch_size=8, width=512, depth=1,
                 num_heads=8, num_classes=10)
# XLA counts 2 FLOPs per multiply-add plus LayerNorm, GELU, softmax, EPR and
# other elementwise work that the analytic count excludes: its count / 2 is
# within XLA_TOL of ours (measured on CPU, jax 0.10.2: MoNE ViT on SMALL_VIT
# +0.6% dense and at e_c=1, +1.1% at e_c=0.6, +1.8% at e_c=0.3, +2.6% at
# e_c=0.2, where the elementwise work is a larger share; Scenic's ViViT at
# width 256 +1.0%).
XLA_TOL = 0.03


def xla_gflops(model, x, **kw):
  """XLA's count (2 per multiply-add) / 2, of the logits only.

  Only the logits are returned, so XLA drops Big Vision's per-token
  `logits_2d`, which the papers' counts do not include.
  """
  params = jax.eval_shape(
      lambda x: model.init(jax.random.PRNGKey(0), x, **kw), x)

  def logits(params, x):
    out = model.apply(params, x, **kw)
    return out[0] if isinstance(out, tuple) else out  # Scenic: logits only.

  fn = jax.jit(logits)
  cost = fn.lower(params, x).compile().cost_analysis()
  if isinstance(cost, (list, tuple)):  # Older JAX: one dict per device.
    cost = cost[0]
  return cost["flops"] / 2 / x.shape[0] / 1e9


class PaperFiguresTest(absltest.TestCase):

  def test_vit_b16(self):
    # The paper: ~17.5 GFLOPs (a class token, as the original ViT).
    self.assertAlmostEqual(
        flops.vit_gflops(pool_type="tok") / 17.5, 1.0, delta=0.02)
    self.assertAlmostEqual(flops.vit_gflops() / 17.5, 1.0, delta=0.02)

  def test_vivit_fe_b16x2(self):
    ssv2 = flops.vivit_gflops(image_size=256, num_classes=174, **VIVIT_B)
    k400 = flops.vivit_gflops(image_size=224, num_classes=400, **VIVIT_B)
    self.assertAlmostEqual(ssv2 / 376.3, 1.0, delta=0.02)
    self.assertAlmostEqual(k400 / 283.0, 1.0, delta=0.02)
    self.assertAlmostEqual(k400 / 284.4, 1.0, delta=0.02)  # ViViT paper.

  def test_vivit_breakdown(self):
    b = flops.vivit_flops_breakdown(image_size=224, **VIVIT_B)
    # 16 frames x 12 layers of 197 tokens, 4 temporal layers of 17 tokens.
    layer = lambda n: 12 * n * 768**2 + 2 * n * n * 768
    self.assertAlmostEqual(b["spatial"], 16 * 12 * layer(197) / 1e9)
    self.assertAlmostEqual(b["temporal"], 4 * layer(17) / 1e9)
    self.assertAlmostEqual(b["embedding"], 16 * 196 * 2 * 16 * 16 * 3 * 768
                           / 1e9)
    self.assertEqual(b["router"], 0.0)


class MoneCountTest(parameterized.TestCase):

  def test_decreases_with_e_c(self):
    e_cs = np.linspace(0.125, 1.0, 36)
    vit_g = [flops.vit_gflops(e_c=e) for e in e_cs]
    vivit_g = [flops.vivit_gflops(e_c=e, **VIVIT_B) for e in e_cs]
    self.assertTrue(np.all(np.diff(vit_g) > 0), vit_g)
    self.assertTrue(np.all(np.diff(vivit_g) > 0), vivit_g)
    self.assertLess(vit_g[0], 0.2 * vit_g[-1])

  @parameterized.parameters("gap", "tok", "map")
  def test_full_capacity_is_dense_plus_router(self, pool_type):
    kw = dict(width=384, depth=12, num_heads=6, pool_type=pool_type)
    dense = flops.vit_flops_breakdown(**kw)
    full = flops.vit_flops_breakdown(e_c=1.0, **kw)
    router = 196 * 384 * 4 / 1e9
    self.assertAlmostEqual(full["router"], router)
    self.assertAlmostEqual(full["total"] - dense["total"], router)
    for k in dense:
      if k not in ("router", "total"):
        self.assertAlmostEqual(full[k], dense[k], msg=k)
    v_dense = flops.vivit_gflops(**VIVIT_B)
    v_full = flops.vivit_gflops(e_c=1.0, **VIVIT_B)
    self.assertAlmostEqual(v_full - v_dense, 16 * 196 * 768 * 4 / 1e9)

  def test_projections_scale_with_expert_buckets(self):
    # N = 64 tokens, D = 256: buckets from the real EPR bucket sizes.
    kw = dict(image_size=64, patch_size=8, width=256, depth=3, num_heads=4)
    caps = capacity.capacity_distribution(0.4)
    ks = capacity.tokens_per_expert(caps, 64)
    dims = capacity.expert_dims(256)
    b = flops.vit_flops_breakdown(e_c=0.4, **kw)
    dense = flops.vit_flops_breakdown(**kw)
    token_width = sum(k * d for k, d in zip(ks, dims))
    self.assertAlmostEqual(b["mlp"], 3 * 2 * token_width * 1024 / 1e9)
    self.assertAlmostEqual(b["attention_projections"],
                           3 * 4 * token_width * 256 / 1e9)
    self.assertEqual(b["attention"], dense["attention"])  # Full D, all tokens.
    # Continuous capacities cost exactly e_c of the dense projections.
    c = flops.vit_flops_breakdown(e_c=0.4, continuous=True, **kw)
    self.assertAlmostEqual(c["mlp"], 0.4 * dense["mlp"])
    self.assertLessEqual(b["mlp"], c["mlp"])

  @parameterized.parameters(0.15, 0.3, 0.45, 0.6, 0.95)
  def test_inverse_round_trips(self, e_c):
    g = flops.vit_gflops(e_c=e_c, continuous=True)
    self.assertAlmostEqual(flops.e_c_for_gflops(g), e_c, places=7)
    # With EPR's floor-rounded buckets the budget is met from below, closely.
    budget = flops.vit_gflops(e_c=e_c)
    got = flops.e_c_for_gflops(budget)
    self.assertLessEqual(flops.vit_gflops(e_c=got), budget * (1 + 1e-12))
    self.assertAlmostEqual(got, e_c, delta=0.01)
    g = flops.vivit_gflops(e_c=e_c, continuous=True, **VIVIT_B)
    self.assertAlmostEqual(
        flops.e_c_for_gflops(g, model="vivit", **VIVIT_B), e_c, places=7)

  def test_inverse_greedy_method(self):
    g = flops.vit_gflops(e_c=0.5, capacity_method="greedy", continuous=True)
    self.assertAlmostEqual(
        flops.e_c_for_gflops(g, capacity_method="greedy"), 0.5, places=7)

  def test_inverse_infeasible_budget(self):
    lo, hi = flops.gflops_range()
    self.assertLess(lo, hi)
    for budget in (1.0, 100.0):
      with self.assertRaisesRegex(
          ValueError, rf"budget of {budget} GFLOPs is infeasible.*"
          rf"\[{lo:.4g}, {hi:.4g}\] GFLOPs"):
        flops.e_c_for_gflops(budget)
    with self.assertRaisesRegex(ValueError, "fixes its own capacities"):
      flops.e_c_for_gflops(10.0, capacity_method="uniform")

  def test_bad_arguments(self):
    with self.assertRaisesRegex(ValueError, "pool_type='cls'"):
      flops.vit_gflops(pool_type="cls")
    with self.assertRaisesRegex(ValueError, "classifier='cls'"):
      flops.vivit_gflops(classifier="cls")
    with self.assertRaisesRegex(ValueError, "image_size=8"):
      flops.vit_gflops(image_size=8)
    with self.assertRaisesRegex(ValueError, "not divisible"):
      flops.vit_gflops(width=100, num_heads=4, e_c=0.5)
    with self.assertRaisesRegex(ValueError, "e_c=0.1 is infeasible"):
      flops.vit_gflops(e_c=0.1)
    with self.assertRaisesRegex(ValueError, "model='vid'"):
      flops.e_c_for_gflops(1.0, model="vid")


class BaselineCountTest(absltest.TestCase):
  """Mixture-of-Depths and the nested (MatViT-style) models."""

  def test_mod_breakdown(self):
    # ViT-B/16, 196 patches: 6 dense blocks, 6 of floor(196/8) = 24 tokens.
    b = flops.vit_flops_breakdown(mod_capacity=0.125)
    layer = lambda n: 12 * n * 768**2 + 2 * n * n * 768
    blocks = (6 * layer(196) + 6 * layer(24)) / 1e9
    self.assertAlmostEqual(
        b["attention_projections"] + b["mlp"] + b["attention"], blocks)
    self.assertAlmostEqual(b["router"], 6 * 196 * 768 / 1e9)
    dense = flops.vit_flops_breakdown()
    self.assertAlmostEqual(b["head"], dense["head"])
    self.assertAlmostEqual(b["embedding"], dense["embedding"])
    # About 56% of the dense model: half the blocks at 12.5% of the tokens.
    self.assertBetween(b["total"] / dense["total"], 0.55, 0.57)
    # The class token is processed by every block.
    tok = flops.vit_flops_breakdown(mod_capacity=0.125, pool_type="tok",
                                    depth=2)
    self.assertAlmostEqual(tok["mlp"], 2 * (197 + 25) * 768 * 3072 / 1e9)

  def test_mod_bad_arguments(self):
    with self.assertRaisesRegex(ValueError, "no nested experts"):
      flops.vit_gflops(mod_capacity=0.125, e_c=0.5)
    with self.assertRaisesRegex(ValueError, "mod_every=0"):
      flops.vit_gflops(mod_capacity=0.125, mod_every=0)
    with self.assertRaisesRegex(ValueError, "capacity=0"):
      flops.vit_gflops(mod_capacity=0)

  def test_one_hot_capacities_are_nested_widths(self):
    # Every token on expert j costs d_j / D of the projections: the e_c of
    # that expert, whose capacities are one-hot (continuous count included).
    for j, d in enumerate(capacity.expert_dims(768)):
      caps = tuple(np.eye(4)[j])
      b = flops.vit_flops_breakdown(e_c=caps)
      dense = flops.vit_flops_breakdown()
      self.assertAlmostEqual(b["mlp"], d / 768 * dense["mlp"])
      self.assertEqual(b["attention"], dense["attention"])
      self.assertAlmostEqual(
          b["total"], flops.vit_gflops(e_c=caps, continuous=True))
    self.assertAlmostEqual(flops.vit_gflops(e_c=(0, 0, 0, 1)),
                           flops.vit_gflops(e_c=1.0))
    with self.assertRaisesRegex(ValueError, "one entry per expert"):
      flops.vit_gflops(e_c=(0.5, 0.5))


class XlaAgreementTest(parameterized.TestCase):
  """Our count x 2 against XLA's cost analysis of the real models."""

  @parameterized.parameters(
      dict(e_c=None, pool_type="gap"),
      dict(e_c=1.0, pool_type="tok"),
      dict(e_c=0.6, pool_type="gap"),
      dict(e_c=0.3, pool_type="tok"),
  )
  def test_mone_vit(self, e_c, pool_type):
    cfg = dict(SMALL_VIT, pool_type=pool_type)
    kw = {k: v for k, v in cfg.items() if k not in ("image_size", "patch_size")}
    model = vit.Model(**kw, patch_size=(8, 8), e_c=e_c)
    got = xla_gflops(model, jnp.zeros((1, 64, 64, 3)))
    want = flops.vit_gflops(e_c=e_c, **cfg)
    self.assertAlmostEqual(got / want, 1.0, delta=XLA_TOL)

  @parameterized.parameters("gap", "tok")
  def test_mod_vit(self, pool_type):
    # Depth 2: one dense block, one block of 8 of the 64 tokens.
    cfg = dict(SMALL_VIT, pool_type=pool_type, depth=2)
    kw = {k: v for k, v in cfg.items() if k not in ("image_size", "patch_size")}
    model = vit.Model(**kw, patch_size=(8, 8), e_c=None, mod_capacity=0.125)
    got = xla_gflops(model, jnp.zeros((1, 64, 64, 3)))
    want = flops.vit_gflops(mod_capacity=0.125, **cfg)
    self.assertAlmostEqual(got / want, 1.0, delta=XLA_TOL)
    self.assertLess(want, 0.6 * flops.vit_gflops(**cfg))

  def test_nested_width_model(self):
    # Capacities one-hot on expert 2 (width D/2): the nested model.
    caps = (0.0, 0.0, 1.0, 0.0)
    kw = {k: v for k, v in SMALL_VIT.items()
          if k not in ("image_size", "patch_size")}
    model = vit.Model(**kw, patch_size=(8, 8), e_c=caps)
    got = xla_gflops(model, jnp.zeros((1, 64, 64, 3)))
    want = flops.vit_gflops(e_c=caps, **SMALL_VIT)
    self.assertAlmostEqual(got / want, 1.0, delta=XLA_TOL)

  def test_scenic_vivit_dense(self):
    if not frameworks.available("scenic"):
      self.skipTest("Scenic not found (see mone_plugin/frameworks.py).")
    vivit_model = importlib.import_module("scenic.projects.vivit.model")
    cfg = ml_collections.ConfigDict
    model = vivit_model.SpaceTimeViViT(
        spatial_mlp_dim=1024, spatial_num_layers=1, spatial_num_heads=4,
        temporal_mlp_dim=1024, temporal_num_layers=1, temporal_num_heads=4,
        num_classes=10, patches=cfg({"size": (8, 8, 2)}), hidden_size=256,
        temporal_encoding_config=cfg({"method": "3d_conv"}),
        attention_config=cfg({"type": "factorized_encoder"}),
        classifier="token", dropout_rate=0., attention_dropout_rate=0.)
    got = xla_gflops(model, jnp.zeros((1, 8, 64, 64, 3)), train=False)
    want = flops.vivit_gflops(
        num_frames=8, image_size=64, patch_size=8, tubelet_size=2, width=256,
        spatial_depth=1, temporal_depth=1, num_heads=4, num_classes=10)
    self.assertAlmostEqual(got / want, 1.0, delta=XLA_TOL)


if __name__ == "__main__":
  absltest.main()
