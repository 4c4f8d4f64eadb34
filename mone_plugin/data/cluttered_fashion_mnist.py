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

"""Cluttered Fashion-MNIST: a garment among distractor fragments, 64x64 px.

The cluttered MNIST construction of Mnih et al. (2014), "Recurrent Models of
Visual Attention", on Fashion-MNIST: each 28x28 garment is pasted at a uniformly
random position of a black 64x64 canvas together with `NUM_FRAGMENTS` 8x8
fragments cropped from other garments of the same split, each fragment at its
own random position (overlaps keep the brighter pixel). A fragment is a random
8x8 window of its garment among those at least half ink, so that it is clutter,
not background. The label is the class of the whole garment.

With patch 8 the canvas is 8x8 = 64 tokens, as many as the 32 px Fashion-MNIST
runs; the garment has ink in about 18% of them, clutter (alone) in about 26%
and the rest, about 56%, is black background (`token_classes`, measured in the
test). Every example stores the per-pixel `mask` (0 background, 1 clutter, 2
garment) and the garment's box, which routing-map analyses pool to tokens.

Splits, each generated from its own garments only (a fragment never comes from
another split): `train` from Fashion-MNIST's train[:50000], `validation` from
train[50000:], `test` from the test set; one example per garment, in order.
Example i of a split is generated from a generator seeded by (SEED, split, i)
alone, so any example can be reproduced on its own.
"""

import numpy as np
import tensorflow_datasets as tfds

from mone_plugin.data import fashion_mnist

CANVAS = 64
PATCH = 8  # The token grid the configs use: (64 / 8)^2 = 64 tokens.
GARMENT = 28
NUM_FRAGMENTS = 8
FRAGMENT = 8
MIN_FRAGMENT_INK = 0.5  # Share of ink pixels a fragment window must reach.
INK = 16  # A pixel above this grey level is ink (garment or clutter).
SEED = 2014

BACKGROUND, CLUTTER, GARMENT_INK = 0, 1, 2  # Values of the per-pixel mask.
TOKEN_CLASS_NAMES = ("background", "clutter", "garment")  # By value.
MASK_NAMES = ("background", "clutter", "garment")

# split -> (index of the split in the seed, Fashion-MNIST split, its slice).
SPLITS = {
    "train": (0, "train", slice(0, 50_000)),
    "validation": (1, "train", slice(50_000, 60_000)),
    "test": (2, "test", slice(0, 10_000)),
}


def fragment_windows(images, size=FRAGMENT, min_ink=MIN_FRAGMENT_INK):
  """Which size x size windows of each image are at least `min_ink` ink.

  Args:
    images: uint8 [N, h, w].
    size: side of the window.
    min_ink: least share of ink pixels (> INK) in a window.

  Returns:
    bool [N, h - size + 1, w - size + 1]: window (i, r, c) is usable.
  """
  ink = np.pad((images > INK).astype(np.int32), ((0, 0), (1, 0), (1, 0)))
  total = ink.cumsum(1).cumsum(2)  # Integral image: sums of any window.
  sums = (total[:, size:, size:] - total[:, :-size, size:]
          - total[:, size:, :-size] + total[:, :-size, :-size])
  usable = sums >= min_ink * size * size
  # A garment without such a window (rare) offers its inkiest ones.
  fallback = sums == sums.max(axis=(1, 2), keepdims=True)
  return np.where(usable.any(axis=(1, 2), keepdims=True), usable, fallback)


