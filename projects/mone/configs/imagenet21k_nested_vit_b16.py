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

# pylint: disable=line-too-long
r"""Nested (MatViT-style) pretraining of a MoNE ViT-B/16 on ImageNet-21k or -1k.

The checkpoint the video configs start from (`init=` of
`kinetics400_mone_vivit_b16x2.py` and `ssv2_mone_vivit_b16x2.py`): every step
sums the sigmoid losses of the 4 nested models (every token on expert i:
widths 96, 192, 384, 768; `mone_nested_trainer`), in Scenic's ViT
vocabulary (`hidden_size`, `patches`, `classifier='token'`: the parameter
names the ViViT initialisation reads). Model, data and recipe are those of
Scenic's ImageNet ViT configs
(`scenic/projects/baselines/configs/imagenet/imagenet_augreg_vit_config.py`:
Big Transfer input, inception crop, RandAugment, Adam with weight decay,
sigmoid cross-entropy).

  python -m projects.mone.main \
    --config=projects/mone/configs/imagenet21k_nested_vit_b16.py \
    --workdir=/tmp/mone_nested_vit_b16_i21k
  python -m projects.mone.main \
    --config=projects/mone/configs/kinetics400_mone_vivit_b16x2.py:e_c=0.4,init=/tmp/mone_nested_vit_b16_i21k \
    --workdir=/tmp/mone_k400 \
    --config.dataset_configs.base_dir=/path/to/kinetics400_tfrecords

Arguments: `dataset` (`i21k`: ImageNet-21k, 21843 classes, 90 epochs;
`i1k`: ImageNet-1k, 1000 classes, 300 epochs), `epochs` (default: the
dataset's), `batch_size` (4096), `lr` (base learning rate, 1e-3).
"""

import ml_collections

from projects.mone.configs import common

DATASETS = {
    # TFDS name, classes, training images, validation split, epochs.
    'i21k': ('imagenet21k', 21843, 12_743_321, 'full[:102400]', 90),
    'i1k': ('imagenet2012', 1000, 1_281_167, 'validation', 300),
}


def get_config(arg=None):
  """Returns the nested ViT-B/16 pretraining config."""
  arg = common.parse_arg(arg, dataset='i21k', epochs=0, batch_size=4096,
                         lr=1e-3)
  if arg.dataset not in DATASETS:
    raise ValueError(f'dataset={arg.dataset!r} is unknown; allowed: '
                     f'{sorted(DATASETS)}.')
  tfds_name, num_classes, train_size, val_split, epochs = DATASETS[
      arg.dataset]
  config = ml_collections.ConfigDict()
  config.experiment_name = f'mone_nested_vit_b16_{arg.dataset}'

  # Scenic's Big Transfer input, as `imagenet_augreg_vit_config.py`.
  config.dataset_name = 'bit'
  config.data_dtype_str = 'float32'
  d = config.dataset_configs = ml_collections.ConfigDict()
  d.dataset = tfds_name
  d.num_classes = num_classes
  d.train_split = 'full[102400:]' if arg.dataset == 'i21k' else 'train'
  d.val_split = val_split
  onehot = f'onehot({num_classes}, key="label", key_result="labels")'
  d.pp_train = ('decode_jpeg_and_inception_crop(224)|flip_lr|randaug(2, 15)'
                f'|value_range(-1, 1)|{onehot}|keep("image", "labels")')
  d.pp_eval = ('decode|resize_small(256)|central_crop(224)'
               f'|value_range(-1, 1)|{onehot}|keep("image", "labels")')
  d.prefetch_to_device = 2
  d.shuffle_buffer_size = 250_000

  # ViT-B/16 in Scenic's vocabulary, nested in D (4 experts).
  config.model_name = 'mone_vit_multilabel_classification'
  m = config.model = ml_collections.ConfigDict()
  m.hidden_size = 768
  m.patches = ml_collections.ConfigDict({'size': (16, 16)})
  m.num_heads = 12
  m.mlp_dim = 3072
  m.num_layers = 12
  m.representation_size = None
  m.classifier = 'token'
  m.positional_embedding = 'learned_1d'
  m.dropout_rate = 0.0
  m.attention_dropout_rate = 0.0
  m.stochastic_depth = 0.1
  m.num_experts = 4
  m.e_c = 1.0
  config.model_dtype_str = 'float32'

  config.trainer_name = 'mone_nested_trainer'
  config.optimizer = 'adamw'
  config.optimizer_configs = ml_collections.ConfigDict()
  config.optimizer_configs.beta1 = 0.9
  config.optimizer_configs.beta2 = 0.999
  config.optimizer_configs.weight_decay = 0.1
  config.max_grad_norm = 1.0
  config.label_smoothing = None
  config.num_training_epochs = arg.epochs or epochs
  config.batch_size = arg.batch_size
  config.eval_batch_size = 1024
  config.rng_seed = 42
  config.init_head_bias = -10.0

  total_steps = config.num_training_epochs * train_size // config.batch_size
  config.lr_configs = ml_collections.ConfigDict()
  config.lr_configs.learning_rate_schedule = 'compound'
  config.lr_configs.factors = 'constant*linear_warmup*linear_decay'
  config.lr_configs.total_steps = total_steps
  config.lr_configs.steps_per_cycle = total_steps
  config.lr_configs.end_learning_rate = 1e-5
  config.lr_configs.warmup_steps = 10_000
  config.lr_configs.base_learning_rate = arg.lr

  config.xprof = False
  common.bookkeeping(config, checkpoint_steps=5000, log_eval_steps=5000)
  config.mone = ml_collections.ConfigDict()
  config.mone.num_routing_maps = 0
  return config
