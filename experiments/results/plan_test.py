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


"""Tests of the results plan."""

from unittest import mock

from absl.testing import absltest

from mone_plugin import budgets as budgets_lib
from mone_plugin import capacity
from experiments.results import plan


class PlanTest(absltest.TestCase):

  def test_names_are_unique(self):
    for mode in plan.MODES:
      names = [r.name for r in plan.bv_runs(mode)]
      self.assertLen(set(names), len(names))
      names = [r.name for r in plan.scenic_runs(mode)]
      self.assertLen(set(names), len(names))

  def test_cluttered_study_is_figure3_on_its_testbed(self):
    runs = {r.name: r for r in plan.cluttered_runs()}
    self.assertLen(runs, len(plan.cluttered_runs()))  # Unique names.
    for run in runs.values():
      self.assertEqual(run.config, plan.CLUTTERED_CONFIG)
      self.assertIn(run.group, plan.CLUTTERED_GROUPS)
      self.assertIn(f"--config={plan.CLUTTERED_CONFIG}:", run.command("w"))
      args = plan.resolved_args(run.args)
      self.assertEqual(args["lr"], str(plan.CLUTTERED_RECIPE["lr"]))
      self.assertNotIn("val", args)  # Test split, read once per run.
    widths = {int(plan.resolved_args(r.args)["width"])
              for r in runs.values() if r.group.startswith("cl_dense")}
    self.assertGreaterEqual(len(widths), 4)
    for seed in plan.SEEDS:
      self.assertIn(plan.cluttered_dense_name(plan.CLUTTERED_WIDTH, seed),
                    runs)
      for e_c in plan.CLUTTERED_E_C:
        run = runs[plan.cluttered_name(f"ec{e_c:g}", seed)]
        self.assertEqual(run.eval_e_c, (e_c,))
        self.assertEqual(run.routing, seed == 0)
        self.assertEqual(plan.resolved_args(run.args)["width"],
                         str(plan.CLUTTERED_WIDTH))
    for e_c in plan.CLUTTERED_RANDOM_E_C:
      run = runs[plan.cluttered_name(f"random_ec{e_c:g}")]
      self.assertIn("router=random", run.args)
      self.assertTrue(run.routing)
    # In the full plan exactly when the probes' criteria held.
    full = {r.name for r in plan.bv_runs("full")}
    self.assertEqual(set(runs) <= full, plan.CLUTTERED_STUDY)
    self.assertFalse(set(runs) & full and not plan.CLUTTERED_STUDY)

  def test_full_plan_covers_the_results_page(self):
    runs = {r.name: r for r in plan.bv_runs("full")}
    for seed in plan.SEEDS:
      self.assertIn(f"dense_s{seed}", runs)
      for e_c in (0.2, 0.3, 0.4, 0.6):
        run = runs[f"ec{e_c:g}_s{seed}"]
        self.assertIn(f"e_c={e_c}", run.args)
        self.assertEqual(plan.resolved_args(run.args)["steps"],
                         str(plan.STEPS))
        self.assertIn(e_c, run.eval_e_c)
    self.assertGreaterEqual(len(plan.SEEDS), 3)
    self.assertIn("iso_flops", runs["iso_ec0.4_s0"].args)
    for e_c in (0.2, 0.4, 0.6):
      self.assertEqual(runs[f"ec{e_c:g}_s0"].eval_e_c, plan.ADAPT_EVAL_E_C)
    self.assertEqual(runs["grid_s0"].eval_e_c, plan.ADAPT_EVAL_E_C)
    self.assertNotIn("e_c=", runs["grid_s0"].args)  # The sampled grid.
    self.assertIn("router=random", runs["random_ec0.2_s0"].args)
    self.assertIn("router=random", runs["random_ec0.6_s0"].args)
    self.assertIn("capacity=proportionate", runs["proportionate_s0"].args)
    self.assertIn("capacity=greedy,e_c=0.3", runs["greedy_ec0.3_s0"].args)
    for _, e_c, baseline, mone in plan.capacity_pairs("full"):
      self.assertIn(f"e_c={e_c}", runs[mone].args)
      self.assertEqual(runs[mone].eval_e_c[0], runs[baseline].eval_e_c[0])
    scenic = {r.name: r for r in plan.scenic_runs("full")}
    self.assertEqual(list(scenic), ["nested", "video_dense", "video_ec0.3",
                                    "video_ec0.4", "video_ec0.3_same_steps"])
    self.assertIn("iso_flops=false", scenic["video_ec0.3_same_steps"].config)
    self.assertNotIn("iso_flops", scenic["video_ec0.3"].config)  # Default.

  def test_figure3_runs(self):
    runs = {r.name: r for r in plan.bv_runs("full")}
    family = [r for r in runs.values() if r.group in ("dense",
                                                      "dense_family")]
    widths = {int(plan.resolved_args(r.args)["width"]) for r in family}
    self.assertGreaterEqual(len(widths), 4)
    self.assertIn(plan.WIDTH, widths)
    self.assertEqual(runs["dense_w32_s0"].args.split(",")[0], "dense")
    self.assertEqual(runs["dense_w32_s0"].args,
                     f"dense,recipe={plan.RECIPE_NAME},width=32,heads=2,"
                     "mlp=128,seed=0")
    self.assertEqual(runs["matvit_s0"].eval_names(),
                     ("expert0", "expert1", "expert2", "expert3"))
    self.assertEqual(runs["mod_s0"].eval_names(), ("dense",))
    self.assertTrue(runs["mod_s0"].args.startswith("mod,"))
    for group in plan.FIGURE3_GROUPS:
      self.assertNotEmpty(plan.group_runs("full", [group]), group)
    # Every run of the full plan trains with the one recipe (but the
    # adaptive model trained longer, on purpose).
    for run in runs.values():
      steps = plan.STEPS * (plan.ADAPT_LONG_FACTOR
                            if run.group == "adaptive_long" else 1)
      resolved = plan.resolved_args(run.args)
      self.assertEqual(resolved["steps"], str(steps))
      self.assertEqual(resolved["lr"], str(plan.RECIPE["lr"]))
      self.assertIn(f"recipe={plan.RECIPE_NAME},", run.args)

  def test_recipe_tag_follows_the_recipe(self):
    tag = plan.recipe_tag("bv")
    self.assertStartsWith(tag, plan.RECIPE_NAME + "-")
    with mock.patch.dict(plan.RECIPE, steps=plan.STEPS + 1):
      self.assertNotEqual(plan.recipe_tag("bv"), tag)
      self.assertEqual(plan.resolved_args(plan.recipe_args())["steps"],
                       str(plan.STEPS + 1))
    self.assertEqual(plan.recipe_tag("bv"), tag)
    self.assertNotEqual(plan.recipe_tag("bv", "reduced"), tag)
    with self.assertRaisesRegex(ValueError, "kind='x'"):
      plan.recipe_tag("x")

  def test_recipe_is_the_configs(self):
    # The plan names a recipe of the config and gives only what varies; the
    # same recipe given value by value (as older summaries recorded it)
    # resolves alike, so their runs are not redone.
    self.assertEqual(plan.RECIPE, plan.RECIPES[plan.RECIPE_NAME])
    run = {r.name: r for r in plan.bv_runs("full")}["dense_s1"]
    self.assertEqual(run.args, f"dense,recipe={plan.RECIPE_NAME},seed=1")
    spelled = "dense," + ",".join(
        f"{k}={v}" for k, v in plan.RECIPE.items()) + ",seed=1"
    self.assertEqual(plan.resolved_args(spelled),
                     plan.resolved_args(run.args))
    self.assertNotEqual(plan.resolved_args("dense,seed=1"),
                        plan.resolved_args(run.args))  # The quick recipe.

  def test_uniform_needs_no_run(self):
    # At the uniform distribution's e_c, MoNE's capacities are uniform.
    caps = capacity.capacity_distribution(plan.method_e_c("uniform"), 4)
    self.assertSequenceAlmostEqual(caps, [0.25] * 4, places=6)

  def test_method_e_c(self):
    self.assertAlmostEqual(plan.method_e_c("uniform"), 0.46875)
    self.assertAlmostEqual(plan.method_e_c("proportionate"), 0.708333)
    for method in ("uniform", "proportionate"):
      e_c = plan.method_e_c(method)
      caps = capacity.capacity_distribution(e_c, 4, "mone")
      self.assertAlmostEqual(capacity.effective_capacity(caps), e_c, places=5)

  def test_every_eval_budget_is_feasible(self):
    for mode in plan.MODES:
      for run in plan.bv_runs(mode):
        for e_c in run.eval_e_c:
          budgets_lib.check_budget(e_c, 4)

  def test_unknown_mode(self):
    with self.assertRaisesRegex(ValueError, r"mode='fast'.*full"):
      plan.bv_runs("fast")
    with self.assertRaisesRegex(ValueError, r"mode='fast'.*full"):
      plan.scenic_runs("fast")

  def test_scenic_argv(self):
    video = plan.scenic_runs("full")[2]
    self.assertEqual(video.argv("/r"), [
        "--config=projects/mone/configs/local_mone_video.py:"
        "init=/r/nested,e_c=0.3", "--workdir=/r/video_ec0.3"])
    self.assertEqual(video.after, ("nested",))


if __name__ == "__main__":
  absltest.main()
