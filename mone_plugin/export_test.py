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

"""Tests of the export (TF SavedModel, jax.export, manifest) and predict.

One tiny MoNE ViT (2 layers, width 64, 32 px) is exported once at two
budgets and dense; TF alone must reproduce the JAX outputs, and predict must
classify real Fashion-MNIST test images (the local TFDS data of `make data`)
as the JAX model does.
"""

import json
import os
import subprocess
import sys
import tempfile

from absl.testing import absltest
import flax
import jax
import jax.numpy as jnp
import numpy as np
import tensorflow as tf

from mone_plugin import export
from mone_plugin import flops
from mone_plugin import predict
from mone_plugin import vit

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
E_CS = (0.3, 1.0)
DATA_DIR = os.path.join(os.environ.get("MONE_DATA_DIR") or os.path.expanduser(
    "~/mone_data"), "tfds")


def _tiny_checkpoint():
  model = vit.Model(10, patch_size=(4, 4), width=64, depth=2, mlp_dim=128,
                    num_heads=4, pool_type="gap")
  params = model.init(jax.random.PRNGKey(0),
                      jnp.zeros((1, 32, 32, 1)))["params"]
  # Nonzero head and alpha: distinct classes and a live MLP scale.
  leaves, tree = jax.tree.flatten(params)
  keys = jax.random.split(jax.random.PRNGKey(1), len(leaves))
  params = jax.tree.unflatten(tree, [
      np.asarray(x + 0.05 * jax.random.normal(k, x.shape))
      for x, k in zip(leaves, keys)])
  params["Transformer"]["alpha"] = np.float32(0.5)
  return export.Checkpoint(
      framework="big_vision", params=params,
      model_cfg=dict(pool_type="gap", posemb="learn"), num_classes=10,
      image_size=32, class_names=[f"class{i}" for i in range(10)])


