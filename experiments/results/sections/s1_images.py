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

"""Section 1: accuracy vs compute, dense vs MoNE over seeds; the claim."""

from experiments.results import arithmetic
from experiments.results import figures
from experiments.results import loading
from experiments.results import plan as plan_lib
from experiments.results.sections import markdown as md


def section(results, plots):
  """Accuracy vs GFLOPs, dense vs MoNE, 3 seeds; the claim; isoFLOPs."""
  runs = results.bv
  out = ["## 1. Images: accuracy vs compute (Big Vision, Fashion-MNIST)", ""]
  dense_names = loading.seeded(runs, "dense")
  dense_accs = [runs.acc(n) for n in dense_names]
  dense_mean, dense_std = arithmetic.mean_std(dense_accs)
  if not dense_names:
    names = plan_lib.group_runs(runs.mode, ("dense", "mone", "iso"))
    return out + [f"Not run yet: {md.pending(runs.results, names)}.", ""]
  dense_gf = runs.gflops(dense_names[0])
  seeds = ", ".join(str(runs.get(n)["seed"]) for n in dense_names)
  out += [
      f"The dense ViT and MoNE at e_c {', '.join(map(str, plan_lib.TRAIN_E_C))}"
      f", each trained with the same recipe ({runs.steps(dense_names[0])}"
      " steps of batch 128, `configs/mone_fashion_mnist.py`: ViT width 64, "
      "depth 4, patch 4, "
      "32x32 px, 64 tokens, 4 nested experts) for seed"
      f"{'s' if len(dense_names) > 1 else ''} {seeds}; precision@1 on the "
      "test split (10,000 images), which no choice on this page was tuned "
      "on (the recipe's length was chosen on a validation split carved from "
      "the training images: `results/runs/recipe_*.json`).", "",
      "| model | e_c | MFLOPs / image | FLOP ratio | precision@1 (%) "
      "mean ± std | seeds | Δ vs dense (points) |",
      "|---|---|---|---|---|---|---|",
      f"| dense ViT | — | {1e3 * dense_gf:.2f} | 1.00 | "
      f"{md.seeds_pm(dense_accs)} | "
      f"{', '.join(md.pct(a) for a in dense_accs)} | — |"]
  points, verdicts = [], []
  for e_c in plan_lib.TRAIN_E_C:
    names = loading.seeded(runs, f"ec{e_c:g}")
    if not names:
      continue
    accs = [runs.acc(n) for n in names]
    mean, std = arithmetic.mean_std(accs)
    gf = runs.gflops(names[0])
    ratio = dense_gf / gf
    delta = 100 * (mean - dense_mean)
    points.append((e_c, gf, accs, mean, std))
    out.append(f"| MoNE | {e_c:g} | {1e3 * gf:.2f} | {ratio:.2f} | "
               f"{md.seeds_pm(accs)} | "
               f"{', '.join(md.pct(a) for a in accs)} | {delta:+.2f} |")
    if ratio >= 2:
      verdicts.append((e_c, ratio, delta))
  iso = runs.get(f"iso_ec{plan_lib.ISO_FLOPS_E_C:g}_s0")
  if iso:
    iso_acc = runs.acc(iso["name"])
    out.append(
        f"| MoNE, isoFLOPs ({runs.steps(iso['name'])} steps) | "
        f"{plan_lib.ISO_FLOPS_E_C:g} | {1e3 * runs.gflops(iso['name']):.2f} | "
        f"{dense_gf / runs.gflops(iso['name']):.2f} | {100 * iso_acc:.2f} | "
        f"{md.pct(iso_acc)} |"
        f" {100 * (iso_acc - dense_mean):+.2f} |")
  out.append("")
  if verdicts:
    met = [v for v in verdicts if v[2] >= -loading.CLAIM_POINTS]
    lines = [f"e_c {e:g} ({r:.2f}x fewer FLOPs): {d:+.2f} points"
             for e, r, d in verdicts]
    planned = len(plan_lib.SEEDS)
    counts = {e: len(loading.seeded(runs, f"ec{e:g}")) for e, _, _ in verdicts}
    short = [e for e, n in counts.items() if n < planned]
    if len(dense_names) < 2 or all(counts[e] < 2 for e in counts):
      seeds_note = (" with one seed; the other seeds are pending, so this is "
                    "not yet a verdict.")
    elif short:
      seeds_note = (
          " (seeds per e_c: " +
          ", ".join(f"{e:g}: {counts[e]}" for e in counts) +
          f" of {planned} planned; dense: {len(dense_names)}); the verdict at "
          f"e_c {', '.join(f'{e:g}' for e in short)} is provisional until "
          "its other seeds are run.")
    else:
      seeds_note = f" ({planned} seeds each)."
    out += [f"**The claim** (MoNE at >= 2x fewer FLOPs within "
            f"{loading.CLAIM_POINTS} points of dense): " + "; ".join(lines) +
            ". " + (f"It holds at e_c {', '.join(f'{v[0]:g}' for v in met)}"
                    if met else "It does not hold at this scale") +
            seeds_note, ""]
  if iso:
    out += [f"isoFLOPs: the e_c {plan_lib.ISO_FLOPS_E_C:g} model trained for "
            f"{runs.steps(iso['name'])} steps (the dense model's training "
            "FLOPs; "
            "`iso_flops` in the config) reaches "
            f"{100 * iso_acc:.2f}% against the dense model's "
            f"{100 * dense_mean:.2f}%, at "
            f"{dense_gf / runs.gflops(iso['name']):.2f}x fewer inference "
            "FLOPs.", ""]
  # The wall-clock side of the same runs: too loaded to be a measurement.
  dense_t = [runs.get(n)["train_s"] for n in dense_names]
  mone_t = [runs.get(n)["train_s"] for e_c, *_ in points
            for n in loading.seeded(runs, f"ec{e_c:g}")]
  if dense_t and mone_t:
    out += [f"Training wall time of these runs (the whole "
            f"`train_and_evaluate`, compilation and input pipeline "
            f"included): dense {min(dense_t) / 60:.1f}–"
            f"{max(dense_t) / 60:.1f} min, MoNE {min(mone_t) / 60:.1f}–"
            f"{max(mone_t) / 60:.1f} min. They ran one or two at a time on "
            "cores other sessions shared (the same dense recipe took "
            f"{max(dense_t) / min(dense_t):.1f}x longer in one run than in "
            "another), so they do not measure speed: section 6's benchmark "
            "(dense and MoNE in one process, an idle machine) does.", ""]

  figures.accuracy_vs_flops(
      plots, (dense_gf, dense_mean, dense_std, dense_accs), points,
      (runs.gflops(iso["name"]), iso_acc) if iso else None)
  names = dense_names + [n for e in plan_lib.TRAIN_E_C
                         for n in loading.seeded(runs, f"ec{e:g}")]
  out += [md.img(plots[-1], "accuracy vs FLOPs"), "",
          md.regen(runs, names + ([iso["name"]] if iso else []),
                 f"seeds {seeds}"), ""]
  return out + md.pending_lines(runs, ("dense", "mone", "iso"))
