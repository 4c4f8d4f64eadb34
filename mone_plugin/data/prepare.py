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

r"""Builds the local TFDS data sets (idempotent: a no-op once they are built).

  python -m mone_plugin.data.prepare [--data_dir=DIR] \
      [--datasets=fashion_mnist_local,cluttered_fashion_mnist]

(default: every data set of `DATASETS`, the two above and
moving_fashion_mnist).

Installs Debian's `dataset-fashion-mnist` package when its IDX files are
missing, then writes the data sets under `data_dir()`, which is
`$MONE_DATA_DIR/tfds` (default `~/mone_data/tfds`). Trainers read them with
`tfds.builder(name, data_dir=data_dir())`, or in Big Vision configs with
`config.input.data = dict(name="fashion_mnist_local", split="train",
data_dir=...)`.
"""

import contextlib
import fcntl
import os
import shutil
import subprocess
import time

from absl import app
from absl import flags
from absl import logging
import tensorflow_datasets as tfds

from mone_plugin.data import cluttered_fashion_mnist
from mone_plugin.data import fashion_mnist
from mone_plugin.data import moving_fashion_mnist

BUILDERS = {
    "fashion_mnist_local": fashion_mnist.FashionMnistLocal,
    "moving_fashion_mnist": moving_fashion_mnist.MovingFashionMnist,
    "cluttered_fashion_mnist": cluttered_fashion_mnist.ClutteredFashionMnist,
}
DATASETS = tuple(BUILDERS)
DEFAULT_ROOT = os.path.join("~", "mone_data")

def data_dir():
  """Returns the TFDS data dir of the local data sets: $MONE_DATA_DIR/tfds."""
  root = os.environ.get("MONE_DATA_DIR") or DEFAULT_ROOT
  return os.path.join(os.path.abspath(os.path.expanduser(root)), "tfds")


_default_data_dir = data_dir  # `ensure_prepared` has an argument of that name.


def _run(cmd):
  logging.info("Running: %s", " ".join(cmd))
  env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
  result = subprocess.run(cmd, env=env, capture_output=True, text=True,
                          check=False)
  if result.returncode:
    raise RuntimeError(f"`{' '.join(cmd)}` failed ({result.returncode}):\n"
                       f"{result.stdout[-2000:]}{result.stderr[-2000:]}")
  return result.stdout


def ensure_fashion_mnist_files():
  """Installs Debian's Fashion-MNIST package when its IDX files are missing."""
  directory = fashion_mnist.idx_dir()
  if not fashion_mnist.missing_files(directory):
    return directory
  if directory != fashion_mnist.DEBIAN_DIR:
    raise FileNotFoundError(
        f"${fashion_mnist.ENV_DIR}={directory} lacks the Fashion-MNIST IDX "
        f"files {fashion_mnist.missing_files(directory)}; unset it to use "
        f"Debian's {fashion_mnist.DEBIAN_PACKAGE} package instead.")
  package = fashion_mnist.DEBIAN_PACKAGE
  how = (f"Install it by hand (`sudo apt-get install {package}`), or put the "
         f"four IDX .gz files of https://github.com/zalandoresearch/"
         f"fashion-mnist in a directory and set ${fashion_mnist.ENV_DIR}.")
  if shutil.which("apt-get") is None:
    raise RuntimeError(f"Fashion-MNIST files are missing from {directory} and "
                       f"apt-get is not available to install {package}. {how}")
  if os.geteuid() != 0:
    raise RuntimeError(f"Fashion-MNIST files are missing from {directory}; "
                       f"installing {package} with apt-get needs root. {how}")
  policy = _run(["apt-cache", "policy", package])
  if "Candidate:" not in policy or "Candidate: (none)" in policy:
    _run(["apt-get", "update"])
  _run(["apt-get", "install", "-y", "--no-install-recommends", package])
  missing = fashion_mnist.missing_files(directory)
  if missing:
    raise RuntimeError(f"{package} is installed but {missing} are still "
                       f"missing from {directory}.")
  logging.info("Installed %s into %s.", package, directory)
  return directory


@contextlib.contextmanager
def _lock(directory):
  """Serialises builds of several processes (tests, trainers) sharing a dir."""
  os.makedirs(directory, exist_ok=True)
  with open(os.path.join(directory, ".mone_prepare.lock"), "w") as f:
    fcntl.flock(f, fcntl.LOCK_EX)
    try:
      yield
    finally:
      fcntl.flock(f, fcntl.LOCK_UN)


