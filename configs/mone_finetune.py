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
r"""MoNE fine-tuned from a pretrained Big Vision ViT (e.g. AugReg i21k).

Big Vision's transfer recipe (`configs/transfer.py`): the ViT weights come
from `model_init` (an AugReg `.npz`, a Big Vision `checkpoint.bv`, or a
vanity name of `models/vit.py` such as `howto-i21k-B/16`); its head is
dropped (`model_load = dict(dont_load=['head/kernel', 'head/bias'])`) and
trained anew, zero-initialised; the router (absent from a ViT checkpoint)
starts at its init, alpha at 0, so at e_c=1 the loaded model is the ViT.
SGD with momentum, lr 0.03 (ImageNet; 0.003 to 0.01 for the small sets),
clip 1.0, cosine with 500 warmup steps, batch 512; the loaded model is
evaluated before the first step.

AugReg ViT-B/16 (ImageNet-21k) to ImageNet-1k at e_c 0.4:

  python -m mone_plugin.big_vision.train \
      --config configs/mone_finetune.py:init=howto-i21k-B/16,variant=B/16,dataset=imagenet2012,e_c=0.4 \
      --workdir gs://.../mone_ft_b16_i1k_ec0.4

to CIFAR-100, adaptive (e_c drawn from a grid), at 384 px:

  python -m mone_plugin.big_vision.train \
      --config 'configs/mone_finetune.py:init=howto-i21k-B/16,dataset=cifar100,grid=0.2;0.4;0.6;1,res=384' \
      --workdir /tmp/mone_ft_c100 --config.lr=0.01

Arguments:
  init=PATH         the checkpoint (default howto-i21k-B/16);
  variant=B/16      its size; pool=tok its pooling (AugReg: tok);
  dataset=...       imagenet2012 (default), cifar10, cifar100,
                    oxford_iiit_pet, oxford_flowers102;
  res=224           the fine-tuning resolution (position embeddings are
                    resampled to it);
  keep_head         load the head too (a checkpoint of the same classes);
  e_c, gflops, grid, eval_e_c, iso_flops, dense: the budgets, as in
                    mone_i21k.py (default e_c 0.5);
  steps, batch:     override the dataset's;
  runlocal          tiny batches and splits.
"""

import big_vision.configs.common as bvcc
import configs.mone_i21k as mone_i21k
import ml_collections as mlc

# name: (train split, minival split, test split, classes, steps).
DATASETS = {
    'imagenet2012': ('train[:99%]', 'train[99%:]', 'validation', 1000,
                     20_000),
    'cifar10': ('train[:98%]', 'train[98%:]', 'test', 10, 10_000),
    'cifar100': ('train[:98%]', 'train[98%:]', 'test', 100, 10_000),
    'oxford_iiit_pet': ('train[:90%]', 'train[90%:]', 'test', 37, 500),
    'oxford_flowers102': ('train[:90%]', 'train[90%:]', 'test', 102, 500),
}


def get_config(arg=None):
  """Config for fine-tuning MoNE from a Big Vision ViT checkpoint."""
  arg = bvcc.parse_arg(
      arg, init='howto-i21k-B/16', variant='B/16', pool='tok',
      dataset='imagenet2012', res=224, keep_head=False, e_c=(None, float),
      gflops=(None, float), grid='', dense=False, iso_flops=False,
      eval_e_c='', steps=(None, int), batch=512, runlocal=False)
  if arg.dataset not in DATASETS:
    raise ValueError(f'dataset={arg.dataset!r}; allowed: {sorted(DATASETS)}.')
  train, minival, test, n_cls, steps = DATASETS[arg.dataset]
  config = mlc.ConfigDict()

  config.seed = 0
  config.total_steps = arg.steps or steps
  config.num_classes = n_cls
  config.loss = 'softmax_xent'

  config.model_name = 'proj.mone.vit'
  config.model = dict(variant=arg.variant, pool_type=arg.pool,
                      num_experts=4)
  config.model_init = arg.init
  if not arg.keep_head:  # A new head for the new classes.
    config.model_load = dict(dont_load=['head/kernel', 'head/bias'])
  config.mone = mone_i21k.mone_section(arg, default_e_c=0.5)

  pp_common = ('|value_range(-1, 1)'
               f'|onehot({n_cls}, key="label", key_result="labels")'
               '|keep("image", "labels")')
  config.input = dict()
  config.input.data = dict(name=arg.dataset, split=train)
  config.input.batch_size = arg.batch
  config.input.shuffle_buffer_size = 50_000
  config.input.pp = f'decode|inception_crop({arg.res})|flip_lr' + pp_common
  pp_eval = (f'decode|resize_small({arg.res * 8 // 7})'
             f'|central_crop({arg.res})' + pp_common)
  config.pp_modules = ['ops_general', 'ops_image']

  config.log_training_steps = 10
  config.ckpt_steps = 1000

  config.optax_name = 'big_vision.momentum_hp'
  config.grad_clip_norm = 1.0
  config.lr = 0.03
  config.wd = 0.0
  config.schedule = dict(warmup_steps=500, decay_type='cosine')

  def get_eval(split):
    return dict(type='classification',
                data=dict(name=arg.dataset, split=split), pp_fn=pp_eval,
                loss_name=config.loss, log_steps=500)
  config.evals = dict(minival=get_eval(minival), test=get_eval(test))

  if arg.runlocal:
    config.total_steps = arg.steps or 10
    config.input.batch_size = 8
    config.input.shuffle_buffer_size = 10
    config.schedule.warmup_steps = 2
    for e in config.evals.values():
      e.data.split = e.data.split.split('[')[0] + '[:16]'
  return config
