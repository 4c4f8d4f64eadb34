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
r"""MoNE ViT on local Fashion-MNIST: `make run` and the results page's runs.

A small ViT (width 64, depth 4, patch 4) on Fashion-MNIST resized 28 -> 32 px
(8x8 = 64 tokens), trained with e_c drawn at every step from a grid (the
paper's adaptive training), so that one model serves every budget.

Two recipes (`RECIPES`): `quick`, the default, is what `make run` trains
(1200 steps: about 14 min on 2 CPU cores, 8.4 min of it training, beside a
results run); `recipe=r2` is the recipe of every image run of
docs/results.md (3000 steps, chosen on the validation split; the adaptive
model trained in 13.4 min alone, docs/results/runs/grid_s0.json, so `make
run` with it would take over 20 min). Arguments given one by one override the
recipe's values:

  python -m mone_plugin.data.prepare
  python -m mone_plugin.big_vision.train \
      --config configs/mone_fashion_mnist.py --workdir /tmp/mone_fmnist
  python -m mone_plugin.big_vision.evaluate --workdir /tmp/mone_fmnist

Arguments (`--config configs/mone_fashion_mnist.py:e_c=0.5,steps=500`):
  recipe=r2         the recipe (`RECIPES`: quick, the default, or r2);
  e_c=0.5           train at one fixed budget instead of the grid;
  gflops=0.004      train at the e_c meeting this GFLOPs-per-image budget;
  grid=0.2;0.6;1    the e_c grid sampled at every step (default below);
  dense             the dense ViT baseline (no routing); with width, heads
                    and mlp (e.g. dense,width=32,heads=2,mlp=128) the dense
                    family of the FLOPs axis;
  matvit            the MatViT-style nested baseline (nested in D): every step
                    sums the losses of the 4 nested models (every token on
                    expert i: widths D/8 .. D); each is evaluated as its own
                    model (`test_expert0/prec@1` .. `test_expert3/prec@1`,
                    `gflops_expert0` ..);
  mod               the Mixture-of-Depths baseline: every other block
                    processes only the top mod_capacity (default 0.125) of
                    the tokens by a learned router score; no MoNE routing, so
                    its metrics are `test_dense/prec@1` and `gflops_dense`
                    (the model's own GFLOPs);
  iso_flops         scale the steps to the dense ViT's training FLOPs;
  eval_e_c=0.3;1    budgets the trainer's evaluators run at (default: the
                    training e_c, or the ends of the grid);
  router=random     the paper's random-router ablation (default: learned);
  router_noise=1.0  Gumbel noise on the learned router's logits in training
                    (default 0, the paper's deterministic router);
  capacity=uniform  the capacity distribution: mone (the paper's, default),
                    uniform, proportionate or greedy; uniform and
                    proportionate fix their own e_c (0.469 and 0.708 for 4
                    experts), whatever e_c says;
  seed=1            the seed of the initialisation, routing and e_c sampling;
  steps, batch, lr, wd, warmup, width, depth, heads, mlp: override the
                    recipe's value; scan: scan over the blocks (default);
  res=28            the image side the model sees (default 32: resized from
                    Fashion-MNIST's 28, 8x8 patches of 4 px; 28 keeps the
                    native images, 7x7 patches, 23% fewer tokens);
  noflip            no random left-right flip in training;
  fsdp              FSDP-shard all parameters (e.g. over 8 simulated devices:
                    XLA_FLAGS=--xla_force_host_platform_device_count=8);
  deterministic     seeded, sequential input: a resumed run equals an
                    uninterrupted one;
  data_dir          TFDS data dir (default $MONE_DATA_DIR/tfds, as
                    `mone_plugin.data.prepare` writes it);
  val               tune honestly: train on train[:50000] and evaluate on the
                    held-out train[50000:] (evaluator `val`) instead of test;
  init=PATH         fine-tune from a Big Vision ViT (or MoNE) checkpoint
                    (`model_init`: a tensorstore `checkpoint.bv`, an `.npz`
                    or a Big Vision vanity name) of the same model size; its
                    head is dropped (`model_load`) and trained anew, and the
                    loaded model is evaluated before the first step;
  keep_head         with init: load the head too (same 10 classes);
  stock             for Big Vision's stock trainer (`python -m
                    mone_plugin.big_vision.stock_train`): the budget is the
                    model's `config.model.e_c` (e_c, default 1, or dense);
                    gflops, grid, eval_e_c, iso_flops and matvit stay in
                    config.mone, where that trainer refuses them;
  runlocal          10 steps of a 2-layer model on small splits (smoke test).

Fine-tuning and the stock trainer (see configs/mone_finetune.py for ImageNet):

  python -m mone_plugin.big_vision.train --workdir /tmp/mone_ft \
      --config configs/mone_fashion_mnist.py:init=/tmp/vit/checkpoint.bv,e_c=0.5
  python -m mone_plugin.big_vision.stock_train --workdir /tmp/mone_stock \
      --config configs/mone_fashion_mnist.py:stock,e_c=0.5
"""

