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

"""Scenic's own ViViT config becomes MoNE by switching `model_name`.

(Scenic's ImageNet ViT configs: `scenic_stock_config_test.py`.)

The config is Scenic's file, unmodified: the test switches `model_name`, adds
`config.mone`, and only shrinks it (model sizes, steps, batch) and points it at
the local data; then the trainer named by the config (`vivit_trainer`
resolves to the MoNE trainer) trains it a few steps.
"""

import tempfile

import projects
projects.skip_without_scenic()

from absl.testing import absltest
from clu import metric_writers
import jax
import numpy as np
from scenic.train_lib import train_utils

from projects.mone import main
from projects.mone import video_model
from tests import scenic_test_util as stu


def train(config):
  rng = jax.random.PRNGKey(0)
  dataset = train_utils.get_dataset(config, rng)
  return main.get_trainer(config.trainer_name)(
      rng=rng, config=config, model_cls=main.get_model_cls(config.model_name),
      dataset=dataset, workdir=tempfile.mkdtemp(prefix='scenic_cfg_'),
      writer=metric_writers.LoggingWriter())


def assert_finite(test, summary):
  for key, value in summary.items():
    test.assertTrue(np.all(np.isfinite(value)), f'{key}={value}')


class ScenicConfigsTest(absltest.TestCase):

  def test_scenic_vivit_factorised_encoder_config(self):
    config = stu.tiny_scenic_vivit_config()  # ViViT-B/16x2 FE, shrunk.
    stu.shrink(config, 2, 'train[:32]', checkpoint=False, count_flops=False)
    self.assertEqual(config.trainer_name, 'vivit_trainer')
    _, _, eval_summary = train(config)
    model = video_model.MoneViViTClassificationModel(
        config, {'num_classes': 8, 'input_shape': (-1, 8, 32, 32, 1)})
    self.assertEqual(model.flax_model.e_c, 0.5)
    self.assertLess(eval_summary['gflops_ec0.5'], model.gflops(1.0))
    assert_finite(self, eval_summary)


if __name__ == '__main__':
  absltest.main()
