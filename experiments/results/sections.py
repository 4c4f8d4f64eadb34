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

"""The sections of docs/results.md: text and tables from the runs' numbers.

Each `*_section` returns its Markdown lines and draws its plots through
`figures`; `shortfalls` and `highlights` are the page's summary bullets.
"""

import glob
import math
import os

import numpy as np

from experiments.results import figures
from experiments.results import loading
from experiments.results import plan as plan_lib
from experiments.results import verdict
from mone_plugin import budgets as budgets_lib
from mone_plugin import capacity


def _pct(x):
  return "—" if x is None else f"{100 * x:.1f}"


def _sentence(text):
  """Upper-cases the first letter only (str.capitalize lowers 'MoNE')."""
  return text[:1].upper() + text[1:]


def minutes(seconds):
  """Seconds as minutes, for the page."""
  return f"{seconds / 60:.1f} min"


def pending(have, names):
  """'pending (N of M runs done)' for `names` of which `have` exist; ''."""
  missing = [n for n in names if n not in have]
  if not missing:
    return ""
  return (f"pending ({len(names) - len(missing)} of {len(names)} runs "
          f"done; missing: {', '.join(missing)})")


def pending_lines(runs, groups):
  """A line on what the section still misses of the plan's `groups`."""
  text = pending(runs.results, plan_lib.group_runs(runs.mode, groups))
  return [f"*Part of this section is {text}: `make results` runs them.*",
          ""] if text else []


################################ 1. Images ################################


