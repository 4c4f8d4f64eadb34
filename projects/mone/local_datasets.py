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

"""Scenic datasets over locally built TFDS data: images and video clips.

Both read a prepared TFDS data set from `dataset_configs.data_dir` (no
download, no DMVR) and yield Scenic batches: `inputs` (float, scaled to
[-1, 1]), `label` (int) and `batch_mask`, with a leading device axis. The
defaults are the project's local data: `fashion_mnist_local` images and
`moving_fashion_mnist` clips, whose label is the direction of motion.
"""

import functools
import os
from typing import Optional

from absl import logging
import jax.numpy as jnp
import ml_collections
from scenic.dataset_lib import dataset_utils
from scenic.dataset_lib import datasets
import tensorflow as tf
import tensorflow_datasets as tfds

from mone_plugin.data import prepare


def _builder(dataset_configs):
  """The TFDS builder of an already prepared data set, with a clear error."""
  name = dataset_configs.tfds_name
  data_dir = dataset_configs.get('data_dir')
  if data_dir:
    data_dir = os.path.expanduser(data_dir)
    prepare.check_prepared(name, data_dir)  # The local data sets: `make data`.
  try:
    builder = tfds.builder(name, data_dir=data_dir)
  except Exception as e:  # TFDS raises several types for a missing data set.
    raise ValueError(
        f'TFDS data set {name!r} is not prepared in data_dir={data_dir!r} '
        f'({str(e).splitlines()[0]}). Build it first (in the MoNE plugin repo: '
        '`python -m mone_plugin.data.prepare`).') from e
  if not builder.is_prepared():
    raise ValueError(
        f'TFDS data set {name!r} is not prepared in data_dir={data_dir!r}. '
        'Build it first (in the MoNE plugin repo: '
        '`python -m mone_plugin.data.prepare`).')
  return builder


def _num_examples(builder, split):
  return builder.info.splits[split].num_examples


def _to_scenic(example, *, inputs_key, label_key, dtype):
  """Scales uint8 pixels to [-1, 1] and renames the features as Scenic does."""
  inputs = tf.cast(example[inputs_key], dtype) / 127.5 - 1.0
  return {'inputs': inputs, 'label': example[label_key]}


def _resize_frames(example, size):
  """Resizes images [H, W, C] or clips [T, H, W, C] to `size` x `size`."""
  inputs = tf.image.resize(example['inputs'], (size, size), method='bilinear')
  return {**example, 'inputs': inputs}


def _build(*, inputs_key, batch_size, eval_batch_size, num_shards, dtype_str,
           shuffle_seed, dataset_configs):
  """Shared pipeline of the image and the video data set."""
  builder = _builder(dataset_configs)
  dtype = getattr(tf, dtype_str)
  train_split = dataset_configs.get('train_split', 'train')
  eval_split = dataset_configs.get('eval_split', 'test')
  image_size = dataset_configs.get('image_size')
  label_key = dataset_configs.get('label_key', 'label')
  if label_key not in builder.info.features:
    raise ValueError(
        f'label_key={label_key!r} is not a feature of '
        f'{dataset_configs.tfds_name}; allowed: '
        f'{sorted(builder.info.features)}.')

  def preprocess(example):
    example = _to_scenic(example, inputs_key=inputs_key, label_key=label_key,
                         dtype=dtype)
    if image_size:
      example = _resize_frames(example, image_size)
    return example

  load = functools.partial(
      dataset_utils.load_split_from_tfds_builder, builder=builder,
      preprocess_example=preprocess, shuffle_seed=shuffle_seed)
  logging.info('Loading %s split %s.', dataset_configs.tfds_name, train_split)
  train_ds, info = load(batch_size=batch_size, split=train_split)
  logging.info('Loading %s split %s.', dataset_configs.tfds_name, eval_split)
  eval_ds, _ = load(batch_size=eval_batch_size, split=eval_split)

  pad_train = functools.partial(
      dataset_utils.maybe_pad_batch, train=True, batch_size=batch_size)
  pad_eval = functools.partial(
      dataset_utils.maybe_pad_batch, train=False, batch_size=eval_batch_size)
  shard = functools.partial(dataset_utils.shard, n_devices=num_shards)

  def iterate(ds, pad):
    records = prepare.name_corrupted_file(  # Names a corrupted TFRecord file.
        ds, dataset_configs.tfds_name, dataset_configs.get('data_dir'))
    it = map(dataset_utils.tf_to_numpy, records)
    return map(shard, map(pad, it))

  shape = tuple(train_ds.element_spec['inputs'].shape[1:])
  meta_data = {
      'num_classes': info.features[label_key].num_classes,
      'input_shape': (-1,) + shape,
      'num_train_examples': _num_examples(builder, train_split),
      'num_eval_examples': _num_examples(builder, eval_split),
      'input_dtype': getattr(jnp, dtype_str),
      'target_is_onehot': False,
  }
  logging.info('Dataset meta data: %s', meta_data)
  return dataset_utils.Dataset(
      iterate(train_ds, pad_train), iterate(eval_ds, pad_eval), None,
      meta_data)


