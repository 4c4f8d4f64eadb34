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

"""Fixes for running Big Vision (0127fb6b) on the current JAX / TF stack.

1. `big_vision.utils.sync()` builds a `jax.sharding.PositionalSharding`, which
   JAX 0.7 removed: Big Vision's train loop trains, evaluates and checkpoints,
   then dies on its last line. `sync` below does the same over a
   `NamedSharding`.
2. AugReg's RandAugment (`pp_modules=[..., "archive.randaug"]`) imports
   `tensorflow_addons`, which does not import under TF 2.21 / Keras 3. When it
   is missing or broken, a `tensorflow_addons.image` module made of
   `mone_plugin.big_vision.tfa_image` stands in for it.
3. Project trainers (e.g. SigLIP's `trainers/proj/image_text/siglip.py`) call
   `jax.tree_map` and `jax.tree_leaves`, which JAX 0.6 removed: they become
   `jax.tree.map` and `jax.tree.leaves` again.
4. The SigLIP trainer calls `jax.distributed.initialize()` unconditionally,
   which raises on a single host without a cluster (Big Vision's own
   `train.py` calls it only under `$BV_JAX_INIT`): without a cluster to
   join, it logs and returns.
5. `BigVisionMetricWriter.step_end` writes a step's row on a thread that reads
   `self.step` when it runs, not when the step ended: a row written after the
   next `step_start` carries a later step than the one measured (seen: step
   2's row, alpha 0 before the router's first update, labelled step 8), and
   `close()` writes the last row a second time. `step_end` below binds the row
   at the call and clears it once written.

`apply()` installs all five into the running process; `patches/generate.py`
turns the code of 1, 2 and 5 into `git am`-able patches for a Big Vision
checkout (3 and 4 concern Big Vision's own SigLIP trainer, which the patches
leave as it is).
"""

import importlib
import json
import sys
import types

from absl import logging
import big_vision.utils as u
import jax
import jax.numpy as jnp
import numpy as np
from tensorflow.io import gfile


def sync():
  """Syncs hosts and empties async computation queue."""
  mesh = jax.sharding.Mesh(np.asarray(jax.devices()), ("devices",))
  x = u.reshard(np.ones(jax.device_count()), jax.sharding.NamedSharding(
      mesh, jax.sharding.PartitionSpec("devices")))
  jax.jit(jnp.sum)(x).block_until_ready()


def step_end(self):
  """Ends a training step, write its full row."""
  if not self.step_metrics: return
  # The row is made now: the thread may write it after the next step_start.
  row = json.dumps({"step": self.step, **self.step_metrics}) + "\n"
  self.step_metrics = {}  # Written once: close() ends with step_end() too.

  def write():
    with gfile.GFile(self.fname, "a") as f:
      f.write(row)

  if self.fname:
    self.pool.apply(lambda: None)  # Potentially wait for past writes.
    self.pool.apply_async(write)


def _tensorflow_addons_works():
  try:
    importlib.import_module("tensorflow_addons.image")
    return True
  except Exception:  # pylint: disable=broad-exception-caught
    # Under Keras 3 the import fails with all kinds of errors, not only
    # ImportError.
    for name in [m for m in sys.modules if m.startswith("tensorflow_addons")]:
      del sys.modules[name]
    return False


def install_tfa_image():
  """Makes `from tensorflow_addons import image` work when TFA is broken."""
  if _tensorflow_addons_works():
    return
  from mone_plugin.big_vision import tfa_image  # pylint: disable=g-import-not-at-top
  tfa = types.ModuleType("tensorflow_addons")
  tfa.__doc__ = "Stand-in for the archived TFA; see mone_plugin.big_vision."
  tfa.__path__ = []
  tfa.image = tfa_image
  sys.modules["tensorflow_addons"] = tfa
  sys.modules["tensorflow_addons.image"] = tfa_image
  logging.info("tensorflow_addons does not import: using %s for RandAugment.",
               tfa_image.__name__)


def _restore_tree_aliases():
  for old, new in (("tree_map", jax.tree.map),
                   ("tree_leaves", jax.tree.leaves)):
    if not hasattr(jax, old):
      setattr(jax, old, new)


def _single_host_distributed_initialize():
  """Lets `jax.distributed.initialize()` pass when there is no cluster."""
  initialize = jax.distributed.initialize
  if getattr(initialize, "mone_single_host", False):
    return

  def initialize_or_stay_single(*args, **kwargs):
    try:
      return initialize(*args, **kwargs)
    except ValueError as e:  # No coordinator given nor detected.
      if args or kwargs or "coordinator_address" not in str(e):
        raise
      logging.info("jax.distributed.initialize(): %s Running as a single "
                   "process.", e)

  initialize_or_stay_single.mone_single_host = True
  jax.distributed.initialize = initialize_or_stay_single


def apply():
  """Installs the fixes into the running process (idempotent)."""
  if u.sync is not sync:
    u.sync = sync
  if u.BigVisionMetricWriter.step_end is not step_end:
    u.BigVisionMetricWriter.step_end = step_end
  if "tensorflow_addons.image" not in sys.modules:
    install_tfa_image()
  _restore_tree_aliases()
  _single_host_distributed_initialize()
