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

"""The plots of docs/results.md, each from the numbers `loading` read.

Every function draws one figure into `plots.dir`, appends its path to `plots`
and returns it. Routing maps are drawn with `mone_plugin.viz`, as both
trainers draw them (one palette, a legend of expert widths).
"""

import os

import matplotlib
from matplotlib import ticker
import numpy as np

from experiments.results import loading
from mone_plugin import viz

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top,g-bad-import-order


class Plots(list):
  """The paths of the figures written so far, and their directory."""

  def __init__(self, directory):
    super().__init__()
    self.dir = directory


def save(plots, name, fig, tight=True):
  """Writes `fig` as `plots.dir/name`, appends the path and returns it."""
  path = os.path.join(plots.dir, name)
  if tight:
    fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)
  plots.append(path)
  return path


def accuracy_vs_flops(plots, dense, points, iso):
  """Section 1: precision@1 against MFLOPs per image.

  Args:
    plots: `Plots`.
    dense: (GFLOPs, mean, std, per-seed accuracies) of the dense ViT.
    points: (e_c, GFLOPs, per-seed accuracies, mean, std) per MoNE e_c.
    iso: (GFLOPs, accuracy) of the isoFLOPs run, or None.
  """
  dense_gf, dense_mean, dense_std, dense_accs = dense
  claim = loading.CLAIM_POINTS
  fig, ax = plt.subplots(figsize=(5.2, 3.6))
  ax.axhline(100 * dense_mean, color="k", lw=0.8, ls="--")
  ax.axhspan(100 * dense_mean - claim, 100 * dense_mean + claim,
             color="k", alpha=0.08, label=f"dense ± {claim} pt")
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
    ax.scatter([1e3 * iso[0]], [100 * iso[1]], marker="*",
               s=80, color="C3", label="MoNE isoFLOPs", zorder=3)
  ax.set_xlabel("MFLOPs per image")
  ax.set_ylabel("precision@1 (%)")
  ax.set_title("Fashion-MNIST: accuracy vs inference FLOPs")
  ax.grid(alpha=0.3)
  ax.legend(fontsize=7, loc="lower right")
  return save(plots, "images_accuracy_vs_flops.png", fig)


def capacity_adaptation(plots, evals, curves):
  """Section 2: each model's precision@1 at every evaluated e_c.

  Args:
    plots: `Plots`.
    evals: the evaluated e_c values.
    curves: (label, accuracy or None per e_c of `evals`) per model.
  """
  fig, ax = plt.subplots(figsize=(5.2, 3.6))
  for label, accs in curves:
    ax.plot(evals, [np.nan if a is None else 100 * a for a in accs], "o-",
            ms=3, label=label)
  ax.set_xlabel("e_c at evaluation")
  ax.set_ylabel("precision@1 (%)")
  ax.set_title("Adapting one model to other budgets")
  ax.grid(alpha=0.3)
  ax.legend(fontsize=7)
  return save(plots, "capacity_adaptation.png", fig)


def routing_ablations(plots, labels, ours, ablated):
  """Section 3: MoNE against each ablation, precision@1 side by side."""
  fig, ax = plt.subplots(figsize=(5.6, 3.4))
  x = np.arange(len(labels))
  ax.bar(x - 0.2, ours, 0.4, label="MoNE (learned router, its capacities)")
  ax.bar(x + 0.2, ablated, 0.4, label="ablation (random router / baseline "
         "capacities)")
  ax.set_xticks(x, labels, fontsize=7)
  lo = min(ours + ablated)
  ax.set_ylim(max(0, lo - 5), max(ours + ablated) + 2)
  ax.set_ylabel("precision@1 (%)")
  ax.legend(fontsize=6.5, loc="lower right")
  ax.grid(alpha=0.3, axis="y")
  return save(plots, "routing_ablations.png", fig)


def video(plots, points):
  """Section 4: accuracy against GFLOPs per clip; (e_c, GFLOPs, accuracy)."""
  fig, ax = plt.subplots(figsize=(4.6, 3.2))
  for e_c, gf, acc in points:
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
  return save(plots, "video.png", fig)


def routing_maps_images(plots, rows, name="routing_maps_images.png"):
  """Sections 5, 9: a row of tinted test images per run, one legend.

  Args:
    plots: `Plots`.
    rows: (title, images [n, H, W, C], experts [n, h, w]) per run.
    name: the plot's file name.
  """
  fig, axes = plt.subplots(len(rows), 1, figsize=(8, 1.25 * len(rows) + 0.4))
  for ax, (title, images, experts) in zip(np.atleast_1d(axes), rows):
    tinted = viz.overlay(images, experts, loading.NUM_EXPERTS)
    ax.imshow(viz.sheet(tinted, cols=len(images), zoom=1),
              interpolation="nearest")
    ax.set_title(title, fontsize=8)
    ax.axis("off")
  fig.tight_layout(rect=(0, 0.07, 1, 1))
  viz.add_legend(fig, loading.NUM_EXPERTS)
  return save(plots, name, fig, tight=False)


