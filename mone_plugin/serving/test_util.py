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

"""A tiny trained-looking MoNE ViT for the serving tests, and its outputs.

2 layers, width 64, 4x4 patches of 32x32 grey images, 10 classes, with
nonzero head and alpha (distinct classes and a live MLP scale).
"""

import functools
import os
import tempfile

from absl.testing import absltest
import jax
import jax.numpy as jnp
import numpy as np

from mone_plugin import export
from mone_plugin import vit
from mone_plugin.serving import forward
from mone_plugin.serving import workdirs

E_CS = (0.3, 1.0)  # The budgets the tests export.
IMAGE_SHAPE = (32, 32, 1)


def tiny_checkpoint():
  """A Big Vision `Checkpoint` of the tiny model, with random weights."""
  model = vit.Model(10, patch_size=(4, 4), width=64, depth=2, mlp_dim=128,
                    num_heads=4, pool_type="gap")
  params = model.init(jax.random.PRNGKey(0),
                      jnp.zeros((1, *IMAGE_SHAPE)))["params"]
  leaves, tree = jax.tree.flatten(params)
  keys = jax.random.split(jax.random.PRNGKey(1), len(leaves))
  params = jax.tree.unflatten(tree, [
      np.asarray(x + 0.05 * jax.random.normal(k, x.shape))
      for x, k in zip(leaves, keys)])
  params["Transformer"]["alpha"] = np.float32(0.5)
  return workdirs.Checkpoint(
      framework="big_vision", params=params,
      model_cfg=dict(pool_type="gap", posemb="learn"), num_classes=10,
      image_size=32, class_names=[f"class{i}" for i in range(10)])


def images(n=3):
  """n random uint8 images of the tiny model's input shape."""
  return np.random.default_rng(0).integers(
      0, 256, (n, *IMAGE_SHAPE)).astype(np.uint8)


@functools.lru_cache(maxsize=None)
def _jitted(model, e_c):  # One compile per budget (and batch size).
  return jax.jit(forward.forward_fn(model, e_c, (-1.0, 1.0)))


def jax_outputs(model, params, e_c, x):
  """The training forward's outputs (the artifacts run the inference path)."""
  return jax.tree.map(np.asarray, _jitted(model, e_c)({"params": params}, x))


class ExportedTestCase(absltest.TestCase):
  """Exports the tiny model once per class at `E_CS`, without ONNX.

  The export is in `cls.dir`, its manifest `cls.manifest`, the checkpoint
  `cls.ckpt`; `cls.tmp` is a directory that lives as long as the class.
  """

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.tmp = cls.enterClassContext(tempfile.TemporaryDirectory())
    cls.dir = os.path.join(cls.tmp, "export")
    cls.ckpt = tiny_checkpoint()
    cls.manifest = export.export(cls.ckpt, cls.dir, E_CS, onnx="no")


def run_artifacts(out_dir, inputs):
  """Every budget's outputs from the export in `out_dir`, per artifact.

  Returns {budget name: {"jax": outputs, "saved_model": outputs}}, each
  outputs a dict of numpy arrays; the `jax.export` artifact runs on this
  machine's platform.
  """
  import flax  # pylint: disable=g-import-not-at-top
  import json  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  with open(os.path.join(out_dir, "manifest.json")) as f:
    manifest = json.load(f)
  with open(os.path.join(out_dir, "jax", "params.msgpack"), "rb") as f:
    variables = flax.serialization.msgpack_restore(f.read())
  saved = tf.saved_model.load(os.path.join(out_dir, "saved_model"))
  res = {}
  for b in manifest["budgets"]:
    path = b["jax_export_files"].get(jax.default_backend(), b["jax_export"])
    with open(os.path.join(out_dir, path), "rb") as f:
      exported = jax.export.deserialize(f.read())
    sig = saved.signatures[b["signature"]]
    res[b["name"]] = {
        "jax": jax.tree.map(np.asarray, exported.call(variables, inputs)),
        "saved_model": {k: v.numpy() for k, v in sig(
            images=tf.constant(inputs)).items()}}
  return res


def assert_matches(test, out_dir, inputs, reference, atol=1e-4):
  """The export's artifacts give `reference(e_c, inputs)`'s outputs.

  `reference` returns {"logits": ..., "experts": ... or None (dense)} from
  the trained JAX model; logits agree within `atol`, experts exactly (except
  for tokens whose router scores tie within float rounding: at most 1%).
  """
  import json  # pylint: disable=g-import-not-at-top
  with open(os.path.join(out_dir, "manifest.json")) as f:
    budgets = json.load(f)["budgets"]
  got = run_artifacts(out_dir, inputs)
  for b in budgets:
    want = reference(b["e_c"], inputs)
    for kind, out in got[b["name"]].items():
      msg = f"{b['name']} {kind}"
      np.testing.assert_allclose(out["logits"], want["logits"], atol=atol,
                                 rtol=0, err_msg=msg)
      if want.get("experts") is not None:
        test.assertEqual(out["experts"].shape, want["experts"].shape, msg)
        test.assertLessEqual(
            np.mean(out["experts"] != want["experts"]), 0.01, msg)
  return got
