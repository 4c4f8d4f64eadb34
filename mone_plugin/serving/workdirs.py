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
model it trained (`models`: Big Vision's or Scenic's ViT layout, or ViViT),
with the parameter names it was trained with. Checkpoints are read as files:
neither framework is imported.
"""

import dataclasses
import glob
import json
import os
import re
from typing import Any, Optional

import flax
from flax.training import checkpoints as flax_checkpoints
import jax
import jax.numpy as jnp
import ml_collections as mlc
import numpy as np

from mone_plugin import vit
from mone_plugin import vivit
from mone_plugin.serving import forward
from mone_plugin.serving import models


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
  activation: str = "softmax"  # Of the "probabilities" output.


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
      class_names=_class_names(data.get("name"), data.get("data_dir")),
      activation=_activation(config))


def _activation(config, default_loss=""):
  """"sigmoid" for multi-label runs (sigmoid losses), else "softmax".

  Big Vision's trainer defaults to `sigmoid_xent`; Scenic's multi-label
  models are named so.
  """
  name = str(config.get("model_name") or "")
  loss = str(config.get("loss") or default_loss)
  return "sigmoid" if "multilabel" in name or "sigmoid" in loss else "softmax"


def _read_scenic(workdir, config):
  """params of a Scenic run (flax checkpoint_<step>) and its config.

  The config is `config` (`--config`) if given, else the workdir's
  `config.json` (which `projects.mone.main` writes).
  """
  path = os.path.join(workdir, "config.json")
  if config is None and os.path.exists(path):
    with open(path) as f:
      config = mlc.ConfigDict(json.load(f))
  if config is None:
    raise forward.ExportError(
        f"{workdir} is a Scenic workdir without config.json: pass the run's "
        "config with --config=projects/mone/configs/<file>.py, or train it "
        "with `python -m projects.mone.main`, which writes config.json into "
        "the workdir.")
  state = flax_checkpoints.restore_checkpoint(workdir, None)
  if not state or "params" not in state:
    raise forward.ExportError(
        f"{workdir}: the Scenic checkpoint holds no params.")
  params = jax.tree.map(np.asarray, state["params"])
  model_cfg = dict(config.get("model") or {})
  model_cfg["dtype_mm"] = model_cfg.get(
      "dtype_mm", config.get("model_dtype_str", "float32"))
  ds = config.get("dataset_configs") or {}
  return Checkpoint(
      framework="scenic", params=params, model_cfg=model_cfg,
      num_classes=None, image_size=ds.get("image_size"),
      class_names=_class_names(ds.get("tfds_name"), ds.get("data_dir")),
      activation=_activation(config))


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


def _encoder_sizes(enc):
  """depth, mlp_dim, num_heads, num_experts, scan of a MoNE encoder's params."""
  if "router" not in enc:
    raise forward.ExportError(
        "The checkpoint has no Transformer/router: not a MoNE model.")
  scan = "encoderblock" in enc
  block = enc["encoderblock"] if scan else enc["encoderblock_0"]
  q = block["MultiHeadDotProductAttention_0"]["query"]["kernel"]
  return dict(
      depth=(q.shape[0] if scan else
             len([k for k in enc if k.startswith("encoderblock_")])),
      mlp_dim=block["MlpBlock_0"]["Dense_0"]["kernel"].shape[-1],
      num_heads=q.shape[-2], num_experts=enc["router"]["kernel"].shape[-1],
      scan=scan)


def _side(n, what):
  side = int(round(np.sqrt(n)))
  if side * side != n:
    raise forward.ExportError(f"{what} has {n} tokens, not a square grid.")
  return side


def _image_size(ckpt):
  if ckpt.image_size:
    return (int(ckpt.image_size),) * 2
  raise forward.ExportError(
      "The input size is unknown (no learned position embedding, no image "
      "size in the config): pass --image_size.")


def _mone_options(cfg):
  return {k: cfg[k] for k in ("capacity_method", "router_type", "dtype_mm")
          if cfg.get(k) is not None}


def _head(p, name):
  return p[name]["kernel"].shape[-1] if name in p else None


def _big_vision_vit(ckpt):
  """Big Vision's layout: `mone_plugin.vit.Model`, every posemb and pool."""
  p = ckpt.params
  cfg = dict(ckpt.model_cfg)
  kw = vit.decode_variant(cfg.pop("variant", None))
  kw.update({k: v for k, v in cfg.items() if k in vit.model_options()})
  ph, pw, channels, width = p["embedding"]["kernel"].shape
  kw.update(patch_size=(ph, pw), width=width,
            num_classes=_head(p, "head"), **_encoder_sizes(p["Transformer"]))
  if "pre_logits" in p:
    kw["rep_size"] = p["pre_logits"]["kernel"].shape[-1]
  if "pos_embedding" in p:
    side = _side(p["pos_embedding"].shape[1], "pos_embedding")
    image_size = (side * ph, side * pw)
  else:  # sincos2d.
    image_size = _image_size(ckpt)
  kw.pop("dropout", None)
  kw.pop("e_c", None)
  return vit.Model(**kw), (*image_size, channels)


