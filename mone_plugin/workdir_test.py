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

"""Tests of the workdir lock, the config check on resume and orphan cleanup."""

import json
import os
import signal
import subprocess
import sys
import tempfile

from absl.testing import absltest

from mone_plugin import workdir as workdir_lib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOLD = ("import sys, time; from mone_plugin import workdir as workdir_lib; "
        "workdir_lib.lock(sys.argv[1]); print('locked', flush=True); "
        "time.sleep(120)")


def tempdir(test):
  tmp = tempfile.TemporaryDirectory()
  test.addCleanup(tmp.cleanup)
  return tmp.name


class LockTest(absltest.TestCase):

  def test_second_trainer_refused_until_the_first_dies(self):
    d = tempdir(self)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, d], stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": REPO})
    self.addCleanup(holder.kill)
    self.assertEqual(holder.stdout.readline().strip(), "locked")
    with self.assertRaisesRegex(
        workdir_lib.WorkdirInUseError,
        rf"Workdir {d} is in use by another trainer \(pid {holder.pid}\)"):
      workdir_lib.lock(d)
    holder.send_signal(signal.SIGKILL)  # Dies without releasing anything.
    holder.wait()
    workdir_lib.lock(d)
    workdir_lib.lock(d)  # Re-entrant within a process.
    workdir_lib.release(d)


class ConfigTest(absltest.TestCase):

  def test_changed_config_refused_with_diff_before_writing(self):
    d = tempdir(self)
    old = json.dumps({"model": {"width": 32, "depth": 2}, "lr": 0.1})
    workdir_lib.claim(d, old, resuming=False)
    new = json.dumps({"model": {"width": 64, "depth": 2}, "seed": 1,
                      "lr": 0.1})
    with self.assertRaisesRegex(
        ValueError, r"another config; refusing to resume it \(nothing was "
        r"written\). Changed:\n  model.width: 32 -> 64\n  seed: \"\(absent\)"
        r"\" -> 1\n"):
      workdir_lib.claim(d, new, resuming=True)
    with open(os.path.join(d, workdir_lib.CONFIG_NAME)) as f:
      self.assertEqual(f.read(), old)
    workdir_lib.claim(d, old, resuming=True)  # The same config resumes.
    workdir_lib.claim(d, new, resuming=False)  # Nothing to resume: a new run.
    with open(os.path.join(d, workdir_lib.CONFIG_NAME)) as f:
      self.assertEqual(f.read(), new)
    workdir_lib.release(d)


class OrphansTest(absltest.TestCase):

  def test_removes_unreferenced_temporary_checkpoints(self):
    d = tempdir(self)
    for name in ("000000005-tmp/a~b", "000000010-tmp", "000000020"):
      os.makedirs(os.path.join(d, "checkpoint.bv-" + name))
    open(os.path.join(d, "checkpoint.bv-CUR"), "w").close()
    workdir_lib.claim(d, "{}", resuming=True,
                  orphans=("checkpoint.bv-*-tmp", "checkpoint.bv-CUR"),
                  keep=("checkpoint.bv-000000010-tmp",))
    self.assertEqual(
        sorted(os.listdir(d)),
        [workdir_lib.LOCK_NAME, "checkpoint.bv-000000010-tmp",
         "checkpoint.bv-000000020", "config.json"])
    workdir_lib.release(d)


class KillHookTest(absltest.TestCase):

  def test_kills_only_at_the_requested_checkpoint(self):
    code = ("from mone_plugin import workdir as workdir_lib\n"
            "for step in (2, 4, 6):\n"
            "  workdir_lib.after_checkpoint(step)\n"
            "  print(step, flush=True)\n")
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True,
        check=False, env={**os.environ, "PYTHONPATH": REPO,
                          workdir_lib.KILL_AFTER_CHECKPOINT: "4"})
    self.assertEqual(proc.returncode, -signal.SIGKILL)
    self.assertEqual(proc.stdout.split(), ["2"])


if __name__ == "__main__":
  absltest.main()
