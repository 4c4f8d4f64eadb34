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

"""The paper's Kinetics-400 and SSv2 configs train through Scenic's video input.

Each config is changed only where a local run must be (data paths and sizes,
classes, model size, frames, crop, batch, steps, budgets evaluated) and trains
2 steps through Scenic's `video_tfrecord_dataset` (DMVR, SimCLR's ops) on
Moving Fashion-MNIST clips written as its tfrecords; every other field, the
paper's recipe (augmentations, mixup, label smoothing, droplayer, optimizer,
multi-view test), is as the config sets it.
"""

import json
import os
import tempfile
import unittest

import projects
_MISSING = projects.video_input_missing()
if _MISSING:
  raise unittest.SkipTest(_MISSING)

from absl.testing import absltest
from absl.testing import parameterized
from clu import metric_writers
import jax
import numpy as np
from scenic.train_lib import train_utils

from mone_plugin.data import prepare
from projects.mone import main
from projects.mone import train_utils as mone_train_utils
from projects.mone import video_tfrecords
from projects.mone.configs import kinetics400_mone_vivit_b16x2 as k400
from projects.mone.configs import ssv2_mone_vivit_b16x2 as ssv2

STEPS = 2
CLIPS = 8  # Per table.
# The fields a local run changes; every other field must stay as it is.
LOCAL = (
    'dataset_configs.base_dir', 'dataset_configs.tables.',
    'dataset_configs.examples_per_subset.', 'dataset_configs.num_classes',
    'dataset_configs.num_frames', 'dataset_configs.min_resize',
    'dataset_configs.crop_size', 'dataset_configs.test_batch_size',
    'batch_size', 'eval_batch_size', 'model.hidden_size', 'model.patches.size',
    'model.spatial_transformer.', 'model.temporal_transformer.',
    'num_training_epochs', 'num_training_steps', 'lr_configs.warmup_steps',
    'lr_configs.steps_per_cycle', 'log_eval_steps', 'log_summary_steps',
    'checkpoint_steps', 'count_flops', 'mone.eval_e_c',
    'mone.num_routing_maps')
# What the paper's recipes set (ViViT's Kinetics and SSv2 recipes).
RECIPES = {
    k400: {
        'optimizer': 'momentum', 'max_grad_norm': 1,
        'lr_configs.base_learning_rate': 5e-2, 'label_smoothing': None,
        'dataset_configs.stride': 2,
        'dataset_configs.augmentation_params.do_jitter_scale': True,
        'dataset_configs.augmentation_params.scale_min_factor': 0.9,
        'dataset_configs.augmentation_params.scale_max_factor': 1.33,
        'dataset_configs.augmentation_params.do_color_augment': True,
        'dataset_configs.do_multicrop_test': True,
        'dataset_configs.num_test_clips': 4,
        'dataset_configs.do_three_spatial_crops': True,
        'model.e_c': 0.4, 'model.classifier': 'token',
    },
    ssv2: {
        'optimizer': 'momentum', 'max_grad_norm': 1,
        'lr_configs.base_learning_rate': 0.4, 'label_smoothing': 0.3,
        'mixup.alpha': 0.3, 'model.stochastic_droplayer_rate': 0.3,
        'dataset_configs.stride': 1,
        'dataset_configs.augmentation_params.do_jitter_scale': True,
        'dataset_configs.augmentation_params.do_rand_augment': True,
        'dataset_configs.augmentation_params.rand_augment_num_layers': 2,
        'dataset_configs.augmentation_params.rand_augment_magnitude': 20,
        'dataset_configs.do_multicrop_test': True,
        'dataset_configs.num_test_clips': 4,
        'dataset_configs.do_three_spatial_crops': True,
        'model.e_c': 0.4, 'model.classifier': 'token',
    },
}


def flat(config):
  out = {}

  def visit(prefix, value):
    if isinstance(value, dict):
      for k, v in value.items():
        visit(f'{prefix}{k}.', v)
    else:
      out[prefix[:-1]] = value

  visit('', config.to_dict())
  return out


