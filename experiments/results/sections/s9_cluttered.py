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

"""Section 9: cluttered Fashion-MNIST, where most tokens carry little.

The testbed (`mone_plugin/data/cluttered_fashion_mnist.py`), the dense
recipe's probes on its validation split with the two criteria a study needs
(the recipe has converged; the dense family is steep), then Figure 3 on it
and which tokens each expert gets, learned router against the random one.
"""

import math
import os

from experiments.results import arithmetic
from experiments.results import figures
from experiments.results import loading
from experiments.results import plan as plan_lib
from experiments.results.sections import markdown as md
from experiments.results.sections import s7_figure3
from experiments.results.sections import s8_recipe

PROBE_PREFIX = "cluttered_r1_"
PROBE_DEFAULTS = {**loading.PROBE_DEFAULTS, "res": "64"}
DATA_SUMMARY = "cluttered_data.json"  # `experiments.cluttered_probe --stats`.
CONVERGED_POINTS = 0.5  # (a): doubling the steps gains less than this.
STEEP_POINTS = 1.0  # (b): the family gains at least this per FLOP doubling.
STUDY_HOURS = 10  # The compute the study may take, on 2 CPU cores.
TARGET_SPREADS = 2  # MoNE's margin, in seed spreads (std).
TARGET_REDUCTION = (2.0, 3.0)  # FLOP reductions the target is about.

CLUTTERED = s7_figure3.Study(
    width=plan_lib.CLUTTERED_WIDTH, steps=plan_lib.STEPS,
    family=plan_lib.CLUTTERED_FAMILY,
    dense_name=plan_lib.cluttered_dense_name,
    mone_name=lambda e_c, seed: plan_lib.cluttered_name(f"ec{e_c:g}", seed),
    e_cs=plan_lib.CLUTTERED_E_C, matvit=plan_lib.cluttered_name("matvit"),
    mod=plan_lib.cluttered_name("mod"), data_name="cluttered Fashion-MNIST")


def probes_of(summary_dir):
  return loading.recipe_probes(summary_dir, PROBE_PREFIX, PROBE_DEFAULTS)


def _key(p, *without):
  return tuple(sorted((k, v) for k, v in p["settings"].items()
                      if k not in without))


def step_doublings(probes):
  """[(probe, probe at twice its steps, gain per doubling)], same settings."""
  out = []
  for p in probes:
    for q in probes:
      if (_key(p, "steps") == _key(q, "steps") and
          q["steps"] == 2 * p["steps"]):
        out.append((p, q, q["val"] - p["val"]))
  return sorted(out, key=lambda t: (t[0]["settings"]["width"], t[0]["steps"],
                                    t[0]["name"]))


def width_slopes(probes):
  """{(steps, lr): [(width, GFLOPs, val)]} of probes sweeping the width."""
  groups = {}
  for p in probes:
    if p["gflops"] is None:
      continue
    groups.setdefault(_key(p, "width", "depth"), []).append(
        (int(p["settings"]["width"]), p["gflops"], p["val"]))
  return {(int(dict(k)["steps"]), float(dict(k)["lr"])): sorted(v)
          for k, v in groups.items() if len(v) >= 2}


def slope_per_doubling(points):
  """Least-squares accuracy gained per doubling of GFLOPs over `points`."""
  xs = [math.log2(g) for _, g, _ in points]
  ys = [a for _, _, a in points]
  mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
  sxx = sum((x - mx) ** 2 for x in xs)
  return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx


