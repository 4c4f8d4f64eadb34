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

"""Reads a trained MoNE ViT from a Big Vision or a Scenic workdir.

`read_workdir` gives a `Checkpoint` (params, the run's config.model, what
the input pipeline says of the images); `build_model` turns it into the
`vit.Model` it trained, with Big Vision's parameter names. Checkpoints are
read as files: neither framework is imported.
"""

import dataclasses
import glob
import json
import os
import re
from typing import Any, Optional

from flax.training import checkpoints as flax_checkpoints
import jax
import jax.numpy as jnp
import ml_collections as mlc
import numpy as np

from mone_plugin import vit
from mone_plugin.serving import forward


@dataclasses.dataclass
class Checkpoint:
  """A trained MoNE ViT read from a workdir."""
  framework: str  # "big_vision" or "scenic".
  params: Any
  model_cfg: dict
  num_classes: int
  image_size: Optional[int]  # From the input pipeline's config, if any.
  class_names: Optional[list]
  value_range: tuple = (-1.0, 1.0)


def _class_names(tfds_name, data_dir):
  """TFDS label names from `data_dir/name/<version>/label.labels.txt`."""
  if not tfds_name or not data_dir:
    return None
  name = tfds_name.split(":")[0]
  files = sorted(glob.glob(os.path.join(
      os.path.expanduser(data_dir), name, "*", "label.labels.txt")))
  if not files:
    return None
  with open(files[-1]) as f:
    return [line.strip() for line in f if line.strip()]


def _read_big_vision(workdir):
  """params and config of a Big Vision MoNE run (tensorstore checkpoint)."""
  from jax.experimental.array_serialization import serialization  # pylint: disable=g-import-not-at-top
  with open(os.path.join(workdir, "config.json")) as f:
    config = json.load(f)
  with open(os.path.join(workdir, "checkpoint.bv-LAST")) as f:
    ckpt = os.path.join(workdir, f"checkpoint.bv-{f.read().strip()}")
  names = sorted(n for n in os.listdir(ckpt) if n.startswith("params~"))
  if not names:
    raise forward.ExportError(f"{ckpt} holds no params (params~* arrays).")
  cpu = jax.sharding.SingleDeviceSharding(jax.local_devices(backend="cpu")[0])
  specs = [serialization.get_tensorstore_spec(os.path.join(ckpt, n))
           for n in names]
  arrays = serialization.run_deserialization([cpu] * len(names), specs)
  params = {}
  for name, value in zip(names, arrays):
    *path, leaf = name.split("~")[1:]
    node = params
    for key in path:
      node = node.setdefault(key, {})
    node[leaf] = np.asarray(value)
  model_cfg = dict(config.get("model") or {})
  data = (config.get("input") or {}).get("data") or {}
  pp = (config.get("input") or {}).get("pp", "")
  size = re.search(r"resize\((\d+)\)", pp)
  return Checkpoint(
      framework="big_vision", params=params, model_cfg=model_cfg,
      num_classes=config.get("num_classes"),
      image_size=int(size.group(1)) if size else None,
      class_names=_class_names(data.get("name"), data.get("data_dir")))


# Scenic ViT config fields (`projects/mone` with Scenic's vocabulary) -> the
# core ViT's; such checkpoints carry Scenic's parameter names.
_SCENIC_FIELDS = {"hidden_size": "width", "num_layers": "depth",
                  "mlp_dim": "mlp_dim", "num_heads": "num_heads",
                  "representation_size": "rep_size"}


def _from_scenic_vocabulary(params, cfg):
  """Scenic-named params and config.model -> the core ViT's (same model)."""
  classifier = cfg.get("classifier", "gap")
  posemb = cfg.get("positional_embedding", "learned_1d")
  if classifier not in ("gap", "0") or posemb != "learned_1d":
    raise forward.ExportError(
        f"Scenic classifier={classifier!r}, positional_embedding={posemb!r}: "
        "export supports Scenic-vocabulary models with classifier 'gap' or "
        "'0' and learned_1d position embeddings (or Big Vision's vocabulary).")
  model_cfg = {core: cfg[k] for k, core in _SCENIC_FIELDS.items()
               if cfg.get(k) is not None}
  model_cfg.update(pool_type=classifier, posemb="learn",
                   patch_size=tuple(cfg["patches"]["size"]))
  model_cfg.update({k: cfg[k] for k in ("num_experts", "capacity_method",
                                        "router_type") if k in cfg})
  params = dict(params)
  enc = dict(params.pop("Transformer"))
  params["pos_embedding"] = enc.pop("posembed_input")["pos_embedding"]
  params["Transformer"] = enc
  if "output_projection" in params:
    params["head"] = params.pop("output_projection")
  return params, model_cfg


