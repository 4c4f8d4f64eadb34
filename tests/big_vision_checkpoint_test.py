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

"""A ViT checkpoint written by Big Vision's own training loads into MoNE.

Big Vision's `big_vision.train` trains its own `models/vit.py` for a few steps
on local Fashion-MNIST (through `mone_plugin.big_vision`, whose `sync` fix
lets it exit cleanly); MoNE's `load` reads the tensorstore checkpoint and an
`.npz` export of it, and at full capacity gives Big Vision's logits.
"""

import os
import subprocess
import sys
import tempfile

from absl.testing import absltest
import numpy as np

from mone_plugin import frameworks

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HAVE_BV = frameworks.available("big_vision")
MODEL = dict(patch_size=(4, 4), width=32, depth=2, mlp_dim=64, num_heads=2,
             pool_type="gap", posemb="learn")
PP = ('decode(channels=1)|resize(32)|value_range(-1, 1)'
      '|onehot(10, key="label", key_result="labels")|keep("image", "labels")')
BV_CONFIG = '''
import ml_collections as mlc


def get_config():
  c = mlc.ConfigDict()
  c.seed = 0
  c.total_steps = 4
  c.num_classes = 10
  c.loss = "softmax_xent"
  c.input = dict(
      data=dict(name="fashion_mnist_local", split="train[:512]",
                data_dir={data_dir!r}),
      batch_size=16, shuffle_buffer_size=64, pp={pp!r})
  c.pp_modules = ["ops_general", "ops_image"]
  c.log_training_steps = 1
  c.ckpt_steps = 4
  c.model_name = "vit"
  c.model = {model!r}
  c.optax_name = "scale_by_adam"
  c.lr = 0.01
  c.wd = 1e-4
  c.schedule = dict(warmup_steps=1, decay_type="cosine")
  c.evals = {{}}
  return c
'''


