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

"""Faults through the Scenic MoNE trainers: no silent damage.

One tiny MoNE ViT run diverges at step 2 (lr 1e30 after a warmup
from 0) with a checkpoint every step; the tests check that it stopped before
writing anything non-finite, that its workdir refuses another config, and
that a checkpoint holding a NaN is refused by the evaluator.
"""

import os
import re
import shutil
import tempfile

import projects
projects.skip_without_scenic()

from absl.testing import absltest
from clu import metric_writers
from flax import traverse_util
from flax.training import checkpoints as flax_checkpoints
import jax
import numpy as np
from scenic.train_lib import train_utils

from mone_plugin import checkpoints
from mone_plugin import workdir as workdir_lib
from mone_plugin.data import prepare
from projects.mone import main
from projects.mone import trainer
from projects.mone.configs import local_nested_pretrain


def diverging_config(width=32):
  """4 steps of a tiny model; lr 0 at step 1, 5e29 at step 2."""
  config = local_nested_pretrain.get_config('steps=4')
  config.batch_size = 16
  config.eval_batch_size = 64
  config.shuffle_seed = 0
  config.dataset_configs.eval_split = 'test[:64]'
  config.dataset_configs.data_dir = prepare.ensure_prepared()
  config.model.update(dict(width=width, depth=2, mlp_dim=64, num_heads=2))
  config.lr_configs.warmup_steps = 2
  config.lr_configs.base_learning_rate = 1e30
  config.trainer_name = 'mone_trainer'  # One budget: one compiled step.
  config.checkpoint_steps = 1
  config.log_summary_steps = 1
  config.log_eval_steps = 1  # Only at the last step: never compiled.
  return config


def run(train_fn, config, workdir):
  rng = jax.random.PRNGKey(config.rng_seed)
  dataset = train_utils.get_dataset(config, rng)
  return train_fn(rng=rng, config=config,
                  model_cls=main.get_model_cls(config.model_name),
                  dataset=dataset, workdir=workdir,
                  writer=metric_writers.LoggingWriter())


def state(workdir):
  """Every file of `workdir` (but its lock) with its size and mtime."""
  return {f: (os.stat(os.path.join(workdir, f)).st_size,
              os.stat(os.path.join(workdir, f)).st_mtime_ns)
          for f in os.listdir(workdir) if f != workdir_lib.LOCK_NAME}


class ScenicFaultsTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.tmp = tempfile.TemporaryDirectory()
    cls.workdir = os.path.join(cls.tmp.name, 'diverged')
    cls.error = None
    try:
      run(trainer.train, diverging_config(), cls.workdir)
    except checkpoints.NonFiniteError as e:
      cls.error = e
    workdir_lib.release(cls.workdir)

  @classmethod
  def tearDownClass(cls):
    cls.tmp.cleanup()
    super().tearDownClass()

  def test_divergence_stops_before_anything_non_finite_is_written(self):
    self.assertRegex(str(self.error), r'is .*(nan|inf).* at step 2: training '
                     'stopped before writing')
    names = sorted(n for n in os.listdir(self.workdir)
                   if n.startswith('checkpoint_'))
    self.assertEqual(names, ['checkpoint_1'])
    restored = flax_checkpoints.restore_checkpoint(self.workdir, None)
    checkpoints.verify(restored['params'], restored['params'])  # Finite.

  def test_changed_config_refused_before_writing(self):
    workdir = os.path.join(self.tmp.name, 'changed')
    shutil.copytree(self.workdir, workdir)
    before = state(workdir)
    with self.assertRaisesRegex(
        ValueError, r'refusing to resume it \(nothing was written\)\. '
        r'Changed:\n  model.width: 32 -> 64\n'):
      run(trainer.train, diverging_config(width=64), workdir)
    self.assertEqual(state(workdir), before)

  def test_evaluate_refuses_a_nan_checkpoint(self):
    workdir = os.path.join(self.tmp.name, 'nan')
    restored = flax_checkpoints.restore_checkpoint(self.workdir, None)
    flat = traverse_util.flatten_dict(restored['params'], sep='/')
    name = sorted(k for k in flat if k.endswith('kernel'))[0]
    flat[name] = np.array(flat[name])
    flat[name][(0,) * flat[name].ndim] = np.nan
    restored['params'] = traverse_util.unflatten_dict(flat, sep='/')
    flax_checkpoints.save_checkpoint(workdir, restored, 1)
    config = diverging_config()
    config.trainer_name = 'mone_evaluator'
    config.eval_from = {'checkpoint_path': workdir}
    with self.assertRaisesRegex(
        checkpoints.CheckpointError, r'\(step 1\) is damaged: parameter '
        f'{re.escape(name)} holds 1 NaN/inf'):
      run(trainer.evaluate, config, os.path.join(self.tmp.name, 'eval'))


class ScenicConfigFaultsTest(absltest.TestCase):
  """Bad configs and data dirs fail early, naming the key or the dir."""

  def _main(self, config):
    with tempfile.TemporaryDirectory() as d:
      main.main(rng=jax.random.PRNGKey(0), config=config, workdir=d,
                writer=metric_writers.LoggingWriter())

  def test_missing_fields_named(self):
    for key, regex in (
        ('batch_size', r"missing \['batch_size'\]"),
        ('model_name', r"missing \['model_name'\]"),
        ('lr_configs', r"missing \['lr_configs'\]"),
        ('num_training_steps', r"missing \['num_training_steps or "
         r"num_training_epochs'\]"),
        ('dataset_configs', r"missing \['dataset_configs'\]"),
    ):
      with self.subTest(key):
        config = diverging_config()
        del config[key]
        with self.assertRaisesRegex(ValueError, regex):
          self._main(config)

  def test_missing_data_dir_named(self):
    with tempfile.TemporaryDirectory() as d:
      config = diverging_config()
      config.dataset_configs.data_dir = d
      with self.assertRaisesRegex(
          FileNotFoundError, f'^Data set fashion_mnist_local is not built in '
          f'{d}: run `make data`'):
        train_utils.get_dataset(config, jax.random.PRNGKey(0))

  def test_bad_values_named(self):
    for key, value, regex in (
        ('batch_size', 0, r'config.batch_size=0 is not allowed'),
        ('num_training_steps', -1, r'config.num_training_steps=-1 '),
        ('lr_configs.base_learning_rate', float('nan'),
         r'config.lr_configs.base_learning_rate=nan '),
        ('model.num_heads', 3, r'config.model.width=32 is not divisible by '
         r'config.model.num_heads=3'),
    ):
      with self.subTest(key):
        config = diverging_config()
        *parents, name = key.split('.')
        node = config
        for p in parents:
          node = node[p]
        node[name] = value
        with self.assertRaisesRegex(ValueError, regex):
          self._main(config)


if __name__ == '__main__':
  absltest.main()
