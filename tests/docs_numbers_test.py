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

"""The numbers quoted in README.md and docs/*.md, against what measured them.

`QUOTES` lists, per quoted number: the page, the quoted text (`{}` where a
number goes), the file that measured it, and how the number is computed from
that file. The test renders every quote from its source and requires the page
to contain it, so a page and its source cannot drift apart. `TABLES` does the
same for whole table rows. Then every measured-looking number of a checked page
(a percentage, a speedup, milliseconds, GFLOPs, points) must belong to a
checked quote or row. Fast: JSON and markdown only, plus `capacity` and
`flops` (numpy and scipy) for docs/method.md and `experiments.device_table`
(no JAX) for the device script's table.
"""

import json
import os
import re
from typing import Callable, NamedTuple, Sequence

from absl.testing import absltest
import numpy as np

from experiments import device_table
from mone_plugin import capacity
from mone_plugin import flops

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS = "docs/results/runs"
H200_TXT = "docs/results/gpu/h200_make_benchmark.txt"
H200_B64 = "docs/results/gpu/h200_vit_b16_batch64.json"
GPU_DIR = "docs/results/gpu"  # The device script's JSONs (and the above).


def _read(path):
  with open(os.path.join(_ROOT, path)) as fp:
    return fp.read()


def _norm(text):
  """Whitespace-insensitive: a re-wrapped line does not break a check."""
  return re.sub(r"\s+", " ", text)


def _json(path):
  return json.loads(_read(path))


def _run(name):
  return _json(f"{RUNS}/{name}.json")


def prec(name, budget):
  """precision@1 (%) of run `name` at `budget` (e.g. "ec0.4", "dense")."""
  rows = [r for r in _run(name)["rows"] if r["budget"] == budget]
  assert len(rows) == 1, (name, budget)
  return 100 * rows[0]["test/prec@1"]


def mean_prec(prefix, budget, seeds=(0, 1, 2)):
  return float(np.mean([prec(f"{prefix}_s{s}", budget) for s in seeds]))


def _probe(name):
  """Validation precision@1 of a cluttered Fashion-MNIST recipe probe."""
  return _run(f"cluttered_r1_{name}")["final_val_prec_1"]


def gflops(name, budget):
  rows = [r for r in _run(name)["rows"] if r["budget"] == budget]
  return rows[0]["gflops"]


def video(name, key):
  return _run(name)["final_eval"][key]


def bench_row(name, e_c):
  """The benchmark row of `e_c` (None: dense) of a run summary."""
  rows = [r for r in _run(name)["result"]["rows"] if r["e_c"] == e_c]
  assert len(rows) == 1, (name, e_c)
  return rows[0]


def f(x, nd):
  return f"{x:.{nd}f}"


class Quote(NamedTuple):
  doc: str                      # the page that quotes the numbers
  text: str                     # the quoted text; `{}` where a number goes
  source: str                   # the file(s) that measured them
  numbers: Callable[[], Sequence[str]]  # the numbers, from that source


_FLOP_RATIO = lambda ec: gflops("dense_s0", "dense") / gflops(f"ec{ec}_s0", f"ec{ec}")

