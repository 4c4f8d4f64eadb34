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

r"""Evaluates a trained MoNE model at several compute budgets.

  python -m mone_plugin.big_vision.evaluate --workdir /tmp/mone_fmnist \
      [--e_c=0.2,0.3,...,1.0 | --gflops=0.004,0.006] [--config=<file>:<args>]

Reads the run's config (`workdir/config.json`, written by the trainer, unless
--config is given) and its last checkpoint, runs every evaluator of the config
once per e_c with Big Vision's own evaluators, and writes to the workdir:
`mone_eval.json` and `mone_eval.csv` (one row per e_c: GFLOPs per image and
each metric) and `mone_eval.png` (accuracy vs GFLOPs). "dense" in --e_c is the
dense ViT path; `--gflops` gives the budgets in GFLOPs per image instead (each
evaluated at the e_c that meets it). `--reference=<workdir>` draws another run's evaluation (e.g.
the dense ViT of the same recipe) beside the curve and adds its rows, marked
with their source; a recipe that differs from this run's is said in the label
and the log.
"""

import csv
import functools
import importlib
import json
import os

from absl import app
from absl import flags
from absl import logging
import big_vision.evaluators.common as eval_common
import big_vision.input_pipeline as input_pipeline
import big_vision.utils as u
import flax.linen as nn
import jax
import jax.numpy as jnp
import matplotlib
import ml_collections as mlc
from ml_collections import config_flags
import numpy as np
import tensorflow as tf

from tensorflow.io import gfile

from mone_plugin import budgets as budgets_lib
from mone_plugin import checkpoints
from mone_plugin import flops
from mone_plugin.big_vision import trainer_config
from mone_plugin.data import prepare

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top,g-bad-import-order

DEFAULT_E_C = tuple(round(0.1 * i, 1) for i in range(2, 11))
# The config fields that make two runs "the same recipe" for a reference.
RECIPE_KEYS = ("total_steps", "input.batch_size", "lr", "wd", "schedule",
               "model.patch_size", "model.width", "model.depth",
               "model.mlp_dim", "model.num_heads", "seed")


def load_config(workdir, config=None):
  """The run's config: `config` if given, else the workdir's config.json."""
  if config is not None:
    return config
  path = os.path.join(workdir, "config.json")
  if not gfile.exists(path):
    raise FileNotFoundError(f"{path} does not exist: pass --config, or a "
                            "--workdir the MoNE trainer has written to.")
  with gfile.GFile(path) as f:
    return mlc.ConfigDict(json.loads(f.read()))


