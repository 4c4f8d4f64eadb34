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

"""The Scenic MoNE trainers on the local data: losses fall, eval, resume.

Runs the real Scenic loop (`projects/mone/trainer.py`) on the local TFDS data
(built on first use by `mone_plugin.data.prepare`) with tiny models.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile

import projects
projects.skip_without_scenic()

from absl.testing import absltest

from mone_plugin.data import prepare
from projects.mone import main
from projects.mone import train_utils as mone_train_utils
from projects.mone import trainer
from tests import scenic_test_util as stu


def first_and_last(series):
  """Values at the first and the last step of a summary series."""
  return series[min(series)], series[max(series)]


class TrainersTest(stu.TempDirTestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    # Nested pretraining, whose checkpoint the video tests start from.
    cls.nested_dir = os.path.join(cls.tmp, 'nested')
    cls.nested_writer, _ = stu.run(trainer.train_nested,
                                   stu.tiny_image_config(12), cls.nested_dir)

  def test_nested_pretraining_losses_fall_at_every_granularity(self):
    scalars = self.nested_writer.scalars
    for i in range(4):
      # Evaluated after step 1 and after the last step, on the same data.
      first, last = first_and_last(scalars[f'valid_loss_expert{i}'])
      self.assertLess(last, first - 0.02, f'expert{i}: {first} -> {last}')
      self.assertIn(f'train_loss_expert{i}', scalars)
    self.assertTrue(os.path.exists(
        os.path.join(self.nested_dir, 'checkpoint_12')))

  def test_mone_training_from_nested_checkpoint(self):
    workdir = os.path.join(self.tmp, 'video')
    config = stu.tiny_video_config(12, f'init={self.nested_dir}')
    # 16 clips, seen every step: a few steps must fit them (the direction of
    # motion of unseen clips needs many more steps).
    config.dataset_configs.train_split = 'train[:16]'
    writer, (state, _, eval_summary) = stu.run(trainer.train, config, workdir)
    first, last = first_and_last(writer.scalars['train_loss'])
    self.assertLess(last, first - 0.05, f'{first} -> {last}')
    # The router learns to the end. alpha starts at 0 and the warmup's
    # learning rate is 0 at step 1: no router gradient at steps 1 and 2; then
    # every logged window has a non-zero router gradient and alpha in (0, 1).
    grads = writer.scalars['l2_router_grads/SpatialTransformer']
    alphas = writer.scalars['alpha/SpatialTransformer']
    self.assertEqual(max(grads), 12)
    for step in grads:
      if step > 2:
        self.assertGreater(grads[step], 0.0, f'step {step}: {grads}')
        self.assertBetween(alphas[step], 1e-9, 1.0 - 1e-9)
    # Evaluated at both budgets, with GFLOPs growing with e_c.
    self.assertLess(eval_summary['gflops_ec0.3'], eval_summary['gflops_ec1'])
    for name in ('ec0.3', 'ec1'):
      self.assertBetween(eval_summary[f'accuracy_{name}'], 0.0, 1.0)
    # Routing maps (as Big Vision's trainer draws them) below the full model.
    self.assertEqual(writer.images['routing_maps_ec0.3'][12].shape[-1], 3)
    self.assertNotIn('routing_maps_ec1', writer.images)
    self.assertEqual(
        sorted(os.listdir(os.path.join(workdir, 'routing_maps')))[-2:],
        ['step0000012_ec0.3.npz', 'step0000012_ec0.3.png'])
    with open(os.path.join(workdir, 'final_eval.json')) as f:
      self.assertEqual(json.load(f)['step'], 12)
    del state

  def test_sampled_e_c_and_evaluator(self):
    workdir = os.path.join(self.tmp, 'sampled')
    config = stu.tiny_video_config(
        8, f'e_c_grid=0.3/0.6,init={self.nested_dir}')
    config.dataset_configs.label_key = 'garment'
    writer, _ = stu.run(trainer.train, config, workdir)
    # train_e_c is the mean of the sampled e_c since the previous log.
    logged = list(writer.scalars['train_e_c'].values())
    self.assertTrue(all(0.3 <= v <= 0.6 for v in logged), logged)
    self.assertTrue(os.path.exists(os.path.join(workdir, 'checkpoint_8')))
    # Evaluates the trained checkpoint at two budgets, dense included.
    config.trainer_name = 'mone_evaluator'
    config.mone.eval_e_c = (0.25, None)
    config.eval_from = {'checkpoint_path': workdir}
    eval_dir = os.path.join(self.tmp, 'eval')
    _, summary = stu.run(trainer.evaluate, config, eval_dir)
    for name in ('ec0.25', 'dense'):
      self.assertIn(f'accuracy_{name}', summary)
      self.assertIn(f'eval_seconds_{name}', summary)
    self.assertLess(summary['gflops_ec0.25'], summary['gflops_dense'])

  def test_bad_init_checkpoint_and_budgets_fail_clearly(self):
    config = stu.tiny_video_config(2, f'init={self.nested_dir}')
    config.model.hidden_size = 64  # The nested checkpoint has width 32.
    with self.assertRaisesRegex(ValueError, 'does not fit'):
      stu.run(trainer.train, config, os.path.join(self.tmp, 'bad_shape'))
    config = stu.tiny_video_config(2)
    config.mone.eval_e_c = (0.3, 2.0)
    with self.assertRaisesRegex(
        ValueError, r'eval_e_c\[1\]=2.0 is outside the feasible range; '
        r'allowed: a number in \[0.125, 1\]'):
      stu.run(trainer.train, config, os.path.join(self.tmp, 'bad_ec'))
    config = stu.tiny_video_config(2)
    config.init_from.checkpoint_path = os.path.join(self.tmp, 'nothing')
    with self.assertRaisesRegex(ValueError, 'No checkpoint'):
      stu.run(trainer.train, config, os.path.join(self.tmp, 'no_ckpt'))


class BudgetScheduleTest(absltest.TestCase):

  def test_sampled_e_c_depends_only_on_seed_and_step(self):
    config = stu.tiny_video_config(2, 'e_c_grid=0.3/0.6')
    model = main.get_model_cls(config.model_name)(
        config, {'num_classes': 8, 'input_shape': (-1, 8, 32, 32, 1)})
    sample = mone_train_utils.train_budget_fn(config, model)
    draws = [sample(step)[0][1] for step in range(1, 41)]
    self.assertEqual(set(draws), {0.3, 0.6})
    again = mone_train_utils.train_budget_fn(config, model)
    self.assertEqual(draws, [again(step)[0][1] for step in range(1, 41)])
    config.mone.train_e_c_grid = (0.3, 0.01)
    with self.assertRaisesRegex(ValueError, r'train_e_c_grid\[1\]=0.01 is '
                                'outside the feasible range'):
      mone_train_utils.train_budget_fn(config, model)
    # The keys of the one vocabulary: an old one names the new one.
    del config.mone['train_e_c_grid']
    config.mone.train_e_c = 0.3
    with self.assertRaisesRegex(ValueError, r'config\.mone\.train_e_c was '
                                r'renamed: use config\.mone\.e_c'):
      mone_train_utils.train_budget_fn(config, model)


class ResumeTest(absltest.TestCase):
  """A run killed (SIGKILL) after a checkpoint resumes from it."""

  def test_killed_run_resumes_from_checkpoint(self):
    workdir = tempfile.mkdtemp(prefix='scenic_mone_resume_')
    config_file = os.path.join(stu.REPO, 'projects', 'mone', 'configs',
                               'local_nested_pretrain.py')
    data_dir = prepare.ensure_prepared()
    cmd = [sys.executable, '-m', 'projects.mone.main',
           f'--config={config_file}:steps=8', f'--workdir={workdir}',
           '--config.batch_size=16', '--config.eval_batch_size=64',
           '--config.dataset_configs.eval_split=test[:64]',
           f'--config.dataset_configs.data_dir={data_dir}',
           '--config.model.width=32', '--config.model.depth=2',
           '--config.model.mlp_dim=64', '--config.model.num_heads=2',
           '--config.checkpoint_steps=2', '--config.log_eval_steps=100']
    env = {**os.environ, 'PYTHONPATH': stu.REPO}
    # The run SIGKILLs itself right after writing checkpoint 4 (of 8).
    first = subprocess.run(
        cmd, cwd=stu.REPO, capture_output=True, text=True, timeout=600,
        env={**env, 'MONE_TEST_KILL_AFTER_CHECKPOINT': '4'})
    self.assertEqual(first.returncode, -signal.SIGKILL, first.stderr[-3000:])
    steps = sorted(int(n.split('_')[1]) for n in os.listdir(workdir)
                   if n.startswith('checkpoint_') and 'tmp' not in n)
    self.assertEqual(steps, [2, 4])
    second = subprocess.run(cmd, cwd=stu.REPO, env=env, capture_output=True,
                            text=True, timeout=600)
    self.assertEqual(second.returncode, 0, second.stderr[-3000:])
    self.assertIn('Resuming from the checkpoint of step 4', second.stderr)
    self.assertIn('Starting training loop at step 5', second.stderr)
    with open(os.path.join(workdir, 'final_eval.json')) as f:
      self.assertEqual(json.load(f)['step'], 8)


if __name__ == '__main__':
  absltest.main()
