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
import numpy as np

from mone_plugin import flops


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


def iso_flops_scale(config, arg, *, num_frames, image_size, num_classes,
                    channels=3):
  """How much longer MoNE trains to cost the dense ViViT's training FLOPs.

  The paper always fine-tunes video models isoFLOPs: dense GFLOPs over MoNE's
  (with `e_c_grid`, the mean cost of its budgets). 1 for the dense baseline or
  with `iso_flops=false`. (`config.mone.iso_flops` is Big Vision's way; Scenic
  configs set their steps or epochs themselves, so the config shows them.)

  Args:
    config: the config, with its model set (ViViT-FE fields).
    arg: the parsed config argument (`e_c`, `e_c_grid`, `iso_flops`).
    num_frames: frames per clip.
    image_size: frame height and width.
    num_classes: classes of the head.
    channels: channels of a frame.
  """
  grid = [float(v) for v in filter(None, arg.e_c_grid.split('/'))]
  budgets = grid or [arg.e_c]
  if not arg.iso_flops or None in budgets:
    return 1.0
  m = config.model
  kw = dict(num_frames=num_frames, image_size=image_size,
            patch_size=m.patches.size[0], tubelet_size=m.patches.size[2],
            width=m.hidden_size,
            spatial_depth=m.spatial_transformer.num_layers,
            temporal_depth=m.temporal_transformer.num_layers,
            mlp_dim=m.spatial_transformer.mlp_dim,
            temporal_mlp_dim=m.temporal_transformer.mlp_dim,
            num_heads=m.spatial_transformer.num_heads,
            num_classes=num_classes, classifier=m.classifier,
            channels=channels)
  cost = np.mean([flops.vivit_gflops(e_c=e, **kw) for e in budgets])
  return flops.vivit_gflops(e_c=None, **kw) / float(cost)
