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

r"""MoNE trainer: Big Vision's jit/sharding train loop, plus compute budgets.

  python -m mone_plugin.big_vision.train \
      --config configs/mone_fashion_mnist.py:e_c=0.5 --workdir /tmp/mone

A fork of `big_vision/train.py` at Big Vision commit
0127fb6b337ee2a27bf4e54dea79cff176527356 (the commit this plugin pins), as
FlexiViT's `trainers/proj/flexi/train.py` forks it: the loop, sharding,
checkpointing and evaluators are upstream's; what changes is listed below.
What it adds to `big_vision/train.py` (`config.mone`: see
`mone_plugin/budgets.py`, shared with the Scenic trainer):
- the training e_c is fixed, given as a GFLOPs budget, or drawn from a grid at
  every step; each e_c value has its own jitted update step (compiled once);
- or MatViT-style nested training (`config.mone.nested`): every step sums the
  losses of the nested models (`training_loss_expert0` ...), each evaluated
  as its own model (`test_expert0/prec@1`, `gflops_expert0`);
- isoFLOPs: the number of steps is scaled to the dense ViT's training FLOPs;
- every evaluator runs once per budget in `config.mone.eval_e_c`, through Big
  Vision's own evaluators (`val_ec0.5/prec@1`, ...);
- GFLOPs per budget are logged; routing maps (tokens coloured by expert over
  the image) go to the metric writer (TensorBoard) and `workdir/routing_maps`;
- `config.input.deterministic=True` seeds TF and, on resume, skips the batches
  already seen, so that a killed-and-resumed run equals an uninterrupted one.
The config is checked before any data or model is built.
"""
# pylint: disable=consider-using-from-import
# pylint: disable=logging-fstring-interpolation

import atexit
import functools
import importlib
import os

from absl import app
from absl import flags
from absl import logging
import big_vision.evaluators.common as eval_common
import big_vision.input_pipeline as input_pipeline
import big_vision.optax as bv_optax
import big_vision.sharding as bv_sharding
import big_vision.utils as u
from clu import metric_writers
from clu import parameter_overview
import flax.linen as nn
import jax
from jax.experimental import multihost_utils
from jax.experimental.array_serialization import serialization as array_serial
from jax.experimental.shard_map import shard_map
import jax.numpy as jnp
import ml_collections as mlc
from ml_collections import config_flags
import numpy as np
import optax
import tensorflow as tf

from tensorflow.io import gfile

from mone_plugin import budgets as budgets_lib
from mone_plugin import checkpoints
from mone_plugin import config_checks
from mone_plugin import router
from mone_plugin import viz
from mone_plugin import workdir as workdir_lib
from mone_plugin.big_vision import trainer_config
from mone_plugin.data import prepare


P = jax.sharding.PartitionSpec


# Where Big Vision's configs keep what `mone_plugin.config_checks` checks.
CONFIG_KEYS = dict(
    batch_size="input.batch_size", steps="total_steps", epochs="total_epochs",
    lr="lr", width="model.width", num_heads="model.num_heads",
    num_experts="model.num_experts")


def train_and_evaluate(config, workdir, cleanup=False):
  """Trains and evaluates the MoNE model of `config`, writing to `workdir`."""
  trainer_config.check_config(config)
  config_checks.check(config, CONFIG_KEYS)

  # Make sure TF does not touch GPUs.
  tf.config.set_visible_devices([], "GPU")

################################################################################
#                                                                              #
#                                Set up logging                                #
#                                                                              #
################################################################################

  logging.info(
      f"\u001b[33mHello from process {jax.process_index()} holding "
      f"{jax.local_device_count()}/{jax.device_count()} devices and "
      f"writing to workdir {workdir}.\u001b[0m")
  logging.info(f"The config:\n{config}")

  save_ckpt_path = os.path.join(workdir, "checkpoint.bv") if workdir else None

  for m in config.get("pp_modules", ["ops_general", "ops_image"]):
    importlib.import_module(f"big_vision.pp.{m}")
  for data in [config.input.data] + [
      e.data for e in config.get("evals", {}).values() if "data" in e]:
    prepare.check_prepared(data.name, data.get("data_dir"))

  def info(s, *a):
    logging.info("\u001b[33mNOTE\u001b[0m: " + s, *a)
  def write_note(note):
    if jax.process_index() == 0:
      info("%s", note)

