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

"""Scenic's vocabulary for bf16: `config.model_dtype_str = 'bfloat16'`.

The MoNE ViViT (Scenic's field names) and the MoNE ViT with Big Vision's
field names both build in bf16 from it, and a few steps of the project's
trainer (`projects/mone/trainer.py`, the real Scenic loop) run with finite
losses and an evaluation at every budget.
"""

import os
import tempfile

import projects
projects.skip_without_scenic()

from absl.testing import absltest
import ml_collections
import numpy as np

from projects.mone import main
from projects.mone import model as model_lib
from projects.mone import trainer
from tests import scenic_test_util as stu


class ScenicBf16Test(absltest.TestCase):

  def test_model_dtype_str_sets_the_matmul_dtype(self):
    config = stu.tiny_image_config(2)  # Big Vision's field names.
    config.model_dtype_str = 'bfloat16'
    self.assertEqual(model_lib.vit_module(config, 10).dtype_mm, 'bfloat16')
    config.model.dtype_mm = 'bfloat16'  # Both, agreeing: fine.
    self.assertEqual(model_lib.vit_module(config, 10).dtype_mm, 'bfloat16')
    config.model.dtype_mm = 'float32'
    with self.assertRaisesRegex(ValueError, 'disagree'):
      model_lib.vit_module(config, 10)
    scenic = ml_collections.ConfigDict(dict(  # Scenic's field names.
        model=dict(hidden_size=32, num_layers=1, mlp_dim=64, num_heads=2,
                   patches={'size': (4, 4)}, classifier='gap'),
        model_dtype_str='bfloat16'))
    self.assertEqual(model_lib.vit_module(scenic, 10).dtype_mm, 'bfloat16')

  def test_bf16_video_training_runs_through_the_trainer(self):
    config = stu.tiny_video_config(4)
    config.model_dtype_str = 'bfloat16'
    with tempfile.TemporaryDirectory() as tmp:
      writer, (_, _, eval_summary) = stu.run(trainer.train, config,
                                             os.path.join(tmp, 'video'))
      dataset_meta = {'num_classes': 2, 'input_shape': (-1, 4, 32, 32, 1)}
      model = main.get_model_cls(config.model_name)(config, dataset_meta)
    self.assertEqual(model.flax_model.dtype_mm, 'bfloat16')
    losses = list(writer.scalars['train_loss'].values())
    self.assertTrue(np.all(np.isfinite(losses)), losses)
    self.assertEqual(max(writer.scalars['train_loss']), 4)
    for name in ('ec0.3', 'ec1'):
      self.assertBetween(eval_summary[f'accuracy_{name}'], 0.0, 1.0)


if __name__ == '__main__':
  absltest.main()