def images_section(runs, plots):
  """Accuracy vs GFLOPs, dense vs MoNE, 3 seeds; the claim; isoFLOPs."""
  out = ["## 1. Images: accuracy vs compute (Big Vision, Fashion-MNIST)", ""]
  dense_names = loading.seeded(runs, "dense")
  dense_accs = [runs.acc(n) for n in dense_names]
  dense_mean, dense_std = loading.mean_std(dense_accs)
  if not dense_names:
    names = plan_lib.group_runs(runs.mode, ("dense", "mone", "iso"))
    return out + [f"Not run yet: {pending(runs.results, names)}.", ""]
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
      f"{_mean_std(dense_accs)} | "
      f"{', '.join(_pct(a) for a in dense_accs)} | — |"]
  points, verdicts = [], []
  for e_c in plan_lib.TRAIN_E_C:
    names = loading.seeded(runs, f"ec{e_c:g}")
    if not names:
      continue
    accs = [runs.acc(n) for n in names]
    mean, std = loading.mean_std(accs)
    gf = runs.gflops(names[0])
    ratio = dense_gf / gf
    delta = 100 * (mean - dense_mean)
    points.append((e_c, gf, accs, mean, std))
    out.append(f"| MoNE | {e_c:g} | {1e3 * gf:.2f} | {ratio:.2f} | "
               f"{_mean_std(accs)} | "
               f"{', '.join(_pct(a) for a in accs)} | {delta:+.2f} |")
    if ratio >= 2:
      verdicts.append((e_c, ratio, delta))
  iso = runs.get(f"iso_ec{plan_lib.ISO_FLOPS_E_C:g}_s0")
  if iso:
    iso_acc = runs.acc(iso["name"])
    out.append(
        f"| MoNE, isoFLOPs ({runs.steps(iso['name'])} steps) | "
        f"{plan_lib.ISO_FLOPS_E_C:g} | {1e3 * runs.gflops(iso['name']):.2f} | "
        f"{dense_gf / runs.gflops(iso['name']):.2f} | {100 * iso_acc:.2f} | "
        f"{_pct(iso_acc)} |"
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
  out += [_img(plots[-1], "accuracy vs FLOPs"), "",
          _regen(runs, names + ([iso["name"]] if iso else []),
                 f"seeds {seeds}"), ""]
  return out + pending_lines(runs, ("dense", "mone", "iso"))


def _img(path, alt):
  return f"![{alt}](results/{os.path.basename(path)})"


def _regen(runs, names, seeds):
  seconds = runs.seconds(names)
  example = runs.command(names[-1]) if names else None
  return (f"*Regenerate:* `make results` (this part: {len(names)} "
          f"run{'s' if len(names) != 1 else ''}, "
          f"{seeds}; {minutes(seconds)} of run time on the machines named "
          "at the top, one or two runs at a time). One run by hand: "
          f"`{example}`, then `python -m mone_plugin.big_vision.evaluate "
          "--workdir=<that workdir> --e_c=<budgets>`.")


########################## 2. Capacity adaptation ##########################


# The target: the adaptive model within this much of each fixed one.
ADAPT_TOLERANCE = 0.01
ADAPT_LONG_NAME = plan_lib.ADAPT_LONG_NAME


def _adaptive_gaps(data, key):
  """[(e_c, adaptive - fixed-budget seed mean)] of figure3_data's `key`."""
  ad = {round(e, 6): a for e, _, a in data[key]}
  return [(e_c, ad[round(e_c, 6)] - mean)
          for e_c, _, mean, _, _ in data["mone"]
          if ad.get(round(e_c, 6)) is not None]


def adaptation_section(runs, plots):
  out = ["## 2. Capacity adaptation (the paper's Figure 5)", ""]
  models = [(f"trained at e_c {e:g}", f"ec{e:g}_s0")
            for e in plan_lib.ADAPT_TRAIN_E_C]
  models.append(("e_c sampled per step from {0.2, 0.4, 0.6, 0.8, 1.0}",
                 "grid_s0"))
  long_name = ADAPT_LONG_NAME
  models.append((f"the same, {plan_lib.ADAPT_LONG_FACTOR}x the steps "
                 f"({plan_lib.ADAPT_LONG_FACTOR * plan_lib.STEPS})", long_name))
  models = [(label, n) for label, n in models if runs.get(n)]
  if not models:
    return out + ["Not run yet: " + pending(runs.results, [
        f"ec{e:g}_s0" for e in plan_lib.ADAPT_TRAIN_E_C] + ["grid_s0"]) +
                  ".", ""]
  evals = sorted({row["e_c"] for _, n in models for row in runs.get(n)["rows"]
                  if row["e_c"] != "dense"})
  out += ["Each model, trained at one budget (or with e_c drawn at every "
          "step), evaluated at every budget from the same checkpoint: "
          "precision@1 (%) on the test split, seed 0.", "",
          "| model \\ eval e_c | " + " | ".join(f"{e:g}" for e in evals) + " |",
          "|---|" + "---|" * len(evals)]
  curves = []
  for label, name in models:
    accs = [runs.acc(name, e) for e in evals]
    out.append(f"| {label} | " + " | ".join(_pct(a) for a in accs) + " |")
    curves.append((label.replace(" from {0.2, 0.4, 0.6, 0.8, 1.0}", ""),
                   accs))
  figures.capacity_adaptation(plots, evals, curves)
  out.append("")
  # Words from the numbers: how far each fixed-budget model falls off.
  fixed = [(e, n) for e, n in zip(plan_lib.ADAPT_TRAIN_E_C,
                                   [f"ec{e:g}_s0" for e in
                                    plan_lib.ADAPT_TRAIN_E_C]) if runs.get(n)]
  words = []
  for e, n in fixed:
    own, lo = runs.acc(n, e), runs.acc(n, min(evals))
    hi = runs.acc(n, max(evals))
    words.append(f"trained at {e:g}: {_pct(own)}% at its own budget, "
                 f"{_pct(lo)}% at {min(evals):g}, {_pct(hi)}% at "
                 f"{max(evals):g}")
  if runs.get("grid_s0"):
    g = [runs.acc("grid_s0", e) for e in evals]
    words.append(f"the sampled-e_c model: {_pct(min(a for a in g if a))}–"
                 f"{_pct(max(a for a in g if a))}% over the whole range")
  out += [_sentence("; ".join(words)) + ".", ""]
  # The adaptive model's gap to each fixed budget, and with more steps.
  gaps, worst = [], {}
  for label, name in (("sampled-e_c model", "grid_s0"),
                      (f"{plan_lib.ADAPT_LONG_FACTOR}x the steps", long_name)):
    d = [(e, runs.acc(name, e) - runs.acc(n, e)) for e, n in fixed
         if runs.get(name) and runs.acc(name, e) is not None]
    if d:
      gaps.append(f"{label}: " + ", ".join(
          f"{100 * v:+.2f} at {e:g}" for e, v in d))
      worst[name] = min(v for _, v in d)
  if gaps:
    out += ["Against the fixed-budget model (seed 0) at its budget, in "
            "points (" + "; ".join(gaps) + ")" + (
                f". The longer run tests whether the gap is the adaptive "
                "model's share of the steps (five budgets share them)"
                if runs.get(long_name) else "") + ".", ""]
  verdict = []
  for name, what in (("grid_s0", "at equal steps"),
                     (long_name, f"at {plan_lib.ADAPT_LONG_FACTOR}x the "
                      "steps")):
    if name in worst:
      met = worst[name] >= -ADAPT_TOLERANCE
      verdict.append(f"{what} {'met' if met else 'not met'} (worst "
                     f"{100 * worst[name]:+.2f})")
  if verdict:
    out += [f"**Verdict** (target: the adaptive model within "
            f"{100 * ADAPT_TOLERANCE:g} point of each fixed-budget model at "
            "its budget): " + "; ".join(verdict) + ".", ""]
  out += [_img(plots[-1], "capacity adaptation"), "",
          _regen(runs, [n for _, n in models], "seed 0"), ""]
  return out + pending_lines(runs, ("adaptive", "adaptive_long"))


########################### 3. Routing ablations ###########################


def _seed_spread(runs):
  """The largest std over seeds of MoNE at a fixed budget, or None."""
  spread = [loading.mean_std([runs.acc(n) for n in loading.seeded(
      runs, f"ec{e:g}")])[1] for e in plan_lib.TRAIN_E_C
            if len(loading.seeded(runs, f"ec{e:g}")) > 1]
  return max(spread) if spread else None


def ablations_section(runs, plots, mode):
  out = ["## 3. Routing ablations (the paper's Figure 7 and Table 2)", ""]
  rows = []
  for e_c in plan_lib.RANDOM_ROUTER_E_C:
    rnd = runs.get(f"random_ec{e_c:g}_s0")
    learned = loading.seeded(runs, f"ec{e_c:g}")
    if not rnd or not learned:
      continue
    mean, std = loading.mean_std([runs.acc(n) for n in learned])
    rows.append((e_c, runs.acc(f"ec{e_c:g}_s0"), mean, std, runs.acc(
        rnd["name"])))
    n_seeds = len(learned)
  names = []
  if rows:
    out += ["**Router.** Expert Preferred Routing on the learned router's "
            "probabilities vs on random ones (Gaussian logits drawn afresh "
            "at every call: `router=random`). Precision@1 (%):", "",
            "| e_c | learned, seed 0 | learned, mean ± std of "
            f"{n_seeds} seed{'s' if n_seeds > 1 else ''} | random, seed 0 | learned − random "
            "(seed 0) |", "|---|---|---|---|---|"]
    for e_c, l0, mean, std, rnd in rows:
      out.append(f"| {e_c:g} | {_pct(l0)} | {100 * mean:.2f} ± "
                 f"{100 * std:.2f} | {_pct(rnd)} | {100 * (l0 - rnd):+.2f} |")
      names += [f"random_ec{e_c:g}_s0"]
    out.append("")
  caps = []
  for method, e_c, baseline, mone in plan_lib.capacity_pairs(mode):
    if runs.get(baseline) and runs.get(mone):
      caps.append((method, e_c, runs.acc(mone), runs.acc(baseline)))
      names += [baseline] + ([mone] if mone.startswith("mone_") else [])
  if caps:
    uniform = plan_lib.method_e_c("uniform")
    out += ["**Capacity distribution.** At equal e_c, the paper's "
            "maximum-entropy capacities against baselines: `proportionate` "
            "(fixes its own e_c; MoNE is trained at that e_c) and `greedy` "
            "(the largest expert gets as many tokens as e_c allows, the "
            "smallest the rest; `capacity=<method>` in the config). "
            "Precision@1 (%), seed 0:", "",
            "| e_c | baseline | its capacities (D/8, D/4, D/2, D) | "
            "baseline | MoNE's capacities | MoNE | MoNE − baseline |",
            "|---|---|---|---|---|---|---|"]
    for method, e_c, ours, other in caps:
      c_b = capacity.capacity_distribution(e_c, loading.NUM_EXPERTS, method)
      c_m = capacity.capacity_distribution(e_c, loading.NUM_EXPERTS, "mone")
      out.append(f"| {e_c:.3f} | {method} | "
                 f"{', '.join(f'{c:.3f}' for c in c_b)} | {_pct(other)} | "
                 f"{', '.join(f'{c:.3f}' for c in c_m)} | {_pct(ours)} | "
                 f"{100 * (ours - other):+.2f} |")
    c_u = capacity.capacity_distribution(uniform, loading.NUM_EXPERTS, "mone")
    out += ["", f"`uniform` fixes e_c {uniform:.3f}, and there MoNE's "
            "maximum-entropy capacities are "
            f"{', '.join(f'{c:.3f}' for c in c_u)}: uniform itself (entropy "
            "is largest for the uniform distribution), so the two are the "
            "same model and need no comparison run.", ""]
  if not rows and not caps:
    return out + ["Not run yet: " + pending(runs.results, plan_lib.group_runs(
        runs.mode, ("random", "capacity"))) + ".", ""]
  # The verdict, against the seed spread of the learned-router models.
  noise = _seed_spread(runs)
  words = [f"learned router − random at e_c {e_c:g}: "
           f"{100 * (l0 - rnd):+.2f}" for e_c, l0, _, _, rnd in rows]
  words += [f"MoNE's capacities − {method} at e_c {e_c:.3f}: "
            f"{100 * (ours - other):+.2f}" for method, e_c, ours, other in caps]
  if noise is not None:
    diffs = ([l0 - rnd for _, l0, _, _, rnd in rows] +
             [ours - other for _, _, ours, other in caps])
    beyond = sum(abs(d) > 2 * noise for d in diffs)
    out += [f"**Verdict:** " + "; ".join(words) + f" points (seed 0). "
            f"{beyond} of {len(diffs)} difference"
            f"{'s' if len(diffs) > 1 else ''} exceed"
            f"{'s' if beyond == 1 or len(diffs) == 1 else ''} twice the seed spread of MoNE "
            f"at a fixed budget ({100 * noise:.2f} points, the largest "
            f"std over seeds of e_c "
            f"{', '.join(f'{e:g}' for e in plan_lib.TRAIN_E_C)})" + (
                ": at this scale the routing choices tested here are within "
                "seed noise of each other." if not beyond else "."), ""]
  labels, a, b = [], [], []
  for e_c, l0, _, _, rnd in rows:
    labels.append(f"router\ne_c {e_c:g}")
    a.append(100 * l0)
    b.append(100 * rnd)
  for method, e_c, ours, other in caps:
    labels.append(f"{method}\ne_c {e_c:.2f}")
    a.append(100 * ours)
    b.append(100 * other)
  figures.routing_ablations(plots, labels, a, b)
  out += [_img(plots[-1], "routing ablations"), "",
          _regen(runs, names, "seed 0"), ""]
  return out + pending_lines(runs, ("random", "capacity"))


################################ 4. Video ################################



VIDEO_CEILING = 0.97  # Dense video accuracy from which the task is easy.


def _steps(steps):
  return "—" if not steps else f"{int(steps)}"


def video_section(results, plots):
  out = ["## 4. Video: ViViT-FE dense vs MoNE (Scenic, Moving Fashion-MNIST)",
         ""]
  nested = results.scenic_eval("nested")
  videos = []
  for e_c in plan_lib.VIDEO_E_C:
    name = "video_dense" if e_c is None else f"video_ec{e_c:g}"
    res = results.scenic_eval(name)
    if res:
      videos.append((e_c, name, res))
  planned = [r.name for r in plan_lib.scenic_runs(results.mode)]
  if not videos:
    return out + ["Not run yet: " + pending(results.scenic, planned) + ".",
                  ""]
  out += ["Clips of 8 frames (32x32 px) in which a Fashion-MNIST garment "
          "moves in one of 8 directions; the label is the direction, which no "
          "single frame shows (chance 12.5%). The ViViT factorised encoder "
          "(tubelets 4x4x2, a routed spatial transformer per frame, a dense "
          "2-layer temporal transformer) is initialised from the nested "
          "pretraining on Fashion-MNIST images (`local_nested_pretrain.py`: "
          "each step trains all 4 nested widths), then trained with Scenic's "
          "loop (`local_mone_video.py`) isoFLOPs, the paper's video "
          "protocol: MoNE trains the dense ViViT's steps x dense GFLOPs / "
          "MoNE GFLOPs, so every run costs the same training FLOPs. Test "
          "accuracy on 1,000 clips, seed 0." + (
              " Recipe "
              f"`{plan_lib.recipe_tag('scenic', results.mode)}`: 800 steps of "
              "the nested pretraining and of the dense ViViT; the earlier "
              "recipe's 300 left the dense ViViT itself still learning (36.3% "
              "and 59.1% in two runs of the same configs), which is what "
              "MoNE's plateau at e_c 0.3 there was."
              if results.mode == "full" else ""), ""]
  if nested:
    accs = [nested.get(f"accuracy_expert{i}") for i in range(loading.NUM_EXPERTS)]
    out += ["Nested pretraining, image accuracy by nested width (D/8, D/4, "
            "D/2, D): " + ", ".join(f"{_pct(a)}%" for a in accs) + ".", ""]
  out += ["| model | train e_c | GFLOPs / clip | steps | accuracy (%) at the "
          "training e_c | accuracy (%) at e_c 1 | run wall time |",
          "|---|---|---|---|---|---|---|"]
  pts = []
  for e_c, name, res in videos:
    acc = loading.scenic_metric(res, "accuracy", e_c)
    gf = loading.scenic_metric(res, "gflops", e_c)
    full = None if e_c is None else loading.scenic_metric(res, "accuracy", 1.0)
    pts.append((e_c, gf, acc))
    wall = results.wall(name) or None
    out.append(f"| {'dense ViViT' if e_c is None else 'MoNE ViViT'} | "
               f"{'—' if e_c is None else f'{e_c:g}'} | "
               f"{'—' if gf is None else f'{gf:.4f}'} | "
               f"{_steps(results.scenic[name].get('steps'))} | {_pct(acc)} | "
               f"{_pct(full)} | "
               f"{'—' if wall is None else minutes(wall)} |")
  same = []
  for e_c in plan_lib.VIDEO_SAME_STEPS_E_C:
    name = plan_lib.video_same_steps_name(e_c)
    res = results.scenic_eval(name)
    if res:
      acc = loading.scenic_metric(res, "accuracy", e_c)
      same.append((e_c, acc))
      wall = results.wall(name) or None
      out.append(
          f"| MoNE ViViT, the dense ViViT's steps (not isoFLOPs) | {e_c:g} | "
          f"{loading.scenic_metric(res, 'gflops', e_c):.4f} | "
          f"{_steps(results.scenic[name].get('steps'))} | {_pct(acc)} | "
          f"{_pct(loading.scenic_metric(res, 'accuracy', 1.0))} | "
          f"{'—' if wall is None else minutes(wall)} |")
  out.append("")
  dense = [p for p in pts if p[0] is None]
  if dense and dense[0][2] is not None:
    words = []
    for e_c, gf, acc in pts:
      if e_c is not None and acc is not None and gf and dense[0][1]:
        words.append(f"at e_c {e_c:g} MoNE uses {dense[0][1] / gf:.2f}x "
                     f"fewer FLOPs and scores {100 * (acc - dense[0][2]):+.1f}"
                     " points against dense")
    for e_c, acc in same:
      if acc is not None:
        words.append(f"trained for the dense ViViT's steps instead, MoNE at "
                     f"e_c {e_c:g} scores {100 * (acc - dense[0][2]):+.1f} "
                     "points against dense")
    if words:
      out += [_sentence("; ".join(words)) + ".", ""]
    if dense[0][2] >= VIDEO_CEILING:
      out += [f"The dense ViViT is near this task's ceiling "
              f"({_pct(dense[0][2])}%), so 'within 1 point' says less here "
              "than it would on a harder task; the accuracy at e_c 1 (a "
              "budget the model was not trained at) and the run at the dense "
              "ViViT's steps separate the models more.", ""]
  figures.video(plots, pts)
  seconds = sum(results.wall(n) for n in ["nested"] + [v[1] for v in videos])
  out += [_img(plots[-1], "video accuracy vs FLOPs"), "",
          f"*Regenerate:* `make results` (this part: the nested pretraining "
          f"and {len(videos)} video run{'s' if len(videos) > 1 else ''}, "
          f"seed 0, {minutes(seconds)} of run "
          "time). By hand: `python -m projects.mone.main "
          "--config=projects/mone/configs/local_nested_pretrain.py "
          "--workdir=$W/nested`, then `python -m projects.mone.main "
          "--config=projects/mone/configs/local_mone_video.py:"
          "init=$W/nested,e_c=0.3 --workdir=$W/video_ec0.3` (`e_c=none`: "
          "dense).", ""]
  text = pending(results.scenic, planned)
  return out + ([f"*Part of this section is {text}.*", ""] if text else [])


############################## 5. Routing maps ##############################



def routing_section(results, plots):
  out = ["## 5. Routing maps", ""]
  runs = results.bv
  shown = [(f"ec{e:g}_s0", e, "learned") for e in (0.2, 0.3, 0.4)] + [
      (f"random_ec{e:g}_s0", e, "random") for e in plan_lib.RANDOM_ROUTER_E_C]
  shown = [s + (runs.routing(s[0]),) for s in shown if runs.get(s[0])]
  shown = [s[:3] for s in shown if s[3] is not None and
           f"experts_{s[1]:g}" in s[3]]
  stats = []
  if shown:
    rows = []
    for name, e_c, router in shown:
      z = runs.routing(name)
      images, experts = z["images"], z[f"experts_{e_c:g}"]
      patch = tuple(int(p) for p in z["patch_size"])
      grid = (images.shape[1] // patch[0], images.shape[2] // patch[1])
      rows.append((f"{router} router, e_c {e_c:g}", images[:8],
                   experts[:8].reshape(-1, *grid)))
      stats.append((name, router, e_c) + loading.routing_stats(
          images, experts, patch))
    figures.routing_maps_images(plots, rows)
    out += ["Test images (the first 8 of the test split) with each 4x4 patch "
            "token tinted by its expert (legend: expert widths, D/8 the "
            "smallest, D the full model; the trainers draw the same "
            "palette, `mone_plugin/viz.py`).", "",
            _img(plots[-1], "image routing maps"), "",
            "| run | router | e_c | object tokens on the 2 largest experts | "
            "background tokens on them | object share of tokens |",
            "|---|---|---|---|---|---|"]
    for name, router, e_c, obj, bg, frac in stats:
      out.append(f"| {name} | {router} | {e_c:g} | {100 * obj:.1f}% | "
                 f"{100 * bg:.1f}% | {100 * frac:.0f}% |")
    out.append("")
    learned = [s for s in stats if s[1] == "learned"]
    random = [s for s in stats if s[1] == "random"]
    if learned:
      prefers = [s for s in learned if s[3] > 2 * s[4] + 0.05]
      weaker = [s for s in learned if s not in prefers and s[3] > s[4] + 0.05]
      others = [s for s in learned if s not in prefers and s not in weaker]

      def runs_text(group):
        return ", ".join(f"e_c {s[2]:g} ({100 * s[3]:.0f}% of object tokens "
                         f"vs {100 * s[4]:.0f}% of background tokens)"
                         for s in group)
      text = "What the router learned (16 test images per run): "
      if prefers:
        text += ("it sends the garment's tokens to the two largest experts "
                 "and the black background to the small ones at "
                 + runs_text(prefers))
      if weaker:
        text += ("; " if prefers else "") + (
            "the same preference, weaker, at " + runs_text(weaker))
      if others:
        text += ("; " if prefers or weaker else "") + (
            "no such preference (or the reverse) at " + runs_text(others))
      if random:
        text += ("; the random router, for comparison: " + runs_text(random))
      out += [text + ".", ""]
  # The video maps of the most accurate MoNE video run.
  z, run, best = None, None, -1.0
  for e_c in plan_lib.VIDEO_E_C:
    if e_c is None:
      continue
    name = f"video_ec{e_c:g}"
    acc = loading.scenic_metric(results.scenic_eval(name), "accuracy", e_c)
    found = results.routing(name)
    if found is not None and (acc or 0.0) > best:
      z, run, best = found, name, acc or 0.0
  maps = z is not None
  if maps:
    mov, still, bg = loading.video_stats(z["inputs"], z["experts"])
    dst = figures.routing_maps_video(plots, z["inputs"], z["experts"])
    out += [f"Video ({run}, the most accurate MoNE video run; test clips, "
            "one row per clip, one column per "
            "tubelet of 2 frames, colours as above):", "",
            _img(dst, "video routing maps"), "",
            f"Tokens on the two largest experts: {_pct(mov)}% of the tokens "
            f"whose content moves between the tubelet's two frames, "
            f"{_pct(still)}% of still garment tokens and {_pct(bg)}% of the "
            "background. " + (
                "The router prefers moving content over still content." if
                mov > still + 0.05 else
                "The router does not prefer moving content over still "
                "garment content here." if mov <= still else
                "Moving and still garment tokens are treated alike.") + (
                    " Background gets the small experts." if bg < min(
                        mov, still) else ""), ""]
  if not shown and not maps:
    return out + ["Not run yet: no routed run with saved maps has finished "
                  "(the image maps come from the seed-0 MoNE and random-router"
                  " runs, the video map from the MoNE video runs).", ""]
  out += ["*Regenerate:* `make results`. The image maps come from the runs "
          f"{', '.join(s[0] for s in shown) or '(none)'} (seed 0; "
          "`experiments/results/bv_worker.py` saves their test images and "
          "experts, kept beside their summaries as `<run>.routing.npz`), the "
          "video map from the last evaluation of the MoNE video run (Scenic's "
          "trainer writes `routing_maps/` in its workdir); no extra run "
          "time.", ""]
  return out


################################ 6. Speed ################################


# `make benchmark` output from sessions lent a GPU (committed: no GPU is
# needed to regenerate this page).
GPU_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "docs", "results", "gpu")


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


def speed_section(results, plots):
  out = ["## 6. Speed: real wall-clock savings", ""]
  tables = []
  for model in ("vit", "vivit"):
    res = results.benchmark(model)
    if res:
      tables.append((model, res))
  if not tables:
    return out + ["Not run yet: " + pending(results.benchmarks, [
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
  out += [_img(plots[-1], "speedup vs FLOP ratio"), "",
          "*Regenerate:* `make results` (runs these after every training run, "
          f"alone on the machine; {minutes(seconds)}), or `make benchmark` "
          "(the same two commands: `python -m experiments.benchmark` and "
          "`python -m experiments.benchmark --model=vivit --reps=3 "
          "--e_c=0.3,0.4`). Inputs and weights are random (seeds 0 and 1): "
          "timing does not depend on them.", ""]
  return out


def shortfalls(results):
  """Where this page falls short of the paper, from the numbers."""
  runs = results.bv
  out = []
  dense = [runs.acc(n) for n in loading.seeded(runs, "dense")]
  if dense:
    for e_c in plan_lib.TRAIN_E_C:
      names = loading.seeded(runs, f"ec{e_c:g}")
      if names:
        gap = 100 * (np.mean([runs.acc(n) for n in names]) - np.mean(dense))
        if gap < -loading.CLAIM_POINTS:
          out.append(f"MoNE at e_c {e_c:g} is {-gap:.2f} points below dense "
                     f"(more than {loading.CLAIM_POINTS}).")
  dense_video = loading.scenic_metric(results.scenic_eval("video_dense"),
                                      "accuracy", None)
  for e_c in plan_lib.VIDEO_E_C[1:]:
    acc = loading.scenic_metric(results.scenic_eval(f"video_ec{e_c:g}"),
                                "accuracy", e_c)
    if dense_video is not None and acc is not None and (
        acc < dense_video - loading.CLAIM_POINTS / 100):
      out.append(f"Video: MoNE ViViT trained at e_c {e_c:g} reaches "
                 f"{100 * acc:.1f}% against the dense ViViT's "
                 f"{100 * dense_video:.1f}%.")
  vit = results.benchmark("vit")
  if vit:
    effs = [r["efficiency"] for r in vit["rows"] if r["e_c"] is not None]
    if max(effs) < loading.PAPER_SPEEDUP / loading.PAPER_FLOP_RATIO:
      out.append(f"CPU forward efficiency is {min(effs):.2f}–{max(effs):.2f}, "
                 f"below the paper's {loading.PAPER_SPEEDUP / loading.PAPER_FLOP_RATIO:.2f} "
                 "on V100: attention scores, softmax and GELU still run over "
                 "all tokens at full width, and on 2 cores those ops run far "
                 "below matmul throughput.")
  return out


def targets(results):
  """The issue's targets against what was measured: a Markdown table."""
  runs = results.bv
  data = figure3_data(runs)
  rows = []

  def add(target, measured, met):
    rows.append(f"| {target} | {measured} | "
                f"{'pending' if met is None else ('yes' if met else 'no')} |")

  own = data["dense_own"]
  dense_gf = next((g for w, g, *_ in data["dense_family"]
                   if w == plan_lib.WIDTH), None)
  goal = f"Dense ViT of the recipe (D = {plan_lib.WIDTH}) >= " \
         f"{100 * loading.DENSE_TARGET:g}% test precision@1"
  if own:
    m, sd = verdict.mean_std(list(own.values()))
    add(goal, f"{_pm(m, sd, len(own))} ({len(own)} "
        f"seed{'s' if len(own) != 1 else ''})",
        m >= loading.DENSE_TARGET)
  else:
    add(goal, "not run yet", None)
  lo, hi = loading.FIGURE3_RANGE
  family = [(g, m) for _, g, m, _, _ in data["dense_family"]]
  matvit = [(g, a) for _, g, a in data["matvit"]]
  for e_c, g, mean, _, accs in data["mone"]:
    ratio = dense_gf / g if dense_gf else None
    if not ratio or ratio < lo:
      continue
    delta, dev, n = verdict.paired_delta(accs, own)
    add(f"MoNE e_c {e_c:g} ({ratio:.2f}x fewer FLOPs) within "
        f"{loading.CLAIM_POINTS} points of the dense ViT of its width",
        "—" if delta is None else
        f"{_signed_pm(delta, dev, n)} points ({n} seed"
        f"{'s' if n != 1 else ''})",
        None if delta is None else delta >= -loading.CLAIM_POINTS / 100)
    if ratio > hi:
      continue
    for label, ref in (("the dense family", family), ("MatViT", matvit)):
      at = verdict.at_flops(ref, g) if len(ref) >= 2 else None
      add(f"MoNE e_c {e_c:g} above {label} at equal FLOPs",
          "pending" if len(ref) < 2 else (
              "outside its FLOPs range" if at is None else
              f"{100 * mean:.2f}% vs {100 * at:.2f}% "
              f"({100 * (mean - at):+.2f} points)"),
          None if at is None else mean > at)
  if data["iso"] and own and dense_gf:
    e_c, g, a, steps = data["iso"]
    m, _ = verdict.mean_std(list(own.values()))
    add(f"isoFLOPs MoNE e_c {e_c:g} ({dense_gf / g:.2f}x fewer FLOPs, "
        f"{steps} steps: the dense model's training FLOPs) within "
        f"{loading.CLAIM_POINTS} points of the dense ViT of its width",
        f"{100 * (a - m):+.2f} points (1 seed)",
        a - m >= -loading.CLAIM_POINTS / 100)
  if data["mod"]:
    g, a = data["mod"]
    at = verdict.at_flops([(g_, m) for _, g_, m, _, _ in data["mone"]], g)
    add(f"MoNE above MoD at MoD's FLOPs ({1e3 * g:.2f} MFLOPs)",
        "outside MoNE's measured FLOPs range" if at is None else
        f"{100 * at:.2f}% vs {100 * a:.2f}% ({100 * (at - a):+.2f} points)",
        None if at is None else at > a)
  else:
    add("MoNE above MoD at equal FLOPs", "pending (mod_s0)", None)
  dense_video = loading.scenic_metric(results.scenic_eval("video_dense"),
                                      "accuracy", None)
  for e_c in plan_lib.VIDEO_E_C[1:]:
    acc = loading.scenic_metric(results.scenic_eval(f"video_ec{e_c:g}"),
                                "accuracy", e_c)
    ok = None if acc is None or dense_video is None else (
        acc >= dense_video - loading.NEAR_POINTS / 100)
    add(f"Video: MoNE ViViT e_c {e_c:g} within {loading.NEAR_POINTS:g} "
        "point of the dense ViViT",
        "pending" if ok is None else
        f"{100 * acc:.1f}% vs {100 * dense_video:.1f}% "
        f"({100 * (acc - dense_video):+.1f} points)", ok)
  for what, name, key in (
      ("Adaptive model", "grid_s0", "adaptive"),
      (f"Adaptive model at {plan_lib.ADAPT_LONG_FACTOR}x the steps",
       ADAPT_LONG_NAME, "adaptive_long")):
    ad = {round(e, 6): a for e, _, a in data[key]}
    for e_c, _, mean, _, _ in data["mone"]:
      a = ad.get(round(e_c, 6))
      add(f"{what} within {loading.NEAR_POINTS:g} point of the "
          f"fixed-budget model at e_c {e_c:g}",
          f"pending ({name})" if a is None else
          f"{100 * a:.2f}% vs {100 * mean:.2f}% ({100 * (a - mean):+.2f} "
          "points)",
          None if a is None else a >= mean - loading.NEAR_POINTS / 100)
  return (["**Targets of the evidence issue (9) against what was measured** "
           "(each from the sections below; 'pending': its runs are not done):",
           "", "| target | measured | met |", "|---|---|---|"] + rows + [""])


def highlights(results):
  """What does hold here, from the numbers."""
  runs = results.bv
  out = []
  dense = [runs.acc(n) for n in loading.seeded(runs, "dense")]
  iso = runs.get(f"iso_ec{plan_lib.ISO_FLOPS_E_C:g}_s0")
  if dense and iso:
    gap = 100 * (runs.acc(iso["name"]) - np.mean(dense))
    ratio = runs.gflops(loading.seeded(runs, "dense")[0]) / runs.gflops(iso["name"])
    out.append(f"isoFLOPs: MoNE at e_c {plan_lib.ISO_FLOPS_E_C:g} trained "
               f"with the dense model's training FLOPs scores {gap:+.2f} "
               f"points against dense at {ratio:.2f}x fewer inference FLOPs.")
  dense_video = loading.scenic_metric(results.scenic_eval("video_dense"),
                                      "accuracy", None)
  near = []
  for e_c in plan_lib.VIDEO_E_C[1:]:
    acc = loading.scenic_metric(results.scenic_eval(f"video_ec{e_c:g}"),
                                "accuracy", e_c)
    if dense_video is not None and acc is not None and (
        acc >= dense_video - loading.CLAIM_POINTS / 100):
      near.append(f"{100 * acc:.1f}% at e_c {e_c:g}")
  if near:
    out.append(f"Video (isoFLOPs, the paper's protocol): MoNE ViViT reaches "
               f"{', '.join(near)} against the dense ViViT's "
               f"{100 * dense_video:.1f}% (one seed; a task near its "
               "ceiling: section 4).")
  diffs = [(e, runs.acc(f"ec{e:g}_s0") - runs.acc(f"random_ec{e:g}_s0"))
           for e in plan_lib.RANDOM_ROUTER_E_C
           if runs.get(f"ec{e:g}_s0") and runs.get(f"random_ec{e:g}_s0")]
  if diffs:
    verb = ("beats" if all(d > 0 for _, d in diffs) else
            "does not always beat")
    noise = _seed_spread(runs)
    clear = [e for e, d in diffs if noise is not None and d > 2 * noise]
    out.append(f"The learned router {verb} the random one: " + ", ".join(
        f"{100 * d:+.2f} points at e_c {e:g}" for e, d in diffs) +
               " (seed 0" + (
                   f"; beyond twice the seed spread at e_c "
                   f"{', '.join(f'{e:g}' for e in clear)} only" if
                   noise is not None and 0 < len(clear) < len(diffs) else
                   "") + ").")
  # Against each fixed budget's seed mean, as in the targets table.
  gaps = [d for _, d in _adaptive_gaps(figure3_data(runs), "adaptive_long")]
  if gaps and min(gaps) >= -loading.NEAR_POINTS / 100:
    out.append(f"Capacity adaptation: the e_c-sampled model trained "
               f"{plan_lib.ADAPT_LONG_FACTOR}x longer is within "
               f"{loading.NEAR_POINTS:g} point of every fixed-budget model "
               f"at its budget (worst {100 * min(gaps):+.2f} points; "
               "section 2): one model for every budget.")
  for model in ("vit", "vivit"):
    res = results.benchmark(model)
    if res:
      near = min((r for r in res["rows"] if r["e_c"] is not None),
                 key=lambda r: abs(r["flop_ratio"] - loading.PAPER_FLOP_RATIO))
      out.append(f"{res['header'].split(' on ')[0]}: {near['speedup']:.2f}x "
                 f"real forward speedup for {near['flop_ratio']:.2f}x fewer "
                 f"FLOPs (e_c {near['e_c']:g}; the paper: {loading.PAPER_SPEEDUP}x "
                 f"for {loading.PAPER_FLOP_RATIO}x on a V100).")
  return out


############################ 7. Figure 3 ############################


def _mean_std(accs):
  """'mean ± std' (%) of several seeds; one seed has no spread: 'x (1 seed)'."""
  mean, std = loading.mean_std(accs)
  if len(accs) < 2:
    return f"{100 * mean:.2f} (1 seed)"
  return f"{100 * mean:.2f} ± {100 * std:.2f}"


def _pm(mean, std, n=2):
  """'mean ± std' (%); one seed (n < 2) has no spread to show."""
  if mean is None:
    return "—"
  return f"{100 * mean:.2f}" + (f" ± {100 * std:.2f}" if n >= 2 else "")


def _signed_pm(delta, std, n):
  """'+d ± std' (points) of a difference; one seed has no spread to show."""
  return f"{100 * delta:+.2f}" + (f" ± {100 * std:.2f}" if n >= 2 else "")


def _seed_accs(runs, names, e_c="train"):
  """{seed: precision@1} of the runs `names` that exist."""
  return {runs.get(n)["seed"]: runs.acc(n, e_c) for n in names if runs.get(n)}


def figure3_data(runs):
  """The curves of Figure 3, from the summaries that exist.

  Returns:
    A dict: "dense_family" [(width, GFLOPs, mean, std, n)], "matvit"
    [(width, GFLOPs, accuracy)], "mod" (GFLOPs, accuracy) or None, "mone"
    [(e_c, GFLOPs, mean, std, {seed: accuracy})], "dense_own" {seed:
    accuracy} (the dense ViT of MoNE's width), "adaptive" [(e_c, GFLOPs,
    accuracy)] and "adaptive_long" (the same, trained longer), "iso" (e_c,
    GFLOPs, accuracy, steps) or None.
  """
  width = plan_lib.WIDTH
  family = []
  for w, _, _ in plan_lib.DENSE_FAMILY:
    names = ([plan_lib.dense_name(w, s) for s in plan_lib.SEEDS]
             if w == width else [plan_lib.dense_name(w)])
    accs = _seed_accs(runs, names)
    if accs:
      mean, std = verdict.mean_std(list(accs.values()))
      gf = runs.gflops(next(n for n in names if runs.get(n)))
      family.append((w, gf, mean, std, len(accs)))
  matvit = []
  if runs.get("matvit_s0"):
    for i, budget in enumerate(budgets_lib.nested_budgets(
        plan_lib.NUM_EXPERTS)):
      acc = runs.acc("matvit_s0", budget)
      if acc is not None:
        matvit.append((width // 2 ** (plan_lib.NUM_EXPERTS - 1 - i),
                       runs.gflops("matvit_s0", budget), acc))
  mod = None
  if runs.get("mod_s0") and runs.acc("mod_s0") is not None:
    mod = (runs.gflops("mod_s0"), runs.acc("mod_s0"))
  mone = []
  for e_c in plan_lib.TRAIN_E_C:
    accs = _seed_accs(runs, [f"ec{e_c:g}_s{s}" for s in plan_lib.SEEDS])
    if accs:
      mean, std = verdict.mean_std(list(accs.values()))
      mone.append((e_c, runs.gflops(f"ec{e_c:g}_s{min(accs)}"), mean, std,
                   accs))
  def adaptive(name):
    rows = runs.get(name)["rows"] if runs.get(name) else []
    return sorted((float(r["budget"][2:]), r["gflops"], r.get(loading.METRIC))
                  for r in rows if r.get("budget", "").startswith("ec"))

  iso_name = f"iso_ec{plan_lib.ISO_FLOPS_E_C:g}_s0"
  iso = None
  if runs.get(iso_name) and runs.acc(iso_name) is not None:
    iso = (plan_lib.ISO_FLOPS_E_C, runs.gflops(iso_name), runs.acc(iso_name),
           runs.steps(iso_name))
  return {"dense_family": family, "matvit": matvit, "mod": mod,
          "mone": mone, "adaptive": adaptive("grid_s0"),
          "adaptive_long": adaptive(ADAPT_LONG_NAME),
          "dense_own": _seed_accs(runs, [plan_lib.dense_name(width, s)
                                         for s in plan_lib.SEEDS]),
          "iso": iso}


def figure3_verdict(data):
  """The verdict in numbers: lines of Markdown, from `figure3_data`."""
  out = []
  family = [(g, m) for _, g, m, _, _ in data["dense_family"]]
  mone = [(g, m) for _, g, m, _, _ in data["mone"]]
  if len(family) >= 2 and mone:
    out += ["**MoNE against the dense family at equal FLOPs** (the family's "
            "accuracy interpolated linearly in log GFLOPs between its "
            "widths; nothing extrapolated):", "",
            "| MoNE e_c | MFLOPs | MoNE (%) | dense family at these FLOPs "
            "(%) | Δ (points) | dense FLOPs for MoNE's accuracy / MoNE's |",
            "|---|---|---|---|---|---|"]
    for (e_c, *_), (g, a, ref, delta, ratio) in zip(
        data["mone"], verdict.versus_curve(mone, family)):
      out.append(
          f"| {e_c:g} | {1e3 * g:.2f} | {100 * a:.2f} | "
          f"{'outside the family' if ref is None else f'{100 * ref:.2f}'} | "
          f"{'—' if delta is None else f'{100 * delta:+.2f}'} | "
          f"{'—' if ratio is None else f'{ratio:.2f}x'} |")
    out.append("")
  elif mone:
    out += [f"MoNE against the dense family: needs 2 or more dense widths "
            f"({len(family)} so far).", ""]
  own = data["dense_own"]
  dense_gf = next((g for w, g, *_ in data["dense_family"]
                   if w == plan_lib.WIDTH), None)
  if own and dense_gf:
    dmean, dstd = verdict.mean_std(list(own.values()))
    rows = []
    for e_c, g, mean, std, accs in data["mone"]:
      ratio = dense_gf / g
      if ratio < 2:
        continue
      delta, dev, n = verdict.paired_delta(accs, own)
      met = delta is not None and delta >= -loading.CLAIM_POINTS / 100
      rows.append(
          f"| {e_c:g} | {ratio:.2f}x | {_pm(mean, std, len(accs))} "
          f"({len(accs)}) | {_pm(dmean, dstd, len(own))} ({len(own)}) | "
          f"{'—' if delta is None else _signed_pm(delta, dev, n)} ({n}) | "
          f"{'yes' if met else 'no'} |")
    if rows:
      out += [f"**MoNE at >= 2x fewer FLOPs against the dense ViT of its own "
              f"width** (D = {plan_lib.WIDTH}; precision@1 mean ± std over "
              "seeds, number of seeds in brackets; Δ per seed, paired by "
              f"seed; target: within {loading.CLAIM_POINTS} points):", "",
              "| e_c | FLOP reduction | MoNE (%) | dense (%) | Δ (points) | "
              "target met |", "|---|---|---|---|---|---|"] + rows + [""]
  words = []
  matvit = [(g, a) for _, g, a in data["matvit"]]
  if len(matvit) >= 2 and mone:
    diffs = [(e_c, d) for (e_c, *_), (_, _, _, d, _) in zip(
        data["mone"], verdict.versus_curve(mone, matvit)) if d is not None]
    if diffs:
      words.append("against MatViT's nested models at equal FLOPs: " +
                   ", ".join(f"e_c {e:g} {100 * d:+.2f}" for e, d in diffs) +
                   " points")
  if data["mod"] and mone:
    g, a = data["mod"]
    at = verdict.at_flops(mone, g)
    words.append(
        f"Mixture-of-Depths: {100 * a:.2f}% at {1e3 * g:.2f} MFLOPs; " + (
            f"MoNE at those FLOPs {100 * at:.2f}% ({100 * (at - a):+.2f} "
            "points)" if at is not None else
            "outside MoNE's measured FLOPs range"))
  if data["adaptive"] and data["mone"]:
    diffs = _adaptive_gaps(data, "adaptive")
    if diffs:
      longer = _adaptive_gaps(data, "adaptive_long")
      words.append("the adaptive model (e_c sampled per step) against each "
                   "fixed-budget model (mean over seeds) at its budget: " +
                   ", ".join(f"e_c {e:g} {100 * d:+.2f}" for e, d in diffs) +
                   " points (target: within 1)" + (
                       f"; trained {plan_lib.ADAPT_LONG_FACTOR}x longer: " +
                       ", ".join(f"e_c {e:g} {100 * d:+.2f}"
                                 for e, d in longer) + " points"
                       if longer else ""))
  if data["iso"] and own:
    e_c, g, a, steps = data["iso"]
    dmean, _ = verdict.mean_std(list(own.values()))
    words.append(f"isoFLOPs MoNE (e_c {e_c:g}, {steps} steps): "
                 f"{100 * a:.2f}%, {100 * (a - dmean):+.2f} points against "
                 f"the dense ViT of its width at "
                 f"{dense_gf / g if dense_gf else float('nan'):.2f}x fewer "
                 "inference FLOPs")
  if words:
    out += ["**Against the other baselines:** " + "; ".join(words) + ".", ""]
  out += figure3_why(data)
  return out


def figure3_why(data):
  """Why MoNE does or does not win here: how steep the dense family is.

  MoNE trades capacity for FLOPs; that can only win at equal FLOPs where the
  dense family gains accuracy with FLOPs. Measured: the family's gain from its
  smallest width to the recipe's, and what training longer gives MoNE.
  """
  family = sorted(data["dense_family"], key=lambda f: f[1])
  own = next((f for f in family if f[0] == plan_lib.WIDTH), None)
  if len(family) < 2 or own is None or family[0] is own:
    return []
  w0, g0, a0, _, _ = family[0]
  _, g1, a1, _, _ = own
  per_doubling = (a1 - a0) / math.log2(g1 / g0)
  best = max(family, key=lambda f: f[2])
  words = [f"the dense family gains {100 * (a1 - a0):+.2f} points from width "
           f"{w0} to {plan_lib.WIDTH} ({_pct(a0)}% → {_pct(a1)}%) for "
           f"{g1 / g0:.1f}x the FLOPs, {100 * per_doubling:+.2f} points per "
           f"doubling of FLOPs (its best width is {best[0]}, "
           f"{100 * best[2]:.2f}%)"]
  wider = [f for f in family if f[0] > plan_lib.WIDTH]
  if wider:
    words.append("wider than the recipe's width it " + (
        "falls" if all(f[2] < a1 for f in wider) else
        "rises" if all(f[2] > a1 for f in wider) else "moves") + ": " +
                 ", ".join(f"width {w} {_pct(a)}% at {g / g1:.1f}x the FLOPs"
                           for w, g, a, _, _ in wider))
  steep = per_doubling >= loading.STEEP_POINTS_PER_DOUBLING / 100
  if data["iso"]:
    e_c, _, a_iso, steps = data["iso"]
    same = next((m for e, _, m, _, _ in data["mone"]
                 if abs(e - e_c) < 1e-6), None)
    if same is not None:
      words.append(
          f"the same MoNE model (e_c {e_c:g}) trained for {steps} steps "
          f"instead of {plan_lib.STEPS} gains {100 * (a_iso - same):+.2f} "
          f"points ({100 * same:.2f}% → {100 * a_iso:.2f}%)")
  full = max(data["matvit"], default=None)
  if full is not None and full[0] == plan_lib.WIDTH:
    words.append(f"MatViT's full-width model, trained with a joint loss over "
                 f"its {len(data['matvit'])} nested widths for the same "
                 f"steps, reaches {100 * full[2]:.2f}% against the dense "
                 f"ViT's {100 * a1:.2f}%")
  text = "**Why (measured):** " + "; ".join(words) + ". "
  if steep:
    text += ("The dense family is steep enough here for FLOP savings to show "
             "as accuracy at equal FLOPs.")
  else:
    text += (f"The dense family is nearly flat (under "
             f"{loading.STEEP_POINTS_PER_DOUBLING:g} point per doubling of "
             "FLOPs): at this recipe accuracy is bounded by the training "
             "rather than by the model's capacity, so a smaller dense ViT "
             "reaches MoNE's accuracy with fewer FLOPs than MoNE spends, and "
             "what MoNE saves in capacity buys little. The paper's claim is "
             "about a regime where the family is steep (ViT-S, -B, -L on "
             "ImageNet-21k); this test cannot confirm or refute it until the "
             "family's curve is steep here too.")
  return [text, ""]


########################## 8. Recipe tuning ###########################


def _one_change(probes):
  """Sentences comparing probes that differ in one setting only."""
  lines = []
  for key in ("lr", "steps", "width", "depth", "res", "flip"):
    groups = {}
    for p in probes:
      rest = tuple(sorted((k, v) for k, v in p["settings"].items()
                          if k != key))
      groups.setdefault(rest, {})[p["settings"][key]] = p["val"]
    for rest, by_value in groups.items():
      if len(by_value) < 2:
        continue
      order = sorted(by_value, key=float) if key != "flip" else sorted(
          by_value)
      same = ", ".join(f"{k} {v}" for k, v in rest
                       if k in ("steps", "lr", "width") and v)
      lines.append(f"{key} ({same}): " + ", ".join(
          f"{v} → {_pct(by_value[v])}%" for v in order))
  return lines


def recipe_section(results):
  """The dense recipe's probes on the validation split (the dense target)."""
  probes = loading.recipe_probes(results.dir)
  if not probes or results.mode != "full":
    return []
  out = ["## 8. Recipe tuning on the validation split (the dense ViT)", "",
         "Every choice of the recipe was made here, on the last 10,000 "
         "training images held out (`val`: trained on train[:50000]), never "
         "on the test split. Dense ViT, patch 4, seed 0, "
         "Adam with a cosine schedule, through Big Vision's trainer; "
         "`python -m experiments.recipe_probe` runs the probes "
         "(`results/runs/recipe_*.json`). Wall times are of 2 CPU cores and "
         "only comparable between probes that ran alone.", "",
         "| probe | steps | batch | lr | width | depth | image side | flip | "
         "val precision@1 (%) by step | wall |",
         "|---|---|---|---|---|---|---|---|---|---|"]
  for p in sorted(probes, key=lambda p: (p["steps"], p["name"])):
    st = p["settings"]
    curve = ", ".join(f"{_pct(a)} @ {n}" for n, a in p["val_by_step"])
    wall = minutes(p["wall_s"]) if p["wall_s"] else "—"
    out.append(f"| `{p['name']}` | {p['steps']} | {st['batch']} | "
               f"{float(st['lr']):g} | {st['width']} | {st['depth']} | "
               f"{st['res']} | {st['flip']} | "
               f"**{_pct(p['val'])}** ({curve}) | {wall} |")
  out += [""] + [f"- {line}" for line in _one_change(probes)]
  best = max(probes, key=lambda p: p["val"])
  out += ["", f"Best on validation: `{best['name']}`, {_pct(best['val'])}% "
          f"at {best['steps']} steps."]
  own = figure3_data(results.bv)["dense_own"]
  recipe = {k: str(plan_lib.RECIPE.get(k, v))
            for k, v in loading.PROBE_DEFAULTS.items()}
  r2_val = [p["val"] for p in probes
            if p["settings"] == {**recipe, "steps": str(plan_lib.STEPS)}]
  if own and r2_val:
    test, _ = verdict.mean_std(list(own.values()))
    gap = r2_val[0] - test
    out[-1] += (
        f" The recipe's own probe reached {_pct(r2_val[0])}% on validation "
        f"and {100 * test:.2f}% on test (mean of {len(own)} seeds, trained "
        f"on all 60,000 images): test runs {100 * gap:.1f} points below "
        f"validation here, so the {100 * loading.DENSE_TARGET:g}% test "
        f"target asks for about {100 * (loading.DENSE_TARGET + gap):.1f}% "
        "on validation.")
    out[-1] += _steps_needed(probes, best, loading.DENSE_TARGET + gap)
  return out + [""]


def _steps_needed(probes, best, val_goal):
  """How many steps the best probe's settings would need for `val_goal`.

  Extrapolates the measured gain per doubling of steps of the best settings
  (the same probe at fewer steps), the trend every step sweep here follows.
  """
  rest = {k: v for k, v in best["settings"].items() if k != "steps"}
  shorter = [p for p in probes if p["steps"] < best["steps"] and
             {k: v for k, v in p["settings"].items() if k != "steps"} == rest]
  if not shorter or best["val"] >= val_goal:
    return ""
  ref = max(shorter, key=lambda p: p["steps"])
  per_doubling = (best["val"] - ref["val"]) / math.log2(
      best["steps"] / ref["steps"])
  if per_doubling <= 0:
    return ""
  doublings = (val_goal - best["val"]) / per_doubling
  steps = best["steps"] * 2 ** doublings
  text = (f" Its settings gain {100 * per_doubling:.1f} points per doubling "
          f"of steps ({ref['steps']} → {best['steps']}); at that rate "
          f"{100 * val_goal:.1f}% would take about {steps:,.0f} steps")
  if best["wall_s"]:
    text += (f", {best['wall_s'] * steps / best['steps'] / 3600:.1f} hours "
             "a run on 2 CPU cores")
  return text + "."


def figure3_section(runs, plots):
  """Accuracy vs inference GFLOPs of every model of the paper's Figure 3."""
  out = ["## 7. The paper's Figure 3 at small scale: MoNE, the dense family, "
         "MatViT, MoD", ""]
  names = plan_lib.group_runs(runs.mode, plan_lib.FIGURE3_GROUPS)
  have = [n for n in names if runs.get(n)]
  if not have:
    return out + ["Not run yet: " + (pending(runs.results, names) or
                                     "no runs in this plan") + ".", ""]
  data = figure3_data(runs)
  r = plan_lib.RECIPE
  recipe = (f"`plan.RECIPE`: {r['steps']} steps of batch {r['batch']}, ViT "
            f"depth {r['depth']}" if runs.mode == "full" else
            f"the {runs.mode} mode's `runlocal` settings, 10 steps of a "
            "2-layer ViT on 64 test images, and only the runs its plan has")
  out += [
      f"Every model trained with the same recipe ({recipe}, "
      f"patch 4, 32x32 px, `configs/mone_fashion_mnist.py`; recipe "
      f"`{plan_lib.recipe_tag('bv', runs.mode)}`), precision@1 on the test "
      "split; GFLOPs are analytic inference FLOPs per image (a multiply-add "
      f"counts one). Seeds: {len(plan_lib.SEEDS)} "
      f"({', '.join(map(str, plan_lib.SEEDS))}) for MoNE at each e_c and "
      f"for the dense ViT of its width (D = {plan_lib.WIDTH}); 1 seed (0) "
      "for the other dense widths, MatViT, MoD, the adaptive and the "
      "isoFLOPs model, to fit the compute.", "",
      "| model | width or e_c | MFLOPs / image | precision@1 (%) | seeds |",
      "|---|---|---|---|---|"]
  for w, g, mean, std, n in data["dense_family"]:
    out.append(f"| dense ViT | {w} | {1e3 * g:.2f} | {_pm(mean, std, n)} | "
               f"{n} |")
  for w, g, a in data["matvit"]:
    out.append(f"| MatViT nested model | {w} | {1e3 * g:.2f} | "
               f"{100 * a:.2f} | 1 |")
  if data["mod"]:
    g, a = data["mod"]
    out.append(f"| MoD (top {100 * 0.125:g}% every other block) | "
               f"{plan_lib.WIDTH} | {1e3 * g:.2f} | {100 * a:.2f} | 1 |")
  for e_c, g, mean, std, accs in data["mone"]:
    out.append(f"| MoNE | e_c {e_c:g} | {1e3 * g:.2f} | "
               f"{_pm(mean, std, len(accs))} | "
               f"{len(accs)} |")
  for e_c, g, a in data["adaptive"]:
    out.append(f"| MoNE adaptive (e_c sampled) | e_c {e_c:g} | "
               f"{1e3 * g:.2f} | {'—' if a is None else f'{100 * a:.2f}'} | "
               "1 |")
  if data["iso"]:
    e_c, g, a, steps = data["iso"]
    out.append(f"| MoNE isoFLOPs ({steps} steps) | e_c {e_c:g} | "
               f"{1e3 * g:.2f} | {100 * a:.2f} | 1 |")
  out.append("")
  out += figure3_verdict(data)
  figures.figure3(plots, data)
  out += [_img(plots[-1], "Figure 3: accuracy vs inference FLOPs"), "",
          _regen(runs, have, f"{len(plan_lib.SEEDS)} seeds for MoNE and the "
                 "dense ViT of its width, 1 elsewhere"), ""]
  text = pending(runs.results, names)
  if text:
    out += [f"*This section is {text}: `make results` runs them; the "
            "numbers above are of the finished runs only.*", ""]
  return out
