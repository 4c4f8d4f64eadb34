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

"""Scenic's own ImageNet ViT configs, with `model_name` and a budget changed.

Each config is Scenic's file from the pinned checkout. The test changes
`model_name` (`vit_multilabel_classification` -> its MoNE counterpart) and
sets a budget, and nothing else of the recipe; to run here it shrinks the
model (ViT-B/16 -> width 32, 2 layers, patch 4 on 28 px images), points the
data at the local Fashion-MNIST and trains a few steps. Scenic's stock
`classification_trainer` then trains the model at the budget asked, with
Scenic's sigmoid loss and metrics; the budget keys it cannot honour are
refused before anything is built or written.
"""

import json
import os
import tempfile

import projects
projects.skip_without_scenic()

from absl.testing import absltest
from absl.testing import parameterized
import ml_collections
from scenic.model_lib.base_models import multilabel_classification_model
from scenic.projects.baselines import vit as scenic_vit
from scenic.train_lib import classification_trainer

from projects.mone import main
from projects.mone import model as mone_model
from tests import scenic_test_util as stu


class StockConfigTest(parameterized.TestCase):

  @parameterized.named_parameters(
      ('imagenet_vit_gflops', 'imagenet_vit_config', 'gflops'),
      ('imagenet_augreg_vit_e_c', 'imagenet_augreg_vit_config', 'e_c'))
  def test_model_name_and_budget_only(self, name, budget):
    config = stu.scenic_config(name)
    self.assertEqual(config.model_name, 'vit_multilabel_classification')
    self.assertEqual(config.trainer_name, 'classification_trainer')
    config.model_name = 'mone_vit_multilabel_classification'
    if budget == 'gflops':  # MoNE ViT-B/16 at 224 px: 8.8 of 17.6 GFLOPs.
      config.mone = ml_collections.ConfigDict({'gflops': 0.0008})
    else:
      config.model.e_c = 0.5
    stu.run_here(config)
    workdir = os.path.join(tempfile.mkdtemp(prefix='scenic_stock_'), 'run')
    writer = stu.run_main(config, workdir)

    meta = {'num_classes': 10, 'input_shape': (-1, 28, 28, 1)}
    model = main.get_model_cls(config.model_name)(config, meta)
    e_c = model.flax_model.e_c
    if budget == 'gflops':
      # The e_c whose analytic cost is the budget asked.
      self.assertLess(e_c, 0.7)
      self.assertAlmostEqual(model.gflops(e_c), 0.0008, delta=0.00002)
    else:
      self.assertEqual(e_c, 0.5)
    # Scenic's trainer counts the FLOPs (XLA) of the model it trains: those
    # of the budget, not of the dense model (XLA also counts the elementwise
    # work, ~10% at width 32).
    xla = writer.scalars['gflops'][1]
    self.assertBetween(xla / model.gflops(e_c), 1.0, 1.15)
    self.assertLess(xla, 0.8 * model.gflops(None))
    # The loss and metrics of Scenic's multi-label ViT: sigmoid, `prec@1`.
    self.assertIs(
        type(model).loss_function,
        multilabel_classification_model.MultiLabelClassificationModel
        .loss_function)
    self.assertIs(type(model).loss_function,
                  scenic_vit.ViTMultiLabelClassificationModel.loss_function)
    self.assertIn('valid_prec@1', writer.scalars)
    self.assertNotIn('valid_accuracy', writer.scalars)
    # The trainer ran is Scenic's; the workdir holds the run's config.
    self.assertIs(main.get_trainer(config.trainer_name).__wrapped__,
                  classification_trainer.train)
    with open(os.path.join(workdir, 'config.json')) as f:
      saved = ml_collections.ConfigDict(json.load(f))
    self.assertEqual(saved.model_name, config.model_name)
    self.assertEqual(saved.to_json(), config.to_json())

  @parameterized.named_parameters(
      ('grid', dict(train_e_c_grid=(0.3, 0.6)), None,
       r'config\.mone\.train_e_c_grid=\(0\.3, 0\.6\) is not honoured by '
       'classification_trainer.*Train with mone_trainer'),
      ('eval', dict(e_c=0.5, eval_e_c=(0.3, 0.5)), None,
       r'config\.mone\.eval_e_c=\(0\.3, 0\.5\) is not honoured by '
       'classification_trainer.*Train with mone_trainer'),
      ('eval_with_gflops', dict(gflops=0.0008, eval_e_c=(0.5,)), None,
       r'config\.mone\.eval_e_c=\(0\.5,\) is not honoured by '
       'classification_trainer.*Train with mone_trainer'),
      ('iso_flops', dict(e_c=0.5, iso_flops=True), None,
       r'config\.mone\.iso_flops=True is not honoured by '
       'classification_trainer'),
      ('disagree', dict(e_c=0.6), dict(e_c=0.3),
       r'config\.model\.e_c=0\.3 and config\.mone\.e_c=0\.6 disagree'),
      ('gflops_and_e_c', dict(gflops=0.0008), dict(e_c=0.3),
       r'config\.model\.e_c=0\.3 and config\.mone\.gflops=0\.0008 both set'),
      ('model_gflops', None, dict(gflops=0.0008),
       r'config\.model\.gflops=0\.0008 is not a model option.*'
       r'config\.mone\.gflops.*mone_trainer'),
      ('init_from', None, dict(e_c=0.5),
       r'config\.init_from\.checkpoint_path=.* is not honoured by '
       'classification_trainer.*mone_trainer'),
  )
  def test_refused_before_anything_is_built(self, mone, model, message):
    config = stu.run_here(stu.scenic_config('imagenet_vit_config'))
    config.model_name = 'mone_vit_multilabel_classification'
    if mone is not None:
      config.mone = ml_collections.ConfigDict(mone)
    config.model.update(model or {})
    if 'init_from' in message:
      config.init_from = ml_collections.ConfigDict(
          {'checkpoint_path': '/nonexistent'})
    config.dataset_configs.data_dir = '/nonexistent'  # Never read.
    workdir = os.path.join(tempfile.mkdtemp(prefix='scenic_stock_'), 'run')
    with self.assertRaisesRegex(ValueError, message):
      stu.run_main(config, workdir)
    self.assertFalse(os.path.exists(workdir))


if __name__ == '__main__':
  absltest.main()
