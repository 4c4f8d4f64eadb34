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

"""`patches/big_vision/` applies to Big Vision at the pinned commit and runs."""

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile

from absl.testing import absltest

from mone_plugin import frameworks

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PATCHES = os.path.join(REPO, "patches", "big_vision")
PINNED = frameworks.PINNED["big_vision"]
HAVE_BV = frameworks.available("big_vision")
TINY = ("runlocal,e_c=0.5,eval_e_c=0.5,width=32,depth=2,heads=2,mlp=64,"
        "batch=16,steps=5")
GIT_ID = ["-c", "user.name=test", "-c", "user.email=test@example.com"]


def export_pinned(dest):
  """Writes Big Vision at the pinned commit to `dest`; False if impossible."""
  src = frameworks.checkout_dir("big_vision")
  if os.path.isdir(os.path.join(src, ".git")):
    archive = subprocess.run(["git", "-C", src, "archive", PINNED],
                             capture_output=True, check=False)
    if archive.returncode:
      return False
    os.makedirs(dest)
    subprocess.run(["tar", "-x", "-C", dest], input=archive.stdout,
                   check=True)
    return True
  marker = os.path.join(src, ".exported-commit")
  if not os.path.exists(marker) or open(marker).read().strip() != PINNED:
    return False
  shutil.copytree(src, dest, ignore=shutil.ignore_patterns(
      "__pycache__", "*.pyc"))
  return True


@absltest.skipUnless(HAVE_BV, "Big Vision checkout not found (see README).")
class BigVisionPatchesTest(absltest.TestCase):

  def test_patches_equal_a_fresh_generation(self):
    spec = importlib.util.spec_from_file_location(
        "generate", os.path.join(REPO, "patches", "generate.py"))
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    self.assertEqual(generate.drift("big_vision"), [],
                     "patches drifted: run `make patches`")

  def test_patched_tree_trains_with_its_own_launcher(self):
    from mone_plugin.data import prepare  # pylint: disable=g-import-not-at-top
    prepare.ensure_prepared("fashion_mnist_local")
    tmp = tempfile.TemporaryDirectory()
    self.addCleanup(tmp.cleanup)
    tree = os.path.join(tmp.name, "big_vision")
    if not export_pinned(tree):
      self.skipTest(f"no Big Vision tree at {PINNED} to patch")
    git = lambda *a: subprocess.run(["git", *GIT_ID, "-C", tree, *a],
                                    capture_output=True, text=True, check=True)
    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "Big Vision at the pinned commit")
    patches = sorted(os.path.join(PATCHES, n) for n in os.listdir(PATCHES))
    git("am", "-q", *patches)
    self.assertLen(git("log", "--oneline").stdout.splitlines(),
                   1 + len(patches))

    # Only the patched tree on the path: no mone_plugin, no compat shims.
    env = dict(os.environ, PYTHONPATH=tree, TF_CPP_MIN_LOG_LEVEL="2")
    check = ("import sys, numpy as np, tensorflow as tf\n"
             "import big_vision.utils as u\n"
             "import big_vision.pp.ops_image, big_vision.pp.archive.randaug\n"
             "from big_vision.pp import builder\n"
             "u.sync()\n"
             "pp = builder.get_preprocess_fn('randaug(2,15)')\n"
             "x = pp({'image': tf.zeros((32, 32, 3), tf.uint8)})['image']\n"
             "assert x.shape == (32, 32, 3), x.shape\n"
             "assert 'tensorflow_addons' not in sys.modules\n"
             "try:\n  import mone_plugin\nexcept ImportError:\n  print('ok')\n")
    out = subprocess.run([sys.executable, "-c", check], env=env, cwd=tree,
                         capture_output=True, text=True, check=False)
    self.assertEqual(out.stdout.strip(), "ok", out.stderr[-3000:])

    workdir = os.path.join(tmp.name, "workdir")
    result = subprocess.run(
        [sys.executable, "-m", "big_vision.trainers.proj.mone.train",
         f"--config=big_vision/configs/proj/mone/fashion_mnist.py:{TINY}",
         f"--workdir={workdir}"], env=env, cwd=tree, capture_output=True,
        text=True, timeout=900, check=False)
    self.assertEqual(result.returncode, 0, result.stderr[-5000:])
    with open(os.path.join(workdir, "big_vision_metrics.txt")) as f:
      text = f.read()
    self.assertIn('"step": 5', text)
    self.assertIn("test_ec0.5/prec@1", text)


if __name__ == "__main__":
  absltest.main()
