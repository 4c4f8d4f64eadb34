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

"""Writes local clips as Scenic's `video_tfrecord_dataset` reads them.

Each clip is a `tf.train.SequenceExample` in the MediaSequence format that
DMVR parses (`dmvr.modalities.add_image` / `add_label`): RGB JPEG frames in
the feature list `image/encoded`, the class in the context feature
`clip/label/index`. A table is a sharded file spec relative to `base_dir`,
`train.tfrecord@2` being `train.tfrecord-00000-of-00002` and `-00001-of-`,
as ViViT's configs name them. This lets the Kinetics-400 and SSv2 configs run
through Scenic's own video input on a few Moving Fashion-MNIST clips.
"""

import os
from typing import Dict, Iterable, List, Tuple

import numpy as np
from scenic.projects.vivit.data import file_utils
import tensorflow as tf
import tensorflow_datasets as tfds

from mone_plugin.data import prepare

IMAGE_KEY = 'image/encoded'
LABEL_KEY = 'clip/label/index'
# Scenic's subsets; validation and test clips come from the held-out split.
TFDS_SPLITS = {'train': 'train', 'validation': 'test', 'test': 'test'}


def sequence_example(frames: np.ndarray, label: int) -> bytes:
  """A serialised SequenceExample of uint8 frames [T, H, W, 1 or 3]."""
  frames = np.asarray(frames, np.uint8)
  if frames.ndim != 4 or frames.shape[-1] not in (1, 3):
    raise ValueError(f'Frames of shape {frames.shape}: expected '
                     '[T, H, W, 1 or 3] uint8.')
  rgb = np.broadcast_to(frames, frames.shape[:3] + (3,))
  jpegs = [tf.io.encode_jpeg(f, quality=95).numpy() for f in rgb]
  example = tf.train.SequenceExample()
  example.context.feature[LABEL_KEY].int64_list.value.append(int(label))
  feature_list = example.feature_lists.feature_list[IMAGE_KEY]
  for jpeg in jpegs:
    feature_list.feature.add().bytes_list.value.append(jpeg)
  return example.SerializeToString()


def shard_paths(base_dir: str, table: str) -> List[str]:
  """The files of `table` (a sharded spec or one file) under `base_dir`."""
  path = os.path.join(base_dir, table)
  if file_utils.is_sharded_file_spec(path):
    return list(file_utils.generate_sharded_filenames(path))
  return [path]


def write_table(clips: Iterable[Tuple[np.ndarray, int]], base_dir: str,
                table: str) -> int:
  """Writes (frames, label) pairs round-robin to the shards of `table`.

  Args:
    clips: (uint8 frames [T, H, W, C], label) pairs.
    base_dir: The dataset's `base_dir`.
    table: A value of the dataset's `tables`, e.g. 'train.tfrecord@2'.

  Returns:
    The number of clips written.
  """
  paths = shard_paths(base_dir, table)
  for p in paths:
    tf.io.gfile.makedirs(os.path.dirname(p))
  writers = [tf.io.TFRecordWriter(p) for p in paths]
  n = 0
  try:
    for n, (frames, label) in enumerate(clips, 1):
      writers[(n - 1) % len(writers)].write(sequence_example(frames, label))
  finally:
    for w in writers:
      w.close()
  return n


def write_moving_fashion_mnist(base_dir: str, tables: Dict[str, str],
                               num_clips: int,
                               data_dir=None) -> Dict[str, int]:
  """Writes `num_clips` local clips to every table; returns the counts.

  Args:
    base_dir: The dataset's `base_dir`.
    tables: Subset ('train', 'validation', 'test') -> table, as in the
      config's `dataset_configs.tables`.
    num_clips: Clips per table (train from the TFDS train split, validation
      and test from its test split; labels: the direction of motion).
    data_dir: TFDS data dir of the prepared `moving_fashion_mnist`.

  Returns:
    Subset -> number of clips, the config's `examples_per_subset`.
  """
  data_dir = os.path.expanduser(data_dir or prepare.data_dir())
  prepare.check_prepared('moving_fashion_mnist', data_dir)
  builder = tfds.builder('moving_fashion_mnist', data_dir=data_dir)
  counts = {}
  for subset, table in tables.items():
    ds = builder.as_dataset(split=f'{TFDS_SPLITS[subset]}[:{num_clips}]')
    clips = ((e['video'], e['label']) for e in tfds.as_numpy(ds))
    counts[subset] = write_table(clips, base_dir, table)
  return counts
