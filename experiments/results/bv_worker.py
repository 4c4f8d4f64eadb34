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


r"""Runs the Big Vision experiments of a results plan (one process, many runs).

  python -m experiments.results.bv_worker --root=<results dir> [--mode=full] \
      [--summaries=docs/results/runs] [--runs=a,b] [--deadline=<unix time>]

Each run trains with Big Vision's loop (`mone_plugin.big_vision.train`) and
the default config, then evaluates its last checkpoint at the plan's e_c
values with Big Vision's evaluators (`mone_plugin.big_vision.evaluate`), and
writes `<root>/bv/<run>/result.json` and, with --summaries, the run's
summary (`experiments.results.summaries`). Several workers share one plan:
each claims a run by creating `<run>/claim` and skips finished runs (a
matching summary, or a result of the same recipe), so a killed plan resumes
(a killed run resumes from its checkpoint; a workdir of another recipe is
started afresh). With --deadline, a run is not started if its estimated time
(`cost` x --sec_per_cost) would end after it. One process serves
many runs because importing TF, JAX and Big Vision takes longer than a small
run's compilation.
"""

import importlib.util
import json
import os
import shutil
import time

from absl import app
from absl import flags
from absl import logging
import jax
import ml_collections as mlc
import numpy as np

from mone_plugin import budgets as budgets_lib
from mone_plugin.big_vision import evaluate as evaluate_lib
from mone_plugin.big_vision import train as train_lib
from mone_plugin.data import cluttered_fashion_mnist as cfm
from experiments.results import plan as plan_lib
from experiments.results import summaries as summaries_lib

_ROOT = flags.DEFINE_string("root", None, "Results directory.")
_MODE = flags.DEFINE_enum("mode", "full", plan_lib.MODES, "Which plan.")
_RUNS = flags.DEFINE_list("runs", None, "Only these runs (default: all).")
_SUMMARIES = flags.DEFINE_string(
    "summaries", None, "Where each finished run's summary goes (and whose "
    "summaries mark runs done); none if unset.")
_DEADLINE = flags.DEFINE_float(
    "deadline", 0, "Unix time: start no run expected to end after it (0: "
    "none).")
_SEC_PER_COST = flags.DEFINE_float(
    "sec_per_cost", 0, "Seconds per unit of a run's `cost`, to estimate its "
    "time against --deadline (0: unknown, only the start is checked).")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
CONFIG = os.path.join(ROOT, "configs", "mone_fashion_mnist.py")
ROUTING_IMAGES = 16  # Saved with their experts, for the routing maps.
# Test images whose tokens' classes (background, clutter, garment) are counted
# per expert, where the data set marks them (cluttered Fashion-MNIST).
SHARE_IMAGES = 1000


