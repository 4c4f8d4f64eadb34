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


r"""Regenerates docs/results.md: every experiment, the benchmark, the report.

  python -m experiments.results.run                  # make results (full)
  python -m experiments.results.run --budget_minutes=100   # a bounded chunk
  python -m experiments.results.run --max_runs=4           # at most 4 runs
  python -m experiments.results.run --mode=reduced \
      --root=/tmp/mone_results --out=/tmp/mone_results/docs  # a few minutes

Runs, through the frameworks' own trainers, the plan of
`experiments.results.plan`: the Big Vision image runs (in `--jobs` worker
processes that share the plan), the Scenic video runs (nested pretraining,
then the dense and MoNE ViViT runs initialised from it), then the speed
benchmark alone on the machine, and writes the report
(`experiments.results.report`) into `--out`.

Resumable across sessions: each finished run writes a small summary to
`<out>/results/runs/<run>.json` (docs/results/runs: commit them), and the
plan skips every run whose summary is there and of the plan's recipe
(`plan.RECIPE`); the report reads the summaries only. It says how many runs
are done and pending, and may be stopped at any time (Ctrl-C, SIGTERM): the
summaries written so far stay, a run killed half-way resumes from its last
checkpoint in `--root` if that is still there, and the next invocation goes
on. `--max_runs` and `--budget_minutes` bound one session's share; the page
is written at the end either way, saying which parts are pending. Logs:
`<root>/logs/`.
"""

import dataclasses
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time

from absl import app
from absl import flags
from absl import logging

from mone_plugin import frameworks
from experiments.results import plan as plan_lib
from experiments.results import report as report_lib
from experiments.results import summaries as summaries_lib

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

_MODE = flags.DEFINE_enum("mode", "full", plan_lib.MODES,
                          "full: the results page; reduced: a smoke run.")
_ROOT = flags.DEFINE_string("root", os.path.join(REPO, "workdirs", "results"),
                            "Where the runs go (<root>/<mode>).")
_OUT = flags.DEFINE_string("out", os.path.join(REPO, "docs"),
                           "Where results.md and its plots go.")
_JOBS = flags.DEFINE_integer("jobs", 2, "Processes run at once.")
_SKIP = flags.DEFINE_list("skip", [], "Parts not to run: any of bv, scenic, "
                          "benchmark (the report says what is missing).")
_MAX_RUNS = flags.DEFINE_integer(
    "max_runs", 0, "Run at most this many of the pending runs (training "
    "runs and benchmarks; 0: all), then write the page.")
_BUDGET = flags.DEFINE_float(
    "budget_minutes", 0, "Start no run after this many minutes, nor one "
    "whose estimated time (from the summaries of finished runs) would end "
    "after it; then write the page (0: no limit).")
_RUNS = flags.DEFINE_list(
    "runs", [], "Run only these pending runs of the plan (names as in "
    "docs/results/runs, e.g. dense_s0,ec0.3_s0; empty: any).")
_SUMMARIES = flags.DEFINE_string(
    "summaries", None, "Where the run summaries are (default: "
    "<out>/results/runs, docs/results/runs for `make results`).")

# Speed: as `make benchmark` (ViT-B/16, batch 8) and ViViT-FE-B/16x2 with 32
# frames (forward only, two budgets: one clip is 283 GFLOPs).
BENCHMARKS = {
    "full": {
        "vit": ["--model=vit", "--variant=B/16", "--batch=8", "--reps=5"],
        "vivit": ["--model=vivit", "--variant=B/16", "--batch=8",
                  "--reps=3", "--e_c=0.3,0.4"],
    },
    "reduced": {
        "vit": ["--model=vit", "--variant=mu/16", "--image_size=32",
                "--batch=2", "--reps=1", "--notrain"],
        "vivit": ["--model=vivit", "--variant=mu/16", "--image_size=32",
                  "--num_frames=4", "--batch=1", "--reps=1", "--e_c=0.3"],
    },
}


