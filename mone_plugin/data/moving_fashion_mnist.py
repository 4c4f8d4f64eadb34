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

"""Moving Fashion-MNIST: a small video classification set that needs motion.

Each clip shows one real Fashion-MNIST garment (28x28) on a 32x32 canvas that
wraps around (a torus), shifted by a constant velocity every frame. The label is
the direction of motion, one of 8. The start offset is uniform over the whole
torus, so each frame on its own is a uniformly shifted garment whatever the
direction: no single frame carries any information about the label, only the
displacement between frames does. Speeds of 1-3 pixels per frame (per axis),
far below half the canvas, keep each shift between frames unambiguous.

Clips are generated deterministically (fixed seeds): train clips from
Fashion-MNIST train images, test clips from test images, classes balanced.
"""

import numpy as np
import tensorflow_datasets as tfds

from mone_plugin.data import fashion_mnist

NUM_FRAMES = 8
CANVAS = 32
SPEEDS = (1, 2, 3)  # Pixels per frame along each moving axis.
# Direction names in image coordinates (rows grow downwards) and their unit
# (d_row, d_col) steps; the label is the index into this tuple.
DIRECTIONS = (
    ("right", (0, 1)), ("down_right", (1, 1)), ("down", (1, 0)),
    ("down_left", (1, -1)), ("left", (0, -1)), ("up_left", (-1, -1)),
    ("up", (-1, 0)), ("up_right", (-1, 1)),
)
DIRECTION_NAMES = tuple(name for name, _ in DIRECTIONS)
UNIT_STEPS = np.array([step for _, step in DIRECTIONS], np.int64)

# split -> (number of clips, seed); both splits are class-balanced.
SPLITS = {"train": (6000, 0), "test": (1000, 1)}


def make_clips(images, labels, num_clips, seed,
               num_frames=NUM_FRAMES, canvas=CANVAS):
  """Makes moving-garment clips from images.

  Args:
    images: uint8 [N, h, w] garment images, h, w <= canvas.
    labels: [N] garment classes (kept as metadata).
    num_clips: how many clips; at most N (each image is used at most once).
    seed: seed of the numpy generator; same arguments give the same clips.
    num_frames: frames per clip.
    canvas: side of the square, wrapping canvas.

  Returns:
    A dict of numpy arrays: "video" uint8 [num_clips, T, canvas, canvas, 1],
    "label" int64 [num_clips] (direction), "garment" int64 [num_clips],
    "velocity" int64 [num_clips, 2] ((rows, cols) per frame) and "start"
    int64 [num_clips, 2] (offset of the first frame).
  """
  n, h, w = images.shape
  if not 0 < num_clips <= n:
    raise ValueError(f"num_clips={num_clips} must be in [1, {n}] (number of "
                     "source images).")
  if h > canvas or w > canvas:
    raise ValueError(f"Images of {h}x{w} do not fit a canvas of {canvas}.")
  if 2 * max(SPEEDS) >= canvas:
    raise ValueError(f"canvas={canvas} is too small for speeds {SPEEDS}: a "
                     "shift between frames would be ambiguous on the torus.")
  if num_frames < 2:
    raise ValueError(f"num_frames={num_frames}: motion needs at least 2.")
  rng = np.random.default_rng(seed)
  source = rng.choice(n, size=num_clips, replace=False)
  direction = rng.permutation(np.arange(num_clips) % len(DIRECTIONS))
  speed = rng.choice(SPEEDS, size=num_clips)
  velocity = UNIT_STEPS[direction] * speed[:, None]
  start = rng.integers(0, canvas, size=(num_clips, 2))

  # Offsets of every frame, then gather: frame[y, x] = base[y - oy, x - ox].
  t = np.arange(num_frames)
  offsets = start[:, None, :] + t[None, :, None] * velocity[:, None, :]
  base = np.zeros((num_clips, canvas, canvas), np.uint8)
  base[:, :h, :w] = images[source]
  grid = np.arange(canvas)
  rows = (grid[None, None, :] - offsets[..., 0:1]) % canvas  # [B, T, canvas]
  cols = (grid[None, None, :] - offsets[..., 1:2]) % canvas
  clip = np.arange(num_clips)[:, None, None, None]
  video = base[clip, rows[..., :, None], cols[..., None, :]]
  return {
      "video": video[..., None],
      "label": direction.astype(np.int64),
      "garment": np.asarray(labels)[source].astype(np.int64),
      "velocity": velocity.astype(np.int64),
      "start": start.astype(np.int64),
  }


class MovingFashionMnist(tfds.core.GeneratorBasedBuilder):
  """Fashion-MNIST garments moving in one of 8 directions (label)."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "8 frames of 32x32x1, 8 directions, 6000/1000."}

  def _info(self):
    shape = (NUM_FRAMES, CANVAS, CANVAS, 1)
    return self.dataset_info_from_configs(
        description=(
            "Real Fashion-MNIST garments moving on a wrapping "
            f"{CANVAS}x{CANVAS} canvas over {NUM_FRAMES} frames; the label "
            "is the direction of motion, which no single frame reveals."),
        features=tfds.features.FeaturesDict({
            "video": tfds.features.Video(shape=shape),
            "label": tfds.features.ClassLabel(names=DIRECTION_NAMES),
            "garment": tfds.features.ClassLabel(
                names=fashion_mnist.CLASS_NAMES),
        }),
        supervised_keys=("video", "label"),
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # Nothing to download.
    return {split: self._generate_examples(split) for split in SPLITS}

  def _generate_examples(self, split):
    num_clips, seed = SPLITS[split]
    images, labels = fashion_mnist.load_split(split)
    clips = make_clips(images, labels, num_clips, seed)
    for i in range(num_clips):
      yield i, {"video": clips["video"][i], "label": clips["label"][i],
                "garment": clips["garment"][i]}
