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

"""Tests of the Moving Fashion-MNIST video data set."""

from absl.testing import absltest
import numpy as np
import tensorflow_datasets as tfds

from mone_plugin.data import fashion_mnist
from mone_plugin.data import moving_fashion_mnist as mfm
from mone_plugin.data import prepare

NAME = "moving_fashion_mnist"


def setUpModule():
  global DATA_DIR, TRAIN, TEST
  DATA_DIR = prepare.ensure_prepared([NAME])
  builder = tfds.builder(NAME, data_dir=DATA_DIR)
  TRAIN = tfds.as_numpy(builder.as_dataset(split="train", batch_size=-1))
  TEST = tfds.as_numpy(builder.as_dataset(split="test", batch_size=-1))


def circular_centroid(frames):
  """(row, col) centroid of [..., H, W] frames on the torus, in pixels.

  The phase of the first Fourier coefficient of each marginal: it moves by
  exactly s pixels when the frame is rolled by s.
  """
  size = frames.shape[-1]
  angle = 2 * np.pi * np.arange(size) / size
  out = []
  for marginal in (frames.sum(-1), frames.sum(-2)):
    z = (marginal * np.exp(1j * angle)).sum(-1)
    out.append(np.angle(z) * size / (2 * np.pi) % size)
  return np.stack(out, -1)


class MakeClipsTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    images, labels = fashion_mnist.load_split("test")
    cls.images, cls.labels = images[:400], labels[:400]

  def test_frames_are_rolled_garments(self):
    clips = mfm.make_clips(self.images, self.labels, 64, seed=3)
    self.assertEqual(clips["video"].shape, (64, 8, 32, 32, 1))
    self.assertEqual(clips["video"].dtype, np.uint8)
    for i in range(64):
      garment = clips["video"][i, 0, ..., 0]
      base = np.roll(garment, -clips["start"][i], axis=(0, 1))
      self.assertTrue(base[28:].max() == base[:, 28:].max() == 0)
      # The garment is one of the source images, with its class.
      match = np.flatnonzero(
          (self.images == base[:28, :28]).all(axis=(1, 2)))
      self.assertIn(self.labels[match[0]], [clips["garment"][i]])
      for t in range(8):
        np.testing.assert_array_equal(
            clips["video"][i, t, ..., 0],
            np.roll(base, clips["start"][i] + t * clips["velocity"][i],
                    axis=(0, 1)))

  def test_deterministic_and_balanced(self):
    a = mfm.make_clips(self.images, self.labels, 80, seed=5)
    b = mfm.make_clips(self.images, self.labels, 80, seed=5)
    c = mfm.make_clips(self.images, self.labels, 80, seed=6)
    for k in a:
      np.testing.assert_array_equal(a[k], b[k])
    self.assertFalse(np.array_equal(a["video"], c["video"]))
    np.testing.assert_array_equal(np.bincount(a["label"]), [10] * 8)

  def test_bad_arguments(self):
    with self.assertRaisesRegex(ValueError, "num_clips=401"):
      mfm.make_clips(self.images, self.labels, 401, seed=0)
    with self.assertRaisesRegex(ValueError, "canvas=4"):
      mfm.make_clips(self.images[:, :4, :4], self.labels, 1, seed=0, canvas=4)
    with self.assertRaisesRegex(ValueError, "num_frames=1"):
      mfm.make_clips(self.images, self.labels, 1, seed=0, num_frames=1)


class BuiltDatasetTest(absltest.TestCase):

  def test_info(self):
    builder = tfds.builder(NAME, data_dir=DATA_DIR)
    self.assertEqual(builder.info.splits["train"].num_examples, 6000)
    self.assertEqual(builder.info.splits["test"].num_examples, 1000)
    self.assertEqual(builder.info.features["video"].shape, (8, 32, 32, 1))
    self.assertEqual(builder.info.features["label"].names,
                     list(mfm.DIRECTION_NAMES))
    self.assertEqual(TRAIN["video"].shape, (6000, 8, 32, 32, 1))
    self.assertEqual(TRAIN["video"].dtype, np.uint8)
    np.testing.assert_array_equal(np.bincount(TRAIN["label"]), [750] * 8)
    np.testing.assert_array_equal(
        np.bincount(TRAIN["garment"], minlength=10) > 450, [True] * 10)

  def test_frames_change_and_keep_the_garment(self):
    video = TRAIN["video"][..., 0].astype(np.int32)
    self.assertTrue((video[:, 1:] != video[:, :-1]).any(axis=(2, 3)).all())
    # A pure shift: the intensity histogram of a clip stays the same.
    sums = video.sum(axis=(2, 3))
    np.testing.assert_array_equal(sums, np.repeat(sums[:, :1], 8, axis=1))
    # Real Fashion-MNIST pixels (28x28 garment in a 32x32 canvas).
    self.assertAlmostEqual(video.mean(), 72.9 * (28 / 32) ** 2, delta=2.0)

  def test_label_is_the_direction_of_the_centroid_motion(self):
    centroid = circular_centroid(TRAIN["video"][..., 0].astype(np.float64))
    step = np.diff(centroid, axis=1)  # [N, T-1, 2]
    step = (step + 16) % 32 - 16  # Shortest displacement on the torus.
    speed = np.round(np.abs(step).max(-1))
    self.assertTrue(np.isin(speed, mfm.SPEEDS).all())
    direction = np.sign(np.round(step)).astype(int)
    expected = mfm.UNIT_STEPS[TRAIN["label"]][:, None, :]
    np.testing.assert_array_equal(
        direction, np.broadcast_to(expected, direction.shape))

  def test_a_single_frame_does_not_reveal_the_label(self):
    # Learn the most frequent label of every position cell (4x4 bins of the
    # centroid) of frame t on train, predict test from frame t alone: chance.
    # The same predictor on the displacement between two frames is near
    # perfect, so the test has the power to see information when it is there.
    def features(data):
      centroid = circular_centroid(data["video"][..., 0].astype(np.float64))
      cell = (centroid // 8).astype(int)
      step = (np.diff(centroid, axis=1) + 16) % 32 - 16
      move = np.sign(np.round(step)).astype(int) + 1
      return cell[..., 0] * 4 + cell[..., 1], move[..., 0] * 3 + move[..., 1]

    def accuracy(train_x, test_x, num_cells):
      table = np.zeros((num_cells, len(mfm.DIRECTIONS)))
      np.add.at(table, (train_x, TRAIN["label"]), 1)
      return (table.argmax(1)[test_x] == TEST["label"]).mean()

    (train_cell, train_move), (test_cell, test_move) = map(
        features, (TRAIN, TEST))
    for t in range(mfm.NUM_FRAMES):
      # Chance is 1/8; 0.17 is 4 standard deviations above it on 1000 clips.
      self.assertLess(accuracy(train_cell[:, t], test_cell[:, t], 16), 0.17,
                      f"frame {t} alone predicts the direction")
    self.assertGreater(accuracy(train_move[:, 0], test_move[:, 0], 9), 0.99)

if __name__ == "__main__":
  absltest.main()