QUOTES = [
    # README.md: results in five lines.
    Quote("README.md",
          "MoNE at e_c 0.3 ({}x fewer FLOPs) scores {}% against the dense "
          "ViT's {}%",
          f"{RUNS}/ec0.3_s*.json, dense_s*.json (mean of seeds 0-2)",
          lambda: (f(_FLOP_RATIO(0.3), 2), f(mean_prec("ec0.3", "ec0.3"), 2),
                   f(mean_prec("dense", "dense"), 2))),
    Quote("README.md",
          "training FLOPs reaches {}%, +{} points over dense at {}x fewer FLOPs",
          f"{RUNS}/iso_ec0.4_s0.json against dense_s*.json",
          lambda: (f(prec("iso_ec0.4_s0", "ec0.4"), 2),
                   f(prec("iso_ec0.4_s0", "ec0.4")
                     - mean_prec("dense", "dense"), 2),
                   f(_FLOP_RATIO(0.4), 2))),
    Quote("README.md",
          "{}% at e_c 0.4 against the dense ViViT's {}%",
          f"{RUNS}/video_ec0.4.json, video_dense.json",
          lambda: (f(100 * video("video_ec0.4", "accuracy_ec0.4"), 1),
                   f(100 * video("video_dense", "accuracy_dense"), 1))),
    Quote("README.md",
          "within 1 point of every fixed-budget model at its budget when "
          "trained 2x longer (worst {} points)",
          f"{RUNS}/grid_x2_s0.json against ec<e_c>_s*.json",
          lambda: (f(min(prec("grid_x2_s0", f"ec{e}")
                         - mean_prec(f"ec{e}", f"ec{e}")
                         for e in (0.2, 0.3, 0.4, 0.6)), 2),)),
    Quote("README.md",
          "{}x forward speedup for {}x fewer FLOPs at e_c 0.4",
          f"{RUNS}/benchmark_vit.json",
          lambda: (f(bench_row("benchmark_vit", 0.4)["speedup"], 2),
                   f(bench_row("benchmark_vit", 0.4)["flop_ratio"], 2))),
    Quote("README.md",
          "where the garment's ink is in {}% of the tokens: the dense family "
          "is steep there (width 32 → 64: {}% → {}% on validation) but the "
          "recipe is far from converged (+{} points from 1500 to 3000 steps, "
          "+{} from 3000 to 6000)",
          f"{RUNS}/cluttered_data.json, cluttered_r1_w*_lr0.003_*.json",
          lambda: (f(100 * _json(f"{RUNS}/cluttered_data.json")["splits"]
                     ["test"]["token_shares"]["garment"], 1),
                   f(100 * _probe("w32_lr0.003_3000steps"), 1),
                   f(100 * _probe("w64_lr0.003_3000steps"), 1),
                   f(100 * (_probe("w64_lr0.003_3000steps")
                            - _probe("w64_lr0.003_1500steps")), 1),
                   f(100 * (_probe("w64_lr0.003_6000steps")
                            - _probe("w64_lr0.003_3000steps")), 1))),
    Quote("README.md", "`make scenic-run` reaches {}% at e_c 0.4\n({} GFLOPs",
          f"{RUNS}/video_ec0.4.json (make scenic-run's default config)",
          lambda: (f(100 * video("video_ec0.4", "accuracy_ec0.4"), 1),
                   f(video("video_ec0.4", "gflops_ec0.4"), 4))),
    Quote("README.md", "same recipe ({}% test\nprecision@1",
          "docs/make_run/dense/mone_eval.json",
          lambda: (f(100 * _json("docs/make_run/dense/mone_eval.json")[0]
                         ["test/prec@1"], 2),)),
    # The same numbers as docs/results.md prints them (it is generated from
    # the same runs; this catches a page regenerated from other runs).
    Quote("docs/results.md", "98.9% at e_c 0.3, {}% at e_c 0.4 against the "
          "dense ViViT's {}%", f"{RUNS}/video_*.json",
          lambda: (f(100 * video("video_ec0.4", "accuracy_ec0.4"), 1),
                   f(100 * video("video_dense", "accuracy_dense"), 1))),
    # docs/method.md: capacities and FLOPs, from the code that computes them.
    *[Quote("docs/method.md", f"| {ec} | {{}} |",
            "mone_plugin/capacity.py: capacity_distribution",
            lambda ec=ec: (", ".join(
                f(c, 3) for c in capacity.capacity_distribution(ec)),))
      for ec in (0.3, 0.4, 0.6)],
    Quote("docs/method.md",
          "Dense ViT-B/16 at 224 px comes to {} GFLOPs (GAP head; {} with a\n"
          "class token; the paper: 17.5), MoNE ViT-B/16 at e_c 0.4 to {};",
          "mone_plugin/flops.py: vit_gflops",
          lambda: (f(flops.vit_gflops(), 2),
                   f(flops.vit_gflops(pool_type="tok"), 2),
                   f(flops.vit_gflops(e_c=0.4), 2))),
    Quote("docs/method.md",
          "with 32 frames to {} GFLOPs at 224 px (the ViViT paper: 284.4) and "
          "{} at\n256 px with 174 classes (the MoNE paper: 376.3). The "
          "paper's SSv2 MoNE at\n162.8 GFLOPs is e_c {} by this count.",
          "mone_plugin/flops.py: vivit_gflops, e_c_for_gflops",
          lambda: (f(flops.vivit_gflops(), 1),
                   f(flops.vivit_gflops(image_size=256, num_classes=174), 1),
                   f(flops.e_c_for_gflops(162.8, model="vivit",
                                          image_size=256, num_classes=174),
                     2))),
    # docs/speed.md: the routing overhead.
    Quote("docs/speed.md", "Router + Expert Preferred Routing: {} ms, {}% of "
          "the fastest\nMoNE forward", f"{RUNS}/benchmark_vit.json",
          lambda: (f(_run("benchmark_vit")["result"]["epr_ms"], 2),
                   f(100 * _run("benchmark_vit")["result"]["epr_ms"]
                     / min(r["fwd_ms"] for r in
                           _run("benchmark_vit")["result"]["rows"]), 2))),
    # docs/gpu_benchmark.md: routing overhead and the verdict's ranges.
    Quote("docs/gpu_benchmark.md", "Router + EPR: {} ms, {}% of the fastest "
          "MoNE forward.", H200_TXT,
          lambda: re.search(r"router \+ EPR: (\S+) ms = (\S+)%",
                            _read(H200_TXT)).groups()),
    Quote("docs/gpu_benchmark.md", "Router + EPR: {} ms, {}% of the fastest "
          "MoNE forward.", H200_TXT,
          lambda: re.findall(r"router \+ EPR: (\S+) ms = (\S+)%",
                             _read(H200_TXT))[1]),
    Quote("docs/gpu_benchmark.md", "Router + EPR: {} ms. Raw numbers", H200_B64,
          lambda: (f(_json(H200_B64)["epr_ms"], 2),)),
    Quote("docs/gpu_benchmark.md", "(speedups {}x-{}x in the first table)",
          H200_TXT, lambda: (
              min(c[5] for c in _h200_blocks()["ViT-B/16"])[:-1],
              max(c[5] for c in _h200_blocks()["ViT-B/16"]
                  if c[0] != "dense")[:-1])),
    Quote("docs/gpu_benchmark.md", "{}x at e_c 0.4 for {}x fewer FLOPs",
          H200_B64, lambda: tuple(
              f([r for r in _json(H200_B64)["rows"] if r["e_c"] == 0.4][0][k],
                2) for k in ("speedup", "flop_ratio"))),
    Quote("docs/gpu_benchmark.md", "reaches {}x-{}x", H200_TXT,
          lambda: sorted(c[5][:-1] for c in _h200_blocks()["ViViT-FE-B/16x2"]
                         if c[0] != "dense")),
    # docs/gpu_benchmark.md: the CPU efficiencies it compares with.
    Quote("docs/gpu_benchmark.md",
          "forward efficiency {}-{} (ViT-B/16) and\n{}-{} (ViViT)",
          f"{RUNS}/benchmark_vit.json, benchmark_vivit.json",
          lambda: tuple(f(x, 2) for x in (
              min(r["efficiency"] for r in _run("benchmark_vit")["result"]
                  ["rows"] if r["e_c"]),
              max(r["efficiency"] for r in _run("benchmark_vit")["result"]
                  ["rows"] if r["e_c"]),
              min(r["efficiency"] for r in _run("benchmark_vivit")["result"]
                  ["rows"] if r["e_c"]),
              max(r["efficiency"] for r in _run("benchmark_vivit")["result"]
                  ["rows"] if r["e_c"])))),
]