def criteria(probes, lr, steps):
  """Criteria (a) and (b) at the study's recipe: (lines, a met, b met)."""
  lines, a_met, b_met = [], None, None
  doublings = step_doublings(probes)
  for p, q, gain in doublings:
    lines.append(
        f"(a) width {p['settings']['width']}, lr {p['settings']['lr']}: "
        f"{p['steps']} → {q['steps']} steps {md.pct(p['val'])}% → "
        f"{md.pct(q['val'])}%, {100 * gain:+.1f} points per doubling "
        f"({'converged' if gain < CONVERGED_POINTS / 100 else 'not converged'}"
        f": under {CONVERGED_POINTS:g} needed)")
  at_recipe = [g for p, q, g in doublings
               if float(p["settings"]["lr"]) == lr and q["steps"] >= steps]
  if at_recipe:
    a_met = all(g < CONVERGED_POINTS / 100 for g in at_recipe)
  lines += _steps_to_converge(doublings, probes)[0]
  for (p_steps, p_lr), points in width_slopes(probes).items():
    per = [arithmetic.gain_per_doubling(g0, a0, g1, a1) for (
        _, g0, a0), (_, g1, a1) in zip(points, points[1:])]
    fit = slope_per_doubling(points)
    lines.append(
        f"(b) {p_steps} steps, lr {p_lr:g}: " + ", ".join(
            f"width {w} {md.pct(a)}%" for w, _, a in points) +
        f"; per doubling of FLOPs " + ", ".join(
            f"{100 * d:+.1f}" for d in per) +
        f" points between neighbours, {100 * fit:+.2f} fitted over all "
        f"(at least {STEEP_POINTS:g} needed)")
    if (p_steps, p_lr) == (steps, lr):
      b_met = fit >= STEEP_POINTS / 100 and len(points) >= 4
  best = best_rates(probes, steps)
  lrs = {v[0] for v in best.values()}
  if len(best) >= 2 and len(lrs) > 1:
    points = sorted((w, g, a) for w, (_, g, a) in best.items())
    lines.append(
        f"(b) {steps} steps, each width at its best probed rate: " +
        ", ".join(f"width {w} {md.pct(a)}% (lr {best[w][0]})"
                  for w, _, a in points) +
        f"; {100 * slope_per_doubling(points):+.2f} points per doubling of "
        "FLOPs fitted over all")
  return lines, a_met, b_met


def best_rates(probes, steps):
  """{width: (lr, GFLOPs, val)}: each width at its best probed rate."""
  best = {}
  for p in probes:
    w = int(p["settings"]["width"])
    if (p["steps"] == steps and p["gflops"] is not None and
        p["settings"]["batch"] == "128" and
        (w not in best or p["val"] > best[w][2])):
      best[w] = (p["settings"]["lr"], p["gflops"], p["val"])
  return best


def _steps_to_converge(doublings, probes):
  """Where successive doublings of steps would gain < CONVERGED_POINTS.

  Two successive doublings of the same settings (s → 2s → 4s) give the rate
  r = g2 / g1 at which the gain per doubling shrinks; assuming it keeps
  shrinking at that rate, the recipe converges at the first doubling whose
  gain falls under the criterion. An extrapolation, said to be one.
  """
  lines, estimates = [], []
  by_start = {(_key(p, "steps"), p["steps"]): (q, g) for p, q, g in doublings}
  for p, q, g1 in doublings:
    nxt = by_start.get((_key(p, "steps"), q["steps"]))
    if nxt is None:
      continue
    r_probe, g2 = nxt
    if g2 < CONVERGED_POINTS / 100:
      continue
    if not 0 < g2 < g1:
      lines.append(f"(a) width {p['settings']['width']}, lr "
                   f"{p['settings']['lr']}: the gain per doubling does not "
                   f"shrink ({100 * g1:+.1f} then {100 * g2:+.1f} points): "
                   "no convergence in sight")
      continue
    ratio = g2 / g1
    more = math.ceil(math.log((CONVERGED_POINTS / 100) / g2) /
                     math.log(ratio))
    steps = r_probe["steps"] * 2 ** (more - 1)
    per_step = min((x["wall_s"] / x["steps"] for x in probes
                    if x["wall_s"] and _key(x, "steps") == _key(p, "steps")),
                   default=None)
    text = (f"(a) width {p['settings']['width']}, lr {p['settings']['lr']}: "
            f"the gain per doubling shrinks {ratio:.2f}x a doubling "
            f"({100 * g1:+.1f} then {100 * g2:+.1f} points); if it keeps "
            f"shrinking so, about {steps:,} steps meet (a)")
    if per_step:
      text += (f", {per_step * steps / 3600:.1f} h a run at this width on "
               "2 cores (extrapolated, not measured)")
    lines.append(text)
    estimates.append((int(p["settings"]["width"]), float(p["settings"]["lr"]),
                      steps, per_step))
  return lines, estimates


