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

r"""Nested joint pretraining of a small MoNE ViT on local Fashion-MNIST.

Every step sums the losses of the 4 nested granularities (every token on
expert i, i = 1..4: widths D/8 .. D). The checkpoint initialises the video
model of `local_mone_video.py`.

  python -m projects.mone.main \
    --config=projects/mone/configs/local_nested_pretrain.py \
    --workdir=/tmp/mone/nested

Arguments (after ':', e.g. `:steps=2000,width=128,depth=6`): `steps`
(800), `width` (64), `depth` (4), `mlp_dim` (256), `num_heads` (4), `lr`
(base learning rate, 2e-3), `batch_size` (64). The paper-scale recipe is
`imagenet21k_nested_vit_b16.py`.
"""

import ml_collections

from projects.mone.configs import common


def get_config(arg=None):
  """Returns the nested pretraining config."""
  arg = common.parse_arg(arg, steps=800, width=64, depth=4, mlp_dim=256,
                         num_heads=4, lr=2e-3, batch_size=64)
  config = ml_collections.ConfigDict()
  config.experiment_name = 'mone_nested_pretrain_fashion_mnist'

  config.dataset_name = 'mone_local_images'
  config.data_dtype_str = 'float32'
  config.dataset_configs = ml_collections.ConfigDict()
  config.dataset_configs.tfds_name = 'fashion_mnist_local'
  config.dataset_configs.data_dir = common.local_data_dir()
  config.dataset_configs.train_split = 'train'
  config.dataset_configs.eval_split = 'test[:2000]'

  config.model_name = 'mone_vit_classification'
  config.model = ml_collections.ConfigDict()
  config.model.patch_size = (4, 4)
  config.model.width = arg.width
  config.model.depth = arg.depth
  config.model.mlp_dim = arg.mlp_dim
  config.model.num_heads = arg.num_heads
  config.model.pool_type = 'gap'
  config.model.num_experts = 4
  config.model.e_c = 1.0

  config.trainer_name = 'mone_nested_trainer'
  config.optimizer_configs = ml_collections.ConfigDict()
  config.optimizer_configs.optimizer = 'adam'
  config.optimizer_configs.b1 = 0.9
  config.optimizer_configs.b2 = 0.999
  config.max_grad_norm = 1.0
  config.label_smoothing = None
  config.batch_size = arg.batch_size
  config.eval_batch_size = 500
  config.num_training_steps = arg.steps
  config.rng_seed = 0
  common.cosine_lr(config, base_lr=arg.lr, warmup_steps=100)

  common.bookkeeping(config, checkpoint_steps=200,
                     log_eval_steps=max(arg.steps // 2, 1))
  config.count_flops = False
  config.xprof = False
  config.mone = ml_collections.ConfigDict()
  config.mone.num_routing_maps = 0
  return config
