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

"""Section 3: routing ablations, the router and the capacity distribution."""

from experiments.results import arithmetic
from experiments.results import figures
from experiments.results import loading
from experiments.results import plan as plan_lib
from experiments.results.sections import markdown as md
from mone_plugin import capacity


def seed_spread(runs):
  """The largest std over seeds of MoNE at a fixed budget, or None."""
  spread = [arithmetic.mean_std([runs.acc(n) for n in loading.seeded(
      runs, f"ec{e:g}")])[1] for e in plan_lib.TRAIN_E_C
            if len(loading.seeded(runs, f"ec{e:g}")) > 1]
  return max(spread) if spread else None


def section(results, plots):
  """Learned vs random router; MoNE's capacities vs the baselines'."""
  runs, mode = results.bv, results.mode
  out = ["## 3. Routing ablations (the paper's Figure 7 and Table 2)", ""]
  rows = []
  for e_c in plan_lib.RANDOM_ROUTER_E_C:
    rnd = runs.get(f"random_ec{e_c:g}_s0")
    learned = loading.seeded(runs, f"ec{e_c:g}")
    if not rnd or not learned:
      continue
    mean, std = arithmetic.mean_std([runs.acc(n) for n in learned])
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
      out.append(f"| {e_c:g} | {md.pct(l0)} | {100 * mean:.2f} ± "
                 f"{100 * std:.2f} | {md.pct(rnd)} | {100 * (l0 - rnd):+.2f} |")
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
                 f"{', '.join(f'{c:.3f}' for c in c_b)} | {md.pct(other)} | "
                 f"{', '.join(f'{c:.3f}' for c in c_m)} | {md.pct(ours)} | "
                 f"{100 * (ours - other):+.2f} |")
    c_u = capacity.capacity_distribution(uniform, loading.NUM_EXPERTS, "mone")
    out += ["", f"`uniform` fixes e_c {uniform:.3f}, and there MoNE's "
            "maximum-entropy capacities are "
            f"{', '.join(f'{c:.3f}' for c in c_u)}: uniform itself (entropy "
            "is largest for the uniform distribution), so the two are the "
            "same model and need no comparison run.", ""]
  if not rows and not caps:
    return out + ["Not run yet: " + md.pending(runs.results, plan_lib.group_runs(
        runs.mode, ("random", "capacity"))) + ".", ""]
  # The verdict, against the seed spread of the learned-router models.
  noise = seed_spread(runs)
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
  out += [md.img(plots[-1], "routing ablations"), "",
          md.regen(runs, names, "seed 0"), ""]
  return out + md.pending_lines(runs, ("random", "capacity"))
