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
EVAL_E_C = (0.2, 0.3, 0.4, 0.5, 0.6, 1.0)


def get_config(arg=None):
  """Returns the SSv2 MoNE ViViT config."""
  arg = common.parse_arg(arg, e_c=0.4, e_c_grid='', init='',
                         init_format='scenic', iso_flops=True)
  config = ml_collections.ConfigDict()
  config.experiment_name = 'mone_vivit_b16x2_ssv2'

  config.dataset_name = 'video_tfrecord_dataset'
  config.data_dtype_str = 'float32'
  config.dataset_configs = ml_collections.ConfigDict()
  config.dataset_configs.base_dir = '/path/to/dataset'
  config.dataset_configs.tables = {
      'train': 'something-something-v2-train.rgb.tfrecord@128',
      'validation': 'something-something-v2-validation.rgb.tfrecord@128',
      'test': 'something-something-v2-validation.rgb.tfrecord@128',
  }
  config.dataset_configs.examples_per_subset = {
      'train': SSV2_TRAIN_SIZE,
      'validation': SSV2_VAL_SIZE,
      'test': SSV2_VAL_SIZE,
  }
  config.dataset_configs.num_classes = 174
  config.dataset_configs.num_frames = 32
  config.dataset_configs.stride = 1
  config.dataset_configs.min_resize = 288
  config.dataset_configs.crop_size = 256
  config.dataset_configs.one_hot_labels = True
  config.dataset_configs.zero_centering = True
  config.dataset_configs.do_multicrop_test = True
  config.dataset_configs.log_test_epochs = 5
  config.dataset_configs.num_test_clips = 4
  config.dataset_configs.test_batch_size = 8
  config.dataset_configs.do_three_spatial_crops = True
  config.multicrop_clips_per_device = 2
  aug = config.dataset_configs.augmentation_params = (
      ml_collections.ConfigDict())
  aug.do_jitter_scale = True
  aug.scale_min_factor = 0.9
  aug.scale_max_factor = 1.33
  aug.prob_scale_jitter = 1.0
  aug.do_color_augment = False
  aug.prob_color_augment = 0.8
  aug.prob_color_drop = 0.1
  aug.do_rand_augment = True
  aug.rand_augment_num_layers = 2
  aug.rand_augment_magnitude = 20
  config.dataset_configs.prefetch_to_device = 2
  config.mixup = ml_collections.ConfigDict()
  config.mixup.alpha = 0.3

  k400.vivit_b16x2_fe(config, e_c=arg.e_c)
  config.model.stochastic_droplayer_rate = 0.3
  k400.mone_block(config, arg, EVAL_E_C)

  config.optimizer = 'momentum'
  config.optimizer_configs = ml_collections.ConfigDict()
  config.l2_decay_factor = 0
  config.max_grad_norm = 1
  config.label_smoothing = 0.3
  config.num_training_epochs = k400.iso_flops_epochs(config, arg, 35)
  config.batch_size = 64
  config.rng_seed = 0
  # 224 px image checkpoint -> 256 px crops: resize the position embedding.
  k400.init_from_nested(config, arg, 'resize')

  steps_per_epoch = SSV2_TRAIN_SIZE // config.batch_size
  total_steps = int(config.num_training_epochs * steps_per_epoch)
  config.lr_configs = ml_collections.ConfigDict()
  config.lr_configs.learning_rate_schedule = 'compound'
  config.lr_configs.factors = 'constant * cosine_decay * linear_warmup'
  config.lr_configs.warmup_steps = int(2.5 * steps_per_epoch)
  config.lr_configs.steps_per_cycle = total_steps
  config.lr_configs.base_learning_rate = 0.4

  config.write_summary = True
  config.checkpoint = True
  config.debug_train = False
  config.debug_eval = False
  config.checkpoint_steps = 500
  config.log_summary_steps = 100
  return config
