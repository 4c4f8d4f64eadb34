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

"""Fashion-MNIST as a local TFDS data set, read from Debian's IDX files.

The builder downloads nothing: it reads the four gzipped IDX files installed by
Debian's `dataset-fashion-mnist` package (or any directory holding them, given
by `$MONE_FASHION_MNIST_DIR`). Images are stored JPEG-encoded, like ImageNet in
TFDS, so Big Vision's `decode` and `decode_jpeg_and_inception_crop` ops work on
them unchanged (both give 3 channels by default). They are encoded at quality
100: decoded with the accurate IDCT (Big Vision's `decode(precise=True)`) they
are within 0.1 grey levels of the raw pixels on average; the default fast IDCT
(TFDS, `decode`) adds about 2 levels of noise.
"""

import gzip
import os

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

# Where Debian's `dataset-fashion-mnist` package installs the IDX files.
DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
DEBIAN_PACKAGE = "dataset-fashion-mnist"
ENV_DIR = "MONE_FASHION_MNIST_DIR"

CLASS_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

# split -> (images file, labels file, number of examples).
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
              60_000),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
             10_000),
}

_IDX_UBYTE = 0x08  # IDX type code of unsigned bytes.
JPEG_QUALITY = 100


def idx_dir():
  """Returns the directory the IDX files are read from."""
  return os.environ.get(ENV_DIR) or DEBIAN_DIR


def missing_files(directory=None):
  """Returns the IDX files absent from `directory` (default: `idx_dir()`)."""
  directory = directory or idx_dir()
  names = [n for images, labels, _ in FILES.values() for n in (images, labels)]
  return [n for n in names if not os.path.isfile(os.path.join(directory, n))]


def read_idx(path):
  """Reads a gzipped IDX file of unsigned bytes into a numpy array."""
  with gzip.open(path, "rb") as f:
    data = f.read()
  if len(data) < 4 or data[0] or data[1] or data[2] != _IDX_UBYTE:
    raise ValueError(f"{path} is not an IDX file of unsigned bytes (magic "
                     f"{data[:4].hex()!r}; expected 000008xx).")
  ndim = data[3]
  shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big")
                for i in range(ndim))
  offset = 4 + 4 * ndim
  if len(data) - offset != int(np.prod(shape)):
    raise ValueError(f"{path}: header says shape {shape} but holds "
                     f"{len(data) - offset} bytes.")
  return np.frombuffer(data, np.uint8, offset=offset).reshape(shape)


def load_split(split, directory=None):
  """Returns (images uint8 [N, 28, 28], labels uint8 [N]) of a split."""
  if split not in FILES:
    raise ValueError(f"Unknown Fashion-MNIST split {split!r}; allowed: "
                     f"{sorted(FILES)}.")
  directory = directory or idx_dir()
  missing = missing_files(directory)
  if missing:
    raise FileNotFoundError(
        f"Fashion-MNIST IDX files {missing} not found in {directory}. Run "
        f"`python -m mone_plugin.data.prepare` (installs Debian's "
        f"{DEBIAN_PACKAGE}) or point ${ENV_DIR} at a directory holding them.")
  images_file, labels_file, num = FILES[split]
  images = read_idx(os.path.join(directory, images_file))
  labels = read_idx(os.path.join(directory, labels_file))
  if images.shape != (num, 28, 28) or labels.shape != (num,):
    raise ValueError(f"Fashion-MNIST {split}: unexpected shapes "
                     f"{images.shape} and {labels.shape}.")
  return images, labels


def encode_jpeg(images, quality=JPEG_QUALITY):
  """Yields the JPEG bytes of uint8 [N, h, w] grayscale images, in order."""
  ds = tf.data.Dataset.from_tensor_slices(images[..., None])
  ds = ds.map(lambda im: tf.io.encode_jpeg(im, quality=quality),
              num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  yield from ds.as_numpy_iterator()


class FashionMnistLocal(tfds.core.GeneratorBasedBuilder):
  """Fashion-MNIST (Xiao et al. 2017) built from local IDX files."""

  VERSION = tfds.core.Version("1.1.0")
  RELEASE_NOTES = {
      "1.0.0": "JPEG-encoded 28x28x1 images (quality 95), 10 classes.",
      "1.1.0": "JPEG quality 100.",
  }

  def _info(self):
    return self.dataset_info_from_configs(
        description=("Fashion-MNIST: 28x28 grayscale Zalando article images "
                     "in 10 classes, read from Debian's "
                     f"{DEBIAN_PACKAGE} package."),
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Image(
                shape=(28, 28, 1), encoding_format="jpeg"),
            "label": tfds.features.ClassLabel(names=CLASS_NAMES),
        }),
        supervised_keys=("image", "label"),
        homepage="https://github.com/zalandoresearch/fashion-mnist",
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # Nothing to download.
    return {split: self._generate_examples(split) for split in FILES}

  def _generate_examples(self, split):
    images, labels = load_split(split)
    for i, (jpeg, label) in enumerate(zip(encode_jpeg(images), labels)):
      yield i, {"image": jpeg, "label": int(label)}
