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
"""The GPU table of the docs, from the device benchmark's JSONs.

`experiments/device_benchmark.py` writes one JSON per device into
docs/results/gpu/ and calls `update_doc`, which rewrites the section between
the markers of docs/gpu_benchmark.md from every such JSON there. JSON and
markdown only (no JAX): tests/docs_numbers_test.py renders the same rows to
check the page against its sources.
"""

import glob
import json
import os

BEGIN = "<!-- device_benchmark table: begin (generated; do not edit) -->"
END = "<!-- device_benchmark table: end -->"
SCHEMA = "device_benchmark"  # The key that marks this script's JSONs.
HEADER = ("| model | dtype | batch | choice | e_c | FLOP ratio | inference ms "
          "| speedup | efficiency | train step ms | speedup | efficiency |")


def load_runs(out_dir):
  """The device benchmark's runs in `out_dir`, sorted by file name."""
  runs = []
  for path in sorted(glob.glob(os.path.join(out_dir, "*.json"))):
    with open(path) as f:
      run = json.load(f)
    if isinstance(run, dict) and SCHEMA in run:
      runs.append(dict(run, file=os.path.basename(path)))
  return runs


def _num(x, fmt, suffix=""):
  return "–" if x is None else f"{x:{fmt}}{suffix}"


def table_rows(run):
  """Markdown rows of one run: inference and training side by side."""
  merged = {}
  for row in run["rows"]:
    key = (row["model"], row["dtype"], row["batch"], row["choice"],
           row["e_c"])
    merged.setdefault(key, {})[row["path"]] = row
  lines = []
  for (model, dtype, batch, choice, e_c), paths in merged.items():
    any_row = next(iter(paths.values()))
    cells = [model, dtype, str(batch), choice,
             "dense" if e_c is None else f"{e_c:g}",
             f"{any_row['flop_ratio']:.2f}"]
    for path in ("infer", "train"):
      r = paths.get(path, {})
      cells += [_num(r.get("ms"), ".2f"), _num(r.get("speedup"), ".2f", "x"),
                _num(r.get("efficiency"), ".2f")]
    lines.append("| " + " | ".join(cells) + " |")
  return lines


def all_rows(out_dir):
  return [line for run in load_runs(out_dir) for line in table_rows(run)]


def render(out_dir):
  """The generated section: one table per device run."""
  runs = load_runs(out_dir)
  if not runs:
    return ("No run of the device script yet: run the command above on a "
            "GPU machine and commit the JSON it writes.")
  parts = []
  for run in runs:
    title = (f"### {run['device']} ({run['platform']}), jax {run['jax']}, "
             f"{run['date']}{' (reduced)' if run.get('reduced') else ''}")
    parts += [title, "", f"Raw numbers: `{run['file']}`. "
              f"Dense reference: {run['reference']}.", "", HEADER,
              "|" + "---|" * HEADER.count(" | ") + "---|",
              *table_rows(run)]
    if run.get("skipped"):
      parts += ["", "Not timed:", *(f"- {s}" for s in run["skipped"])]
    if run.get("errors"):
      parts += ["", "Failed:", *(f"- {s}" for s in run["errors"])]
    parts.append("")
  return "\n".join(parts).rstrip()


def update_doc(doc, out_dir):
  """Rewrites the generated section of `doc` (appended if it has none)."""
  text = open(doc).read() if os.path.exists(doc) else ""
  section = f"{BEGIN}\n{render(out_dir)}\n{END}"
  if BEGIN in text and END in text:
    head, rest = text.split(BEGIN, 1)
    text = head + section + rest.split(END, 1)[1]
  else:
    text = text.rstrip("\n") + ("\n\n" if text else "") + section + "\n"
  with open(doc, "w") as f:
    f.write(text)
  return text
