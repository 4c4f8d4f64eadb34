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

"""Tests of reading workdirs and building the model they trained."""

import os
import tempfile

from absl.testing import absltest

from mone_plugin.serving import forward
from mone_plugin.serving import test_util
from mone_plugin.serving import workdirs


class WorkdirsTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.tmp = self.enterContext(tempfile.TemporaryDirectory())

  def test_bad_workdirs(self):
    with self.assertRaisesRegex(forward.ExportError, "is not a directory"):
      workdirs.read_workdir(os.path.join(self.tmp, "missing"))
    empty = os.path.join(self.tmp, "empty")
    os.makedirs(empty, exist_ok=True)
    with self.assertRaisesRegex(forward.ExportError,
                                "holds no MoNE checkpoint.*Big Vision.*Scenic"):
      workdirs.read_workdir(empty)
    broken = os.path.join(self.tmp, "broken")
    os.makedirs(broken, exist_ok=True)
    with open(os.path.join(broken, "checkpoint.bv-LAST"), "w") as f:
      f.write("000000005")
    with open(os.path.join(broken, "config.json"), "w") as f:
      f.write("{}")
    with self.assertRaisesRegex(forward.ExportError,
                                "its checkpoint cannot be read"):
      workdirs.read_workdir(broken)

  def test_build_model_takes_sizes_from_the_params(self):
    ckpt = test_util.tiny_checkpoint()
    # A config that says otherwise (and options the model does not take).
    ckpt.model_cfg.update(variant="B/16", dropout=0.1, unknown=1)
    model, shape = workdirs.build_model(ckpt)
    self.assertEqual(shape, test_util.IMAGE_SHAPE)
    self.assertEqual((model.width, model.depth, model.mlp_dim,
                      model.num_heads, tuple(model.patch_size),
                      model.num_experts, model.num_classes),
                     (64, 2, 128, 4, (4, 4), 4, 10))
    del ckpt.params["Transformer"]["router"]
    with self.assertRaisesRegex(forward.ExportError, "not a MoNE model"):
      workdirs.build_model(ckpt)


if __name__ == "__main__":
  absltest.main()