def evaluate(config, workdir, e_cs=DEFAULT_E_C, gflops=None):
  """Runs the config's evaluators at each e_c; returns one row per e_c.

  `gflops` (GFLOPs per image), if given, replaces `e_cs` by the e_c meeting
  each budget (`flops.e_c_for_gflops`).
  """
  # The last complete checkpoint, refused if a file is missing (zarr would
  # read it as zeros), a shape differs or a value is NaN/inf (in `load`).
  ckpt, _ = checkpoints.resolve_last(os.path.join(workdir, "checkpoint.bv"))
  if not os.path.isdir(ckpt):
    raise FileNotFoundError(f"No checkpoint in {workdir} (no {ckpt}).")
  checkpoints.check_chunks(ckpt)
  tf.config.set_visible_devices([], "GPU")
  for m in config.get("pp_modules", ["ops_general", "ops_image"]):
    importlib.import_module(f"big_vision.pp.{m}")
  for data in [config.input.data] + [
      e.data for e in config.get("evals", {}).values() if "data" in e]:
    prepare.check_prepared(data.name, data.get("data_dir"))
  mesh = u.create_device_mesh(config.get("mesh", [("data", -1)]))
  devices = mesh.devices.flatten()
  repl = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())

  model_mod = importlib.import_module(f"big_vision.models.{config.model_name}")
  model = model_mod.Model(
      num_classes=config.num_classes, **config.get("model", {}))
  train_ds, _ = input_pipeline.training(config.input)
  spec = train_ds.element_spec["image"]
  image_shape = tuple(spec.shape[1:])
  if gflops:
    kind, kw = budgets_lib.flops_config(model, image_shape)
    e_cs = tuple(flops.e_c_for_gflops(float(g), model=kind, **kw)
                 for g in gflops)
  for e_c in e_cs:  # Fail before loading anything.
    budgets_lib.check_budget(e_c, model.num_experts, model.capacity_method)
  logging.info("Loading %s", ckpt)
  params_shape = jax.eval_shape(
      lambda: model.init(jax.random.PRNGKey(0),
                         jnp.zeros((1, *image_shape), spec.dtype.as_numpy_dtype))
  )["params"]
  params = model_mod.load(params_shape, ckpt, config.get("model"))
  train_state = {"params": u.reshard(params, repl)}

  def predict_fn(train_state, batch, e_c=None):
    return model.apply(
        {"params": train_state["params"]}, batch["image"], e_c=e_c)

  specs = trainer_config.evals_per_budget(config.get("evals", {}), e_cs)
  evaluators = eval_common.from_config(
      {"evals": {k: mlc.ConfigDict(v) for k, v in specs.items()},
       **{k: config.get(k) for k in (
           "batch_size_eval", "input.batch_size", "batch_size")}},
      {"predict": predict_fn},
      lambda s: logging.info("Init evaluator %s", s),
      lambda key, cfg: None, devices)

  rows = {e: {"e_c": "dense" if e is None else e,
              "gflops": budgets_lib.gflops(model, image_shape, e)}
          for e in e_cs}
  for name, evaluator, _, prefix in evaluators:
    e_c = specs[name].get("pred_kw", {}).get("e_c")
    with mesh, nn.logical_axis_rules(config.get("sharding_rules", [])):
      for key, value in evaluator.run(train_state):
        value = float(jax.device_get(value))
        logging.info("%s%s = %.4f", prefix, key, value)
        suffix = f"_{budgets_lib.name(e_c)}"
        rows[e_c][f"{prefix.rstrip('/').removesuffix(suffix)}/{key}"] = value
    row = rows[e_c]
    print(f"e_c={row['e_c']!s:6} GFLOPs={row['gflops']:.5f}  " + "  ".join(
        f"{k}={v:.4f}" for k, v in row.items() if "/" in k), flush=True)
  return list(rows.values())


def _field(config, key):
  for part in key.split("."):
    config = config.get(part) if hasattr(config, "get") else None
  return config.to_dict() if hasattr(config, "to_dict") else config


def load_reference(path, config, prefix="mone_eval"):
  """Rows of another run's evaluation, marked with where they come from.

  Args:
    path: that run's workdir (its `config.json` and `<prefix>.json`).
    config: this run's config, to say whether the recipes match.
    prefix: the evaluation's file name.

  Returns:
    Its rows, each with `reference`: "<path>" when the two runs share the
    recipe (`RECIPE_KEYS`), else "<path> (recipe differs: ...)".
  """
  files = [os.path.join(path, f) for f in ("config.json", f"{prefix}.json")]
  missing = [f for f in files if not gfile.exists(f)]
  if missing:
    raise FileNotFoundError(
        f"--reference={path} is not an evaluated run: {missing} missing "
        f"(run the trainer, then `evaluate`, with --workdir={path}).")
  with gfile.GFile(files[1]) as f:
    rows = json.loads(f.read())
  ref = load_config(path)
  diffs = [f"{k} {_field(ref, k)} vs {_field(config, k)}" for k in RECIPE_KEYS
           if _field(ref, k) != _field(config, k)]
  source = path + (f" (recipe differs: {'; '.join(diffs)})" if diffs else "")
  if diffs:
    logging.warning("The reference %s", source)
  return [{**r, "reference": source} for r in rows]


