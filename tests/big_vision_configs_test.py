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

(ImageNet is not available here: these check the configs, not a training.)
"""

import importlib.util
import os

from absl.testing import absltest
from absl.testing import parameterized

from mone_plugin import frameworks

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HAVE_BV = frameworks.available("big_vision")


def get_config(name, arg):
  import mone_plugin.big_vision  # pylint: disable=g-import-not-at-top,unused-import
  spec = importlib.util.spec_from_file_location(
      name, os.path.join(REPO, "configs", f"{name}.py"))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config(arg)


@absltest.skipUnless(HAVE_BV, "Big Vision checkout not found (see README).")
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

  def test_i1k_ti16_table3_budget(self):
    _, b = self._budgets("mone_i1k_ti16", "")
    (e_c,) = b.train
    self.assertBetween(b.gflops[e_c], 0.78, 0.8)  # Table 3: 0.8 GFLOPs.
    self.assertAlmostEqual(b.dense_gflops, 1.25, delta=0.05)  # ViT: 1.3.
    _, b = self._budgets("mone_i1k_ti16", "dense")
    self.assertEqual(b.train, (None,))


@absltest.skipUnless(HAVE_BV, "Big Vision checkout not found (see README).")
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