################################################################################
#                                                                              #
#                                Set up Mesh                                   #
#                                                                              #
################################################################################

  config_mesh = config.get("mesh", [("data", jax.device_count())])
  sharding_rules = config.get("sharding_rules", [("act_batch", "data")])
  write_note("Creating device mesh...")
  mesh = u.create_device_mesh(
      config_mesh,
      allow_split_physical_axes=config.get("mesh_allow_split_physical_axes",
                                           False))
  repl_sharding = jax.sharding.NamedSharding(mesh, P())
  devices_flat = mesh.devices.flatten()

################################################################################
#                                                                              #
#                                Input Pipeline                                #
#                                                                              #
################################################################################

  write_note("Initializing train dataset...")
  batch_size = config.input.batch_size
  if batch_size % jax.device_count() != 0:
    raise ValueError(f"Batch size ({batch_size}) must "
                     f"be divisible by device number ({jax.device_count()})")
  if config.input.get("deterministic"):
    tf.random.set_seed(config.get("seed", 0))
  train_ds, ntrain_img = input_pipeline.training(config.input)
  image_shape = tuple(train_ds.element_spec["image"].shape[1:])

################################################################################
#                                                                              #
#                       Create Model, Budgets & Optimizer                      #
#                                                                              #
################################################################################

  write_note("Creating model...")
  model_mod = importlib.import_module(f"big_vision.models.{config.model_name}")
  model = model_mod.Model(
      num_classes=config.num_classes, **config.get("model", {}))

  budgets = trainer_config.resolve(config, model, image_shape)  # Checks them.

  resume_ckpt_path = None
  if save_ckpt_path and gfile.exists(f"{save_ckpt_path}-LAST"):
    resume_ckpt_path = save_ckpt_path
  elif config.get("resume"):
    resume_ckpt_path = config.resume
  if config.get("model_init") and not resume_ckpt_path:
    # A checkpoint that does not fit the model (a parameter's shape, a head
    # of another number of classes) fails here, with nothing written.
    write_note(f"Checking {config.model_init} against the model...")
    shapes = jax.eval_shape(
        model.init, jax.ShapeDtypeStruct((2,), jnp.uint32),
        jax.ShapeDtypeStruct((1, *image_shape), jnp.float32))
    model_mod.load(nn.unbox(shapes["params"]), config.model_init,
                   config.get("model"), **config.get("model_load", {}))

  if workdir:
    # One trainer per workdir, the same config on resume (checked before
    # anything is written), no temporary checkpoint left by a killed run.
    last, _ = checkpoints.resolve_last(save_ckpt_path)
    if jax.process_index() == 0:
      workdir_lib.claim(
          workdir, config.to_json(), resuming=last != save_ckpt_path,
          orphans=("checkpoint.bv-*-tmp", "checkpoint.bv-CUR"),
          keep=(os.path.basename(last),))
    else:
      gfile.makedirs(workdir)

  mw = u.BigVisionMetricWriter(-1, -1, workdir, config)
  if getattr(mw, "pool", None):  # No `Pool.__del__` noise after a failure.
    atexit.register(mw.pool.close)
  # Big Vision's writer logs scalars only; images go through CLU's.
  image_writer = metric_writers.create_default_writer(
      workdir, just_logging=jax.process_index() > 0, asynchronous=False)
  u.chrono.inform(measure=mw.measure, write_note=write_note)
  total_steps = u.steps("total", config, ntrain_img, batch_size)
  if budgets.step_scale != 1.0:
    info("isoFLOPs: %d steps x %.3f (dense %.4g GFLOPs / MoNE %.4g)",
         total_steps, budgets.step_scale, budgets.dense_gflops,
         budgets.dense_gflops / budgets.step_scale)
    total_steps = int(round(total_steps * budgets.step_scale))
  def get_steps(name, default=ValueError, cfg=config):
    return u.steps(name, cfg, ntrain_img, batch_size, total_steps, default)

  u.chrono.inform(total_steps=total_steps, global_bs=batch_size,
                  steps_per_epoch=ntrain_img / batch_size)
  info("Running for %d steps, that means %f epochs; training e_c %s, "
       "evaluating at e_c %s", total_steps, total_steps * batch_size /
       ntrain_img, budgets.train, budgets.eval)

  def init(rng):
    batch = jax.tree.map(lambda x: jnp.zeros(x.shape, x.dtype.as_numpy_dtype),
                         train_ds.element_spec)
    params = model.init(rng, batch["image"])["params"]
    if "init_head_bias" in config:
      params["head"]["bias"] = jnp.full_like(params["head"]["bias"],
                                             config["init_head_bias"])
    return params

  rng = jax.random.PRNGKey(u.put_cpu(config.get("seed", 0)))

  write_note("Inferring parameter shapes...")
  rng, rng_init = jax.random.split(rng)
  params_shape = jax.eval_shape(init, rng_init)

  write_note("Inferring optimizer state shapes...")
  tx, sched_fns = bv_optax.make(config, nn.unbox(params_shape), sched_kw=dict(
      total_steps=total_steps, batch_size=batch_size, data_size=ntrain_img))
  opt_shape = jax.eval_shape(tx.init, params_shape)
  sched_fns_cpu = [u.jit_cpu()(sched_fn) for sched_fn in sched_fns]

  if jax.process_index() == 0:
    num_params = sum(np.prod(p.shape) for p in jax.tree.leaves(params_shape))
    mw.measure("num_params", num_params)

