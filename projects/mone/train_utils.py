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


"""Training utilities of the MoNE project: steps, budgets, checks, state.

The pmapped steps of `trainer.py` (train, eval, multi-view test, routing
maps), the budgets of a run (`config.mone`, see `mone_plugin/budgets.py`),
the config checks that run before anything is built, and the train state:
built, resumed from the workdir or initialised from `init_from`.
"""

import json
import os
from typing import Any, Callable, Dict, Sequence, Tuple

from absl import logging
import flax
from flax import jax_utils
import jax
from jax.example_libraries.optimizers import clip_grads
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from scenic.dataset_lib import dataset_utils
from scenic.model_lib.base_models import base_model
from scenic.train_lib import lr_schedules
from scenic.train_lib import optimizers
from scenic.train_lib import pretrain_utils
from scenic.train_lib import train_utils
import tensorflow as tf

from mone_plugin import budgets as budgets_lib
from mone_plugin import checkpoints
from mone_plugin import config_checks
from mone_plugin import router
from mone_plugin import workdir as workdir_lib
from projects.mone import model as mone_model

Batch = Dict[str, jnp.ndarray]
# A named budget: (summary name, budget); see `model.py`.
NamedBudget = Tuple[str, mone_model.Budget]

flax.config.update('flax_use_orbax_checkpointing', False)


################################### Steps ####################################


def replicate(tree, axis_name='batch'):
  """`jax_utils.replicate`, placed as `jax.pmap` places its outputs.

  With JAX >= 0.8 the replicated arrays live on a mesh whose axis is named
  '_device_put_sharded', the pmapped step's outputs on one named after its
  `axis_name`; a step fed its own outputs at step 2 was therefore traced and
  compiled a second time (the same executable, twice the compile time).

  Args:
    tree: the pytree to replicate on the local devices.
    axis_name: the `axis_name` of the pmapped step it goes into.

  Returns:
    The replicated tree, sharded as that step's outputs are.
  """
  mesh = jax.sharding.Mesh(np.array(jax.local_devices()), (axis_name,))
  return jax.device_put(
      jax_utils.replicate(tree), jax.sharding.NamedSharding(
          mesh, jax.sharding.PartitionSpec(axis_name)))


def train_step(
    train_state: train_utils.TrainState,
    batch: Batch,
    *,
    flax_model: Any,
    loss_fn: Callable[..., jnp.ndarray],
    lr_fn: Callable[[jnp.ndarray], jnp.ndarray],
    metrics_fn: base_model.MetricFn,
    config: ml_collections.ConfigDict,
    budgets: Sequence[NamedBudget],
    debug: bool = False,
):
  """One update on the sum of the losses at `budgets` (static).

  With one budget the metrics keep Scenic's names (`accuracy`, `loss`); with
  several (nested pretraining) each gets its budget's name as suffix.

  Args:
    train_state: Replicated train state (donated).
    batch: Batch of this device (donated).
    flax_model: The model's Flax module.
    loss_fn: `loss_fn(logits, batch, params)` of the Scenic model.
    lr_fn: Learning rate schedule, for the logs.
    metrics_fn: `metrics_fn(logits, batch)` of the Scenic model.
    config: Experiment config (mixup, max_grad_norm).
    budgets: Named budgets whose losses are summed.
    debug: Passed to the model.

  Returns:
    New train state, metrics and training logs.
  """
  next_rng, rng = jax.random.split(train_state.rng)
  if config.get('mixup') and config.mixup.get('alpha'):
    mixup_rng, rng = jax.random.split(rng)
    mixup_rng = train_utils.bind_rng_to_host_device(
        mixup_rng, axis_name='batch',
        bind_to=config.mixup.get('bind_to', 'device'))
    batch = dataset_utils.mixup(
        batch, config.mixup.alpha, config.mixup.get('image_format', 'NTHWC'),
        rng=mixup_rng)
  dropout_rng = train_utils.bind_rng_to_host_device(
      rng, axis_name='batch', bind_to='device')

  def total_loss(params):
    variables = {'params': params, **train_state.model_state}

    def loss_at(budget):
      logits, model_state = flax_model.apply(
          variables, batch['inputs'], train=True, budget=budget,
          mutable=['batch_stats'], rngs={'dropout': dropout_rng}, debug=debug)
      return loss_fn(logits, batch, params), (logits, model_state)

    loss, _, out = budgets_lib.joint_loss(loss_at, [b for _, b in budgets])
    logits = {name: lg for name, (lg, _) in out.items()}
    return loss, (list(out.values())[-1][1], logits)

  (_, (model_state, logits)), grad = jax.value_and_grad(
      total_loss, has_aux=True)(train_state.params)
  grad = jax.lax.pmean(grad, axis_name='batch')
  if config.get('max_grad_norm') is not None:
    grad = clip_grads(grad, config.max_grad_norm)
  updates, opt_state = train_state.tx.update(
      grad, train_state.opt_state, train_state.params)
  params = optax.apply_updates(train_state.params, updates)

  norm = lambda tree: jnp.sqrt(sum(  # pylint: disable=g-long-lambda
      jnp.vdot(x, x) for x in jax.tree_util.tree_leaves(tree)))
  logs = {'l2_grads': norm(grad), 'l2_params': norm(params),
          'l2_updates': norm(updates),
          'learning_rate': lr_fn(train_state.global_step)}
  # alpha and the router's gradient: the router learns only through alpha * r.
  logs.update(router.router_metrics(train_state.params, grad))
  metrics = _named_metrics(metrics_fn, logits, batch)
  new_state = train_state.replace(
      global_step=train_state.global_step + 1, opt_state=opt_state,
      params=params, model_state=model_state, rng=next_rng)
  return new_state, metrics, logs


