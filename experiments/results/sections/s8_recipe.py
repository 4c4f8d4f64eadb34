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

"""Section 8: the dense recipe's probes on the validation split."""

from experiments.results import arithmetic
from experiments.results import loading
from experiments.results import plan as plan_lib
from experiments.results.sections import markdown as md
from experiments.results.sections import s7_figure3


def one_change(probes):
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
          f"{v} → {md.pct(by_value[v])}%" for v in order))
  return lines


def section(results, plots):
  """The dense recipe's probes on the validation split (the dense target)."""
  del plots  # A table only.
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
    curve = ", ".join(f"{md.pct(a)} @ {n}" for n, a in p["val_by_step"])
    wall = md.minutes(p["wall_s"]) if p["wall_s"] else "—"
    out.append(f"| `{p['name']}` | {p['steps']} | {st['batch']} | "
               f"{float(st['lr']):g} | {st['width']} | {st['depth']} | "
               f"{st['res']} | {st['flip']} | "
               f"**{md.pct(p['val'])}** ({curve}) | {wall} |")
  out += [""] + [f"- {line}" for line in one_change(probes)]
  best = max(probes, key=lambda p: p["val"])
  out += ["", f"Best on validation: `{best['name']}`, {md.pct(best['val'])}% "
          f"at {best['steps']} steps."]
  own = s7_figure3.figure3_data(results.bv)["dense_own"]
  recipe = {k: str(plan_lib.RECIPE.get(k, v))
            for k, v in loading.PROBE_DEFAULTS.items()}
  r2_val = [p["val"] for p in probes
            if p["settings"] == {**recipe, "steps": str(plan_lib.STEPS)}]
  if own and r2_val:
    test, _ = arithmetic.mean_std(list(own.values()))
    gap = r2_val[0] - test
    out[-1] += (
        f" The recipe's own probe reached {md.pct(r2_val[0])}% on validation "
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
  per_doubling = arithmetic.gain_per_doubling(
      ref["steps"], ref["val"], best["steps"], best["val"])
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
