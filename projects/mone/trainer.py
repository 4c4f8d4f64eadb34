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

"""Trainers of the MoNE project, on Scenic's `train_lib`.

Three entry points share one loop (Scenic's `classification_trainer` loop with
a compute budget per forward pass, see `model.py` for budgets):

  - `train_nested`: nested joint pretraining (the paper's starting point for
    video). Every step sums the losses of all E granularities, each with every
    token on that expert (capacities one-hot on expert i): MatViT's joint
    scheme, nested in the model dimension D.
  - `train`: MoNE training at a fixed e_c, or with e_c sampled every step
    from `config.mone.train_e_c_grid` (`config.mone`: see
    `mone_plugin/budgets.py`, shared with Big Vision); optionally initialised
    through the
    `init_from` block (nested or plain ViT image checkpoint, inflated to video
    by the model's `init_from_train_state`).
  - `evaluate`: restores a checkpoint and evaluates it at every budget.

Evaluation always runs at every budget of `config.mone.eval_e_c` in one pass
over the data; the analytic GFLOPs of each budget go to the summaries next to
its accuracy, and routing maps (tokens coloured by expert, per frame) go to
the image summaries and to `<workdir>/routing_maps/`.
"""

import functools
import json
import os
import time
from typing import Any, Callable, Dict, Optional, Sequence, Tuple, Type

from absl import logging
from clu import metric_writers
from clu import periodic_actions
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
from mone_plugin import viz
from mone_plugin import workdir as workdir_lib
from projects.mone import model as mone_model

Batch = Dict[str, jnp.ndarray]
# A named budget: (summary name, budget); see `model.py`.
NamedBudget = Tuple[str, mone_model.Budget]

flax.config.update('flax_use_orbax_checkpointing', False)


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


def multiview_test(train_state, dataset, config, model, budgets, step,
                   writer):
  """Multi-view test of the whole test split (`dataset.test_iter`).

  Run once, after training (ViViT also runs it every `log_test_epochs`);
  summaries `test_<metric>_<budget>`.
  """
  d = config.dataset_configs
  num_views = d.get('num_test_clips', 1) * (
      3 if d.get('do_three_spatial_crops') else 1)
  test_p = jax.pmap(
      functools.partial(test_step, flax_model=model.flax_model,
                        metrics_fn=model.get_metrics_fn('test'),
                        budgets=budgets, num_views=num_views),
      axis_name='batch')
  steps = int(np.ceil(dataset.meta_data['num_test_examples'] / (
      d.get('test_batch_size', config.eval_batch_size) * num_views
      * jax.process_count())))
  metrics = [train_utils.unreplicate_and_get(
      test_p(train_state, next(dataset.test_iter))) for _ in range(steps)]
  summary = train_utils.log_eval_summary(
      step=step, eval_metrics=metrics, writer=writer, prefix='test')
  return {f'test_{k}': v for k, v in summary.items()}


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


########################### Initialisation helpers ###########################


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


def _initial_train_state(config, model, dataset, rng, workdir):
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
    if not hasattr(model, 'init_from_train_state'):
      raise ValueError(f'{type(model).__name__} cannot be initialised from a '
                       'checkpoint (no init_from_train_state).')
    restored = restore_init_checkpoint(config.init_from)
    train_state = model.init_from_train_state(
        train_state, restored, config.init_from.get('model_config'))
  chrono.load(train_state.metadata['chrono'])
  train_state = train_state.replace(metadata={})
  return train_state, start_step, lr_fn, chrono, num_params, gflops


################################ The loop ####################################


def _evaluate_all(train_state, dataset, eval_step_p, steps, budgets, model,
                  step, writer):
  """Runs `steps` eval batches; logs metrics and GFLOPs of every budget."""
  train_state = train_utils.sync_model_state_across_replicas(train_state)
  metrics, first_batch = [], None
  for _ in range(steps):
    batch = next(dataset.valid_iter)
    if first_batch is None:
      first_batch = jax.tree_util.tree_map(np.asarray, batch)
    metrics.append(train_utils.unreplicate_and_get(
        eval_step_p(train_state, batch)))
  extra = {}
  shape = tuple(model.dataset_meta_data['input_shape'][1:])
  for name, budget in budgets:
    gflops = budgets_lib.gflops(model.flax_model, shape, budget)
    if gflops is not None:
      extra[f'gflops_{name}'] = gflops
  summary = train_utils.log_eval_summary(
      step=step, eval_metrics=metrics, extra_eval_summary=extra,
      writer=writer)
  return train_state, summary, first_batch


