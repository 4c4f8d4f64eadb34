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

"""Tests of the data preparation step."""

import os
import subprocess
import sys
import tempfile
from unittest import mock

from absl.testing import absltest

from mone_plugin.data import fashion_mnist
from mone_plugin.data import prepare

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def _snapshot(directory):
  """(path, size, mtime) of every file of the data sets in `directory`."""
  out = set()
  for name in prepare.DATASETS:
    for root, _, files in os.walk(os.path.join(directory, name)):
      for f in files:
        st = os.stat(os.path.join(root, f))
        out.add((os.path.join(root, f), st.st_size, st.st_mtime_ns))
  return out


class PrepareTest(absltest.TestCase):

  def test_data_dir(self):
    with mock.patch.dict(os.environ, {"MONE_DATA_DIR": "/x/y"}):
      self.assertEqual(prepare.data_dir(), "/x/y/tfds")
    env = {k: v for k, v in os.environ.items() if k != "MONE_DATA_DIR"}
    with mock.patch.dict(os.environ, env, clear=True):
      self.assertEqual(prepare.data_dir(),
                       os.path.expanduser("~/mone_data/tfds"))

  def test_ensure_prepared_is_idempotent(self):
    directory = prepare.ensure_prepared()
    self.assertEqual(directory, prepare.data_dir())
    before = _snapshot(directory)
    self.assertNotEmpty(before)
    self.assertEqual(prepare.ensure_prepared(prepare.DATASETS), directory)
    self.assertEqual(prepare.ensure_prepared("moving_fashion_mnist"),
                     directory)
    self.assertEqual(_snapshot(directory), before)

  def test_command_line_is_a_no_op_when_built(self):
    directory = prepare.ensure_prepared()
    before = _snapshot(directory)
    result = subprocess.run(
        [sys.executable, "-m", "mone_plugin.data.prepare",
         f"--data_dir={directory}", "--datasets=fashion_mnist_local"],
        cwd=_REPO, capture_output=True, text=True, check=False,
        env=dict(os.environ, PYTHONPATH=_REPO))
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    self.assertIn("fashion_mnist_local is already built", result.stderr)
    self.assertEqual(_snapshot(directory), before)

  def test_unknown_dataset(self):
    with self.assertRaisesRegex(ValueError, r"\['mnist'\].*fashion_mnist_loc"):
      prepare.ensure_prepared(["mnist"])

  def test_bad_idx_dir_is_named(self):
    with tempfile.TemporaryDirectory() as d:
      with mock.patch.dict(os.environ, {fashion_mnist.ENV_DIR: d}):
        with self.assertRaisesRegex(FileNotFoundError, d):
          prepare.ensure_fashion_mnist_files()

  def test_idx_files_present(self):
    directory = prepare.ensure_fashion_mnist_files()
    self.assertEqual(fashion_mnist.missing_files(directory), [])


class DataErrorsTest(absltest.TestCase):
  """Bad data dirs and files fail in one line naming the path and the fix."""

  def test_missing_or_empty_data_dir(self):
    with tempfile.TemporaryDirectory() as d:
      for directory in (d, os.path.join(d, "absent")):
        with self.assertRaisesRegex(
            FileNotFoundError, f"^Data set fashion_mnist_local is not built "
            f"in {directory}: run `make data`"):
          prepare.check_prepared("fashion_mnist_local", directory)
    prepare.check_prepared("fashion_mnist_local", prepare.ensure_prepared())
    prepare.check_prepared("imagenet2012", "/absent")  # Not ours: unchecked.

  def test_corrupted_tfrecord_named(self):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    source = prepare.ensure_prepared("fashion_mnist_local")
    with tempfile.TemporaryDirectory() as d:
      version = os.path.join(d, "fashion_mnist_local", "1.1.0")
      os.makedirs(version)
      name = "fashion_mnist_local-test.tfrecord-00000-of-00001"
      path = os.path.join(version, name)
      with open(os.path.join(source, "fashion_mnist_local", "1.1.0", name),
                "rb") as f:
        data = bytearray(f.read(200_000))
      data[5000:5010] = b"x" * 10
      with open(path, "wb") as f:
        f.write(data)
      self.assertEqual(prepare.corrupted_file("fashion_mnist_local", d), path)
      records = prepare.name_corrupted_file(
          tf.data.TFRecordDataset(path), "fashion_mnist_local", d)
      with self.assertRaisesRegex(
          IOError, f"^Data set fashion_mnist_local: {path} is corrupted "
          rf"\(.*\); delete {d}/fashion_mnist_local and run `make data`"):
        list(records)

  def test_unwritable_data_dir_is_one_line(self):
    with tempfile.NamedTemporaryFile() as f:  # A file: no dir below it.
      result = subprocess.run(
          [sys.executable, "-m", "mone_plugin.data.prepare",
           f"--data_dir={f.name}/tfds", "--datasets=fashion_mnist_local"],
          cwd=_REPO, capture_output=True, text=True, check=False,
          env=dict(os.environ, PYTHONPATH=_REPO))
    self.assertEqual(result.returncode, 1)
    self.assertNotIn("Traceback", result.stderr)
    self.assertRegex(result.stderr.strip().splitlines()[-1],
                     f"^prepare: cannot write {f.name}.*; give a writable "
                     r"--data_dir or \$MONE_DATA_DIR\.$")


if __name__ == "__main__":
  absltest.main()
