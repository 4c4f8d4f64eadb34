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

"""MoNE ViT as a Big Vision model: `config.model_name = "proj.mone.vit"`.

`Model` is the core `mone_plugin.vit.Model`: every option of Big Vision's
`models/vit.py` plus `num_experts`, `e_c` (None: the dense ViT),
`capacity_method` and `router_type`; `__call__(image, *, train=False,
e_c=...)` returns `(logits, out)` with each token's expert in
`out["experts"]` and Big Vision's keys (`stem`, `with_posemb`, `encoder` with
per-block outputs, scanned or not, and `pre_ln` when not scanned, as Big
Vision's; `encoded`, `head_input`, `pre_logits(_2d)`, `logits(_2d)`). `load` reads Big Vision ViT checkpoints (e.g. the AugReg
`.npz` files) as well as MoNE ones.

The module stands in for `big_vision.models.vit`: the helpers Big Vision code
imports from it (`decode_variant` with every variant, `resample_posemb`,
`fix_old_checkpoints`, `pyloop_to_scan`, `scan_to_pyloop`, `get_posemb`,
`posemb_sincos_2d`, `MAPHead`, `MlpBlock`, `Encoder1DBlock`, `Encoder`,
`VANITY_NAMES`) are Big Vision's own.
"""

import re

from absl import logging
from big_vision import utils
from big_vision.models import common
from big_vision.models import vit as bv_vit
import numpy as np

from mone_plugin import checkpoints
from mone_plugin import vit

# Big Vision's own, for code that imports them from `models.vit`.
decode_variant = bv_vit.decode_variant
resample_posemb = bv_vit.resample_posemb
fix_old_checkpoints = bv_vit.fix_old_checkpoints
pyloop_to_scan = bv_vit.pyloop_to_scan
scan_to_pyloop = bv_vit.scan_to_pyloop
get_posemb = bv_vit.get_posemb
posemb_sincos_2d = bv_vit.posemb_sincos_2d
MAPHead = bv_vit.MAPHead
MlpBlock = bv_vit.MlpBlock
Encoder1DBlock = bv_vit.Encoder1DBlock
Encoder = bv_vit.Encoder
VANITY_NAMES = bv_vit.VANITY_NAMES

_Model = vit._Model  # pylint: disable=protected-access


def Model(num_classes=None, *, variant=None, **kw):  # pylint: disable=invalid-name
  """MoNE ViT; `variant` is any of Big Vision's (e.g. "g-opt/14", "e/14")."""
  return _Model(num_classes, **{**decode_variant(variant), **kw})


# What MoNE adds to Big Vision's ViT parameters.
MONE_PARAMS = ("Transformer/router/.*", "Transformer/alpha")


def load(init_params, init_file, model_cfg, dont_load=()):  # pylint: disable=invalid-name
  """Loads a Big Vision ViT or a MoNE checkpoint into the MoNE ViT.

  Big Vision's own ViT fixes apply (old layouts, scan checkpoints, position
  embeddings resampled to the model's grid). Parameters the file lacks but
  MoNE has (the router and alpha) keep their value in `init_params`.

  Args:
    init_params: the freshly initialised MoNE parameters (their values are
      used for `dont_load` and MoNE-only parameters; their shapes are checked).
    init_file: checkpoint path (`.npz` or a Big Vision tensorstore
      checkpoint) or one of Big Vision ViT's `VANITY_NAMES`.
    model_cfg: the `config.model` of the run (its `scan` matters).
    dont_load: regexes of parameters to keep at their init value.

  Returns:
    The parameter tree, in the structure of `init_params`.

  Raises:
    ValueError: the checkpoint's head has another number of classes than
      the model's (unless `dont_load` drops it), a parameter's shape differs
      between file and model, or it
      holds NaN/inf (`mone_plugin.checkpoints.verify` names the first such
      parameter), or the trees differ in parameters other than the MoNE-only
      ones.
  """
  init_file = bv_vit.VANITY_NAMES.get(init_file, init_file)
  raw = utils.load_params(init_file)
  restored = bv_vit.fix_old_checkpoints(raw)
  # Its convert_pre_linen renumbers siblings `<name>_<i>` from 0, which
  # renames Mixture-of-Depths routers (router_1, router_3: named by their
  # block) to router_0, router_1: keep them as saved.
  routers = {k: v for k, v in raw.get("Transformer", {}).items()
             if re.fullmatch(r"router_\d+", k)}
  if routers:
    restored["Transformer"] = {
        **{k: v for k, v in restored["Transformer"].items()
           if not re.fullmatch(r"router_\d+", k)}, **routers}
  # Scan (stacked layers) and python-loop checkpoints load into either mode.
  scanned = "encoderblock" in restored.get("Transformer", {})
  if (model_cfg or {}).get("scan") and not scanned:
    restored = bv_vit.pyloop_to_scan(restored)
  elif not (model_cfg or {}).get("scan") and scanned:
    restored = bv_vit.scan_to_pyloop(restored)

  dont_load = list(dont_load)
  if init_params is not None:
    names = [n for n, _ in utils.tree_flatten_with_names(restored)[0]]
    for pattern in MONE_PARAMS:
      if not any(re.fullmatch(pattern, n) for n in names):
        logging.info("MoNE: %s not in %s, keeping its init value.",
                     pattern, init_file)
        dont_load.append(pattern)
  params = common.merge_params(restored, init_params, dont_load)

  if init_params is not None and "pos_embedding" in init_params:
    params["pos_embedding"] = bv_vit.resample_posemb(
        old=params["pos_embedding"], new=init_params["pos_embedding"])
  if init_params is not None:
    _check_head(params, init_params, init_file)
    checkpoints.verify(params, init_params, source=init_file)
  return params


def _check_head(params, init_params, init_file):
  """A head of another number of classes is an error unless it is dropped."""
  got = np.shape(params.get("head", {}).get("kernel"))
  want = np.shape(init_params.get("head", {}).get("kernel"))
  if got and want and got[-1] != want[-1]:
    raise ValueError(
        f"{init_file} has a head of {got[-1]} classes (head/kernel {got}), "
        f"the model {want[-1]} (head/kernel {want}): drop it to train a new "
        "head, with config.model_load = dict(dont_load=['head/kernel', "
        "'head/bias']).")
