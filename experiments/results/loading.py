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

"""Reads what a results plan's runs left, from their summaries only (Big
Vision runs, Scenic runs, the benchmark; `experiments.results.summaries`),
and the routing statistics of the saved maps.

Metric names are the budget names of `mone_plugin.budgets` (`ec0.4`,
`dense`, `expert0`), which both trainers write: nothing to translate.
"""

import json
import os

import numpy as np

from experiments.results import plan as plan_lib
from experiments.results import summaries as summaries_lib
from mone_plugin import budgets as budgets_lib

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
# The paper's V100 measurement (MoNE ViT-B/16 vs ViT-B/16).
PAPER_SPEEDUP, PAPER_FLOP_RATIO = 1.94, 2.31
NUM_EXPERTS = 4
CLAIM_POINTS = 0.5  # "within 0.5 points of the dense model".
DENSE_TARGET = 0.91  # The dense ViT of the recipe should reach >= 91%.
NEAR_POINTS = 1.0  # Video MoNE, and the adaptive model: within 1 point.
FIGURE3_RANGE = (2.0, 3.0)  # FLOP reductions where MoNE should lead.
STEEP_POINTS_PER_DOUBLING = 0.5  # A dense family gaining less is "flat".
METRIC = "test/prec@1"


def read_json(path):
  """The JSON file at `path`, or None when it is not there."""
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)


class Runs:
  """The Big Vision runs of a plan, by name, from their summaries."""

  def __init__(self, summary_dir, mode="full", results=None):
    self.dir = summary_dir
    self.mode = mode
    self.results = dict(results) if results is not None else (
        summaries_lib.load(summary_dir, "bv", mode))

  def get(self, name):
    return self.results.get(name)

  def train_e_c(self, name):
    """The e_c run `name` trained at (None: dense or a sampled grid)."""
    for arg in self.get(name)["args"].split(","):
      if arg.startswith("e_c="):
        return float(arg[len("e_c="):])
    return None

  def steps(self, name):
    """Steps trained (the trainer scales them for isoFLOPs)."""
    return self.get(name)["steps"]

  def row(self, name, e_c="train"):
    """The evaluation of run `name` at budget `e_c` ("train": its own)."""
    r = self.get(name)
    if r is None:
      return None
    if e_c == "train":
      e_c = self.train_e_c(name)
    want = budgets_lib.name(e_c)
    for row in r["rows"]:
      if row.get("budget") == want:
        return row
    return None

  def acc(self, name, e_c="train"):
    """prec@1 of run `name` at `e_c` ("train": its training e_c)."""
    row = self.row(name, e_c)
    return None if row is None else row.get(METRIC)

  def gflops(self, name, e_c="train"):
    row = self.row(name, e_c)
    return None if row is None else row["gflops"]

  def seconds(self, names):
    return sum(self.results[n]["train_s"] + self.results[n]["eval_s"]
               for n in names if n in self.results)

  def command(self, name):
    r = self.get(name)
    return None if r is None else r["command"]

  def routing(self, name):
    """The run's saved test images and experts (None: not saved)."""
    return summaries_lib.read_routing(self.dir, name)


class Results:
  """Everything the page reads: the summaries of one plan's runs."""

  def __init__(self, summary_dir, mode="full"):
    self.dir = summary_dir
    self.mode = mode
    self.bv = Runs(summary_dir, mode)
    self.scenic = summaries_lib.load(summary_dir, "scenic", mode)
    self.benchmarks = summaries_lib.load(summary_dir, "benchmark", mode)

  def scenic_eval(self, name):
    """A Scenic run's `final_eval.json` (None: not run)."""
    return (self.scenic.get(name) or {}).get("final_eval")

  def benchmark(self, model):
    """The benchmark's JSON of `model` (vit, vivit), or None."""
    return (self.benchmarks.get(f"benchmark_{model}") or {}).get("result")

  def wall(self, name):
    """Wall seconds of a Scenic run or benchmark (0: unknown)."""
    s = self.scenic.get(name) or self.benchmarks.get(name) or {}
    return s.get("wall_s") or 0

  def routing(self, name):
    return summaries_lib.read_routing(self.dir, name)


