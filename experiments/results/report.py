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
"""

import glob
import json
import os
import platform
import time

from absl import app
from absl import flags
import matplotlib
import numpy as np

from mone_plugin import capacity as capacity_lib
from experiments.results import plan as plan_lib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top,g-bad-import-order

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
# The paper's V100 measurement (MoNE ViT-B/16 vs ViT-B/16).
PAPER_SPEEDUP, PAPER_FLOP_RATIO = 1.94, 2.31
NUM_EXPERTS = 4
CLAIM_POINTS = 0.5  # "within 0.5 points of the dense model".
METRIC = "test/prec@1"


def _json(path):
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)


def _pct(x):
  return "—" if x is None else f"{100 * x:.1f}"


def _mean_std(values):
  if not values:
    return None, None
  return float(np.mean(values)), float(np.std(values, ddof=1)) if len(
      values) > 1 else 0.0


def _sentence(text):
  """Upper-cases the first letter only (str.capitalize lowers 'MoNE')."""
  return text[:1].upper() + text[1:]


def _minutes(seconds):
  return f"{seconds / 60:.1f} min"


class Runs:
  """The Big Vision runs of a plan, by name."""

  def __init__(self, root):
    self.results = {}
    for path in sorted(glob.glob(os.path.join(root, "bv", "*", "result.json"))):
      r = _json(path)
      r["dir"] = os.path.dirname(path)
      self.results[r["name"]] = r

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
    last = os.path.join(self.get(name)["dir"], "checkpoint.bv-LAST")
    if os.path.exists(last):
      with open(last) as f:
        return int(f.read().strip() or 0)
    return self.get(name)["steps"]

  def row(self, name, e_c="train"):
    """The evaluation of run `name` at `e_c` ("train": its training e_c)."""
    r = self.get(name)
    if r is None:
      return None
    if e_c == "train":
      e_c = self.train_e_c(name)
    for row in r["rows"]:
      if row["e_c"] == ("dense" if e_c is None else e_c) or (
          e_c is not None and row["e_c"] != "dense" and
          abs(row["e_c"] - e_c) < 1e-6):
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
    # Repo-relative paths: the command as it reads from a checkout.
    return None if r is None else r["command"].replace(REPO + os.sep, "")


def _seeded(runs, prefix):
  names = [f"{prefix}_s{s}" for s in plan_lib.SEEDS]
  return [n for n in names if runs.get(n)]


def _figure(path, fig):
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return path


################################ 1. Images ################################


def images_section(runs, plots):
  """Accuracy vs GFLOPs, dense vs MoNE, 3 seeds; the claim; isoFLOPs."""
  out = ["## 1. Images: accuracy vs compute (Big Vision, Fashion-MNIST)", ""]
  dense_names = _seeded(runs, "dense")
  dense_accs = [runs.acc(n) for n in dense_names]
  dense_mean, dense_std = _mean_std(dense_accs)
  if not dense_names:
    return out + ["Not run: no dense image runs in this results directory.", ""]
  dense_gf = runs.gflops(dense_names[0])
  seeds = ", ".join(str(runs.get(n)["seed"]) for n in dense_names)
  out += [
      f"The dense ViT and MoNE at e_c {', '.join(map(str, plan_lib.TRAIN_E_C))}"
      f", each trained with the same recipe ({runs.steps(dense_names[0])}"
      " steps of batch 128, `configs/mone_fashion_mnist.py`: ViT width 64, "
      "depth 4, patch 4, "
      "32x32 px, 64 tokens, 4 nested experts) for seeds "
      f"{seeds}; precision@1 on the test split (10,000 images), which no choice on this page was tuned on (the recipe is "
      "the default run's, with fewer steps to fit the compute).", "",
      "| model | e_c | MFLOPs / image | FLOP ratio | precision@1 (%) "
      "mean ± std | seeds | Δ vs dense (points) |",
      "|---|---|---|---|---|---|---|",
      f"| dense ViT | — | {1e3 * dense_gf:.2f} | 1.00 | "
      f"{100 * dense_mean:.2f} ± {100 * dense_std:.2f} | "
      f"{', '.join(_pct(a) for a in dense_accs)} | — |"]
  points, verdicts = [], []
  for e_c in plan_lib.TRAIN_E_C:
    names = _seeded(runs, f"ec{e_c:g}")
    if not names:
      continue
    accs = [runs.acc(n) for n in names]
    mean, std = _mean_std(accs)
    gf = runs.gflops(names[0])
    ratio = dense_gf / gf
    delta = 100 * (mean - dense_mean)
    points.append((e_c, gf, accs, mean, std))
    out.append(f"| MoNE | {e_c:g} | {1e3 * gf:.2f} | {ratio:.2f} | "
               f"{100 * mean:.2f} ± {100 * std:.2f} | "
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
    met = [v for v in verdicts if v[2] >= -CLAIM_POINTS]
    lines = [f"e_c {e:g} ({r:.2f}x fewer FLOPs): {d:+.2f} points"
             for e, r, d in verdicts]
    out += [f"**The claim** (MoNE at >= 2x fewer FLOPs within "
            f"{CLAIM_POINTS} points of dense): " + "; ".join(lines) + ". " +
            (f"It holds at e_c {', '.join(f'{v[0]:g}' for v in met)}."
             if met else "It does not hold at this scale."), ""]
  if iso:
    out += [f"isoFLOPs: the e_c {plan_lib.ISO_FLOPS_E_C:g} model trained for "
            f"{runs.steps(iso['name'])} steps (the dense model's training "
            "FLOPs; "
            "`iso_flops` in the config) reaches "
            f"{100 * iso_acc:.2f}% against the dense model's "
            f"{100 * dense_mean:.2f}%, at "
            f"{dense_gf / runs.gflops(iso['name']):.2f}x fewer inference "
            "FLOPs.", ""]
  # The wall-clock side of the same runs.
  dense_train = np.mean([runs.get(n)["train_s"] for n in dense_names])
  speed = []
  for e_c, *_ in points:
    names = _seeded(runs, f"ec{e_c:g}")
    speed.append(f"e_c {e_c:g}: "
                 f"{dense_train / np.mean([runs.get(n)['train_s'] for n in names]):.2f}x")
  out += ["Training wall time of these runs (the whole `train_and_evaluate`, "
          "compilation and input pipeline included), dense over MoNE, mean "
          "over seeds: " + ", ".join(speed) + ". At width 64 per-op overheads "
          "dominate, so this small model saves less time than FLOPs "
          "(section 6 has the full-size models).", ""]

  fig, ax = plt.subplots(figsize=(5.2, 3.6))
  ax.axhline(100 * dense_mean, color="k", lw=0.8, ls="--")
  ax.axhspan(100 * dense_mean - CLAIM_POINTS, 100 * dense_mean + CLAIM_POINTS,
             color="k", alpha=0.08, label=f"dense ± {CLAIM_POINTS} pt")
  ax.errorbar([1e3 * dense_gf], [100 * dense_mean], [100 * dense_std],
              fmt="s", color="k", capsize=3, label="dense ViT")
  ax.scatter([1e3 * dense_gf] * len(dense_accs),
             [100 * a for a in dense_accs], color="k", s=8, alpha=0.5)
  if points:
    ax.errorbar([1e3 * p[1] for p in points], [100 * p[3] for p in points],
                [100 * p[4] for p in points], fmt="o-", color="C0",
                capsize=3, label="MoNE (mean ± std)")
    for e_c, gf, accs, *_ in points:
      ax.scatter([1e3 * gf] * len(accs), [100 * a for a in accs], color="C0",
                 s=8, alpha=0.5)
      ax.annotate(f"e_c={e_c:g}", (1e3 * gf, 100 * np.mean(accs)),
                  textcoords="offset points", xytext=(4, -11), fontsize=7)
  if iso:
    ax.scatter([1e3 * runs.gflops(iso["name"])], [100 * iso_acc], marker="*",
               s=80, color="C3", label="MoNE isoFLOPs", zorder=3)
  ax.set_xlabel("MFLOPs per image")
  ax.set_ylabel("precision@1 (%)")
  ax.set_title("Fashion-MNIST: accuracy vs inference FLOPs")
  ax.grid(alpha=0.3)
  ax.legend(fontsize=7, loc="lower right")
  plots.append(_figure(os.path.join(plots.dir, "images_accuracy_vs_flops.png"),
                       fig))
  names = dense_names + [n for e in plan_lib.TRAIN_E_C
                         for n in _seeded(runs, f"ec{e:g}")]
  out += [_img(plots[-1], "accuracy vs FLOPs"), "",
          _regen(runs, names + ([iso["name"]] if iso else []),
                 f"seeds {seeds}"), ""]
  return out


def _img(path, alt):
  return f"![{alt}](results/{os.path.basename(path)})"


def _regen(runs, names, seeds):
  seconds = runs.seconds(names)
  example = runs.command(names[-1]) if names else None
  return (f"*Regenerate:* `make results` (this part: {len(names)} "
          f"run{'s' if len(names) != 1 else ''}, "
          f"{seeds}; {_minutes(seconds)} of run time, two runs at a time on "
          "the machine below). One run by hand: "
          f"`{example}`, then `python -m mone_plugin.big_vision.evaluate "
          "--workdir=<that workdir> --e_c=<budgets>`.")


########################## 2. Capacity adaptation ##########################


def adaptation_section(runs, plots):
  out = ["## 2. Capacity adaptation (the paper's Figure 5)", ""]
  models = [(f"trained at e_c {e:g}", f"ec{e:g}_s0")
            for e in plan_lib.ADAPT_TRAIN_E_C]
  models.append(("e_c sampled per step from {0.2, 0.4, 0.6, 0.8, 1.0}",
                 "grid_s0"))
  models = [(label, n) for label, n in models if runs.get(n)]
  if not models:
    return out + ["Not run in this results directory.", ""]
  evals = sorted({row["e_c"] for _, n in models for row in runs.get(n)["rows"]
                  if row["e_c"] != "dense"})
  out += ["Each model, trained at one budget (or with e_c drawn at every "
          "step), evaluated at every budget from the same checkpoint: "
          "precision@1 (%) on the test split, seed 0.", "",
          "| model \\ eval e_c | " + " | ".join(f"{e:g}" for e in evals) + " |",
          "|---|" + "---|" * len(evals)]
  fig, ax = plt.subplots(figsize=(5.2, 3.6))
  for label, name in models:
    accs = [runs.acc(name, e) for e in evals]
    out.append(f"| {label} | " + " | ".join(_pct(a) for a in accs) + " |")
    ax.plot(evals, [np.nan if a is None else 100 * a for a in accs], "o-",
            ms=3, label=label.replace(" from {0.2, 0.4, 0.6, 0.8, 1.0}", ""))
  ax.set_xlabel("e_c at evaluation")
  ax.set_ylabel("precision@1 (%)")
  ax.set_title("Adapting one model to other budgets")
  ax.grid(alpha=0.3)
  ax.legend(fontsize=7)
  plots.append(_figure(os.path.join(plots.dir, "capacity_adaptation.png"), fig))
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
  out += [_sentence("; ".join(words)) + ".", "",
          _img(plots[-1], "capacity adaptation"), "",
          _regen(runs, [n for _, n in models], "seed 0"), ""]
  return out


########################### 3. Routing ablations ###########################


def ablations_section(runs, plots, mode):
  out = ["## 3. Routing ablations (the paper's Figure 7 and Table 2)", ""]
  rows = []
  for e_c in plan_lib.RANDOM_ROUTER_E_C:
    rnd = runs.get(f"random_ec{e_c:g}_s0")
    learned = _seeded(runs, f"ec{e_c:g}")
    if not rnd or not learned:
      continue
    mean, std = _mean_std([runs.acc(n) for n in learned])
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
      c_b = capacity_lib.capacity_distribution(e_c, NUM_EXPERTS, method)
      c_m = capacity_lib.capacity_distribution(e_c, NUM_EXPERTS, "mone")
      out.append(f"| {e_c:.3f} | {method} | "
                 f"{', '.join(f'{c:.3f}' for c in c_b)} | {_pct(other)} | "
                 f"{', '.join(f'{c:.3f}' for c in c_m)} | {_pct(ours)} | "
                 f"{100 * (ours - other):+.2f} |")
    c_u = capacity_lib.capacity_distribution(uniform, NUM_EXPERTS, "mone")
    out += ["", f"`uniform` fixes e_c {uniform:.3f}, and there MoNE's "
            "maximum-entropy capacities are "
            f"{', '.join(f'{c:.3f}' for c in c_u)}: uniform itself (entropy "
            "is largest for the uniform distribution), so the two are the "
            "same model and need no comparison run.", ""]
  if not rows and not caps:
    return out + ["Not run in this results directory.", ""]
  fig, ax = plt.subplots(figsize=(5.6, 3.4))
  labels, a, b = [], [], []
  for e_c, l0, _, _, rnd in rows:
    labels.append(f"router\ne_c {e_c:g}")
    a.append(100 * l0)
    b.append(100 * rnd)
  for method, e_c, ours, other in caps:
    labels.append(f"{method}\ne_c {e_c:.2f}")
    a.append(100 * ours)
    b.append(100 * other)
  x = np.arange(len(labels))
  ax.bar(x - 0.2, a, 0.4, label="MoNE (learned router, its capacities)")
  ax.bar(x + 0.2, b, 0.4, label="ablation (random router / baseline "
         "capacities)")
  ax.set_xticks(x, labels, fontsize=7)
  lo = min(a + b)
  ax.set_ylim(max(0, lo - 5), max(a + b) + 2)
  ax.set_ylabel("precision@1 (%)")
  ax.legend(fontsize=6.5, loc="lower right")
  ax.grid(alpha=0.3, axis="y")
  plots.append(_figure(os.path.join(plots.dir, "routing_ablations.png"), fig))
  out += [_img(plots[-1], "routing ablations"), "",
          _regen(runs, names, "seed 0"), ""]
  return out


################################ 4. Video ################################


def _scenic_key(e_c):
  """The suffix of Scenic's MoNE trainer's metrics at `e_c` (None: dense)."""
  return "dense" if e_c is None else f"ec{e_c:.2f}"


def _scenic(result, metric, e_c):
  return (result or {}).get(f"{metric}_{_scenic_key(e_c)}")


def video_section(root, walls, plots):
  out = ["## 4. Video: ViViT-FE dense vs MoNE (Scenic, Moving Fashion-MNIST)",
         ""]
  scenic = os.path.join(root, "scenic")
  nested = _json(os.path.join(scenic, "nested", "final_eval.json"))
  videos = []
  for e_c in plan_lib.VIDEO_E_C:
    name = "video_dense" if e_c is None else f"video_ec{e_c:g}"
    res = _json(os.path.join(scenic, name, "final_eval.json"))
    if res:
      videos.append((e_c, name, res))
  if not videos:
    return out + ["Not run in this results directory.", ""]
  out += ["Clips of 8 frames (32x32 px) in which a Fashion-MNIST garment "
          "moves in one of 8 directions; the label is the direction, which no "
          "single frame shows (chance 12.5%). The ViViT factorised encoder "
          "(tubelets 4x4x2, a routed spatial transformer per frame, a dense "
          "2-layer temporal transformer) is initialised from the nested "
          "pretraining on Fashion-MNIST images (`local_nested_pretrain.py`: "
          "each step trains all 4 nested widths), then trained with Scenic's "
          "loop for the same steps as dense or MoNE "
          "(`local_mone_video.py`). Test accuracy on 1,000 clips, seed 0:", ""]
  if nested:
    accs = [nested.get(f"accuracy_expert{i}") for i in range(NUM_EXPERTS)]
    out += ["Nested pretraining, image accuracy by nested width (D/8, D/4, "
            "D/2, D): " + ", ".join(f"{_pct(a)}%" for a in accs) + ".", ""]
  out += ["| model | train e_c | GFLOPs / clip | accuracy (%) at the "
          "training e_c | accuracy (%) at e_c 1 | run wall time |",
          "|---|---|---|---|---|---|"]
  pts = []
  for e_c, name, res in videos:
    acc = _scenic(res, "accuracy", e_c)
    gf = _scenic(res, "gflops", e_c)
    full = None if e_c is None else _scenic(res, "accuracy", 1.0)
    pts.append((e_c, gf, acc))
    wall = walls.get(f"scenic_{name}")
    out.append(f"| {'dense ViViT' if e_c is None else 'MoNE ViViT'} | "
               f"{'—' if e_c is None else f'{e_c:g}'} | "
               f"{'—' if gf is None else f'{gf:.4f}'} | {_pct(acc)} | "
               f"{_pct(full)} | "
               f"{'—' if wall is None else _minutes(wall)} |")
  out.append("")
  dense = [p for p in pts if p[0] is None]
  if dense and dense[0][2] is not None:
    words = []
    for e_c, gf, acc in pts:
      if e_c is not None and acc is not None and gf and dense[0][1]:
        words.append(f"at e_c {e_c:g} MoNE uses {dense[0][1] / gf:.2f}x "
                     f"fewer FLOPs and scores {100 * (acc - dense[0][2]):+.1f}"
                     " points against dense")
    if words:
      out += [_sentence("; ".join(words)) + ".", ""]
  fig, ax = plt.subplots(figsize=(4.6, 3.2))
  for e_c, gf, acc in pts:
    if gf is not None and acc is not None:
      ax.scatter([gf], [100 * acc], marker="s" if e_c is None else "o",
                 color="k" if e_c is None else "C0")
      ax.annotate("dense" if e_c is None else f"MoNE {e_c:g}",
                  (gf, 100 * acc), textcoords="offset points", xytext=(4, 4),
                  fontsize=7)
  ax.set_xlabel("GFLOPs per clip")
  ax.set_ylabel("accuracy (%)")
  ax.set_title("Moving Fashion-MNIST")
  ax.grid(alpha=0.3)
  plots.append(_figure(os.path.join(plots.dir, "video.png"), fig))
  seconds = sum(walls.get(f"scenic_{n}", 0)
                for n in ["nested"] + [v[1] for v in videos])
  out += [_img(plots[-1], "video accuracy vs FLOPs"), "",
          f"*Regenerate:* `make results` (this part: the nested pretraining "
          f"and {len(videos)} video run{'s' if len(videos) > 1 else ''}, "
          f"seed 0, {_minutes(seconds)} of run "
          "time). By hand: `python -m projects.mone.main "
          "--config=projects/mone/configs/local_nested_pretrain.py "
          "--workdir=$W/nested`, then `python -m projects.mone.main "
          "--config=projects/mone/configs/local_mone_video.py:"
          "init=$W/nested,e_c=0.3 --workdir=$W/video_ec0.3` (`e_c=none`: "
          "dense).", ""]
  return out


############################## 5. Routing maps ##############################


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


def routing_section(root, runs, plots):
  # Drawn as the Big Vision trainer draws them (needs the checkout).
  from mone_plugin.big_vision import budgets as budgets_lib  # pylint: disable=g-import-not-at-top
  out = ["## 5. Routing maps", ""]
  shown = [(f"ec{e:g}_s0", e, "learned") for e in (0.2, 0.3, 0.4)] + [
      (f"random_ec{e:g}_s0", e, "random") for e in plan_lib.RANDOM_ROUTER_E_C]
  shown = [s for s in shown if runs.get(s[0]) and os.path.exists(
      os.path.join(runs.get(s[0])["dir"], "routing.npz"))]
  stats = []
  if shown:
    tiles = []
    for name, e_c, router in shown:
      z = np.load(os.path.join(runs.get(name)["dir"], "routing.npz"))
      images, experts = z["images"], z[f"experts_{e_c:g}"]
      patch = tuple(int(p) for p in z["patch_size"])
      grid = (images.shape[1] // patch[0], images.shape[2] // patch[1])
      maps = budgets_lib.routing_maps(images[:8], experts[:8], grid,
                                      NUM_EXPERTS)
      tiles.append((f"{router} router, e_c {e_c:g}", maps))
      stats.append((name, router, e_c) + routing_stats(images, experts, patch))
    fig, axes = plt.subplots(len(tiles), 1, figsize=(8, 1.25 * len(tiles)))
    axes = np.atleast_1d(axes)
    for ax, (label, maps) in zip(axes, tiles):
      ax.imshow(budgets_lib.tile(maps, cols=len(maps)))
      ax.set_title(label, fontsize=8)
      ax.axis("off")
    plots.append(_figure(os.path.join(plots.dir, "routing_maps_images.png"),
                         fig))
    out += ["Test images (the first 8 of the test split) with each 4x4 patch "
            "token tinted by its expert: dark purple = the smallest (D/8), "
            "then blue, green, yellow = the full model (D).", "",
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
      others = [s for s in learned if s not in prefers]

      def runs_text(group):
        return ", ".join(f"e_c {s[2]:g} ({100 * s[3]:.0f}% of object tokens "
                         f"vs {100 * s[4]:.0f}% of background tokens)"
                         for s in group)
      text = "What the router learned (16 test images per run): "
      if prefers:
        text += ("it sends the garment's tokens to the two largest experts "
                 "and the black background to the small ones at "
                 + runs_text(prefers))
      if others:
        text += ("; " if prefers else "") + (
            "no such preference (or the reverse) at " + runs_text(others))
      if random:
        text += ("; the random router, for comparison: " + runs_text(random))
      out += [text + ".", ""]
  # The video maps of the most accurate MoNE video run.
  maps, best = [], -1.0
  for e_c in plan_lib.VIDEO_E_C:
    run_dir = os.path.join(root, "scenic", f"video_ec{e_c:g}") if (
        e_c is not None) else None
    acc = run_dir and _scenic(_json(os.path.join(
        run_dir, "final_eval.json")), "accuracy", e_c)
    found = run_dir and sorted(glob.glob(os.path.join(
        run_dir, "routing_maps", f"step*_{_scenic_key(e_c)}.npz")))
    if found and (acc or 0.0) > best:
      maps, best = found, acc or 0.0
  if maps:
    last = maps[-1]
    z = np.load(last)
    mov, still, bg = video_stats(z["inputs"], z["experts"])
    # Drawn like the image maps (one palette on the page): the first frame
    # of every tubelet, tinted by its tokens' experts.
    inputs, experts = z["inputs"], z["experts"]
    n, t = inputs.shape[:2]
    tt, h, w = experts.shape[1:]
    frames = inputs[:, ::t // tt].reshape(n * tt, *inputs.shape[2:])
    video_maps = budgets_lib.routing_maps(
        frames, experts.reshape(n * tt, h * w), (h, w), NUM_EXPERTS)
    fig, ax = plt.subplots(figsize=(1.2 * tt, 1.2 * n))
    ax.imshow(budgets_lib.tile(video_maps, cols=tt))
    ax.axis("off")
    dst = _figure(os.path.join(plots.dir, "routing_maps_video.png"), fig)
    plots.append(dst)
    run = os.path.basename(os.path.dirname(os.path.dirname(last)))
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
    return out + ["Not run in this results directory.", ""]
  out += ["*Regenerate:* `make results`. The image maps come from the runs "
          f"{', '.join(s[0] for s in shown) or '(none)'} (seed 0; "
          "`experiments/results/bv_worker.py` saves their test images and "
          "experts as `routing.npz`), the video map from the last evaluation "
          "of the MoNE video run (Scenic's trainer writes `routing_maps/` in "
          "its workdir); no extra run time.", ""]
  return out


################################ 6. Speed ################################


def speed_section(root, walls, plots):
  out = ["## 6. Speed: real wall-clock savings", ""]
  tables = []
  for model in ("vit", "vivit"):
    res = _json(os.path.join(root, "benchmark", f"{model}.json"))
    if res:
      tables.append((model, res))
  if not tables:
    return out + ["Not run in this results directory.", ""]
  out += ["`python -m experiments.benchmark` (`make benchmark`): dense and "
          "MoNE compiled in one process and timed round-robin, so load hits "
          "them alike; the minimum over repetitions. FLOP ratio = dense / "
          "MoNE analytic FLOPs (XLA's count in brackets); efficiency = "
          "speedup / FLOP ratio (1 = every saved FLOP saved time).", ""]
  fig, ax = plt.subplots(figsize=(4.6, 3.4))
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
    ax.plot([r["flop_ratio"] for r in mone], [r["speedup"] for r in mone],
            "o-", label=res["header"].split(" on ")[0], ms=4)
  ax.scatter([PAPER_FLOP_RATIO], [PAPER_SPEEDUP], marker="*", s=90,
             color="C3", label="paper, ViT-B/16 on V100", zorder=3)
  top = max(4.5, PAPER_FLOP_RATIO + 0.5)
  ax.plot([1, top], [1, top], "k--", lw=0.8, label="ideal (efficiency 1)")
  ax.set_xlabel("FLOP ratio (dense / MoNE)")
  ax.set_ylabel("forward speedup")
  ax.grid(alpha=0.3)
  ax.legend(fontsize=6.5)
  plots.append(_figure(os.path.join(plots.dir, "speed.png"), fig))
  vit = dict(tables).get("vit")
  if vit:
    near = min((r for r in vit["rows"] if r["e_c"] is not None),
               key=lambda r: abs(r["flop_ratio"] - PAPER_FLOP_RATIO))
    out += [f"The paper measures {PAPER_SPEEDUP}x real speedup for "
            f"{PAPER_FLOP_RATIO}x fewer FLOPs on a V100 (efficiency "
            f"{PAPER_SPEEDUP / PAPER_FLOP_RATIO:.2f}). Here, at the nearest "
            f"FLOP ratio ({near['flop_ratio']:.2f}, e_c {near['e_c']:g}): "
            f"{near['speedup']:.2f}x, efficiency {near['efficiency']:.2f}. "
            "No GPU was lent to the session that produced this page, so "
            "there is no GPU row.", ""]
  seconds = sum(walls.get(f"benchmark_{m}", 0) for m, _ in tables)
  out += [_img(plots[-1], "speedup vs FLOP ratio"), "",
          "*Regenerate:* `make results` (runs these after every training run, "
          f"alone on the machine; {_minutes(seconds)}), or `make benchmark` "
          "(the same two commands: `python -m experiments.benchmark` and "
          "`python -m experiments.benchmark --model=vivit --reps=3 "
          "--e_c=0.3,0.4`). Inputs and weights are random (seeds 0 and 1): "
          "timing does not depend on them.", ""]
  return out


################################ The page ################################


class _Plots(list):

  def __init__(self, directory):
    super().__init__()
    self.dir = directory


def _machine():
  cpu = platform.processor() or platform.machine()
  if os.path.exists("/proc/cpuinfo"):
    with open("/proc/cpuinfo") as f:
      for line in f:
        if line.startswith("model name"):
          cpu = line.split(":", 1)[1].strip()
          break
  return f"{os.cpu_count()} CPU cores ({cpu}), no accelerator"


def shortfalls(runs, root):
  """Where this page falls short of the paper, from the numbers."""
  out = []
  dense = [runs.acc(n) for n in _seeded(runs, "dense")]
  if dense:
    for e_c in plan_lib.TRAIN_E_C:
      names = _seeded(runs, f"ec{e_c:g}")
      if names:
        gap = 100 * (np.mean([runs.acc(n) for n in names]) - np.mean(dense))
        if gap < -CLAIM_POINTS:
          out.append(f"MoNE at e_c {e_c:g} is {-gap:.2f} points below dense "
                     f"(more than {CLAIM_POINTS}).")
  scenic = os.path.join(root, "scenic")
  dense_video = _scenic(_json(os.path.join(scenic, "video_dense",
                                           "final_eval.json")),
                        "accuracy", None)
  for e_c in plan_lib.VIDEO_E_C[1:]:
    acc = _scenic(_json(os.path.join(scenic, f"video_ec{e_c:g}",
                                     "final_eval.json")), "accuracy", e_c)
    if dense_video is not None and acc is not None and (
        acc < dense_video - CLAIM_POINTS / 100):
      out.append(f"Video: MoNE ViViT trained at e_c {e_c:g} reaches "
                 f"{100 * acc:.1f}% against the dense ViViT's "
                 f"{100 * dense_video:.1f}% after the same steps.")
  vit = _json(os.path.join(root, "benchmark", "vit.json"))
  if vit:
    effs = [r["efficiency"] for r in vit["rows"] if r["e_c"] is not None]
    if max(effs) < PAPER_SPEEDUP / PAPER_FLOP_RATIO:
      out.append(f"CPU forward efficiency is {min(effs):.2f}–{max(effs):.2f}, "
                 f"below the paper's {PAPER_SPEEDUP / PAPER_FLOP_RATIO:.2f} "
                 "on V100: attention scores, softmax and GELU still run over "
                 "all tokens at full width, and on 2 cores those ops run far "
                 "below matmul throughput.")
  return out


def highlights(runs, root):
  """What does hold here, from the numbers."""
  out = []
  dense = [runs.acc(n) for n in _seeded(runs, "dense")]
  iso = runs.get(f"iso_ec{plan_lib.ISO_FLOPS_E_C:g}_s0")
  if dense and iso:
    gap = 100 * (runs.acc(iso["name"]) - np.mean(dense))
    ratio = runs.gflops(_seeded(runs, "dense")[0]) / runs.gflops(iso["name"])
    out.append(f"isoFLOPs: MoNE at e_c {plan_lib.ISO_FLOPS_E_C:g} trained "
               f"with the dense model's training FLOPs scores {gap:+.2f} "
               f"points against dense at {ratio:.2f}x fewer inference FLOPs.")
  diffs = [(e, runs.acc(f"ec{e:g}_s0") - runs.acc(f"random_ec{e:g}_s0"))
           for e in plan_lib.RANDOM_ROUTER_E_C
           if runs.get(f"ec{e:g}_s0") and runs.get(f"random_ec{e:g}_s0")]
  if diffs:
    verb = ("beats" if all(d > 0 for _, d in diffs) else
            "does not always beat")
    out.append(f"The learned router {verb} the random one: " + ", ".join(
        f"{100 * d:+.2f} points at e_c {e:g}" for e, d in diffs) + ".")
  for model in ("vit", "vivit"):
    res = _json(os.path.join(root, "benchmark", f"{model}.json"))
    if res:
      near = min((r for r in res["rows"] if r["e_c"] is not None),
                 key=lambda r: abs(r["flop_ratio"] - PAPER_FLOP_RATIO))
      out.append(f"{res['header'].split(' on ')[0]}: {near['speedup']:.2f}x "
                 f"real forward speedup for {near['flop_ratio']:.2f}x fewer "
                 f"FLOPs (e_c {near['e_c']:g}; the paper: {PAPER_SPEEDUP}x "
                 f"for {PAPER_FLOP_RATIO}x on a V100).")
  return out


def write(root, out_dir, mode="full", jobs=2):
  """Writes out_dir/results.md and out_dir/results/*.png; returns the path."""
  plots = _Plots(os.path.join(out_dir, "results"))
  os.makedirs(plots.dir, exist_ok=True)
  runs = Runs(root)
  walls = _json(os.path.join(root, "walls.json")) or {}
  body = []
  body += images_section(runs, plots)
  body += adaptation_section(runs, plots)
  body += ablations_section(runs, plots, mode)
  body += video_section(root, walls, plots)
  body += routing_section(root, runs, plots)
  body += speed_section(root, walls, plots)
  short = shortfalls(runs, root)
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
      f"- Mode: {mode}. Machine: {_machine()}. Written "
      f"{time.strftime('%Y-%m-%d')}.",
      f"- Run time: {_minutes(bv_s + video_s + bench_s)} summed over the "
      f"runs (images {_minutes(bv_s)}, video {_minutes(video_s)}, speed "
      f"{_minutes(bench_s)}); the training runs go {jobs} at a time.", ""]
  if mode != "full":
    head += [f"**This page is from the {mode} mode**: a few steps of tiny "
             "models on small test splits, to check that the scripts run. "
             "Its numbers say nothing about MoNE.", ""]
  good = highlights(runs, root)
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
