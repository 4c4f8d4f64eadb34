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


"""Tests of the plan driver's bookkeeping: which jobs a bounded session runs."""

import os
import shutil
import tempfile

from absl.testing import absltest

from experiments.results import plan
from experiments.results import run as run_lib
from experiments.results import summaries


class JobsTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.root = tempfile.mkdtemp()
    self.addCleanup(shutil.rmtree, self.root)

  def test_chosen_runs_only(self):
    jobs = run_lib.jobs_for("full", self.root, 2, chosen={"mod_s0"},
                            summary_dir="/s", deadline=100.0,
                            sec_per_cost=7.0)
    self.assertEqual([j.name for j in jobs], ["bv_worker0"])  # One run.
    argv = jobs[0].argv
    self.assertIn("--runs=mod_s0", argv)
    self.assertIn("--summaries=/s", argv)
    self.assertIn("--deadline=100.0", argv)
    self.assertIn("--sec_per_cost=7.0", argv)

  def test_whole_plan(self):
    jobs = run_lib.jobs_for("full", self.root, 2)
    names = [j.name for j in jobs]
    self.assertEqual(names[:3], ["bv_worker0", "scenic_nested",
                                 "bv_worker1"])
    self.assertEqual(names[-2:], ["benchmark_vit", "benchmark_vivit"])
    self.assertFalse(any(a.startswith("--runs") for a in jobs[0].argv))

  def test_a_video_run_brings_its_missing_pretraining(self):
    jobs = run_lib.jobs_for("full", self.root, 2, chosen={"video_ec0.3"})
    self.assertEqual([j.name for j in jobs],
                     ["scenic_nested", "scenic_video_ec0.3"])
    self.assertEqual(jobs[1].after, ("scenic_nested",))
    # With the pretraining's workdir there, the video run goes alone.
    os.makedirs(os.path.join(self.root, "scenic", "nested"))
    open(os.path.join(self.root, "scenic", "nested", "final_eval.json"),
         "w").close()
    jobs = run_lib.jobs_for("full", self.root, 2, chosen={"video_ec0.3"})
    self.assertEqual([j.name for j in jobs], ["scenic_video_ec0.3"])
    self.assertEqual(jobs[0].after, ())

  def test_seconds_per_cost_from_finished_runs(self):
    self.assertEqual(run_lib.sec_per_cost(self.root, "full"), 0.0)
    runs = {r.name: r for r in plan.bv_runs("full")}
    for name, wall in (("dense_s0", 130.0), ("ec0.2_s1", 80.0)):
      r = runs[name]
      rows = [{"budget": b, "gflops": 0.01, "test/prec@1": 0.8}
              for b in r.eval_names()]
      summaries.write(self.root, summaries.make(
          "bv", name, "full", args=r.args, seed=r.seed, wall_s=wall,
          rows=rows))
    # (130 + 80) s over costs 1.3 + 0.8.
    self.assertAlmostEqual(run_lib.sec_per_cost(self.root, "full"), 100.0)

  def test_select_by_name(self):
    items = [run_lib.Item("dense_s0", "bv", True),
             run_lib.Item("ec0.3_s0", "bv", False),
             run_lib.Item("ec0.4_s0", "bv", False)]
    self.assertEqual([i.name for i in run_lib.select(items, 0)],
                     ["ec0.3_s0", "ec0.4_s0"])
    self.assertEqual([i.name for i in run_lib.select(
        items, 0, ["dense_s0", "ec0.4_s0"])], ["ec0.4_s0"])  # One is done.
    with self.assertRaisesRegex(ValueError, "ec0.5_s0.*allowed: dense_s0"):
      run_lib.select(items, 0, ["ec0.5_s0"])

  def test_lock_clears_stale_claims(self):
    claim = os.path.join(self.root, "bv", "dense_s0", "claim")
    os.makedirs(os.path.dirname(claim))
    open(claim, "w").close()
    lock = run_lib._lock(self.root)  # pylint: disable=protected-access
    self.assertFalse(os.path.exists(claim))
    with open(lock) as f:
      self.assertEqual(f.read(), str(os.getpid()))
    with open(lock, "w") as f:
      f.write("1")  # A live process (init) holds it.
    with self.assertRaisesRegex(RuntimeError, "Another plan"):
      run_lib._lock(self.root)  # pylint: disable=protected-access


if __name__ == "__main__":
  absltest.main()