def study_hours(per_step_w64, steps):
  """Hours of 2 cores the study's runs take at `steps` a run (estimate).

  The plan's run costs are relative to the dense width-64 run (1.3); a
  probe measured that width's time per step.
  """
  runs = plan_lib.cluttered_runs()
  dense64 = next(r.cost for r in runs
                 if r.name == plan_lib.cluttered_dense_name(64))
  return sum(r.cost for r in runs) / dense64 * per_step_w64 * steps / 3600


def _probe_table(probes):
  out = ["| probe | steps | lr | width | MFLOPs | val precision@1 (%) by "
         "step | last training loss | wall |",
         "|---|---|---|---|---|---|---|---|"]
  for p in sorted(probes, key=lambda p: (p["steps"], int(
      p["settings"]["width"]), float(p["settings"]["lr"]))):
    st = p["settings"]
    curve = ", ".join(f"{md.pct(a)} @ {n}" for n, a in p["val_by_step"])
    mflops = "—" if p["gflops"] is None else f"{1e3 * p['gflops']:.2f}"
    wall = md.minutes(p["wall_s"]) if p["wall_s"] else "—"
    loss = "—" if p.get("train_loss") is None else f"{p['train_loss']:.3f}"
    out.append(f"| `{p['name']}` | {p['steps']} | {float(st['lr']):g} | "
               f"{st['width']} | {mflops} | **{md.pct(p['val'])}** "
               f"({curve}) | {loss} | {wall} |")
  return out


def _testbed(summary_dir):
  """The construction, with the token shares measured on the data."""
  stats = loading.read_json(os.path.join(summary_dir, DATA_SUMMARY)) if (
      os.path.exists(os.path.join(summary_dir, DATA_SUMMARY))) else None
  text = ("Section 7 shows why Fashion-MNIST at 32 px cannot answer the "
          "paper's question: the garment fills most of the tokens and the "
          "dense family is nearly flat. MoNE's premise is the opposite "
          "regime, where many tokens carry little. `cluttered_fashion_mnist` "
          "(`mone_plugin/data/cluttered_fashion_mnist.py`, built by `make "
          "data` from the same Debian files) puts each 28x28 garment at a "
          "random position of a black 64x64 canvas among fragments cropped "
          "from other garments (the cluttered MNIST of Mnih et al., 2014); "
          "the models see it in 8x8 patches, 64 tokens as on Fashion-MNIST. "
          "Train 50,000 canvases (Fashion-MNIST's train[:50000]), validation "
          "10,000 (its train[50000:], for every choice below), test 10,000 "
          "(its test, read once per study run).")
  if stats:
    shares = stats["splits"]["test"]["token_shares"]
    text += (f" With {stats['fragments']} fragments of "
             f"{stats['fragment']}x{stats['fragment']} px, "
             f"{md.pct(shares['garment'])}% of the test split's tokens hold "
             f"garment ink, {md.pct(shares['clutter'])}% only clutter and "
             f"{md.pct(shares['background'])}% are blank (`python -m "
             f"experiments.cluttered_probe --stats`, "
             f"`results/runs/{DATA_SUMMARY}`).")
  return [text, ""]


