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

"""Section 7: the paper's Figure 3: MoNE, the dense family, MatViT, MoD."""

import dataclasses
from typing import Callable, Optional

from experiments.results import arithmetic
from experiments.results import figures
from experiments.results import loading
from experiments.results import plan as plan_lib
from experiments.results.sections import markdown as md
from mone_plugin import budgets as budgets_lib


def adaptive_gaps(data, key):
  """[(e_c, adaptive - fixed-budget seed mean)] of figure3_data's `key`."""
  ad = {round(e, 6): a for e, _, a in data[key]}
  return [(e_c, ad[round(e_c, 6)] - mean)
          for e_c, _, mean, _, _ in data["mone"]
          if ad.get(round(e_c, 6)) is not None]


def _seed_accs(runs, names, e_c="train"):
  """{seed: precision@1} of the runs `names` that exist."""
  return {runs.get(n)["seed"]: runs.acc(n, e_c) for n in names if runs.get(n)}


@dataclasses.dataclass(frozen=True)
class Study:
  """The runs of one Figure 3: their names in the plan, MoNE's width."""
  width: int  # MoNE's, the dense family member with all the seeds.
  steps: int
  family: tuple[int, ...]  # The dense family's widths.
  dense_name: Callable[[int, int], str]  # (width, seed) -> run name.
  mone_name: Callable[[float, int], str]  # (e_c, seed) -> run name.
  e_cs: tuple[float, ...]  # MoNE's training budgets.
  matvit: str
  mod: str
  adaptive: Optional[str] = None
  adaptive_long: Optional[str] = None
  iso: Optional[str] = None
  iso_e_c: Optional[float] = None
  data_name: str = "Fashion-MNIST"


FASHION = Study(
    width=plan_lib.WIDTH, steps=plan_lib.STEPS,
    family=tuple(w for w, _, _ in plan_lib.DENSE_FAMILY),
    dense_name=plan_lib.dense_name,
    mone_name=lambda e_c, seed: f"ec{e_c:g}_s{seed}",
    e_cs=plan_lib.TRAIN_E_C, matvit="matvit_s0", mod="mod_s0",
    adaptive="grid_s0", adaptive_long=plan_lib.ADAPT_LONG_NAME,
    iso=f"iso_ec{plan_lib.ISO_FLOPS_E_C:g}_s0",
    iso_e_c=plan_lib.ISO_FLOPS_E_C)


def figure3_data(runs, study=FASHION):
  """The curves of Figure 3, from the summaries of `study` that exist.

  Returns:
    A dict: "dense_family" [(width, GFLOPs, mean, std, n)], "matvit"
    [(width, GFLOPs, accuracy)], "mod" (GFLOPs, accuracy) or None, "mone"
    [(e_c, GFLOPs, mean, std, {seed: accuracy})], "dense_own" {seed:
    accuracy} (the dense ViT of MoNE's width), "adaptive" [(e_c, GFLOPs,
    accuracy)] and "adaptive_long" (the same, trained longer), "iso" (e_c,
    GFLOPs, accuracy, steps) or None.
  """
  width = study.width
  family = []
  for w in study.family:
    names = ([study.dense_name(w, s) for s in plan_lib.SEEDS]
             if w == width else [study.dense_name(w, 0)])
    accs = _seed_accs(runs, names)
    if accs:
      mean, std = arithmetic.mean_std(list(accs.values()))
      gf = runs.gflops(next(n for n in names if runs.get(n)))
      family.append((w, gf, mean, std, len(accs)))
  matvit = []
  if runs.get(study.matvit):
    for i, budget in enumerate(budgets_lib.nested_budgets(
        plan_lib.NUM_EXPERTS)):
      acc = runs.acc(study.matvit, budget)
      if acc is not None:
        matvit.append((width // 2 ** (plan_lib.NUM_EXPERTS - 1 - i),
                       runs.gflops(study.matvit, budget), acc))
  mod = None
  if runs.get(study.mod) and runs.acc(study.mod) is not None:
    mod = (runs.gflops(study.mod), runs.acc(study.mod))
  mone = []
  for e_c in study.e_cs:
    accs = _seed_accs(runs, [study.mone_name(e_c, s) for s in plan_lib.SEEDS])
    if accs:
      mean, std = arithmetic.mean_std(list(accs.values()))
      mone.append((e_c, runs.gflops(study.mone_name(e_c, min(accs))), mean,
                   std, accs))
  def adaptive(name):
    rows = runs.get(name)["rows"] if name and runs.get(name) else []
    return sorted((float(r["budget"][2:]), r["gflops"], r.get(loading.METRIC))
                  for r in rows if r.get("budget", "").startswith("ec"))

  iso_name = study.iso
  iso = None
  if iso_name and runs.get(iso_name) and runs.acc(iso_name) is not None:
    iso = (study.iso_e_c, runs.gflops(iso_name), runs.acc(iso_name),
           runs.steps(iso_name))
  return {"dense_family": family, "matvit": matvit, "mod": mod,
          "mone": mone, "adaptive": adaptive(study.adaptive),
          "adaptive_long": adaptive(study.adaptive_long),
          "dense_own": _seed_accs(runs, [study.dense_name(width, s)
                                         for s in plan_lib.SEEDS]),
          "iso": iso}