def make_example(images, windows, index, split_index,
                 num_fragments=NUM_FRAGMENTS, canvas=CANVAS):
  """Cluttered example `index` of a split of `images`.

  Args:
    images: uint8 [N, 28, 28] garments of the split (N >= 2).
    windows: `fragment_windows(images)`.
    index: which garment; the fragments come from the others.
    split_index: the split's index in the seed (`SPLITS`).
    num_fragments: distractor fragments per canvas.
    canvas: side of the square canvas.

  Returns:
    A dict of numpy arrays: "image" uint8 [canvas, canvas, 1], "mask" uint8
    [canvas, canvas, 1] (BACKGROUND, CLUTTER or GARMENT_INK per pixel),
    "garment_box" int64 [4] (top, left, bottom, right; bottom and right
    excluded) and "fragment_sources" int64 [num_fragments].
  """
  n, h, w = images.shape
  rng = np.random.default_rng((SEED, split_index, index))
  top, left = rng.integers(0, canvas - h + 1, size=2)
  garment = np.zeros((canvas, canvas), np.uint8)
  garment[top:top + h, left:left + w] = images[index]
  clutter = np.zeros_like(garment)
  sources = rng.integers(0, n - 1, size=num_fragments)
  sources += sources >= index  # Any garment but this one.
  for j in sources:
    r, c = np.argwhere(windows[j])[rng.integers(windows[j].sum())]
    y, x = rng.integers(0, canvas - FRAGMENT + 1, size=2)
    region = clutter[y:y + FRAGMENT, x:x + FRAGMENT]
    np.maximum(region, images[j, r:r + FRAGMENT, c:c + FRAGMENT], out=region)
  mask = np.full_like(garment, BACKGROUND)
  mask[clutter > INK] = CLUTTER
  mask[garment > INK] = GARMENT_INK
  return {
      "image": np.maximum(garment, clutter)[..., None],
      "mask": mask[..., None],
      "garment_box": np.array([top, left, top + h, left + w], np.int64),
      "fragment_sources": sources.astype(np.int64),
  }


def token_classes(mask, patch=PATCH):
  """Per-token class of per-pixel masks: the highest class in the patch.

  A token is GARMENT_INK if any of its pixels is garment ink, else CLUTTER if
  any is clutter, else BACKGROUND.

  Args:
    mask: uint8 [..., H, W] or [..., H, W, 1] masks (`make_example`'s "mask").
    patch: side of a token's patch; divides H and W.

  Returns:
    uint8 [..., H / patch, W / patch].
  """
  mask = np.asarray(mask)
  if mask.shape[-1] == 1:
    mask = mask[..., 0]
  *batch, height, width = mask.shape
  if height % patch or width % patch:
    raise ValueError(f"patch={patch} does not divide the {height}x{width} "
                     "mask.")
  grid = mask.reshape(*batch, height // patch, patch, width // patch, patch)
  return grid.max(axis=(-3, -1))


def load_split(split):
  """(garments uint8 [N, 28, 28], labels [N], seed index) of a split."""
  if split not in SPLITS:
    raise ValueError(f"Unknown split {split!r}; allowed: {sorted(SPLITS)}.")
  split_index, source, rows = SPLITS[split]
  images, labels = fashion_mnist.load_split(source)
  return images[rows], labels[rows], split_index


class ClutteredFashionMnist(tfds.core.GeneratorBasedBuilder):
  """Fashion-MNIST garments among fragments of others on a 64x64 canvas."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {
      "1.0.0": "64x64x1 PNG, 8 fragments of 8x8, 50000/10000/10000.",
  }

  def _info(self):
    shape = (CANVAS, CANVAS, 1)
    return self.dataset_info_from_configs(
        description=(
            f"Cluttered Fashion-MNIST: each 28x28 garment at a random "
            f"position of a {CANVAS}x{CANVAS} canvas among {NUM_FRAGMENTS} "
            f"{FRAGMENT}x{FRAGMENT} fragments of other garments (Mnih et "
            "al. 2014); `mask` marks background (0), clutter (1) and garment "
            "(2) pixels."),
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Image(shape=shape, encoding_format="png"),
            "label": tfds.features.ClassLabel(
                names=fashion_mnist.CLASS_NAMES),
            "mask": tfds.features.Image(shape=shape, encoding_format="png"),
            "garment_box": tfds.features.Tensor(shape=(4,), dtype=np.int64),
            "source": np.int64,  # Index of the garment in its split.
        }),
        supervised_keys=("image", "label"),
        homepage="https://github.com/zalandoresearch/fashion-mnist",
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # Nothing to download.
    return {split: self._generate_examples(split) for split in SPLITS}

  def _generate_examples(self, split):
    images, labels, split_index = load_split(split)
    windows = fragment_windows(images)
    for i, label in enumerate(labels):
      example = make_example(images, windows, i, split_index)
      yield i, {"image": example["image"], "label": int(label),
                "mask": example["mask"],
                "garment_box": example["garment_box"], "source": i}
