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

"""Tests of the one budget vocabulary of both adapters."""

import math
import re

from absl.testing import absltest
from absl.testing import parameterized
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from mone_plugin import budgets as budgets_lib
from mone_plugin import flops
from mone_plugin import vit
from mone_plugin import vivit

IMAGE = (32, 32, 1)
CLIP = (8, 32, 32, 1)


def tiny_vit(**kw):
  return vit.Model(10, patch_size=(4, 4), width=32, depth=2, mlp_dim=64,
                   num_heads=2, **kw)


def tiny_vivit(**kw):
  return vivit.SpaceTimeViViT(
      num_classes=10, patches={"size": (8, 8, 2)}, hidden_size=32,
      spatial_num_layers=2, temporal_num_layers=1, spatial_mlp_dim=64,
      temporal_mlp_dim=64, spatial_num_heads=2, temporal_num_heads=2, **kw)


class NameTest(parameterized.TestCase):

  @parameterized.parameters(
      (None, "dense"), (0.4, "ec0.4"), (1.0, "ec1"), (1, "ec1"),
      (0.125, "ec0.125"), (np.float32(0.5), "ec0.5"),
      ((0.0, 1.0, 0.0, 0.0), "expert1"), ((0, 0, 0, 1), "expert3"),
      ((0.5, 0.5, 0.0, 0.0), "capacities0.5-0.5-0-0"))
  def test_one_name_per_budget(self, budget, want):
    self.assertEqual(budgets_lib.name(budget), want)

  def test_draws_routing(self):
    self.assertEqual([budgets_lib.draws_routing(b) for b in (
        None, 1.0, 0.5, (0.0, 0.0, 0.0, 1.0), (0.0, 1.0, 0.0, 0.0))],
                     [False, False, True, False, True])

  def test_one_hot(self):
    self.assertEqual(budgets_lib.one_hot(2), ((1.0, 0.0), (0.0, 1.0)))


class CheckTest(parameterized.TestCase):

  @parameterized.named_parameters(
      ("string", "0.5", "not a number"),
      ("bool", True, "not a number"),
      ("list", [0.5], "not a number"),
      ("nan", math.nan, "outside the feasible range"),
      ("inf", math.inf, "outside the feasible range"),
      ("zero", 0.0, "outside the feasible range"),
      ("negative", -0.3, "outside the feasible range"),
      ("below", 0.1, "outside the feasible range"),
      ("above", 1.5, "outside the feasible range"))
  def test_bad_e_c_names_value_and_range(self, value, what):
    with self.assertRaisesRegex(
        ValueError, rf"config\.mone\.e_c={re.escape(repr(value))}.*{what}.*allowed: a "
        r"number in \[0\.125, 1\] \(E=4 experts\)"):
      budgets_lib.check_config({"e_c": value})

  def test_range_follows_num_experts(self):
    with self.assertRaisesRegex(ValueError, r"\[0\.25, 1\] \(E=3"):
      budgets_lib.check_config({"e_c": 0.2}, num_experts=3)
    budgets_lib.check_config({"e_c": 0.25}, num_experts=3)

  @parameterized.parameters(
      ({"e_c": 0.5, "train_e_c_grid": (0.5, 1.0)}, "e_c', 'train_e_c_grid"),
      ({"e_c": 0.5, "gflops": 1.0}, "e_c', 'gflops"),
      ({"gflops": 1.0, "train_e_c_grid": (0.5,)}, "gflops', 'train_e_c_grid"))
  def test_conflicting_keys(self, mone, names):
    with self.assertRaisesRegex(ValueError, rf"sets \['{names}'\]: give at "
                                r"most one of"):
      budgets_lib.check_config(mone)

  @parameterized.parameters(
      ("e_c_train_grid", "train_e_c_grid"), ("train_e_c", "e_c"),
      ("routing_maps", "num_routing_maps"))
  def test_old_keys_name_the_new_one(self, old, new):
    with self.assertRaisesRegex(
        ValueError, rf"config\.mone\.{old} was renamed: use "
        rf"config\.mone\.{new}"):
      budgets_lib.check_config(ml_collections.ConfigDict({old: (0.5,)}))

  def test_unknown_key(self):
    with self.assertRaisesRegex(ValueError, r"unknown keys \['ec'\]; "
                                r"allowed: \['e_c', "):
      budgets_lib.check_config({"ec": 0.5})

  @parameterized.parameters(
      ({"train_e_c_grid": ()}, r"train_e_c_grid=\(\) must be a non-empty"),
      ({"train_e_c_grid": "0.5"}, r"train_e_c_grid='0.5' must be"),
      ({"train_e_c_grid": (0.5, None)},
       r"train_e_c_grid\[1\]=None is not allowed here"),
      ({"train_e_c_grid": (0.5, 0.05)},
       r"train_e_c_grid\[1\]=0.05 is outside"),
      ({"eval_e_c": (None, 2.0)}, r"eval_e_c\[1\]=2.0 is outside"),
      ({"gflops": -1.0}, r"gflops=-1.0 is not allowed"),
      ({"gflops": math.nan}, r"gflops=nan is not allowed"),
      ({"num_routing_maps": -1}, r"num_routing_maps=-1 must be"),
      ({"iso_flops": 1}, r"iso_flops=1 must be True or False"))
  def test_bad_values(self, mone, pattern):
    with self.assertRaisesRegex(ValueError, pattern):
      budgets_lib.check_config(mone)

  def test_good_config(self):
    budgets_lib.check_config(ml_collections.ConfigDict(dict(
        e_c=None, gflops=None, train_e_c_grid=(0.25, 1.0),
        eval_e_c=(None, 0.25), iso_flops=True, num_routing_maps=4)))
    budgets_lib.check_config(None)

  def test_greedy_capacities_and_tuples(self):
    budgets_lib.check_budget((0.0, 1.0, 0.0, 0.0), 4)
    with self.assertRaisesRegex(ValueError, r"budget \(0.5, 0.5\) is not "
                                "allowed.*one entry per expert"):
      budgets_lib.check_budget((0.5, 0.5), 4)