def get_config(args, config=CONFIG):
  """`<config>:<args>`, as `--config=` would load it (path from the repo)."""
  path = os.path.join(ROOT, config)
  name = os.path.splitext(os.path.basename(path))[0]
  spec = importlib.util.spec_from_file_location(name, path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config(args)


def claim(workdir):
  """True if this process may run `workdir` (atomic; False if taken)."""
  os.makedirs(workdir, exist_ok=True)
  try:
    os.close(os.open(os.path.join(workdir, "claim"),
                     os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    return True
  except FileExistsError:
    return False


def save_routing(config, workdir, e_cs):
  """Test images and each token's expert at `e_cs`, for the routing maps."""
  model_cfg = dict(config.model)
  # Importable once mone_plugin.big_vision has found the checkout.
  # pylint: disable=g-import-not-at-top
  import big_vision.datasets.core as ds_core
  import big_vision.pp.builder as pp_builder
  from big_vision.models.proj.mone import vit
  # pylint: enable=g-import-not-at-top
  model = vit.Model(num_classes=config.num_classes, **model_cfg)
  test = config.evals.test
  ds = ds_core.get(**{**test.data, "split": f"test[:{ROUTING_IMAGES}]"}
                   ).get_tfdata(ordered=True)
  pp = pp_builder.get_preprocess_fn(test.pp_fn)
  batch = next(iter(ds.map(pp).batch(ROUTING_IMAGES).as_numpy_iterator()))
  images = batch["image"]
  params = vit.load(jax.eval_shape(lambda: model.init(
      jax.random.PRNGKey(0), images))["params"],
                    os.path.join(workdir, "checkpoint.bv"), model_cfg)
  out = {"images": images, "labels": batch["labels"].argmax(-1),
         "patch_size": np.asarray(model.patch_size)}
  for e_c in e_cs:
    aux = model.apply({"params": params}, images, e_c=e_c)[1]
    out[f"experts_{e_c:g}"] = np.asarray(aux["experts"])
  np.savez_compressed(os.path.join(workdir, "routing.npz"), **out)
  if "mask" not in ds.element_spec:
    return None
  # Which kind of token each expert gets, over more images than the maps.
  share_ds = ds_core.get(**{**test.data, "split": f"test[:{SHARE_IMAGES}]"}
                         ).get_tfdata(ordered=True)
  masks = np.stack(list(share_ds.map(lambda x: x["mask"]
                                     ).as_numpy_iterator()))
  share_images = np.concatenate([b["image"] for b in share_ds.map(pp).batch(
      250).as_numpy_iterator()])
  classes = cfm.token_classes(masks, model.patch_size[0]).reshape(
      len(masks), -1)
  shares = {}
  for e_c in e_cs:
    experts = np.concatenate([np.asarray(model.apply(
        {"params": params}, share_images[i:i + 250], e_c=e_c)[1]["experts"])
                              for i in range(0, len(share_images), 250)])
    shares[f"{e_c:g}"] = token_shares(experts, classes)
  return {"images": len(masks), "classes": list(cfm.TOKEN_CLASS_NAMES),
          "by_e_c": shares}


def token_shares(experts, classes):
  """{class name: [share of its tokens on expert i]} over all blocks.

  Args:
    experts: int [layers, batch, tokens] or [batch, tokens] (the model's
      `aux["experts"]`: each token's expert per block; a class token, if
      any, is not among them).
    classes: int [batch, tokens], `cluttered_fashion_mnist.token_classes`.
  """
  experts = np.asarray(experts)
  if experts.ndim == 2:
    experts = experts[None]
  if experts.shape[1:] != classes.shape:
    raise ValueError(f"experts {experts.shape} do not match token classes "
                     f"{classes.shape} (layers, batch, tokens).")
  num_experts = plan_lib.NUM_EXPERTS
  out = {}
  for c, name in enumerate(cfm.TOKEN_CLASS_NAMES):
    picked = experts[:, classes == c]
    counts = np.bincount(picked.ravel(), minlength=num_experts)
    out[name] = (counts / max(1, picked.size)).round(4).tolist()
  return out


def run_one(run, workdir):
  """Trains and evaluates `run` in `workdir`; returns its result dict."""
  config = get_config(run.args, run.config)
  train_config = mlc.ConfigDict(config.to_dict())
  # Evaluated below, at every budget of the plan, from the last checkpoint.
  train_config.evals = {}
  t0 = time.time()
  train_lib.train_and_evaluate(train_config, workdir)
  t1 = time.time()
  rows = evaluate_lib.evaluate(config, workdir, run.eval_e_c)
  evaluate_lib.write_reports(rows, workdir)
  t2 = time.time()
  with open(os.path.join(workdir, "config.json"), "w") as f:
    f.write(config.to_json())  # With its evaluators, for `evaluate`.
  routed = [e for e in run.eval_e_c
            if isinstance(e, (int, float)) and e < 1]
  shares = None
  if run.routing and routed:
    shares = save_routing(config, workdir, sorted(set(routed)))
  for row, e_c in zip(rows, run.eval_e_c):  # evaluate keeps their order.
    row["budget"] = budgets_lib.name(e_c)
  return {"name": run.name, "args": run.args, "seed": run.seed,
          "recipe": plan_lib.recipe_tag("bv", _MODE.value),
          "command": run.command(workdir),
          "steps": trained_steps(workdir, int(config.total_steps)),
          "train_s": t1 - t0, "eval_s": t2 - t1, "rows": rows,
          "train_final": last_train_metrics(workdir),
          "train_trace": train_trace(workdir), "token_shares": shares}


def trained_steps(workdir, default):
  """Steps trained (the trainer scales them for isoFLOPs)."""
  last = os.path.join(workdir, "checkpoint.bv-LAST")
  if os.path.exists(last):
    with open(last) as f:
      text = f.read().strip()
    if text.isdigit():
      return int(text)
  return default


def train_rows(workdir):
  """The trainer's logged training rows, by step (a resume's repeats dropped)."""
  src = os.path.join(workdir, "big_vision_metrics.txt")
  rows = []
  if os.path.exists(src):
    with open(src) as f:
      for line in f:
        try:
          m = json.loads(line)
        except ValueError:
          continue
        if "training_loss" in m:  # A resumed run logs its steps again.
          rows = [r for r in rows if r["step"] < m["step"]] + [m]
  return rows


def last_train_metrics(workdir):
  """The last logged training metrics (loss, alpha, router gradient...)."""
  rows = train_rows(workdir)
  return {k: v for k, v in (rows[-1] if rows else {}).items()
          if isinstance(v, (int, float)) and not k.startswith(("test", "val"))}


# Logged training metrics kept step by step: the loss and the router's life
# (alpha is tanh|raw|, the MLP-branch scale; the router's gradient norm).
TRACE_KEYS = ("training_loss", "alpha/", "l2_router_grads/")


def train_trace(workdir, points=20):
  """{metric: [[step, value]]} of TRACE_KEYS at ~`points` logged steps."""
  rows = train_rows(workdir)
  every = max(1, len(rows) // points)
  kept = rows[::every] + ([rows[-1]] if rows and (len(rows) - 1) % every
                          else [])
  out = {}
  for m in kept:
    for k, v in m.items():
      if k.startswith(TRACE_KEYS) and isinstance(v, (int, float)):
        out.setdefault(k, []).append([m["step"], v])
  return out


def write_summary(summary_dir, run, result, workdir):
  """The run's committed summary (and routing arrays), from its result."""
  summary = summaries_lib.make(
      "bv", run.name, _MODE.value, args=run.args, seed=run.seed,
      steps=result["steps"],
      wall_s=round(result["train_s"] + result["eval_s"], 1),
      train_s=round(result["train_s"], 1), eval_s=round(result["eval_s"], 1),
      command=run.command(f"workdirs/results/{_MODE.value}/bv/{run.name}"),
      eval_budgets=list(run.eval_names()), group=run.group,
      rows=result["rows"], train_final=result.get("train_final", {}),
      train_trace=result.get("train_trace"),
      token_shares=result.get("token_shares"))
  routing = os.path.join(workdir, "routing.npz")
  if os.path.exists(routing):
    summaries_lib.write_routing(summary_dir, run.name, routing)
  return summaries_lib.write(summary_dir, summary)


def matching_result(result_path, run):
  """The workdir's result if it is `run` of the plan's recipe, else None."""
  if not os.path.exists(result_path):
    return None
  with open(result_path) as f:
    result = json.load(f)
  budgets = {r.get("budget") for r in result.get("rows", [])}
  if (result.get("recipe") != plan_lib.recipe_tag("bv", _MODE.value) or
      result.get("args") != run.args or
      not set(run.eval_names()) <= budgets):
    return None
  return result


def fresh_workdir(workdir, run):
  """Empties a workdir left by another recipe or arguments (scratch)."""
  stamp = os.path.join(workdir, "recipe")
  want = f"{plan_lib.recipe_tag('bv', _MODE.value)} {run.args}"
  if os.path.isdir(workdir):
    have = open(stamp).read() if os.path.exists(stamp) else None
    if have != want:
      logging.info("Workdir %s is of another recipe (%s): started afresh.",
                   workdir, have)
      for entry in os.listdir(workdir):
        if entry != "claim":
          p = os.path.join(workdir, entry)
          shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)
  with open(stamp, "w") as f:
    f.write(want)


def main(argv):
  del argv
  jax.config.parse_flags_with_absl()
  jax.config.update("jax_threefry_partitionable", True)
  runs = plan_lib.bv_runs(_MODE.value)
  if _RUNS.value:
    unknown = set(_RUNS.value) - {r.name for r in runs}
    if unknown:
      raise ValueError(f"--runs {sorted(unknown)} are not in the "
                       f"{_MODE.value} plan: {[r.name for r in runs]}.")
    runs = [r for r in runs if r.name in _RUNS.value]
  summary_dir = _SUMMARIES.value
  failed = []
  for run in runs:
    workdir = os.path.join(_ROOT.value, "bv", run.name)
    result_path = os.path.join(workdir, "result.json")
    if summary_dir and summaries_lib.done(summary_dir, _MODE.value, run):
      continue
    result = matching_result(result_path, run)
    if result is not None:  # Trained, but its summary is not there.
      if summary_dir:
        write_summary(summary_dir, run, result, workdir)
      continue
    if _DEADLINE.value and (
        time.time() + run.cost * _SEC_PER_COST.value > _DEADLINE.value):
      print(f"skip {run.name}: would end after the deadline", flush=True)
      continue
    if not claim(workdir):
      continue
    if matching_result(result_path, run) is not None:  # Finished meanwhile.
      os.remove(os.path.join(workdir, "claim"))
      continue
    fresh_workdir(workdir, run)
    logging.info("Results run %s: %s", run.name, run.command(workdir))
    try:
      result = run_one(run, workdir)
    except Exception:  # pylint: disable=broad-except
      # One broken run must not cost the others of this session.
      logging.exception("Results run %s failed.", run.name)
      print(f"FAILED {run.name} (see this log)", flush=True)
      failed.append(run.name)
      os.remove(os.path.join(workdir, "claim"))
      continue
    with open(result_path + ".tmp", "w") as f:
      json.dump(result, f, indent=1)
    os.replace(result_path + ".tmp", result_path)
    if summary_dir:
      write_summary(summary_dir, run, result, workdir)
    os.remove(os.path.join(workdir, "claim"))
    print(f"done {run.name}: train {result['train_s']:.0f} s, eval "
          f"{result['eval_s']:.0f} s", flush=True)
  if failed:
    raise RuntimeError(f"Runs failed: {failed}; their tracebacks are above.")


if __name__ == "__main__":
  flags.mark_flag_as_required("root")
  app.run(main)
