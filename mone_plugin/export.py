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

r"""Exports a trained MoNE ViT at the compute budgets you choose.

  python -m mone_plugin.export --workdir=DIR --out=EXPORT_DIR --e_c=0.3,0.5,1
  python -m mone_plugin.export --workdir=DIR --out=EXPORT_DIR --gflops=0.006
  python -m mone_plugin.export --workdir=DIR --out=EXPORT_DIR --latency_ms=5

`--workdir` is a Big Vision MoNE run (`mone_plugin.big_vision.train`: its
`config.json` and `checkpoint.bv`) or a Scenic one (`projects.mone.main`: its
`checkpoint_<step>` and `config.json`, or the run's `--config`), in Big
Vision's or Scenic's model vocabulary. The budget is a list of e_c (or `dense`), of GFLOPs per image
(each turned into the e_c that meets it), or one latency target in ms per
batch of `--latency_batch` images, measured here on the current JAX backend:
the largest e_c that meets it is exported and the measurement written to
`EXPORT_DIR/latency.json`. Writes to EXPORT_DIR:

  saved_model/          TF SavedModel (jax2tf, native serialization), one
                        signature per budget ("ec0.3", ...; "serving_default"
                        is the largest): uint8 images [B, H, W, C], any B ->
                        logits, probabilities, experts ([B, h, w] expert of
                        every patch, 0 = smallest).
  jax/<budget>.jax      `jax.export` (StableHLO) of f(variables, images),
                        the same outputs; `jax/params.msgpack` holds the
                        variables it takes.
  onnx/<budget>.onnx    ONNX (jax2onnx) of the same forward, weights inside:
                        input "images" uint8 [B, H, W, C], outputs logits,
                        probabilities, experts; runs in ONNX Runtime. Written
                        when jax2onnx is installed (`--onnx=auto`, the
                        default), or required (`--onnx=yes`), or not (`no`).
  manifest.json         budgets (e_c, GFLOPs, capacities, tokens per expert),
                        input size and value range, class names when known.

Every artifact runs the inference-optimised forward
(`inference.prepare_inference`: the experts' kernels sliced once, here, and
stored so; equal to the training forward within float rounding), and so does
the latency measurement.

Nothing here imports Big Vision or Scenic: checkpoints are read as files.
"""

import dataclasses
import glob
import json
import os
import re
import shutil
import time
from typing import Any, Optional, Sequence

from absl import app
from absl import flags
from absl import logging
import flax
from flax.training import checkpoints as flax_checkpoints
import jax
import jax.numpy as jnp
import ml_collections as mlc
import numpy as np

from mone_plugin import budgets as budgets_lib
from mone_plugin import capacity
from mone_plugin import flops
from mone_plugin import inference
from mone_plugin import vit

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
# Options of `vit.Model` a run's config.model may set (others are ignored).
_MODEL_FIELDS = tuple(f.name for f in dataclasses.fields(vit._Model)  # pylint: disable=protected-access
                      if f.name not in ("parent", "name"))


class ExportError(ValueError):
  """A bad workdir, budget or option, with a one-line explanation."""


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


def budget_name(e_c):
  """Signature and file name of a budget: "ec0.3", "ec1", "dense"."""
  return "dense" if e_c is None else f"ec{float(e_c):g}"


def parse_e_c(values):
  """["0.3", "dense"] -> (0.3, None); see `budgets_lib.parse_e_c`."""
  try:
    return budgets_lib.parse_e_c(values)
  except ValueError as e:
    raise ExportError(str(e)) from None