class SamplerTest(absltest.TestCase):

  def test_deterministic_given_seed_and_step(self):
    grid = (0.25, 0.5, 1.0)
    draws = [budgets_lib.sample_e_c(grid, 3, s) for s in range(200)]
    self.assertEqual(draws, [budgets_lib.sample_e_c(grid, 3, s)
                             for s in range(200)])
    self.assertEqual(set(draws), set(grid))
    self.assertNotEqual(draws, [budgets_lib.sample_e_c(grid, 4, s)
                                for s in range(200)])

  def test_one_value_is_fixed(self):
    b = budgets_lib.resolve({"e_c": 0.5}, tiny_vit(), IMAGE)
    self.assertEqual({b.train_e_c(0, s) for s in range(20)}, {0.5})


class ResolveTest(parameterized.TestCase):

  def test_default_is_the_model_e_c(self):
    b = budgets_lib.resolve(None, tiny_vit(e_c=0.3), IMAGE)
    self.assertEqual((b.train, b.eval), ((0.3,), (0.3,)))
    b = budgets_lib.resolve({"e_c": None}, tiny_vit(e_c=0.3), IMAGE)
    self.assertEqual(b.train, (None,))

  def test_grid_eval_and_iso_flops(self):
    b = budgets_lib.resolve({"train_e_c_grid": (0.25, 0.5), "iso_flops": True,
                         "eval_e_c": (None, 0.25)}, tiny_vit(), IMAGE)
    self.assertEqual(b.train, (0.25, 0.5))
    self.assertEqual(b.eval, (None, 0.25))
    self.assertEqual(b.routed, (0.25,))
    mean = (b.gflops[0.25] + b.gflops[0.5]) / 2
    self.assertAlmostEqual(b.step_scale, b.dense_gflops / mean)
    self.assertEqual(b.num_routing_maps, 8)

  @parameterized.parameters((tiny_vit, IMAGE, "vit"),
                            (tiny_vivit, CLIP, "vivit"))
  def test_gflops_of_either_model(self, make, shape, kind):
    module = make()
    self.assertEqual(budgets_lib.flops_config(module, shape)[0], kind)
    lo, mid, dense = (budgets_lib.gflops(module, shape, e)
                      for e in (0.125, 0.5, None))
    self.assertLess(lo, mid)
    self.assertLess(mid, dense)
    # Every token on expert 1: the nested model of width D/4.
    self.assertBetween(budgets_lib.gflops(module, shape, (0., 1., 0., 0.)),
                       lo, mid)
    # A GFLOPs budget becomes the e_c that meets it (EPR rounds the buckets
    # of these few tokens down: a bit below 0.5).
    b = budgets_lib.resolve({"gflops": mid}, module, shape)
    self.assertBetween(b.train[0], 0.4, 0.5)
    self.assertLessEqual(b.gflops[b.train[0]], mid * 1.0001)

  def test_vivit_matches_flops_module(self):
    module = vivit.SpaceTimeViViT(num_classes=400)
    self.assertAlmostEqual(budgets_lib.gflops(module, (32, 224, 224, 3), None),
                           flops.vivit_gflops(), places=6)

  def test_wrong_shape_or_model(self):
    with self.assertRaisesRegex(ValueError, r"must be \(H, W, C\) for a vit"):
      budgets_lib.gflops(tiny_vit(), CLIP, 0.5)
    with self.assertRaisesRegex(TypeError, "not a MoNE ViT or ViViT"):
      budgets_lib.gflops(object(), IMAGE, 0.5)