def _log_routing_maps(train_state, first_batch, routing_p, config, model,
                      step, writer, workdir):
  num = run_budgets(config, model).num_routing_maps
  if not num or first_batch is None:
    return
  inputs = first_batch['inputs'][:, :num]  # [devices, n, ...]
  maps = routing_p(train_state, inputs)
  if jax.process_index() == 0:
    for name, experts in maps.items():
      viz.write(writer, os.path.join(workdir, 'routing_maps'), step, name,
                np.asarray(inputs[0]), np.asarray(experts[0]),
                model.num_experts, open_fn=tf.io.gfile.GFile,
                makedirs=tf.io.gfile.makedirs)


def _check_finite(train_metrics, train_logs, step):
  """Raises at the first NaN/inf loss or norm of the steps not yet logged."""
  first = step - len(train_logs) + 1
  for i, (metrics, logs) in enumerate(zip(train_metrics, train_logs)):
    values = {k: v for k, v in logs.items() if k.startswith('l2_')}
    values.update({k: v[0] for k, v in metrics.items()
                   if k.startswith('loss')})
    checkpoints.check_finite(jax.device_get(values), first + i)


def _train_loop(*, rng, config, model_cls, dataset, workdir, writer,
                budget_fn, budgets_eval):
  """The loop shared by `train` and `train_nested`."""
  lead_host = jax.process_index() == 0
  claim_workdir(config, workdir)
  model = model_cls(config, dataset.meta_data)
  budget_fn, budgets_eval = budget_fn(model), budgets_eval(model)
  (train_state, start_step, lr_fn, chrono, num_params,
   xla_gflops) = _initial_train_state(config, model, dataset, rng, workdir)
  # A plain dict, as the train step returns it: an empty FrozenDict in the
  # first step's state is another pytree and made step 2 compile again.
  train_state = replicate(train_state.replace(
      model_state=flax.core.unfreeze(train_state.model_state or {})))
  total_steps, steps_per_epoch = train_utils.get_num_training_steps(
      config, dataset.meta_data)

  compiled_steps = {}

  def train_step_for(budgets):
    if budgets not in compiled_steps:
      logging.info('Compiling the train step for budgets %s.', budgets)
      compiled_steps[budgets] = jax.pmap(
          functools.partial(
              train_step, flax_model=model.flax_model,
              loss_fn=model.loss_function, lr_fn=lr_fn,
              metrics_fn=model.get_metrics_fn('train'), config=config,
              budgets=budgets, debug=config.get('debug_train', False)),
          axis_name='batch', donate_argnums=(0, 1))
    return compiled_steps[budgets]

  eval_step_p = jax.pmap(
      functools.partial(
          eval_step, flax_model=model.flax_model,
          metrics_fn=model.get_metrics_fn('validation'), budgets=budgets_eval,
          debug=config.get('debug_eval', False)),
      axis_name='batch', donate_argnums=(1,))
  routing_p = jax.pmap(
      functools.partial(routing_step, flax_model=model.flax_model,
                        budgets=budgets_eval), axis_name='batch')

  log_eval_steps = config.get('log_eval_steps') or steps_per_epoch
  if not log_eval_steps:
    raise ValueError("'log_eval_steps' should be specified in the config.")
  checkpoint_steps = config.get('checkpoint_steps') or log_eval_steps
  log_summary_steps = config.get('log_summary_steps') or log_eval_steps
  eval_batch_size = config.get('eval_batch_size', config.batch_size)
  steps_per_eval = config.get('steps_per_eval') or int(
      np.ceil(dataset.meta_data['num_eval_examples'] / eval_batch_size))

  chrono.inform(start_step, total_steps, config.batch_size, steps_per_epoch)
  report_progress = periodic_actions.ReportProgress(
      num_train_steps=total_steps, writer=writer,
      every_steps=config.get('report_progress_step', log_summary_steps))
  if start_step == 0:
    step0 = {'num_trainable_params': num_params}
    if xla_gflops:
      step0['gflops'] = xla_gflops
    writer.write_scalars(1, step0)

  logging.info('Starting training loop at step %d.', start_step + 1)
  train_metrics, train_logs = [], []
  train_summary, eval_summary = None, None
  for step in range(start_step + 1, total_steps + 1):
    with jax.profiler.StepTraceAnnotation('train', step_num=step):
      budgets = budget_fn(step)
      batch = next(dataset.train_iter)
      train_state, metrics, logs = train_step_for(budgets)(train_state, batch)
      train_metrics.append(metrics)
      logs = jax.tree_util.tree_map(jax_utils.unreplicate, logs)
      if len(budgets) == 1 and budgets[0][1] is not None and not isinstance(
          budgets[0][1], tuple):
        logs['train_e_c'] = budgets[0][1]
      train_logs.append(logs)
    if lead_host:
      report_progress(step)
    summary_due = step % log_summary_steps == 1 or step == total_steps or (
        lead_host and chrono.warmup)
    eval_due = step % log_eval_steps == 1 or step == total_steps
    checkpoint_due = config.get('checkpoint') and (
        step % checkpoint_steps == 0 or step == total_steps)
    if summary_due or eval_due or checkpoint_due:
      # Nothing is written once a loss or norm is NaN/inf: the run stops with
      # the last good checkpoint intact.
      _check_finite(train_metrics, train_logs, step)
    if summary_due:
      chrono.pause(wait_for=train_metrics)
      if lead_host:
        chrono.tick(step, writer, lambda note: None)
      train_summary = train_utils.log_train_summary(
          step=step,
          train_metrics=jax.tree_util.tree_map(
              train_utils.unreplicate_and_get, train_metrics),
          extra_training_logs=jax.tree_util.tree_map(
              jax.device_get, train_logs),
          writer=writer)
      train_metrics, train_logs = [], []
      chrono.resume()
    if eval_due:
      chrono.pause(wait_for=train_state.params)
      with report_progress.timed('eval'):
        train_state, eval_summary, first = _evaluate_all(
            train_state, dataset, eval_step_p, steps_per_eval, budgets_eval,
            model, step, writer)
        _log_routing_maps(train_state, first, routing_p, config, model, step,
                          writer, workdir)
      writer.flush()
      chrono.resume()
    if checkpoint_due:
      chrono.pause(wait_for=(train_state.params, train_state.opt_state))
      with report_progress.timed('checkpoint'):
        train_utils.handle_checkpointing(
            train_state, chrono, workdir,
            config.get('max_checkpoint_keep', 3))
      workdir_lib.after_checkpoint(step)  # A test hook.
      chrono.resume()

  if (config.get('dataset_configs', {}).get('do_multicrop_test')
      and dataset.test_iter is not None):
    with report_progress.timed('test'):
      eval_summary = {**(eval_summary or {}), **multiview_test(
          train_state, dataset, config, model, budgets_eval, total_steps,
          writer)}
  train_utils.barrier_across_hosts()
  if lead_host and eval_summary is not None:
    _write_json(workdir, 'final_eval.json', {
        'step': total_steps, **eval_summary})
  workdir_lib.release(workdir)
  return train_state, train_summary, eval_summary


