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

"""Tests of predict on an export of the tiny MoNE ViT of `serving/test_util`.

predict must classify real Fashion-MNIST test images (the local TFDS data of
`make data`) as the JAX model does, fail in one line on bad input, and need
TensorFlow only.
"""

import json
import os
import subprocess
import sys

from absl.testing import absltest
import numpy as np
import tensorflow as tf

from mone_plugin import predict
from mone_plugin.serving import test_util
from mone_plugin.serving import workdirs

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA_DIR = os.path.join(os.environ.get("MONE_DATA_DIR") or os.path.expanduser(
    "~/mone_data"), "tfds")


def _fashion_mnist_test_images(n):
  """The first n test images as stored (JPEG bytes) and their labels."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  ds = tfds.load("fashion_mnist_local", split=f"test[:{n}]",
                 data_dir=DATA_DIR,
                 decoders={"image": tfds.decode.SkipDecoding()})
  return [(ex["image"].numpy(), int(ex["label"])) for ex in ds]


class PredictTest(test_util.ExportedTestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.model, _ = workdirs.build_model(cls.ckpt)

  def test_predict_matches_jax_on_fashion_mnist(self):
    if not os.path.isdir(os.path.join(DATA_DIR, "fashion_mnist_local")):
      self.skipTest(f"No local Fashion-MNIST in {DATA_DIR}: run `make data`.")
    examples = _fashion_mnist_test_images(3)
    paths, want = [], []
    for i, (jpeg, _) in enumerate(examples):
      paths.append(os.path.join(self.tmp, f"fmnist{i}.jpg"))
      with open(paths[-1], "wb") as f:
        f.write(jpeg)
      # The training pipeline's preprocessing: decode, resize, uint8.
      image = tf.io.decode_jpeg(jpeg, channels=1)
      image = tf.cast(tf.clip_by_value(tf.image.resize(image, (32, 32)),
                                       0, 255), tf.uint8)
      want.append(image.numpy())
    logits = test_util.jax_outputs(self.model, self.ckpt.params, 0.3,
                                   np.stack(want))["logits"]
    out_dir = os.path.join(self.tmp, "maps")
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
    rgb = os.path.join(self.tmp, "rgb.png")
    tf.io.write_file(rgb, tf.io.encode_png(np.zeros((32, 32, 3), np.uint8)))
    small = os.path.join(self.tmp, "small.png")
    tf.io.write_file(small, tf.io.encode_png(np.zeros((28, 28, 1), np.uint8)))
    text = os.path.join(self.tmp, "notes.png")
    with open(text, "w") as f:
      f.write("not an image")
    corrupt = os.path.join(self.tmp, "corrupt")
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
        ((os.path.join(self.tmp, "nope"), "0.3", [rgb]),
         "does not exist"),
        ((self.tmp, "0.3", [rgb]), "not a MoNE export"),
        ((corrupt, "0.3", [small]), "SavedModel cannot be loaded"),
    ]
    for args, message in cases:
      with self.assertRaisesRegex(predict.PredictError, message):
        predict.predict(*args, out_dir=self.tmp)
    with self.assertRaisesRegex(predict.PredictError, "28x28 px.*32x32"):
      predict.predict(self.dir, "0.3", [small], self.tmp, resize=False)
    model = predict.Predictor(self.dir, "1")
    with self.assertRaisesRegex(predict.PredictError,
                                r"\(2, 28, 28, 1\) do not fit.*\[B, 32, 32, 1"):
      model(np.zeros((2, 28, 28, 1), np.uint8))

  def test_predict_command_needs_no_jax_and_fails_in_one_line(self):
    env = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="3")
    argv = ["predict", f"--export={self.dir}", "--budget=0.3",
            os.path.join(self.tmp, "missing.png")]
    code = "\n".join([
        "import runpy, sys",
        f"sys.argv = {argv!r}",
        "try:",
        "  runpy.run_module('mone_plugin.predict', run_name='__main__')",
        "except SystemExit as e:",
        "  print(e.code, file=sys.stderr)",
        # TF imports jax itself (its TFLite converter), but no model code.
        "print(sorted({'flax', 'big_vision', 'scenic', 'mone_plugin.vit', "
        "'mone_plugin.layers', 'mone_plugin.export', 'mone_plugin.serving'} "
        "& set(sys.modules)))",
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