# ---------------------------------------------------------------------------
# Reading a workdir.
# ---------------------------------------------------------------------------


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
    raise ExportError(f"{ckpt} holds no params (params~* arrays).")
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
    raise ExportError(
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
    raise ExportError(
        f"{workdir} is a Scenic workdir without config.json: pass the run's "
        "config with --config=projects/mone/configs/<file>.py.")
  state = flax_checkpoints.restore_checkpoint(workdir, None)
  if not state or "params" not in state:
    raise ExportError(f"{workdir}: the Scenic checkpoint holds no params.")
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
    raise ExportError(f"--workdir={workdir} is not a directory.")
  try:
    if os.path.exists(os.path.join(workdir, "checkpoint.bv-LAST")):
      return _read_big_vision(workdir)
    if glob.glob(os.path.join(workdir, "checkpoint_*")):
      return _read_scenic(workdir, config)
  except ExportError:
    raise
  except Exception as e:  # pylint: disable=broad-exception-caught
    raise ExportError(f"--workdir={workdir}: its checkpoint cannot be read "
                      f"({type(e).__name__}: {str(e).splitlines()[0]})."
                      ) from None
  raise ExportError(
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
  kw.update({k: v for k, v in cfg.items() if k in _MODEL_FIELDS})
  ph, pw, channels, width = p["embedding"]["kernel"].shape
  enc = p["Transformer"]
  scan = "encoderblock" in enc
  block = enc["encoderblock"] if scan else enc["encoderblock_0"]
  q = block["MultiHeadDotProductAttention_0"]["query"]["kernel"]
  mlp_dim = block["MlpBlock_0"]["Dense_0"]["kernel"].shape[-1]
  depth = (q.shape[0] if scan else
           len([k for k in enc if k.startswith("encoderblock_")]))
  if "router" not in enc:
    raise ExportError("The checkpoint has no Transformer/router: not a MoNE "
                      "model.")
  kw.update(patch_size=(ph, pw), width=width, depth=depth, mlp_dim=mlp_dim,
            num_heads=q.shape[-2], scan=scan,
            num_experts=enc["router"]["kernel"].shape[-1],
            num_classes=p["head"]["kernel"].shape[-1] if "head" in p else None)
  if "pos_embedding" in p:
    n = p["pos_embedding"].shape[1]
    side = int(round(np.sqrt(n)))
    if side * side != n:
      raise ExportError(f"pos_embedding has {n} tokens, not a square grid.")
    image_size = (side * ph, side * pw)
  elif ckpt.image_size:
    image_size = (int(ckpt.image_size),) * 2
  else:
    raise ExportError("The input size is unknown (no learned pos_embedding, "
                      "no resize in the config): pass --image_size.")
  kw.pop("dropout", None)
  model = vit.Model(**kw)
  shape = (*image_size, channels)
  expected = jax.eval_shape(lambda: model.init(
      jax.random.PRNGKey(0), jnp.zeros((1, *shape))))["params"]
  got = jax.tree.map(lambda x: x.shape, p)
  want = jax.tree.map(lambda x: x.shape, expected)
  if got != want:
    raise ExportError("The checkpoint's params do not match the MoNE ViT its "
                      f"config describes ({kw}).")
  return model, shape


# ---------------------------------------------------------------------------
# Budgets.
# ---------------------------------------------------------------------------


def gflops(model, image_shape, e_c):
  """Analytic GFLOPs per image of `model` at `e_c` (None: dense)."""
  return flops.vit_gflops(
      image_size=tuple(image_shape[:2]), patch_size=tuple(model.patch_size),
      width=model.width, depth=model.depth, mlp_dim=model.mlp_dim,
      num_heads=model.num_heads, num_classes=model.num_classes or None,
      e_c=e_c, num_experts=model.num_experts,
      capacity_method=model.capacity_method, pool_type=model.pool_type,
      channels=image_shape[-1], rep_size=model.rep_size)


def check_e_c(model, e_cs):
  """Raises an ExportError naming the reachable range for a bad e_c."""
  lo, hi = capacity.feasible_range(model.num_experts)
  for e_c in e_cs:
    if e_c is None:
      continue
    if not lo <= e_c <= hi:
      raise ExportError(
          f"e_c={e_c:g} is infeasible: {model.num_experts} nested experts "
          f"reach e_c in [{lo:g}, {hi:g}] (or 'dense').")
    model.capacities(e_c)  # Other method-specific checks.


def e_c_for_gflops(model, image_shape, budgets):
  """The e_c meeting each GFLOPs-per-image budget."""
  cfg = dict(
      image_size=tuple(image_shape[:2]), patch_size=tuple(model.patch_size),
      width=model.width, depth=model.depth, mlp_dim=model.mlp_dim,
      num_heads=model.num_heads, num_classes=model.num_classes or None,
      num_experts=model.num_experts, capacity_method=model.capacity_method,
      pool_type=model.pool_type, channels=image_shape[-1],
      rep_size=model.rep_size)
  try:
    return tuple(flops.e_c_for_gflops(g, **cfg) for g in budgets)
  except ValueError as e:
    raise ExportError(f"--gflops: {e}") from None


def latency_grid(num_experts, steps=8):
  """The e_c a latency target is searched on, smallest first."""
  lo, hi = capacity.feasible_range(num_experts)
  return tuple(float(e) for e in np.round(np.linspace(lo, hi, steps), 4))


def measure_latency(model, params, image_shape, e_cs, batch=1, reps=5):
  """Min over `reps` of the jitted forward's wall time (ms) at each e_c."""
  x = jnp.zeros((batch, *image_shape), jnp.uint8)
  variables = inference.prepare_inference(params)  # As exported.
  out = {}
  for e_c in e_cs:
    f = jax.jit(_forward_fn(model, e_c, (-1.0, 1.0)))
    jax.block_until_ready(f(variables, x))
    times = []
    for _ in range(reps):
      t = time.perf_counter()
      jax.block_until_ready(f(variables, x))
      times.append(1e3 * (time.perf_counter() - t))
    out[e_c] = min(times)
  return out


def pick_e_c_for_latency(latency_ms, target_ms):
  """The largest e_c whose latency meets `target_ms`.

  `latency_ms` maps e_c to a measured latency. Measurements are noisy, so an
  e_c meets the target only if every smaller e_c does too (its latency is
  taken as the running max over smaller e_c): the pick is then monotone in
  the target.
  """
  e_cs = sorted(latency_ms)
  envelope, worst = {}, 0.0
  for e in e_cs:
    worst = max(worst, latency_ms[e])
    envelope[e] = worst
  ok = [e for e in e_cs if envelope[e] <= target_ms]
  if not ok:
    raise ExportError(
        f"--latency_ms={target_ms:g} is infeasible: on this backend the "
        f"model takes {envelope[e_cs[0]]:.3g} ms (e_c={e_cs[0]:g}) to "
        f"{envelope[e_cs[-1]]:.3g} ms (e_c={e_cs[-1]:g}); give a target in "
        "that range or above.")
  return ok[-1]


# ---------------------------------------------------------------------------
# Export.
# ---------------------------------------------------------------------------


def _forward_fn(model, e_c, value_range):
  """f(variables, uint8 images) -> dict(logits, probabilities, experts).

  `variables` are {"params": params} (the training forward) or
  `inference.prepare_inference(params)` (the inference path, as exported).
  """
  vmin, vmax = value_range

  def f(variables, images):
    x = vmin + images.astype(jnp.float32) / 255.0 * (vmax - vmin)
    logits, out = model.apply(variables, x, e_c=e_c)
    h, w = out["pre_logits_2d"].shape[1:3]
    if "experts" in out:
      experts = out["experts"].reshape(-1, h, w)
    else:  # Dense: every token on the largest expert.
      # (zeros_like, not full: a symbolic batch must not become a constant.)
      experts = jnp.zeros_like(out["pre_logits_2d"][..., 0], jnp.int32) + (
          model.num_experts - 1)
    return {"logits": logits,
            "probabilities": jax.nn.softmax(logits.astype(jnp.float32)),
            "experts": experts.astype(jnp.int32)}
  return f


def _bind_params(converted, module):
  def serve(images):
    return converted(module.params, images)
  return serve


def save_saved_model(model, params, image_shape, e_cs, value_range, path):
  """The TF SavedModel: variables shared by the signatures, one a budget.

  The variables are those of the inference path, sliced once here.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from jax.experimental import jax2tf  # pylint: disable=g-import-not-at-top
  module = tf.Module()
  module.params = tf.nest.map_structure(tf.Variable, jax.tree.map(
      np.asarray, inference.prepare_inference(params)))
  spec = tf.TensorSpec((None, *image_shape), tf.uint8, name="images")
  signatures = {}
  for e_c in e_cs:
    converted = jax2tf.convert(
        _forward_fn(model, e_c, value_range),
        polymorphic_shapes=[None, "(b, ...)"], with_gradient=False)
    fn = tf.function(_bind_params(converted, module),
                     input_signature=[spec], autograph=False)
    signatures[budget_name(e_c)] = fn.get_concrete_function()
  signatures["serving_default"] = signatures[budget_name(max(
      e_cs, key=lambda e: 2.0 if e is None else e))]
  tf.saved_model.save(module, path, signatures=signatures)


def _save_jax(model, params, image_shape, e_cs, value_range, path):
  """One `jax.export` artifact per budget, batch-polymorphic."""
  os.makedirs(path, exist_ok=True)
  variables = jax.tree.map(np.asarray, inference.prepare_inference(params))
  with open(os.path.join(path, "params.msgpack"), "wb") as f:
    f.write(flax.serialization.msgpack_serialize(variables))
  b, = jax.export.symbolic_shape("b")
  args = (jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype),
                       variables),
          jax.ShapeDtypeStruct((b, *image_shape), jnp.uint8))
  files = {}
  for e_c in e_cs:
    exported = jax.export.export(jax.jit(
        _forward_fn(model, e_c, value_range)))(*args)
    name = f"{budget_name(e_c)}.jax"
    with open(os.path.join(path, name), "wb") as f:
      f.write(exported.serialize())
    files[e_c] = os.path.join("jax", name)
  return files


ONNX_CHOICES = ("auto", "yes", "no")
# The output names of every artifact, in the order ONNX lists them.
OUTPUTS = ("logits", "probabilities", "experts")


def onnx_available():
  """Whether jax2onnx and ONNX Runtime import here."""
  import importlib.util  # pylint: disable=g-import-not-at-top
  return all(importlib.util.find_spec(m) is not None
             for m in ("jax2onnx", "onnxruntime"))


def _unrolled(model, params):
  """The same model and weights with its blocks unrolled, not scanned.

  jax2onnx cannot trace flax's `nn.scan` with a symbolic batch size (the
  carry's shape must be concrete); the unrolled blocks compute the same.
  """
  if not model.scan:
    return model, params
  t = dict(params["Transformer"])
  stacked = t.pop("encoderblock")
  for i in range(model.depth):
    t[f"encoderblock_{i}"] = jax.tree.map(lambda x, i=i: x[i], stacked)
  return model.clone(scan=False), {**params, "Transformer": t}


def _save_onnx(model, params, image_shape, e_cs, value_range, path):
  """One ONNX model per budget (jax2onnx), batch-polymorphic, weights inside."""
  model, params = _unrolled(model, params)
  import contextlib  # pylint: disable=g-import-not-at-top
  import io  # pylint: disable=g-import-not-at-top
  import logging as py_logging  # pylint: disable=g-import-not-at-top
  import jax2onnx  # pylint: disable=g-import-not-at-top
  os.makedirs(path, exist_ok=True)
  variables = inference.prepare_inference(params)
  b, = jax.export.symbolic_shape("B")
  spec = jax.ShapeDtypeStruct((b, *image_shape), jnp.uint8)
  files = {}
  # jax2onnx logs a traceback for each of its example plugins whose optional
  # dependency (dm_pix, equinox) is absent, none of them used here, and
  # prints debugging lines from its flax Conv plugin.
  quiet = [py_logging.getLogger(n) for n in ("jax2onnx", "onnx_ir")]
  levels = [q.level for q in quiet]
  try:
    for q in quiet:
      q.setLevel(py_logging.ERROR)
    for e_c in e_cs:
      f = _forward_fn(model, e_c, value_range)
      name = f"{budget_name(e_c)}.onnx"
      with contextlib.redirect_stdout(io.StringIO()):
        jax2onnx.to_onnx(
            lambda images, f=f: tuple(f(variables, images)[k]
                                      for k in OUTPUTS),
            inputs=[spec], input_names=["images"], output_names=list(OUTPUTS),
            model_name=f"mone_{budget_name(e_c)}", return_mode="file",
            output_path=os.path.join(path, name))
      files[e_c] = os.path.join("onnx", name)
  finally:
    for q, level in zip(quiet, levels):
      q.setLevel(level)
  return files


def export(ckpt, out_dir, e_cs, *, latency=None, onnx="auto"):
  """Writes the SavedModel, the jax.export and ONNX artifacts, the manifest."""
  if onnx not in ONNX_CHOICES:
    raise ExportError(f"--onnx={onnx} is not one of {', '.join(ONNX_CHOICES)}.")
  if onnx == "yes" and not onnx_available():
    raise ExportError(
        "--onnx=yes but jax2onnx or onnxruntime is not installed (`make "
        "setup` installs both); give --onnx=no to export without ONNX.")
  write_onnx = onnx == "yes" or (onnx == "auto" and onnx_available())
  model, image_shape = build_model(ckpt)
  check_e_c(model, e_cs)
  e_cs = tuple(dict.fromkeys(e_cs))  # Unique, in the given order.
  params = jax.tree.map(np.asarray, ckpt.params)
  if os.path.exists(out_dir):
    if os.listdir(out_dir) and not os.path.exists(
        os.path.join(out_dir, MANIFEST)):
      raise ExportError(f"--out={out_dir} exists and is not an export; give "
                        "a new or empty directory.")
    shutil.rmtree(out_dir)
  os.makedirs(out_dir)
  logging.info("Exporting %s at %s to %s", ckpt.framework,
               [budget_name(e) for e in e_cs], out_dir)
  save_saved_model(model, params, image_shape, e_cs, ckpt.value_range,
           os.path.join(out_dir, "saved_model"))
  jax_files = _save_jax(model, params, image_shape, e_cs, ckpt.value_range,
                        os.path.join(out_dir, "jax"))
  onnx_files = {}
  if write_onnx:
    onnx_files = _save_onnx(model, params, image_shape, e_cs,
                            ckpt.value_range, os.path.join(out_dir, "onnx"))
  else:
    logging.info("No ONNX export (--onnx=%s, jax2onnx installed: %s).", onnx,
                 onnx_available())
  h, w = (s // p for s, p in zip(image_shape, model.patch_size))
  budgets = []
  for e_c in e_cs:
    caps = model.capacities(e_c)
    budgets.append({
        "name": budget_name(e_c), "e_c": e_c,
        "gflops": gflops(model, image_shape, e_c),
        "capacities": None if caps is None else list(caps),
        "tokens_per_expert": None if caps is None else list(
            capacity.tokens_per_expert(caps, h * w)),
        "signature": budget_name(e_c), "jax_export": jax_files[e_c],
        "onnx": onnx_files.get(e_c)})
  manifest = {
      "format_version": FORMAT_VERSION,
      "framework": ckpt.framework,
      "input": {"height": image_shape[0], "width": image_shape[1],
                "channels": image_shape[2], "dtype": "uint8",
                "value_range": list(ckpt.value_range),
                "resize": "bilinear, then clip and cast to uint8"},
      "patch_grid": [h, w],
      "num_classes": model.num_classes,
      "class_names": ckpt.class_names,
      "num_experts": model.num_experts,
      "expert_widths": list(capacity.expert_dims(model.width,
                                                     model.num_experts)),
      "capacity_method": model.capacity_method,
      "budgets": budgets,
      "default_budget": budget_name(max(
          e_cs, key=lambda e: 2.0 if e is None else e)),
      "outputs": {"logits": "float32 [B, classes]",
                  "probabilities": "float32 [B, classes]",
                  "experts": "int32 [B, h, w], 0 = smallest expert"},
  }
  with open(os.path.join(out_dir, MANIFEST), "w") as f:
    json.dump(manifest, f, indent=2)
  if latency is not None:
    with open(os.path.join(out_dir, "latency.json"), "w") as f:
      json.dump(latency, f, indent=2)
  return manifest


def main(argv):
  del argv
  f = flags.FLAGS
  given = [n for n in ("e_c", "gflops", "latency_ms") if f[n].present]
  if len(given) > 1:
    raise app.UsageError(f"Give one of --e_c, --gflops, --latency_ms, not "
                         f"{given}.")
  try:
    ckpt = read_workdir(f.workdir, f.config)
    if f.image_size:
      ckpt.image_size = f.image_size
    model, image_shape = build_model(ckpt)
    latency = None
    if f.gflops:
      try:
        targets = [float(g) for g in f.gflops]
      except ValueError:
        raise ExportError(f"--gflops={','.join(f.gflops)} must be numbers "
                          "(GFLOPs per image).") from None
      e_cs = e_c_for_gflops(model, image_shape, targets)
    elif f.latency_ms is not None:
      grid = latency_grid(model.num_experts)
      times = measure_latency(model, ckpt.params, image_shape, grid,
                              batch=f.latency_batch)
      e_c = pick_e_c_for_latency(times, f.latency_ms)
      e_cs = (e_c,)
      latency = {"target_ms": f.latency_ms, "batch": f.latency_batch,
                 "backend": jax.default_backend(), "picked_e_c": e_c,
                 "measured_ms": {f"{k:g}": v for k, v in times.items()}}
      print(f"Latency target {f.latency_ms:g} ms: e_c={e_c:g} "
            f"({times[e_c]:.3g} ms measured)", flush=True)
    else:
      e_cs = parse_e_c(f.e_c)
    manifest = export(ckpt, f.out, e_cs, latency=latency, onnx=f.onnx)
  except ExportError as e:
    raise SystemExit(f"mone_plugin.export: error: {e}") from None
  for b in manifest["budgets"]:
    print(f"{b['name']}: e_c={b['e_c']} GFLOPs={b['gflops']:.5g} "
          f"tokens per expert={b['tokens_per_expert']}", flush=True)
  print(f"Wrote {f.out}", flush=True)


if __name__ == "__main__":
  flags.DEFINE_string("workdir", None, "Workdir of a trained MoNE run.")
  flags.DEFINE_string("out", None, "Export directory (replaced).")
  flags.DEFINE_list("e_c", ["0.3", "0.5", "1.0"], "Budgets (or 'dense').")
  flags.DEFINE_list("gflops", None, "Budgets in GFLOPs per image.")
  flags.DEFINE_float("latency_ms", None,
                     "Latency target (ms per batch) on this backend.")
  flags.DEFINE_integer("latency_batch", 1, "Batch size of --latency_ms.")
  flags.DEFINE_enum("onnx", "auto", ONNX_CHOICES,
                    "ONNX models too: when jax2onnx is installed (auto), "
                    "always (yes: an error without it) or never (no).")
  flags.DEFINE_integer("image_size", None,
                       "Input size when the checkpoint does not tell it.")
  from ml_collections import config_flags  # pylint: disable=g-import-not-at-top
  config_flags.DEFINE_config_file(
      "config", None, "The run's config (needed for Scenic workdirs).")
  flags.mark_flags_as_required(["workdir", "out"])
  app.run(main)
