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

"""bfloat16 matmuls (`dtype_mm="bfloat16"`) against float32, same params.

The tolerance: bfloat16 keeps 8 significant bits, a relative rounding of
2^-9 (0.2%) per value; a 2-layer model rounds its inputs, weights and
activations a few dozen times on the way to the logits, and the errors
partly cancel. Measured on these tiny models (jax 0.10.2, CPU): the largest
logit error is 0.35%-0.7% of the largest |logit| (ViT and ViViT, training
and inference paths), so the bound RTOL_OF_MAX = 3% leaves over 4x headroom, while a wrong cast (e.g. an int or float8 step, or a
transposed slice) is off by tens of percent. The routing is computed from the
same (bf16-rounded) tokens: it must pick the same expert for nearly every
token (EPR orders tokens by router probability; a near tie can flip).
Parameters stay float32 (mixed precision, as Big Vision trains); logits come
out float32 because the head is not a `dtype_mm` layer.
"""

from absl.testing import absltest
from absl.testing import parameterized
import jax
import jax.numpy as jnp
import numpy as np

from mone_plugin import inference
from mone_plugin import vit
from mone_plugin import vivit

RTOL_OF_MAX = 0.03      # max |bf16 - f32| logit <= 3% of max |f32 logit|.
MIN_SAME_EXPERT = 0.95  # Share of tokens routed to the same expert.

VIT = dict(num_classes=10, patch_size=(8, 8), width=64, depth=2, mlp_dim=128,
           num_heads=4, head_zeroinit=False)
VIVIT = dict(num_classes=10, hidden_size=64, spatial_num_layers=2,
             spatial_mlp_dim=128, spatial_num_heads=4, temporal_num_layers=1,
             temporal_mlp_dim=128, temporal_num_heads=4,
             patches={"size": (8, 8, 2)})


def _with_alpha(variables, value=0.5):
  """alpha (the router's share of the residual update) away from its 0 init."""
  return jax.tree_util.tree_map_with_path(
      lambda path, a: jnp.full_like(a, value) if path[-1].key == "alpha"
      else a, variables)


def _images():
  return np.random.default_rng(0).uniform(-1, 1, (4, 32, 32, 3)).astype(
      np.float32)


def _clips():
  return np.random.default_rng(0).uniform(-1, 1, (2, 4, 32, 32, 3)).astype(
      np.float32)


class Bf16Test(parameterized.TestCase):

  def _check(self, want, got, want_out, got_out):
    self.assertEqual(got.dtype, jnp.float32)
    want, got = np.asarray(want), np.asarray(got)
    err, scale = np.abs(got - want).max(), np.abs(want).max()
    self.assertGreater(scale, 0.1)  # Logits that say something.
    self.assertGreater(err, 0.0)  # bf16 really ran.
    self.assertLessEqual(err, RTOL_OF_MAX * scale, (err, scale))
    if "experts" in want_out:
      same = np.mean(np.asarray(want_out["experts"])
                     == np.asarray(got_out["experts"]))
      self.assertGreaterEqual(same, MIN_SAME_EXPERT)

  @parameterized.parameters(None, 0.4)
  def test_vit_logits(self, e_c):
    x = _images()
    f32, bf16 = vit.Model(**VIT), vit.Model(**VIT, dtype_mm="bfloat16")
    variables = _with_alpha(jax.jit(f32.init)(jax.random.PRNGKey(0), x))
    apply = lambda m, v: jax.jit(lambda v, x: m.apply(v, x, e_c=e_c))(v, x)
    want, want_out = apply(f32, variables)
    got, got_out = apply(bf16, variables)
    self._check(want, got, want_out, got_out)
    if e_c is not None:  # The inference path, kernels cast to bf16 once.
      prepared = inference.prepare_inference(variables["params"],
                                             dtype="bfloat16")
      got, got_out = apply(bf16, prepared)
      self._check(want, got, want_out, got_out)

  def test_vivit_logits(self, e_c=0.4):
    x = _clips()
    f32 = vivit.SpaceTimeViViT(**VIVIT)
    bf16 = vivit.SpaceTimeViViT(**VIVIT, dtype_mm="bfloat16")
    variables = _with_alpha(jax.jit(f32.init)(jax.random.PRNGKey(0), x))
    # Non-zero head (ViViT's head is zero-initialised).
    head = variables["params"]["output_projection"]
    head = dict(head, kernel=jax.random.normal(
        jax.random.PRNGKey(1), head["kernel"].shape) * 0.3)
    variables = {"params": dict(variables["params"], output_projection=head)}
    apply = lambda m, v: jax.jit(lambda v, x: m.apply(v, x, e_c=e_c))(v, x)
    want, want_out = apply(f32, variables)
    got, got_out = apply(bf16, variables)
    self._check(want, got, want_out, got_out)
    prepared = inference.prepare_inference(variables["params"],
                                           dtype="bfloat16")
    got, got_out = apply(bf16, prepared)
    self._check(want, got, want_out, got_out)

  def test_vit_gradients_point_the_same_way(self):
    # Training in bf16: the gradient of the loss must agree in direction.
    x = _images()
    labels = jax.nn.one_hot(np.arange(4) % 10, 10)
    f32, bf16 = vit.Model(**VIT), vit.Model(**VIT, dtype_mm="bfloat16")
    variables = _with_alpha(jax.jit(f32.init)(jax.random.PRNGKey(0), x))

    def grads(m):
      def loss(v):
        logits = m.apply(v, x, e_c=0.4)[0]
        return -jnp.mean(jnp.sum(labels * jax.nn.log_softmax(logits), -1))
      g = jax.jit(jax.grad(loss))(variables)
      return np.concatenate([np.ravel(a) for a in jax.tree.leaves(g)])

    want, got = grads(f32), grads(bf16)
    cos = want @ got / np.linalg.norm(want) / np.linalg.norm(got)
    self.assertGreater(cos, 0.99)


if __name__ == "__main__":
  absltest.main()
