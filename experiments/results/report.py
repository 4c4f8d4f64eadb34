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

  python -m experiments.results.report [--out=docs] [--mode=full]

Reads the summaries the runs of `experiments.results.run` left in
`out/results/runs/` (`experiments.results.summaries`: each run's metrics,
config, wall time; routing arrays beside them; committed for the full plan)
and writes `out/results.md` with its PNG plots in `out/results/`: the page
can be regenerated from committed files alone. Every number on the page
comes from those files; what is missing is said to be pending. Needs numpy
and matplotlib only.

`loading` reads the runs, `arithmetic` computes their means and gaps,
`figures` draws the plots and `sections` writes the text, one module per
section; this module puts the page together.
"""

import glob
import os
import time

from absl import app
from absl import flags

from experiments.results import figures
from experiments.results import loading
from experiments.results import plan as plan_lib
from experiments.results.sections import markdown as md
from experiments.results.sections import s1_images
from experiments.results.sections import s2_adaptation
from experiments.results.sections import s3_ablations
from experiments.results.sections import s4_video
from experiments.results.sections import s5_routing_maps
from experiments.results.sections import s6_speed
from experiments.results.sections import s7_figure3
from experiments.results.sections import s8_recipe
from experiments.results.sections import s9_cluttered
from experiments.results.sections import summary
from experiments.results import summaries as summaries_lib

# The page's sections, in page order.
SECTIONS = (s1_images, s2_adaptation, s3_ablations, s4_video, s5_routing_maps,
            s6_speed, s7_figure3, s8_recipe, s9_cluttered)


def machines_line(counts):
  """Which machines the runs ran on: wall times compare within one only."""
  known = sorted((m, n) for m, n in counts.items() if m)
  parts = [f"{m} ({n} run{'s' if n != 1 else ''})" for m, n in known]
  if counts.get(None):
    n = counts[None]
    parts.append(f"not recorded ({n} run{'s' if n != 1 else ''} of before "
                 "2026-12-05, when summaries did not record their machine)")
  line = "Runs ran on: " + ("; ".join(parts) or "no runs yet") + "."
  if len(parts) > 1:
    line += (" Wall times of different machines do not compare; the speed "
             "ratios of the benchmark are taken within one run.")
  return line


def write(summary_dir, out_dir, mode="full", jobs=2):
  """Writes out_dir/results.md and out_dir/results/*.png; returns the path."""
  plots = figures.Plots(os.path.join(out_dir, "results"))
  os.makedirs(plots.dir, exist_ok=True)
  results = loading.Results(summary_dir, mode)
  runs = results.bv
  body = []
  for section in SECTIONS:
    body += section.section(results, plots)
  short = summary.shortfalls(results)
  bv_s = runs.seconds(list(runs.results))
  video_s = sum(results.wall(n) for n in results.scenic)
  bench_s = sum(results.wall(n) for n in results.benchmarks)
  planned = (len(plan_lib.bv_runs(mode)) + len(plan_lib.scenic_runs(mode))
             + 2)  # The two benchmarks.
  done = len(runs.results) + len(results.scenic) + len(results.benchmarks)
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
      "page). Each finished run leaves a summary in `results/runs/` "
      "(committed), and the plan skips runs whose summary is there, so it "
      "spans sessions: `make results RESULTS_ARGS=--budget_minutes=100` does "
      "a bounded chunk. This page is written from the summaries alone "
      "(`python -m experiments.results.report`). `make results-reduced` "
      "runs the same scripts on tiny settings; the test suite runs that.",
      f"- Progress: {done} of {planned} runs of the plan done (image recipe "
      f"`{plan_lib.recipe_tag('bv', mode)}`); sections say what is pending.",
      f"- Mode: {mode}. Written {time.strftime('%Y-%m-%d')} on "
      f"{summaries_lib.machine()}.",
      "- " + machines_line(summaries_lib.machines(
          list(runs.results.values()) + list(results.scenic.values()) +
          list(results.benchmarks.values()))),
      f"- Run time: {md.minutes(bv_s + video_s + bench_s)} summed over the "
      f"runs (images {md.minutes(bv_s)}, video {md.minutes(video_s)}, speed "
      f"{md.minutes(bench_s)}); `make results` runs {jobs} training "
      "runs at a time (a session may run fewer: `--jobs`).", ""]
  archive = sorted(glob.glob(os.path.join(out_dir, "results", "archive",
                                          "*.md")))
  if archive and mode == "full":
    head += ["Earlier pages, of older recipes and superseded (kept for the "
             "record; their numbers do not describe the current code): " +
             ", ".join(f"[{os.path.basename(a)}](results/archive/"
                       f"{os.path.basename(a)})" for a in archive) + ".", ""]
  if mode != "full":
    head += [f"**This page is from the {mode} mode**: a few steps of tiny "
             "models on small test splits, to check that the scripts run. "
             "Its numbers say nothing about MoNE.", ""]
  good = summary.highlights(results)
  if good:
    head += ["**What holds here:**", ""] + [f"- {g}" for g in good] + [""]
  if short:
    head += ["**Where MoNE falls short here:**", ""] + [
        f"- {s}" for s in short] + [""]
  if mode == "full":
    head += summary.targets(results)
  path = os.path.join(out_dir, "results.md")
  with open(path, "w") as f:
    f.write("\n".join(head + body).rstrip() + "\n")
  return path


def main(argv):
  del argv
  f = flags.FLAGS
  print(write(f.summaries or summaries_lib.directory(f.out), f.out, f.mode))


if __name__ == "__main__":
  # Defined here: `experiments.results.run` imports this module and has its
  # own flags of these names.
  flags.DEFINE_string("out", "docs", "Where results.md goes.")
  flags.DEFINE_string("summaries", None, "The run summaries (default: "
                      "<out>/results/runs).")
  flags.DEFINE_enum("mode", "full", plan_lib.MODES, "The plan's mode.")
  app.run(main)
