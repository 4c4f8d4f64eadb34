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
"""Tests of the nested grouped-matmul kernel against its XLA reference.

Parity runs the kernel in interpret mode on the CPU (tiny shapes: interpret
mode is slow); cross-lowering exports it for `cuda` (Triton) and `tpu`
(Mosaic) from this CPU host.
"""

import functools

from absl.testing import absltest
from absl.testing import parameterized
import jax
from jax import export
import jax.numpy as jnp
import numpy as np

from mone_plugin.kernels import nested_matmul as nm

# Tiny blocks so that few rows make several tiles.
_BLOCKS = dict(block_m=8, block_n=16, block_k=8)
# Group layouts: (x shape, group sizes, group widths).
_STRADDLE = ((2, 13), (3, 0, 6, 4), (4, 8, 12, 32))  # Tiles cross examples.
_SHORT = ((3, 5), (2, 3), (16, 32))  # block_m > N: a tile spans examples.
_FLAT = ((20,), (7, 0, 13), (8, 16, 32))  # 2-D x, one "example".


def _inputs(lead, nesting, dtype, bias, seed=0):
  """x [*lead, K], w [K, N_out], bias [N_out]: K or N_out is the nested 32."""
  k, n_out = (32, 48) if nesting == "contraction" else (48, 32)
  rng = np.random.default_rng(seed)
  x = jnp.asarray(rng.normal(size=(*lead, k)), dtype)
  w = jnp.asarray(rng.normal(size=(k, n_out)) / np.sqrt(k), dtype)
  b = jnp.asarray(rng.normal(size=(n_out,)), dtype) if bias else None
  ct = jnp.asarray(rng.normal(size=(*lead, n_out)), dtype)
  return x, w, b, ct


def _assert_close(test, got, want, dtype):
  got, want = np.asarray(got, np.float32), np.asarray(want, np.float32)
  test.assertEqual(got.shape, want.shape)
  # float32: rounding of a 48-term sum. bfloat16: both sides accumulate in
  # float32 and round once, but in different orders and partial sums (dw per
  # group), so a few bf16 ulps (2^-8 each) of the largest magnitude.
  tol = 1e-5 if dtype == jnp.float32 else 2e-2
  scale = max(1.0, float(np.abs(want).max()))
  np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale)


class NestedMatmulTest(parameterized.TestCase):

  @parameterized.parameters(
      ("contraction", _STRADDLE, jnp.float32, True),
      ("output", _STRADDLE, jnp.float32, True),
      ("contraction", _SHORT, jnp.float32, True),
      ("output", _SHORT, jnp.float32, True),
      ("contraction", _FLAT, jnp.bfloat16, False),
      ("output", _FLAT, jnp.bfloat16, True),
  )
  def test_forward_and_gradients_match_xla(self, nesting, layout, dtype,
                                           bias):
    lead, sizes, widths = layout
    x, w, b, ct = _inputs(lead, nesting, dtype, bias)
    kw = dict(group_sizes=sizes, group_widths=widths, nesting=nesting,
              **_BLOCKS)
    results = []
    for fn in (nm.nested_matmul, nm.nested_matmul_reference):
      f = functools.partial(fn, **kw)
      if bias:
        y, vjp = jax.vjp(f, x, w, b)
      else:
        y, vjp = jax.vjp(lambda x, w, f=f: f(x, w), x, w)
      results.append((y, *vjp(ct)))  # ct is non-zero past each width too.
    for got, want in zip(*results):
      _assert_close(self, got, want, dtype)

  @parameterized.parameters("contraction", "output")
  def test_tpu_loop_matches_xla(self, nesting):
    # The statically unrolled chunk loop that Mosaic gets, here interpreted.
    lead, sizes, widths = _STRADDLE
    x, w, b, _ = _inputs(lead, nesting, jnp.float32, True, seed=1)
    rows = int(np.prod(lead))
    limit = x.shape[-1] if nesting == "contraction" else w.shape[1]
    g = nm._make_groups(sizes, widths, lead[-1], rows, limit)
    y = nm._pallas(x.reshape(rows, -1), w, b, g=g, nesting=nesting,
                   transpose_w=False, blocks=(8, 16, 8), mode="interpret",
                   loop="unrolled")
    want = nm.nested_matmul_reference(x, w, b, group_sizes=sizes,
                                      group_widths=widths, nesting=nesting)
    _assert_close(self, y.reshape(want.shape), want, jnp.float32)

  @parameterized.product(nesting=("contraction", "output"),
                         platform=("cuda", "tpu"))
  def test_lowers_for_accelerators(self, nesting, platform):
    # ViT-B/16 sizes: 197 tokens (a class token), D = 768, E = 4.
    hidden = 3072
    k, n_out = (768, hidden) if nesting == "contraction" else (hidden, 768)
    x = jax.ShapeDtypeStruct((2, 197, k), jnp.bfloat16)
    w = jax.ShapeDtypeStruct((k, n_out), jnp.bfloat16)
    b = jax.ShapeDtypeStruct((n_out,), jnp.bfloat16)
    f = functools.partial(nm.nested_matmul, group_sizes=(40, 60, 50, 47),
                          group_widths=(96, 192, 384, 768), nesting=nesting)
    grad = jax.value_and_grad(
        lambda x, w, b: jnp.sum(f(x, w, b).astype(jnp.float32)),
        argnums=(0, 1, 2))
    target = {"cuda": "__gpu$xla.gpu.triton", "tpu": "tpu_custom_call"}
    # Triton calls carry no compatibility guarantee, so export refuses to
    # serialize them unless told to.
    checks = ([export.DisabledSafetyCheck.custom_call(target["cuda"])]
              if platform == "cuda" else [])
    for fn, calls in ((f, 1), (grad, 2)):  # Forward, then forward and dx.
      exported = export.export(jax.jit(fn), platforms=[platform],
                               disabled_checks=checks)(x, w, b)
      text = exported.mlir_module()
      self.assertEqual(text.count(f"custom_call @{target[platform]}"), calls)
      back = export.deserialize(exported.serialize())
      self.assertEqual(back.platforms, (platform,))

  def test_rejects_bad_metadata(self):
    x, w, _, _ = _inputs((2, 5), "contraction", jnp.float32, False)
    kw = dict(group_sizes=(2, 3), group_widths=(16, 32))
    with self.assertRaisesRegex(ValueError, "nesting"):
      nm.nested_matmul(x, w, nesting="input", **kw)
    with self.assertRaisesRegex(ValueError, "sum to"):
      nm.nested_matmul(x, w, nesting="output", group_sizes=(2, 2),
                       group_widths=(16, 32))
    with self.assertRaisesRegex(ValueError, "group_widths"):
      nm.nested_matmul(x, w, nesting="contraction", group_sizes=(2, 3),
                       group_widths=(16, 64))


if __name__ == "__main__":
  absltest.main()
