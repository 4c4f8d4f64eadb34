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

r"""MoNE ViViT-FE-B/16x2 on Something-Something v2 (the paper's setting).

32 frames at a 256 px crop (the paper's 376.3 GFLOPs dense and 162.8 GFLOPs
at e_c 0.4), ViViT's SSv2 recipe (`scenic/projects/vivit/configs/
something_something_v2/vivit_large_factorised_encoder.py`: scale jitter,
RandAugment (2, 20), mixup 0.3, label smoothing 0.3, stochastic depth
(droplayer) 0.3, 35 epochs of the dense model, isoFLOPs) at Base size, through
Scenic's `video_tfrecord_dataset`, initialised from a nested image
checkpoint; multi-view test evaluation (4 clips x 3 crops).

  python -m projects.mone.main \
    --config=projects/mone/configs/ssv2_mone_vivit_b16x2.py:e_c=0.4,init=/path/to/nested_vit_b16 \
    --workdir=/tmp/mone_ssv2 \
    --config.dataset_configs.base_dir=/path/to/ssv2_tfrecords

Arguments as `kinetics400_mone_vivit_b16x2.py`.
"""

import ml_collections

from projects.mone.configs import common
from projects.mone.configs import kinetics400_mone_vivit_b16x2 as k400

SSV2_TRAIN_SIZE = 168913
SSV2_VAL_SIZE = 24777
EVAL_E_C = k400.EVAL_E_C


def get_config(arg=None):
  """Returns the SSv2 MoNE ViViT config."""
  arg = common.parse_arg(arg, e_c=0.4, e_c_grid='', init='',
                         init_format='scenic', iso_flops=True)
  config = ml_collections.ConfigDict()
  config.experiment_name = 'mone_vivit_b16x2_ssv2'
  table = 'something-something-v2-{}.rgb.tfrecord@128'
  common.video_tfrecord_dataset(
      config,
      tables={'train': table.format('train'),
              'validation': table.format('validation'),
              'test': table.format('validation')},
      examples_per_subset={'train': SSV2_TRAIN_SIZE,
                           'validation': SSV2_VAL_SIZE,
                           'test': SSV2_VAL_SIZE},
      num_classes=174, stride=1, min_resize=288, crop_size=256)
  aug = config.dataset_configs.augmentation_params
  aug.do_color_augment = False
  aug.do_rand_augment = True
  aug.rand_augment_num_layers = 2
  aug.rand_augment_magnitude = 20
  config.mixup = ml_collections.ConfigDict()
  config.mixup.alpha = 0.3

  k400.vivit_b16x2_fe(config, e_c=arg.e_c)
  config.model.stochastic_droplayer_rate = 0.3
  common.mone_block(config, arg, EVAL_E_C)
  # 224 px image checkpoint -> 256 px crops: resize the position embedding.
  common.init_from_image(config, path=arg.init,
                         checkpoint_format=arg.init_format,
                         classifier='token',
                         positional_embed_size_change='resize')

  config.label_smoothing = 0.3
  config.batch_size = 64
  config.rng_seed = 0
  common.vivit_schedule(
      config, train_size=SSV2_TRAIN_SIZE,
      epochs=common.iso_flops_epochs(config, arg, 35), base_lr=0.4,
      checkpoint_steps=500)
  return config
