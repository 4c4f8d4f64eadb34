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

"""Tests of budget resolution: e_c, GFLOPs and latency targets -> e_c."""

from absl.testing import absltest
import numpy as np

from mone_plugin import flops
from mone_plugin.serving import forward
from mone_plugin.serving import resolve
from mone_plugin.serving import test_util
from mone_plugin.serving import workdirs


class ResolveTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.ckpt = test_util.tiny_checkpoint()
    cls.model, cls.shape = workdirs.build_model(cls.ckpt)

  def test_gflops_budget_round_trips(self):
    target = flops.vit_gflops(image_size=32, patch_size=4, width=64, depth=2,
                              mlp_dim=128, num_heads=4, num_classes=10,
                              e_c=0.5, channels=1, continuous=True)
    e_c, = resolve.e_c_for_gflops(self.model, self.shape, [target])
    self.assertAlmostEqual(e_c, 0.5, places=6)
    with self.assertRaisesRegex(forward.ExportError,
                                r"infeasible.*reaches \[[0-9.]+, [0-9.]+\]"):
      resolve.e_c_for_gflops(self.model, self.shape, [100.0])

  def test_infeasible_e_c_names_the_range(self):
    for e_c in (0.05, 1.5):
      with self.assertRaisesRegex(forward.ExportError,
                                  r"e_c=.* infeasible.*\[0.125, 1\]"):
        resolve.check_e_c(self.model, [e_c])

  def test_latency_picker_is_monotone(self):
    rng = np.random.default_rng(0)
    grid = resolve.latency_grid(4)
    # Noisy latencies that mostly grow with e_c.
    times = {e: 2.0 + 8.0 * e + rng.normal(0, 0.6) for e in grid}
    picks = [resolve.pick_e_c_for_latency(times, t)
             for t in np.linspace(min(times.values()) + 0.5, 20, 40)
             if t >= times[grid[0]]]
    self.assertEqual(picks, sorted(picks))
    self.assertEqual(picks[-1], 1.0)
    for e in picks:  # Every e_c up to the pick meets the target.
      self.assertIn(e, grid)
    with self.assertRaisesRegex(
        forward.ExportError, r"--latency_ms=0.5 is infeasible.*ms \(e_c=0.125"
        r"\) to .* ms \(e_c=1\)"):
      resolve.pick_e_c_for_latency(times, 0.5)

  def test_measured_latency_picks_from_the_grid(self):
    times = resolve.measure_latency(self.model, self.ckpt.params, self.shape,
                                    (1.0,), reps=1)
    self.assertEqual(set(times), {1.0})
    self.assertTrue(all(t > 0 for t in times.values()))
    self.assertEqual(resolve.pick_e_c_for_latency(times, 1e9), 1.0)

  def test_budgets_from_the_command_line(self):
    def budgets(**kw):
      return resolve.budgets(self.model, self.ckpt.params, self.shape, **kw)
    self.assertEqual(budgets(e_c=["0.3", "dense"]), ((0.3, None), None))
    # --gflops wins over the --e_c default.
    g = resolve.gflops(self.model, self.shape, 0.5)
    (e_c,), latency = budgets(e_c=["0.3"], gflops=[str(g)])
    self.assertAlmostEqual(e_c, 0.5, delta=0.01)
    self.assertIsNone(latency)
    with self.assertRaisesRegex(forward.ExportError,
                                r"--gflops=fast must be numbers"):
      budgets(e_c=["0.3"], gflops=["fast"])
    with self.assertRaisesRegex(forward.ExportError, "e_c"):
      budgets(e_c=["cheap"])


if __name__ == "__main__":
  absltest.main()