################################################################################
#                                                                              #
#                               Shard & Transfer                               #
#                                                                              #
################################################################################

  write_note("Inferring shardings...")
  train_state_shape = {"params": params_shape, "opt": opt_shape}
  strategy = config.get("sharding_strategy", [(".*", "replicate")])
  with nn.logical_axis_rules(sharding_rules):
    train_state_sharding = bv_sharding.infer_sharding(
        train_state_shape, strategy=strategy, mesh=mesh)

  write_note("Transferring train_state to devices...")
  rng_init = u.reshard(rng_init, repl_sharding)
  params = jax.jit(init, out_shardings=train_state_sharding["params"])(rng_init)
  opt = jax.jit(tx.init, out_shardings=train_state_sharding["opt"])(params)

  rng, rng_loop = jax.random.split(rng, 2)
  rng_loop = u.reshard(rng_loop, repl_sharding)
  del rng

  train_state = nn.unbox({"params": params, "opt": opt})
  del params, opt

  parameter_overview.log_parameter_overview(
      train_state["params"], msg="Init params",
      include_stats="global", jax_logging_process=0)

################################################################################
#                                                                              #
#                                 Update Step                                  #
#                                                                              #
################################################################################

  # Budgets are static: one compiled step per budget (or per joint set of
  # budgets), each with static shapes.
  @functools.partial(
      jax.jit,
      donate_argnums=(0,),
      static_argnames=("step_budgets",),
      out_shardings=(train_state_sharding, repl_sharding))
  def update_fn(train_state, rng, batch, *, step_budgets):
    """Update step on the sum of the losses at `step_budgets`.

    One budget (an e_c, or None: the dense path), or the nested models of
    MatViT-style joint training (`config.mone.nested`).
    """
    images, labels = batch["image"], batch["labels"]

    step_count = bv_optax.get_count(train_state["opt"], jittable=True)
    rng = jax.random.fold_in(rng, step_count)

    if config.get("mixup") and config.mixup.p:
      sharded_mixup_fn = shard_map(
          u.get_mixup(rng, config.mixup.p),
          mesh=jax.sharding.Mesh(devices_flat, ("data",)),
          in_specs=P("data"), out_specs=(P(), P("data"), P("data")))
      rng, (images, labels), _ = sharded_mixup_fn(images, labels)

    rng, rng_dropout, rng_router = jax.random.split(rng, 3)

    def loss_fn(params):
      def loss_at(e_c):
        logits, _ = model.apply(
            {"params": params}, images, train=True, e_c=e_c,
            rngs={"dropout": rng_dropout, "router": rng_router})
        return getattr(u, config.get("loss", "sigmoid_xent"))(
            logits=logits, labels=labels), None
      loss, losses, _ = budgets_lib.joint_loss(loss_at, step_budgets)
      return loss, losses

    params, opt = train_state["params"], train_state["opt"]
    (loss, losses), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
    updates, opt = tx.update(grads, opt, params)
    params = optax.apply_updates(params, updates)

    measurements = {"training_loss": loss}
    if len(step_budgets) > 1:  # Each nested model's own loss.
      measurements.update({f"training_loss_{k}": v for k, v in losses.items()})
    gs = jax.tree.leaves(bv_optax.replace_frozen(config.schedule, grads, 0.))
    measurements["l2_grads"] = jnp.sqrt(sum([jnp.sum(g * g) for g in gs]))
    ps = jax.tree.leaves(params)
    measurements["l2_params"] = jnp.sqrt(sum([jnp.sum(p * p) for p in ps]))
    us = jax.tree.leaves(updates)
    measurements["l2_updates"] = jnp.sqrt(sum([jnp.sum(u * u) for u in us]))
    # alpha and the router's gradient (before this update): the router learns
    # only through alpha * r.
    measurements.update(router.router_metrics(
        train_state["params"], grads))
    return {"params": params, "opt": opt}, measurements

