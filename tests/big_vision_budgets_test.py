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

"""One budget contract for both Big Vision trainers.

Big Vision's stock `big_vision.train` (through `mone_plugin.big_vision.
stock_train`) honours the model's e_c, from `config.model.e_c` or
`config.mone.e_c`, and refuses every other budget key before it builds
anything, naming `mone_plugin.big_vision.train`; that trainer honours them
all, and takes `config.model.e_c` without a `config.mone`. Tiny runs on local
Fashion-MNIST.
"""

import json
import os

from absl.testing import absltest
import numpy as np

from tests import big_vision_test_util as bvu

TINY = ("runlocal,width=32,depth=2,heads=2,mlp=64,batch=32,steps=3,"
        "lr=0.003,deterministic,stock,e_c=0.5")


def run(module, workdir, args):
  """A run of `module` (failing or not) on the Fashion-MNIST config."""
  return bvu.run(bvu.trainer_cmd(workdir, args, module=module), check=False)


@absltest.skipUnless(bvu.HAVE_BV, bvu.NO_BV)
class StockTrainerTest(bvu.DataTestCase):
  """Big Vision's own train.py, with MoNE as `proj.mone.vit`."""

  def test_trains_and_evaluates_at_the_model_e_c(self):
    workdir = os.path.join(self.tmp.name, "stock")
    result = run(bvu.STOCK_TRAIN, workdir, TINY)
    self.assertEqual(result.returncode, 0, result.stderr[-5000:])
    with open(os.path.join(workdir, "config.json")) as f:
      self.assertEqual(json.load(f)["model"]["e_c"], 0.5)
    last = bvu.metrics(workdir)[-1]
    self.assertEqual(last["step"], 3)
    # Its evaluator ran the model at e_c 0.5: the checkpoint gives the same
    # loss at 0.5, not at 1.
    import big_vision.utils as u  # pylint: disable=g-import-not-at-top
    import big_vision.models.proj.mone.vit as mone_vit  # pylint: disable=g-import-not-at-top
    import big_vision.datasets.core as ds_core  # pylint: disable=g-import-not-at-top
    import big_vision.pp.builder as pp_builder  # pylint: disable=g-import-not-at-top
    import big_vision.pp.ops_general  # pylint: disable=g-import-not-at-top,unused-import
    import big_vision.pp.ops_image  # pylint: disable=g-import-not-at-top,unused-import
    config = bvu.load_config(TINY)
    test = config.evals.test
    data = ds_core.get(**test.data).get_tfdata(ordered=True)
    pp = pp_builder.get_preprocess_fn(test.pp_fn)
    batch = [pp(x) for x in data]
    images = np.stack([b["image"].numpy() for b in batch])
    labels = np.stack([b["labels"].numpy() for b in batch])
    model = mone_vit.Model(10, **config.model)
    params = u.load_params(os.path.join(workdir, "checkpoint.bv"))
    def loss(e_c):
      logits, _ = model.apply({"params": params}, images, e_c=e_c)
      return float(np.mean(u.softmax_xent(logits=logits, labels=labels,
                                          reduction=False)))
    self.assertAlmostEqual(last["test/loss"], loss(0.5), places=5)
    self.assertNotAlmostEqual(last["test/loss"], loss(1.0), places=5)

  def test_refuses_before_building_anything(self):
    for arg, key in (("grid=0.2;1", "train_e_c_grid=(0.2, 1.0)"),
                     ("gflops=0.002", "gflops=0.002"),
                     ("eval_e_c=0.3;1", "eval_e_c=(0.3, 1.0)"),
                     ("matvit", "nested=True")):
      with self.subTest(arg):
        workdir = os.path.join(self.tmp.name, arg.split("=")[0])
        result = run(bvu.STOCK_TRAIN, workdir, f"{TINY},{arg}")
        self.assertNotEqual(result.returncode, 0)
        self.assertRegex(result.stderr, (
            rf"config\.mone\.{key.replace('(', r'[(]').replace(')', r'[)]')}"
            r" is not honoured by big_vision\.train \(Big Vision's stock "
            r"trainer\), which .*\. Train with mone_plugin\.big_vision\.train"
            r", which honours it"))
        self.assertFalse(os.path.exists(workdir))  # Nothing built.

  def test_mone_e_c_goes_to_the_model_and_must_agree(self):
    # What stock_train runs first (importing it imports big_vision.train,
    # which sets JAX flags for the whole process).
    from mone_plugin.big_vision import trainer_config  # pylint: disable=g-import-not-at-top
    config = bvu.load_config(TINY)
    del config.model["e_c"]
    config.mone = dict(e_c=0.25)
    config.lock()
    self.assertEqual(trainer_config.check_stock_config(config).model.e_c, 0.25)
    config = bvu.load_config(TINY)
    config.mone = dict(e_c=0.25)
    with self.assertRaisesRegex(
        ValueError, r"config\.model\.e_c=0\.5 and config\.mone\.e_c=0\.25 "
        r"disagree"):
      trainer_config.check_stock_config(config)
    config = bvu.load_config(TINY)
    config.model.gflops = 0.002
    with self.assertRaisesRegex(
        ValueError, r"config\.model\.gflops=0\.002 is not a model option: "
        r"the model takes one budget, e_c\. Set config\.mone\.gflops instead "
        r"and train with mone_plugin\.big_vision\.train"):
      trainer_config.check_stock_config(config)


@absltest.skipUnless(bvu.HAVE_BV, bvu.NO_BV)
class MoneTrainerTest(absltest.TestCase):
  """`mone_plugin.big_vision.train` honours the budget keys."""

  def test_model_e_c_without_config_mone(self):
    bvu.prepare_data()
    workdir = os.path.join(bvu.temp_dir(self), "w")
    result = run(bvu.MONE_TRAIN, workdir, TINY)
    self.assertEqual(result.returncode, 0, result.stderr[-5000:])
    ms = bvu.metrics(workdir)
    self.assertEqual({m["train_e_c"] for m in ms if "train_e_c" in m}, {0.5})
    self.assertIn("test_ec0.5/prec@1", ms[-1])

  def _refused(self, config, pattern):
    from mone_plugin.big_vision import train  # pylint: disable=g-import-not-at-top
    workdir = os.path.join(bvu.temp_dir(self), "w")
    with self.assertRaisesRegex(ValueError, pattern):
      train.train_and_evaluate(config, workdir)
    self.assertFalse(os.path.exists(workdir))

  def test_disagreeing_e_c_and_model_budget_keys_refused(self):
    config = bvu.load_config("runlocal,e_c=0.5")
    config.model.e_c = 0.3
    self._refused(config, r"config\.model\.e_c=0\.3 and config\.mone\.e_c="
                  r"0\.5 disagree: set the model's e_c in one place")
    for key, value in (("gflops", 0.002), ("train_e_c_grid", (0.5, 1.0)),
                       ("eval_e_c", (0.5,))):
      config = bvu.load_config("runlocal,e_c=0.5")
      config.model[key] = value
      self._refused(config, rf"config\.model\.{key}=.* is not a model option"
                    rf".*config\.mone\.{key} instead")


if __name__ == "__main__":
  absltest.main()
