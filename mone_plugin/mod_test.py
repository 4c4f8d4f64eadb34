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
"""Tests of the Mixture-of-Depths baseline (`mod.py`, `vit` with MoD)."""

from absl.testing import absltest
from absl.testing import parameterized
import jax
import jax.numpy as jnp
import numpy as np

from mone_plugin import capacity
from mone_plugin import mod
from mone_plugin import vit

# 8x8 = 64 tokens: a MoD block processes 8 of them.
TINY = dict(patch_size=(4, 4), width=32, depth=4, mlp_dim=64, num_heads=2,
            e_c=None, mod_capacity=0.125, scan=False)


def _images(batch=2):
  return jax.random.normal(jax.random.PRNGKey(1), (batch, 32, 32, 3))


class TopKTokensTest(parameterized.TestCase):

  @parameterized.parameters((0.125, 64, 8), (0.125, 196, 24), (0.3, 10, 3),
                            (0.01, 10, 1), (1.0, 5, 5))
  def test_floor_at_least_one(self, c, n, k):
    self.assertEqual(capacity.top_k_tokens(c, n), k)

  def test_bad_capacity(self):
    for c in (0.0, 1.5, -0.1, True):
      with self.assertRaisesRegex(ValueError, "must be in"):
        capacity.top_k_tokens(c, 64)
    with self.assertRaisesRegex(ValueError, "num_tokens=0"):
      capacity.top_k_tokens(0.5, 0)


class ModViTTest(parameterized.TestCase):

  @parameterized.parameters("gap", "tok")
  def test_shapes_and_params(self, pool_type):
    model = vit.Model(10, **TINY, pool_type=pool_type)
    variables = model.init(jax.random.PRNGKey(0), _images())
    logits, out = model.apply(variables, _images())
    self.assertEqual(logits.shape, (2, 10))
    enc = out["encoder"]
    self.assertEqual(sorted(k for k in enc if k.startswith("block")),
                     [f"block{i:02d}" for i in range(4)])
    # Every other block (the 2nd and 4th) processes 8 of the 64 patches.
    for lyr in (1, 3):
      self.assertEqual(enc[f"block{lyr:02d}"]["mod_tokens"].shape, (2, 8))
    for lyr in (0, 2):
      self.assertNotIn("mod_tokens", enc[f"block{lyr:02d}"])
    # The dense ViT's parameters plus one router per routed block.
    params = variables["params"]["Transformer"]
    dense = vit.Model(10, **dict(TINY, mod_capacity=None),
                      pool_type=pool_type).init(
                          jax.random.PRNGKey(0), _images())["params"]
    extra = set(params) - set(dense["Transformer"])
    self.assertEqual(extra, {"router_1", "router_3"})
    self.assertEqual(params["router_1"]["kernel"].shape, (32, 1))
    self.assertEqual(set(dense["Transformer"]) - set(params),
                     {"router", "alpha"})

  def test_skipped_tokens_unchanged_by_routed_blocks(self):
    model = vit.Model(10, **TINY)
    variables = model.init(jax.random.PRNGKey(0), _images())
    _, out = model.apply(variables, _images())
    enc = out["encoder"]
    before, after = enc["block00"]["+mlp"], enc["block01"]["+mlp"]
    chosen = np.zeros(before.shape[:2], bool)
    np.put_along_axis(chosen, np.asarray(enc["block01"]["mod_tokens"]), True,
                      axis=1)
    self.assertEqual(chosen.sum(), 2 * 8)
    np.testing.assert_array_equal(np.asarray(after)[~chosen],
                                  np.asarray(before)[~chosen])
    self.assertTrue(np.all(np.any(
        np.asarray(after)[chosen] != np.asarray(before)[chosen], -1)))
    # The chosen tokens are the top 8 by router score.
    scores = np.asarray(enc["block01"]["mod_scores"])
    top = np.sort(np.argsort(-scores, -1)[:, :8], -1)
    np.testing.assert_array_equal(
        np.sort(np.asarray(enc["block01"]["mod_tokens"]), -1), top)

  def test_router_gets_a_gradient(self):
    model = vit.Model(10, **dict(TINY, head_zeroinit=False))
    params = model.init(jax.random.PRNGKey(0), _images())["params"]
    labels = jax.nn.one_hot(jnp.arange(2), 10)

    def loss(params):
      logits, _ = model.apply({"params": params}, _images(), train=True)
      return -jnp.sum(labels * jax.nn.log_softmax(logits))

    grads = jax.grad(loss)(params)["Transformer"]
    for name in ("router_1", "router_3"):
      self.assertGreater(float(jnp.linalg.norm(grads[name]["kernel"])), 0.0)

  def test_every_and_full_capacity(self):
    self.assertEqual([mod.is_routed(i) for i in range(4)],
                     [False, True, False, True])
    self.assertEqual([mod.is_routed(i, 3) for i in range(6)],
                     [False, False, True, False, False, True])
    # With capacity 1 a routed block processes all 64 tokens.
    model = vit.Model(10, **dict(TINY, mod_capacity=1.0))
    variables = model.init(jax.random.PRNGKey(0), _images())
    _, out = model.apply(variables, _images())
    self.assertEqual(out["encoder"]["block01"]["mod_tokens"].shape, (2, 64))

  def test_misuse_is_a_clear_error(self):
    model = vit.Model(10, **dict(TINY, e_c=0.5))
    with self.assertRaisesRegex(ValueError, "has no nested experts"):
      model.init(jax.random.PRNGKey(0), _images())
    model = vit.Model(10, **dict(TINY, scan=True))
    with self.assertRaisesRegex(ValueError, "set scan=False"):
      model.init(jax.random.PRNGKey(0), _images())


if __name__ == "__main__":
  absltest.main()
