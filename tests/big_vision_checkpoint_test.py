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

Big Vision's `big_vision.train` trains its own `models/vit.py` for 4 steps on
local Fashion-MNIST and evaluates it (through `mone_plugin.big_vision.
stock_train`); MoNE's `load` reads the tensorstore checkpoint and an `.npz`
export of it (as AugReg publishes its ViTs) and at full capacity gives Big
Vision's logits. Fine-tuned from it (`model_init`) at e_c 1 through either
trainer, MoNE's first evaluation, before any step, is the dense model's last;
a checkpoint that does not fit is refused before anything is written.
"""

import os
import re

from absl.testing import absltest
import numpy as np

from tests import big_vision_test_util as bvu

# The same model in the Fashion-MNIST config, one step after its first eval.
TINY = ("runlocal,width=32,depth=2,heads=2,mlp=64,batch=16,steps=1,"
        "deterministic,e_c=1.0")
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
  c.evals = dict(test=dict(
      type="classification", pp_fn={pp!r}, loss_name="softmax_xent",
      data=dict(name="fashion_mnist_local", split="test[:64]",
                data_dir={data_dir!r}), log_steps=4, skip_first=True))
  return c
'''


def run(module, workdir, config):
  """Metrics and log of a run of one of the trainers."""
  result = bvu.run(bvu.trainer_cmd(workdir, module=module, config=config))
  return bvu.metrics(workdir), result.stderr


@absltest.skipUnless(bvu.HAVE_BV, bvu.NO_BV)
class BigVisionCheckpointTest(bvu.DataTestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    import mone_plugin.big_vision  # pylint: disable=g-import-not-at-top,unused-import
    data_dir = cls.data_dir
    config = os.path.join(cls.tmp.name, "bv_vit_config.py")
    with open(config, "w") as f:
      f.write(BV_CONFIG.format(data_dir=data_dir, pp=PP, model=MODEL))
    workdir = os.path.join(cls.tmp.name, "bv_vit")
    # Big Vision's own train.py and models/vit.py, unmodified; the plugin
    # fixes `u.sync()` (its last line) for JAX >= 0.7.
    metrics, _ = run("mone_plugin.big_vision.stock_train", workdir, config)
    cls.dense = [m for m in metrics if "test/loss" in m][-1]
    cls.ckpt = os.path.join(workdir, "checkpoint.bv")

    import big_vision.datasets.core as ds_core  # pylint: disable=g-import-not-at-top
    import big_vision.pp.builder as pp_builder  # pylint: disable=g-import-not-at-top
    import big_vision.pp.ops_general  # pylint: disable=g-import-not-at-top,unused-import
    import big_vision.pp.ops_image  # pylint: disable=g-import-not-at-top,unused-import
    data = ds_core.get(name="fashion_mnist_local", split="test[:8]",
                       data_dir=data_dir).get_tfdata(ordered=True)
    pp = pp_builder.get_preprocess_fn(PP)
    cls.images = np.stack([pp(x)["image"].numpy() for x in data])
    import big_vision.utils as u  # pylint: disable=g-import-not-at-top
    cls.npz = os.path.join(cls.tmp.name, "bv_vit.npz")
    np.savez(cls.npz, **dict(u.tree_flatten_with_names(
        u.load_params(cls.ckpt))[0]))

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

    for path in (self.ckpt, self.npz):
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
        r"\(128,\) in the model \(and 5 more\)"):
      mone.load(init, self.ckpt, cfg)

  def test_unknown_parameter_rejected(self):
    mone, _, init, cfg = self._mone(rep_size=16)
    with self.assertRaisesRegex(ValueError, "pre_logits"):
      mone.load(init, self.ckpt, cfg)


  def test_first_evaluation_is_the_dense_model_s(self):
    self.assertEqual(self.dense["step"], 4)
    for module, arg, key in (
        ("mone_plugin.big_vision.train", f"init={self.ckpt}", "test_ec1"),
        ("mone_plugin.big_vision.stock_train", f"stock,init={self.npz}",
         "test")):
      with self.subTest(module):
        workdir = os.path.join(self.tmp.name, module.rsplit(".", 1)[-1])
        ms, log = run(module, workdir, f"{bvu.CONFIG}:{TINY},{arg},keep_head")
        first = {k: m[k] for m in ms if m["step"] == 0 for k in m}
        if "stock" in module:  # Its row of step 0 is never written: logged.
          first = {f"{key}/{name}": float(value) for name, value in re.findall(
              rf"\[0\]\S* {key}/(loss|prec@1) = (\S+)", log)}
        self.assertAlmostEqual(first[f"{key}/loss"], self.dense["test/loss"],
                               places=5)
        self.assertEqual(first[f"{key}/prec@1"], self.dense["test/prec@1"])

  def _refused(self, config, pattern):
    from mone_plugin.big_vision import train  # pylint: disable=g-import-not-at-top
    workdir = os.path.join(self.tmp.name, "refused")
    with self.assertRaisesRegex(ValueError, pattern):
      train.train_and_evaluate(config, workdir)
    self.assertFalse(os.path.exists(workdir))  # Nothing written.

  def test_checkpoint_of_another_shape_refused_before_writing(self):
    self._refused(
        bvu.load_config(f"{TINY},init={self.ckpt},mlp=128"),
        r"does not fit the model: parameter Transformer/encoderblock/"
        r"MlpBlock_0/Dense_0/bias: \(2, 64\) in the checkpoint, \(2, 128\) "
        r"in the model")

  def test_head_of_other_classes_refused_unless_dropped(self):
    config = bvu.load_config(f"{TINY},init={self.npz},keep_head")
    config.num_classes = 5
    self._refused(
        config, r"has a head of 10 classes \(head/kernel \(32, 10\)\), the "
        r"model 5 \(head/kernel \(32, 5\)\): drop it to train a new head, "
        r"with config\.model_load = dict\(dont_load=\['head/kernel', "
        r"'head/bias'\]\)")
    # Dropped (the config's default without keep_head): a new head.
    import jax  # pylint: disable=g-import-not-at-top
    import big_vision.models.proj.mone.vit as mone_vit  # pylint: disable=g-import-not-at-top
    config = bvu.load_config(f"{TINY},init={self.npz}")
    model = mone_vit.Model(5, **config.model)
    init = model.init(jax.random.PRNGKey(0), np.zeros((1, 32, 32, 1)))
    params = mone_vit.load(init["params"], self.npz, config.model,
                           **config.model_load)
    self.assertEqual(params["head"]["kernel"].shape, (32, 5))


if __name__ == "__main__":
  absltest.main()