################################################################################
#                                                                              #
#                               Load Checkpoint                                #
#                                                                              #
################################################################################

  ckpt_mngr = None
  if save_ckpt_path or resume_ckpt_path:
    ckpt_mngr = array_serial.GlobalAsyncCheckpointManager()

  if resume_ckpt_path:
    write_note(f"Resuming training from checkpoint {resume_ckpt_path}...")
    jax.tree.map(lambda x: x.delete(), train_state)
    del train_state
    shardings = {
        **train_state_sharding,
        "chrono": jax.tree.map(lambda _: repl_sharding, u.chrono.save()),
    }
    # Refused if a file is missing (zarr would read zeros), a shape differs
    # or a value is NaN/inf.
    ckpt_dir, ckpt_step = checkpoints.resolve_last(resume_ckpt_path)
    checkpoints.check_chunks(ckpt_dir)
    loaded = u.load_checkpoint_ts(
        resume_ckpt_path, tree=shardings, shardings=shardings)
    train_state = {key: loaded[key] for key in train_state_sharding.keys()}
    checkpoints.verify(train_state, train_state_shape, source=ckpt_dir,
                       step=ckpt_step)
    u.chrono.load(jax.device_get(loaded["chrono"]))
    del loaded
  elif config.get("model_init"):
    write_note(f"Initialize model from {config.model_init}...")
    train_state["params"] = model_mod.load(
        train_state["params"], config.model_init, config.get("model"),
        **config.get("model_load", {}))
    train_state["params"] = u.reshard(
        train_state["params"], train_state_sharding["params"])
    parameter_overview.log_parameter_overview(
        train_state["params"], msg="restored params",
        include_stats="global", jax_logging_process=0)

