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

"""The zero-shot evaluator's budget reaches the MoNE image tower only."""

import importlib
import unittest

from mone_plugin import frameworks

if not frameworks.available("big_vision"):
  raise unittest.SkipTest("Big Vision not found: set $BIG_VISION_DIR or "
                          "clone it to ~/frameworks/big_vision.")

# pylint: disable=g-import-not-at-top,g-bad-import-order
from absl.testing import absltest
from big_vision.evaluators.proj.image_text import discriminative_classifier as bv_dc
from big_vision.models.proj.image_text import two_towers
import jax
import numpy as np

import mone_plugin.big_vision  # pylint: disable=unused-import
from mone_plugin.big_vision import discriminative_classifier
# pylint: enable=g-import-not-at-top,g-bad-import-order


class AtBudgetTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.model = two_towers.Model(
        image_model="proj.mone.vit",
        image=dict(patch_size=(4, 4), width=16, depth=1, mlp_dim=32,
                   num_heads=1, num_experts=4, e_c=0.5, head_zeroinit=False),
        text=dict(width=16, depth=1, mlp_dim=32, num_heads=1, vocab_size=8),
        out_dim=8)
    rng = np.random.default_rng(0)
    cls.image = rng.normal(size=(2, 16, 16, 1)).astype(np.float32)
    cls.text = rng.integers(0, 8, size=(2, 4)).astype(np.int32)
    params = cls.model.init(jax.random.PRNGKey(0), cls.image, cls.text)
    cls.train_state = {"params": params["params"]}

  def predict(self, train_state, batch):
    # As Big Vision's SigLIP trainer defines it (`eval_logits_fn`).
    return self.model.apply({"params": train_state["params"]},
                            batch.get("image"), batch.get("labels"))

  def embeddings(self, e_c=None, budget=True):
    fn = discriminative_classifier.at_budget(self.predict, e_c) if budget else (
        self.predict)
    zimg, ztxt, _ = fn(self.train_state, {"image": self.image,
                                          "labels": self.text})
    return np.asarray(zimg), np.asarray(ztxt)

  def test_configured_budget_is_the_default(self):
    configured, text = self.embeddings(budget=False)
    at_05, text_05 = self.embeddings(0.5)
    np.testing.assert_allclose(at_05, configured, atol=1e-6)
    np.testing.assert_array_equal(text_05, text)

  def test_other_budgets_change_the_image_tower_only(self):
    configured, text = self.embeddings(budget=False)
    for e_c in (0.3, 1.0, None):
      zimg, ztxt = self.embeddings(e_c)
      self.assertGreater(np.abs(zimg - configured).max(), 1e-4, e_c)
      np.testing.assert_array_equal(ztxt, text)

  def test_jit_traces_under_the_budget(self):
    # The evaluator jits predict_fn: the budget must hold at trace time.
    fn = jax.jit(discriminative_classifier.at_budget(self.predict, 1.0))
    zimg = fn(self.train_state, {"image": self.image})[0]
    np.testing.assert_allclose(zimg, self.embeddings(1.0)[0], atol=1e-5)

  def test_registered_under_big_vision_evaluators(self):
    module = importlib.import_module(
        "big_vision.evaluators.proj.mone.discriminative_classifier")
    self.assertIs(module, discriminative_classifier)
    self.assertTrue(issubclass(module.Evaluator, bv_dc.Evaluator))
    self.assertEqual(module.API, "jit")


if __name__ == "__main__":
  absltest.main()
