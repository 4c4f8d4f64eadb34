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

"""Tests of the kernels that `prepare_inference` slices for the inference path.

That a model gives the same outputs on them as on its params is tested with
the models (`vit_test.py`, `vivit_test.py`).
"""

from absl.testing import absltest
from absl.testing import parameterized
import jax.numpy as jnp
import numpy as np

from mone_plugin import inference

D, H, HD, MLP = 8, 2, 4, 16
DIMS = (2, 4, 8)
_key = inference.expert_key


def _dense(rng, kernel_shape, bias_shape, lead=()):
  return {"kernel": rng.normal(size=lead + kernel_shape).astype(np.float32),
          "bias": rng.normal(size=lead + bias_shape).astype(np.float32)}


def _block(seed=0, lead=()):
  """Params of one encoder block (`lead`: the scanned layer axis)."""
  rng = np.random.default_rng(seed)
  attn = {k: _dense(rng, (D, H, HD), (H, HD), lead)
          for k in ("query", "key", "value")}
  attn["out"] = _dense(rng, (H, HD, D), (D,), lead)
  return {"LayerNorm_0": {"scale": np.ones(lead + (D,), np.float32)},
          "MultiHeadDotProductAttention_0": attn,
          "MlpBlock_0": {"Dense_0": _dense(rng, (D, MLP), (MLP,), lead),
                         "Dense_1": _dense(rng, (MLP, D), (D,), lead)}}


class KernelsTest(parameterized.TestCase):

  @parameterized.parameters(((),), ((3,),))  # Unrolled, scanned blocks.
  def test_attention_kernels_fused_and_sliced(self, lead):
    attn = _block(lead=lead)["MultiHeadDotProductAttention_0"]
    got = inference.attention_inference_kernels(
        attn["query"], attn["key"], attn["value"], attn["out"], DIMS)
    scale = 1 / np.sqrt(HD)  # Folded into the query part.
    want_bias = np.stack([attn["query"]["bias"] * scale, attn["key"]["bias"],
                          attn["value"]["bias"]], axis=-3)
    np.testing.assert_allclose(got[inference.QKV_BIAS], want_bias, rtol=1e-6)
    for d in DIMS:
      qkv = got[_key(inference.QKV_KERNEL, d)]
      self.assertEqual(qkv.shape, lead + (3, H, HD, d))  # Input last.
      for t, (name, s) in enumerate((("query", scale), ("key", 1),
                                     ("value", 1))):
        np.testing.assert_allclose(
            qkv[..., t, :, :, :],
            np.moveaxis(attn[name]["kernel"][..., :d, :, :], -3, -1) * s,
            rtol=1e-6)
      np.testing.assert_array_equal(got[_key(inference.OUT_KERNEL, d)],
                                    attn["out"]["kernel"][..., :d])
      np.testing.assert_array_equal(got[_key(inference.OUT_BIAS, d)],
                                    attn["out"]["bias"][..., :d])

  def test_mlp_kernels_sliced(self):
    mlp = _block()["MlpBlock_0"]
    got = inference.mlp_inference_kernels(mlp["Dense_0"], mlp["Dense_1"],
                                          DIMS)
    np.testing.assert_array_equal(got[inference.MLP_IN_BIAS],
                                  mlp["Dense_0"]["bias"])
    for d in DIMS:
      np.testing.assert_array_equal(got[_key(inference.MLP_IN_KERNEL, d)],
                                    mlp["Dense_0"]["kernel"][:d])
      np.testing.assert_array_equal(got[_key(inference.MLP_OUT_KERNEL, d)],
                                    mlp["Dense_1"]["kernel"][:, :d])
      np.testing.assert_array_equal(got[_key(inference.MLP_OUT_BIAS, d)],
                                    mlp["Dense_1"]["bias"][:d])


class PrepareInferenceTest(absltest.TestCase):

  def _params(self):
    # Width 8 and 3 experts: dims 2, 4, 8 (the router kernel gives both).
    return {"Transformer": {"router": {"kernel": np.zeros((D, 3))},
                            "alpha": np.float32(0),
                            "encoderblock_0": _block(0),
                            "encoderblock_1": _block(1)},
            "head": {"kernel": np.zeros((D, 10))}}

  def test_moves_block_kernels_only(self):
    params = self._params()
    variables = inference.prepare_inference(params, dtype="bfloat16")
    kept = variables["params"]["Transformer"]
    self.assertEqual(set(kept["encoderblock_1"]), {"LayerNorm_0"})
    self.assertIn("router", kept)
    self.assertIn("head", variables["params"])
    prepared = variables["inference"]["Transformer"]["encoderblock_1"]
    self.assertEqual(
        set(prepared["MlpBlock_0"]),
        {inference.MLP_IN_BIAS} | {_key(base, d) for d in DIMS for base in (
            inference.MLP_IN_KERNEL, inference.MLP_OUT_KERNEL,
            inference.MLP_OUT_BIAS)})
    qkv = prepared["MultiHeadDotProductAttention_0"][
        _key(inference.QKV_KERNEL, 4)]
    self.assertEqual((qkv.shape, qkv.dtype), ((3, H, HD, 4), jnp.bfloat16))
    # The checkpoint's own tree is left as it was.
    self.assertIn("query", params["Transformer"]["encoderblock_1"][
        "MultiHeadDotProductAttention_0"])

  def test_needs_a_mone_encoder(self):
    with self.assertRaisesRegex(ValueError, "no MoNE encoder"):
      inference.prepare_inference({"head": {"kernel": np.zeros((2, 2))}})


class DefaultChoicesTest(parameterized.TestCase):

  @parameterized.parameters("cpu", "cuda", "rocm", "gpu", "tpu", "METAL")
  def test_every_backend_gets_valid_choices(self, backend):
    for prepared in (False, True):
      c = inference.default_choices(backend, 8, prepared=prepared)
      self.assertEqual(set(c), {"attention_impl", "fuse_qkv",
                                "merge_small_groups"})
      inference.check_choices("xla", c["attention_impl"],
                              c["merge_small_groups"])

  def test_bad_kernel_names_the_allowed_ones(self):
    with self.assertRaisesRegex(ValueError,
                                r"kernel='cuda'.*allowed: 'xla', 'pallas'"):
      inference.check_choices("cuda", "all_tokens", 0)


if __name__ == "__main__":
  absltest.main()