def eval_step(train_state, batch, *, flax_model, metrics_fn,
              budgets: Sequence[NamedBudget], debug=False):
  """Metrics of one batch at every budget (one compiled function)."""
  variables = {'params': train_state.params, **train_state.model_state}
  logits = {name: flax_model.apply(variables, batch['inputs'], train=False,
                                   budget=budget, mutable=False, debug=debug)
            for name, budget in budgets}
  return _named_metrics(metrics_fn, logits, batch, always_suffix=True)


def test_step(train_state, batch, *, flax_model, metrics_fn,
              budgets: Sequence[NamedBudget], num_views: int, debug=False):
  """ViViT's multi-view test: logits averaged over each video's views.

  Scenic's video input (`do_multicrop_test`) puts the `num_views` views
  (clips x spatial crops) of a video next to each other in the batch, with
  the video's label repeated; ViViT averages their logits (as here, at every
  budget, in one compiled function).

  Args:
    train_state: Replicated train state.
    batch: Batch of this device: [videos * num_views, T, H, W, C] inputs.
    flax_model: The model's Flax module.
    metrics_fn: `metrics_fn(logits, batch)` of the Scenic model.
    budgets: Named budgets to evaluate.
    num_views: Views per video.
    debug: Passed to the model.

  Returns:
    Metrics per video at every budget.
  """
  variables = {'params': train_state.params, **train_state.model_state}
  videos = {k: v[::num_views] for k, v in batch.items() if k != 'inputs'}
  logits = {}
  for name, budget in budgets:
    views = flax_model.apply(variables, batch['inputs'], train=False,
                             budget=budget, mutable=False, debug=debug)
    logits[name] = jnp.mean(
        views.reshape(-1, num_views, views.shape[-1]), axis=1)
  return _named_metrics(metrics_fn, logits, videos, always_suffix=True)


def routing_step(train_state, inputs, *, flax_model,
                 budgets: Sequence[NamedBudget]):
  """Expert maps of `inputs` at every budget below the full model."""
  variables = {'params': train_state.params, **train_state.model_state}
  return {name: flax_model.apply(variables, inputs, budget=budget,
                                 method='routing')
          for name, budget in budgets if budgets_lib.draws_routing(budget)}


def _named_metrics(metrics_fn, logits, batch, always_suffix=False):
  if len(logits) == 1 and not always_suffix:
    return metrics_fn(next(iter(logits.values())), batch)
  return {f'{key}_{name}': value for name, lg in logits.items()
          for key, value in metrics_fn(lg, batch).items()}


############################ Budgets and schedule ############################


def run_budgets(config, model) -> budgets_lib.Budgets:
  """`config.mone`, checked and resolved for the model (`budgets_lib`)."""
  return budgets_lib.resolve(
      config.get('mone'), model.flax_model,
      tuple(model.dataset_meta_data['input_shape'][1:]))


def eval_budgets(config, model) -> Tuple[NamedBudget, ...]:
  """The named budgets evaluated by `train` and `evaluate`."""
  return tuple((budgets_lib.name(e), e)
               for e in run_budgets(config, model).eval)


def nested_budgets(model) -> Tuple[NamedBudget, ...]:
  """Every token on expert i, for every i: `expert{i}` (0 = smallest)."""
  return tuple((budgets_lib.name(b), b) for b in
               budgets_lib.nested_budgets(model.num_experts))


