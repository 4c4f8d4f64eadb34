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

"""Shared pieces of the MoNE configs."""

import os

import ml_collections


def local_data_dir() -> str:
  """Where the local TFDS data sets live: $MONE_DATA_DIR/tfds."""
  root = os.environ.get('MONE_DATA_DIR', os.path.join('~', 'mone_data'))
  return os.path.join(os.path.expanduser(root), 'tfds')


def parse_arg(arg, **defaults):
  """Parses 'key=value,key=value' (the config argument) over `defaults`.

  Values take the type of their default (bool: 'true'/'false', None: float).

  Args:
    arg: The string after ':' in `--config=file.py:arg`, or None.
    **defaults: Allowed keys and their default values.

  Returns:
    An `ml_collections.ConfigDict` with every key of `defaults`.
  """
  out = dict(defaults)
  for item in filter(None, (arg or '').split(',')):
    key, sep, value = item.partition('=')
    if not sep or key not in defaults:
      raise ValueError(f'Config argument {item!r} is not key=value with a key '
                       f'in {sorted(defaults)}.')
    default = defaults[key]
    if isinstance(default, bool):
      if value.lower() not in ('true', 'false'):
        raise ValueError(f'{key}={value!r}: expected true or false.')
      out[key] = value.lower() == 'true'
    elif value.lower() == 'none':
      out[key] = None
    elif default is None or isinstance(default, float):
      out[key] = float(value)
    else:
      out[key] = type(default)(value)
  return ml_collections.ConfigDict(out)


def cosine_lr(config, base_lr, warmup_steps):
  """Scenic's compound schedule: linear warmup then cosine decay."""
  config.lr_configs = ml_collections.ConfigDict()
  config.lr_configs.learning_rate_schedule = 'compound'
  config.lr_configs.factors = 'constant * cosine_decay * linear_warmup'
  config.lr_configs.warmup_steps = warmup_steps
  config.lr_configs.steps_per_cycle = config.num_training_steps
  config.lr_configs.base_learning_rate = base_lr
