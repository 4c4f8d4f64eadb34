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

"""Image warps for AutoAugment/RandAugment over TF's projective-transform op.

Big Vision's archived RandAugment (`big_vision/pp/archive/autoaugment.py`)
imports `tensorflow_addons.image` for three functions: `rotate`, `translate`
and `transform`. TensorFlow Addons is archived and no longer imports under
TF 2.16+ (Keras 3). This module provides those three functions, with the same
signatures and defaults (nearest-neighbour, constant fill), on top of
`tf.raw_ops.ImageProjectiveTransformV3`, which TF core ships.

A transform is the 8 numbers [a0, a1, a2, b0, b1, b2, c0, c1]: the output
pixel (x, y) reads the input at ((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k)
with k = c0 x + c1 y + 1.
"""

import tensorflow as tf


def _as_batch(images):
  """Returns (4-D images, function restoring the original rank)."""
  images = tf.convert_to_tensor(images)
  rank = images.shape.rank
  if rank == 2:
    return images[None, :, :, None], lambda x: x[0, :, :, 0]
  if rank == 3:
    return images[None], lambda x: x[0]
  if rank == 4:
    return images, lambda x: x
  raise ValueError(
      f"images must have rank 2 (HW), 3 (HWC) or 4 (NHWC), got {rank}.")


def _as_transform_matrix(transforms):
  transforms = tf.convert_to_tensor(transforms, dtype=tf.float32)
  if transforms.shape.rank == 1:
    transforms = transforms[None]
  if transforms.shape.rank != 2 or transforms.shape[-1] != 8:
    raise ValueError(
        f"transforms must have shape [8] or [N, 8], got {transforms.shape}.")
  return transforms


def transform(images, transforms, interpolation="nearest",
              fill_mode="constant", output_shape=None, name=None,
              fill_value=0.0):
  """Applies projective `transforms` ([8] or [N, 8]) to `images`."""
  with tf.name_scope(name or "transform"):
    batch, restore = _as_batch(images)
    if output_shape is None:
      output_shape = tf.shape(batch)[1:3]
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=batch,
        transforms=_as_transform_matrix(transforms),
        output_shape=tf.convert_to_tensor(output_shape, tf.int32),
        fill_value=tf.convert_to_tensor(fill_value, tf.float32),
        interpolation=interpolation.upper(),
        fill_mode=fill_mode.upper())
    return restore(out)


def rotations_to_transforms(angles, height, width):
  """Transforms rotating an image by `angles` (radians) about its centre."""
  angles = tf.reshape(tf.convert_to_tensor(angles, tf.float32), [-1])
  h = tf.cast(height, tf.float32) - 1.0
  w = tf.cast(width, tf.float32) - 1.0
  cos, sin = tf.math.cos(angles), tf.math.sin(angles)
  # Output pixel p reads input R^-1 (p - centre) + centre.
  x_shift = (w - (cos * w - sin * h)) / 2.0
  y_shift = (h - (sin * w + cos * h)) / 2.0
  zeros = tf.zeros_like(angles)
  return tf.stack([cos, -sin, x_shift, sin, cos, y_shift, zeros, zeros], 1)


def rotate(images, angles, interpolation="nearest", fill_mode="constant",
           name=None, fill_value=0.0):
  """Rotates `images` counter-clockwise by `angles` (radians)."""
  with tf.name_scope(name or "rotate"):
    batch, restore = _as_batch(images)
    shape = tf.shape(batch)
    out = transform(
        batch, rotations_to_transforms(angles, shape[1], shape[2]),
        interpolation=interpolation, fill_mode=fill_mode,
        fill_value=fill_value)
    return restore(out)


def translations_to_transforms(translations):
  """Transforms shifting an image by `translations` ([dx, dy] or [N, 2])."""
  t = tf.convert_to_tensor(translations, tf.float32)
  t = tf.reshape(t, [-1, 2])
  ones, zeros = tf.ones_like(t[:, 0]), tf.zeros_like(t[:, 0])
  return tf.stack(
      [ones, zeros, -t[:, 0], zeros, ones, -t[:, 1], zeros, zeros], 1)


def translate(images, translations, interpolation="nearest",
              fill_mode="constant", name=None, fill_value=0.0):
  """Shifts `images` by `translations` pixels ([dx, dy] or [N, 2])."""
  with tf.name_scope(name or "translate"):
    return transform(
        images, translations_to_transforms(translations),
        interpolation=interpolation, fill_mode=fill_mode,
        fill_value=fill_value)