def figure3_verdict(data, study=FASHION):
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
        data["mone"], arithmetic.versus_curve(mone, family)):
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
                   if w == study.width), None)
  if own and dense_gf:
    dmean, dstd = arithmetic.mean_std(list(own.values()))
    rows = []
    for e_c, g, mean, std, accs in data["mone"]:
      ratio = dense_gf / g
      if ratio < 2:
        continue
      delta, dev, n = arithmetic.paired_delta(accs, own)
      met = delta is not None and delta >= -loading.CLAIM_POINTS / 100
      rows.append(
          f"| {e_c:g} | {ratio:.2f}x | {md.pm(mean, std, len(accs))} "
          f"({len(accs)}) | {md.pm(dmean, dstd, len(own))} ({len(own)}) | "
          f"{'—' if delta is None else md.signed_pm(delta, dev, n)} ({n}) | "
          f"{'yes' if met else 'no'} |")
    if rows:
      out += [f"**MoNE at >= 2x fewer FLOPs against the dense ViT of its own "
              f"width** (D = {study.width}; precision@1 mean ± std over "
              "seeds, number of seeds in brackets; Δ per seed, paired by "
              f"seed; target: within {loading.CLAIM_POINTS} points):", "",
              "| e_c | FLOP reduction | MoNE (%) | dense (%) | Δ (points) | "
              "target met |", "|---|---|---|---|---|---|"] + rows + [""]
  words = []
  matvit = [(g, a) for _, g, a in data["matvit"]]
  if len(matvit) >= 2 and mone:
    diffs = [(e_c, d) for (e_c, *_), (_, _, _, d, _) in zip(
        data["mone"], arithmetic.versus_curve(mone, matvit)) if d is not None]
    if diffs:
      words.append("against MatViT's nested models at equal FLOPs: " +
                   ", ".join(f"e_c {e:g} {100 * d:+.2f}" for e, d in diffs) +
                   " points")
  if data["mod"] and mone:
    g, a = data["mod"]
    at = arithmetic.at_flops(mone, g)
    words.append(
        f"Mixture-of-Depths: {100 * a:.2f}% at {1e3 * g:.2f} MFLOPs; " + (
            f"MoNE at those FLOPs {100 * at:.2f}% ({100 * (at - a):+.2f} "
            "points)" if at is not None else
            "outside MoNE's measured FLOPs range"))
  if data["adaptive"] and data["mone"]:
    diffs = adaptive_gaps(data, "adaptive")
    if diffs:
      longer = adaptive_gaps(data, "adaptive_long")
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
    dmean, _ = arithmetic.mean_std(list(own.values()))
    words.append(f"isoFLOPs MoNE (e_c {e_c:g}, {steps} steps): "
                 f"{100 * a:.2f}%, {100 * (a - dmean):+.2f} points against "
                 f"the dense ViT of its width at "
                 f"{dense_gf / g if dense_gf else float('nan'):.2f}x fewer "
                 "inference FLOPs")
  if words:
    out += ["**Against the other baselines:** " + "; ".join(words) + ".", ""]
  out += figure3_why(data, study)
  return out


