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

r"""Dense ViViT-FE-B/16x2 baseline on Kinetics-400 (same recipe as MoNE's).

  python -m projects.mone.main \
    --config=projects/mone/configs/kinetics400_vivit_b16x2_dense.py:init=/path/to/vit_b16 \
    --workdir=/tmp/vivit_k400
"""

from projects.mone.configs import kinetics400_mone_vivit_b16x2 as mone_config


def get_config(arg=None):
  """The MoNE config with e_c=None: the dense path, evaluated dense."""
  config = mone_config.get_config(','.join(filter(None, ['e_c=none', arg])))
  config.experiment_name = 'vivit_b16x2_kinetics400_dense'
  return config