def _scenic_vit(ckpt):
  """Scenic's layout (`MoneScenicViT`): `models.ScenicViT`."""
  p = ckpt.params
  cfg = ckpt.model_cfg
  classifier = cfg.get("classifier", "gap")
  posemb = cfg.get("positional_embedding", "learned_1d")
  if classifier not in models.SCENIC_CLASSIFIERS:
    raise forward.ExportError(
        f"Scenic classifier={classifier!r} is unknown; allowed: "
        f"{sorted(models.SCENIC_CLASSIFIERS)}.")
  if posemb not in models.SCENIC_POSITIONAL_EMBEDDINGS:
    raise forward.ExportError(
        f"Scenic positional_embedding={posemb!r} is unknown; allowed: "
        f"{list(models.SCENIC_POSITIONAL_EMBEDDINGS)}.")
  ph, pw, channels, width = p["embedding"]["kernel"].shape
  enc = p["Transformer"]
  sizes = _encoder_sizes(enc)
  if sizes.pop("scan"):
    raise forward.ExportError("A Scenic-layout ViT with scanned blocks.")
  if "posembed_input" in enc:
    prefix = int(classifier == "token")
    n = enc["posembed_input"]["pos_embedding"].shape[1] - prefix
    side = _side(n, "Transformer/posembed_input")
    image_size = (side * ph, side * pw)
  else:
    image_size = _image_size(ckpt)
  rep = p["pre_logits"]["kernel"].shape[-1] if "pre_logits" in p else False
  model = models.ScenicViT(
      num_classes=_head(p, "output_projection"), patch_size=(ph, pw),
      width=width, classifier=classifier, positional_embedding=posemb,
      pool_type=models.SCENIC_CLASSIFIERS[classifier], rep_size=rep,
      **sizes, **_mone_options(cfg))
  return model, (*image_size, channels)


def _vivit(ckpt):
  """MoNE ViViT (Scenic's `SpaceTimeViViT` layout), clips [T, H, W, C]."""
  p = ckpt.params
  cfg = ckpt.model_cfg
  classifier = cfg.get("classifier", "token")
  if classifier not in vivit.CLASSIFIERS:
    raise forward.ExportError(f"ViViT classifier={classifier!r} is unknown; "
                              f"allowed: {vivit.CLASSIFIERS}.")
  ft, fh, fw, channels, width = p["embedding"]["kernel"].shape
  spatial = _encoder_sizes(p["SpatialTransformer"])
  temporal = _encoder_sizes(p["TemporalTransformer"])
  prefix = int(classifier == "token")
  n = p["SpatialTransformer"]["posembed_input"]["pos_embedding"].shape[1]
  side = _side(n - prefix, "SpatialTransformer/posembed_input")
  t = p["TemporalTransformer"]["posembed_input"]["pos_embedding"].shape[1]
  rep = p["pre_logits"]["kernel"].shape[-1] if "pre_logits" in p else None
  # No `temporal_encoding_config`: its kernel initialiser (Scenic's) is of
  # no use at inference.
  model = vivit.SpaceTimeViViT(
      spatial_mlp_dim=spatial["mlp_dim"],
      spatial_num_layers=spatial["depth"],
      spatial_num_heads=spatial["num_heads"],
      temporal_mlp_dim=temporal["mlp_dim"],
      temporal_num_layers=temporal["depth"],
      temporal_num_heads=temporal["num_heads"],
      num_classes=_head(p, "output_projection"),
      patches=flax.core.FrozenDict(size=(fh, fw, ft)), hidden_size=width,
      representation_size=rep, classifier=classifier,
      num_experts=spatial["num_experts"], **_mone_options(cfg))
  return model, ((t - prefix) * ft, side * fh, side * fw, channels)


def build_model(ckpt):
  """The model of a checkpoint and its input shape ((T,) H, W, C).

  Sizes come from the params (width, depth, heads, classes, patch, channels,
  learned position embedding); the rest (pool type or classifier, position
  embedding, capacity method, ...) from the run's config.model. The layout
  picks the model (see `models`): ViViT (`SpatialTransformer`), Scenic's ViT
  (Scenic's vocabulary in config.model) or Big Vision's.
  """
  p = ckpt.params
  if "embedding" not in p or "Transformer" not in p and (
      "SpatialTransformer" not in p):
    raise forward.ExportError(
        "The checkpoint is not a ViT or ViViT (no embedding, Transformer).")
  if "SpatialTransformer" in p:
    model, shape = _vivit(ckpt)
  elif "hidden_size" in ckpt.model_cfg or "output_projection" in p:
    model, shape = _scenic_vit(ckpt)
  else:
    model, shape = _big_vision_vit(ckpt)
  expected = jax.eval_shape(lambda: model.init(
      jax.random.PRNGKey(0), jnp.zeros((1, *shape))))["params"]
  got = jax.tree.map(lambda x: x.shape, p)
  want = jax.tree.map(lambda x: x.shape, expected)
  if got != want:
    raise forward.ExportError(
        f"The checkpoint's params do not match the {type(model).__name__} "
        f"its config describes ({model}).")
  return model, shape