def claim_workdir(config, workdir):
  """One trainer per workdir, the same config on resume; see `workdir.py`."""
  if jax.process_index() != 0:
    return
  resuming = bool(config.get('checkpoint')) and bool(
      tf.io.gfile.glob(os.path.join(workdir, 'checkpoint_[0-9]*')))
  workdir_lib.claim(workdir, config.to_json(), resuming=resuming,
                    orphans=('checkpoint_tmp*',))


def _write_json(workdir, name, content):
  with tf.io.gfile.GFile(os.path.join(workdir, name), 'w') as f:
    json.dump({k: float(v) if np.ndim(v) == 0 and not isinstance(v, str)
               else v for k, v in content.items()}, f, indent=1,
              sort_keys=True)


def train(*, rng: jnp.ndarray, config: ml_collections.ConfigDict,
          model_cls: Type[base_model.BaseModel],
          dataset: dataset_utils.Dataset, workdir: str,
          writer: metric_writers.MetricWriter):
  """MoNE training (fixed or sampled e_c), evaluated at several e_c.

  Args:
    rng: JAX rng key.
    config: Experiment config (Scenic's fields plus the `mone` block).
    model_cls: A MoNE Scenic model class (`model.py`).
    dataset: Scenic dataset with train and eval iterators.
    workdir: Checkpoints, summaries, routing maps and `final_eval.json`.
    writer: CLU metric writer.

  Returns:
    The train state and the last train and eval summaries.
  """
  return _train_loop(
      rng=rng, config=config, model_cls=model_cls, dataset=dataset,
      workdir=workdir, writer=writer,
      budget_fn=lambda model: train_budget_fn(config, model),
      budgets_eval=lambda model: eval_budgets(config, model))


