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

"""Tests of the cluttered Fashion-MNIST data set (real data, built once)."""

from absl.testing import absltest
import numpy as np
import tensorflow_datasets as tfds

from mone_plugin.data import cluttered_fashion_mnist as cfm
from mone_plugin.data import fashion_mnist
from mone_plugin.data import prepare

NAME = "cluttered_fashion_mnist"
# The splits read whole or in part (train is 400 MB decoded).
READ = {"train": "train[:2000]", "validation": "validation", "test": "test"}


def setUpModule():
  global DATA_DIR, DATA
  DATA_DIR = prepare.ensure_prepared([NAME])
  builder = tfds.builder(NAME, data_dir=DATA_DIR)
  DATA = {split: tfds.as_numpy(builder.as_dataset(split=s, batch_size=-1))
          for split, s in READ.items()}


class MakeExampleTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    images, _ = fashion_mnist.load_split("test")
    cls.images = images[:300]
    cls.windows = cfm.fragment_windows(cls.images)

  def test_deterministic_per_split_and_index(self):
    a = cfm.make_example(self.images, self.windows, 7, 0)
    b = cfm.make_example(self.images, self.windows, 7, 0)
    for k in a:
      np.testing.assert_array_equal(a[k], b[k])
    for other in (cfm.make_example(self.images, self.windows, 8, 0),
                  cfm.make_example(self.images, self.windows, 7, 1)):
      self.assertFalse(np.array_equal(a["image"], other["image"]))

  def test_fragments_come_from_other_garments(self):
    for i in (0, 1, 150, 299):
      sources = cfm.make_example(self.images, self.windows, i, 0)[
          "fragment_sources"]
      self.assertLen(sources, cfm.NUM_FRAGMENTS)
      self.assertNotIn(i, sources)
      self.assertTrue(((sources >= 0) & (sources < 300)).all())

  def test_fragment_windows_are_mostly_ink(self):
    windows = self.windows
    self.assertEqual(windows.shape, (300, 21, 21))
    self.assertTrue(windows.any(axis=(1, 2)).all())
    i, r, c = np.argwhere(windows)[::97].T
    for i_, r_, c_ in zip(i, r, c):
      crop = self.images[i_, r_:r_ + 8, c_:c_ + 8]
      self.assertGreaterEqual((crop > cfm.INK).mean(), cfm.MIN_FRAGMENT_INK)

  def test_token_classes(self):
    mask = np.zeros((16, 16, 1), np.uint8)
    mask[0, 0] = cfm.CLUTTER
    mask[9, 3] = cfm.CLUTTER
    mask[9, 4] = cfm.GARMENT_INK
    np.testing.assert_array_equal(
        cfm.token_classes(mask), [[1, 0], [2, 0]])
    np.testing.assert_array_equal(
        cfm.token_classes(mask[None, ..., 0], patch=4)[0, :, :2],
        [[1, 0], [0, 0], [1, 2], [0, 0]])
    with self.assertRaisesRegex(ValueError, "patch=5"):
      cfm.token_classes(mask, patch=5)


class BuiltDatasetTest(absltest.TestCase):

  def test_info_and_shapes(self):
    builder = tfds.builder(NAME, data_dir=DATA_DIR)
    self.assertEqual(
        {s: i.num_examples for s, i in builder.info.splits.items()},
        {"train": 50_000, "validation": 10_000, "test": 10_000})
    self.assertEqual(builder.info.features["label"].names,
                     list(fashion_mnist.CLASS_NAMES))
    for split, data in DATA.items():
      n = len(data["label"])
      self.assertEqual(data["image"].shape, (n, 64, 64, 1), split)
      self.assertEqual(data["image"].dtype, np.uint8)
      self.assertEqual(data["mask"].shape, (n, 64, 64, 1))
      self.assertEqual(data["garment_box"].shape, (n, 4))

  def test_each_split_holds_its_own_garments_with_their_labels(self):
    # Validation is train[50000:], disjoint from train's train[:50000]: the
    # box holds that Fashion-MNIST image, brightened where fragments fall.
    # TFDS stores examples in the order of their keys' hashes.
    train_images, train_labels = fashion_mnist.load_split("train")
    test_images, test_labels = fashion_mnist.load_split("test")
    pools = {"train": (train_images[:50_000], train_labels[:50_000]),
             "validation": (train_images[50_000:], train_labels[50_000:]),
             "test": (test_images, test_labels)}
    for split, data in DATA.items():
      images, labels = pools[split]
      self.assertLen(np.unique(data["source"]), len(data["source"]))
      if split != "train":  # Read whole: every garment once.
        np.testing.assert_array_equal(np.sort(data["source"]),
                                      np.arange(len(images)))
      np.testing.assert_array_equal(data["label"], labels[data["source"]])
      for i in range(0, len(data["source"]), 97):
        top, left, bottom, right = data["garment_box"][i]
        self.assertEqual((bottom - top, right - left), (28, 28))
        crop = data["image"][i, top:bottom, left:right, 0]
        garment = images[data["source"][i]]
        self.assertTrue((crop >= garment).all(), (split, i))
        self.assertGreater((crop == garment).mean(), 0.6, (split, i))

  def test_examples_regenerate_from_their_seed(self):
    for split, data in DATA.items():
      images, _, split_index = cfm.load_split(split)
      windows = cfm.fragment_windows(images)
      for i in (0, 1, len(data["label"]) - 1):
        example = cfm.make_example(images, windows, data["source"][i],
                                   split_index)
        np.testing.assert_array_equal(data["image"][i], example["image"])
        np.testing.assert_array_equal(data["mask"][i], example["mask"])
        np.testing.assert_array_equal(data["garment_box"][i],
                                      example["garment_box"])

  def test_mask_marks_ink_and_garment_inside_its_box(self):
    for split, data in DATA.items():
      image, mask = data["image"][..., 0], data["mask"][..., 0]
      self.assertEqual(set(np.unique(mask)), {0, 1, 2})
      np.testing.assert_array_equal(image > cfm.INK, mask != cfm.BACKGROUND)
      rows, cols = np.arange(64)[None, :, None], np.arange(64)[None, None, :]
      top, left, bottom, right = (
          data["garment_box"][:, k, None, None] for k in range(4))
      inside = ((rows >= top) & (rows < bottom) & (cols >= left)
                & (cols < right))
      self.assertFalse((mask == cfm.GARMENT_INK)[~inside].any(), split)

  def test_garment_covers_a_minority_of_the_tokens(self):
    # Measured on validation and test (20,000 canvases): garment ~18.5% of
    # the 64 tokens, clutter alone ~26%, background ~55.5%; every canvas has
    # both garment and clutter tokens.
    for split in ("validation", "test"):
      tokens = cfm.token_classes(DATA[split]["mask"])
      self.assertEqual(tokens.shape[1:], (8, 8))
      shares = [(tokens == k).mean() for k in range(3)]
      self.assertBetween(shares[cfm.GARMENT_INK], 0.15, 0.22, split)
      self.assertBetween(shares[cfm.CLUTTER], 0.22, 0.30, split)
      self.assertBetween(shares[cfm.BACKGROUND], 0.50, 0.60, split)
      per_canvas = [(tokens == k).any(axis=(1, 2)) for k in (1, 2)]
      self.assertTrue(np.logical_and(*per_canvas).all(), split)
      self.assertLess((tokens == cfm.GARMENT_INK).sum(axis=(1, 2)).max(), 32)


if __name__ == "__main__":
  absltest.main()