@dataclasses.dataclass
class Job:
  """A subprocess of the plan."""
  name: str
  argv: list[str]
  after: tuple[str, ...] = ()
  alone: bool = False  # Runs with nothing else (timings).
  done: str = ""  # A file that exists once the job has finished.
  summary: str = ""  # The summary it leaves (Scenic runs, benchmarks).


@dataclasses.dataclass
class Item:
  """A run of the plan that leaves a summary: its job's name and state."""
  name: str  # The summary's name.
  job: str  # The Job that produces it.
  done: bool
  cost: float = 1.0


def plan_items(mode, summary_dir, skip=()):
  """Every run of the plan that leaves a summary, and whether it is done."""
  items = []
  if "bv" not in skip:
    for run in plan_lib.bv_runs(mode):
      items.append(Item(run.name, "bv", summaries_lib.done(
          summary_dir, mode, run), run.cost))
  if "scenic" not in skip:
    for run in plan_lib.scenic_runs(mode):
      items.append(Item(run.name, f"scenic_{run.name}", summaries_lib.done(
          summary_dir, mode, run)))
  if "benchmark" not in skip:
    tag = plan_lib.recipe_tag("benchmark", mode)
    for model, args in BENCHMARKS[mode].items():
      name = f"benchmark_{model}"
      s = _read_json(summaries_lib.path(summary_dir, name))
      items.append(Item(name, name, bool(s) and s.get("recipe") == tag and
                        s.get("args") == args))
  return items


def _read_json(path):
  """The JSON file at `path`; None if it is missing or half-written."""
  if not os.path.exists(path):
    return None
  with open(path) as f:
    try:
      return json.load(f)
    except ValueError:
      return None


def select(items, max_runs, names=()):
  """The pending items this invocation runs (the first `max_runs`).

  Args:
    items: the plan's `Item`s.
    max_runs: at most this many (0: no limit).
    names: only these (empty: any); a name the plan does not have fails.
  """
  unknown = sorted(set(names) - {i.name for i in items})
  if unknown:
    raise ValueError(f"--runs={','.join(unknown)}: not runs of the plan; "
                     f"allowed: {', '.join(i.name for i in items)}.")
  pending = [i for i in items if not i.done and (not names or i.name in names)]
  return pending[:max_runs] if max_runs > 0 else pending


def jobs_for(mode, root, jobs, skip=(), chosen=None, summary_dir=None,
             deadline=0.0, sec_per_cost=0.0):
  """The plan's processes, in the order they should start.

  Args:
    mode: the plan.
    root: the runs' directory.
    jobs: processes at once (image workers).
    skip: parts not to run.
    chosen: names of the runs to run (None: the whole plan).
    summary_dir: where summaries go (None: none are written).
    deadline: unix time after which image workers start no run (0: none).
    sec_per_cost: seconds per unit of `BvRun.cost`, for that estimate.
  """
  py = [sys.executable, "-m"]
  out = []
  bv = [r.name for r in plan_lib.bv_runs(mode)
        if chosen is None or r.name in chosen]
  if "bv" not in skip and bv:
    extra = [f"--runs={','.join(bv)}"] if chosen is not None else []
    if summary_dir:
      extra.append(f"--summaries={summary_dir}")
    if deadline:
      extra += [f"--deadline={deadline}", f"--sec_per_cost={sec_per_cost}"]
    out += [Job(f"bv_worker{i}", py + [
        "experiments.results.bv_worker", f"--root={root}", f"--mode={mode}"]
                + extra) for i in range(max(1, min(jobs, len(bv))))]
  if "scenic" not in skip:
    runs = plan_lib.scenic_runs(mode)
    wanted = {r.name for r in runs if chosen is None or r.name in chosen}
    for run in runs:  # A chosen run needs the workdirs of its `after` runs.
      if run.name in wanted:
        wanted |= {a for a in run.after if not os.path.exists(
            f"{root}/scenic/{a}/final_eval.json")}
    first = True
    for run in runs:
      if run.name not in wanted:
        continue
      job = Job(f"scenic_{run.name}",
                py + ["projects.mone.main"] + run.argv(f"{root}/scenic"),
                after=tuple(f"scenic_{a}" for a in run.after
                            if a in wanted),
                done=f"{root}/scenic/{run.name}/final_eval.json",
                summary=run.name)
      # The nested pretraining starts beside the first image worker.
      out.insert(1 if first and out else len(out), job)
      first = False
  if "benchmark" not in skip:
    for model, args in BENCHMARKS[mode].items():
      if chosen is not None and f"benchmark_{model}" not in chosen:
        continue
      out.append(Job(f"benchmark_{model}", py + [
          "experiments.benchmark", *args,
          f"--json={root}/benchmark/{model}.json"],
                     after=tuple(j.name for j in out), alone=True,
                     done=f"{root}/benchmark/{model}.json",
                     summary=f"benchmark_{model}"))
  return out


