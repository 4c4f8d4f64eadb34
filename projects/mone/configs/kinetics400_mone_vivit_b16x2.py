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

r"""MoNE ViViT-FE-B/16x2 on Kinetics-400 (the paper's setting).

ViViT's factorised encoder, Base, tubelets 16x16x2, 32 frames at a 224 px crop
(the paper's ~283 GFLOPs dense), ViViT's Kinetics recipe and augmentations
(`scenic/projects/vivit/configs/kinetics400/vivit_base_factorised_encoder.py`)
through Scenic's `video_tfrecord_dataset` (needs DMVR), initialised from a
jointly trained nested image checkpoint (`init_from`), with MoNE in the
spatial transformer at effective capacity `e_c`.

  python -m projects.mone.main \
    --config=projects/mone/configs/kinetics400_mone_vivit_b16x2.py:e_c=0.4,init=/path/to/nested_vit_b16 \
    --workdir=/tmp/mone_k400 \
    --config.dataset_configs.base_dir=/path/to/kinetics400_tfrecords

Arguments: `e_c` (training budget; `none`: the dense ViViT baseline),
`e_c_grid` (`a/b/c`: sample e_c per step, the paper's adaptive model),
`init` (image checkpoint directory), `init_format` (`scenic` or
`big_vision`), `iso_flops` (default true: the paper's isoFLOPs fine-tuning,
more epochs at e_c < 1 so that training costs the dense ViViT's FLOPs).
Evaluation as ViViT's: one central clip during training, then the
multi-view test (4 clips x 3 crops, logits averaged per video) after it.
"""

import ml_collections

from projects.mone.configs import common

KINETICS_400_TRAIN_SIZE = 214834
KINETICS_400_VAL_SIZE = 17637
KINETICS_400_TEST_SIZE = 34579
# Budgets every evaluation reports (None: the dense model).
EVAL_E_C = (0.2, 0.3, 0.4, 0.5, 0.6, 1.0)


def vivit_b16x2_fe(config, *, e_c):
  """ViViT-FE-B/16x2 with MoNE fields, as the paper's video models."""
  common.vivit_fe(config, hidden_size=768, patch_size=(16, 16, 2),
                  num_heads=12, mlp_dim=3072, spatial_layers=12,
                  temporal_layers=4, e_c=e_c)


def get_config(arg=None):
  """Returns the Kinetics-400 MoNE ViViT config."""
  arg = common.parse_arg(arg, e_c=0.4, e_c_grid='', init='',
                         init_format='scenic', iso_flops=True)
  config = ml_collections.ConfigDict()
  config.experiment_name = 'mone_vivit_b16x2_kinetics400'
  common.video_tfrecord_dataset(
      config,
      tables={'train': 'train.tfrecord@1024',
              'validation': 'validation.tfrecord@1024',
              'test': 'test.tfrecord@1024'},
      examples_per_subset={'train': KINETICS_400_TRAIN_SIZE,
                           'validation': KINETICS_400_VAL_SIZE,
                           'test': KINETICS_400_TEST_SIZE},
      num_classes=400, stride=2, min_resize=256, crop_size=224)

  vivit_b16x2_fe(config, e_c=arg.e_c)
  common.mone_block(config, arg, EVAL_E_C)
  common.init_from_image(config, path=arg.init,
                         checkpoint_format=arg.init_format,
                         classifier='token',
                         positional_embed_size_change='tile')

  config.label_smoothing = None
  config.batch_size = 64
  config.rng_seed = 0
  common.vivit_schedule(
      config, train_size=KINETICS_400_TRAIN_SIZE,
      epochs=common.iso_flops_epochs(config, arg, 30), base_lr=5e-2,
      checkpoint_steps=1000)
  return config
