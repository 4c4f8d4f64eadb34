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

"""Tests of the framework locator, each case in a fresh interpreter.

A subprocess with HOME pointing at an empty directory and a chosen
$BIG_VISION_DIR / $SCENIC_DIR sees exactly the checkouts the test gives it,
whatever is installed on this machine.
"""

import importlib.util
import json
import os
import subprocess
import sys
import tempfile

from absl.testing import absltest
from absl.testing import parameterized

from mone_plugin import frameworks

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_ENV = {"big_vision": "BIG_VISION_DIR", "scenic": "SCENIC_DIR",
        "simclr": "SIMCLR_DIR"}
_PROBE = """
import json, sys
from mone_plugin import frameworks
name = sys.argv[1]
res = {"available": None, "error": None, "type": None, "file": None,
       "checkout_dir": frameworks.checkout_dir(name)}
try:
  res["file"] = frameworks.ensure(name).__file__
except Exception as e:  # pylint: disable=broad-except
  res["error"], res["type"] = str(e), type(e).__name__
  res["is_import_error"] = isinstance(e, ImportError)
res["available"] = frameworks.available(name)
print(json.dumps(res))
"""


def _probe(name, home, env_dir=None):
  """Runs ensure/available for `name` in a clean interpreter."""
  env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home,
         "PYTHONPATH": _REPO}
  if env_dir is not None:
    env[_ENV[name]] = env_dir
  proc = subprocess.run([sys.executable, "-c", _PROBE, name], env=env,
                        capture_output=True, text=True, timeout=120,
                        check=False, cwd=home)
  if proc.returncode:
    raise AssertionError(f"probe failed:\n{proc.stderr}")
  return json.loads(proc.stdout.strip().splitlines()[-1])


class NotFoundTest(parameterized.TestCase):

  @parameterized.parameters("big_vision", "scenic")
  def test_bogus_env_and_no_default(self, name):
    with tempfile.TemporaryDirectory() as home:
      bogus = os.path.join(home, "no", "such", "checkout")
      res = _probe(name, home, env_dir=bogus)
    self.assertEqual(res["type"], "FrameworkNotFoundError")
    self.assertTrue(res["is_import_error"])
    self.assertFalse(res["available"])
    self.assertIsNone(res["checkout_dir"])
    msg = res["error"]
    # Says what was tried and how to get it.
    self.assertIn(f"{name} not found", msg)
    self.assertIn(f"${_ENV[name]}", msg)
    self.assertIn(repr(bogus), msg)
    self.assertIn(f"git clone https://github.com/google-research/{name}", msg)
    self.assertIn(frameworks.PINNED[name], msg)
    self.assertIn(os.path.join("~", "frameworks", name), msg)

  def test_no_env_and_no_default(self):
    with tempfile.TemporaryDirectory() as home:
      res = _probe("big_vision", home)
    self.assertEqual(res["type"], "FrameworkNotFoundError")
    self.assertIn("$BIG_VISION_DIR is None", res["error"])

  def test_dir_without_package_is_not_a_checkout(self):
    with tempfile.TemporaryDirectory() as home:
      os.makedirs(os.path.join(home, "frameworks", "big_vision"))  # Empty.
      res = _probe("big_vision", home, env_dir=home)
    self.assertEqual(res["type"], "FrameworkNotFoundError")
    self.assertFalse(res["available"])

  def test_unknown_framework(self):
    with self.assertRaisesRegex(
        ValueError,
        r"'flaxformer'.*\['big_vision', 'dmvr', 'scenic', 'simclr'\]"):
      frameworks.ensure("flaxformer")


class FoundTest(parameterized.TestCase):

  def _real_checkout(self, name):
    d = os.path.expanduser(os.path.join("~", "frameworks", name))
    if not os.path.isdir(os.path.join(d, name)):
      self.skipTest(f"No {name} checkout at {d}.")
    return d

  @parameterized.parameters("big_vision", "scenic")
  def test_available_with_default_checkout(self, name):
    d = self._real_checkout(name)
    self.assertTrue(frameworks.available(name))
    self.assertEqual(frameworks.checkout_dir(name), d)

  @parameterized.parameters("big_vision", "scenic")
  def test_env_var_points_at_checkout(self, name):
    d = self._real_checkout(name)
    with tempfile.TemporaryDirectory() as home:  # No default checkout.
      res = _probe(name, home, env_dir=d)
    self.assertIsNone(res["error"])
    self.assertTrue(res["available"])
    self.assertEqual(res["checkout_dir"], d)
    self.assertTrue(res["file"].startswith(os.path.join(d, name)),
                    res["file"])

  def test_default_location_under_home(self):
    d = self._real_checkout("big_vision")
    with tempfile.TemporaryDirectory() as home:
      os.makedirs(os.path.join(home, "frameworks"))
      os.symlink(d, os.path.join(home, "frameworks", "big_vision"))
      res = _probe("big_vision", home)
      self.assertIsNone(res["error"])
      self.assertTrue(res["available"])
      self.assertEqual(res["checkout_dir"],
                       os.path.join(home, "frameworks", "big_vision"))

  def test_bogus_env_falls_back_to_default(self):
    d = self._real_checkout("big_vision")
    with tempfile.TemporaryDirectory() as home:
      os.makedirs(os.path.join(home, "frameworks"))
      os.symlink(d, os.path.join(home, "frameworks", "big_vision"))
      res = _probe("big_vision", home, env_dir="/no/such/dir")
      self.assertTrue(res["available"])
      self.assertEqual(res["checkout_dir"],
                       os.path.join(home, "frameworks", "big_vision"))


  def test_simclr_checkout_is_one_level_down(self):
    d = self._real_checkout("simclr")  # ~/frameworks/simclr/simclr/tf2/...
    with tempfile.TemporaryDirectory() as home:
      res = _probe("simclr", home, env_dir=d)
      self.assertTrue(res["available"])
      self.assertEqual(res["checkout_dir"], d)
      res = _probe("simclr", home, env_dir=os.path.join(home, "none"))
    self.assertFalse(res["available"])
    self.assertIn("git clone https://github.com/google-research/simclr "
                  + os.path.join("~", "frameworks", "simclr", "simclr"),
                  res["error"])

  def test_dmvr_imports_without_its_text_only_dependencies(self):
    d = self._real_checkout("dmvr")
    probe = (
        "from mone_plugin import frameworks\n"
        "frameworks.ensure('dmvr')\n"
        "from dmvr import modalities, video_dataset\n"
        "import clip.simple_tokenizer\n"
        "try:\n"
        "  clip.simple_tokenizer.SimpleTokenizer\n"
        "except ImportError as e:\n"
        "  print(e)\n")
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True,
        timeout=300, check=False, env={**os.environ, "DMVR_DIR": d,
                                       "PYTHONPATH": _REPO})
    self.assertEqual(proc.returncode, 0, proc.stderr[-2000:])
    spec = importlib.util.find_spec("clip")  # A placeholder has no loader.
    if spec is None or spec.loader is None:  # The placeholder raised.
      self.assertIn("clip.simple_tokenizer is not installed", proc.stdout)


if __name__ == "__main__":
  absltest.main()
