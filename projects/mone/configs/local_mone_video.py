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
  common.vivit_fe(config, hidden_size=image.model.width,
                  patch_size=tuple(image.model.patch_size) + (2,),
                  num_heads=image.model.num_heads,
                  mlp_dim=image.model.mlp_dim,
                  spatial_layers=image.model.depth, temporal_layers=2,
                  e_c=arg.e_c, num_experts=image.model.num_experts)
  # The evaluation of `local_mone_eval.py` covers more budgets.
  common.mone_block(config, arg, (arg.e_c, 1.0))

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

  common.init_from_image(
      config, path=arg.init, checkpoint_format='scenic',
      classifier=image.model.pool_type, positional_embed_size_change='resize')

  common.bookkeeping(config, checkpoint_steps=100, log_summary_steps=50,
                     log_eval_steps=config.num_training_steps)
  config.count_flops = False
  config.xprof = False
  return config
