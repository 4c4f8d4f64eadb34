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


"""The results pipeline (`make results`) in its reduced mode, end to end.

Runs `python -m experiments.results.run --mode=reduced`: the Big Vision image
runs, the Scenic nested pretraining and video run, both benchmarks and the
report, on tiny settings, so that the scripts behind docs/results.md cannot
rot. Then checks the page: all six parts, with numbers read from the runs'
summaries (written under --out, never into the repo's docs/).
"""

import json
import os
import re
import subprocess
import sys
import tempfile

from absl.testing import absltest

from mone_plugin import frameworks

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HAVE_BOTH = (frameworks.available("big_vision") and
             frameworks.available("scenic"))
SECTIONS = ("## 1. Images", "## 2. Capacity adaptation",
            "## 3. Routing ablations", "## 4. Video", "## 5. Routing maps",
            "## 6. Speed", "## 9. A testbed where most tokens carry little")


@absltest.skipUnless(HAVE_BOTH, "Big Vision or Scenic checkout not found "
                     "(see README).")
class ReducedResultsTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.tmp = tempfile.mkdtemp(prefix="mone_results_")
    cls.out = os.path.join(cls.tmp, "docs")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (REPO, os.environ.get("PYTHONPATH")) if p)
    cls.proc = subprocess.run(
        [sys.executable, "-m", "experiments.results.run", "--mode=reduced",
         f"--root={cls.tmp}", f"--out={cls.out}", "--jobs=2"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=1200,
        check=False)
    cls.root = os.path.join(cls.tmp, "reduced")
    page = os.path.join(cls.out, "results.md")
    cls.page = open(page).read() if os.path.exists(page) else ""

  def test_pipeline_succeeds(self):
    self.assertEqual(self.proc.returncode, 0,
                     self.proc.stdout[-3000:] + self.proc.stderr[-3000:])

  def test_page_has_every_part_with_numbers(self):
    for title in SECTIONS:
      self.assertIn(title, self.page)
      part = self.page.split(title, 1)[1].split("\n## ", 1)[0]
      self.assertNotIn("Not run", part, title)
      self.assertRegex(part, r"\d+\.\d", title)
    self.assertIn("reduced mode", self.page)

  def test_plots_exist_and_are_linked(self):
    linked = re.findall(r"\]\(results/([\w.]+\.png)\)", self.page)
    self.assertGreaterEqual(len(linked), 7, linked)
    for name in linked:
      path = os.path.join(self.out, "results", name)
      self.assertTrue(os.path.exists(path), path)
      with open(path, "rb") as f:
        self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")

  def test_numbers_come_from_the_runs(self):
    with open(os.path.join(self.root, "bv", "dense_s0", "result.json")) as f:
      dense = json.load(f)
    acc = 100 * dense["rows"][0]["test/prec@1"]
    head = f"| dense ViT | — | {1e3 * dense['rows'][0]['gflops']:.2f} |"
    rows = [l for l in self.page.splitlines() if l.startswith(head)]
    self.assertLen(rows, 1, head)
    # One seed in reduced mode: the mean alone, no spread.
    self.assertIn(f"| {acc:.2f} (1 seed) |", rows[0])
    with open(os.path.join(self.root, "benchmark", "vit.json")) as f:
      bench = json.load(f)
    self.assertIn(f"{bench['rows'][0]['fwd_ms']:.1f}", self.page)

  def test_cluttered_routing_shares_come_from_the_run(self):
    with open(os.path.join(self.root, "bv", "cl_ec0.2_s0", "result.json")) as f:
      shares = json.load(f)["token_shares"]
    self.assertEqual(shares["classes"], ["background", "clutter", "garment"])
    by_class = shares["by_e_c"]["0.2"]
    for name, per_expert in by_class.items():
      self.assertLen(per_expert, 4, name)
      self.assertAlmostEqual(sum(per_expert), 1.0, delta=1e-3)
    row = [l for l in self.page.splitlines()
           if l.startswith("| `cl_ec0.2_s0` | learned | 0.2 |")]
    self.assertLen(row, 1)
    self.assertIn(" / ".join(f"{100 * x:.1f}" for x in by_class["garment"]),
                  row[0])

  def test_every_part_says_how_to_regenerate(self):
    for title in SECTIONS:
      part = self.page.split(title, 1)[1].split("\n## ", 1)[0]
      self.assertIn("Regenerate", part, title)

  def test_rerun_keeps_finished_runs(self):
    walls = os.path.join(self.root, "walls.json")
    with open(walls) as f:
      before = json.load(f)
    results = [os.path.join(self.root, "bv", n, "result.json")
               for n in os.listdir(os.path.join(self.root, "bv"))]
    mtimes = {p: os.path.getmtime(p) for p in results}
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.results.run", "--mode=reduced",
         f"--root={self.tmp}", f"--out={self.out}", "--jobs=1",
         "--skip=scenic,benchmark"],
        cwd=REPO, env=dict(os.environ, PYTHONPATH=REPO), capture_output=True,
        text=True, timeout=600, check=False)
    self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
    self.assertEqual({p: os.path.getmtime(p) for p in results}, mtimes)
    # Every run has its summary: nothing starts, the page is rewritten.
    self.assertIn(f"{len(results)} of {len(results)} runs done", proc.stdout)
    self.assertNotIn("start bv_worker", proc.stdout)
    self.assertIn("Wrote", proc.stdout)
    with open(walls) as f:
      after = json.load(f)
    self.assertGreaterEqual(after["plan_s"], before["plan_s"])
    self.assertEqual(after["scenic_video_ec0.3"],
                     before["scenic_video_ec0.3"])


if __name__ == "__main__":
  absltest.main()