def figure3_why(data, study=FASHION):
  """Why MoNE does or does not win here: how steep the dense family is.

  MoNE trades capacity for FLOPs; that can only win at equal FLOPs where the
  dense family gains accuracy with FLOPs. Measured: the family's gain from its
  smallest width to the recipe's, and what training longer gives MoNE.
  """
  family = sorted(data["dense_family"], key=lambda f: f[1])
  own = next((f for f in family if f[0] == study.width), None)
  if len(family) < 2 or own is None or family[0] is own:
    return []
  w0, g0, a0, _, _ = family[0]
  _, g1, a1, _, _ = own
  per_doubling = arithmetic.gain_per_doubling(g0, a0, g1, a1)
  best = max(family, key=lambda f: f[2])
  words = [f"the dense family gains {100 * (a1 - a0):+.2f} points from width "
           f"{w0} to {study.width} ({md.pct(a0)}% → {md.pct(a1)}%) for "
           f"{g1 / g0:.1f}x the FLOPs, {100 * per_doubling:+.2f} points per "
           f"doubling of FLOPs (its best width is {best[0]}, "
           f"{100 * best[2]:.2f}%)"]
  wider = [f for f in family if f[0] > study.width]
  if wider:
    words.append("wider than the recipe's width it " + (
        "falls" if all(f[2] < a1 for f in wider) else
        "rises" if all(f[2] > a1 for f in wider) else "moves") + ": " +
                 ", ".join(f"width {w} {md.pct(a)}% at {g / g1:.1f}x the FLOPs"
                           for w, g, a, _, _ in wider))
  steep = per_doubling >= loading.STEEP_POINTS_PER_DOUBLING / 100
  if data["iso"]:
    e_c, _, a_iso, steps = data["iso"]
    same = next((m for e, _, m, _, _ in data["mone"]
                 if abs(e - e_c) < 1e-6), None)
    if same is not None:
      words.append(
          f"the same MoNE model (e_c {e_c:g}) trained for {steps} steps "
          f"instead of {study.steps} gains {100 * (a_iso - same):+.2f} "
          f"points ({100 * same:.2f}% → {100 * a_iso:.2f}%)")
  full = max(data["matvit"], default=None)
  if full is not None and full[0] == study.width:
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


def section(results, plots):
  """Accuracy vs inference GFLOPs of every model of the paper's Figure 3."""
  runs = results.bv
  out = ["## 7. The paper's Figure 3 at small scale: MoNE, the dense family, "
         "MatViT, MoD", ""]
  names = plan_lib.group_runs(runs.mode, plan_lib.FIGURE3_GROUPS)
  have = [n for n in names if runs.get(n)]
  if not have:
    return out + ["Not run yet: " + (md.pending(runs.results, names) or
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
      "isoFLOPs model, to fit the compute.", ""]
  out += figure3_table(data) + [""]
  out += figure3_verdict(data)
  figures.figure3(plots, data)
  out += [md.img(plots[-1], "Figure 3: accuracy vs inference FLOPs"), "",
          md.regen(runs, have, f"{len(plan_lib.SEEDS)} seeds for MoNE and the "
                 "dense ViT of its width, 1 elsewhere"), ""]
  text = md.pending(runs.results, names)
  if text:
    out += [f"*This section is {text}: `make results` runs them; the "
            "numbers above are of the finished runs only.*", ""]
  return out


def figure3_table(data, study=FASHION):
  """The table of every model of `figure3_data`."""
  out = ["| model | width or e_c | MFLOPs / image | precision@1 (%) | seeds |",
         "|---|---|---|---|---|"]
  for w, g, mean, std, n in data["dense_family"]:
    out.append(f"| dense ViT | {w} | {1e3 * g:.2f} | {md.pm(mean, std, n)} | "
               f"{n} |")
  for w, g, a in data["matvit"]:
    out.append(f"| MatViT nested model | {w} | {1e3 * g:.2f} | "
               f"{100 * a:.2f} | 1 |")
  if data["mod"]:
    g, a = data["mod"]
    out.append(f"| MoD (top {100 * 0.125:g}% every other block) | "
               f"{study.width} | {1e3 * g:.2f} | {100 * a:.2f} | 1 |")
  for e_c, g, mean, std, accs in data["mone"]:
    out.append(f"| MoNE | e_c {e_c:g} | {1e3 * g:.2f} | "
               f"{md.pm(mean, std, len(accs))} | "
               f"{len(accs)} |")
  for e_c, g, a in data["adaptive"]:
    out.append(f"| MoNE adaptive (e_c sampled) | e_c {e_c:g} | "
               f"{1e3 * g:.2f} | {'—' if a is None else f'{100 * a:.2f}'} | "
               "1 |")
  if data["iso"]:
    e_c, g, a, steps = data["iso"]
    out.append(f"| MoNE isoFLOPs ({steps} steps) | e_c {e_c:g} | "
               f"{1e3 * g:.2f} | {100 * a:.2f} | 1 |")
  return out
