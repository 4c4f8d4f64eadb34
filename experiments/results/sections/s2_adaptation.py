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

"""Section 2: capacity adaptation, every model at every budget (Figure 5)."""

from experiments.results import figures
from experiments.results import plan as plan_lib
from experiments.results.sections import markdown as md


# The target: the adaptive model within this much of each fixed one.
ADAPT_TOLERANCE = 0.01


def section(results, plots):
  """Each model evaluated at every budget; the adaptive model's gaps."""
  runs = results.bv
  out = ["## 2. Capacity adaptation (the paper's Figure 5)", ""]
  models = [(f"trained at e_c {e:g}", f"ec{e:g}_s0")
            for e in plan_lib.ADAPT_TRAIN_E_C]
  models.append(("e_c sampled per step from {0.2, 0.4, 0.6, 0.8, 1.0}",
                 "grid_s0"))
  long_name = plan_lib.ADAPT_LONG_NAME
  models.append((f"the same, {plan_lib.ADAPT_LONG_FACTOR}x the steps "
                 f"({plan_lib.ADAPT_LONG_FACTOR * plan_lib.STEPS})", long_name))
  models = [(label, n) for label, n in models if runs.get(n)]
  if not models:
    return out + ["Not run yet: " + md.pending(runs.results, [
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
    out.append(f"| {label} | " + " | ".join(md.pct(a) for a in accs) + " |")
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
    words.append(f"trained at {e:g}: {md.pct(own)}% at its own budget, "
                 f"{md.pct(lo)}% at {min(evals):g}, {md.pct(hi)}% at "
                 f"{max(evals):g}")
  if runs.get("grid_s0"):
    g = [runs.acc("grid_s0", e) for e in evals]
    words.append(f"the sampled-e_c model: {md.pct(min(a for a in g if a))}–"
                 f"{md.pct(max(a for a in g if a))}% over the whole range")
  out += [md.sentence("; ".join(words)) + ".", ""]
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
  out += [md.img(plots[-1], "capacity adaptation"), "",
          md.regen(runs, [n for _, n in models], "seed 0"), ""]
  return out + md.pending_lines(runs, ("adaptive", "adaptive_long"))