def _probes_part(summary_dir, runs=None):
  probes = probes_of(summary_dir)
  if not probes:
    return ["No probes yet: `python -m experiments.cluttered_probe`.", ""]
  lr = float(plan_lib.resolved_args(plan_lib.recipe_args(
      **plan_lib.CLUTTERED_RECIPE))["lr"])
  steps = plan_lib.STEPS
  out = ["### 9.1 The dense recipe's probes (validation split only)", "",
         "The dense ViT of `configs/mone_cluttered.py:val` (depth 4, batch "
         "128, Adam, cosine schedule, seed 0), trained on the train split and "
         "evaluated on validation; `python -m experiments.cluttered_probe` "
         f"runs them (`results/runs/{PROBE_PREFIX}*.json`, resumable). A "
         "study is worth its compute only if (a) doubling the steps gains "
         f"less than {CONVERGED_POINTS:g} point (the recipe has converged) "
         f"and (b) the dense family gains at least {STEEP_POINTS:g} point "
         "per doubling of FLOPs over the widths it compares. Wall times are "
         "of 2 CPU cores, shared with other work for some probes.", ""]
  out += _probe_table(probes) + [""]
  lines, a_met, b_met = criteria(probes, lr, steps)
  lines += s8_recipe.one_change(probes)
  out += [f"- {line}" for line in lines] + ([""] if lines else [])

  def word(met):
    return {True: "met", False: "NOT met", None: "not measured yet"}[met]
  out += [f"**At the study's recipe** (lr {lr:g}, {steps} steps, "
          f"`plan.CLUTTERED_RECIPE`): (a) {word(a_met)}, (b) {word(b_met)}. "
          + ("Both hold: the study below runs with it." if a_met and b_met
             else "The study below answers the paper's question only once "
             "both hold; until then its runs stay out of the plan "
             "(`plan.CLUTTERED_STUDY`).")]
  out[-1] += _compute_words(probes, lr, steps, a_met)
  both = _two_testbeds(summary_dir, probes, lr, runs)
  return out + [""] + both


def _two_testbeds(summary_dir, probes, lr, runs):
  """Both testbeds against both criteria: why they pull apart (measured).

  Fashion-MNIST's numbers: its recipe probes (section 8) for the steps and
  its dense family (section 7) for the FLOPs; the cluttered ones: 9.1's.
  """
  fm_steps = [(p, q, g) for p, q, g in step_doublings(loading.recipe_probes(
      summary_dir)) if p["steps"] >= plan_lib.STEPS]
  family = s7_figure3.figure3_data(runs)["dense_family"] if runs else []
  cl_steps = [(p, q, g) for p, q, g in step_doublings(probes)
              if float(p["settings"]["lr"]) == lr]
  best = best_rates(probes, plan_lib.STEPS)
  per_width = len({v[0] for v in best.values()}) > 1
  cl_family = (sorted((w, g, a) for w, (_, g, a) in best.items()) if
               per_width else width_slopes(probes).get((plan_lib.STEPS, lr)))
  if not (fm_steps and len(family) >= 2 and cl_steps and cl_family and
          len(cl_family) >= 2):
    return []
  fm = min(fm_steps, key=lambda t: t[2])
  fm_slope = slope_per_doubling([(w, g, m) for w, g, m, _, _ in family])
  cl = max(cl_steps, key=lambda t: t[1]["steps"])
  cl_slope = slope_per_doubling(cl_family)

  def steps_text(t):
    p, q, g = t
    return (f"{100 * g:+.1f} points per doubling of steps from {p['steps']} "
            f"to {q['steps']}")

  steep = cl_slope >= STEEP_POINTS / 100
  text = (
      "**Both criteria on both testbeds (measured).** On Fashion-MNIST at "
      f"32 px the recipe is close to converged ({steps_text(fm)} at its "
      f"best rate, section 8) but the dense family is flat "
      f"({100 * fm_slope:+.2f} points per doubling of FLOPs, fitted over "
      f"widths {family[0][0]}-{family[-1][0]}, test split, section 7). Here the "
      + ("dense family, each width at its best probed rate, "
         if per_width else "dense family ") +
      f"{'is' if steep else 'is not'} steep "
      f"({100 * cl_slope:+.2f} points per doubling of FLOPs, fitted over "
      f"widths {cl_family[0][0]}-{cl_family[-1][0]}; between neighbouring "
      "widths " + ", ".join(
          f"{w0}→{w1} {100 * arithmetic.gain_per_doubling(g0, a0, g1, a1):+.1f}"
          for (w0, g0, a0), (w1, g1, a1) in zip(cl_family, cl_family[1:])) +
      ") and the recipe is far from "
      f"converged ({steps_text(cl)}). ")
  if steep:
    text += ("The two criteria pull apart at this compute: a task hard "
             "enough for width to matter is one a small ViT trained from "
             "scratch needs far more steps to learn than 2 CPU cores give a "
             "study.")
  else:
    losses = {int(p["settings"]["width"]): p.get("train_loss") for p in probes
              if p["steps"] == plan_lib.STEPS and float(
                  p["settings"]["lr"]) == lr}
    widest = max(losses)
    text += ("Neither criterion holds here at this compute" + (
        f": the widest model ends with the higher training loss "
        f"({losses[widest]:.3f} at width {widest} against "
        f"{losses[64]:.3f} at width 64), so in these steps the wider model "
        "is the less trained one, and the family's slope measures training, "
        "not capacity." if 64 in losses and None not in (
            losses[64], losses[widest]) and losses[widest] > losses[64]
        else "."))
  return [text, ""]


