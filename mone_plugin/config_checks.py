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

"""Checks of a run's config, shared by both trainers, before anything is built.

Each adapter names where its framework keeps each value (`keys`: a concept of
`CONCEPTS` -> a dotted config path, or a tuple of them) and calls `check`;
the error names the config key, its value and what is allowed. The budget
keys (`config.mone`) are checked by `mone_plugin/budgets.py`.
"""

import math
import numbers
from typing import Any, Mapping, Sequence, Tuple, Union

# What `check` knows how to validate.
CONCEPTS = ("batch_size", "steps", "epochs", "lr", "width", "num_heads",
            "num_experts")
Paths = Union[str, Tuple[str, ...]]


def get(config, dotted):
  """`config.a.b` for "a.b", or None when any part is absent."""
  for key in dotted.split("."):
    if config is None or not hasattr(config, "get"):
      return None
    config = config.get(key)
  return config


def _is_int(value):
  return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value):
  return isinstance(value, numbers.Real) and not isinstance(value, bool)


def require(config, keys: Sequence[str],
            one_of: Sequence[Sequence[str]] = ()):
  """Raises naming every missing key (and group of alternatives).

  Args:
    config: The run's config.
    keys: Dotted paths the config must set.
    one_of: Groups of dotted paths of which at least one must be set.
  """
  missing = [k for k in keys if get(config, k) is None]
  missing += [" or ".join(group) for group in one_of
              if all(get(config, k) is None for k in group)]
  if missing:
    raise ValueError(f"Config is missing {missing}; a run needs all of "
                     f"{list(keys)}" + "".join(
                         f" and one of {list(g)}" for g in one_of) + ".")


def _positive_int(key, value):
  if not _is_int(value) or value <= 0:
    raise ValueError(f"config.{key}={value!r} is not allowed: give a "
                     "positive integer.")


def _positive_real(key, value):
  if not _is_real(value) or not math.isfinite(value) or value <= 0:
    raise ValueError(f"config.{key}={value!r} is not allowed: give a "
                     "positive finite number.")


def check(config, keys: Mapping[str, Paths]):
  """Checks the values of `keys` that `config` sets; see the module doc.

  Args:
    config: The run's config (a ConfigDict or dict).
    keys: Concept (from `CONCEPTS`) -> dotted path(s) of it in `config`.

  Raises:
    ValueError: naming the first bad key, its value and what is allowed:
      batch size, steps, experts, width and heads positive integers, epochs
      and the learning rate positive finite numbers, the width divisible by
      the number of heads and by 2^(E-1) (the smallest expert's width).
  """
  unknown = sorted(set(keys) - set(CONCEPTS))
  if unknown:
    raise ValueError(f"Unknown concepts {unknown}; allowed: {CONCEPTS}.")
  values = {}
  for concept, paths in keys.items():
    for path in (paths,) if isinstance(paths, str) else paths:
      value = get(config, path)
      if value is None:
        continue
      if concept == "epochs" or concept == "lr":
        _positive_real(path, value)
      else:
        _positive_int(path, value)
      values.setdefault(concept, []).append((path, value))
  for width_key, width in values.get("width", ()):
    for heads_key, heads in values.get("num_heads", ()):
      if width % heads:
        raise ValueError(
            f"config.{width_key}={width} is not divisible by config."
            f"{heads_key}={heads}: attention splits the width into heads.")
    for experts_key, experts in values.get("num_experts", ()):
      smallest = 2 ** (experts - 1)
      if width % smallest:
        raise ValueError(
            f"config.{width_key}={width} is not divisible by 2^(E-1)="
            f"{smallest} (config.{experts_key}={experts}): the smallest "
            "nested expert has width/2^(E-1) channels.")


def check_all(config: Any, keys: Mapping[str, Paths],
              required: Sequence[str] = (),
              one_of: Sequence[Sequence[str]] = ()):
  """`require` then `check`."""
  require(config, required, one_of)
  check(config, keys)
