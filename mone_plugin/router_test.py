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

"""Tests of the router, alpha and the router metrics the trainers log.

The gradient that reaches the router through alpha inside a MoNE encoder is
tested with the encoder, in `layers_test.py`.
"""

from absl.testing import absltest
from absl.testing import parameterized
import jax
import jax.numpy as jnp
import numpy as np
from scipy import special

from mone_plugin import router

WIDTH = 64


def _normal(shape, seed=0):
  return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def _params(seed=0, num_experts=4):
  """Router variables with a random kernel and a random (nonzero) bias."""
  rng = np.random.default_rng(seed)
  kernel = rng.normal(size=(WIDTH, num_experts)) / np.sqrt(WIDTH)
  bias = 0.3 * rng.normal(size=(num_experts,))
  return {"params": {"kernel": jnp.asarray(kernel, jnp.float32),
                     "bias": jnp.asarray(bias, jnp.float32)}}


class RouterTest(absltest.TestCase):

  def test_softmax_of_dense(self):
    x = _normal((2, 7, WIDTH))
    params = _params()
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), params["params"])
    want = special.softmax(np.asarray(x, np.float64) @ p["kernel"] + p["bias"],
                           axis=-1)
    got = router.Router(4).apply(params, x)
    self.assertEqual(got.dtype, jnp.float32)
    np.testing.assert_allclose(got, want, atol=1e-5)

  def test_random_router_ignores_input(self):
    x = _normal((2, 7, WIDTH))
    module = router.Router(4, "random")
    params = _params()
    run = jax.jit(lambda x, seed: module.apply(
        params, x, rngs={"router": jax.random.PRNGKey(seed)}))
    a, b, c = run(x, 2), run(3 * x, 2), run(x, 3)
    np.testing.assert_allclose(jnp.sum(a, -1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(a, b)
    self.assertFalse(np.allclose(a, c))

  def test_router_noise_only_in_training(self):
    # Gumbel noise on the logits when a "router" rng is given (training);
    # without one (evaluation, serving) the router is the clean softmax.
    x = _normal((2, 7, WIDTH))
    clean, noisy = router.Router(4), router.Router(4, noise=1.0)
    params = _params()
    want = clean.apply(params, x)
    np.testing.assert_array_equal(noisy.apply(params, x), want)
    a = noisy.apply(params, x, rngs={"router": jax.random.PRNGKey(1)})
    b = noisy.apply(params, x, rngs={"router": jax.random.PRNGKey(2)})
    np.testing.assert_allclose(jnp.sum(a, -1), 1.0, atol=1e-6)
    self.assertFalse(np.allclose(a, want))
    self.assertFalse(np.allclose(a, b))
    # The noisy scores still depend on the input (and pass it a gradient).
    g = jax.grad(lambda p: noisy.apply(
        p, x, rngs={"router": jax.random.PRNGKey(1)})[..., 0].sum())(params)
    self.assertGreater(np.abs(g["params"]["kernel"]).max(), 0.0)

  def test_unknown_router_type(self):
    with self.assertRaisesRegex(ValueError,
                                r"router_type='learnt'.*'learned'.*'random'"):
      router.Router(4, "learnt").init(jax.random.PRNGKey(0),
                                      jnp.zeros((1, 2, 8)))


class AlphaTest(parameterized.TestCase):

  @parameterized.parameters(-50.0, -1.0, 0.0, 0.3, 50.0)
  def test_effective_alpha_in_the_papers_range(self, raw):
    a = float(router.effective_alpha(jnp.float32(raw)))
    self.assertGreaterEqual(a, 0.0)
    self.assertLessEqual(a, 1.0)  # tanh rounds to 1.0 in f32 only far out.
    self.assertEqual(a == 0.0, raw == 0.0)

  def test_reflected_derivative(self):
    # |.| has no derivative at 0: alpha's is +1 there, so the first update
    # moves alpha off 0 whichever way the loss pushes it.
    grad = jax.grad(router.effective_alpha)
    self.assertEqual(float(grad(0.0)), 1.0)
    self.assertAlmostEqual(float(grad(-0.5)), -float(grad(0.5)), places=6)


class RouterMetricsTest(absltest.TestCase):

  def test_one_pair_per_routed_encoder(self):
    enc = lambda alpha: {"router": {"kernel": jnp.full((2, 4), 3.0),
                                    "bias": jnp.full((4,), 4.0)},
                         "alpha": jnp.float32(alpha)}
    params = {"SpatialTransformer": enc(0.5), "TemporalTransformer": enc(0.5),
              "head": {"kernel": jnp.zeros((2, 2))}}
    metrics = router.router_metrics(params, params)
    # The temporal transformer runs dense and never uses its router.
    self.assertEqual(set(metrics), {"alpha/SpatialTransformer",
                                    "l2_router_grads/SpatialTransformer"})
    self.assertAlmostEqual(float(metrics["alpha/SpatialTransformer"]),
                           np.tanh(0.5), places=6)
    self.assertAlmostEqual(  # sqrt(8 * 3^2 + 4 * 4^2)
        float(metrics["l2_router_grads/SpatialTransformer"]),
        np.sqrt(136.0), places=4)


if __name__ == "__main__":
  absltest.main()
