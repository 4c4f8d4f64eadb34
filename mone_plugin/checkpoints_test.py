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

"""Tests of the checkpoint checks: fit, finite, complete on disk."""

import os
import tempfile

from absl.testing import absltest
import jax
from jax.experimental.array_serialization import serialization
import jax.numpy as jnp
import numpy as np

from mone_plugin import checkpoints

EXPECTED = {"Transformer": {"kernel": jax.ShapeDtypeStruct((4, 8), jnp.float32),
                            "bias": jax.ShapeDtypeStruct((8,), jnp.float32)},
            "count": jax.ShapeDtypeStruct((), jnp.int32)}


def params(**overrides):
  p = {"Transformer": {"kernel": np.ones((4, 8), np.float32),
                       "bias": np.zeros((8,), np.float32)},
       "count": np.int32(3)}
  p["Transformer"].update(overrides)
  return p


class VerifyTest(absltest.TestCase):

  def test_good_tree_passes(self):
    checkpoints.verify(params(), EXPECTED)
    checkpoints.verify(jax.tree.map(jnp.asarray, params()), EXPECTED)

  def test_missing_parameter_named(self):
    p = params()
    del p["Transformer"]["bias"]
    with self.assertRaisesRegex(
        checkpoints.CheckpointError,
        r"Checkpoint /c \(step 7\) does not fit the model: parameter "
        r"Transformer/bias is missing\.$"):
      checkpoints.verify(p, EXPECTED, source="/c", step=7)

  def test_first_shape_mismatch_named(self):
    p = params(kernel=np.ones((4, 9)), bias=np.ones((9,)))
    with self.assertRaisesRegex(
        checkpoints.CheckpointError,
        r"parameter Transformer/bias: \(9,\) in the checkpoint, \(8,\) in the "
        r"model \(and 1 more\)"):
      checkpoints.verify(p, EXPECTED)

  def test_nan_or_inf_named(self):
    for bad in (np.nan, np.inf):
      kernel = np.ones((4, 8), np.float32)
      kernel[1, 2] = bad
      with self.assertRaisesRegex(
          checkpoints.CheckpointError,
          r"The checkpoint \(step 5\) is damaged: parameter "
          r"Transformer/kernel holds 1 NaN/inf value\(s\) of 32"):
        checkpoints.verify(params(kernel=kernel), EXPECTED, step=5)


class ChunksTest(absltest.TestCase):
  """A real tensorstore checkpoint, as Big Vision writes them."""

  def setUp(self):
    super().setUp()
    tmp = tempfile.TemporaryDirectory()
    self.addCleanup(tmp.cleanup)
    self.dir = os.path.join(tmp.name, "checkpoint.bv-000000004")
    names = ["params~kernel", "params~bias", "count"]
    values = [jnp.zeros((4, 8)), jnp.ones((3,)), jnp.int32(4)]
    manager = serialization.GlobalAsyncCheckpointManager()
    manager.serialize_with_paths(
        values, [os.path.join(self.dir, n) for n in names],
        on_commit_callback=lambda: None)
    manager.wait_until_finished()
    with open(os.path.join(tmp.name, "checkpoint.bv-LAST"), "w") as f:
      f.write("000000004")
    self.base = os.path.join(tmp.name, "checkpoint.bv")

  def test_complete_checkpoint_passes_and_resolves(self):
    self.assertEqual(checkpoints.resolve_last(self.base), (self.dir, 4))
    self.assertEqual(checkpoints.resolve_last(self.dir), (self.dir, None))
    checkpoints.check_chunks(self.dir)

  def test_deleted_chunk_refused(self):
    chunk = os.path.join(self.dir, "params~kernel", "0.0")
    os.remove(chunk)
    with self.assertRaisesRegex(
        checkpoints.CheckpointError,
        f"{chunk} is missing \\(it would load as zeros\\)"):
      checkpoints.check_chunks(self.dir)

  def test_deleted_scalar_chunk_and_metadata_refused(self):
    os.remove(os.path.join(self.dir, "count", "0"))
    with self.assertRaisesRegex(checkpoints.CheckpointError, "count/0"):
      checkpoints.check_chunks(self.dir)
    os.remove(os.path.join(self.dir, "params~bias", ".zarray"))
    with self.assertRaisesRegex(checkpoints.CheckpointError,
                                "array params~bias has no"):
      checkpoints.check_chunks(self.dir, names=["params~bias"])


class FiniteTest(absltest.TestCase):

  def test_non_finite_stops_with_step(self):
    checkpoints.check_finite({"loss": 1.0, "l2_params": np.float32(3)}, 4)
    with self.assertRaisesRegex(
        checkpoints.NonFiniteError,
        r"l2_params is nan at step 4: training stopped before writing"):
      checkpoints.check_finite({"loss": 1.0, "l2_params": np.nan}, 4)


if __name__ == "__main__":
  absltest.main()
