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

# pylint: disable=line-too-long
r"""Scenic's own ImageNet ViT config, as MoNE: `model_name` and budget only.

Loads `scenic/projects/baselines/configs/imagenet/<config>.py` and changes
`model_name` (`vit_multilabel_classification` ->
`mone_vit_multilabel_classification`: the same sigmoid loss, metrics and
parameter names) and the budget, nothing else; Scenic's
`classification_trainer` trains it at that budget. (Command-line overrides
cannot add `config.model.e_c` or `config.mone`, which Scenic's file lacks.)

  python -m projects.mone.main \
    --config=projects/mone/configs/scenic_imagenet_vit.py:config=imagenet_augreg_vit_config,e_c=0.5 \
    --workdir=/tmp/mone_vit_i1k

Arguments: `config` (the Scenic config module, default
`imagenet_augreg_vit_config`), `e_c` (0.5; `none`: the dense path) or
`gflops` (GFLOPs per image: the e_c of that cost; replaces `e_c`).
"""

import importlib

import ml_collections

from projects.mone.configs import common

SCENIC_CONFIGS = 'scenic.projects.baselines.configs.imagenet.'


def get_config(arg=None):
  """Returns Scenic's config with the MoNE model at the budget asked."""
  arg = common.parse_arg(arg, config='imagenet_augreg_vit_config', e_c=0.5,
                         gflops=0.0)
  config = importlib.import_module(SCENIC_CONFIGS + arg.config).get_config()
  if not config.model_name.startswith('vit_'):
    raise ValueError(f'config={arg.config!r} is not a ViT config (its '
                     f'model_name is {config.model_name!r}).')
  config.model_name = 'mone_' + config.model_name
  if arg.gflops:
    config.mone = ml_collections.ConfigDict({'gflops': arg.gflops})
  else:
    config.model.e_c = arg.e_c
  return config
