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

"""The artifacts of a MoNE ViT at chosen budgets: SavedModel, jax.export, ONNX.

Each runs `forward.forward_fn` on the inference path
(`inference.prepare_inference`: the experts' kernels sliced once, here, and
stored so; equal to the training forward within float rounding), batch
polymorphic. The jax.export and ONNX writers return, per e_c, the file they
wrote relative to the parent of `path`.
"""

import contextlib
import importlib.util
import io
import logging as py_logging
import os

from absl import logging
import flax
import jax
import jax.numpy as jnp
import numpy as np

from mone_plugin import inference
from mone_plugin.serving import forward


PLATFORMS = ("cpu", "cuda", "rocm", "tpu")  # What jax.export lowers for.


def inference_variables(model, params):
  """The exported variables: the inference path's, cast to `dtype_mm` once."""
  return jax.tree.map(np.asarray, inference.prepare_inference(
      params, dtype=getattr(model, "dtype_mm", None)))


def _bind_params(converted, module):
  def serve(images):
    return converted(module.params, images)
  return serve


def save_saved_model(model, params, image_shape, e_cs, value_range, path, *,
                     activation="softmax", platforms=None):
  """The TF SavedModel: variables shared by the signatures, one a budget.

  The variables are those of the inference path, sliced once here;
  "serving_default" is the largest budget. `platforms` (default: this
  machine's) are those its StableHLO is lowered for.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from jax.experimental import jax2tf  # pylint: disable=g-import-not-at-top
  module = tf.Module()
  module.params = tf.nest.map_structure(
      tf.Variable, inference_variables(model, params))
  spec = tf.TensorSpec((None, *image_shape), tf.uint8, name="images")
  signatures = {}
  for e_c in e_cs:
    converted = jax2tf.convert(
        forward.forward_fn(model, e_c, value_range, activation),
        polymorphic_shapes=[None, "(b, ...)"], with_gradient=False,
        native_serialization_platforms=platforms)
    fn = tf.function(_bind_params(converted, module),
                     input_signature=[spec], autograph=False)
    signatures[forward.budget_name(e_c)] = fn.get_concrete_function()
  signatures["serving_default"] = signatures[forward.budget_name(
      forward.default_budget(e_cs))]
  tf.saved_model.save(module, path, signatures=signatures)


def save_jax(model, params, image_shape, e_cs, value_range, path, *,
             activation="softmax", platforms=None):
  """One `jax.export` artifact per budget and `params.msgpack`, their input.

  Each artifact is lowered for `platforms` (default: this machine's), which
  needs no device of theirs. Returns, per e_c, {platform: file}: one file
  for all platforms, or, if lowering for them together fails, one a platform
  (`<budget>.<platform>.jax`).
  """
  os.makedirs(path, exist_ok=True)
  variables = inference_variables(model, params)
  with open(os.path.join(path, "params.msgpack"), "wb") as f:
    f.write(flax.serialization.msgpack_serialize(variables))
  b, = jax.export.symbolic_shape("b")
  args = (jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype),
                       variables),
          jax.ShapeDtypeStruct((b, *image_shape), jnp.uint8))
  files = {}
  for e_c in e_cs:
    fn = jax.jit(forward.forward_fn(model, e_c, value_range, activation))
    name = forward.budget_name(e_c)
    try:
      exported = jax.export.export(fn, platforms=platforms)(*args)
      parts = {exported.platforms: exported}
    except Exception as e:  # pylint: disable=broad-exception-caught
      if platforms is None or len(platforms) == 1:
        raise
      logging.warning("Lowering %s for %s together failed (%s); one artifact "
                      "a platform.", name, platforms, e)
      parts = {(p,): jax.export.export(fn, platforms=(p,))(*args)
               for p in platforms}
    files[e_c] = {}
    for group, exported in parts.items():
      fname = f"{name}.jax" if len(parts) == 1 else f"{name}.{group[0]}.jax"
      with open(os.path.join(path, fname), "wb") as f:
        f.write(exported.serialize())
      for p in group:
        files[e_c][p] = os.path.join(os.path.basename(path), fname)
  return files


def onnx_available():
  """Whether jax2onnx and ONNX Runtime import here."""
  return all(importlib.util.find_spec(m) is not None
             for m in ("jax2onnx", "onnxruntime"))


def _unrolled(model, params):
  """The same model and weights with its blocks unrolled, not scanned.

  jax2onnx cannot trace flax's `nn.scan` with a symbolic batch size (the
  carry's shape must be concrete); the unrolled blocks compute the same.
  """
  if not getattr(model, "scan", False):
    return model, params
  t = dict(params["Transformer"])
  stacked = t.pop("encoderblock")
  for i in range(model.depth):
    t[f"encoderblock_{i}"] = jax.tree.map(lambda x, i=i: x[i], stacked)
  return model.clone(scan=False), {**params, "Transformer": t}


def save_onnx(model, params, image_shape, e_cs, value_range, path, *,
              activation="softmax", platforms=None):
  """One ONNX model per budget (jax2onnx), weights inside.

  Input "images" uint8 [B, H, W, C], outputs `forward.OUTPUTS`.
  """
  import jax2onnx  # pylint: disable=g-import-not-at-top
  del platforms  # ONNX Runtime picks its own.
  model, params = _unrolled(model, params)
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
      f = forward.forward_fn(model, e_c, value_range, activation)
      name = f"{forward.budget_name(e_c)}.onnx"
      with contextlib.redirect_stdout(io.StringIO()):
        jax2onnx.to_onnx(
            lambda images, f=f: tuple(f(variables, images)[k]
                                      for k in forward.OUTPUTS),
            inputs=[spec], input_names=["images"],
            output_names=list(forward.OUTPUTS),
            model_name=f"mone_{forward.budget_name(e_c)}",
            return_mode="file", output_path=os.path.join(path, name))
      files[e_c] = os.path.join(os.path.basename(path), name)
  finally:
    for q, level in zip(quiet, levels):
      q.setLevel(level)
  return files
