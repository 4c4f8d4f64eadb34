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

"""Small, committed summaries of finished runs: what makes the plan resumable.

Each finished run of a results plan leaves `<dir>/<run name>.json` (`dir` is
`<out>/results/runs`: docs/results/runs for the full plan, so they are
committed; under `--out` for the reduced one). A summary holds everything the
page needs (final metrics of every budget with its GFLOPs, the config
arguments, seed, steps, wall seconds, date, git commit, the machine it ran on)
and the recipe tag of
`plan.recipe_tag`. The plan skips a run whose summary matches it (same recipe,
same arguments, every budget evaluated); the report reads summaries only, so
the page can be regenerated from committed files alone. A summary of another
recipe is stale: ignored, with a log line, and its run is redone.

Files of that directory without a `kind` (diagnostic probes of other
sessions) are not summaries of the plan and are left alone.
"""

import datetime
import glob
import json
import os
import platform
import shutil
import subprocess

from absl import logging
import numpy as np

from experiments.results import plan as plan_lib

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
KINDS = ("bv", "scenic", "benchmark")
FORMAT = 1


def directory(out):
  """Where the summaries of a page written to `out` live."""
  return os.path.join(out, "results", "runs")


def path(summary_dir, name):
  return os.path.join(summary_dir, f"{name}.json")


def routing_path(summary_dir, name):
  """The routing arrays beside a summary (images: uint8, to stay small)."""
  return os.path.join(summary_dir, f"{name}.routing.npz")


def git_commit(repo=REPO):
  """The checkout's commit, '+dirty' if it has changes; None without git."""
  try:
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo,
                            capture_output=True, text=True, check=True,
                            timeout=30).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                           cwd=repo, capture_output=True, text=True,
                           check=True, timeout=30).stdout.strip()
  except (OSError, subprocess.SubprocessError):
    return None
  return commit + ("+dirty" if dirty else "")


def machine():
  """The machine this process runs on, in words (CPU model and cores)."""
  cpu = platform.processor() or platform.machine()
  if os.path.exists("/proc/cpuinfo"):
    with open("/proc/cpuinfo") as f:
      for line in f:
        if line.startswith("model name"):
          cpu = line.split(":", 1)[1].strip()
          break
  return f"{os.cpu_count()} CPU cores ({cpu}), no accelerator"


def machines(summaries):
  """{machine: number of summaries}; None counts those that record none.

  Wall times are comparable only between runs of one machine, so the page
  says which machines its runs ran on (summaries of format 1 written before
  2026-12-05 do not record it).
  """
  counts = {}
  for s in summaries:
    m = s.get("machine")
    counts[m] = counts.get(m, 0) + 1
  return counts


def _jsonable(x):
  if isinstance(x, dict):
    return {str(k): _jsonable(v) for k, v in x.items()}
  if isinstance(x, (list, tuple)):
    return [_jsonable(v) for v in x]
  if isinstance(x, np.generic):
    return x.item()
  return x


def make(kind, name, mode, *, args, seed=0, steps=None, wall_s=None,
         **fields):
  """A summary dict of run `name` of `kind` (see the module docstring)."""
  if kind not in KINDS:
    raise ValueError(f"kind={kind!r} is unknown; allowed: {KINDS}.")
  return _jsonable({
      "format": FORMAT, "kind": kind, "name": name, "mode": mode,
      "recipe": plan_lib.recipe_tag(kind, mode),
      # What the tag stands for, readable (image runs of the full plan).
      "recipe_spec": ({**plan_lib.RECIPE, "extra": list(plan_lib.RECIPE_EXTRA)}
                      if kind == "bv" and mode == "full" else None),
      "args": args, "seed": seed,
      "steps": steps, "wall_s": wall_s,
      "date": datetime.datetime.now(datetime.timezone.utc).strftime(
          "%Y-%m-%dT%H:%M:%SZ"),
      "commit": git_commit(), "machine": machine(), **fields})