def local(config, base_dir):
  """A few steps of a tiny model on local clips written as the tables."""
  d = config.dataset_configs
  # The config's table names, 2 shards each instead of 128 or 1024.
  d.tables = {k: v.split('@')[0] + '@2' for k, v in d.tables.items()}
  d.examples_per_subset = video_tfrecords.write_moving_fashion_mnist(
      base_dir, dict(d.tables), CLIPS, data_dir=prepare.ensure_prepared())
  d.base_dir = base_dir
  d.num_classes = 8  # Directions of motion.
  d.num_frames, d.min_resize, d.crop_size, d.test_batch_size = 4, 36, 32, 2
  config.batch_size = config.eval_batch_size = 4
  config.model.hidden_size = 32
  config.model.patches.size = (8, 8, 2)
  for t in (config.model.spatial_transformer,
            config.model.temporal_transformer):
    t.update(num_heads=2, mlp_dim=64, num_layers=1)
  config.num_training_epochs = None
  config.num_training_steps = STEPS
  config.lr_configs.warmup_steps = 1
  config.lr_configs.steps_per_cycle = STEPS
  config.log_eval_steps = config.log_summary_steps = STEPS
  config.checkpoint_steps = STEPS
  config.count_flops = False
  config.mone.eval_e_c = (config.model.e_c,)  # One budget: one compile.
  config.mone.num_routing_maps = 0
  return config


class VideoPipelineTest(parameterized.TestCase):

  @parameterized.named_parameters(('kinetics400', k400), ('ssv2', ssv2))
  def test_trains_through_scenic_video_input(self, module):
    paper = module.get_config('e_c=0.4')
    config = local(module.get_config('e_c=0.4'), tempfile.mkdtemp())
    before, after = flat(paper), flat(config)
    changed = {k for k in before.keys() | after.keys()
               if before.get(k, ...) != after.get(k, ...)}
    self.assertEmpty({k for k in changed if not k.startswith(LOCAL)})
    for field, value in RECIPES[module].items():
      self.assertEqual(after[field], value, field)
    self.assertEqual(config.dataset_name, 'video_tfrecord_dataset')

    mone_train_utils.check_config(config)  # As `projects.mone.main` does.
    rng = jax.random.PRNGKey(0)
    dataset = train_utils.get_dataset(config, rng)
    batch = next(dataset.train_iter)
    self.assertEqual(batch['inputs'].shape, (1, 4, 4, 32, 32, 3))
    self.assertEqual(batch['label'].shape, (1, 4, 8))  # One-hot.
    workdir = tempfile.mkdtemp()
    with jax.log_compiles(True), self.assertLogs('jax', 'WARNING') as logs:
      state, train_summary, eval_summary = main.get_trainer(
          config.trainer_name)(
              rng=rng, config=config,
              model_cls=main.get_model_cls(config.model_name),
              dataset=dataset, workdir=workdir,
              writer=metric_writers.LoggingWriter())
    # Nothing is compiled twice for the same shapes and shardings: step 2
    # once compiled the train step again (a FrozenDict model state and
    # flax's replicate mesh in step 1's state only).
    compiles = [r.split(' with global shapes')[0] + r.split('and types')[-1]
                for r in logs.output if 'Compiling jit(_fun)' in r]
    self.assertNotEmpty(compiles)
    self.assertEqual(len(compiles), len(set(compiles)),
                     [c[:200] for c in compiles])
    self.assertEqual(int(np.ravel(state.global_step)[0]), STEPS)
    self.assertTrue(np.isfinite(train_summary['loss']), train_summary)
    self.assertTrue(os.path.exists(os.path.join(workdir,
                                                f'checkpoint_{STEPS}')))
    with open(os.path.join(workdir, 'final_eval.json')) as f:
      final = json.load(f)
    self.assertEqual(final['step'], STEPS)
    # Validation and the multi-view test (4 clips x 3 crops) at e_c 0.4.
    for key in ('loss_ec0.4', 'test_loss_ec0.4', 'test_accuracy_ec0.4'):
      self.assertTrue(np.isfinite(final[key]), key)


if __name__ == '__main__':
  absltest.main()