def train_budget_fn(config, model) -> Callable[[int], Tuple[NamedBudget]]:
  """Budget of every MoNE training step: fixed, or sampled from a grid.

  The sample depends only on (rng_seed, step) (`budgets_lib.sample_e_c`),
  so a resumed run draws the same budgets as an uninterrupted one.

  Args:
    config: Experiment config; `config.mone.train_e_c_grid` (tuple),
      `config.mone.e_c` or `config.mone.gflops` (default: the model's `e_c`).
    model: The Scenic model.

  Returns:
    A function of the step returning one named budget (name 'train').
  """
  budgets = run_budgets(config, model)
  if budgets.step_scale != 1.0:
    raise ValueError('config.mone.iso_flops=True is not supported by the '
                     'Scenic trainer: scale config.num_training_steps (and '
                     f'the schedule) by {budgets.step_scale:.4g} instead.')
  seed = config.get('rng_seed', 0)
  return lambda step: (('train', budgets.train_e_c(seed, step)),)


############################### Config checks ################################

# Where Scenic's configs keep what `mone_plugin.config_checks` checks.
CONFIG_KEYS = dict(
    batch_size=('batch_size', 'eval_batch_size'), steps='num_training_steps',
    epochs='num_training_epochs', lr='lr_configs.base_learning_rate',
    width=('model.width', 'model.hidden_size'),
    num_heads=('model.num_heads', 'model.spatial_transformer.num_heads',
               'model.temporal_transformer.num_heads'),
    num_experts='model.num_experts')


def check_config(config):
  """Fails on a bad config, naming the key and what is allowed.

  Runs before any data or model is built (`main.py`): required fields, batch
  size, steps, learning rate, widths and heads, and the budgets of
  `config.mone` (`mone_plugin/budgets.py`).

  Args:
    config: The experiment config.
  """
  required, one_of = ['batch_size', 'model_name', 'dataset_configs'], []
  if config.get('trainer_name') != 'mone_evaluator':
    required.append('lr_configs')
    one_of.append(('num_training_steps', 'num_training_epochs'))
  config_checks.check_all(config, CONFIG_KEYS, required, one_of)
  model_cfg = config.get('model') or {}
  budgets_lib.check_config(config.get('mone'),
                            model_cfg.get('num_experts', 4),
                            model_cfg.get('capacity_method', 'mone'))
  check_budget_contract(config)


# Scenic's trainers that build the model from the config and train and
# evaluate it at its e_c, and nothing else (`main.py` registers them).
STOCK_TRAINERS = ('classification_trainer',)
# The trainer that honours every budget key and `init_from`.
BUDGET_TRAINER = 'mone_trainer'


def check_budget_contract(config):
  """Every budget key is honoured by the config's trainer, or refused.

  The model's e_c is decided in one place (`budgets.configured_e_c`:
  `config.model.e_c` or `config.mone.e_c`, an error when they differ), or by
  `config.mone.gflops` when the model is built (`model.at_gflops`), so every
  trainer trains at it. `config.model` holds no budget key but `e_c`.
  Scenic's stock trainers (`STOCK_TRAINERS`) honour `e_c` and `gflops` and
  refuse the others (`train_e_c_grid`, `eval_e_c` other than the model's
  e_c, `iso_flops`, `nested`, routing maps) and `init_from`, naming
  `mone_trainer`, which honours them.

  Args:
    config: The experiment config.

  Raises:
    ValueError: naming the key, the trainer and the one that honours it.
  """
  model_cfg, mone = config.get('model'), config.get('mone')
  budgets_lib.check_model_keys(model_cfg, BUDGET_TRAINER)
  budgets_lib.configured_e_c(model_cfg, mone)  # Two that differ: an error.
  gflops = (mone or {}).get('gflops')
  if gflops is not None and 'e_c' in (model_cfg or {}):
    raise ValueError(
        f'config.model.e_c={model_cfg["e_c"]!r} and config.mone.gflops='
        f'{gflops!r} both set the model\'s e_c: give one of them.')
  trainer = config.get('trainer_name')
  if trainer not in STOCK_TRAINERS:
    return
  if mone is not None:
    rest = {k: v for k, v in mone.items() if k != 'gflops'}
    if gflops is not None and rest.get('eval_e_c'):
      raise ValueError(
          f'config.mone.eval_e_c={rest["eval_e_c"]!r} is not honoured by '
          f'{trainer}, which evaluates only at the e_c of config.mone.gflops. '
          f'Train with {BUDGET_TRAINER}, which honours it, or remove '
          'config.mone.eval_e_c.')
    budgets_lib.check_honoured(rest, model_cfg, trainer=trainer,
                               alternative=BUDGET_TRAINER)
  if config.get('init_from') and config.init_from.get('checkpoint_path'):
    raise ValueError(
        f'config.init_from.checkpoint_path={config.init_from.checkpoint_path!r}'
        f' is not honoured by {trainer}, which initialises no model from a '
        f'checkpoint. Train with {BUDGET_TRAINER}, which honours it (the '
        "model's init_from_train_state), or remove config.init_from.")


