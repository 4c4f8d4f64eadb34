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
r"""Recipe tuning of the dense ViT on the validation split (towards the dense target).

  python -m experiments.recipe_probe --probes=lr0.003,lr0.0015 \
      [--out_dir=docs/results/runs] [--workdir_root=workdirs/recipe]

Each probe is a dense ViT trained through Big Vision's trainer
(`mone_plugin.big_vision.train`) on train[:50000] and evaluated on the
held-out train[50000:] (the config's `val`); the test split is never touched.
A probe writes `recipe_r3_<name>.json` (validation precision@1 by step, final
training loss, wall time, machine, commit) into `--out_dir` and is skipped
when that file exists; a killed probe resumes from its workdir's checkpoint.
Run one probe at a time: wall times are only comparable on idle cores.
"""

import json
import os
import subprocess
import sys
import time

from absl import app
from absl import flags
from absl import logging

from experiments.results import plan
from experiments.results import summaries

_PROBES = flags.DEFINE_list(
    "probes", None, "Names of the probes to run (see PROBES), in order.")
_OUT_DIR = flags.DEFINE_string(
    "out_dir", "docs/results/runs", "Where the probe summaries go.")
_WORKDIR_ROOT = flags.DEFINE_string(
    "workdir_root", "workdirs/recipe", "Parent of the probes' workdirs.")

CONFIG = "configs/mone_fashion_mnist.py"
# The recipe r2 (experiments/results/plan.py) on the validation split: every
# probe changes only what its name says.
BASE = {**plan.RECIPE, "seed": 0}
PROBES = {
    "lr0.003": dict(lr=0.003),
    "lr0.0015": dict(lr=0.0015),
    # The same images as 3000 steps of batch 128, in twice the updates.
    "b64_lr0.003": dict(batch=64, steps=6000, lr=0.003),
    # Native 28 px images (49 tokens instead of 64): cheaper steps.
    "res28_lr0.003": dict(lr=0.003, res=28),
    "res28_lr0.003_noflip": dict(lr=0.003, res=28, noflip=True),
    # Is the dense family flat past width 64 (width 96: 85.2% test at lr
    # 0.006) because the learning rate is too high for wider models?
    "w96_lr0.003": dict(lr=0.003, width=96, mlp=384),
    "lr0.003_6000steps": dict(lr=0.003, steps=6000),
    "depth6_lr0.003": dict(lr=0.003, depth=6),
    # Lower still: 0.0015 beat 0.003 at 3000 steps.
    "lr0.00075": dict(lr=0.00075),
    "lr0.0015_6000steps": dict(lr=0.0015, steps=6000),
}


def args_of(name, probes=None, base=None):
  """The config arguments of probe `name` of `probes` (default: PROBES)."""
  probes = PROBES if probes is None else probes
  if name not in probes:
    raise ValueError(f"probe {name!r} is unknown; allowed: {sorted(probes)}.")
  spec = {**(BASE if base is None else base), **probes[name]}
  return ",".join(["dense", "val"] + [
      k if v is True else f"{k}={v}" for k, v in spec.items()])


def read_metrics(workdir):
  """Validation accuracy by step, last training loss, longest uptime (s)."""
  evals, loss, uptime = [], None, 0.0
  with open(os.path.join(workdir, "big_vision_metrics.txt")) as f:
    for line in f:
      m = json.loads(line)
      for k, v in m.items():  # val/prec@1 (or val_<budget>/prec@1).
        if k.startswith("val") and k.endswith("/prec@1"):
          # A resumed finished run evaluates its last step again.
          evals = [e for e in evals if e["step"] != m["step"]]
          evals.append(dict(step=m["step"], prec_1=round(v, 4)))
      if "training_loss" in m:
        loss = round(m["training_loss"], 4)
      uptime = max(uptime, m.get("uptime", 0.0))
  return evals, loss, uptime


def read_gflops(workdir):
  """The trainer's logged inference GFLOPs per image (None if not logged)."""
  with open(os.path.join(workdir, "big_vision_metrics.txt")) as f:
    for line in f:
      m = json.loads(line)
      if "gflops_dense" in m:
        return m["gflops_dense"]
  return None


def run_probe(name, out_dir, workdir_root, *, args=None, config=CONFIG,
              prefix="recipe_r3",
              split="train[:50000] -> evaluated on train[50000:] (val)"):
  """Trains probe `name` (resuming its workdir) and writes its summary.

  Args:
    name: the probe's name.
    out_dir: where its summary `<prefix>_<name>.json` goes.
    workdir_root: parent of its workdir.
    args: its config arguments (default: `args_of(name)`).
    config: the Big Vision config file.
    prefix: the summary's file name prefix and tag (the recipe round).
    split: what it trained and evaluated on, for the summary.
  """
  out = os.path.join(out_dir, f"{prefix}_{name}.json")
  if os.path.exists(out):
    logging.info("%s: done (%s)", name, out)
    return
  workdir = os.path.join(workdir_root, name)
  args = args or args_of(name)
  cmd = [sys.executable, "-m", "mone_plugin.big_vision.train",
         f"--config={config}:{args}", f"--workdir={workdir}"]
  logging.info("%s: %s", name, " ".join(cmd))
  start = time.time()
  subprocess.run(cmd, check=True,
                 env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
  evals, loss, uptime = read_metrics(workdir)
  if not evals:
    raise RuntimeError(f"{name}: no val/prec@1 in {workdir}; see its log.")
  summary = dict(
      probe=(f"{prefix.replace('_', ' ')} tuning, dense ViT on the "
             f"validation split: {name}"),
      args=args, config=config,
      split=f"{split}; the test split was not evaluated",
      eval_val=evals, final_val_prec_1=evals[-1]["prec_1"],
      final_training_loss=loss, gflops=read_gflops(workdir),
      # A resumed probe: its trainer's longest uptime, if that is longer.
      wall_s=round(max(time.time() - start, uptime)),
      machine=summaries.machine(), commit=summaries.git_commit(),
      date=time.strftime("%Y-%m-%d"))
  os.makedirs(out_dir, exist_ok=True)
  with open(out, "w") as f:
    json.dump(summary, f, indent=1)
  logging.info("%s: val %.4f, %d s -> %s", name, evals[-1]["prec_1"],
               summary["wall_s"], out)


def main(argv):
  del argv
  for name in _PROBES.value:
    args_of(name)  # Unknown names fail before any training.
  for name in _PROBES.value:
    run_probe(name, _OUT_DIR.value, _WORKDIR_ROOT.value)


if __name__ == "__main__":
  flags.mark_flag_as_required("probes")
  app.run(main)
