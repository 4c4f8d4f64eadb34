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

  python -m experiments.results.bv_worker --root=<results dir> [--mode=full]

Each run trains with Big Vision's loop (`mone_plugin.big_vision.train`) and
the default config, then evaluates its last checkpoint at the plan's e_c
values with Big Vision's evaluators (`mone_plugin.big_vision.evaluate`), and
writes `<root>/bv/<run>/result.json`. Several workers share one plan: each
claims a run by creating `<run>/claim` and skips finished runs, so a killed
plan resumes (a killed run resumes from its checkpoint). One process serves
many runs because importing TF, JAX and Big Vision takes longer than a small
run's compilation.
"""

import importlib.util
import json
import os
import time

from absl import app
from absl import flags
from absl import logging
import jax
import ml_collections as mlc
import numpy as np

from mone_plugin.big_vision import evaluate as evaluate_lib
from mone_plugin.big_vision import train as train_lib
from experiments.results import plan as plan_lib

_ROOT = flags.DEFINE_string("root", None, "Results directory.")
_MODE = flags.DEFINE_enum("mode", "full", plan_lib.MODES, "Which plan.")
_RUNS = flags.DEFINE_list("runs", None, "Only these runs (default: all).")

CONFIG = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "configs", "mone_fashion_mnist.py")
ROUTING_IMAGES = 16


def get_config(args):
  """`configs/mone_fashion_mnist.py:<args>`, as `--config=` would load it."""
  spec = importlib.util.spec_from_file_location("mone_fashion_mnist", CONFIG)
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


def run_one(run, workdir):
  """Trains and evaluates `run` in `workdir`; returns its result dict."""
  config = get_config(run.args)
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
  routed = [e for e in run.eval_e_c if e is not None and e < 1]
  if run.routing and routed:
    save_routing(config, workdir, sorted(set(routed)))
  return {"name": run.name, "args": run.args, "seed": run.seed,
          "command": run.command(workdir),
          "steps": int(config.total_steps), "train_s": t1 - t0,
          "eval_s": t2 - t1, "rows": rows}


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
  for run in runs:
    workdir = os.path.join(_ROOT.value, "bv", run.name)
    result_path = os.path.join(workdir, "result.json")
    if os.path.exists(result_path) or not claim(workdir):
      continue
    logging.info("Results run %s: %s", run.name, run.command(workdir))
    result = run_one(run, workdir)
    with open(result_path + ".tmp", "w") as f:
      json.dump(result, f, indent=1)
    os.replace(result_path + ".tmp", result_path)
    os.remove(os.path.join(workdir, "claim"))
    print(f"done {run.name}: train {result['train_s']:.0f} s, eval "
          f"{result['eval_s']:.0f} s", flush=True)


if __name__ == "__main__":
  flags.mark_flag_as_required("root")
  app.run(main)