def routing_maps_video(plots, inputs, experts):
  """Section 5: clips [n, T, H, W, C], a row each, a column per tubelet."""
  n, tt = experts.shape[:2]
  fig, ax = plt.subplots(figsize=(1.2 * tt, 1.2 * n + 0.5))
  ax.imshow(viz.sheet(viz.overlay(inputs, experts, loading.NUM_EXPERTS),
                      zoom=1), interpolation="nearest")
  ax.axis("off")
  fig.tight_layout(rect=(0, 0.5 / (1.2 * n + 0.5), 1, 1))
  viz.add_legend(fig, loading.NUM_EXPERTS)
  return save(plots, "routing_maps_video.png", fig, tight=False)


def speed(plots, tables):
  """Section 6: forward speedup against FLOP ratio, per benchmark."""
  fig, ax = plt.subplots(figsize=(4.6, 3.4))
  for _, res in tables:
    mone = [r for r in res["rows"] if r["e_c"] is not None]
    ax.plot([r["flop_ratio"] for r in mone], [r["speedup"] for r in mone],
            "o-", label=res["header"].split(" on ")[0], ms=4)
  ax.scatter([loading.PAPER_FLOP_RATIO], [loading.PAPER_SPEEDUP], marker="*",
             s=90, color="C3", label="paper, ViT-B/16 on V100", zorder=3)
  top = max(4.5, loading.PAPER_FLOP_RATIO + 0.5)
  ax.plot([1, top], [1, top], "k--", lw=0.8, label="ideal (efficiency 1)")
  ax.set_xlabel("FLOP ratio (dense / MoNE)")
  ax.set_ylabel("forward speedup")
  ax.grid(alpha=0.3)
  ax.legend(fontsize=6.5)
  return save(plots, "speed.png", fig)


def figure3(plots, data, title="Fashion-MNIST: the paper's Figure 3 at "
            "small scale", name="figure3_accuracy_vs_flops.png"):
  """Sections 7, 9: precision@1 against inference MFLOPs (log x).

  Args:
    plots: `Plots`.
    data: `s7_figure3.figure3_data`.
    title: the plot's title.
    name: its file name.
  """
  fig, ax = plt.subplots(figsize=(6.0, 4.0))
  fam = data["dense_family"]
  if fam:
    ax.errorbar([1e3 * f[1] for f in fam], [100 * f[2] for f in fam],
                [100 * f[3] for f in fam], fmt="s-", color="k", capsize=3,
                ms=4, label="dense ViT family")
    for w, g, m, *_ in fam:
      ax.annotate(f"D={w}", (1e3 * g, 100 * m), textcoords="offset points",
                  xytext=(4, -10), fontsize=6)
  if data["matvit"]:
    ax.plot([1e3 * g for _, g, _ in data["matvit"]],
            [100 * a for _, _, a in data["matvit"]], "^-", color="C2", ms=4,
            label="MatViT (nested in D)")
  if data["mod"]:
    ax.scatter([1e3 * data["mod"][0]], [100 * data["mod"][1]], marker="D",
               color="C4", s=30, label="Mixture-of-Depths", zorder=3)
  if data["adaptive"]:
    pts = [p for p in data["adaptive"] if p[2] is not None]
    ax.plot([1e3 * g for _, g, _ in pts], [100 * a for _, _, a in pts], ".:",
            color="C1", label="MoNE adaptive (e_c sampled)")
  if data["mone"]:
    ax.errorbar([1e3 * m[1] for m in data["mone"]],
                [100 * m[2] for m in data["mone"]],
                [100 * m[3] for m in data["mone"]], fmt="o-", color="C0",
                capsize=3, ms=5, label="MoNE, trained at its e_c")
  if data["iso"]:
    ax.scatter([1e3 * data["iso"][1]], [100 * data["iso"][2]], marker="*",
               s=90, color="C3", label="MoNE isoFLOPs", zorder=3)
  ax.set_xscale("log")
  # Plain numbers at 1, 2, 5 x 10^k (not "3 x 10^0").
  ax.xaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
  ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
  ax.xaxis.set_minor_formatter(ticker.NullFormatter())
  ax.set_xlabel("inference MFLOPs per image (log)")
  ax.set_ylabel("precision@1 (%)")
  ax.set_title(title)
  ax.grid(alpha=0.3, which="both")
  ax.legend(fontsize=6.5, loc="lower right")
  return save(plots, name, fig)