def _compute_words(probes, lr, steps, a_met):
  """What the study costs as planned and at the steps (a) would need."""
  per_step = min((p["wall_s"] / p["steps"] for p in probes if p["wall_s"]
                  and p["settings"]["width"] == "64"), default=None)
  if per_step is None:
    return ""
  n = len(plan_lib.cluttered_runs())
  text = (f" The study's {n} runs at {steps} steps: about "
          f"{study_hours(per_step, steps):.1f} h of 2 cores (the plan's "
          "relative run costs, scaled by the fastest width-64 probe's time "
          "a step).")
  if a_met is False:
    need = [s for w, l, s, _ in _steps_to_converge(
        step_doublings(probes), probes)[1] if w == 64 and l == lr]
    if need:
      hours = study_hours(per_step, need[0])
      text += (f" At the ~{need[0]:,} steps that (a) would need, about "
               f"{hours:.0f} h" + (
                   f": more than the ~{STUDY_HOURS} h this study may take, "
                   "so no recipe meets both criteria within the compute, and "
                   "the study stops here." if hours > STUDY_HOURS else "."))
  return text


def routing_shares(runs, names):
  """[(name, router, e_c, {class: [share per expert]})] of runs that have."""
  out = []
  for n in names:
    s = runs.get(n)
    if not s or not s.get("token_shares"):
      continue
    router = "random" if "router=random" in s["args"] else "learned"
    for e_c, shares in sorted(s["token_shares"]["by_e_c"].items()):
      out.append((n, router, float(e_c), shares))
  return out