def ensure_prepared(names=DATASETS,
                    data_dir=None):  # pylint: disable=redefined-outer-name
  """Builds the named data sets unless already built; returns the data dir.

  Args:
    names: data set names (a string or a sequence), from `DATASETS`.
    data_dir: TFDS data dir; default `data_dir()`.

  Returns:
    The TFDS data dir holding the data sets.
  """
  names = (names,) if isinstance(names, str) else tuple(names)
  unknown = [n for n in names if n not in BUILDERS]
  if unknown:
    raise ValueError(f"Unknown data sets {unknown}; allowed: {list(DATASETS)}.")
  directory = os.path.abspath(
      os.path.expanduser(data_dir or _default_data_dir()))
  for name in names:
    if BUILDERS[name](data_dir=directory).is_prepared():
      logging.info("%s is already built in %s.", name, directory)
      continue
    with _lock(directory):
      builder = BUILDERS[name](data_dir=directory)
      if builder.is_prepared():  # Built by another process meanwhile.
        continue
      ensure_fashion_mnist_files()
      logging.info("Building %s into %s ...", name, directory)
      start = time.time()
      builder.download_and_prepare()
      logging.info("Built %s in %.1f s: %s", name, time.time() - start,
                   {s: i.num_examples for s, i in builder.info.splits.items()})
  return directory


def check_prepared(name, data_dir=None):  # pylint: disable=redefined-outer-name
  """Raises a one-line FileNotFoundError unless local data set `name` is built.

  Args:
    name: A TFDS data set name; names other than `DATASETS` are not checked.
    data_dir: TFDS data dir; default `data_dir()`.
  """
  if name not in BUILDERS:
    return
  directory = os.path.abspath(
      os.path.expanduser(data_dir or _default_data_dir()))
  if not BUILDERS[name](data_dir=directory).is_prepared():
    raise FileNotFoundError(
        f"Data set {name} is not built in {directory}: run `make data` (or "
        f"`python -m mone_plugin.data.prepare --data_dir={directory}`).")


def corrupted_file(name, data_dir=None):  # pylint: disable=redefined-outer-name
  """The first TFRecord file of data set `name` that fails to read, or None."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  directory = os.path.abspath(
      os.path.expanduser(data_dir or _default_data_dir()))
  for path in sorted(tf.io.gfile.glob(
      os.path.join(directory, name, "*", "*.tfrecord*"))):
    try:
      for _ in tf.data.TFRecordDataset(path):
        pass
    except tf.errors.DataLossError:
      return path
  return None


def name_corrupted_file(iterable, name, data_dir=None):  # pylint: disable=redefined-outer-name
  """Yields from `iterable`; a DataLossError names the damaged file and fix.

  Args:
    iterable: Batches read from data set `name` (a tf.data pipeline).
    name: The TFDS data set name.
    data_dir: Its TFDS data dir; default `data_dir()`.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  try:
    yield from iterable
  except tf.errors.DataLossError as e:
    path = corrupted_file(name, data_dir)
    what = f"{path} is corrupted" if path else "a TFRecord file is corrupted"
    directory = os.path.join(os.path.abspath(
        os.path.expanduser(data_dir or _default_data_dir())), name)
    raise IOError(
        f"Data set {name}: {what} ({e.message.splitlines()[0]}); delete "
        f"{directory} and run `make data` to rebuild it.") from None


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  tfds.display_progress_bar(False)
  names = flags.FLAGS.datasets
  try:
    directory = ensure_prepared(names, flags.FLAGS.data_dir)
  except OSError as e:  # Unwritable, read-only or not a directory.
    if e.filename is None:
      raise
    raise SystemExit(f"prepare: cannot write {e.filename} ({e.strerror}); "
                     "give a writable --data_dir or $MONE_DATA_DIR.") from None
  logging.info("Data sets %s are ready in %s.", names, directory)


if __name__ == "__main__":
  # Flags are defined only when run as a program, so that importing
  # `ensure_prepared` from a trainer adds no global flags.
  flags.DEFINE_string(
      "data_dir", None, "TFDS data dir to build into (default: data_dir()).")
  flags.DEFINE_list(
      "datasets", list(DATASETS), f"Data sets to build, from {list(DATASETS)}.")
  app.run(main)
