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

r"""MoNE ViViT-FE on local Moving Fashion-MNIST, from a nested checkpoint.

The video model's spatial transformer is initialised from the nested
pretraining of `local_nested_pretrain.py` (ViViT's surgery: tubelet kernel
inflation, position embedding resized from 7x7 to 8x8); the label of a clip is
the direction in which its garment moves, which no single frame shows.

  python -m projects.mone.main \
    --config=projects/mone/configs/local_mone_video.py:init=/tmp/mone/nested \
    --workdir=/tmp/mone/video

Arguments (after ':', comma-separated): `init=<nested workdir>` ('' trains
from scratch), `e_c=<float>` (training budget, default 0.4; `none` trains the
dense ViViT baseline), `e_c_grid=<a/b/c>` (sample e_c per step from these),
`steps=<int>` (the dense ViViT's steps, default 800), `iso_flops` (default
true, the paper's video protocol: MoNE trains steps x dense GFLOPs / MoNE
GFLOPs, so that it costs the dense ViViT's training FLOPs; `iso_flops=false`:
the same steps).
"""

import ml_collections

from mone_plugin.data import moving_fashion_mnist
from projects.mone.configs import common
from projects.mone.configs import local_nested_pretrain

def get_config(arg=None):
  """Returns the local MoNE video config."""
  arg = common.parse_arg(arg, init='', e_c=0.4, e_c_grid='', steps=800,
                         iso_flops=True)
  image = local_nested_pretrain.get_config()
  config = ml_collections.ConfigDict()
  config.experiment_name = 'mone_vivit_moving_fashion_mnist'

  config.dataset_name = 'mone_local_video'
  config.data_dtype_str = 'float32'
  config.dataset_configs = ml_collections.ConfigDict()
  config.dataset_configs.tfds_name = 'moving_fashion_mnist'
  config.dataset_configs.data_dir = common.local_data_dir()
  config.dataset_configs.train_split = 'train'
  config.dataset_configs.eval_split = 'test'
  config.dataset_configs.num_frames = moving_fashion_mnist.NUM_FRAMES

  # ViViT-FE with the image model's spatial transformer (tubelets 4x4x2).
  config.model_name = 'mone_vivit_classification'
  config.model = ml_collections.ConfigDict()
  config.model.hidden_size = image.model.width
  config.model.patches = ml_collections.ConfigDict()
  config.model.patches.size = tuple(image.model.patch_size) + (2,)
  config.model.attention_config = ml_collections.ConfigDict()
  config.model.attention_config.type = 'factorized_encoder'
  config.model.spatial_transformer = ml_collections.ConfigDict()
  config.model.spatial_transformer.num_heads = image.model.num_heads
  config.model.spatial_transformer.mlp_dim = image.model.mlp_dim
  config.model.spatial_transformer.num_layers = image.model.depth
  config.model.temporal_transformer = ml_collections.ConfigDict()
  config.model.temporal_transformer.num_heads = image.model.num_heads
  config.model.temporal_transformer.mlp_dim = image.model.mlp_dim
  config.model.temporal_transformer.num_layers = 2
  config.model.representation_size = None
  config.model.classifier = 'token'
  config.model.dropout_rate = 0.0
  config.model.temporal_encoding_config = ml_collections.ConfigDict()
  config.model.temporal_encoding_config.method = '3d_conv'
  config.model.temporal_encoding_config.kernel_init_method = (
      'central_frame_initializer')
  config.model.num_experts = image.model.num_experts
  config.model.e_c = arg.e_c
  config.model.capacity_method = 'mone'
  config.model.router_type = 'learned'
  config.model_dtype_str = 'float32'

  config.trainer_name = 'mone_trainer'
  config.mone = ml_collections.ConfigDict()  # See mone_plugin/budgets.py.
  if arg.e_c_grid:  # Else the model's e_c.
    config.mone.train_e_c_grid = tuple(
        float(v) for v in filter(None, arg.e_c_grid.split('/')))
  # The evaluation of `local_mone_eval.py` covers more budgets.
  config.mone.eval_e_c = (arg.e_c, 1.0) if arg.e_c is not None else (None,)
  config.mone.num_routing_maps = 4

  config.optimizer_configs = ml_collections.ConfigDict()
  config.optimizer_configs.optimizer = 'adam'
  config.optimizer_configs.b1 = 0.9
  config.optimizer_configs.b2 = 0.999
  config.max_grad_norm = 1.0
  config.label_smoothing = None
  config.batch_size = 32
  config.eval_batch_size = 200
  config.num_training_steps = int(round(arg.steps * common.iso_flops_scale(
      config, arg, num_frames=moving_fashion_mnist.NUM_FRAMES,
      image_size=moving_fashion_mnist.CANVAS,
      num_classes=len(moving_fashion_mnist.DIRECTIONS), channels=1)))
  config.rng_seed = 0
  common.cosine_lr(config, base_lr=1e-3, warmup_steps=50)

  config.init_from = ml_collections.ConfigDict()
  config.init_from.checkpoint_path = arg.init or None
  config.init_from.checkpoint_format = 'scenic'
  config.init_from.model_config = ml_collections.ConfigDict()
  config.init_from.model_config.model = ml_collections.ConfigDict()
  config.init_from.model_config.model.classifier = image.model.pool_type
  config.init_from.restore_positional_embedding = True
  config.init_from.restore_input_embedding = True
  config.init_from.positional_embed_size_change = 'resize'

  config.write_summary = True
  config.checkpoint = True
  config.checkpoint_steps = 100
  config.log_summary_steps = 50
  config.log_eval_steps = config.num_training_steps
  config.count_flops = False
  config.xprof = False
  config.debug_train = False
  config.debug_eval = False
  return config
