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

"""A run's workdir: one trainer at a time, the same config on resume.

Both trainers call `claim` before they write anything:

  - a lock (`fcntl.flock` on `<workdir>/.lock`) refuses a second trainer on a
    running workdir; the OS releases it when its process dies, so a killed
    run never leaves it stuck;
  - resuming a workdir whose saved `config.json` differs is refused with a
    diff of what changed, before `config.json` is touched;
  - orphaned temporary checkpoints (of a run killed while writing one) are
    removed.

`after_checkpoint(step)` is a test hook: with `$MONE_TEST_KILL_AFTER_CHECKPOINT
= k`, the trainer kills itself (SIGKILL) right after checkpoint k is written,
so that interruption tests stop a run at a known point instead of racing it.
"""

import fcntl
import glob
import json
import math
import os
import shutil
import signal

from absl import logging

CONFIG_NAME = "config.json"
LOCK_NAME = ".lock"
KILL_AFTER_CHECKPOINT = "MONE_TEST_KILL_AFTER_CHECKPOINT"

# Locks held by this process: realpath of the workdir -> open lock file.
_HELD = {}


class WorkdirInUseError(RuntimeError):
  """Another live process holds the workdir's lock."""


def lock(workdir):
  """Takes the workdir's lock for this process (re-entrant within it)."""
  os.makedirs(workdir, exist_ok=True)
  key = os.path.realpath(workdir)
  if key in _HELD:
    return
  path = os.path.join(workdir, LOCK_NAME)
  f = open(path, "a+")  # pylint: disable=consider-using-with
  try:
    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
  except BlockingIOError:
    f.seek(0)
    owner = f.read().strip() or "unknown"
    f.close()
    raise WorkdirInUseError(
        f"Workdir {workdir} is in use by another trainer (pid {owner}); "
        "wait for it to end, or give another --workdir.") from None
  f.seek(0)
  f.truncate()
  f.write(str(os.getpid()))
  f.flush()
  _HELD[key] = f


def release(workdir):
  """Releases the lock `lock(workdir)` took (no-op when not held)."""
  f = _HELD.pop(os.path.realpath(workdir), None)
  if f is not None:
    fcntl.flock(f, fcntl.LOCK_UN)
    f.close()


def _flat(tree, prefix=""):
  if isinstance(tree, dict):
    out = {}
    for k, v in tree.items():
      out.update(_flat(v, f"{prefix}{k}."))
    return out
  return {prefix[:-1]: tree}


def _same(a, b):
  if isinstance(a, float) and isinstance(b, float):
    return a == b or (math.isnan(a) and math.isnan(b))
  return a == b


def config_diff(old, new):
  """Lines `key: old -> new` for every leaf that differs (dicts of JSON)."""
  old, new = _flat(old), _flat(new)
  absent = "(absent)"
  return [f"{k}: {json.dumps(old.get(k, absent))} -> "
          f"{json.dumps(new.get(k, absent))}"
          for k in sorted(set(old) | set(new))
          if k not in old or k not in new or not _same(old[k], new[k])]


def check_config(workdir, config_json, resuming):
  """Refuses to resume a workdir whose saved config differs from this one.

  Args:
    workdir: The run's directory.
    config_json: This run's config as JSON text.
    resuming: Whether the workdir holds a checkpoint this run would resume;
      a workdir without one has nothing to protect.

  Raises:
    ValueError: naming each changed key with its old and new value.
  """
  path = os.path.join(workdir, CONFIG_NAME)
  if not resuming or not os.path.exists(path):
    return
  with open(path) as f:
    saved = json.load(f)
  diff = config_diff(saved, json.loads(config_json))
  if diff:
    raise ValueError(
        f"Workdir {workdir} holds a run with another config; refusing to "
        "resume it (nothing was written). Changed:\n  " + "\n  ".join(diff)
        + f"\nGive another --workdir, or the config saved in {path}.")


def write_config(workdir, config_json):
  """Writes `config.json` atomically."""
  path = os.path.join(workdir, CONFIG_NAME)
  with open(path + ".tmp", "w") as f:
    f.write(config_json)
  os.replace(path + ".tmp", path)


def remove_orphans(workdir, pattern, keep=()):
  """Removes `workdir/<pattern>` matches (files or dirs) not named in `keep`."""
  removed = []
  for path in sorted(glob.glob(os.path.join(workdir, pattern))):
    if os.path.basename(path) in keep:
      continue
    logging.info("Removing orphaned %s", path)
    if os.path.isdir(path):
      shutil.rmtree(path, ignore_errors=True)
    else:
      os.remove(path)
    removed.append(path)
  return removed


def claim(workdir, config_json, resuming, orphans=(), keep=()):
  """Lock, config check, orphan cleanup, then `config.json`; see module doc.

  Args:
    workdir: The run's directory (created if needed).
    config_json: This run's config as JSON text.
    resuming: Whether the run resumes a checkpoint of the workdir.
    orphans: Glob patterns (relative to the workdir) of temporary checkpoint
      files or directories that no finished checkpoint refers to.
    keep: Base names matching `orphans` that are still in use.
  """
  if "://" in workdir:  # An object store (gs://...): no flock there.
    logging.warning("Workdir %s is not local: not locked or checked.",
                    workdir)
    return
  lock(workdir)
  check_config(workdir, config_json, resuming)
  for pattern in orphans:
    remove_orphans(workdir, pattern, keep)
  write_config(workdir, config_json)


def after_checkpoint(step):
  """Test hook: SIGKILLs this process if $MONE_TEST_KILL_AFTER_CHECKPOINT=step.

  Args:
    step: The step of the checkpoint that is now completely on disk.
  """
  want = os.environ.get(KILL_AFTER_CHECKPOINT)
  if want and int(want) == int(step):
    logging.warning("%s=%s: killing this process.", KILL_AFTER_CHECKPOINT,
                    want)
    logging.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def kill_requested(step):
  """Whether `after_checkpoint(step)` will kill (to wait for the write)."""
  want = os.environ.get(KILL_AFTER_CHECKPOINT)
  return bool(want) and int(want) == int(step)