def _record_walls(root, walls):
  """Merges {job: wall s} into <root>/walls.json (kept across resumes)."""
  path = os.path.join(root, "walls.json")
  previous = {}
  if os.path.exists(path):
    with open(path) as f:
      previous = json.load(f)
  merged = {**previous, **walls}
  if "plan_s" in walls:  # Wall time adds up over the plan's invocations.
    merged["plan_s"] = previous.get("plan_s", 0) + walls["plan_s"]
  with open(path + ".tmp", "w") as f:
    json.dump(merged, f, indent=1)
  os.replace(path + ".tmp", path)


class Stopped(Exception):
  """SIGTERM or Ctrl-C: the plan stops, what is finished stays."""


def _stop(signum, frame):
  del frame
  raise Stopped(signal.Signals(signum).name)


def run_jobs(jobs, root, parallel, on_done=None, deadline=0.0):
  """Runs `jobs` (at most `parallel` at once); returns {name: wall s}.

  Args:
    jobs: `Job`s, in the order they should start.
    root: the runs' directory (logs go to <root>/logs).
    parallel: processes at once.
    on_done: called with (job, wall s) when a job has finished (also for a
      job whose `done` file was already there: wall None).
    deadline: unix time after which no job starts (0: none).
  """
  logs = os.path.join(root, "logs")
  os.makedirs(logs, exist_ok=True)
  env = {**os.environ, "PYTHONPATH": os.pathsep.join(
      filter(None, [REPO, os.environ.get("PYTHONPATH")])),
         "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
  env.setdefault("JAX_COMPILATION_CACHE_DIR", os.path.join(root, "jax_cache"))
  walls, finished, running = {}, set(), {}
  pending = list(jobs)
  for job in list(pending):
    if job.done and os.path.exists(job.done):
      logging.info("%s: already done (%s)", job.name, job.done)
      finished.add(job.name)
      pending.remove(job)
      if on_done:
        on_done(job, None)
  failed = None
  try:
    while pending or running:
      if deadline and time.time() > deadline and pending:
        print(f"[{time.strftime('%H:%M:%S')}] budget spent: not starting "
              f"{', '.join(j.name for j in pending)}", flush=True)
        pending = []
      for job in list(pending):
        if failed or len(running) >= parallel:
          break
        ready = all(a in finished for a in job.after)
        if not ready or (job.alone and running) or any(
            j.alone for j, _, _ in running.values()):
          continue
        log = open(os.path.join(logs, f"{job.name}.log"), "a")
        logging.info("start %s: %s", job.name, " ".join(job.argv))
        print(f"[{time.strftime('%H:%M:%S')}] start {job.name}", flush=True)
        proc = subprocess.Popen(job.argv, cwd=REPO, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        running[job.name] = (job, proc, time.time())
        pending.remove(job)
        log.close()
      time.sleep(1)
      for name, (job, proc, t0) in list(running.items()):
        if proc.poll() is None:
          continue
        del running[name]
        walls[name] = round(time.time() - t0, 1)
        if not proc.returncode:
          _record_walls(root, {name: walls[name]})
        print(f"[{time.strftime('%H:%M:%S')}] {name}: exit {proc.returncode} "
              f"after {walls[name]:.0f} s", flush=True)
        if proc.returncode:
          failed = failed or name
        else:
          finished.add(name)
          if on_done:
            on_done(job, walls[name])
      if failed and not running:
        break
  except (Stopped, KeyboardInterrupt):
    # Children first: a run killed half-way resumes from its checkpoint.
    for name, (job, proc, _) in running.items():
      print(f"stopping {name}", flush=True)
      proc.terminate()
    for name, (job, proc, _) in running.items():
      try:
        proc.wait(timeout=30)
      except subprocess.TimeoutExpired:
        proc.kill()
    raise
  if failed:
    log = os.path.join(logs, f"{failed}.log")
    with open(log) as f:
      tail = f.read()[-3000:]
    raise RuntimeError(f"{failed} failed; its log is {log}:\n{tail}")
  return walls


def _alive(pid):
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False  # A lock left by a killed plan.
  except PermissionError:
    return True  # Someone else's process.
  return True


def _lock(root):
  """One plan per root at a time: <root>/plan.lock holds the pid."""
  path = os.path.join(root, "plan.lock")
  if os.path.exists(path):
    with open(path) as f:
      text = f.read().strip()
    pid = int(text) if text.isdigit() else 0
    if pid and pid != os.getpid() and _alive(pid):
      raise RuntimeError(f"Another plan (pid {pid}) runs in {root}; stop "
                         f"it or delete {path} if it is gone.")
  with open(path, "w") as f:
    f.write(str(os.getpid()))
  # Claims of image runs left by a killed plan: nobody works on them now.
  for claim in glob.glob(os.path.join(root, "bv", "*", "claim")):
    os.remove(claim)
  return path


def _stamp_scenic(root, mode, run):
  """Empties a Scenic workdir of another recipe (Scenic refuses a changed
  config on resume); returns the stamp it is marked with."""
  workdir = os.path.join(root, "scenic", run.name)
  stamp = os.path.join(workdir, "recipe")
  want = (f"{plan_lib.recipe_tag('scenic', mode)} "
          f"{summaries_lib.scenic_args(run)}")
  if os.path.isdir(workdir):
    have = open(stamp).read() if os.path.exists(stamp) else None
    if have != want:
      logging.info("%s is of another recipe (%s): started afresh.", workdir,
                   have)
      shutil.rmtree(workdir)
  os.makedirs(workdir, exist_ok=True)
  with open(stamp, "w") as f:
    f.write(want)


def summarise_job(mode, root, summary_dir, job, wall):
  """Writes the summary of a finished Scenic run or benchmark."""
  if not job.summary or not summary_dir:
    return
  if job.name.startswith("scenic_"):
    run = {r.name: r for r in plan_lib.scenic_runs(mode)}[job.summary]
    if summaries_lib.done(summary_dir, mode, run):
      return
    workdir = os.path.join(root, "scenic", run.name)
    final = _read_json(os.path.join(workdir, "final_eval.json"))
    if final is None:
      logging.warning("%s ended without final_eval.json: no summary.",
                      job.name)
      return
    walls = _read_json(os.path.join(root, "walls.json")) or {}
    summaries_lib.write(summary_dir, summaries_lib.make(
        "scenic", run.name, mode, args=summaries_lib.scenic_args(run),
        steps=final.get("step"), wall_s=wall or walls.get(job.name),
        final_eval=final))
    maps = sorted(glob.glob(os.path.join(workdir, "routing_maps",
                                         "step*.npz")))
    if maps and run.name.startswith("video_"):
      budget = run.name[len("video_"):]
      last = [m for m in maps if m.endswith(f"_{budget}.npz")]
      if last:
        summaries_lib.write_routing(summary_dir, run.name, last[-1])
  else:
    model = job.name[len("benchmark_"):]
    result = _read_json(job.done)
    old = _read_json(summaries_lib.path(summary_dir, job.summary))
    if old and old.get("result") == result:
      return
    walls = _read_json(os.path.join(root, "walls.json")) or {}
    summaries_lib.write(summary_dir, summaries_lib.make(
        "benchmark", job.summary, mode, args=BENCHMARKS[mode][model],
        wall_s=wall or walls.get(job.name), result=result))


def progress(items, mode, chosen):
  """One line per state: what is done, pending, and run now."""
  done = [i for i in items if i.done]
  pending = [i for i in items if not i.done]
  later = [i.name for i in pending if i.name not in chosen]
  lines = [f"Plan ({mode}, image recipe {plan_lib.recipe_tag('bv', mode)}):"
           f" {len(done)} of {len(items)} runs done, {len(pending)} pending."]
  if chosen:
    lines.append(f"This session runs {len(chosen)}: {', '.join(chosen)}.")
  if later:
    lines.append(f"Left for later sessions ({len(later)}): "
                 f"{', '.join(later)}.")
  return lines


def sec_per_cost(summary_dir, mode):
  """Seconds per unit of `BvRun.cost`, from finished runs (0: none yet)."""
  costs = {r.name: r.cost for r in plan_lib.bv_runs(mode)}
  done = summaries_lib.load(summary_dir, "bv", mode, log=False)
  pairs = [(s["wall_s"], costs[n]) for n, s in done.items()
           if n in costs and s.get("wall_s")]
  if not pairs:
    return 0.0
  return sum(w for w, _ in pairs) / sum(c for _, c in pairs)


def main(argv):
  del argv
  unknown = set(_SKIP.value) - {"bv", "scenic", "benchmark"}
  if unknown:
    raise ValueError(f"--skip={sorted(unknown)}; allowed: bv, scenic, "
                     "benchmark.")
  mode = _MODE.value
  summary_dir = _SUMMARIES.value or summaries_lib.directory(_OUT.value)
  root = os.path.join(_ROOT.value, mode)
  os.makedirs(root, exist_ok=True)
  t0 = time.time()
  deadline = t0 + 60 * _BUDGET.value if _BUDGET.value else 0.0
  items = plan_items(mode, summary_dir, _SKIP.value)
  chosen = [i.name for i in select(items, _MAX_RUNS.value, _RUNS.value)]
  error = None
  for line in progress(items, mode, chosen):
    print(line, flush=True)
  if chosen:
    for name, part in (("big_vision", "bv"), ("scenic", "scenic")):
      if part not in _SKIP.value:
        frameworks.ensure(name)  # A clear error (how to get it) if missing.
    # Imported here: it imports TensorFlow (seconds), which the bookkeeping
    # (what is done, what is pending) does not need.
    from mone_plugin.data import prepare  # pylint: disable=g-import-not-at-top
    prepare.ensure_prepared()
    lock = _lock(root)
    signal.signal(signal.SIGTERM, _stop)
    try:
      jobs = jobs_for(mode, root, _JOBS.value, _SKIP.value, set(chosen),
                      summary_dir, deadline, sec_per_cost(summary_dir, mode))
      for run in plan_lib.scenic_runs(mode):
        if any(j.name == f"scenic_{run.name}" for j in jobs):
          _stamp_scenic(root, mode, run)
      # Each job's wall time goes to <root>/walls.json as it ends.
      run_jobs(jobs, root, _JOBS.value,
               lambda job, wall: summarise_job(mode, root, summary_dir, job,
                                               wall), deadline)
    except RuntimeError as e:  # A failed run: the page still shows the rest.
      error = e
    except (Stopped, KeyboardInterrupt):
      items = plan_items(mode, summary_dir, _SKIP.value)
      print(f"Stopped. {sum(i.done for i in items)} of {len(items)} runs "
            "done; run the same command again to go on (the page from "
            "what is done: make results-page).", flush=True)
      sys.exit(130)
    finally:
      os.remove(lock)
  _record_walls(root, {"plan_s": round(time.time() - t0, 1)})
  items = plan_items(mode, summary_dir, _SKIP.value)
  print(f"Plan ({mode}): {sum(i.done for i in items)} of {len(items)} runs "
        "done.", flush=True)
  written = report_lib.write(summary_dir, _OUT.value, mode=mode,
                             jobs=_JOBS.value)
  print(f"Wrote {written}", flush=True)
  if error:
    raise error


if __name__ == "__main__":
  app.run(main)
