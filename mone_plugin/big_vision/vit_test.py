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

"""The MoNE module stands in for `big_vision.models.vit` (shapes only)."""

import unittest

from mone_plugin import frameworks

if not frameworks.available("big_vision"):
  raise unittest.SkipTest("Big Vision not found: set $BIG_VISION_DIR or "
                          "clone it to ~/frameworks/big_vision.")

# pylint: disable=g-import-not-at-top,g-bad-import-order
from absl.testing import absltest
from absl.testing import parameterized
from big_vision.models import vit as bv_vit
import jax
import jax.numpy as jnp

import mone_plugin.big_vision  # pylint: disable=unused-import
from mone_plugin.big_vision import vit
# pylint: enable=g-import-not-at-top,g-bad-import-order


def _outputs(module, image):
  """(params shapes, out) of one forward, traced only (nothing compiles)."""
  def fwd():
    variables = module.init(jax.random.PRNGKey(0), image)
    return variables["params"], module.apply(variables, image)[1]
  return jax.eval_shape(fwd)


class StandInTest(parameterized.TestCase):

  def test_every_public_name_of_big_vision_vit(self):
    # Functions and classes defined there (not its imports), and constants.
    public = {n for n in dir(bv_vit) if not n.startswith("_") and (
        getattr(getattr(bv_vit, n), "__module__", None) == bv_vit.__name__
        or n.isupper())}
    missing = sorted(n for n in public if not hasattr(vit, n))
    self.assertEmpty(missing)
    for name in ("resample_posemb", "fix_old_checkpoints", "pyloop_to_scan",
                 "scan_to_pyloop", "get_posemb", "MAPHead", "decode_variant"):
      self.assertIs(getattr(vit, name), getattr(bv_vit, name), name)

  @parameterized.parameters("mu", "Ti/16", "So400m/14", "g/14", "g-opt/14",
                            "G/14", "G-opt/14", "e/14")
  def test_every_variant(self, variant):
    image = jnp.zeros((1, 28, 28, 3))
    self.assertEqual(vit.Model(variant=variant).depth,
                     bv_vit.decode_variant(variant)["depth"])
    # Its width, heads and MLP with MoNE (one layer: traced quickly).
    model = vit.Model(10, variant=variant, e_c=0.5, depth=1)
    self.assertEqual(model.width, bv_vit.decode_variant(variant)["width"])
    params = jax.eval_shape(
        lambda: model.init(jax.random.PRNGKey(0), image)["params"])
    self.assertIn("router", params["Transformer"])

  @parameterized.parameters(False, True)
  def test_outputs_and_params_are_big_vision_vits(self, scan):
    image = jnp.zeros((2, 32, 32, 3))
    kw = dict(variant="mu/8", pool_type="tok", rep_size=True, scan=scan)
    bv_params, bv_out = _outputs(bv_vit.Model(10, depth=2, **kw), image)
    params, out = _outputs(vit.Model(10, depth=2, e_c=0.5, **kw), image)
    shapes = lambda t: jax.tree_util.tree_map(lambda a: a.shape, t)
    params["Transformer"] = {k: v for k, v in params["Transformer"].items()
                             if k not in ("router", "alpha")}
    self.assertEqual(shapes(params), shapes(bv_params))
    self.assertContainsSubset(set(bv_out), set(out))
    self.assertEqual(sorted(bv_out["encoder"]),
                     sorted(k for k in out["encoder"]
                            if k not in ("experts", "router_probs")))
    for name in ("block00", "block01"):
      self.assertEqual(out["encoder"][name]["+mlp"].shape,
                       bv_out["encoder"][name]["+mlp"].shape)
    for name in bv_out:
      if name != "encoder":
        self.assertEqual(shapes(out[name]), shapes(bv_out[name]), name)

  def test_scanned_block_outputs_equal_big_vision_at_full_width(self):
    # The per-block outputs of a scanned MoNE ViT on the dense path are Big
    # Vision's, value for value, on Big Vision's own weights.
    image = jax.random.normal(jax.random.PRNGKey(1), (2, 32, 32, 3))
    kw = dict(variant="mu/8", depth=2, scan=True)
    bv_model = bv_vit.Model(10, **kw)
    bv_params = bv_model.init(jax.random.PRNGKey(0), image)["params"]
    model = vit.Model(10, e_c=None, **kw)
    params = model.init(jax.random.PRNGKey(0), image)["params"]
    params = {**bv_params, "Transformer": {
        **bv_params["Transformer"],
        **{k: params["Transformer"][k] for k in ("router", "alpha")}}}
    _, bv_out = bv_model.apply({"params": bv_params}, image)
    _, out = model.apply({"params": params}, image)
    for name in ("block00", "block01"):
      self.assertLess(float(jnp.max(jnp.abs(
          out["encoder"][name]["+mlp"] - bv_out["encoder"][name]["+mlp"]))),
                      1e-5, name)
    # At a budget too (tokens back in their input order): same shapes.
    _, out = model.apply({"params": params}, image, e_c=0.5)
    self.assertEqual(out["encoder"]["block01"]["+mlp"].shape,
                     bv_out["encoder"]["block01"]["+mlp"].shape)


if __name__ == "__main__":
  absltest.main()
