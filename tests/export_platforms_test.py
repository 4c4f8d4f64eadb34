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

"""Exports for accelerators, made here: platforms, bfloat16, the doc snippet.

The tiny MoNE ViT of `serving/test_util.py` is exported for cpu, cuda and
tpu in bfloat16 (no GPU or TPU needed to lower for them); the artifacts are
deserialised, their platforms checked and the cpu one run, by the
docs/serving.md snippet too.
"""

import contextlib
import io
import json
import os
import re
import tempfile

from absl.testing import absltest
import jax
import numpy as np

from mone_plugin import export
from mone_plugin.serving import forward
from mone_plugin.serving import test_util
from mone_plugin.serving import workdirs
from mone_plugin.serving import writers

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLATFORMS = ("cpu", "cuda", "tpu")


def doc_snippet():
  """The python block of docs/serving.md that calls a jax.export artifact."""
  with open(os.path.join(REPO, "docs", "serving.md")) as f:
    doc = f.read()
  block = re.search(r"<!-- jax-export-snippet.*?-->\n```python\n(.*?)```",
                    doc, re.S)
  assert block, "docs/serving.md lost its jax-export-snippet block."
  return block.group(1)


class PlatformsTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.tmp = cls.enterClassContext(tempfile.TemporaryDirectory())
    cls.dir = os.path.join(cls.tmp, "export")
    cls.ckpt = test_util.tiny_checkpoint()
    cls.manifest = export.export(cls.ckpt, cls.dir, (0.5, None), onnx="no",
                                 platforms=list(PLATFORMS), dtype="bfloat16")

  def test_artifacts_are_for_every_platform_and_run_on_cpu(self):
    self.assertEqual(self.manifest["platforms"], list(PLATFORMS))
    self.assertEqual(self.manifest["dtype_mm"], "bfloat16")
    model, _ = workdirs.build_model(self.ckpt)
    f32 = model.clone(dtype_mm="float32")
    bf16 = model.clone(dtype_mm="bfloat16")
    variables = writers.inference_variables(bf16, self.ckpt.params)
    x = test_util.images(3)
    got = test_util.run_artifacts(self.dir, x)
    for b in self.manifest["budgets"]:
      path = os.path.join(self.dir, b["jax_export"])
      self.assertEqual(b["jax_export_files"],
                       {p: b["jax_export"] for p in PLATFORMS})
      with open(path, "rb") as f:
        exported = jax.export.deserialize(f.read())
      self.assertEqual(exported.platforms, PLATFORMS)
      # The kernels are stored in bfloat16.
      leaves = jax.tree.leaves(exported.in_avals)
      self.assertIn(np.dtype(jax.numpy.bfloat16), {a.dtype for a in leaves})
      # The cpu artifact computes the bfloat16 model ...
      want = jax.jit(forward.forward_fn(bf16, b["e_c"], (-1.0, 1.0)))(
          variables, x)
      for kind in ("jax", "saved_model"):
        np.testing.assert_allclose(got[b["name"]][kind]["logits"],
                                   want["logits"], atol=1e-4, rtol=0)
      # ... within bfloat16 rounding of the float32 model (logits ~0.3).
      ref = test_util.jax_outputs(f32, self.ckpt.params, b["e_c"], x)
      np.testing.assert_allclose(got[b["name"]]["jax"]["logits"],
                                 ref["logits"], atol=3e-2, rtol=0)

  def test_doc_snippet_loads_and_calls_the_artifact(self):
    code = doc_snippet()
    code, n = re.subn(r'export_dir = ".*?"', f"export_dir = {self.dir!r}",
                      code)
    self.assertEqual(n, 1)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
      exec(compile(code, "docs/serving.md", "exec"), {})  # pylint: disable=exec-used
    self.assertEqual(printed.getvalue().strip(),
                     "ec0.5 ('cpu', 'cuda', 'tpu') (2, 10) (2, 8, 8)")

  def test_bad_platform_and_dtype(self):
    out = os.path.join(self.tmp, "bad")
    with self.assertRaisesRegex(forward.ExportError,
                                "--platforms=gpu: allowed: cpu, cuda"):
      export.export(self.ckpt, out, (0.5,), onnx="no", platforms=["gpu"])
    with self.assertRaisesRegex(forward.ExportError,
                                "--dtype=int8 is not one of float32"):
      export.export(self.ckpt, out, (0.5,), onnx="no", dtype="int8")
    if writers.onnx_available():
      with self.assertRaisesRegex(forward.ExportError,
                                  "--onnx=yes exports float32 models only"):
        export.export(self.ckpt, out, (0.5,), onnx="yes", dtype="bfloat16")
    with open(os.path.join(self.dir, "manifest.json")) as f:
      self.assertEqual(json.load(f)["default_budget"], "dense")


if __name__ == "__main__":
  absltest.main()