def write(summary_dir, summary):
  """Writes `summary` atomically (a killed writer leaves no half file)."""
  os.makedirs(summary_dir, exist_ok=True)
  dst = path(summary_dir, summary["name"])
  with open(dst + ".tmp", "w") as f:
    json.dump(summary, f, indent=1)
    f.write("\n")
  os.replace(dst + ".tmp", dst)
  return dst


def write_routing(summary_dir, name, src):
  """Copies a routing.npz beside the summary, images as uint8 in [0, 255]."""
  with np.load(src) as z:
    arrays = dict(z)
  for key in ("images", "inputs"):
    if key in arrays and arrays[key].dtype != np.uint8:
      arrays[key] = np.round(
          (np.clip(arrays[key], -1, 1) + 1) * 127.5).astype(np.uint8)
  dst = routing_path(summary_dir, name)
  os.makedirs(summary_dir, exist_ok=True)  # Its run may be the first.
  np.savez_compressed(dst + ".tmp.npz", **arrays)
  shutil.move(dst + ".tmp.npz", dst)
  return dst


def read_routing(summary_dir, name):
  """The routing arrays of run `name` (images back in [-1, 1]), or None."""
  src = routing_path(summary_dir, name)
  if not os.path.exists(src):
    return None
  with np.load(src) as z:
    arrays = dict(z)
  for key in ("images", "inputs"):
    if key in arrays and arrays[key].dtype == np.uint8:
      arrays[key] = arrays[key].astype(np.float32) / 127.5 - 1
  return arrays


def stale_reason(summary, kind, mode, args=None, budgets=()):
  """Why `summary` does not count for the plan (None: it does)."""
  if summary.get("kind") != kind:
    return f"kind {summary.get('kind')!r}, not {kind!r}"
  if summary.get("mode") != mode:
    return f"mode {summary.get('mode')!r}, not {mode!r}"
  want = plan_lib.recipe_tag(kind, mode)
  if summary.get("recipe") != want:
    return f"recipe {summary.get('recipe')!r}, not the plan's {want!r}"
  if args is not None and (
      plan_lib.resolved_args(summary.get("args") or "") !=
      plan_lib.resolved_args(args) if kind == "bv" else
      summary.get("args") != args):
    return f"args {summary.get('args')!r}, not the plan's {args!r}"
  have = {r.get("budget") for r in summary.get("rows", [])}
  missing = [b for b in budgets if b not in have]
  if missing:
    return f"budgets {missing} not evaluated"
  return None


def load(summary_dir, kind, mode, log=True):
  """{name: summary} of `kind` and `mode` there; stale ones are skipped."""
  out = {}
  for src in sorted(glob.glob(os.path.join(summary_dir, "*.json"))):
    try:
      with open(src) as f:
        summary = json.load(f)
    except (OSError, ValueError) as e:
      logging.warning("Summary %s is unreadable (%s): ignored.", src, e)
      continue
    if not isinstance(summary, dict) or "kind" not in summary:
      continue  # Not a summary of the plan (a probe's notes).
    if summary["kind"] != kind:
      continue
    reason = stale_reason(summary, kind, mode)
    if reason:
      if log:
        logging.info("Stale summary %s ignored: %s.", src, reason)
      continue
    out[summary["name"]] = summary
  return out


def done(summary_dir, mode, run):
  """Whether `run` (a plan.BvRun or plan.ScenicRun) has a valid summary."""
  src = path(summary_dir, run.name)
  if not os.path.exists(src):
    return False
  with open(src) as f:
    try:
      summary = json.load(f)
    except ValueError:
      return False
  if isinstance(run, plan_lib.BvRun):
    reason = stale_reason(summary, "bv", mode, run.args, run.eval_names())
  else:
    reason = stale_reason(summary, "scenic", mode, scenic_args(run))
  if reason:
    logging.info("Stale summary %s (the run is redone): %s.", src, reason)
  return reason is None


def scenic_args(run):
  """A Scenic run's arguments as recorded (workdir-independent)."""
  return " ".join([f"--config={run.config}", *run.overrides])