def _maps(runs, rows, plots):
  """Test canvases tinted by expert, one row per run and budget."""
  maps = []
  for n, router, e_c, _ in rows:
    z = runs.routing(n)
    if z is None or f"experts_{e_c:g}" not in z:
      continue
    images, experts = z["images"], z[f"experts_{e_c:g}"]
    patch = tuple(int(p) for p in z["patch_size"])
    grid = (images.shape[1] // patch[0], images.shape[2] // patch[1])
    maps.append((f"{router} router, e_c {e_c:g}", images[:8],
                 experts[:8].reshape(-1, *grid)))
  if not maps:
    return []
  figures.routing_maps_images(plots, maps, name="routing_maps_cluttered.png")
  return [md.img(plots[-1], "Routing maps on cluttered Fashion-MNIST"), ""]


def _routing_part(runs, plots):
  names = plan_lib.group_runs(runs.mode, ("cl_mone", "cl_random"))
  if not names:
    names = [r.name for r in plan_lib.cluttered_runs()
             if r.group in ("cl_mone", "cl_random")]
  rows = routing_shares(runs, names)
  if not rows:
    return []
  images = next(runs.get(n)["token_shares"]["images"] for n, *_ in rows)
  out = ["### 9.3 Which tokens each expert gets; learned against random "
         "router", "",
         f"Over the first {images} test canvases, the share of each kind of "
         "token (by its 8x8 patch: any garment ink, else any clutter, else "
         "blank) routed to each expert, smallest (D/8) to largest (D); one "
         "router decides for all blocks.", "",
         "| run | router | e_c | accuracy (%) | garment on D/2, D | clutter on "
         "D/2, D | background on D/2, D | garment per expert | clutter per "
         "expert | background per expert |",
         "|---|---|---|---|---|---|---|---|---|---|"]
  for n, router, e_c, shares in rows:
    top = {k: sum(v[-2:]) for k, v in shares.items()}
    per = {k: " / ".join(md.pct(x) for x in v) for k, v in shares.items()}
    out.append(f"| `{n}` | {router} | {e_c:g} | {md.pct(runs.acc(n))} | "
               f"{md.pct(top['garment'])} | {md.pct(top['clutter'])} | "
               f"{md.pct(top['background'])} | {per['garment']} | "
               f"{per['clutter']} | {per['background']} |")
  out.append("")
  out += _maps(runs, [r for r in rows if r[0].endswith("_s0")], plots)
  learned = {e: (n, s) for n, r, e, s in rows if r == "learned"}
  random = {e: (n, s) for n, r, e, s in rows if r == "random"}
  words = []
  for e_c in sorted(set(learned) & set(random)):
    ln, rn = learned[e_c][0], random[e_c][0]
    seeds = {runs.get(m)["seed"]: runs.acc(m) for m in plan_lib.group_runs(
        runs.mode, ("cl_mone",)) if runs.get(m) and
             abs((runs.train_e_c(m) or -1) - e_c) < 1e-6}
    mean, std = arithmetic.mean_std(list(seeds.values()))
    words.append(f"e_c {e_c:g}: learned {md.pm(mean, std, len(seeds))}% "
                 f"({len(seeds)} seed{'s' if len(seeds) != 1 else ''}), "
                 f"random {md.pct(runs.acc(rn))}% (seed 0), "
                 f"{100 * (mean - runs.acc(rn)):+.2f} points; garment on "
                 f"the two largest experts {md.pct(sum(learned[e_c][1]['garment'][-2:]))}"
                 f"% learned vs {md.pct(sum(random[e_c][1]['garment'][-2:]))}"
                 f"% random")
  if words:
    out += ["**Does the router matter here?** " + "; ".join(words) + ".", ""]
  out += _router_life(runs, [n for n, r, *_ in rows if r == "learned"])
  return out


def _router_life(runs, names):
  """Alpha and the router's gradient norm through training (trace ranges)."""
  lines = []
  for n in names:
    trace = runs.get(n).get("train_trace") or {}
    parts = []
    for key, label in (("alpha/", "alpha (tanh |raw|)"),
                       ("l2_router_grads/", "router gradient norm")):
      vals = [v for k, pts in trace.items() if k.startswith(key)
              for _, v in pts]
      if vals:
        parts.append(f"{label} {min(vals):.2g}–{max(vals):.2g}")
    if parts:
      steps = max(s for pts in trace.values() for s, _ in pts)
      lines.append(f"`{n}` through {steps} steps: " + ", ".join(parts))
  if not lines:
    return []
  return ["**The router's life** (logged every 50 steps; the range over "
          "training): " + "; ".join(lines) + ".", ""]


def target_lines(data):
  """The verdict against the study's targets, from `figure3_data`."""
  out = []
  own = data["dense_own"]
  family = [(g, m) for _, g, m, _, _ in data["dense_family"]]
  dense_gf = next((g for w, g, *_ in data["dense_family"]
                   if w == CLUTTERED.width), None)
  if not (own and dense_gf and len(family) >= 2):
    return ["Targets: pending (MoNE, the dense ViT of its width and at least "
            "two dense widths are needed).", ""]
  _, dstd = arithmetic.mean_std(list(own.values()))
  for e_c, g, mean, std, accs in data["mone"]:
    ratio = dense_gf / g
    ref = arithmetic.at_flops(family, g)
    spread = max(std, dstd)
    in_range = TARGET_REDUCTION[0] <= ratio <= TARGET_REDUCTION[1] + 0.5
    if ref is None:
      verdict = "outside the dense family's FLOPs range"
    else:
      margin = mean - ref
      met = len(accs) >= 2 and margin > TARGET_SPREADS * spread
      verdict = (f"{100 * margin:+.2f} points over the family at equal FLOPs, "
                 f"seed spread {100 * spread:.2f}: "
                 f"{'above by more than twice the spread' if met else 'NOT above by twice the spread'}")
    out.append(f"e_c {e_c:g} ({ratio:.2f}x fewer FLOPs than the dense ViT of "
               f"its width{'' if in_range else ', outside 2-3x'}): {verdict}")
  return (["**Target 1, MoNE's frontier above the dense family** (at 2-3x "
           "fewer FLOPs than the dense ViT of its width, by more than twice "
           "the larger seed std of MoNE and that dense ViT): "] if out else
          []) + [f"- {line}" for line in out] + [""]


def section(results, plots):
  """The cluttered testbed: probes, Figure 3, routing by token kind."""
  runs = results.bv
  names = plan_lib.group_runs(runs.mode, plan_lib.CLUTTERED_GROUPS)
  probes = probes_of(results.dir)
  if not names and not probes:
    return []
  if not names:  # The study waits for its recipe.
    names = [r.name for r in plan_lib.cluttered_runs()]
    if not any(runs.get(n) for n in names):
      return (["## 9. A testbed where most tokens carry little: cluttered "
               "Fashion-MNIST", ""] + _testbed(results.dir) +
              _probes_part(results.dir, runs) + [
                  "### 9.2 Figure 3 on the testbed", "",
                  f"Not in the plan yet: its {len(names)} runs (the dense "
                  f"family at widths "
                  f"{', '.join(map(str, plan_lib.CLUTTERED_FAMILY))}, MoNE "
                  f"at D = {plan_lib.CLUTTERED_WIDTH} and e_c "
                  f"{', '.join(f'{e:g}' for e in plan_lib.CLUTTERED_E_C)}, "
                  f"{len(plan_lib.SEEDS)} seeds each with the dense ViT of "
                  "its width, MatViT, MoD and the random router at e_c "
                  f"{', '.join(f'{e:g}' for e in plan_lib.CLUTTERED_RANDOM_E_C)}) "
                  "start when 9.1's criteria hold.", ""])
  out = ["## 9. A testbed where most tokens carry little: cluttered "
         "Fashion-MNIST", ""]
  out += _testbed(results.dir)
  if results.mode == "full":
    out += _probes_part(results.dir, runs)
  out += ["### 9.2 Figure 3 on the testbed", ""]
  have = [n for n in names if runs.get(n)]
  if not have:
    return out + ["Not run yet: " + md.pending(runs.results, names) + ".",
                  ""]
  data = s7_figure3.figure3_data(runs, CLUTTERED)
  out += [f"Every model trained with r2's recipe at lr "
          f"{plan_lib.CLUTTERED_RECIPE['lr']:g} (`plan.CLUTTERED_RECIPE`) "
          "on the train split, precision@1 on the test split once; MoNE at "
          f"the family's widest width (D = {CLUTTERED.width}); seeds "
          f"{', '.join(map(str, plan_lib.SEEDS))} for MoNE and the dense ViT "
          "of its width, seed 0 elsewhere." if runs.mode == "full" else
          "The reduced mode's `runlocal` settings: it checks the scripts, "
          "its numbers say nothing.", ""]
  out += s7_figure3.figure3_table(data, CLUTTERED) + [""]
  out += s7_figure3.figure3_verdict(data, CLUTTERED)
  out += target_lines(data)
  figures.figure3(plots, data, title="Cluttered Fashion-MNIST: Figure 3",
                  name="figure3_cluttered.png")
  out += [md.img(plots[-1], "Figure 3 on cluttered Fashion-MNIST"), ""]
  out += _routing_part(runs, plots)
  out += [md.regen(runs, have, f"{len(plan_lib.SEEDS)} seeds for MoNE and "
                   "the dense ViT of its width, 1 elsewhere"), ""]
  text = md.pending(runs.results, names)
  if text:
    out += [f"*This section is {text}: `make results` runs them; the "
            "numbers above are of the finished runs only.*", ""]
  return out