import os

import big_vision.configs.common as bvcc
import ml_collections as mlc

DEFAULT_GRID = '0.2;0.4;0.6;0.8;1.0'
# The recipes, written as literals: `experiments/results/plan.py` reads them
# without importing Big Vision. r2: see the plan's comment on how it was
# chosen; quick: the same model and optimiser in 1200 steps.
RECIPES = {
    'quick': {'steps': 1200, 'batch': 128, 'lr': 0.006, 'wd': 0.0001,
              'warmup': 100, 'width': 64, 'depth': 4, 'heads': 4,
              'mlp': 256},
    'r2': {'steps': 3000, 'batch': 128, 'lr': 0.006, 'wd': 0.0001,
           'warmup': 200, 'width': 64, 'depth': 4, 'heads': 4, 'mlp': 256},
}
DEFAULT_RECIPE = 'quick'
_RECIPE_TYPES = {'lr': float, 'wd': float}


def _floats(s):
  return tuple(float(x) for x in s.split(';') if x)


def default_data_dir():
  root = os.environ.get('MONE_DATA_DIR') or os.path.join('~', 'mone_data')
  return os.path.join(os.path.abspath(os.path.expanduser(root)), 'tfds')


def get_config(arg=None):
  """Config for MoNE on Fashion-MNIST."""
  arg = bvcc.parse_arg(
      arg, e_c=(None, float), gflops=(None, float), grid=DEFAULT_GRID,
      dense=False, iso_flops=False, eval_e_c='', recipe=DEFAULT_RECIPE,
      router='learned', capacity='mone', seed=0, scan=True,
      **{k: (None, _RECIPE_TYPES.get(k, int))
         for k in RECIPES[DEFAULT_RECIPE]},
      fsdp=False, deterministic=False, data_dir='', val=False,
      router_noise=0.0, matvit=False, mod=False, mod_capacity=0.125,
      res=32, noflip=False, init='', keep_head=False, stock=False,
      runlocal=False)
  if arg.recipe not in RECIPES:
    raise ValueError(f'recipe={arg.recipe!r} is unknown; allowed: '
                     f'{", ".join(RECIPES)}.')
  # The recipe, with the values given one by one.
  r = {k: v if arg[k] is None else arg[k]
       for k, v in RECIPES[arg.recipe].items()}
  if arg.res < 4 or arg.res % 4:
    raise ValueError(f'res={arg.res} is not a multiple of the patch size 4 '
                     '(allowed: 28, the native side, 32, ...).')
  if arg.mod and (arg.matvit or arg.e_c is not None or arg.gflops is not None
                  or arg.iso_flops):
    raise ValueError('mod is the Mixture-of-Depths ViT, which has no MoNE '
                     'budget: do not combine it with matvit, e_c, gflops or '
                     'iso_flops.')
  config = mlc.ConfigDict()

  config.seed = arg.seed
  # runlocal changes the recipe's steps and batch, not given values.
  config.total_steps = 10 if arg.runlocal and arg.steps is None else r['steps']
  config.num_classes = 10
  config.loss = 'softmax_xent'

  data_dir = arg.data_dir or default_data_dir()
  config.input = dict()
  # `val` holds the last 10,000 training images out (docs/method.md §5: tune on a
  # validation split of the training data, report test once).
  config.input.data = dict(
      name='fashion_mnist_local',
      split='train[:50000]' if arg.val else 'train', data_dir=data_dir)
  config.input.batch_size = (16 if arg.runlocal and arg.batch is None
                             else r['batch'])
  config.input.shuffle_buffer_size = 10_000 if not arg.runlocal else 100
  pp_common = ('|value_range(-1, 1)|onehot(10, key="label", key_result="labels")'
               '|keep("image", "labels")')
  # resize(28) keeps the native images (and gives the pipeline its static
  # shape, which the budget check needs).
  resize = f'|resize({arg.res})'
  config.input.pp = ('decode(channels=1)' + resize +
                     ('' if arg.noflip else '|flip_lr') + pp_common)
  config.pp_modules = ['ops_general', 'ops_image']
  config.input.prefetch = 4
  config.prefetch_to_device = 2
  if arg.deterministic:  # Same batches after a resume: seeded, sequential.
    config.input.deterministic = True
    config.input.num_parallel_calls = 1
    config.input.tfdata = dict(shuffle_seed=config.seed)

  config.log_training_steps = 50 if not arg.runlocal else 5
  config.ckpt_steps = 500 if not arg.runlocal else 5

  config.model_name = 'proj.mone.vit'
  config.model = dict(
      patch_size=(4, 4), width=r['width'], depth=r['depth'],
      mlp_dim=r['mlp'], num_heads=r['heads'], pool_type='gap',
      posemb='learn', num_experts=4, scan=arg.scan,
      capacity_method=arg.capacity, router_type=arg.router)
  if arg.router_noise:
    config.model.router_noise = arg.router_noise
  if arg.mod:  # Its blocks differ (routed or not): no scan.
    config.model.update(mod_capacity=arg.mod_capacity, scan=False, e_c=None)
  if arg.fsdp:  # Shard every parameter, however small, over the devices.
    config.sharding_strategy = [('.*', 'fsdp(axis="data", min_size_to_shard_mb=0)')]

  if arg.init:  # Fine-tuning: Big Vision's `model_init` / `model_load`.
    config.model_init = arg.init
    if not arg.keep_head:  # A new head, zero-initialised.
      config.model_load = dict(dont_load=['head/kernel', 'head/bias'])

  config.mone = dict()  # See mone_plugin/budgets.py.
  if arg.stock:  # big_vision.train trains the model at its e_c, and only so.
    config.model.e_c = None if arg.dense or arg.mod else (
        1.0 if arg.e_c is None else arg.e_c)
    if arg.gflops is not None:
      config.mone.gflops = arg.gflops
    if arg.grid != DEFAULT_GRID:
      config.mone.train_e_c_grid = _floats(arg.grid)
    if arg.eval_e_c:
      config.mone.eval_e_c = _floats(arg.eval_e_c)
    if arg.iso_flops:
      config.mone.iso_flops = True
    if arg.matvit:
      config.mone.nested = True
    if not config.mone:
      del config['mone']
  elif arg.dense or arg.mod:
    config.mone.e_c = None
  elif arg.matvit:  # Eval: the 4 nested models (and eval_e_c, if given).
    config.mone.nested = True
  else:  # Given together, e_c, gflops and grid fail in the trainer.
    if arg.e_c is not None:
      config.mone.e_c = arg.e_c
    if arg.gflops is not None:
      config.mone.gflops = arg.gflops
    if arg.grid and (arg.grid != DEFAULT_GRID or (
        arg.e_c is None and arg.gflops is None)):
      config.mone.train_e_c_grid = _floats(arg.grid)
    if not ({'e_c', 'gflops', 'train_e_c_grid'} & set(config.mone)):
      config.mone.e_c = 1.0
  if not arg.stock:
    config.mone.eval_e_c = _floats(arg.eval_e_c) or None
    if config.mone.get('train_e_c_grid') and not arg.eval_e_c:  # Its ends.
      grid = config.mone.train_e_c_grid
      config.mone.eval_e_c = (min(grid), max(grid))
    config.mone.iso_flops = arg.iso_flops
    # Dense and MoD route nothing; a nested model puts every token on one
    # expert: no map is worth drawing.
    config.mone.num_routing_maps = 0 if (
        arg.dense or arg.mod or arg.matvit) else 16
    config.mone.routing_maps_percent = 0.5

  config.optax_name = 'scale_by_adam'
  config.grad_clip_norm = 1.0
  config.lr = r['lr']
  config.wd = r['wd']
  config.schedule = dict(warmup_steps=r['warmup'] if not arg.runlocal else 2,
                         decay_type='cosine')

  config.evals = {}
  config.evals.test = dict(
      type='classification',
      data=dict(name='fashion_mnist_local', split='test', data_dir=data_dir),
      pp_fn='decode(channels=1)' + resize + pp_common,
      loss_name=config.loss,
      log_percent=0.5,
      skip_first=not arg.init,  # Evaluate a loaded model, not a new one.
      batch_size=1000,  # Few, large batches: faster on CPU.
  )
  if arg.runlocal:  # Tiny: 10 steps of a 2-layer model, 64 test images.
    config.model.depth = min(r['depth'], 2)
    config.evals.test.data.split = 'test[:64]'
  if arg.val:  # The same evaluator on held-out training images only.
    config.evals.val = config.evals.test
    config.evals.val.data.split = (
        'train[50000:50064]' if arg.runlocal else 'train[50000:]')
    del config.evals['test']
    if not arg.stock and config.mone.get('train_e_c_grid') and (
        arg.grid == DEFAULT_GRID):
      config.mone.train_e_c_grid = (0.5, 1.0)

  return config