def _with_defaults(dataset_configs, tfds_name):
  configs = ml_collections.ConfigDict(dataset_configs or {})
  if not configs.get('tfds_name'):
    configs.tfds_name = tfds_name
  return configs


@datasets.add_dataset('mone_local_images')
def get_image_dataset(*,
                      batch_size,
                      eval_batch_size,
                      num_shards,
                      dtype_str='float32',
                      shuffle_seed=0,
                      rng=None,
                      dataset_configs=None,
                      dataset_service_address: Optional[str] = None):
  """Images [H, W, C] of a local TFDS data set (default fashion_mnist_local).

  Args:
    batch_size: Train batch size (per host).
    eval_batch_size: Evaluation batch size (per host).
    num_shards: Number of local devices: batches are [num_shards, bs, ...].
    dtype_str: Data type of the inputs.
    shuffle_seed: Seed of the train shuffle.
    rng: Unused.
    dataset_configs: `tfds_name`, `data_dir`, `train_split`, `eval_split`
      (TFDS split strings, slices allowed), `label_key` (default 'label') and
      `image_size` (resize, optional).
    dataset_service_address: Unsupported (must be None).

  Returns:
    A `dataset_utils.Dataset` with train and eval iterators and meta data.
  """
  del rng
  if dataset_service_address:
    raise ValueError('mone_local_images does not use the tf.data service.')
  return _build(
      inputs_key='image', batch_size=batch_size,
      eval_batch_size=eval_batch_size, num_shards=num_shards,
      dtype_str=dtype_str, shuffle_seed=shuffle_seed,
      dataset_configs=_with_defaults(dataset_configs, 'fashion_mnist_local'))


@datasets.add_dataset('mone_local_video')
def get_video_dataset(*,
                      batch_size,
                      eval_batch_size,
                      num_shards,
                      dtype_str='float32',
                      shuffle_seed=0,
                      rng=None,
                      dataset_configs=None,
                      dataset_service_address: Optional[str] = None):
  """Clips [T, H, W, C] of a local TFDS data set (default moving_fashion_mnist).

  Args:
    batch_size: Train batch size (per host).
    eval_batch_size: Evaluation batch size (per host).
    num_shards: Number of local devices: batches are [num_shards, bs, ...].
    dtype_str: Data type of the inputs.
    shuffle_seed: Seed of the train shuffle.
    rng: Unused.
    dataset_configs: `tfds_name`, `data_dir`, `train_split`, `eval_split`,
      `label_key` (default 'label': for the local clips the direction of
      motion; 'garment' is the garment class) and `image_size` (resize of
      every frame, optional). Frames are never flipped.
    dataset_service_address: Unsupported (must be None).

  Returns:
    A `dataset_utils.Dataset` with train and eval iterators and meta data.
  """
  del rng
  if dataset_service_address:
    raise ValueError('mone_local_video does not use the tf.data service.')
  return _build(
      inputs_key='video', batch_size=batch_size,
      eval_batch_size=eval_batch_size, num_shards=num_shards,
      dtype_str=dtype_str, shuffle_seed=shuffle_seed,
      dataset_configs=_with_defaults(dataset_configs, 'moving_fashion_mnist'))
