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

"""MoNE from a checkpoint that Scenic's own ViT trainer wrote (`init_from`).

Scenic's `vit_multilabel_classification` is trained a few steps by Scenic's
`classification_trainer` (Scenic's ImageNet ViT config, shrunk to run here);
the MoNE ViT of the same config at e_c 1 is then initialised from that
workdir by `mone_trainer` (`init_from`). Its learning rate is 0 at the first
step (linear warmup), so its first evaluation is the dense model's. A
checkpoint that does not fit fails before training, writing nothing.
"""

import os

import projects
projects.skip_without_scenic()

from absl.testing import absltest
from flax.training import checkpoints as flax_checkpoints
import jax
import ml_collections
import numpy as np
from scenic.projects.baselines import vit as scenic_vit
from scenic.train_lib import classification_trainer
from scenic.train_lib import train_utils

from projects.mone import main
from projects.mone import train_utils as mone_train_utils
from tests import scenic_test_util as stu

STEPS = 3


def dense_config():
  config = stu.run_here(stu.scenic_config('imagenet_vit_config'), STEPS)
  config.checkpoint = True
  config.count_flops = False
  return config


def mone_config(init_dir, steps=2):
  """The same config: the MoNE model at e_c 1, from `init_dir`."""
  config = dense_config()
  config.model_name = 'mone_vit_multilabel_classification'
  config.model.e_c = 1.0
  config.trainer_name = 'mone_trainer'
  config.num_training_steps = steps
  config.log_eval_steps = steps  # Evaluates after step 1 and the last.
  config.lr_configs.warmup_steps = steps  # The learning rate at step 1: 0.
  config.init_from = ml_collections.ConfigDict({'checkpoint_path': init_dir})
  return config


class InitFromScenicViTTest(stu.TempDirTestCase):
  TMP_PREFIX = 'scenic_init_from_'

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.dense_dir = os.path.join(cls.tmp, 'dense')
    config = dense_config()
    rng = jax.random.PRNGKey(0)
    dataset = train_utils.get_dataset(config, rng)
    cls.dense_writer = stu.RecordingWriter()
    # Scenic's own model and trainer, as `scenic.main` runs them.
    classification_trainer.train(
        rng=rng, config=config,
        model_cls=scenic_vit.ViTMultiLabelClassificationModel,
        dataset=dataset, workdir=cls.dense_dir, writer=cls.dense_writer)
    assert os.path.exists(os.path.join(cls.dense_dir, f'checkpoint_{STEPS}'))

  def test_first_evaluation_at_e_c_1_is_the_dense_models(self):
    workdir = os.path.join(self.tmp, 'mone')
    writer = stu.run_main(mone_config(self.dense_dir), workdir)
    dense = self.dense_writer.scalars
    for metric in ('loss', 'prec@1'):
      want = dense[f'valid_{metric}'][STEPS]
      got = writer.scalars[f'valid_{metric}_ec1'][1]
      print(f'valid_{metric}: dense {want:.6f}, MoNE e_c 1 {got:.6f}')
      self.assertAlmostEqual(got, want, delta=1e-5 * max(1.0, abs(want)))

  def test_fresh_head_for_another_number_of_classes(self):
    config = mone_config(self.dense_dir)
    config.init_from.restore_output_proj = False
    meta = {'num_classes': 5, 'input_shape': (-1, 28, 28, 1)}
    model = main.get_model_cls(config.model_name)(config, meta)
    params, _, _, _ = train_utils.initialize_model(
        model_def=model.flax_model, input_spec=[((1, 28, 28, 1), np.float32)],
        config=config, rngs=jax.random.PRNGKey(1))
    state = train_utils.TrainState(params=params)
    state = mone_train_utils.init_from_checkpoint(state, model,
                                                  config.init_from)
    dense = flax_checkpoints.restore_checkpoint(self.dense_dir, None)
    np.testing.assert_array_equal(
        state.params['Transformer']['encoderblock_0']['MlpBlock_0']['Dense_0']
        ['kernel'], dense['params']['Transformer']['encoderblock_0']
        ['MlpBlock_0']['Dense_0']['kernel'])
    self.assertEqual(state.params['output_projection']['kernel'].shape,
                     (32, 5))
    self.assertIn('router', state.params['Transformer'])

  def test_checkpoint_that_does_not_fit_fails_before_training(self):
    restored = flax_checkpoints.restore_checkpoint(self.dense_dir, None)
    head = restored['params']['output_projection']
    head['kernel'] = np.zeros((32, 21), np.float32)
    head['bias'] = np.zeros((21,), np.float32)
    other_head = os.path.join(self.tmp, 'head21')
    flax_checkpoints.save_checkpoint(other_head, restored, STEPS)
    for name, config, message in (
        ('width', mone_config(self.dense_dir),
         r'does not fit the MoNE ViT: Transformer/encoder_norm/bias: '
         r'checkpoint \(32,\) vs model \(64,\);'),
        ('head', mone_config(other_head),
         r'output_projection/bias: checkpoint \(21,\) vs model \(10,\); the '
         r'checkpoint head has 21 classes, the model 10: set '
         r'config\.init_from\.restore_output_proj=False'),
    ):
      with self.subTest(name):
        if name == 'width':
          config.model.update(hidden_size=64, representation_size=64)
        workdir = os.path.join(self.tmp, f'bad_{name}')
        with self.assertRaisesRegex(ValueError, message):
          stu.run_main(config, workdir)
        self.assertFalse(os.path.exists(workdir))


if __name__ == '__main__':
  absltest.main()
