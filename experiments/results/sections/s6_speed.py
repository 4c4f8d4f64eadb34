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

"""Section 6: speed, the benchmark's wall-clock savings (CPU and GPU)."""

import glob
import os

from experiments.results import figures
from experiments.results import loading
from experiments.results.sections import markdown as md


# `make benchmark` output from sessions lent a GPU (committed: no GPU is
# needed to regenerate this page).
GPU_DIR = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), *[os.pardir] * 3, "docs",
    "results", "gpu")


def gpu_lines(gpu_dir=GPU_DIR):
  """The committed GPU benchmark outputs, verbatim."""
  outputs = sorted(glob.glob(os.path.join(gpu_dir, "*_make_benchmark.txt")))
  if not outputs:
    return ["No GPU benchmark has been run yet.", ""]
  out = []
  for path in outputs:
    device = os.path.basename(path).split("_make_benchmark")[0]
    env = path.replace("_make_benchmark.txt", "_env.txt")
    env = open(env).read().strip().replace("\n", "; ") if os.path.exists(
        env) else ""
    with open(path) as f:
      text = f.read().strip()
    out += [f"**On a GPU ({device}; {env})**: `make benchmark` there, "
            "verbatim (analysis, and a batch-64 run: "
            "[gpu_benchmark.md](gpu_benchmark.md)):", "", "```", text, "```",
            ""]
  return out


def section(results, plots):
  """The benchmark's tables (CPU), the GPU outputs, the paper's ratio."""
  out = ["## 6. Speed: real wall-clock savings", ""]
  tables = []
  for model in ("vit", "vivit"):
    res = results.benchmark(model)
    if res:
      tables.append((model, res))
  if not tables:
    return out + ["Not run yet: " + md.pending(results.benchmarks, [
        "benchmark_vit", "benchmark_vivit"]) + ".", ""] + gpu_lines()
  out += ["`python -m experiments.benchmark` (`make benchmark`): dense and "
          "MoNE compiled in one process and timed round-robin, so load hits "
          "them alike; the minimum over repetitions. FLOP ratio = dense / "
          "MoNE analytic FLOPs (XLA's count in brackets); efficiency = "
          "speedup / FLOP ratio (1 = every saved FLOP saved time).", ""]
  for model, res in tables:
    out += [f"**{res['header']}**", "",
            "| e_c | GFLOPs | FLOP ratio (XLA) | forward ms | speedup | "
            "efficiency | train step ms | speedup | efficiency |",
            "|---|---|---|---|---|---|---|---|---|"]
    for r in res["rows"]:
      name = "dense" if r["e_c"] is None else f"{r['e_c']:g}"
      train = ("| — | — | — |" if "train_ms" not in r else
               f"| {r['train_ms']:.0f} | {r['train_speedup']:.2f}x | "
               f"{r['train_efficiency']:.2f} |")
      out.append(f"| {name} | {r['gflops']:.4g} | {r['flop_ratio']:.2f} "
                 f"({r['xla_flop_ratio']:.2f}) | {r['fwd_ms']:.1f} | "
                 f"{r['speedup']:.2f}x | {r['efficiency']:.2f} " + train)
    mone = [r for r in res["rows"] if r["e_c"] is not None]
    fastest = min(r["fwd_ms"] for r in mone)
    out += ["", f"Router + Expert Preferred Routing: {res['epr_ms']:.2f} ms, "
            f"{100 * res['epr_ms'] / fastest:.2f}% of the fastest MoNE "
            "forward.", ""]
  figures.speed(plots, tables)
  vit = dict(tables).get("vit")
  if vit:
    near = min((r for r in vit["rows"] if r["e_c"] is not None),
               key=lambda r: abs(r["flop_ratio"] - loading.PAPER_FLOP_RATIO))
    out += [f"The paper measures {loading.PAPER_SPEEDUP}x real speedup for "
            f"{loading.PAPER_FLOP_RATIO}x fewer FLOPs on a V100 (efficiency "
            f"{loading.PAPER_SPEEDUP / loading.PAPER_FLOP_RATIO:.2f}). Here, at the nearest "
            f"FLOP ratio ({near['flop_ratio']:.2f}, e_c {near['e_c']:g}): "
            f"{near['speedup']:.2f}x, efficiency {near['efficiency']:.2f}.",
            ""]
  out += gpu_lines()
  seconds = sum(results.wall(f"benchmark_{m}") for m, _ in tables)
  out += [md.img(plots[-1], "speedup vs FLOP ratio"), "",
          "*Regenerate:* `make results` (runs these after every training run, "
          f"alone on the machine; {md.minutes(seconds)}), or `make benchmark` "
          "(the same two commands: `python -m experiments.benchmark` and "
          "`python -m experiments.benchmark --model=vivit --reps=3 "
          "--e_c=0.3,0.4`). Inputs and weights are random (seeds 0 and 1): "
          "timing does not depend on them.", ""]
  return out
