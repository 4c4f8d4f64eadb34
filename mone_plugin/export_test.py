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

"""Tests of `export`: the artifacts it writes and their manifest.

The writers' outputs are checked against JAX in `serving/writers_test.py`;
here the tiny MoNE ViT of `serving/test_util.py` is exported once at two
budgets, without ONNX.
"""

import json
import os

from absl.testing import absltest

from mone_plugin import export
from mone_plugin import flops
from mone_plugin.serving import forward
from mone_plugin.serving import test_util

E_CS = test_util.E_CS


class ExportTest(test_util.ExportedTestCase):

  def test_onnx_yes_without_onnx_is_refused_and_no_skips_it(self):
    self.assertEqual(sorted(os.listdir(self.dir)),
                     ["jax", "manifest.json", "saved_model"])
    self.assertEqual([b["onnx"] for b in self.manifest["budgets"]],
                     [None, None])
    with self.assertRaisesRegex(forward.ExportError,
                                r"--onnx=maybe is not one of auto, yes, no"):
      export.export(self.ckpt, self.dir, (0.3,), onnx="maybe")

  def test_manifest(self):
    with open(os.path.join(self.dir, "manifest.json")) as f:
      manifest = json.load(f)
    self.assertEqual(manifest["input"]["height"], 32)
    self.assertEqual(manifest["input"]["channels"], 1)
    self.assertEqual(manifest["expert_widths"], [8, 16, 32, 64])
    self.assertEqual(manifest["default_budget"], "ec1")
    self.assertEqual(manifest["class_names"][3], "class3")
    for b, e_c in zip(manifest["budgets"], E_CS):
      self.assertEqual(b["e_c"], e_c)
      self.assertEqual(b["signature"], forward.budget_name(e_c))
      self.assertEqual(b["jax_export"], f"jax/{forward.budget_name(e_c)}.jax")
      self.assertTrue(os.path.exists(os.path.join(self.dir, b["jax_export"])))
      self.assertAlmostEqual(b["gflops"], flops.vit_gflops(
          image_size=32, patch_size=4, width=64, depth=2, mlp_dim=128,
          num_heads=4, num_classes=10, e_c=e_c, channels=1), places=12)
      if e_c is not None:
        self.assertEqual(sum(b["tokens_per_expert"]), 64)
    # The analytic GFLOPs grow with the budget.
    g = [b["gflops"] for b in manifest["budgets"]]
    self.assertLess(g[0], g[1])

  def test_out_that_is_not_an_export_is_kept(self):
    other = os.path.join(self.tmp, "other")
    os.makedirs(other)
    with open(os.path.join(other, "notes.txt"), "w") as f:
      f.write("mine")
    with self.assertRaisesRegex(forward.ExportError,
                                "exists and is not an export"):
      export.export(self.ckpt, other, (0.3,), onnx="no")
    self.assertEqual(os.listdir(other), ["notes.txt"])


if __name__ == "__main__":
  absltest.main()
