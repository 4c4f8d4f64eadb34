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

"""Tests of section 9's criteria and verdicts (hand-made probes and curves)."""

import json
import os
import shutil
import tempfile

from absl.testing import absltest

from experiments.results import loading
from experiments.results import plan
from experiments.results.sections import s9_cluttered


def _probe(width, lr, steps, val, gflops):
  return {"name": f"w{width}_lr{lr}_{steps}", "steps": steps, "val": val,
          "gflops": gflops, "wall_s": 0.24 * steps, "val_by_step": [(steps, val)],
          "settings": {"batch": "128", "lr": str(lr), "width": str(width),
                       "depth": "4", "res": "64", "flip": "yes",
                       "steps": str(steps)}}


class CriteriaTest(absltest.TestCase):

  def test_converged_and_steep(self):
    probes = [_probe(64, 0.003, 1500, 0.60, 0.015),
              _probe(64, 0.003, 3000, 0.603, 0.015),
              _probe(32, 0.003, 3000, 0.58, 0.004),
              _probe(96, 0.003, 3000, 0.62, 0.033),
              _probe(128, 0.003, 3000, 0.63, 0.058)]
    lines, a_met, b_met = s9_cluttered.criteria(probes, 0.003, 3000)
    self.assertTrue(a_met)
    self.assertTrue(b_met)
    self.assertIn("(a) width 64, lr 0.003: 1500 → 3000 steps 60.0% → 60.3%, "
                  "+0.3 points per doubling (converged", lines[0])
    self.assertIn("(b) 3000 steps, lr 0.003: width 32 58.0%, width 64 60.3%",
                  lines[1])

  def test_each_width_at_its_best_rate(self):
    probes = [_probe(32, 0.003, 3000, 0.60, 0.004),
              _probe(64, 0.003, 3000, 0.68, 0.016),
              _probe(128, 0.003, 3000, 0.58, 0.064),
              _probe(128, 0.0015, 3000, 0.72, 0.064)]
    lines, _, b_met = s9_cluttered.criteria(probes, 0.003, 3000)
    self.assertFalse(b_met)  # At the study's one rate the widest falls.
    (line,) = [l for l in lines if "best probed rate" in l]
    self.assertIn("width 64 68.0% (lr 0.003), width 128 72.0% (lr 0.0015); "
                  "+3.00 points per doubling of FLOPs fitted", line)

  def test_unconverged_flat_and_unmeasured(self):
    probes = [_probe(64, 0.003, 1500, 0.59, 0.015),
              _probe(64, 0.003, 3000, 0.65, 0.015),
              _probe(128, 0.003, 3000, 0.652, 0.058)]
    lines, a_met, b_met = s9_cluttered.criteria(probes, 0.003, 3000)
    self.assertFalse(a_met)
    self.assertIn("not converged", lines[0])
    # Two widths only: the slope is shown but (b) needs four.
    self.assertFalse(b_met)
    _, a_met, b_met = s9_cluttered.criteria(probes[:1], 0.003, 3000)
    self.assertIsNone(a_met)
    self.assertIsNone(b_met)

  def test_steps_to_converge_extrapolates_two_doublings(self):
    probes = [_probe(64, 0.003, 1500, 0.59, 0.015),
              _probe(64, 0.003, 3000, 0.63, 0.015),  # +4 points
              _probe(64, 0.003, 6000, 0.65, 0.015)]  # +2: halves a doubling
    lines, a_met, _ = s9_cluttered.criteria(probes, 0.003, 3000)
    self.assertFalse(a_met)
    # +1 at 6000 -> 12000, +0.5 at 12000 -> 24000, +0.25 from 24000: converged
    # at 24000 steps (its doubling gains < 0.5).
    (line,) = [l for l in lines if "shrinks" in l]
    self.assertIn("shrinks 0.50x a doubling (+4.0 then +2.0 points)", line)
    self.assertIn("about 24,000 steps meet (a)", line)
    self.assertIn("1.6 h a run", line)  # 0.24 s a step.

  def test_study_beyond_the_compute_stops_here(self):
    probes = [_probe(64, 0.003, 1500, 0.59, 0.015),
              _probe(64, 0.003, 3000, 0.63, 0.015),
              _probe(64, 0.003, 6000, 0.65, 0.015)]
    text = s9_cluttered._compute_words(probes, 0.003, 3000, False)
    planned = s9_cluttered.study_hours(0.24, 3000)
    self.assertIn(f"at 3000 steps: about {planned:.1f} h of 2 cores", text)
    self.assertAlmostEqual(s9_cluttered.study_hours(0.24, 24000),
                           8 * planned)
    self.assertIn(f"At the ~24,000 steps that (a) would need, about "
                  f"{8 * planned:.0f} h: more than", text)
    self.assertIn("no recipe meets both criteria within the compute", text)
    # Converged: nothing is extrapolated.
    self.assertNotIn("would need",
                     s9_cluttered._compute_words(probes, 0.003, 3000, True))

  def test_slope_is_least_squares_per_doubling(self):
    pts = [(32, 1.0, 0.5), (64, 2.0, 0.52), (128, 4.0, 0.54)]
    self.assertAlmostEqual(s9_cluttered.slope_per_doubling(pts), 0.02)