def train_nested(*, rng: jnp.ndarray, config: ml_collections.ConfigDict,
                 model_cls: Type[base_model.BaseModel],
                 dataset: dataset_utils.Dataset, workdir: str,
                 writer: metric_writers.MetricWriter):
  """Nested joint pretraining: the loss of every granularity, every step.

  Args: as `train`. Evaluation runs at every granularity (`expert{i}`).

  Returns:
    The train state and the last train and eval summaries.
  """
  def budgets(model):
    return nested_budgets(model)
  return _train_loop(
      rng=rng, config=config, model_cls=model_cls, dataset=dataset,
      workdir=workdir, writer=writer,
      budget_fn=lambda model: (lambda step, b=budgets(model): b),
      budgets_eval=budgets)


def evaluate(*, rng: jnp.ndarray, config: ml_collections.ConfigDict,
             model_cls: Type[base_model.BaseModel],
             dataset: dataset_utils.Dataset, workdir: str,
             writer: metric_writers.MetricWriter):
  """Evaluates a trained checkpoint at every budget of `mone.eval_e_c`.

  The checkpoint is `config.eval_from.checkpoint_path` (a Scenic workdir of
  `train`); results go to the summaries of `workdir` and to
  `<workdir>/eval_results.json` with the wall time of every budget.

  Args: as `train`.

  Returns:
    The eval summary (metric name -> value).
  """
  claim_workdir(config, workdir)
  model = model_cls(config, dataset.meta_data)
  budgets = eval_budgets(config, model)
  path = config.get('eval_from', {}).get('checkpoint_path')
  if not path:
    raise ValueError('evaluate needs config.eval_from.checkpoint_path (the '
                     'workdir of a training run).')
  params, model_state, _, _ = train_utils.initialize_model(
      model_def=model.flax_model,
      input_spec=[(dataset.meta_data['input_shape'],
                   dataset.meta_data.get('input_dtype', jnp.float32))],
      config=config, rngs=rng)
  restored = pretrain_utils.restore_pretrained_checkpoint(
      path, assert_exist=True)
  checkpoints.verify(restored.params, params, source=path,
                     step=int(restored.global_step))
  state = train_utils.TrainState(
      global_step=restored.global_step, params=restored.params,
      model_state=restored.model_state or model_state, rng=rng)
  state = jax_utils.replicate(state)
  eval_batch_size = config.get('eval_batch_size', config.batch_size)
  steps = config.get('steps_per_eval') or int(
      np.ceil(dataset.meta_data['num_eval_examples'] / eval_batch_size))
  results, summary = {'checkpoint_step': int(restored.global_step)}, {}
  routing_p = jax.pmap(functools.partial(
      routing_step, flax_model=model.flax_model, budgets=budgets),
                       axis_name='batch')
  for name, budget in budgets:
    # One compiled function per budget, so that each is timed on its own.
    step_p = jax.pmap(functools.partial(
        eval_step, flax_model=model.flax_model,
        metrics_fn=model.get_metrics_fn('validation'),
        budgets=((name, budget),)), axis_name='batch')
    start = time.time()
    _, one, first = _evaluate_all(state, dataset, step_p, steps,
                                  ((name, budget),), model, 1, writer)
    wall = time.time() - start
    summary.update(one)
    summary[f'eval_seconds_{name}'] = wall
    logging.info('Budget %s: %s (%.1f s)', name, one, wall)
  _log_routing_maps(state, first, routing_p, config, model, 1, writer,
                    workdir)
  results.update(summary)
  if jax.process_index() == 0:
    _write_json(workdir, 'eval_results.json', results)
  writer.flush()
  workdir_lib.release(workdir)
  return summary

