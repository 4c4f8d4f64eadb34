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

r"""Writes docs/results.md and its plots from the runs of a results plan.

  python -m experiments.results.report --root=workdirs/results/full \
      --out=docs

Reads what `experiments.results.run` left in `root` (Big Vision runs'
`result.json` and `routing.npz`, Scenic runs' `final_eval.json` and routing
maps, the benchmark's JSON, wall times) and writes `out/results.md` with its
PNG plots in `out/results/`. Every number on the page comes from those files;
what is missing is said to be missing. Needs numpy and matplotlib only.

`loading` reads the runs, `figures` draws the plots and `sections` writes the
text; this module puts the page together.
"""

import os
import time

from absl import app
from absl import flags

from experiments.results import figures
from experiments.results import loading
from experiments.results import plan as plan_lib
from experiments.results import sections


def write(root, out_dir, mode="full", jobs=2):
  """Writes out_dir/results.md and out_dir/results/*.png; returns the path."""
  plots = figures.Plots(os.path.join(out_dir, "results"))
  os.makedirs(plots.dir, exist_ok=True)
  runs = loading.Runs(root)
  walls = loading.read_json(os.path.join(root, "walls.json")) or {}
  body = []
  body += sections.images_section(runs, plots)
  body += sections.adaptation_section(runs, plots)
  body += sections.ablations_section(runs, plots, mode)
  body += sections.video_section(root, walls, plots)
  body += sections.routing_section(root, runs, plots)
  body += sections.speed_section(root, walls, plots)
  short = sections.shortfalls(runs, root)
  bv_s = runs.seconds(list(runs.results))
  video_s = sum(v for k, v in walls.items() if k.startswith("scenic_"))
  bench_s = sum(v for k, v in walls.items() if k.startswith("benchmark_"))
  head = [
      "# MoNE at small scale: results", "",
      "Mixture of Nested Experts trained and evaluated through Big Vision's "
      "and Scenic's own trainers, evaluators and input pipelines on the "
      "local Fashion-MNIST data (`make data`), and timed against the dense "
      "models. Every number below is read from the runs by "
      "`experiments/results/report.py`.", "",
      f"- Regenerate everything: `make results` (runs the plan of "
      f"`experiments/results/plan.py` in `workdirs/results/{mode}`, "
      f"{jobs} processes at a time, then the benchmark alone, then this "
      "page; finished runs are kept, so it resumes). `make results-reduced` "
      "runs the same scripts on tiny settings; the test suite runs that.",
      f"- Mode: {mode}. Machine: {loading.machine()}. Written "
      f"{time.strftime('%Y-%m-%d')}.",
      f"- Run time: {sections.minutes(bv_s + video_s + bench_s)} summed over the "
      f"runs (images {sections.minutes(bv_s)}, video {sections.minutes(video_s)}, speed "
      f"{sections.minutes(bench_s)}); the training runs go {jobs} at a time.", ""]
  if mode != "full":
    head += [f"**This page is from the {mode} mode**: a few steps of tiny "
             "models on small test splits, to check that the scripts run. "
             "Its numbers say nothing about MoNE.", ""]
  good = sections.highlights(runs, root)
  if good:
    head += ["**What holds here:**", ""] + [f"- {g}" for g in good] + [""]
  if short:
    head += ["**Where MoNE falls short here:**", ""] + [
        f"- {s}" for s in short] + [""]
  path = os.path.join(out_dir, "results.md")
  with open(path, "w") as f:
    f.write("\n".join(head + body).rstrip() + "\n")
  return path


def main(argv):
  del argv
  f = flags.FLAGS
  print(write(f.root, f.out, f.mode))


if __name__ == "__main__":
  # Defined here: `experiments.results.run` imports this module and has its
  # own flags of these names.
  flags.DEFINE_string("root", None, "A results plan's directory.")
  flags.DEFINE_string("out", "docs", "Where results.md goes.")
  flags.DEFINE_enum("mode", "full", plan_lib.MODES, "The plan's mode.")
  flags.mark_flag_as_required("root")
  app.run(main)
