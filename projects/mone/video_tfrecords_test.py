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

"""Clips are written in the MediaSequence format, sharded as Scenic names."""

import os
import tempfile

import projects  # plugin-only
projects.skip_without_scenic()  # plugin-only

from absl.testing import absltest
import numpy as np
import tensorflow as tf

from mone_plugin.data import prepare
from projects.mone import video_tfrecords

# What DMVR's `add_image` / `add_label` parse.
_CONTEXT = {video_tfrecords.LABEL_KEY: tf.io.VarLenFeature(tf.int64)}
_SEQUENCE = {video_tfrecords.IMAGE_KEY:
             tf.io.FixedLenSequenceFeature((), dtype=tf.string)}


def _parse(record):
  context, sequence = tf.io.parse_single_sequence_example(
      record, context_features=_CONTEXT, sequence_features=_SEQUENCE)
  frames = tf.map_fn(lambda b: tf.io.decode_jpeg(b, channels=3),
                     sequence[video_tfrecords.IMAGE_KEY], dtype=tf.uint8)
  return frames.numpy(), tf.sparse.to_dense(
      context[video_tfrecords.LABEL_KEY]).numpy()


class VideoTfrecordsTest(absltest.TestCase):

  def test_sequence_example_round_trip(self):
    frames = np.zeros((3, 16, 16, 1), np.uint8)
    frames[1, 4:12, 4:12] = 200
    decoded, label = _parse(video_tfrecords.sequence_example(frames, 5))
    self.assertEqual(decoded.shape, (3, 16, 16, 3))  # Grey becomes RGB.
    self.assertEqual(label.tolist(), [5])
    error = np.abs(decoded[..., :1].astype(int) - frames)
    self.assertLess(error.mean(), 3)  # JPEG, quality 95.
    with self.assertRaisesRegex(ValueError, r'expected \[T, H, W, 1 or 3\]'):
      video_tfrecords.sequence_example(frames[0], 5)

  def test_tables_sharded_as_scenic_names_them(self):
    base = tempfile.mkdtemp()
    clips = [(np.full((2, 8, 8, 3), i, np.uint8), i) for i in range(5)]
    self.assertEqual(
        video_tfrecords.write_table(clips, base, 'sub/train.tfrecord@2'), 5)
    names = sorted(os.listdir(os.path.join(base, 'sub')))
    self.assertEqual(names, ['train.tfrecord-00000-of-00002',
                             'train.tfrecord-00001-of-00002'])
    labels = [[int(_parse(r)[1][0]) for r in tf.data.TFRecordDataset(
        os.path.join(base, 'sub', n)).as_numpy_iterator()] for n in names]
    self.assertEqual(labels, [[0, 2, 4], [1, 3]])  # Round-robin.
    video_tfrecords.write_table(clips[:1], base, 'one.tfrecord')
    self.assertTrue(os.path.exists(os.path.join(base, 'one.tfrecord')))

  def test_moving_fashion_mnist_clips(self):
    base = tempfile.mkdtemp()
    counts = video_tfrecords.write_moving_fashion_mnist(
        base, {'train': 'train.tfrecord@1', 'test': 'test.tfrecord@1'}, 3,
        data_dir=prepare.ensure_prepared())
    self.assertEqual(counts, {'train': 3, 'test': 3})
    record = next(tf.data.TFRecordDataset(os.path.join(
        base, 'test.tfrecord-00000-of-00001')).as_numpy_iterator())
    frames, label = _parse(record)
    self.assertEqual(frames.shape, (8, 32, 32, 3))  # 8 frames of 32 x 32.
    self.assertIn(int(label[0]), range(8))  # A direction of motion.


if __name__ == '__main__':
  absltest.main()