# ---- Whole table rows -------------------------------------------------------


def _ec(e_c):
  return "dense" if e_c is None else f"{e_c:g}"


def speed_vit_rows():
  """docs/speed.md, ViT-B/16 table: one row per e_c of benchmark_vit.json."""
  rows = []
  for r in _run("benchmark_vit")["result"]["rows"]:
    rows.append(
        f"| {_ec(r['e_c'])} | {f(r['gflops'], 2)} | {f(r['flop_ratio'], 2)} "
        f"| {r['fwd_ms']:.0f} ({f(r['efficiency'], 2)}) "
        f"| {r['opt_fwd_ms']:.0f} ({f(r['opt_efficiency'], 2)}) "
        f"| {f(r['opt_efficiency_vs_big_vision'], 2)} "
        f"| {r['tf_ms']:.0f} ({f(r['tf_speedup'], 2)}x) "
        f"| {r['onnx_ms']:.0f} ({f(r['onnx_speedup'], 2)}x) "
        f"| {r['train_ms']:.0f} ({f(r['train_efficiency'], 2)}) "
        f"| {f(r['train_efficiency_vs_big_vision'], 2)} |")
  return rows


def speed_vivit_rows():
  """docs/speed.md, ViViT table: one row per e_c of benchmark_vivit.json."""
  return [f"| {_ec(r['e_c'])} | {f(r['gflops'], 2)} | {f(r['flop_ratio'], 2)} "
          f"| {r['fwd_ms']:.0f} ({f(r['speedup'], 2)}x, "
          f"eff {f(r['efficiency'], 2)}) "
          f"| {r['opt_fwd_ms']:.0f} ({f(r['opt_efficiency'], 2)}) |"
          for r in _run("benchmark_vivit")["result"]["rows"]]