def _fashion_mnist_test_images(n):
  """The first n test images as stored (JPEG bytes) and their labels."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  ds = tfds.load("fashion_mnist_local", split=f"test[:{n}]",
                 data_dir=DATA_DIR,
                 decoders={"image": tfds.decode.SkipDecoding()})
  return [(ex["image"].numpy(), int(ex["label"])) for ex in ds]


class ExportTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.tmp = tempfile.TemporaryDirectory()
    cls.dir = os.path.join(cls.tmp.name, "export")
    cls.ckpt = _tiny_checkpoint()
    cls.model, cls.shape = export.build_model(cls.ckpt)
    cls.manifest = export.export(cls.ckpt, cls.dir, E_CS)
    cls.images = np.random.default_rng(0).integers(
        0, 256, (3, *cls.shape)).astype(np.uint8)

  @classmethod
  def tearDownClass(cls):
    cls.tmp.cleanup()
    super().tearDownClass()

  _jitted = {}

  def _jax(self, e_c, images):
    if e_c not in self._jitted:  # One compile per budget and batch size.
      self._jitted[e_c] = jax.jit(export._forward_fn(  # pylint: disable=protected-access
          self.model, e_c, (-1.0, 1.0)))
    # The training forward: the artifacts run the inference path.
    return jax.tree.map(np.asarray,
                        self._jitted[e_c]({"params": self.ckpt.params},
                                          images))

  def test_saved_model_and_jax_export_match_jax_at_every_budget(self):
    loaded = tf.saved_model.load(os.path.join(self.dir, "saved_model"))
    self.assertEqual(set(loaded.signatures),
                     {"ec0.3", "ec1", "serving_default"})
    with open(os.path.join(self.dir, "jax", "params.msgpack"), "rb") as f:
      variables = flax.serialization.msgpack_restore(f.read())
    # Stored for the inference path, sliced at export time.
    self.assertEqual(set(variables), {"params", "inference"})
    for b in self.manifest["budgets"]:
      want = self._jax(b["e_c"], self.images)
      got = loaded.signatures[b["signature"]](images=tf.constant(self.images))
      np.testing.assert_allclose(got["logits"].numpy(), want["logits"],
                                 atol=1e-4, rtol=0)
      np.testing.assert_allclose(got["probabilities"].numpy(),
                                 want["probabilities"], atol=1e-5)
      np.testing.assert_array_equal(got["experts"].numpy(), want["experts"])
      self.assertEqual(got["experts"].shape, (3, 8, 8))
      self.assertTrue(os.path.exists(os.path.join(self.dir, b["jax_export"])))
    # The jax.export artifact of the smallest budget, from its own params.
    b = self.manifest["budgets"][0]
    with open(os.path.join(self.dir, b["jax_export"]), "rb") as f:
      exported = jax.export.deserialize(f.read())
    got = exported.call(variables, self.images)
    want = self._jax(b["e_c"], self.images)
    np.testing.assert_allclose(got["logits"], want["logits"], atol=1e-5)
    np.testing.assert_array_equal(got["experts"], want["experts"])
    # Any batch size: one image through the same signature.
    got = loaded.signatures["ec0.3"](images=tf.constant(self.images[:1]))
    np.testing.assert_allclose(got["logits"].numpy(),
                               self._jax(0.3, self.images)["logits"][:1],
                               atol=1e-4, rtol=0)

  @absltest.skipUnless(export.onnx_available(),
                       "jax2onnx or onnxruntime not installed (make setup).")
  def test_onnx_matches_jax_at_every_budget(self):
    import onnxruntime as ort  # pylint: disable=g-import-not-at-top
    for b in self.manifest["budgets"]:
      self.assertEqual(b["onnx"], f"onnx/{b['name']}.onnx")
      sess = ort.InferenceSession(os.path.join(self.dir, b["onnx"]),
                                  providers=["CPUExecutionProvider"])
      (inp,) = sess.get_inputs()
      self.assertEqual((inp.name, inp.type), ("images", "tensor(uint8)"))
      self.assertEqual([o.name for o in sess.get_outputs()],
                       ["logits", "probabilities", "experts"])
      want = self._jax(b["e_c"], self.images)
      for n in (3, 1):  # Any batch size.
        logits, probs, experts = sess.run(None, {"images": self.images[:n]})
        np.testing.assert_allclose(logits, want["logits"][:n], atol=1e-4,
                                   rtol=0)
        np.testing.assert_allclose(probs, want["probabilities"][:n],
                                   atol=1e-5)
        np.testing.assert_array_equal(experts, want["experts"][:n])
    # The dense forward too (every patch on the largest expert).
    out = os.path.join(self.tmp.name, "dense_onnx")
    manifest = export.export(self.ckpt, out, (None,), onnx="yes")
    sess = ort.InferenceSession(os.path.join(out, manifest["budgets"][0][
        "onnx"]), providers=["CPUExecutionProvider"])
    logits, _, experts = sess.run(None, {"images": self.images})
    np.testing.assert_allclose(logits, self._jax(None, self.images)["logits"],
                               atol=1e-4, rtol=0)
    np.testing.assert_array_equal(experts, np.full((3, 8, 8), 3))
    # A scanned model (as Big Vision's configs train them) converts too.
    params = dict(self.ckpt.params)
    t = dict(params["Transformer"])
    blocks = [t.pop(f"encoderblock_{i}") for i in range(2)]
    t["encoderblock"] = jax.tree.map(lambda *a: np.stack(a), *blocks)
    scanned = export.Checkpoint(
        framework="big_vision", params={**params, "Transformer": t},
        model_cfg=dict(pool_type="gap", posemb="learn", scan=True),
        num_classes=10, image_size=32, class_names=None)
    out = os.path.join(self.tmp.name, "scanned_onnx")
    manifest = export.export(scanned, out, (0.3,), onnx="yes")
    sess = ort.InferenceSession(os.path.join(out, manifest["budgets"][0][
        "onnx"]), providers=["CPUExecutionProvider"])
    logits, _, experts = sess.run(None, {"images": self.images})
    want = self._jax(0.3, self.images)
    np.testing.assert_allclose(logits, want["logits"], atol=1e-4, rtol=0)
    np.testing.assert_array_equal(experts, want["experts"])
    # The budgets differ: not the same graph written twice.
    self.assertNotEqual(
        os.path.getsize(os.path.join(self.dir, "onnx", "ec0.3.onnx")),
        os.path.getsize(os.path.join(self.dir, "onnx", "ec1.onnx")))

  def test_onnx_yes_without_onnx_is_refused_and_no_skips_it(self):
    out = os.path.join(self.tmp.name, "no_onnx")
    manifest = export.export(self.ckpt, out, (0.3,), onnx="no")
    self.assertIsNone(manifest["budgets"][0]["onnx"])
    self.assertFalse(os.path.exists(os.path.join(out, "onnx")))
    with self.assertRaisesRegex(export.ExportError,
                                r"--onnx=maybe is not one of auto, yes, no"):
      export.export(self.ckpt, out, (0.3,), onnx="maybe")

  def test_manifest(self):
    with open(os.path.join(self.dir, "manifest.json")) as f:
      manifest = json.load(f)
    self.assertEqual(manifest["input"]["height"], 32)
    self.assertEqual(manifest["input"]["channels"], 1)
    self.assertEqual(manifest["expert_widths"], [8, 16, 32, 64])
    self.assertEqual(manifest["default_budget"], "ec1")
    self.assertEqual(manifest["class_names"][3], "class3")
    for b, e_c in zip(manifest["budgets"], E_CS):
      self.assertEqual(b["e_c"], e_c)
      self.assertAlmostEqual(b["gflops"], flops.vit_gflops(
          image_size=32, patch_size=4, width=64, depth=2, mlp_dim=128,
          num_heads=4, num_classes=10, e_c=e_c, channels=1), places=12)
      if e_c is not None:
        self.assertEqual(sum(b["tokens_per_expert"]), 64)
    # The analytic GFLOPs grow with the budget.
    g = [b["gflops"] for b in manifest["budgets"]]
    self.assertLess(g[0], g[1])

  def test_gflops_budget_round_trips(self):
    target = flops.vit_gflops(image_size=32, patch_size=4, width=64, depth=2,
                              mlp_dim=128, num_heads=4, num_classes=10,
                              e_c=0.5, channels=1, continuous=True)
    e_c, = export.e_c_for_gflops(self.model, self.shape, [target])
    self.assertAlmostEqual(e_c, 0.5, places=6)
    with self.assertRaisesRegex(export.ExportError,
                                r"infeasible.*reaches \[[0-9.]+, [0-9.]+\]"):
      export.e_c_for_gflops(self.model, self.shape, [100.0])

  def test_infeasible_e_c_names_the_range(self):
    for e_c in (0.05, 1.5):
      with self.assertRaisesRegex(export.ExportError,
                                  r"e_c=.* infeasible.*\[0.125, 1\]"):
        export.check_e_c(self.model, [e_c])

  def test_latency_picker_is_monotone(self):
    rng = np.random.default_rng(0)
    grid = export.latency_grid(4)
    # Noisy latencies that mostly grow with e_c.
    times = {e: 2.0 + 8.0 * e + rng.normal(0, 0.6) for e in grid}
    picks = [export.pick_e_c_for_latency(times, t)
             for t in np.linspace(min(times.values()) + 0.5, 20, 40)
             if t >= times[grid[0]]]
    self.assertEqual(picks, sorted(picks))
    self.assertEqual(picks[-1], 1.0)
    for e in picks:  # Every e_c up to the pick meets the target.
      self.assertIn(e, grid)
    with self.assertRaisesRegex(
        export.ExportError, r"--latency_ms=0.5 is infeasible.*ms \(e_c=0.125"
        r"\) to .* ms \(e_c=1\)"):
      export.pick_e_c_for_latency(times, 0.5)

  def test_measured_latency_picks_from_the_grid(self):
    times = export.measure_latency(self.model, self.ckpt.params, self.shape,
                                   (1.0,), reps=1)
    self.assertEqual(set(times), {1.0})
    self.assertTrue(all(t > 0 for t in times.values()))
    self.assertEqual(export.pick_e_c_for_latency(times, 1e9), 1.0)

  def test_bad_workdirs(self):
    with self.assertRaisesRegex(export.ExportError, "is not a directory"):
      export.read_workdir(os.path.join(self.tmp.name, "missing"))
    empty = os.path.join(self.tmp.name, "empty")
    os.makedirs(empty, exist_ok=True)
    with self.assertRaisesRegex(export.ExportError,
                                "holds no MoNE checkpoint.*Big Vision.*Scenic"):
      export.read_workdir(empty)
    broken = os.path.join(self.tmp.name, "broken")
    os.makedirs(broken, exist_ok=True)
    with open(os.path.join(broken, "checkpoint.bv-LAST"), "w") as f:
      f.write("000000005")
    with open(os.path.join(broken, "config.json"), "w") as f:
      f.write("{}")
    with self.assertRaisesRegex(export.ExportError,
                                "its checkpoint cannot be read"):
      export.read_workdir(broken)

  # --- predict (TensorFlow only) ------------------------------------------

  def test_predict_matches_jax_on_fashion_mnist(self):
    if not os.path.isdir(os.path.join(DATA_DIR, "fashion_mnist_local")):
      self.skipTest(f"No local Fashion-MNIST in {DATA_DIR}: run `make data`.")
    examples = _fashion_mnist_test_images(3)
    paths, want = [], []
    for i, (jpeg, _) in enumerate(examples):
      paths.append(os.path.join(self.tmp.name, f"fmnist{i}.jpg"))
      with open(paths[-1], "wb") as f:
        f.write(jpeg)
      # The training pipeline's preprocessing: decode, resize, uint8.
      image = tf.io.decode_jpeg(jpeg, channels=1)
      image = tf.cast(tf.clip_by_value(tf.image.resize(image, (32, 32)),
                                       0, 255), tf.uint8)
      want.append(image.numpy())
    logits = self._jax(0.3, np.stack(want))["logits"]
    out_dir = os.path.join(self.tmp.name, "maps")
    results = predict.predict(self.dir, "0.3", paths, out_dir)
    self.assertEqual([r["classes"][0] for r in results],
                     list(np.argmax(logits, -1)))
    self.assertEqual([r["classes"] for r in results],
                     [list(np.argsort(-l, kind="stable")[:5]) for l in logits])
    self.assertEqual(results[0]["top"][0][0],
                     f"class{results[0]['classes'][0]}")
    png = tf.io.decode_png(tf.io.read_file(results[0]["overlay"])).numpy()
    self.assertGreater(png.shape[0], 96)

  def test_predict_errors_are_one_line(self):
    rgb = os.path.join(self.tmp.name, "rgb.png")
    tf.io.write_file(rgb, tf.io.encode_png(np.zeros((32, 32, 3), np.uint8)))
    small = os.path.join(self.tmp.name, "small.png")
    tf.io.write_file(small, tf.io.encode_png(np.zeros((28, 28, 1), np.uint8)))
    text = os.path.join(self.tmp.name, "notes.png")
    with open(text, "w") as f:
      f.write("not an image")
    corrupt = os.path.join(self.tmp.name, "corrupt")
    os.makedirs(os.path.join(corrupt, "saved_model"), exist_ok=True)
    with open(os.path.join(corrupt, "manifest.json"), "w") as f:
      f.write(json.dumps(self.manifest))
    with open(os.path.join(corrupt, "saved_model", "saved_model.pb"),
              "wb") as f:
      f.write(b"\x00garbage")
    cases = [
        ((self.dir, "0.3", [rgb]), "has 3 channels; the model takes 1"),
        ((self.dir, "0.3", [text]), "is not an image"),
        ((self.dir, "0.5", [rgb]), r"--budget=0.5 was not exported.*ec0.3"),
        ((os.path.join(self.tmp.name, "nope"), "0.3", [rgb]),
         "does not exist"),
        ((self.tmp.name, "0.3", [rgb]), "not a MoNE export"),
        ((corrupt, "0.3", [small]), "SavedModel cannot be loaded"),
    ]
    for args, message in cases:
      with self.assertRaisesRegex(predict.PredictError, message):
        predict.predict(*args, out_dir=self.tmp.name)
    with self.assertRaisesRegex(predict.PredictError, "28x28 px.*32x32"):
      predict.predict(self.dir, "0.3", [small], self.tmp.name, resize=False)
    model = predict.Predictor(self.dir, "1")
    with self.assertRaisesRegex(predict.PredictError,
                                r"\(2, 28, 28, 1\) do not fit.*\[B, 32, 32, 1"):
      model(np.zeros((2, 28, 28, 1), np.uint8))

  def test_predict_command_needs_no_jax_and_fails_in_one_line(self):
    env = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="3")
    argv = ["predict", f"--export={self.dir}", "--budget=0.3",
            os.path.join(self.tmp.name, "missing.png")]
    code = "\n".join([
        "import runpy, sys",
        f"sys.argv = {argv!r}",
        "try:",
        "  runpy.run_module('mone_plugin.predict', run_name='__main__')",
        "except SystemExit as e:",
        "  print(e.code, file=sys.stderr)",
        # TF imports jax itself (its TFLite converter), but no model code.
        "print(sorted({'flax', 'big_vision', 'scenic', 'mone_plugin.vit', "
        "'mone_plugin.layers', 'mone_plugin.export'} & set(sys.modules)))",
        "sys.exit(1)"])
    r = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO,
                       capture_output=True, text=True, timeout=300,
                       check=False)
    self.assertEqual(r.returncode, 1, r.stderr[-2000:])
    self.assertEqual(r.stdout.strip(), "[]")
    self.assertNotIn("Traceback", r.stderr)
    self.assertTrue(r.stderr.strip().splitlines()[-1].startswith(
        "mone_plugin.predict: error:"), r.stderr[-2000:])


if __name__ == "__main__":
  absltest.main()
