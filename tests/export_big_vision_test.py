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

"""Big Vision runs export with each position embedding and pooling.

Tiny runs of Big Vision's trainer (`mone_plugin.big_vision.train`, 2 steps):
learned position embeddings with mean pooling, exported by the command for
cpu, cuda and tpu; fixed 2-D sin-cos ones with a class token, and MAP
pooling. The export must give the trained model's logits within 1e-4 and
its routing, from the `jax.export` and the SavedModel artifacts; `evaluate
--gflops` evaluates at the e_c that meets the budget.
"""

import json
import os
import subprocess
import sys
import tempfile

from absl.testing import absltest
from absl.testing import parameterized
import jax
import numpy as np

from mone_plugin import flops
from mone_plugin import frameworks
from mone_plugin import vit
from mone_plugin.serving import test_util
from mone_plugin.serving import workdirs

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(REPO, "configs", "mone_fashion_mnist.py")
TINY = ("runlocal,e_c=0.5,eval_e_c=0.5,width=32,depth=2,heads=2,mlp=64,"
        "batch=16,steps=3,warmup=1,lr=0.003,deterministic")


def run(*args):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=os.pathsep.join(
      p for p in (REPO, os.environ.get("PYTHONPATH")) if p))
  result = subprocess.run([sys.executable, "-m", *args], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=900,
                          check=False)
  if result.returncode:
    raise AssertionError(f"{args} failed:\n{result.stderr[-5000:]}")
  return result.stdout


def train(workdir, **model):
  run("mone_plugin.big_vision.train", f"--config={CONFIG}:{TINY}",
      f"--workdir={workdir}",
      *(f"--config.model.{k}={v}" for k, v in model.items()))
  with open(os.path.join(workdir, "config.json")) as f:
    return json.load(f)


def reference(workdir):
  """f(e_c, uint8 images) -> the trained model's logits and routing."""
  with open(os.path.join(workdir, "config.json")) as f:
    config = json.load(f)
  model = vit.Model(config["num_classes"], **config["model"])
  params = workdirs.read_workdir(workdir).params  # The checkpoint's arrays.

  def f(e_c, images):
    x = -1.0 + images.astype(np.float32) / 255.0 * 2.0
    logits, out = model.apply({"params": params}, x, e_c=e_c)
    experts = None
    if "experts" in out:
      experts = np.asarray(out["experts"]).reshape(len(images), 8, 8)
    return {"logits": np.asarray(logits), "experts": experts}
  return f


IMAGES = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 1)).astype(
    np.uint8)


@absltest.skipUnless(frameworks.available("big_vision"),
                     "Big Vision checkout not found (see README).")
class BigVisionExportTest(parameterized.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    from mone_plugin.data import prepare  # pylint: disable=g-import-not-at-top
    prepare.ensure_prepared("fashion_mnist_local")
    cls.tmp = cls.enterClassContext(tempfile.TemporaryDirectory())

  def test_learn_gap_by_the_command_for_three_platforms(self):
    workdir = os.path.join(self.tmp, "learn_gap")
    config = train(workdir)
    self.assertEqual((config["model"]["posemb"], config["model"]["pool_type"]),
                     ("learn", "gap"))
    out = os.path.join(workdir, "export")
    log = run("mone_plugin.export", f"--workdir={workdir}", f"--out={out}",
              "--e_c=0.5,dense", "--platforms=cpu,cuda,tpu", "--onnx=no")
    self.assertIn(f"Wrote {out}", log)
    with open(os.path.join(out, "manifest.json")) as f:
      manifest = json.load(f)
    self.assertEqual(manifest["platforms"], ["cpu", "cuda", "tpu"])
    for b in manifest["budgets"]:
      exported = jax.export.deserialize(open(
          os.path.join(out, b["jax_export"]), "rb").read())
      self.assertEqual(exported.platforms, ("cpu", "cuda", "tpu"))
    test_util.assert_matches(self, out, IMAGES, reference(workdir))

    # evaluate --gflops: the e_c that meets the budget (here 0.5's cost).
    g = manifest["budgets"][0]["gflops"]
    run("mone_plugin.big_vision.evaluate", f"--workdir={workdir}",
        f"--gflops={g!r}")
    with open(os.path.join(workdir, "mone_eval.json")) as f:
      rows = json.load(f)
    self.assertLen(rows, 1)
    # At most the budget, short of it by under a token per expert and layer.
    self.assertBetween(rows[0]["gflops"], 0.98 * g, g * (1 + 1e-9))
    self.assertLessEqual(abs(rows[0]["e_c"] - 0.5), 0.02)
    self.assertEqual(rows[0]["gflops"], flops.vit_gflops(
        image_size=32, patch_size=4, width=32, depth=2, mlp_dim=64,
        num_heads=2, num_classes=10, e_c=rows[0]["e_c"], channels=1))

  @parameterized.parameters(("sincos2d", "tok"), ("learn", "map"))
  def test_posemb_and_pool_type(self, posemb, pool_type):
    workdir = os.path.join(self.tmp, f"{posemb}_{pool_type}")
    train(workdir, posemb=posemb, pool_type=pool_type)
    out = os.path.join(workdir, "export")
    from mone_plugin import export  # pylint: disable=g-import-not-at-top
    manifest = export.export(workdirs.read_workdir(workdir), out, (0.5, None),
                             onnx="no")
    self.assertEqual((manifest["model"], manifest["input"]["height"]),
                     ("_Model", 32))
    test_util.assert_matches(self, out, IMAGES, reference(workdir))


if __name__ == "__main__":
  absltest.main()