@absltest.skipUnless(HAVE_BV, "Big Vision checkout not found (see README).")
class BigVisionCheckpointTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    import mone_plugin.big_vision  # pylint: disable=g-import-not-at-top,unused-import
    from mone_plugin.data import prepare  # pylint: disable=g-import-not-at-top
    data_dir = prepare.ensure_prepared("fashion_mnist_local")
    cls.tmp = tempfile.TemporaryDirectory()
    config = os.path.join(cls.tmp.name, "bv_vit_config.py")
    with open(config, "w") as f:
      f.write(BV_CONFIG.format(data_dir=data_dir, pp=PP, model=MODEL))
    workdir = os.path.join(cls.tmp.name, "bv_vit")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (REPO, os.environ.get("PYTHONPATH")) if p)
    # Big Vision's own train.py, unmodified; the plugin import only fixes
    # `u.sync()` (its last line) for JAX >= 0.7.
    launcher = ("import runpy, sys, mone_plugin.big_vision; "
                "sys.argv = ['train'] + sys.argv[1:]; "
                "runpy.run_module('big_vision.train', run_name='__main__')")
    result = subprocess.run(
        [sys.executable, "-c", launcher, f"--config={config}",
         f"--workdir={workdir}"], env=env, cwd=REPO, capture_output=True,
        text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-5000:]
    cls.ckpt = os.path.join(workdir, "checkpoint.bv")

    import big_vision.datasets.core as ds_core  # pylint: disable=g-import-not-at-top
    import big_vision.pp.builder as pp_builder  # pylint: disable=g-import-not-at-top
    import big_vision.pp.ops_general  # pylint: disable=g-import-not-at-top,unused-import
    import big_vision.pp.ops_image  # pylint: disable=g-import-not-at-top,unused-import
    data = ds_core.get(name="fashion_mnist_local", split="test[:8]",
                       data_dir=data_dir).get_tfdata(ordered=True)
    pp = pp_builder.get_preprocess_fn(PP)
    cls.images = np.stack([pp(x)["image"].numpy() for x in data])

  @classmethod
  def tearDownClass(cls):
    cls.tmp.cleanup()
    super().tearDownClass()

  def _bv_logits(self, params):
    import big_vision.models.vit as bv_vit  # pylint: disable=g-import-not-at-top
    return np.asarray(bv_vit.Model(10, **MODEL).apply(
        {"params": params}, self.images)[0])

  def _mone(self, **kw):
    import jax  # pylint: disable=g-import-not-at-top
    import big_vision.models.proj.mone.vit as mone  # pylint: disable=g-import-not-at-top
    cfg = {**MODEL, **kw}
    model = mone.Model(cfg.pop("num_classes", 10), **cfg)
    init = model.init(jax.random.PRNGKey(1), self.images)["params"]
    return mone, model, init, cfg

  def test_bv_checkpoint_gives_bv_logits_at_full_capacity(self):
    import big_vision.utils as u  # pylint: disable=g-import-not-at-top
    bv_params = u.load_params(self.ckpt)
    self.assertNotIn("router", bv_params["Transformer"])
    want = self._bv_logits(bv_params)
    self.assertGreater(np.abs(want).max(), 1e-3)  # Trained, not zero-init.

    npz = os.path.join(self.tmp.name, "bv_vit.npz")
    np.savez(npz, **dict(u.tree_flatten_with_names(bv_params)[0]))
    for path in (self.ckpt, npz):
      for scan in (False, True):
        with self.subTest(path=os.path.basename(path), scan=scan):
          mone, model, init, cfg = self._mone(scan=scan)
          params = mone.load(init, path, cfg)
          # The file has no router: it keeps its init value, alpha its 0.
          np.testing.assert_array_equal(
              params["Transformer"]["router"]["kernel"],
              init["Transformer"]["router"]["kernel"])
          self.assertEqual(float(params["Transformer"]["alpha"]), 0.0)
          for e_c in (1.0, None):
            logits, out = model.apply({"params": params}, self.images,
                                      e_c=e_c)
            np.testing.assert_allclose(logits, want, rtol=1e-5, atol=1e-5)
          logits, out = model.apply({"params": params}, self.images, e_c=0.5)
          self.assertEqual(out["experts"].shape, (8, 64))
          self.assertGreater(np.abs(np.asarray(logits) - want).max(), 1e-4)

  def test_posemb_resampled_for_another_resolution(self):
    mone, model, init, cfg = self._mone()
    del model
    import jax  # pylint: disable=g-import-not-at-top
    import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
    big = mone.Model(10, **cfg).init(
        jax.random.PRNGKey(0), jnp.zeros((1, 64, 64, 1)))["params"]
    params = mone.load(big, self.ckpt, cfg)
    self.assertEqual(params["pos_embedding"].shape, (1, 256, 32))
    del init

  def test_shape_mismatch_names_parameter_and_shapes(self):
    mone, _, init, cfg = self._mone(mlp_dim=128)
    with self.assertRaisesRegex(
        ValueError, r"does not fit the model: parameter Transformer/"
        r"encoderblock_0/MlpBlock_0/Dense_0/bias: \(64,\) in the checkpoint, "
        r"\(128,\) in the model \(and 3 more\)"):
      mone.load(init, self.ckpt, cfg)

  def test_head_of_other_classes_named(self):
    mone, _, init, cfg = self._mone(num_classes=5)
    with self.assertRaisesRegex(ValueError, r"has a head of 10 classes.*the "
                                r"model 5.*dont_load=\['head/kernel'"):
      mone.load(init, self.ckpt, cfg)
    params = mone.load(init, self.ckpt, cfg,
                       dont_load=["head/kernel", "head/bias"])
    self.assertEqual(params["head"]["bias"].shape, (5,))

  def test_unknown_parameter_rejected(self):
    mone, _, init, cfg = self._mone(rep_size=16)
    with self.assertRaisesRegex(ValueError, "pre_logits"):
      mone.load(init, self.ckpt, cfg)


if __name__ == "__main__":
  absltest.main()
