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

"""Tests of the writers: TF SavedModel, jax.export and ONNX match JAX."""

import os
import tempfile

from absl.testing import absltest
import flax
import jax
import numpy as np
import tensorflow as tf

from mone_plugin.serving import test_util
from mone_plugin.serving import workdirs
from mone_plugin.serving import writers

E_CS = test_util.E_CS
VALUE_RANGE = (-1.0, 1.0)


class WritersTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.tmp = cls.enterClassContext(tempfile.TemporaryDirectory())
    ckpt = test_util.tiny_checkpoint()
    cls.params = ckpt.params
    cls.model, cls.shape = workdirs.build_model(ckpt)
    cls.images = test_util.images()

  def _jax(self, e_c, images):
    return test_util.jax_outputs(self.model, self.params, e_c, images)

  def _save(self, writer, name, e_cs, model=None, params=None):
    """Writes into tmp/name with `writer`; the tiny model unless given."""
    if model is None:
      model, params = self.model, self.params
    return writer(model, params, self.shape, e_cs, VALUE_RANGE,
                  os.path.join(self.tmp, name))

  def test_saved_model_and_jax_export_match_jax_at_every_budget(self):
    self._save(writers.save_saved_model, "saved_model", E_CS)
    files = self._save(writers.save_jax, "jax", E_CS)
    self.assertEqual(files, {0.3: {"cpu": "jax/ec0.3.jax"},
                             1.0: {"cpu": "jax/ec1.jax"}})
    loaded = tf.saved_model.load(os.path.join(self.tmp, "saved_model"))
    self.assertEqual(set(loaded.signatures),
                     {"ec0.3", "ec1", "serving_default"})
    with open(os.path.join(self.tmp, "jax", "params.msgpack"),
              "rb") as f:
      variables = flax.serialization.msgpack_restore(f.read())
    # Stored for the inference path, sliced at export time.
    self.assertEqual(set(variables), {"params", "inference"})
    for e_c in E_CS:
      want = self._jax(e_c, self.images)
      got = loaded.signatures[f"ec{e_c:g}"](images=tf.constant(self.images))
      np.testing.assert_allclose(got["logits"].numpy(), want["logits"],
                                 atol=1e-4, rtol=0)
      np.testing.assert_allclose(got["probabilities"].numpy(),
                                 want["probabilities"], atol=1e-5)
      np.testing.assert_array_equal(got["experts"].numpy(), want["experts"])
      self.assertEqual(got["experts"].shape, (3, 8, 8))
    # "serving_default" is the largest budget.
    np.testing.assert_array_equal(
        loaded.signatures["serving_default"](
            images=tf.constant(self.images))["experts"].numpy(),
        self._jax(1.0, self.images)["experts"])
    # The jax.export artifact of the smallest budget, from its own params.
    with open(os.path.join(self.tmp, files[0.3]["cpu"]), "rb") as f:
      exported = jax.export.deserialize(f.read())
    got = exported.call(variables, self.images)
    want = self._jax(0.3, self.images)
    np.testing.assert_allclose(got["logits"], want["logits"], atol=1e-5)
    np.testing.assert_array_equal(got["experts"], want["experts"])
    # Any batch size: one image through the same signature.
    got = loaded.signatures["ec0.3"](images=tf.constant(self.images[:1]))
    np.testing.assert_allclose(got["logits"].numpy(), want["logits"][:1],
                               atol=1e-4, rtol=0)

  @absltest.skipUnless(writers.onnx_available(),
                       "jax2onnx or onnxruntime not installed (make setup).")
  def test_onnx_matches_jax_at_every_budget(self):
    import onnxruntime as ort  # pylint: disable=g-import-not-at-top

    def session(path):
      return ort.InferenceSession(os.path.join(self.tmp, path),
                                  providers=["CPUExecutionProvider"])

    files = self._save(writers.save_onnx, "onnx", E_CS)
    for e_c in E_CS:
      self.assertEqual(files[e_c], f"onnx/ec{e_c:g}.onnx")
      sess = session(files[e_c])
      (inp,) = sess.get_inputs()
      self.assertEqual((inp.name, inp.type), ("images", "tensor(uint8)"))
      self.assertEqual([o.name for o in sess.get_outputs()],
                       ["logits", "probabilities", "experts"])
      want = self._jax(e_c, self.images)
      for n in (3, 1):  # Any batch size.
        logits, probs, experts = sess.run(None, {"images": self.images[:n]})
        np.testing.assert_allclose(logits, want["logits"][:n], atol=1e-4,
                                   rtol=0)
        np.testing.assert_allclose(probs, want["probabilities"][:n],
                                   atol=1e-5)
        np.testing.assert_array_equal(experts, want["experts"][:n])
    # The dense forward too (every patch on the largest expert).
    files = self._save(writers.save_onnx, "dense_onnx", (None,))
    logits, _, experts = session(files[None]).run(
        None, {"images": self.images})
    np.testing.assert_allclose(logits, self._jax(None, self.images)["logits"],
                               atol=1e-4, rtol=0)
    np.testing.assert_array_equal(experts, np.full((3, 8, 8), 3))
    # A scanned model (as Big Vision's configs train them) converts too.
    t = dict(self.params["Transformer"])
    blocks = [t.pop(f"encoderblock_{i}") for i in range(2)]
    t["encoderblock"] = jax.tree.map(lambda *a: np.stack(a), *blocks)
    files = self._save(writers.save_onnx, "scanned_onnx", (0.3,),
                       model=self.model.clone(scan=True),
                       params={**self.params, "Transformer": t})
    logits, _, experts = session(files[0.3]).run(
        None, {"images": self.images})
    want = self._jax(0.3, self.images)
    np.testing.assert_allclose(logits, want["logits"], atol=1e-4, rtol=0)
    np.testing.assert_array_equal(experts, want["experts"])
    # The budgets differ: not the same graph written twice.
    self.assertNotEqual(
        os.path.getsize(os.path.join(self.tmp, "onnx", "ec0.3.onnx")),
        os.path.getsize(os.path.join(self.tmp, "onnx", "ec1.onnx")))


if __name__ == "__main__":
  absltest.main()
