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

"""The paper's Big Vision configs build, pass the checks and hit their budgets.

(ImageNet is not available here: these check the configs; the nested
pretraining config also trains a few steps of a tiny model on local data.)
"""

import os

from absl.testing import absltest
from absl.testing import parameterized

from tests import big_vision_test_util as bvu



def get_config(name, arg):
  return bvu.load_config(arg, os.path.join(bvu.REPO, "configs", f"{name}.py"))


@absltest.skipUnless(bvu.HAVE_BV, bvu.NO_BV)
class PaperConfigsTest(parameterized.TestCase):

  def _budgets(self, name, arg):
    from mone_plugin.big_vision import trainer_config  # pylint: disable=g-import-not-at-top
    import big_vision.models.proj.mone.vit as mone_vit  # pylint: disable=g-import-not-at-top
    config = get_config(name, arg)
    trainer_config.check_config(config)
    model = mone_vit.Model(config.num_classes, **config.model)
    return config, trainer_config.resolve(config, model, (224, 224, 3))

  @parameterized.parameters(("S/16", 4.6), ("B/16", 17.5), ("L/16", 61.6))
  def test_i21k_dense_baselines(self, variant, gflops):
    config, b = self._budgets("mone_i21k", f"variant={variant},dense")
    self.assertEqual(b.train, (None,))
    self.assertAlmostEqual(b.dense_gflops, gflops, delta=0.02 * gflops)
    self.assertEqual(config.input.batch_size, 4096)
    self.assertEqual(config.loss, "sigmoid_xent")

  def test_i21k_augreg_by_size(self):
    b16 = get_config("mone_i21k", "variant=B/16")
    self.assertIn("randaug(2,10)", b16.input.pp)
    self.assertEqual(b16.mixup.p, 0.2)
    l16 = get_config("mone_i21k", "variant=L/16")
    self.assertIn("randaug(2,15)", l16.input.pp)
    self.assertEqual(l16.mixup.p, 0.5)
    with self.assertRaisesRegex(ValueError, "variant='H/14'"):
      get_config("mone_i21k", "variant=H/14")

  def test_i21k_e_c_grid_and_iso_flops(self):
    _, b = self._budgets("mone_i21k", "e_c=0.3")
    self.assertEqual(b.train, (0.3,))
    self.assertLess(b.gflops[0.3], 0.45 * b.dense_gflops)
    _, b = self._budgets("mone_i21k", "grid=0.15;0.55;0.95,iso_flops")
    self.assertEqual(b.train, (0.15, 0.55, 0.95))
    self.assertGreater(b.step_scale, 1.5)  # Train longer at lower cost.

  def test_i21k_nested_pretraining(self):
    config, b = self._budgets("mone_i21k", "variant=B/16,nested")
    self.assertTrue(b.joint)
    self.assertEqual(b.train, ((1., 0., 0., 0.), (0., 1., 0., 0.),
                               (0., 0., 1., 0.), (0., 0., 0., 1.)))
    self.assertEqual(b.eval, b.train)
    self.assertEqual(config.model.pool_type, "tok")  # As ViViT's classifier.
    self.assertEqual(config.mone.num_routing_maps, 0)
    with open(os.path.join(bvu.REPO, "configs", "mone_i21k.py")) as f:
      self.assertIn("init_format=big_vision", f.read())  # Its next step.
    with self.assertRaisesRegex(ValueError, r"sets \['e_c', 'nested'\]"):
      self._budgets("mone_i21k", "nested,e_c=0.5")

  def test_finetune_drops_the_head(self):
    config, b = self._budgets(
        "mone_finetune", "init=howto-i21k-B/16,dataset=imagenet2012,e_c=0.4")
    self.assertEqual(config.model_init, "howto-i21k-B/16")
    self.assertEqual(list(config.model_load.dont_load),
                     ["head/kernel", "head/bias"])
    self.assertEqual((config.num_classes, b.train), (1000, (0.4,)))
    config = get_config("mone_finetune", "dataset=cifar10,keep_head")
    self.assertNotIn("model_load", config)

  def test_i1k_ti16_table3_budget(self):
    _, b = self._budgets("mone_i1k_ti16", "")
    (e_c,) = b.train
    self.assertBetween(b.gflops[e_c], 0.78, 0.8)  # Table 3: 0.8 GFLOPs.
    self.assertAlmostEqual(b.dense_gflops, 1.25, delta=0.05)  # ViT: 1.3.
    _, b = self._budgets("mone_i1k_ti16", "dense")
    self.assertEqual(b.train, (None,))


# configs/mone_i21k.py:nested,runlocal with local Fashion-MNIST for
# ImageNet-21k and a 2-layer model for B/16: the rest (loss, head bias,
# mixup, optimizer, nested budgets, evaluators) is the config's.
NESTED_LOCAL = '''
import configs.mone_i21k as mone_i21k
from mone_plugin.data import prepare


def get_config():
  c = mone_i21k.get_config("variant=B/16,nested,runlocal")
  c.total_steps = 3
  c.num_classes = 10
  data = dict(name="fashion_mnist_local", split="train[:256]",
              data_dir=prepare.data_dir())
  pp = ('decode(channels=1)|resize(32)|value_range(-1, 1)'
        '|onehot(10, key="label", key_result="labels")|keep("image", "labels")')
  c.input.data = data
  c.input.pp = pp
  c.pp_modules = ["ops_general", "ops_image"]
  c.model = dict(c.model, variant=None, patch_size=(4, 4), width=32, depth=2,
                 mlp_dim=64, num_heads=2)
  c.evals = dict(val=dict(c.evals.val, pp_fn=pp, log_steps=3,
                          data=dict(data, split="test[:16]")))
  return c
'''


