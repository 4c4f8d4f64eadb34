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

"""Markdown pieces every section writes: numbers, pending runs, images."""

import os

from experiments.results import arithmetic
from experiments.results import plan as plan_lib


def pct(x):
  """A fraction as a percentage with one decimal; None as '—'."""
  return "—" if x is None else f"{100 * x:.1f}"


def pm(mean, std, n=2):
  """'mean ± std' (%); one seed (n < 2) has no spread to show."""
  if mean is None:
    return "—"
  return f"{100 * mean:.2f}" + (f" ± {100 * std:.2f}" if n >= 2 else "")


def seeds_pm(accs):
  """'mean ± std' (%) of several seeds; one seed has no spread: 'x (1 seed)'."""
  mean, std = arithmetic.mean_std(accs)
  return pm(mean, std, len(accs)) + (" (1 seed)" if len(accs) < 2 else "")


def signed_pm(delta, std, n):
  """'+d ± std' (points) of a difference; one seed has no spread to show."""
  return f"{100 * delta:+.2f}" + (f" ± {100 * std:.2f}" if n >= 2 else "")


def sentence(text):
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


def img(path, alt):
  """The Markdown image of a plot that `figures.Plots` drew."""
  return f"![{alt}](results/{os.path.basename(path)})"


def regen(runs, names, seeds):
  """The *Regenerate:* line of the Big Vision runs `names`."""
  seconds = runs.seconds(names)
  example = runs.command(names[-1]) if names else None
  return (f"*Regenerate:* `make results` (this part: {len(names)} "
          f"run{'s' if len(names) != 1 else ''}, "
          f"{seeds}; {minutes(seconds)} of run time on the machines named "
          "at the top, one or two runs at a time). One run by hand: "
          f"`{example}`, then `python -m mone_plugin.big_vision.evaluate "
          "--workdir=<that workdir> --e_c=<budgets>`.")