################################################################################
#                                                                              #
#                        Setup Evals (one per budget)                          #
#                                                                              #
################################################################################

  def predict_fn(train_state, batch, e_c=budgets.eval[-1]):
    return model.apply(
        {"params": train_state["params"]}, batch["image"], e_c=e_c)

  def loss_fn(train_state, batch, e_c=budgets.eval[-1]):
    logits, _ = predict_fn(train_state, batch, e_c)
    loss = getattr(u, config.get("loss", "sigmoid_xent"))
    return {"loss": loss(logits=logits, labels=batch["labels"],
                         reduction=False)}

  eval_specs = trainer_config.evals_per_budget(config.get("evals", {}),
                                            budgets.eval)
  # Evaluator names hold the e_c ("val_ec0.5"): a dict, as ConfigDict keys
  # cannot have dots. `from_config` reads only these keys.
  eval_config = {
      "evals": {k: mlc.ConfigDict(v) for k, v in eval_specs.items()},
      **{k: config.get(k) for k in (
          "batch_size_eval", "input.batch_size", "batch_size")},
  }

  @functools.lru_cache(maxsize=None)
  def evaluators():
    return eval_common.from_config(
        eval_config, {"predict": predict_fn, "loss": loss_fn},
        lambda s: write_note(f"Init evaluator: {s}…\n{u.chrono.note}"),
        lambda key, cfg: get_steps(key, default=None, cfg=cfg),
        devices_flat,
    )

  def run_evals(step, only_due):
    for (name, evaluator, log_steps, prefix) in evaluators():
      if only_due and not u.itstime(step, log_steps, total_steps, first=False,
                                    last=True):
        continue
      u.chrono.pause(wait_for=train_state)
      u.chrono.tick(step)
      write_note(f"{name} evaluation...\n{u.chrono.note}")
      with u.chrono.log_timing(f"z/secs/eval/{name}"):
        with mesh, nn.logical_axis_rules(sharding_rules):
          for key, value in evaluator.run(train_state):
            mw.measure(f"{prefix}{key}", jax.device_get(value))
      u.chrono.resume()

  # Routing maps: the same few training images every time.
  # At e_c=1 (or dense) every token takes the full model: nothing to show.
  maps_e_c = budgets.routed if budgets.num_routing_maps else ()
  maps_images = None
  grid = tuple(s // p for s, p in zip(image_shape[:2], model.patch_size))

  @functools.partial(jax.jit, static_argnames=("e_c",))
  def experts_fn(params, images, *, e_c):
    return model.apply({"params": params}, images, e_c=e_c)[1]["experts"]

  def write_routing_maps(step):
    if maps_images is None or not maps_e_c:
      return
    images = u.reshard(maps_images, repl_sharding)
    for e_c in maps_e_c:
      with mesh, nn.logical_axis_rules(sharding_rules):
        experts = jax.device_get(
            experts_fn(train_state["params"], images, e_c=e_c))
      if jax.process_index() == 0:
        viz.write(image_writer, workdir and os.path.join(
            workdir, "routing_maps"), step, budgets_lib.name(e_c),
                  maps_images, experts.reshape(-1, *grid), model.num_experts,
                  open_fn=gfile.GFile, makedirs=gfile.makedirs)
    image_writer.flush()

################################################################################
#                                                                              #
#                         First step, GFLOPs, first evals                      #
#                                                                              #
################################################################################

  first_step_device = bv_optax.get_count(train_state["opt"], jittable=True)
  first_step = int(jax.device_get(first_step_device))
  u.chrono.inform(first_step=first_step)

  # Start the input pipeline now that we know where we are: a deterministic
  # pipeline skips what the run has already seen.
  if first_step and config.input.get("deterministic"):
    write_note(f"Skipping the {first_step} batches already trained on...")
    train_ds = train_ds.skip(first_step)
  n_prefetch = config.get("prefetch_to_device", 1)
  records = prepare.name_corrupted_file(  # Names a corrupted TFRecord file.
      train_ds, config.input.data.name, config.input.data.get("data_dir"))
  train_iter = input_pipeline.start_global(records, devices_flat, n_prefetch)

  mw.step_start(first_step)
  mw.measure("gflops_dense", budgets.dense_gflops)
  for budget, gflops in budgets.gflops.items():
    if budget is not None:
      mw.measure(f"gflops_{budgets_lib.name(budget)}", gflops)
  if first_step in (total_steps, 0):
    write_note("Running initial or final evals...")
    for (name, evaluator, _, prefix) in evaluators():
      if eval_specs[name].get("skip_first") and (
          first_step != total_steps):
        continue
      write_note(f"{name} evaluation...\n{u.chrono.note}")
      with u.chrono.log_timing(f"z/secs/eval/{name}"):
        with mesh, nn.logical_axis_rules(sharding_rules):
          for key, value in evaluator.run(train_state):
            mw.measure(f"{prefix}{key}", value)
  mw.step_end()

################################################################################
#                                                                              #
#                                  Train Loop                                  #
#                                                                              #
################################################################################

  prof = None
  seed = config.get("seed", 0)
  write_note("Starting training loop, compiling the first step...")
  for step, batch in zip(range(first_step + 1, total_steps + 1), train_iter):
    mw.step_start(step)
    step_budgets = budgets.step_budgets(seed, step)

    if maps_images is None and maps_e_c:
      maps_images = u.get_local_slice_from_fsarray(batch["image"])[
          :budgets.num_routing_maps]

    with jax.profiler.StepTraceAnnotation("train_step", step_num=step):
      with u.chrono.log_timing("z/secs/update0", noop=step > first_step + 1):
        with mesh, nn.logical_axis_rules(sharding_rules):
          train_state, measurements = update_fn(
              train_state, rng_loop, batch, step_budgets=step_budgets)

    if jax.process_index() == 0:
      prof = u.startstop_prof(prof, step, first_step, get_steps("log_training"))

    # What this step writes. Nothing is, once the loss or a norm is NaN/inf:
    # the run stops with the last good checkpoint intact.
    log_due = (u.itstime(step, get_steps("log_training"), total_steps, host=0)
               or u.chrono.warmup and jax.process_index() == 0)
    keep_last = total_steps if get_steps("ckpt", None) else None
    keep_ckpt_steps = get_steps("keep_ckpt", None) or keep_last
    keep = u.itstime(step, keep_ckpt_steps, total_steps, first=False)
    ckpt_due = save_ckpt_path and (keep or u.itstime(
        step, get_steps("ckpt", None), total_steps, first=True))
    maps_due = maps_e_c and u.itstime(
        step, get_steps("routing_maps", None, config.get("mone", {})),
        total_steps, first=False, last=True)
    evals_due = any(u.itstime(step, log_steps, total_steps, first=False,
                              last=True) for _, _, log_steps, _ in evaluators())
    if log_due or ckpt_due or maps_due or evals_due:
      try:
        checkpoints.check_finite(jax.device_get(
            {k: measurements[k] for k in (
                "training_loss", "l2_grads", "l2_updates", "l2_params")}),
                                 step)
      except checkpoints.NonFiniteError:
        if ckpt_mngr:  # Finish writing the last good checkpoint.
          ckpt_mngr.wait_until_finished()
        raise

    if log_due:
      for i, sched_fn_cpu in enumerate(sched_fns_cpu):
        mw.measure(f"global_schedule{i if i else ''}",
                   sched_fn_cpu(u.put_cpu(step - 1)))
      measurements = jax.device_get(measurements)
      for name, value in measurements.items():
        mw.measure(name, value)
      if not budgets.joint and step_budgets[0] is not None:
        mw.measure("train_e_c", step_budgets[0])
      u.chrono.tick(step)

    # Checkpoint saving
    if ckpt_due:
      u.chrono.pause(wait_for=train_state)
      ckpt = {**train_state}
      with jax.transfer_guard("allow"):
        chrono_ckpt = multihost_utils.broadcast_one_to_all(u.chrono.save())
      chrono_shardings = jax.tree.map(lambda _: repl_sharding, chrono_ckpt)
      ckpt = ckpt | {"chrono": u.reshard(chrono_ckpt, chrono_shardings)}
      u.save_checkpoint_ts(ckpt_mngr, ckpt, save_ckpt_path, step, keep)
      if workdir_lib.kill_requested(step):  # Test-only: die once it is saved.
        ckpt_mngr.wait_until_finished()
        workdir_lib.after_checkpoint(step)
      u.chrono.resume()

    if evals_due:
      run_evals(step, only_due=True)
    if maps_due:
      write_routing_maps(step)
    mw.step_end()

  if jax.process_index() == 0 and prof is not None:
    u.startstop_prof(prof)

  write_note(f"Done!\n{u.chrono.note}")

  mw.close()
  image_writer.close()
  if ckpt_mngr:
    ckpt_mngr.wait_until_finished()

  u.sync()
  u.maybe_cleanup_workdir(workdir, cleanup, info)
  if workdir:
    workdir_lib.release(workdir)


def main(argv):
  del argv
  jax.config.parse_flags_with_absl()
  # As Big Vision: no implicit host<->device transfers, and random numbers
  # that do not depend on the sharding.
  jax.config.update("jax_transfer_guard", "disallow")
  jax.config.update("jax_threefry_partitionable", True)
  if os.environ.get("BV_JAX_INIT"):
    jax.distributed.initialize()
  train_and_evaluate(flags.FLAGS.config, flags.FLAGS.workdir,
                     flags.FLAGS.cleanup)


if __name__ == "__main__":
  config_flags.DEFINE_config_file(
      "config", None, "Training configuration.", lock_config=True)
  flags.DEFINE_string("workdir", default=None, help="Work unit directory.")
  flags.DEFINE_boolean("cleanup", default=False,
                       help="Delete workdir (only) after successful completion.")
  app.run(main)