def _read_scenic(workdir, config):
  """params of a Scenic run (flax checkpoint_<step>) and its config."""
  path = os.path.join(workdir, "config.json")
  if config is None and os.path.exists(path):
    with open(path) as f:
      config = mlc.ConfigDict(json.load(f))
  if config is None:
    raise forward.ExportError(
        f"{workdir} is a Scenic workdir without config.json: pass the run's "
        "config with --config=projects/mone/configs/<file>.py.")
  state = flax_checkpoints.restore_checkpoint(workdir, None)
  if not state or "params" not in state:
    raise forward.ExportError(
        f"{workdir}: the Scenic checkpoint holds no params.")
  params = jax.tree.map(np.asarray, state["params"])
  model_cfg = dict(config.get("model") or {})
  if "hidden_size" in model_cfg:
    params, model_cfg = _from_scenic_vocabulary(params, model_cfg)
  ds = config.get("dataset_configs") or {}
  return Checkpoint(
      framework="scenic", params=params, model_cfg=model_cfg,
      num_classes=None, image_size=ds.get("image_size"),
      class_names=_class_names(ds.get("tfds_name"), ds.get("data_dir")))


def read_workdir(workdir, config=None):
  """The `Checkpoint` of a Big Vision or Scenic MoNE workdir."""
  if not os.path.isdir(workdir):
    raise forward.ExportError(f"--workdir={workdir} is not a directory.")
  try:
    if os.path.exists(os.path.join(workdir, "checkpoint.bv-LAST")):
      return _read_big_vision(workdir)
    if glob.glob(os.path.join(workdir, "checkpoint_*")):
      return _read_scenic(workdir, config)
  except forward.ExportError:
    raise
  except Exception as e:  # pylint: disable=broad-exception-caught
    raise forward.ExportError(
        f"--workdir={workdir}: its checkpoint cannot be read "
        f"({type(e).__name__}: {str(e).splitlines()[0]}).") from None
  raise forward.ExportError(
      f"--workdir={workdir} holds no MoNE checkpoint: expected a Big Vision "
      "run (config.json, checkpoint.bv-LAST) or a Scenic one "
      "(checkpoint_<step>).")


def build_model(ckpt):
  """The `vit.Model` of a checkpoint and its input shape (H, W, C).

  Sizes come from the params (width, depth, heads, classes, patch, channels,
  learned position embedding); the rest (pool type, capacity method, ...)
  from the run's config.model.
  """
  p = ckpt.params
  cfg = dict(ckpt.model_cfg)
  kw = vit.decode_variant(cfg.pop("variant", None))
  kw.update({k: v for k, v in cfg.items() if k in vit.model_options()})
  ph, pw, channels, width = p["embedding"]["kernel"].shape
  enc = p["Transformer"]
  scan = "encoderblock" in enc
  block = enc["encoderblock"] if scan else enc["encoderblock_0"]
  q = block["MultiHeadDotProductAttention_0"]["query"]["kernel"]
  mlp_dim = block["MlpBlock_0"]["Dense_0"]["kernel"].shape[-1]
  depth = (q.shape[0] if scan else
           len([k for k in enc if k.startswith("encoderblock_")]))
  if "router" not in enc:
    raise forward.ExportError(
        "The checkpoint has no Transformer/router: not a MoNE model.")
  kw.update(patch_size=(ph, pw), width=width, depth=depth, mlp_dim=mlp_dim,
            num_heads=q.shape[-2], scan=scan,
            num_experts=enc["router"]["kernel"].shape[-1],
            num_classes=p["head"]["kernel"].shape[-1] if "head" in p else None)
  if "pos_embedding" in p:
    n = p["pos_embedding"].shape[1]
    side = int(round(np.sqrt(n)))
    if side * side != n:
      raise forward.ExportError(
          f"pos_embedding has {n} tokens, not a square grid.")
    image_size = (side * ph, side * pw)
  elif ckpt.image_size:
    image_size = (int(ckpt.image_size),) * 2
  else:
    raise forward.ExportError(
        "The input size is unknown (no learned pos_embedding, no resize in "
        "the config): pass --image_size.")
  kw.pop("dropout", None)
  model = vit.Model(**kw)
  shape = (*image_size, channels)
  expected = jax.eval_shape(lambda: model.init(
      jax.random.PRNGKey(0), jnp.zeros((1, *shape))))["params"]
  got = jax.tree.map(lambda x: x.shape, p)
  want = jax.tree.map(lambda x: x.shape, expected)
  if got != want:
    raise forward.ExportError(
        "The checkpoint's params do not match the MoNE ViT its config "
        f"describes ({kw}).")
  return model, shape