@absltest.skipUnless(bvu.HAVE_BV, bvu.NO_BV)
class NestedPretrainingRunTest(absltest.TestCase):

  def test_a_few_steps_train_every_nested_model(self):
    bvu.prepare_data()
    tmp = bvu.temp_dir(self)
    config = os.path.join(tmp, "nested_local.py")
    with open(config, "w") as f:
      f.write(NESTED_LOCAL)
    workdir = os.path.join(tmp, "w")
    bvu.run(bvu.trainer_cmd(workdir, config=config))
    ms = bvu.metrics(workdir)
    experts = [f"expert{i}" for i in range(4)]
    last = [m for m in ms if "training_loss" in m][-1]
    self.assertEqual(last["step"], 3)
    self.assertAlmostEqual(last["training_loss"], sum(
        last[f"training_loss_{e}"] for e in experts), places=4)
    self.assertEqual(sorted(k for k in ms[-1] if k.endswith("/prec@1")),
                     [f"val_{e}/prec@1" for e in experts])
    # What the video configs load (init_format=big_vision): its parameters,
    # with the class token of their classifier.
    import big_vision.utils as u  # pylint: disable=g-import-not-at-top
    params = u.load_params(os.path.join(workdir, "checkpoint.bv"))
    self.assertIn("cls", params)
    self.assertIn("router", params["Transformer"])


@absltest.skipUnless(bvu.HAVE_BV, bvu.NO_BV)
class FashionMnistConfigTest(absltest.TestCase):

  def test_val_holds_out_training_images(self):
    # Tuning reads `val` only: the last 10,000 training images, never seen in
    # training and disjoint from test.
    config = get_config("mone_fashion_mnist", "val,e_c=0.4")
    self.assertEqual(config.input.data.split, "train[:50000]")
    self.assertEqual(list(config.evals), ["val"])
    self.assertEqual(config.evals.val.data.split, "train[50000:]")
    config = get_config("mone_fashion_mnist", "e_c=0.4")
    self.assertEqual(config.input.data.split, "train")
    self.assertEqual(list(config.evals), ["test"])
    self.assertEqual(config.evals.test.data.split, "test")

  def test_mod_refuses_a_mone_budget(self):
    # Mixture-of-Depths has no MoNE budget: a budget beside it is a mistake,
    # named, not silently ignored.
    for arg in ("mod,e_c=0.3", "mod,matvit", "mod,gflops=0.005",
                "mod,iso_flops"):
      with self.assertRaisesRegex(ValueError, "do not combine it with "
                                  "matvit, e_c, gflops or iso_flops"):
        get_config("mone_fashion_mnist", arg)
    self.assertEqual(get_config("mone_fashion_mnist",
                                "mod").model.mod_capacity, 0.125)

  def test_recipes(self):
    # The default is the quick recipe of `make run`; recipe=r2 is the results
    # page's (experiments/results/plan.py names it); values given one by one
    # override the recipe's.
    config = get_config("mone_fashion_mnist", "")
    self.assertEqual((config.total_steps, config.schedule.warmup_steps),
                     (1200, 100))
    config = get_config("mone_fashion_mnist", "recipe=r2,dense,seed=1")
    self.assertEqual((config.total_steps, config.schedule.warmup_steps,
                      config.lr, config.input.batch_size,
                      config.model.width), (3000, 200, 0.006, 128, 64))
    config = get_config("mone_fashion_mnist", "recipe=r2,lr=0.0015,steps=10")
    self.assertEqual((config.total_steps, config.lr), (10, 0.0015))
    self.assertEqual(get_config("mone_fashion_mnist",
                                "runlocal").total_steps, 10)
    self.assertEqual(get_config("mone_fashion_mnist",
                                "runlocal,steps=20").total_steps, 20)
    with self.assertRaisesRegex(ValueError, "recipe='r9' is unknown"):
      get_config("mone_fashion_mnist", "recipe=r9")

  def test_resolution_and_flip(self):
    # res=28 trains on the native images (7x7 patches of 4 px); the test
    # pipeline sees the same side; noflip drops the training augmentation.
    config = get_config("mone_fashion_mnist", "res=28,noflip")
    self.assertIn("|resize(28)|", config.input.pp)
    self.assertNotIn("flip_lr", config.input.pp)
    self.assertIn("|resize(28)|", config.evals.test.pp_fn)
    config = get_config("mone_fashion_mnist", "")
    self.assertIn("|resize(32)|flip_lr|", config.input.pp)
    with self.assertRaisesRegex(ValueError, "res=30 is not a multiple of the "
                                "patch size 4"):
      get_config("mone_fashion_mnist", "res=30")


if __name__ == "__main__":
  absltest.main()
