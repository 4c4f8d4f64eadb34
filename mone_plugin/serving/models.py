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

"""The MoNE models the export serves, none of them importing a framework.

  - `mone_plugin.vit.Model`: Big Vision's parameter layout (Big Vision runs
    and Scenic runs in Big Vision's vocabulary), every `posemb` and
    `pool_type` it has;
  - `ScenicViT` (`mone_plugin.scenic_vit`): the MoNE ViT of Scenic's
    vocabulary, the model of `projects/mone/model.py` `MoneScenicViT`
    (Scenic's parameter names, every Scenic `classifier` and
    `positional_embedding`), without Scenic;
  - `mone_plugin.vivit.SpaceTimeViViT`: MoNE ViViT (clips [B, T, H, W, C]).

Each is called as `model.apply(variables, x, e_c=...)` -> (logits, out), with
`out["experts"]` (not on the dense path); `token_grid` gives the shape of the
expert map of one example.
"""

from mone_plugin import scenic_vit
from mone_plugin import vivit

ScenicViT = scenic_vit.ScenicViT
SCENIC_CLASSIFIERS = scenic_vit.SCENIC_CLASSIFIERS
SCENIC_POSITIONAL_EMBEDDINGS = scenic_vit.SCENIC_POSITIONAL_EMBEDDINGS


def token_grid(model, input_shape):
  """The expert map of one example: (h, w) for images, (T', h, w) for clips."""
  if isinstance(model, vivit.SpaceTimeViViT):
    fh, fw, ft = tuple(vivit._get(model.patches, "size", (16, 16, 2)))  # pylint: disable=protected-access
    t, hh, ww = input_shape[:3]
    return (t // ft, hh // fh, ww // fw)
  ph, pw = model.patch_size
  return (input_shape[0] // ph, input_shape[1] // pw)
