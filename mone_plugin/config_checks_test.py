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

"""Tests of the shared config checks: each bad value named with its rule."""

from absl.testing import absltest
from absl.testing import parameterized
import ml_collections

from mone_plugin import config_checks

KEYS = dict(batch_size="input.batch_size", steps="total_steps",
            epochs="total_epochs", lr="lr", width="model.width",
            num_heads=("model.num_heads", "model.temporal.num_heads"),
            num_experts="model.num_experts")


def config(**overrides):
  c = ml_collections.ConfigDict(dict(
      input=dict(batch_size=32), total_steps=10, lr=1e-3,
      model=dict(width=64, num_heads=4, num_experts=4,
                 temporal=dict(num_heads=2))), type_safe=False)
  for dotted, value in overrides.items():
    *parents, key = dotted.split("__")
    node = c
    for p in parents:
      node = node[p]
    node[key] = value
  return c


class CheckTest(parameterized.TestCase):

  def test_good_config_passes(self):
    config_checks.check(config(), KEYS)
    config_checks.check(config(lr=None, model__width=None), KEYS)  # Unset.

  @parameterized.parameters(
      ("input__batch_size", 0, r"input.batch_size=0 .*positive integer"),
      ("input__batch_size", -8, r"input.batch_size=-8 "),
      ("input__batch_size", 2.5, r"input.batch_size=2.5 "),
      ("total_steps", 0, r"total_steps=0 .*positive integer"),
      ("lr", -1.0, r"config.lr=-1.0 .*positive finite number"),
      ("lr", float("nan"), r"config.lr=nan "),
      ("lr", "abc", r"config.lr='abc' "),
      ("model__width", 0, r"model.width=0 "),
      ("model__width", 66, r"model.width=66 is not divisible by "
       r"config.model.num_heads=4"),
      ("model__num_heads", 3, r"model.width=64 is not divisible by "
       r"config.model.num_heads=3"),
      ("model__temporal__num_heads", 3, r"model.temporal.num_heads=3"),
      ("model__num_experts", 8, r"model.width=64 is not divisible by "
       r"2\^\(E-1\)=128 \(config.model.num_experts=8\)"),
      ("model__num_experts", True, r"model.num_experts=True "),
  )
  def test_bad_value_named(self, key, value, regex):
    with self.assertRaisesRegex(ValueError, regex):
      config_checks.check(config(**{key: value}), KEYS)

  def test_missing_keys_named(self):
    c = config()
    del c["total_steps"]
    del c["lr"]
    with self.assertRaisesRegex(
        ValueError, r"Config is missing \['lr', 'total_steps or "
        r"total_epochs'\]; a run needs all of \['input.batch_size', 'lr'\] "
        r"and one of \['total_steps', 'total_epochs'\]\."):
      config_checks.check_all(c, KEYS, required=("input.batch_size", "lr"),
                              one_of=(("total_steps", "total_epochs"),))


if __name__ == "__main__":
  absltest.main()
