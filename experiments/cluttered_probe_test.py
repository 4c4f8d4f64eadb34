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

"""Tests of the cluttered Fashion-MNIST probes' arguments and summaries."""

import json
import os
import subprocess
import tempfile
from unittest import mock

from absl.testing import absltest

from experiments import cluttered_probe
from experiments import recipe_probe


class ClutteredProbeTest(absltest.TestCase):

  def test_every_probe_is_dense_on_the_validation_split(self):
    for name in cluttered_probe.PROBES:
      args = cluttered_probe.args_of(name).split(",")
      self.assertEqual(args[:2], ["dense", "val"], name)
      self.assertIn(f"lr={cluttered_probe.PROBES[name]['lr']}", args)
    args = cluttered_probe.args_of("w128_lr0.003_3000steps").split(",")
    for arg in ("width=128", "heads=4", "mlp=512", "steps=3000"):
      self.assertIn(arg, args)
    for stage in cluttered_probe.STAGES:  # A name means one setting.
      for name, settings in stage:
        self.assertEqual(cluttered_probe.PROBES[name], settings, name)

  def test_later_stages_run_at_the_winning_rate_only(self):
    tmp = tempfile.mkdtemp()

    def done(name, val):
      with open(os.path.join(tmp, f"cluttered_r1_{name}.json"), "w") as f:
        json.dump({"final_val_prec_1": val}, f)

    first = [n for stage in cluttered_probe.STAGES[:2] for n, _ in stage]
    self.assertEqual(cluttered_probe.next_probes(tmp), first)
    done("w64_lr0.003_1500steps", 0.59)
    done("w64_lr0.003_3000steps", 0.66)
    self.assertNotIn("w64_lr0.003_1500steps", cluttered_probe.next_probes(tmp))
    # Stage 2 unfinished: the later stages wait for its winner.
    self.assertFalse(any("w128" in n for n in cluttered_probe.next_probes(tmp)))
    done("w64_lr0.006_3000steps", 0.64)
    todo = cluttered_probe.next_probes(tmp)
    self.assertIn("w128_lr0.003_3000steps", todo)
    self.assertIn("w64_lr0.003_6000steps", todo)
    self.assertFalse([n for n in todo if "w128_lr0.006" in n])

  def test_unknown_probe_is_named(self):
    with self.assertRaisesRegex(ValueError, "probe 'w9' is unknown"):
      cluttered_probe.args_of("w9")

  def test_summary_names_the_config_and_split(self):
    tmp = tempfile.mkdtemp()
    name = "w64_lr0.0015_1500steps"

    real_run = subprocess.run

    def train(cmd, **kw):  # Writes what Big Vision's trainer would.
      if "mone_plugin.big_vision.train" not in cmd:  # uname, git, ...
        return real_run(cmd, **kw)
      self.assertIn(f"--config={cluttered_probe.CONFIG}:"
                    f"{cluttered_probe.args_of(name)}", cmd)
      workdir = cmd[-1].split("=", 1)[1]
      os.makedirs(workdir)
      with open(os.path.join(workdir, "big_vision_metrics.txt"), "w") as f:
        f.write(json.dumps({"step": 0, "gflops_dense": 0.0149}) + "\n")
        f.write(json.dumps({"step": 300, "training_loss": 1.2,
                            "val/prec@1": 0.61, "uptime": 90.0}) + "\n")

    with mock.patch.object(subprocess, "run", train):
      recipe_probe.run_probe(
          name, tmp, os.path.join(tmp, "wd"),
          args=cluttered_probe.args_of(name), config=cluttered_probe.CONFIG,
          prefix=cluttered_probe.PREFIX, split=cluttered_probe.SPLIT)
    with open(os.path.join(tmp, f"cluttered_r1_{name}.json")) as f:
      summary = json.load(f)
    self.assertEqual(summary["config"], "configs/mone_cluttered.py")
    self.assertEqual(summary["eval_val"], [dict(step=300, prec_1=0.61)])
    self.assertEqual(summary["gflops"], 0.0149)  # From the trainer's log.
    self.assertStartsWith(summary["probe"], "cluttered r1 tuning")
    self.assertIn("evaluated on validation", summary["split"])


if __name__ == "__main__":
  absltest.main()
