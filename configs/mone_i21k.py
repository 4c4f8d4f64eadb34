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
r"""MoNE ViT-S/16, B/16, L/16 on ImageNet-21k: the paper's image setup.

AugReg recipe (https://arxiv.org/abs/2106.10270, Big Vision's
`configs/vit_i21k.py`), from scratch: 300 epochs, batch 4096, sigmoid
cross-entropy with head bias -10, Adam (bf16 first moment), clip 1.0, lr 1e-3,
cosine with 10k warmup steps, weight decay 1e-4 on kernels; RandAugment and
mixup by size: S/16 (2,0)/0, B/16 (2,10)/0.2, L/16 (2,15)/0.5. Evaluated with
precision@1 at every budget in `eval_e_c`.

  python -m mone_plugin.big_vision.train \
      --config configs/mone_i21k.py:variant=B/16,e_c=0.5 --workdir gs://...

Arguments:
  variant=B/16      S/16, B/16 or L/16 (Ti/16 too: no augmentation);
  e_c=0.5           effective capacity (default 0.5);
  gflops=8.8        instead of e_c: a GFLOPs-per-image budget;
  grid=0.15;0.25    instead of e_c: e_c drawn at every step (adaptive);
  dense             the dense ViT baseline;
  iso_flops         train longer, to the dense baseline's training FLOPs;
  nested            MatViT-style nested pretraining (nested in D): every
                    step sums the losses of the 4 nested models (every token
                    on expert i, widths D/8 .. D), each evaluated as its own
                    model (`val_expert0/prec@1` .. `val_expert3/prec@1`);
                    class-token pooling, as the ViViT video configs;
  eval_e_c=0.3;0.5  the budgets evaluated (default: the training ones; with
                    nested, besides the nested models);
  epochs=300        training epochs (90 in FlexiViT);
  runlocal          small batches and splits, for a quick local run.

Needs the `imagenet21k` TFDS data set (not public; see vit_i21k.py).

Nested pretraining gives the image checkpoint that the Kinetics-400 and
SSv2 MoNE ViViT configs start from (`init=`, `init_format=big_vision`):

  python -m mone_plugin.big_vision.train \
      --config configs/mone_i21k.py:variant=B/16,nested \
      --workdir gs://.../mone_nested_b16
  python -m projects.mone.main \
      --config=projects/mone/configs/kinetics400_mone_vivit_b16x2.py:e_c=0.4,init=gs://.../mone_nested_b16/checkpoint.bv,init_format=big_vision \
      --workdir=/tmp/mone_k400 \
      --config.dataset_configs.base_dir=/path/to/kinetics400_tfrecords
"""

import big_vision.configs.common as bvcc
import ml_collections as mlc

# Per size: (RandAugment, mixup p), from the AugReg paper (Steiner et al.,
# 2021), Fig. 4, as in Big Vision's configs/vit_i21k.py.
AUG = {
    'Ti/16': ('', 0.0),
    'S/16': ('randaug(2,0)', 0.0),
    'B/16': ('randaug(2,10)', 0.2),
    'L/16': ('randaug(2,15)', 0.5),
}


def _floats(s):
  return tuple(float(x) for x in s.split(';') if x)


def mone_section(arg, default_e_c=None, default_gflops=None):
  """config.mone (see mone_plugin/budgets.py) from the common arguments.

  Shared with mone_i1k_ti16.py.

  Args:
    arg: the parsed config arguments (dense, e_c, gflops, grid, eval_e_c,
      iso_flops and, if it has one, nested).
    default_e_c: the training e_c when none of e_c, gflops, grid is given.
    default_gflops: instead of default_e_c, a GFLOPs-per-image budget.
  """
  mone = mlc.ConfigDict()
  nested = arg.get('nested', False)
  if arg.dense:
    mone.e_c = None
  else:  # Given together, nested, e_c, gflops and grid fail in the trainer.
    if nested:
      mone.nested = True
    if arg.e_c is not None:
      mone.e_c = arg.e_c
    if arg.gflops is not None:
      mone.gflops = arg.gflops
    if arg.grid:
      mone.train_e_c_grid = _floats(arg.grid)
    if not {'e_c', 'gflops', 'train_e_c_grid', 'nested'} & set(mone):
      if default_gflops is not None:
        mone.gflops = default_gflops
      else:
        mone.e_c = default_e_c
  mone.eval_e_c = _floats(arg.eval_e_c) or None
  mone.iso_flops = arg.iso_flops
  # A nested model puts every token on one expert: nothing to draw.
  mone.num_routing_maps = 0 if arg.dense or nested else 8
  mone.routing_maps_steps = 10_000
  return mone


def get_config(arg=None):
  """Config for MoNE pre-training on ImageNet-21k."""
  arg = bvcc.parse_arg(
      arg, variant='B/16', e_c=(None, float), gflops=(None, float), grid='',
      dense=False, iso_flops=False, nested=False, eval_e_c='', epochs=300,
      runlocal=False)
  if arg.variant not in AUG:
    raise ValueError(f'variant={arg.variant!r}; allowed: {sorted(AUG)}.')
  randaug, mixup_p = AUG[arg.variant]
  config = mlc.ConfigDict()

  config.seed = 0
  config.total_epochs = arg.epochs
  config.num_classes = 21843
  config.init_head_bias = -10.0
  config.loss = 'sigmoid_xent'

  config.input = dict()
  config.input.data = dict(name='imagenet21k', split='full[51200:]')
  config.input.batch_size = 4096
  config.input.shuffle_buffer_size = 250_000

  pp_common = ('|value_range(-1, 1)|onehot(21843)'
               '|keep("image", "labels")')
  config.input.pp = ('decode_jpeg_and_inception_crop(224)|flip_lr'
                     + (f'|{randaug}' if randaug else '') + pp_common)
  pp_eval = 'decode|resize_small(256)|central_crop(224)' + pp_common
  config.pp_modules = ['ops_general', 'ops_image', 'archive.randaug']
  config.input.prefetch = 8
  config.prefetch_to_device = 4

  config.log_training_steps = 50
  config.ckpt_steps = 1000

  config.model_name = 'proj.mone.vit'
  config.model = dict(variant=arg.variant,
                      pool_type='tok' if arg.nested else 'gap',
                      posemb='learn', num_experts=4)
  config.mone = mone_section(arg, default_e_c=0.5)

  config.optax_name = 'scale_by_adam'
  config.optax = dict(mu_dtype='bfloat16')
  config.grad_clip_norm = 1.0
  config.lr = 0.001
  config.wd = 0.0001
  config.schedule = dict(warmup_steps=10_000, decay_type='cosine')
  config.mixup = dict(p=mixup_p, fold_in=None)

  def eval_i21k(split):
    return dict(type='classification',
                data={**config.input.data, 'split': split},
                pp_fn=pp_eval, loss_name=config.loss, log_steps=1000)
  config.evals = {}
  config.evals.test = eval_i21k('full[:25_600]')
  config.evals.val = eval_i21k('full[25_600:51_200]')
  config.evals.train = eval_i21k('full[51_200:76_800]')

  if arg.runlocal:
    config.input.shuffle_buffer_size = 10
    config.input.batch_size = 8
    config.total_epochs = None
    config.total_steps = 10
    config.schedule.warmup_steps = 2
    for e in config.evals.values():
      e.data.split = e.data.split.split('[')[0] + '[:16]'

  return config
