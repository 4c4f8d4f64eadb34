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
"""Smoke test of the benchmark's plumbing (no timing is asserted)."""

from absl.testing import absltest

from experiments import benchmark
from mone_plugin import flops
from mone_plugin import frameworks


class BenchmarkTest(absltest.TestCase):

  def test_rows_and_table(self):
    rows, epr_ms = benchmark.run("mu/16", 64, 2, [0.3], reps=1, train=True,
                                 inference_opt=True)
    self.assertEqual([r["e_c"] for r in rows], [None, 0.3])
    dense, mone = rows
    self.assertEqual(dense["flop_ratio"], 1.0)
    want = flops.vit_gflops(image_size=64, patch_size=16, width=32, depth=1,
                            mlp_dim=128, num_heads=2, num_classes=1000)
    self.assertAlmostEqual(dense["gflops"], want)
    self.assertGreater(mone["flop_ratio"], 1.0)
    for r in rows:
      self.assertGreater(r["fwd_ms"], 0)
      self.assertAlmostEqual(r["efficiency"],
                             r["speedup"] / r["flop_ratio"])
      self.assertGreater(r["train_ms"], 0)
      self.assertGreater(r["opt_fwd_ms"], 0)
      self.assertAlmostEqual(r["opt_efficiency"],
                             r["opt_speedup"] / r["flop_ratio"])
    self.assertGreater(epr_ms, 0)
    if frameworks.available("big_vision"):  # Big Vision's ViT: the reference.
      bv_train = dense["big_vision_train_ms"]
      self.assertGreater(bv_train, 0)
      for r in rows:
        self.assertAlmostEqual(r["train_efficiency_vs_big_vision"],
                               bv_train / r["train_ms"] / r["flop_ratio"])
    table = benchmark.format_table(rows, epr_ms, "header")
    self.assertIn("inference path", table)
    self.assertIn("dense", table)
    self.assertIn(" 0.30", table)
    self.assertIn("router + EPR", table)

  def test_bfloat16_rows(self):
    rows, _ = benchmark.run("mu/16", 32, 2, [0.4], reps=1, train=True,
                            inference_opt=True, dtype="bfloat16")
    for r in rows:
      self.assertGreater(r["fwd_ms"], 0)
      self.assertGreater(r["opt_fwd_ms"], 0)
      self.assertGreater(r["train_ms"], 0)
    rows, _ = benchmark.run_vivit("mu/16", 32, 2, 1, [0.4], reps=1,
                                  inference_opt=True, dtype="bfloat16")
    self.assertGreater(rows[1]["opt_fwd_ms"], 0)

  def test_vivit_rows(self):
    rows, epr_ms = benchmark.run_vivit("mu/16", 32, 4, 1, [0.3], reps=1)
    self.assertEqual([r["e_c"] for r in rows], [None, 0.3])
    want = flops.vivit_gflops(num_frames=4, image_size=32, patch_size=16,
                              width=32, spatial_depth=1, temporal_depth=1,
                              mlp_dim=128, num_heads=2, num_classes=400)
    self.assertAlmostEqual(rows[0]["gflops"], want)
    self.assertGreater(rows[1]["flop_ratio"], 1.0)
    self.assertNotIn("train_ms", rows[1])
    self.assertGreater(epr_ms, 0)


if __name__ == "__main__":
  absltest.main()
