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
  python -m experiments.results.run --mode=reduced \
      --root=/tmp/mone_results --out=/tmp/mone_results/docs  # a few minutes

Runs, through the frameworks' own trainers, the plan of
`experiments.results.plan`: the Big Vision image runs (in `--jobs` worker
processes that share the plan), the Scenic video runs (nested pretraining,
then the dense and MoNE ViViT runs initialised from it), then the speed
benchmark alone on the machine, and writes the report
(`experiments.results.report`) into `--out`. Finished runs are kept: run it
again after an interruption and it resumes (a run killed half-way resumes from
its last checkpoint); delete `--root` to start over. Logs: `<root>/logs/`.
"""

import dataclasses
import json
import os
import subprocess
import sys
import time

from absl import app
from absl import flags
from absl import logging

from mone_plugin import frameworks
from mone_plugin.data import prepare
from experiments.results import plan as plan_lib
from experiments.results import report as report_lib

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


def jobs_for(mode, root, jobs, skip=()):
  """The plan's processes, in the order they should start."""
  py = [sys.executable, "-m"]
  out = []
  if "bv" not in skip:
    out += [Job(f"bv_worker{i}", py + [
        "experiments.results.bv_worker", f"--root={root}", f"--mode={mode}"])
            for i in range(max(1, jobs))]
  if "scenic" not in skip:
    for i, run in enumerate(plan_lib.scenic_runs(mode)):
      job = Job(f"scenic_{run.name}",
                py + ["projects.mone.main"] + run.argv(f"{root}/scenic"),
                after=tuple(f"scenic_{a}" for a in run.after),
                done=f"{root}/scenic/{run.name}/final_eval.json")
      # The nested pretraining starts beside the first image worker.
      out.insert(1 if i == 0 and out else len(out), job)
  if "benchmark" not in skip:
    for model, args in BENCHMARKS[mode].items():
      out.append(Job(f"benchmark_{model}", py + [
          "experiments.benchmark", *args,
          f"--json={root}/benchmark/{model}.json"],
                     after=tuple(j.name for j in out), alone=True,
                     done=f"{root}/benchmark/{model}.json"))
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


def run_jobs(jobs, root, parallel):
  """Runs `jobs` (at most `parallel` at once); returns {name: wall s}."""
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
  failed = None
  while pending or running:
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
    if failed and not running:
      break
  if failed:
    log = os.path.join(logs, f"{failed}.log")
    with open(log) as f:
      tail = f.read()[-3000:]
    raise RuntimeError(f"{failed} failed; its log is {log}:\n{tail}")
  return walls


def main(argv):
  del argv
  unknown = set(_SKIP.value) - {"bv", "scenic", "benchmark"}
  if unknown:
    raise ValueError(f"--skip={sorted(unknown)}; allowed: bv, scenic, "
                     "benchmark.")
  for name, part in (("big_vision", "bv"), ("scenic", "scenic")):
    if part not in _SKIP.value:
      frameworks.ensure(name)  # A clear error (how to get it) if missing.
  prepare.ensure_prepared()
  root = os.path.join(_ROOT.value, _MODE.value)
  os.makedirs(root, exist_ok=True)
  t0 = time.time()
  # Each job's wall time goes to <root>/walls.json as it ends.
  run_jobs(jobs_for(_MODE.value, root, _JOBS.value, _SKIP.value),
           root, _JOBS.value)
  _record_walls(root, {"plan_s": round(time.time() - t0, 1)})
  written = report_lib.write(root, _OUT.value, mode=_MODE.value,
                             jobs=_JOBS.value)
  print(f"Wrote {written}", flush=True)


if __name__ == "__main__":
  app.run(main)
