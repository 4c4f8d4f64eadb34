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

"""Checks of what a run loads or is about to save: no silent wrong weights.

`verify(params, expected)` checks a loaded parameter tree against the tree the
model expects (arrays or `jax.ShapeDtypeStruct`s): every parameter present,
with its shape, all finite; the error names the first bad parameter (and the
checkpoint's step).

`check_chunks(path)` checks a tensorstore (zarr) checkpoint directory, as
Big Vision and `jax.experimental.array_serialization` write them: zarr reads
a missing chunk file as the fill value (zeros), so a checkpoint that lost a
file would otherwise load without complaint.

`check_finite(values, step)` stops a training run at the first non-finite
loss or norm, before it writes a checkpoint or a summary of it.
"""

import json
import math
import os

import jax
import numpy as np


class CheckpointError(ValueError):
  """A checkpoint that does not fit the model, or is damaged."""


class NonFiniteError(FloatingPointError):
  """Training produced a non-finite loss or parameters."""


def _named_leaves(tree):
  leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
  def name(k):
    for attr in ("key", "name", "idx"):
      if hasattr(k, attr):
        return str(getattr(k, attr))
    return str(k)
  return {"/".join(name(k) for k in path): leaf for path, leaf in leaves}


def _where(source, step):
  where = f"Checkpoint {source}" if source else "The checkpoint"
  return where + (f" (step {step})" if step is not None else "")


def verify(params, expected, *, source=None, step=None):
  """Raises CheckpointError unless `params` fits `expected` and is finite.

  Args:
    params: The loaded parameter tree (arrays).
    expected: The model's parameter tree (arrays or ShapeDtypeStructs).
    source: The checkpoint's path, for the message.
    step: The checkpoint's step, for the message.

  Raises:
    CheckpointError: naming the first parameter that is missing, has another
      shape or holds NaN/inf, and how many others are bad too.
  """
  got, want = _named_leaves(params), _named_leaves(expected)
  problems = []
  for name, spec in want.items():
    if name not in got:
      problems.append(f"parameter {name} is missing")
    elif tuple(np.shape(got[name])) != tuple(spec.shape):
      problems.append(f"parameter {name}: {tuple(np.shape(got[name]))} in "
                      f"the checkpoint, {tuple(spec.shape)} in the model")
  if problems:
    raise CheckpointError(
        f"{_where(source, step)} does not fit the model: {problems[0]}"
        + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
        + ".")
  for name in want:
    value = np.asarray(jax.device_get(got[name]))
    if value.dtype.kind in "fc" and not np.isfinite(value).all():
      bad = int(value.size - np.isfinite(value).sum())
      raise CheckpointError(
          f"{_where(source, step)} is damaged: parameter {name} holds {bad} "
          f"NaN/inf value(s) of {value.size}.")


def _zarr_chunks(array_dir, meta):
  """The chunk files a zarr v2 array must have."""
  shape, chunks = meta["shape"], meta["chunks"]
  sep = meta.get("dimension_separator", ".")
  counts = [max(1, math.ceil(s / c)) for s, c in zip(shape, chunks)]
  if not shape:
    return [os.path.join(array_dir, "0")]
  return [os.path.join(array_dir, sep.join(map(str, idx)))
          for idx in np.ndindex(*counts)]


def check_chunks(path, names=None):
  """Raises CheckpointError if an array of checkpoint dir `path` lacks a file.

  Args:
    path: A tensorstore checkpoint directory (one zarr array per entry).
    names: The entries to check (default: all of them).

  Raises:
    CheckpointError: naming the first array with a missing chunk file.
  """
  if "://" in path:  # An object store (gs://...): not checked here.
    return
  names = sorted(os.listdir(path)) if names is None else names
  for name in names:
    array_dir = os.path.join(path, name)
    meta_file = os.path.join(array_dir, ".zarray")
    if not os.path.exists(meta_file):
      raise CheckpointError(
          f"Checkpoint {path} is damaged: array {name} has no {meta_file}.")
    with open(meta_file) as f:
      meta = json.load(f)
    for chunk in _zarr_chunks(array_dir, meta):
      if not os.path.exists(chunk):
        raise CheckpointError(
            f"Checkpoint {path} is damaged: {chunk} is missing (it would "
            "load as zeros).")


def check_finite(values, step, what="training"):
  """Raises NonFiniteError if any of `values` (name -> scalar) is NaN/inf.

  Args:
    values: Scalars measured at `step` (loss, norms of parameters, ...).
    step: The step they belong to.
    what: What stops, for the message.
  """
  for name, value in values.items():
    value = np.asarray(value)
    if not np.isfinite(value).all():
      raise NonFiniteError(
          f"{name} is {value.tolist()} at step {step}: {what} stopped "
          "before writing a checkpoint or summary of it; the last good "
          "checkpoint is kept.")


def resolve_last(path):
  """(directory, step) of a `<path>-LAST` pointer, else (path, None).

  Big Vision's `save_checkpoint_ts` writes `<path>-<step:09d>[-tmp]` dirs and
  names the last complete one in the file `<path>-LAST`.

  Args:
    path: A checkpoint path, with or without a `-LAST` pointer next to it.
  """
  last = f"{path}-LAST"
  if not os.path.exists(last):
    return path, None
  with open(last) as f:
    name = f.read().strip()
  return f"{path}-{name}", int(name.split("-")[0])
