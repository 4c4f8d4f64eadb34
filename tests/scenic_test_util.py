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

"""Helpers of the Scenic tests: configs and runs on the local data.

A test module calls `projects.skip_without_scenic()` before importing this.
"""

import importlib
import os
import shutil
import tempfile

from absl import flags
from absl.testing import absltest
from clu import metric_writers
import jax
import ml_collections
import numpy as np
from scenic.projects.vivit.configs.kinetics400 import vivit_base_factorised_encoder
from scenic.train_lib import train_utils

from mone_plugin import frameworks
from mone_plugin.data import prepare
from projects.mone import main
from projects.mone.configs import local_mone_video
from projects.mone.configs import local_nested_pretrain

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCENIC_CONFIGS = 'scenic.projects.baselines.configs.imagenet.'


class RecordingWriter(metric_writers.LoggingWriter):
  """Scenic's logging writer, keeping the scalars and images written."""

  def __init__(self):
    super().__init__()
    self.scalars, self.images = {}, {}

  def write_scalars(self, step, scalars):
    super().write_scalars(step, scalars)
    for key, value in scalars.items():
      self.scalars.setdefault(key, {})[step] = float(np.asarray(value))

  def write_images(self, step, images):
    super().write_images(step, images)
    for key, value in images.items():
      self.images.setdefault(key, {})[step] = np.asarray(value)


class TempDirTestCase(absltest.TestCase):
  """A class temp dir `cls.tmp` (a path), removed after the class's tests."""
  TMP_PREFIX = 'scenic_mone_'

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.tmp = tempfile.mkdtemp(prefix=cls.TMP_PREFIX)

  @classmethod
  def tearDownClass(cls):
    shutil.rmtree(cls.tmp, ignore_errors=True)
    super().tearDownClass()


def shrink(config, steps, train_split='train[:64]', *,
           eval_split='test[:32]', eval_batch_size=32, checkpoint=None,
           count_flops=None, **data):
  """A run of a few steps on the local data; the recipe is untouched.

  Args:
    config: the config, changed in place.
    steps: training steps (evaluated, logged and checkpointed at the last).
    train_split: the training split of the local data.
    eval_split: its evaluation split.
    eval_batch_size: the evaluation batch.
    checkpoint: `config.checkpoint` (None: the config's).
    count_flops: `config.count_flops` (None: the config's).
    **data: more `dataset_configs` fields.

  Returns:
    The config.
  """
  config.dataset_configs = ml_collections.ConfigDict(dict(
      data_dir=prepare.ensure_prepared(), train_split=train_split,
      eval_split=eval_split, **data))
  config.update(batch_size=16, eval_batch_size=eval_batch_size,
                num_training_epochs=None, num_training_steps=steps,
                log_eval_steps=steps, log_summary_steps=steps,
                checkpoint_steps=steps, xprof=False)
  config.lr_configs.update(warmup_steps=1, steps_per_cycle=steps,
                           total_steps=steps)
  for key, value in (('checkpoint', checkpoint),
                     ('count_flops', count_flops)):
    if value is not None:
      config[key] = value
  return config


def tiny_scenic_vivit_config():
  """Scenic's ViViT-B/16x2 FE config for the MoNE ViViT at e_c 0.5, shrunk.

  Width 32, 1 + 1 layers, tubelets 4x4x2, on the local video data; no
  ViT-B checkpoint to start from. `shrink` it to run.
  """
  config = vivit_base_factorised_encoder.get_config()
  config.model_name = 'mone_vivit_classification'
  config.mone = ml_collections.ConfigDict({'e_c': 0.5,
                                           'num_routing_maps': 0})
  config.model.hidden_size = 32
  config.model.patches.size = (4, 4, 2)
  for t in (config.model.spatial_transformer,
            config.model.temporal_transformer):
    t.update(num_heads=2, mlp_dim=64, num_layers=1)
  config.init_from = ml_collections.ConfigDict()
  config.dataset_name = 'mone_local_video'
  return config


def scenic_config(name):
  """`get_config()` of Scenic's ImageNet config `name` (the pinned checkout)."""
  module = importlib.import_module(SCENIC_CONFIGS + name)
  root = os.path.realpath(frameworks.checkout_dir('scenic'))
  assert os.path.realpath(module.__file__).startswith(root), module.__file__
  return module.get_config()


def run_here(config, steps=2):
  """The overrides needed to run on this machine; the recipe is untouched.

  ViT-B/16 on ImageNet does not fit here: the model shrinks (its fields keep
  their names), the data is the local Fashion-MNIST (Scenic's `imagenet` and
  `bit` inputs need the ImageNet TFDS data), and the run is a few steps.
  """
  config.model.update(hidden_size=32, num_layers=2, mlp_dim=64, num_heads=2)
  if config.model.get('representation_size'):
    config.model.representation_size = 32
  config.model.patches.size = (4, 4)
  config.dataset_name = 'mone_local_images'
  return shrink(config, steps)


def run_main(config, workdir):
  """`projects/mone/main.py`'s `main`, as `python -m` runs it."""
  if not flags.FLAGS.is_parsed():  # Under pytest; absltest parses them.
    flags.FLAGS.mark_as_parsed()
  writer = RecordingWriter()
  main.main(rng=jax.random.PRNGKey(0), config=config, workdir=workdir,
            writer=writer)
  return writer


def tiny(config, steps):
  """Shrinks a local config to a few steps of a tiny model."""
  config.num_training_steps = steps
  config.shuffle_seed = 0
  config.batch_size = 16
  config.eval_batch_size = 64
  config.dataset_configs.eval_split = 'test[:64]'
  config.dataset_configs.data_dir = prepare.ensure_prepared()
  config.log_summary_steps = 2  # Logs steps 1, 3, 5, ... and the last.
  config.log_eval_steps = steps  # Evaluates after step 1 and the last step.
  config.checkpoint_steps = steps
  config.lr_configs.warmup_steps = 1
  config.lr_configs.base_learning_rate = 3e-3
  return config


def tiny_image_config(steps):
  """Nested pretraining (`local_nested_pretrain`) of a tiny ViT."""
  config = tiny(local_nested_pretrain.get_config(), steps)
  config.model.update(dict(width=32, depth=2, mlp_dim=64, num_heads=2))
  return config


def tiny_video_config(steps, arg=None):
  """`local_mone_video` with a tiny ViViT."""
  config = tiny(local_mone_video.get_config(arg), steps)
  config.model.hidden_size = 32
  for t in (config.model.spatial_transformer,
            config.model.temporal_transformer):
    t.update(dict(num_heads=2, mlp_dim=64, num_layers=2))
  config.model.temporal_transformer.num_layers = 1
  config.mone.eval_e_c = (0.3, 1.0)
  return config


def run(train_fn, config, workdir):
  """(writer, result) of `train_fn` (a Scenic trainer) on `config`."""
  writer = RecordingWriter()
  rng = jax.random.PRNGKey(config.rng_seed)
  dataset = train_utils.get_dataset(config, rng)
  model_cls = main.get_model_cls(config.model_name)
  result = train_fn(rng=rng, config=config, model_cls=model_cls,
                    dataset=dataset, workdir=workdir, writer=writer)
  return writer, result