############################### The train state ##############################


def restore_init_checkpoint(init_from: ml_collections.ConfigDict):
  """The train state of `init_from.checkpoint_path` (Scenic or Big Vision)."""
  path = init_from.checkpoint_path
  fmt = init_from.get('checkpoint_format', 'scenic')
  if fmt == 'scenic':
    return pretrain_utils.restore_pretrained_checkpoint(path, assert_exist=True)
  if fmt == 'big_vision':
    return pretrain_utils.convert_big_vision_to_scenic_checkpoint(path)
  raise ValueError(f"init_from.checkpoint_format={fmt!r} is unknown; allowed: "
                   "'scenic', 'big_vision'.")


def init_from_checkpoint(train_state, model, init_from):
  """`train_state` initialised from `init_from` by the model's own surgery."""
  if not hasattr(model, 'init_from_train_state'):
    raise ValueError(f'{type(model).__name__} cannot be initialised from a '
                     'checkpoint (no init_from_train_state).')
  restored = restore_init_checkpoint(init_from)
  return model.init_from_train_state(train_state, restored,
                                     init_from.get('model_config'))


def initial_train_state(config, model, dataset, rng, workdir):
  """Builds (or restores, or initialises from `init_from`) the train state."""
  rng, init_rng = jax.random.split(rng)
  params, model_state, num_params, gflops = train_utils.initialize_model(
      model_def=model.flax_model,
      input_spec=[(dataset.meta_data['input_shape'],
                   dataset.meta_data.get('input_dtype', jnp.float32))],
      config=config, rngs=init_rng)
  lr_fn = lr_schedules.get_learning_rate_fn(config)
  tx = optimizers.get_optimizer(
      optimizers.get_optax_optimizer_config(config), lr_fn, params=params)
  opt_state = jax.jit(tx.init, backend='cpu')(params)
  chrono = train_utils.Chrono()
  train_state = train_utils.TrainState(
      global_step=0, opt_state=opt_state, tx=tx, params=params,
      model_state=model_state, rng=rng, metadata={'chrono': chrono.save()})
  start_step = 0
  if config.get('checkpoint'):
    train_state, start_step = train_utils.restore_checkpoint(
        workdir, train_state)
  if start_step:
    # Every parameter and optimizer slot present, with its shape, finite.
    checkpoints.verify(
        {'params': train_state.params, 'opt_state': train_state.opt_state},
        {'params': params, 'opt_state': opt_state}, source=workdir,
        step=start_step)
    logging.info('Resuming from the checkpoint of step %d in %s.', start_step,
                 workdir)
  elif config.get('init_from') and config.init_from.get('checkpoint_path'):
    train_state = init_from_checkpoint(train_state, model, config.init_from)
  chrono.load(train_state.metadata['chrono'])
  train_state = train_state.replace(metadata={})
  return train_state, start_step, lr_fn, chrono, num_params, gflops


############################ Workdir and outputs #############################


def _resuming(config, workdir):
  return bool(config.get('checkpoint')) and bool(
      tf.io.gfile.glob(os.path.join(workdir, 'checkpoint_[0-9]*')))


def check_resume_config(config, workdir):
  """Refuses (reading only) to resume a workdir run with another config."""
  if '://' not in workdir and os.path.isdir(workdir):
    workdir_lib.check_config(workdir, config.to_json(),
                             _resuming(config, workdir))


def claim_workdir(config, workdir):
  """One trainer per workdir, the same config on resume; see `workdir.py`.

  Writes the run's config to `<workdir>/config.json`, which exports and
  evaluations of the workdir read.
  """
  if jax.process_index() != 0:
    return
  workdir_lib.claim(workdir, config.to_json(),
                    resuming=_resuming(config, workdir),
                    orphans=('checkpoint_tmp*',))


def check_finite(train_metrics, train_logs, step):
  """Raises at the first NaN/inf loss or norm of the steps not yet logged."""
  first = step - len(train_logs) + 1
  for i, (metrics, logs) in enumerate(zip(train_metrics, train_logs)):
    values = {k: v for k, v in logs.items() if k.startswith('l2_')}
    values.update({k: v[0] for k, v in metrics.items()
                   if k.startswith('loss')})
    checkpoints.check_finite(jax.device_get(values), first + i)


def write_json(workdir, name, content):
  """Writes `content` to `<workdir>/<name>`, scalars as floats."""
  with tf.io.gfile.GFile(os.path.join(workdir, name), 'w') as f:
    json.dump({k: float(v) if np.ndim(v) == 0 and not isinstance(v, str)
               else v for k, v in content.items()}, f, indent=1,
              sort_keys=True)
