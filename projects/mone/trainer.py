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
a compute budget per forward pass, see `model.py` for budgets; the steps and
helpers are in `train_utils.py`):

  - `train_nested`: nested joint pretraining (the paper's starting point for
    video). Every step sums the losses of all E granularities, each with every
    token on that expert (capacities one-hot on expert i): MatViT's joint
    scheme, nested in the model dimension D.
  - `train`: MoNE training at a fixed e_c, or with e_c sampled every step
    from `config.mone.train_e_c_grid` (`config.mone`: see
    `mone_plugin/budgets.py`, shared with Big Vision); optionally initialised
    through the `init_from` block (nested or plain ViT image checkpoint,
    inflated to video by the model's `init_from_train_state`).
  - `evaluate`: restores a checkpoint and evaluates it at every budget.

Evaluation always runs at every budget of `config.mone.eval_e_c` in one pass
over the data; the analytic GFLOPs of each budget go to the summaries next to
its accuracy, and routing maps (tokens coloured by expert, per frame) go to
the image summaries and to `<workdir>/routing_maps/`.
"""

import functools
import os
import time
from typing import Type

from absl import logging
from clu import metric_writers
from clu import periodic_actions
import flax
from flax import jax_utils
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from scenic.dataset_lib import dataset_utils
from scenic.model_lib.base_models import base_model
from scenic.train_lib import pretrain_utils
from scenic.train_lib import train_utils
import tensorflow as tf

from mone_plugin import budgets as budgets_lib
from mone_plugin import checkpoints
from mone_plugin import viz
from mone_plugin import workdir as workdir_lib
from projects.mone import train_utils as mone_train_utils


################################# Evaluation #################################


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
      functools.partial(mone_train_utils.test_step,
                        flax_model=model.flax_model,
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
  """Writes the routing maps of the first eval batch at every budget."""
  num = mone_train_utils.run_budgets(config, model).num_routing_maps
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


################################## The loop ##################################


def _train_loop(*, rng, config, model_cls, dataset, workdir, writer,
                budget_fn, budgets_eval):
  """The loop shared by `train` and `train_nested`."""
  lead_host = jax.process_index() == 0
  # The model, its budgets and the train state (`init_from` included) are
  # built and checked before the workdir is claimed: a config or checkpoint
  # that does not fit fails with nothing written. (Restoring the workdir's
  # own checkpoint only reads it.)
  mone_train_utils.check_resume_config(config, workdir)
  model = model_cls(config, dataset.meta_data)
  budget_fn, budgets_eval = budget_fn(model), budgets_eval(model)
  (train_state, start_step, lr_fn, chrono, num_params,
   xla_gflops) = mone_train_utils.initial_train_state(
       config, model, dataset, rng, workdir)
  mone_train_utils.claim_workdir(config, workdir)
  # A plain dict, as the train step returns it: an empty FrozenDict in the
  # first step's state is another pytree and made step 2 compile again.
  train_state = mone_train_utils.replicate(train_state.replace(
      model_state=flax.core.unfreeze(train_state.model_state or {})))
  total_steps, steps_per_epoch = train_utils.get_num_training_steps(
      config, dataset.meta_data)

  compiled_steps = {}

  def train_step_for(budgets):
    if budgets not in compiled_steps:
      logging.info('Compiling the train step for budgets %s.', budgets)
      compiled_steps[budgets] = jax.pmap(
          functools.partial(
              mone_train_utils.train_step, flax_model=model.flax_model,
              loss_fn=model.loss_function, lr_fn=lr_fn,
              metrics_fn=model.get_metrics_fn('train'), config=config,
              budgets=budgets, debug=config.get('debug_train', False)),
          axis_name='batch', donate_argnums=(0, 1))
    return compiled_steps[budgets]

  eval_step_p = jax.pmap(
      functools.partial(
          mone_train_utils.eval_step, flax_model=model.flax_model,
          metrics_fn=model.get_metrics_fn('validation'), budgets=budgets_eval,
          debug=config.get('debug_eval', False)),
      axis_name='batch', donate_argnums=(1,))
  routing_p = jax.pmap(
      functools.partial(mone_train_utils.routing_step,
                        flax_model=model.flax_model, budgets=budgets_eval),
      axis_name='batch')

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
      mone_train_utils.check_finite(train_metrics, train_logs, step)
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
    mone_train_utils.write_json(workdir, 'final_eval.json', {
        'step': total_steps, **eval_summary})
  workdir_lib.release(workdir)
  return train_state, train_summary, eval_summary


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
      budget_fn=lambda model: mone_train_utils.train_budget_fn(config, model),
      budgets_eval=lambda model: mone_train_utils.eval_budgets(config, model))


def train_nested(*, rng: jnp.ndarray, config: ml_collections.ConfigDict,
                 model_cls: Type[base_model.BaseModel],
                 dataset: dataset_utils.Dataset, workdir: str,
                 writer: metric_writers.MetricWriter):
  """Nested joint pretraining: the loss of every granularity, every step.

  Args: as `train`. Evaluation runs at every granularity (`expert{i}`).

  Returns:
    The train state and the last train and eval summaries.
  """
  budgets = mone_train_utils.nested_budgets
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
  mone_train_utils.claim_workdir(config, workdir)
  model = model_cls(config, dataset.meta_data)
  budgets = mone_train_utils.eval_budgets(config, model)
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
      mone_train_utils.routing_step, flax_model=model.flax_model,
      budgets=budgets), axis_name='batch')
  for name, budget in budgets:
    # One compiled function per budget, so that each is timed on its own.
    step_p = jax.pmap(functools.partial(
        mone_train_utils.eval_step, flax_model=model.flax_model,
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
    mone_train_utils.write_json(workdir, 'eval_results.json', results)
  writer.flush()
  workdir_lib.release(workdir)
  return summary