class NestedTest(absltest.TestCase):
  """MatViT-style joint training of the nested models."""

  def test_resolve(self):
    b = budgets_lib.resolve({"nested": True}, tiny_vit(), IMAGE)
    self.assertTrue(b.joint)
    self.assertEqual(b.train, budgets_lib.one_hot(4))
    self.assertEqual(b.eval, b.train)
    self.assertEqual([budgets_lib.name(e) for e in b.eval],
                     ["expert0", "expert1", "expert2", "expert3"])
    self.assertEqual(b.step_budgets(0, 7), b.train)
    costs = [b.gflops[e] for e in b.eval]
    self.assertEqual(costs, sorted(costs))
    self.assertAlmostEqual(costs[-1], b.gflops[(0., 0., 0., 1.)])
    self.assertAlmostEqual(costs[-1],
                           budgets_lib.gflops(tiny_vit(), IMAGE, 1.0))
    b = budgets_lib.resolve({"nested": True, "eval_e_c": (0.5,)}, tiny_vit(),
                        IMAGE)
    self.assertEqual(b.eval, budgets_lib.one_hot(4) + (0.5,))
    b = budgets_lib.resolve({"e_c": 0.5}, tiny_vit(), IMAGE)
    self.assertEqual((b.joint, b.step_budgets(0, 3)), (False, (0.5,)))

  def test_check(self):
    budgets_lib.check_config({"nested": False, "e_c": 0.5})
    with self.assertRaisesRegex(ValueError, r"sets \['e_c', 'nested'\]"):
      budgets_lib.check_config({"nested": True, "e_c": 0.5})
    with self.assertRaisesRegex(ValueError, "nested=1 must be True or False"):
      budgets_lib.check_config({"nested": 1})
    with self.assertRaisesRegex(ValueError, "iso_flops does not apply"):
      budgets_lib.check_config({"nested": True, "iso_flops": True})

  def test_joint_loss_is_the_sum_of_the_losses(self):
    loss_of = {b: float(i + 1) ** 2
               for i, b in enumerate(budgets_lib.one_hot(4))}
    total, losses, aux = budgets_lib.joint_loss(
        lambda b: (loss_of[b], 10 * loss_of[b]), budgets_lib.nested_budgets(4))
    self.assertEqual(total, 1 + 4 + 9 + 16)
    self.assertEqual(losses, {"expert0": 1, "expert1": 4, "expert2": 9,
                              "expert3": 16})
    self.assertEqual(aux["expert2"], 90)
    self.assertEqual(
        budgets_lib.joint_loss(lambda b: (b, None), (0.5,))[0], 0.5)
    with self.assertRaisesRegex(ValueError, "at least one budget"):
      budgets_lib.joint_loss(lambda b: (b, None), ())

  def test_joint_loss_of_the_nested_vits(self):
    # The MatViT loss of the real model: the sum of the losses of the four
    # width-d_i models, each the model with every token on expert i.
    model = tiny_vit(head_zeroinit=False)
    x = jax.random.normal(jax.random.PRNGKey(1), (4,) + IMAGE)
    labels = jax.nn.one_hot(jnp.arange(4), 10)
    params = model.init(jax.random.PRNGKey(0), x)["params"]

    def loss_at(params, budget):
      logits, _ = model.apply({"params": params}, x, e_c=budget)
      return -jnp.mean(jnp.sum(labels * jax.nn.log_softmax(logits), -1))

    total, losses, _ = jax.jit(lambda p: budgets_lib.joint_loss(
        lambda b: (loss_at(p, b), None), budgets_lib.nested_budgets(4)))(params)
    each = jax.jit(lambda p: [loss_at(p, b) for b in
                              budgets_lib.nested_budgets(4)])(params)
    np.testing.assert_allclose([losses[f"expert{i}"] for i in range(4)], each,
                               rtol=1e-5)
    np.testing.assert_allclose(total, sum(each), rtol=1e-5)
    self.assertLen(set(np.round(each, 5)), 4)  # Four distinct models.


class ParseTest(absltest.TestCase):

  def test_command_line_budgets(self):
    self.assertEqual(budgets_lib.parse_e_c(["0.2", "dense", "None", "1"]),
                     (0.2, None, None, 1.0))
    with self.assertRaisesRegex(ValueError, r"--e_c value 'abc' is not a "
                                r"number or 'dense'"):
      budgets_lib.parse_e_c(["0.3", "abc"])

if __name__ == "__main__":
  absltest.main()