def speed_big_vision_line():
  r = bench_row("benchmark_vit", None)
  return (f"Big Vision's own dense ViT took {r['big_vision_ms']:.0f} ms "
          f"forward and\n{r['big_vision_train_ms']:.0f} ms per training step "
          f"in this run (ours: {r['fwd_ms']:.0f} and {r['train_ms']:.0f} ms).")


def _h200_blocks():
  """The H200 `make benchmark` printout: {model: [columns per row]}."""
  blocks, cur = {}, None
  for line in _read(H200_TXT).splitlines():
    if line.startswith(("ViT-B/16", "ViViT")):
      cur = blocks.setdefault(line.split()[0], [])
    elif cur is not None and re.match(r"\s*(dense|0\.\d+)\s", line):
      cur.append(re.sub(r"\(\s*", "(", line).split())
  return blocks


def gpu_rows():
  """docs/gpu_benchmark.md: its three tables, from the committed raw runs."""
  rows = []
  for c in _h200_blocks()["ViT-B/16"]:
    ec = "dense" if c[0] == "dense" else f"{float(c[0]):g}"
    # e_c, GFLOPs, ratio, (XLA), fwd, speedup, eff, train, speedup, eff
    rows.append(f"| {ec} | {c[1]} | {c[2]} | {c[4]} | {c[5]} | {c[6]} | "
                f"{c[7]} | {c[8]} | {c[9]} |")
  for c in _h200_blocks()["ViViT-FE-B/16x2"]:
    ec = "dense" if c[0] == "dense" else f"{float(c[0]):g}"
    rows.append(f"| {ec} | {c[1]} | {c[2]} | {c[4]} | {c[5]} | {c[6]} |")
  for r in _json(H200_B64)["rows"]:
    rows.append(f"| {_ec(r['e_c'])} | {f(r['gflops'], 2)} | "
                f"{f(r['flop_ratio'], 2)} | {f(r['fwd_ms'], 1)} | "
                f"{f(r['speedup'], 2)}x | {f(r['efficiency'], 2)} |")
  return rows


