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


def vivit_b16x2_fe(config, *, e_c, classifier='token'):
  """ViViT-FE-B/16x2 with MoNE fields (Scenic's ViViT config names)."""
  config.model_name = 'mone_vivit_classification'
  config.model = ml_collections.ConfigDict()
  config.model.hidden_size = 768
  config.model.attention_config = ml_collections.ConfigDict()
  config.model.attention_config.type = 'factorized_encoder'
  config.model.patches = ml_collections.ConfigDict()
  config.model.patches.size = (16, 16, 2)
  config.model.spatial_transformer = ml_collections.ConfigDict()
  config.model.spatial_transformer.num_heads = 12
  config.model.spatial_transformer.mlp_dim = 3072
  config.model.spatial_transformer.num_layers = 12
  config.model.temporal_transformer = ml_collections.ConfigDict()
  config.model.temporal_transformer.num_heads = 12
  config.model.temporal_transformer.mlp_dim = 3072
  config.model.temporal_transformer.num_layers = 4
  config.model.representation_size = None
  config.model.classifier = classifier
  config.model.attention_dropout_rate = 0.0
  config.model.dropout_rate = 0.0
  config.model.temporal_encoding_config = ml_collections.ConfigDict()
  config.model.temporal_encoding_config.method = '3d_conv'
  config.model.temporal_encoding_config.kernel_init_method = (
      'central_frame_initializer')
  config.model.num_experts = 4
  config.model.e_c = e_c
  config.model.capacity_method = 'mone'
  config.model.router_type = 'learned'
  config.model_dtype_str = 'float32'


def mone_block(config, arg, eval_e_c):
  config.trainer_name = 'mone_trainer'
  config.mone = ml_collections.ConfigDict()  # See mone_plugin/budgets.py.
  if arg.e_c_grid:  # Else the model's e_c.
    config.mone.train_e_c_grid = tuple(
        float(v) for v in filter(None, arg.e_c_grid.split('/')))
  config.mone.eval_e_c = eval_e_c if arg.e_c is not None else (None,)
  config.mone.num_routing_maps = 4


def iso_flops_epochs(config, arg, epochs):
  """Epochs of MoNE whose training FLOPs equal `epochs` of the dense ViViT."""
  d = config.dataset_configs
  return epochs * common.iso_flops_scale(
      config, arg, num_frames=d.num_frames, image_size=d.crop_size,
      num_classes=d.num_classes)


def init_from_nested(config, arg, positional_embed_size_change):
  """ViViT's `init_from` block, from a nested (or plain) ViT checkpoint."""
  config.init_from = ml_collections.ConfigDict()
  config.init_from.checkpoint_path = arg.init or None
  config.init_from.checkpoint_format = arg.init_format
  config.init_from.model_config = ml_collections.ConfigDict()
  config.init_from.model_config.model = ml_collections.ConfigDict()
  config.init_from.model_config.model.classifier = 'token'
  config.init_from.restore_positional_embedding = True
  config.init_from.restore_input_embedding = True
  config.init_from.positional_embed_size_change = positional_embed_size_change


def get_config(arg=None):
  """Returns the Kinetics-400 MoNE ViViT config."""
  arg = common.parse_arg(arg, e_c=0.4, e_c_grid='', init='',
                         init_format='scenic', iso_flops=True)
  config = ml_collections.ConfigDict()
  config.experiment_name = 'mone_vivit_b16x2_kinetics400'

  config.dataset_name = 'video_tfrecord_dataset'
  config.data_dtype_str = 'float32'
  config.dataset_configs = ml_collections.ConfigDict()
  config.dataset_configs.base_dir = '/path/to/dataset'
  config.dataset_configs.tables = {
      'train': 'train.tfrecord@1024',
      'validation': 'validation.tfrecord@1024',
      'test': 'test.tfrecord@1024',
  }
  config.dataset_configs.examples_per_subset = {
      'train': KINETICS_400_TRAIN_SIZE,
      'validation': KINETICS_400_VAL_SIZE,
      'test': KINETICS_400_TEST_SIZE,
  }
  config.dataset_configs.num_classes = 400
  config.dataset_configs.num_frames = 32
  config.dataset_configs.stride = 2
  config.dataset_configs.min_resize = 256
  config.dataset_configs.crop_size = 224
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
  aug.do_color_augment = True
  aug.prob_color_augment = 0.8
  aug.prob_color_drop = 0.1
  config.dataset_configs.prefetch_to_device = 2

  vivit_b16x2_fe(config, e_c=arg.e_c)
  mone_block(config, arg, EVAL_E_C)

  config.optimizer = 'momentum'
  config.optimizer_configs = ml_collections.ConfigDict()
  config.l2_decay_factor = 0
  config.max_grad_norm = 1
  config.label_smoothing = None
  config.num_training_epochs = iso_flops_epochs(config, arg, 30)
  config.batch_size = 64
  config.rng_seed = 0
  init_from_nested(config, arg, 'tile')

  steps_per_epoch = KINETICS_400_TRAIN_SIZE // config.batch_size
  total_steps = int(config.num_training_epochs * steps_per_epoch)
  config.lr_configs = ml_collections.ConfigDict()
  config.lr_configs.learning_rate_schedule = 'compound'
  config.lr_configs.factors = 'constant * cosine_decay * linear_warmup'
  config.lr_configs.warmup_steps = int(2.5 * steps_per_epoch)
  config.lr_configs.steps_per_cycle = total_steps
  config.lr_configs.base_learning_rate = 5e-2

  config.write_summary = True
  config.checkpoint = True
  config.debug_train = False
  config.debug_eval = False
  config.checkpoint_steps = 1000
  config.log_summary_steps = 100
  return config