class TwoTestbedsTest(absltest.TestCase):

  def test_flat_easy_testbed_against_steep_slow_one(self):
    d = tempfile.mkdtemp()
    self.addCleanup(shutil.rmtree, d)
    for name, steps, val in (("recipe_a", 3000, 0.89), ("recipe_b", 6000,
                                                         0.897)):
      with open(os.path.join(d, f"{name}.json"), "w") as f:
        json.dump({"args": f"dense,val,steps={steps},lr=0.0015",
                   "eval_val": [{"step": steps, "prec_1": val}]}, f)
    # Fashion-MNIST's dense family: +0.2 points per doubling of FLOPs.
    runs = loading.Runs(d, results={
        plan.dense_name(w): {"args": "dense", "seed": 0, "rows": [
            {"budget": "dense", "gflops": g, loading.METRIC: a}]}
        for w, g, a in ((16, 0.001, 0.864), (plan.WIDTH, 0.016, 0.872))})
    probes = [_probe(64, 0.003, 1500, 0.59, 0.015),
              _probe(64, 0.003, 3000, 0.67, 0.015),
              _probe(32, 0.003, 3000, 0.60, 0.00375),
              _probe(128, 0.003, 3000, 0.74, 0.06)]
    (text, blank) = s9_cluttered._two_testbeds(d, probes, 0.003, runs)
    self.assertEqual(blank, "")
    self.assertIn("+0.7 points per doubling of steps from 3000 to 6000", text)
    self.assertIn("flat (+0.20 points per doubling of FLOPs, fitted over "
                  "widths 16-64", text)
    self.assertIn("is steep (+3.50 points per doubling of FLOPs, fitted over "
                  "widths 32-128; between neighbouring widths 32→64 +3.5, "
                  "64→128 +3.5) and the recipe is far from converged (+8.0 points "
                  "per doubling of steps from 1500 to 3000)", text)
    self.assertIn("The two criteria pull apart", text)
    # The widest falls behind with the higher training loss: under-trained.
    probes[2:] = [dict(_probe(128, 0.003, 3000, 0.58, 0.06), train_loss=0.91)]
    probes[1]["train_loss"] = 0.82
    text = s9_cluttered._two_testbeds(d, probes, 0.003, runs)[0]
    self.assertIn("is not steep", text)
    self.assertIn("the widest model ends with the higher training loss "
                  "(0.910 at width 128 against 0.820 at width 64)", text)
    # Without the Fashion-MNIST runs there is nothing to compare.
    self.assertEqual(s9_cluttered._two_testbeds(d, probes, 0.003, None), [])


class TargetTest(absltest.TestCase):

  def _data(self, mone_acc, spread):
    w = plan.CLUTTERED_WIDTH
    accs = {0: mone_acc - spread, 1: mone_acc, 2: mone_acc + spread}
    return {"dense_family": [(32, 0.004, 0.55, 0.0, 1),
                             (64, 0.015, 0.60, 0.0, 1),
                             (w, 0.058, 0.65, 0.002, 3)],
            "mone": [(0.3, 0.022, mone_acc, spread, accs)],
            "dense_own": {0: 0.648, 1: 0.65, 2: 0.652}}

  def test_above_by_twice_the_spread(self):
    lines = s9_cluttered.target_lines(self._data(0.64, 0.005))
    self.assertIn("above by more than twice the spread", "".join(lines))
    self.assertIn("2.64x fewer FLOPs", "".join(lines))

  def test_not_above(self):
    text = "".join(s9_cluttered.target_lines(self._data(0.62, 0.01)))
    self.assertIn("NOT above by twice the spread", text)

  def test_pending(self):
    data = dict(self._data(0.64, 0.0), dense_own={})
    self.assertIn("pending", s9_cluttered.target_lines(data)[0])


class ProbesFromSummariesTest(absltest.TestCase):

  def test_reads_cluttered_probe_summaries(self):
    d = tempfile.mkdtemp()
    self.addCleanup(shutil.rmtree, d)
    summary = {"args": "dense,val,steps=1500,batch=128,lr=0.003,width=64",
               "eval_val": [{"step": 750, "prec_1": 0.48},
                            {"step": 1500, "prec_1": 0.59}],
               "wall_s": 900, "gflops": 0.0149}
    with open(os.path.join(d, "cluttered_r1_w64.json"), "w") as f:
      json.dump(summary, f)
    with open(os.path.join(d, "recipe_other.json"), "w") as f:
      json.dump(summary, f)  # Another study's probe: not read here.
    (p,) = s9_cluttered.probes_of(d)
    self.assertEqual(p["settings"]["res"], "64")
    self.assertEqual((p["steps"], p["val"], p["gflops"]), (1500, 0.59, 0.0149))


if __name__ == "__main__":
  absltest.main()
