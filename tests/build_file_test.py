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
"""Checks that BUILD has a target for every module and test of the repo."""

import ast
import os

from absl.testing import absltest

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_DIRS = ("mone_plugin", "projects", "configs", "experiments", "patches",
         "tests")


def _build_targets():
  """Parses BUILD (Starlark is Python syntax here) into (kind, srcs) pairs."""
  with open(os.path.join(_ROOT, "BUILD")) as f:
    tree = ast.parse(f.read())
  targets = []
  for node in ast.walk(tree):
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
      kw = {k.arg: k.value for k in node.keywords}
      srcs = kw.get("srcs")
      if srcs is None:
        continue
      if isinstance(srcs, ast.Call):  # glob([...]) is not used on purpose.
        raise AssertionError("BUILD must list srcs explicitly.")
      targets.append((node.func.id, [ast.literal_eval(e) for e in srcs.elts]))
  return targets


def _python_files():
  for d in _DIRS:
    for root, _, files in os.walk(os.path.join(_ROOT, d)):
      for f in files:
        if f.endswith(".py"):
          yield os.path.relpath(os.path.join(root, f), _ROOT)


class BuildFileTest(absltest.TestCase):

  def test_every_python_file_has_a_target(self):
    targets = _build_targets()
    libs = {s for kind, srcs in targets if kind in ("py_library", "py_binary")
            for s in srcs}
    tests = {s for kind, srcs in targets if kind == "py_test" for s in srcs}
    missing = []
    for path in _python_files():
      is_test = path.endswith("_test.py")
      if path not in (tests if is_test else libs):
        missing.append(path)
    self.assertEmpty(missing, "BUILD lacks targets for these files")

  def test_no_target_names_a_missing_file(self):
    for _, srcs in _build_targets():
      for s in srcs:
        self.assertTrue(os.path.exists(os.path.join(_ROOT, s)), s)


if __name__ == "__main__":
  absltest.main()