def write_reports(rows, workdir, prefix="mone_eval"):
  """Writes `rows` as JSON, CSV and an accuracy-vs-GFLOPs plot.

  Rows with a `reference` field (`load_reference`) are drawn apart, as
  another model beside this run's curve.
  """
  base = os.path.join(workdir, prefix)
  with gfile.GFile(base + ".json", "w") as f:
    f.write(json.dumps(rows, indent=2))
  keys = list(dict.fromkeys(k for r in rows for k in r))
  with gfile.GFile(base + ".csv", "w") as f:
    w = csv.DictWriter(f, keys)
    w.writeheader()
    w.writerows(rows)
  metrics = [k for k in keys if k.endswith("/prec@1")]
  fig, ax = plt.subplots(figsize=(5, 3.5))
  own = [r for r in rows if "reference" not in r]
  for m in metrics:
    pts = [(r["gflops"], r[m], r["e_c"]) for r in own if m in r]
    ax.plot([p[0] for p in pts], [100 * p[1] for p in pts], "o-", label=m)
    for g, a, e in pts:
      ax.annotate(f"{e}", (g, 100 * a), textcoords="offset points",
                  xytext=(3, -10), fontsize=7)
  for r in rows:
    for m in metrics:
      if "reference" in r and m in r:
        name = "dense ViT" if r["e_c"] == "dense" else f"e_c {r['e_c']}"
        ax.plot([r["gflops"]], [100 * r[m]], "k*", markersize=10,
                label=f"{name}, {m}" + (
                    f": {r['reference']}" if "recipe differs" in
                    r["reference"] else f", same recipe: {r['reference']}"))
        ax.axhline(100 * r[m], color="k", lw=0.6, ls="--")
  ax.set_xlabel("GFLOPs per image")
  ax.set_ylabel("precision@1 (%)")
  ax.set_title("MoNE: accuracy vs compute (labels: e_c)")
  ax.grid(alpha=0.3)
  ax.legend(fontsize=6)
  fig.tight_layout()
  with gfile.GFile(base + ".png", "wb") as f:
    fig.savefig(f, format="png", dpi=120)
  plt.close(fig)
  return [base + s for s in (".json", ".csv", ".png")]


def main(argv):
  del argv
  jax.config.parse_flags_with_absl()
  jax.config.update("jax_threefry_partitionable", True)
  workdir = flags.FLAGS.workdir
  config = load_config(workdir, flags.FLAGS.config)
  reference = (load_reference(flags.FLAGS.reference, config)
               if flags.FLAGS.reference else [])
  if flags.FLAGS["gflops"].present and flags.FLAGS["e_c"].present:
    raise app.UsageError("Give --e_c or --gflops, not both.")
  rows = evaluate(config, workdir, budgets_lib.parse_e_c(flags.FLAGS.e_c),
                  gflops=flags.FLAGS.gflops)
  for r in reference:
    print(f"reference {r['e_c']!s:6} GFLOPs={r['gflops']:.5f}  " + "  ".join(
        f"{k}={v:.4f}" for k, v in r.items() if "/" in k) +
          f"  ({r['reference']})", flush=True)
  rows += reference
  for path in write_reports(rows, workdir):
    logging.info("Wrote %s", path)
    print(f"Wrote {path}", flush=True)


if __name__ == "__main__":
  config_flags.DEFINE_config_file(
      "config", None, "Config of the run (default: workdir/config.json).")
  flags.DEFINE_string("workdir", None, "The trained run's workdir.")
  flags.DEFINE_list("e_c", [str(e) for e in DEFAULT_E_C],
                    "Budgets to evaluate at ('dense': the dense ViT path).")
  flags.DEFINE_list("gflops", None,
                    "Budgets in GFLOPs per image instead of --e_c (each "
                    "evaluated at the e_c that meets it).")
  flags.DEFINE_string(
      "reference", None, "Workdir of an evaluated run to draw beside this "
      "one (e.g. the dense ViT of the same recipe: `make run-reference`).")
  flags.mark_flag_as_required("workdir")
  app.run(main)