# (page, source, rows the page must contain verbatim).
TABLES = [
    ("docs/speed.md", f"{RUNS}/benchmark_vit.json", speed_vit_rows),
    ("docs/speed.md", f"{RUNS}/benchmark_vivit.json", speed_vivit_rows),
    ("docs/speed.md", f"{RUNS}/benchmark_vit.json",
     lambda: [speed_big_vision_line()]),
    ("docs/gpu_benchmark.md", f"{H200_TXT}, {H200_B64}", gpu_rows),
    # The generated table of experiments/device_benchmark.py.
    ("docs/gpu_benchmark.md", f"{GPU_DIR}/*.json (device_benchmark)",
     lambda: device_table.all_rows(os.path.join(_ROOT, GPU_DIR))),
]

# Pages whose every measured-looking number must come from a check above.
CHECKED_PAGES = ("README.md", "docs/speed.md", "docs/gpu_benchmark.md")
# A number with a unit that only a measurement gives.
_MEASURED = re.compile(r"[-+]?\d+\.\d+ ?(%|x\b| ms\b| GFLOPs| points)")
# Numbers of the paper, not of this repository (the pages say so).
PAPER = ("1.94x", "2.31x")


def _rendered(doc):
  """Every checked text of page `doc`, rendered from its source."""
  texts = [q.text.format(*q.numbers()) for q in QUOTES if q.doc == doc]
  for page, _, rows in TABLES:
    if page == doc:
      texts.extend(rows())
  return texts


class DocsNumbersTest(absltest.TestCase):

  def test_quotes_match_their_sources(self):
    for q in QUOTES:
      with self.subTest(doc=q.doc, text=q.text):
        expected = _norm(q.text.format(*q.numbers()))
        self.assertTrue(
            expected in _norm(_read(q.doc)),
            f"{q.doc} should quote {expected!r} (from {q.source}).")

  def test_table_rows_match_their_sources(self):
    for doc, source, rows in TABLES:
      page = _norm(_read(doc))
      for row in map(_norm, rows()):
        with self.subTest(doc=doc, row=row):
          self.assertTrue(row in page, f"{doc} should have this row (from "
                        f"{source}): {row!r}")

  def test_every_measured_number_is_checked(self):
    for doc in CHECKED_PAGES:
      page = _norm(_read(doc))
      spans = [(t.start(), t.end()) for text in map(_norm, _rendered(doc))
               for t in re.finditer(re.escape(text), page)]
      for m in _MEASURED.finditer(page):
        if m.group(0) in PAPER:
          continue
        covered = any(a <= m.start() < b for a, b in spans)
        with self.subTest(doc=doc, number=m.group(0)):
          context = page[max(0, m.start() - 40):m.end() + 10]
          self.assertTrue(covered, f"{doc}: {m.group(0)!r} in {context!r} is not "
                          "checked against a source: add it to QUOTES or "
                          "TABLES in tests/docs_numbers_test.py.")

  def test_pinned_commits_match_the_code(self):
    from mone_plugin import frameworks  # pylint: disable=g-import-not-at-top
    page = _read("docs/setup.md")
    for name, commit in frameworks.PINNED.items():
      with self.subTest(framework=name):
        self.assertIn(f"`{commit}`", page)

  def test_method_sections_cited_by_the_code_exist(self):
    page = _read("docs/method.md")
    for n, title in enumerate(
        ("Nested experts", "Router and residual update",
         "Expert Preferred Routing",
         "Capacity distribution from a compute budget",
         "Training and evaluation recipes", "FLOPs and wall-clock"), 1):
      self.assertIn(f"\n## §{n} {title}\n", page)


if __name__ == "__main__":
  absltest.main()
