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


"""Tests of the run summaries: writing, skipping done runs, stale recipes."""

import json
import os
import shutil
import tempfile
from unittest import mock

from absl.testing import absltest
import numpy as np

from experiments.results import plan
from experiments.results import run as run_lib
from experiments.results import summaries


def bv_summary(run, mode="full", acc=0.8, gflops=0.01):
  """A hand-made summary of `run`, as the worker writes it."""
  rows = [{"e_c": "dense" if e is None else e, "budget": b,
           "gflops": gflops, "test/prec@1": acc}
          for e, b in zip(run.eval_e_c, run.eval_names())]
  return summaries.make("bv", run.name, mode, args=run.args, seed=run.seed,
                        steps=plan.STEPS, wall_s=60.0, train_s=50.0,
                        eval_s=10.0, command=run.command("w"), rows=rows)


class SummariesTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.dir = tempfile.mkdtemp()
    self.addCleanup(shutil.rmtree, self.dir)
    self.runs = {r.name: r for r in plan.bv_runs("full")}

  def test_summary_records_what_the_page_needs(self):
    run = self.runs["matvit_s0"]
    path = summaries.write(self.dir, bv_summary(run))
    self.assertEqual(path, os.path.join(self.dir, "matvit_s0.json"))
    with open(path) as f:
      s = json.load(f)
    for key in ("args", "seed", "steps", "wall_s", "date", "commit",
                "recipe", "rows", "kind", "mode", "machine"):
      self.assertIn(key, s)
    self.assertEqual(s["machine"], summaries.machine())
    self.assertIn(f"{os.cpu_count()} CPU cores", s["machine"])
    self.assertEqual(s["recipe"], plan.recipe_tag("bv"))
    self.assertEqual([r["budget"] for r in s["rows"]],
                     ["expert0", "expert1", "expert2", "expert3"])
    self.assertEqual(s["rows"][0]["e_c"], [1.0, 0.0, 0.0, 0.0])
    self.assertFalse(os.path.exists(path + ".tmp"))

  def test_machines_are_counted_unrecorded_apart(self):
    counts = summaries.machines([{"machine": "A"}, {"machine": "A"},
                                 {"machine": "B"}, {}])
    self.assertEqual(counts, {"A": 2, "B": 1, None: 1})

  def test_done_and_skipped(self):
    run = self.runs["ec0.4_s1"]
    self.assertFalse(summaries.done(self.dir, "full", run))
    summaries.write(self.dir, bv_summary(run))
    self.assertTrue(summaries.done(self.dir, "full", run))
    # The plan skips it: not pending, not chosen.
    items = run_lib.plan_items("full", self.dir, ("scenic",
                                                           "benchmark"))
    self.assertEqual(sum(i.done for i in items), 1)
    self.assertEqual(len(items), len(self.runs))
    chosen = [i.name for i in run_lib.select(items, 0)]
    self.assertNotIn("ec0.4_s1", chosen)
    self.assertLen(chosen, len(self.runs) - 1)
    self.assertLen(run_lib.select(items, 3), 3)
    lines = run_lib.progress(items, "full", chosen[:3])
    self.assertIn(f"1 of {len(self.runs)} runs done", lines[0])
    self.assertIn("This session runs 3", lines[1])

  def test_stale_recipe_is_ignored_and_logged(self):
    run = self.runs["ec0.4_s1"]
    summaries.write(self.dir, bv_summary(run))
    with mock.patch.dict(plan.RECIPE, steps=plan.STEPS * 2):
      new_run = {r.name: r for r in plan.bv_runs("full")}["ec0.4_s1"]
      with self.assertLogs(logger="absl", level="INFO") as logs:
        self.assertFalse(summaries.done(self.dir, "full", new_run))
        self.assertEqual(summaries.load(self.dir, "bv", "full"), {})
      self.assertTrue(any("Stale summary" in m and "recipe" in m
                          for m in logs.output), logs.output)
    self.assertIn("ec0.4_s1", summaries.load(self.dir, "bv", "full"))

  def test_changed_args_or_missing_budget_is_stale(self):
    run = self.runs["ec0.4_s0"]
    s = bv_summary(run)
    s["rows"] = s["rows"][:1]  # The plan now evaluates more budgets.
    summaries.write(self.dir, s)
    self.assertFalse(summaries.done(self.dir, "full", run))
    s = bv_summary(run)
    s["args"] = s["args"].replace("seed=0", "seed=5")
    summaries.write(self.dir, s)
    self.assertFalse(summaries.done(self.dir, "full", run))

  def test_other_files_are_not_summaries(self):
    with open(os.path.join(self.dir, "probe_ec0.4_s0.json"), "w") as f:
      json.dump({"workdir": "ec0.4_s0", "accuracy": {"1": 0.4}}, f)
    with open(os.path.join(self.dir, "broken.json"), "w") as f:
      f.write("{")
    summaries.write(self.dir, bv_summary(self.runs["dense_s0"]))
    self.assertEqual(list(summaries.load(self.dir, "bv", "full")),
                     ["dense_s0"])

  def test_reduced_and_full_do_not_mix(self):
    reduced = {r.name: r for r in plan.bv_runs("reduced")}["dense_s0"]
    summaries.write(self.dir, bv_summary(reduced, mode="reduced"))
    self.assertFalse(summaries.done(self.dir, "full", self.runs["dense_s0"]))
    self.assertTrue(summaries.done(self.dir, "reduced", reduced))

  def test_scenic_and_benchmark_summaries(self):
    video = plan.scenic_runs("full")[2]
    self.assertFalse(summaries.done(self.dir, "full", video))
    summaries.write(self.dir, summaries.make(
        "scenic", video.name, "full", args=summaries.scenic_args(video),
        final_eval={"accuracy_ec0.3": 0.5}))
    self.assertTrue(summaries.done(self.dir, "full", video))
    self.assertNotIn("{root}/nested", summaries.scenic_args(video).replace(
        "{root}", "X"))
    items = run_lib.plan_items("full", self.dir, ("bv",))
    self.assertEqual([i.name for i in items if i.done], [video.name])
    self.assertLen(items, len(plan.scenic_runs("full")) + 2)

  def test_routing_arrays_round_trip_small(self):
    images = np.linspace(-1, 1, 2 * 8 * 8).reshape(2, 8, 8, 1)
    src = os.path.join(self.dir, "routing.npz")
    np.savez(src, images=images.astype(np.float32),
             patch_size=np.array([4, 4]),
             **{"experts_0.2": np.arange(8).reshape(2, 4)})
    summaries.write_routing(self.dir, "ec0.2_s0", src)
    z = summaries.read_routing(self.dir, "ec0.2_s0")
    np.testing.assert_allclose(z["images"], images, atol=1 / 127)
    np.testing.assert_array_equal(z["experts_0.2"],
                                  np.arange(8).reshape(2, 4))
    self.assertIsNone(summaries.read_routing(self.dir, "nope"))

  def test_unknown_kind(self):
    with self.assertRaisesRegex(ValueError, "kind='x'"):
      summaries.make("x", "a", "full", args="")


if __name__ == "__main__":
  absltest.main()
