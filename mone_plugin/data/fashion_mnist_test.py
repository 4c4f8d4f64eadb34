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

"""Tests of the local Fashion-MNIST data set (real data, built once)."""

import gzip
import importlib
import os
import tempfile

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from mone_plugin import frameworks
from mone_plugin.data import fashion_mnist
from mone_plugin.data import prepare

NAME = "fashion_mnist_local"


def setUpModule():
  global DATA_DIR
  DATA_DIR = prepare.ensure_prepared([NAME])


def _read_all(split, precise=False):
  """The whole split; `precise` decodes JPEG with the accurate IDCT."""
  builder = tfds.builder(NAME, data_dir=DATA_DIR)
  if not precise:
    return tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1))
  ds = builder.as_dataset(
      split=split, decoders={"image": tfds.decode.SkipDecoding()})
  ds = ds.map(lambda ex: {**ex, "image": tf.io.decode_jpeg(
      ex["image"], dct_method="INTEGER_ACCURATE")})
  return tfds.as_numpy(ds.batch(100_000).get_single_element())


class IdxTest(absltest.TestCase):

  def test_raw_train_split_is_fashion_mnist(self):
    images, labels = fashion_mnist.load_split("train")
    self.assertEqual(images.shape, (60000, 28, 28))
    self.assertEqual(images.dtype, np.uint8)
    # Known facts of the real data set.
    self.assertEqual(fashion_mnist.CLASS_NAMES[labels[0]], "Ankle boot")
    self.assertEqual(labels[:4].tolist(), [9, 0, 0, 3])
    self.assertAlmostEqual(images.mean(), 72.9404, places=3)
    np.testing.assert_array_equal(np.bincount(labels), [6000] * 10)

  def test_unknown_split(self):
    with self.assertRaisesRegex(ValueError, "'validation'.*allowed"):
      fashion_mnist.load_split("validation")

  def test_bad_idx_magic(self):
    with tempfile.TemporaryDirectory() as d:
      path = os.path.join(d, "bad.gz")
      with gzip.open(path, "wb") as f:
        f.write(b"\x00\x00\x0d\x01\x00\x00\x00\x02ab")  # float type code.
      with self.assertRaisesRegex(ValueError, "not an IDX file"):
        fashion_mnist.read_idx(path)

  def test_missing_files_named(self):
    with tempfile.TemporaryDirectory() as d:
      with self.assertRaisesRegex(FileNotFoundError, "t10k-images"):
        fashion_mnist.load_split("test", d)


class BuiltDatasetTest(absltest.TestCase):

  def test_info(self):
    builder = tfds.builder(NAME, data_dir=DATA_DIR)
    self.assertEqual(builder.info.splits["train"].num_examples, 60000)
    self.assertEqual(builder.info.splits["test"].num_examples, 10000)
    features = builder.info.features
    self.assertEqual(features["image"].shape, (28, 28, 1))
    self.assertEqual(features["image"].encoding_format, "jpeg")
    self.assertEqual(features["label"].names, list(fashion_mnist.CLASS_NAMES))

  def test_train_split_holds_the_real_images(self):
    data = _read_all("train")
    self.assertEqual(data["image"].shape, (60000, 28, 28, 1))
    np.testing.assert_array_equal(np.bincount(data["label"]), [6000] * 10)
    # Even the fast IDCT of TFDS keeps the statistics of the raw pixels.
    self.assertAlmostEqual(data["image"].mean(), 72.94, delta=1.0)

  def test_test_split_matches_idx_per_class(self):
    data = _read_all("test", precise=True)
    raw_images, raw_labels = fashion_mnist.load_split("test")
    np.testing.assert_array_equal(np.bincount(data["label"]), [1000] * 10)
    for c in range(10):
      built = data["image"][data["label"] == c, ..., 0].mean(0)
      raw = raw_images[raw_labels == c].mean(0)
      np.testing.assert_allclose(built, raw, atol=0.3, err_msg=f"class {c}")


class BigVisionInputTest(parameterized.TestCase):

  def setUp(self):
    super().setUp()
    if not frameworks.available("big_vision"):
      self.skipTest("Big Vision checkout not found.")
    self.ds_core, self.input_pipeline, self.pp_builder = (
        importlib.import_module(f"big_vision.{m}")
        for m in ("datasets.core", "input_pipeline", "pp.builder"))
    for ops in ("ops_general", "ops_image"):  # Registers the pp ops.
      importlib.import_module(f"big_vision.pp.{ops}")

  @parameterized.parameters(
      ('decode|resize(32)|value_range(-1,1)'
       '|onehot(10, key="label", key_result="labels")|keep("image","labels")'),
      ('decode(precise=True)|resize_small(36)|central_crop(32)'
       '|value_range(-1,1)|onehot(10, key="label", key_result="labels")'
       '|keep("image","labels")'),
      ('decode_jpeg_and_inception_crop(32)|flip_lr|value_range(-1,1)'
       '|onehot(10, key="label", key_result="labels")|keep("image","labels")'),
  )
  def test_big_vision_reads_a_batch(self, pp):
    data = self.ds_core.get(name=NAME, split="train", data_dir=DATA_DIR)
    self.assertEqual(data.total_examples, 60000)
    ds = self.input_pipeline.make_for_train(
        data.get_tfdata(ordered=True), self.pp_builder.get_preprocess_fn(pp),
        batch_size=16)
    batch = next(iter(ds.as_numpy_iterator()))
    self.assertEqual(set(batch), {"image", "labels"})
    self.assertEqual(batch["image"].shape, (16, 32, 32, 3))
    self.assertGreaterEqual(batch["image"].min(), -1.0)
    self.assertLessEqual(batch["image"].max(), 1.0)
    self.assertGreater(batch["image"].std(), 0.3)  # Not blank.
    np.testing.assert_array_equal(batch["labels"].sum(-1), np.ones(16))

  def test_big_vision_evaluates_the_whole_test_split(self):
    pp = ('decode|resize(32)|value_range(-1,1)'
          '|onehot(10, key="label", key_result="labels")'
          '|keep("image","labels")')
    data = self.ds_core.get(name=NAME, split="test", data_dir=DATA_DIR)
    ds, num_batches = self.input_pipeline.make_for_inference(
        data.get_tfdata(ordered=True), self.pp_builder.get_preprocess_fn(pp),
        batch_size=768, num_ex_per_process=data.num_examples_per_process())
    self.assertEqual(num_batches, 14)  # ceil(10000 / 768), last one padded.
    counts = np.zeros(10)
    for batch in ds.take(num_batches).as_numpy_iterator():
      counts += batch["labels"][batch["_mask"]].sum(0)
    np.testing.assert_array_equal(counts, [1000] * 10)


if __name__ == "__main__":
  absltest.main()