def arg_value(args, key):
  """The value of `key=...` in a config argument string (None: absent)."""
  for a in args.split(" ")[0].split(","):
    if a.startswith(key + "="):
      return a.split("=", 1)[1]
  return None


# The config defaults a probe's arguments leave out (configs/
# mone_fashion_mnist.py), so that probes can be compared setting by setting.
PROBE_DEFAULTS = dict(batch="128", lr="0.006", width="64", depth="4",
                      res="32", flip="yes")


def probe_settings(args, defaults=None):
  """The settings of a probe's arguments that its table compares."""
  head = args.split(" ")[0].split(",")
  settings = {k: arg_value(args, k) or v
              for k, v in (defaults or PROBE_DEFAULTS).items()}
  settings["flip"] = "no" if "noflip" in head else "yes"
  return settings


def recipe_probes(summary_dir, prefix="recipe_", defaults=None):
  """The dense recipe probes on the validation split (`<prefix>*.json`).

  One dict per trained model, sorted by name: name, args, steps, settings
  (`probe_settings` with `defaults` and steps), val (the last validation
  precision@1), val_by_step, wall_s, gflops (per image; None if not
  recorded). Probes of one file that sweep a value (`by_lr`) give one dict
  per value.
  """
  probes = []
  if not os.path.isdir(summary_dir):
    return probes
  paths = sorted(p for p in os.listdir(summary_dir)
                 if p.startswith(prefix) and p.endswith(".json"))
  for p in paths:
    s = read_json(os.path.join(summary_dir, p))
    name = p[:-len(".json")]
    sweeps = [(f"{name} (lr {lr})", s["args"].replace("<lr>", lr), run)
              for lr, run in s.get("by_lr", {}).items()] or [
                  (name, s["args"], s)]
    for label, args, run in sweeps:
      evals = run.get("eval_val") or []
      if not evals:
        continue
      acc = lambda e: e.get("prec@1", e.get("prec_1"))  # pylint: disable=cell-var-from-loop
      steps = arg_value(args, "steps") or s.get("steps")
      probes.append(dict(
          name=label, args=args, steps=int(steps),
          settings={**probe_settings(args, defaults), "steps": str(steps)},
          val=acc(evals[-1]),
          val_by_step=[(e["step"], acc(e)) for e in evals],
          wall_s=run.get("wall_s"), gflops=run.get("gflops"),
          train_loss=run.get("final_training_loss")))
  return probes


def seeded(runs, prefix):
  """The runs `<prefix>_s<seed>` of the plan's seeds that exist."""
  names = [f"{prefix}_s{s}" for s in plan_lib.SEEDS]
  return [n for n in names if runs.get(n)]


def scenic_metric(result, metric, e_c):
  """`<metric>_<budget name>` of a Scenic summary (None: not there)."""
  return (result or {}).get(f"{metric}_{budgets_lib.name(e_c)}")


def _large_share(experts, mask):
  """Share of the tokens in `mask` on the two largest experts."""
  sel = experts[mask]
  return float(np.mean(sel >= NUM_EXPERTS - 2)) if sel.size else float("nan")


def routing_stats(images, experts, patch):
  """(share on the 2 largest experts of object tokens, of background)."""
  b, hh, ww = images.shape[:3]
  h, w = hh // patch[0], ww // patch[1]
  patches = images[:, :h * patch[0], :w * patch[1]].mean(-1).reshape(
      b, h, patch[0], w, patch[1])
  obj = patches.max(axis=(2, 4)) > -0.8  # Background pixels are -1.
  e = np.asarray(experts).reshape(b, h, w)
  return _large_share(e, obj), _large_share(e, ~obj), float(obj.mean())


def video_stats(inputs, experts):
  """Shares on the 2 largest experts: moving, still object, background."""
  n, t, hh, ww = inputs.shape[:4]
  _, tt, h, w = experts.shape
  ph, pw = hh // h, ww // w
  x = inputs.mean(-1).reshape(n, tt, t // tt, h, ph, w, pw)
  moving = np.abs(x[:, :, -1] - x[:, :, 0]).max(axis=(3, 5)) > 0.2
  obj = x.max(axis=(2, 4, 6)) > -0.8
  return (_large_share(experts, moving), _large_share(experts, obj & ~moving),
          _large_share(experts, ~obj))

