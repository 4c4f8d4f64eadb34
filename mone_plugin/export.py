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

  python -m mone_plugin.export --workdir=DIR --out=EXPORT_DIR --e_c=0.5 \
      --platforms=cpu,cuda,tpu --dtype=bfloat16   # For accelerators.

`--workdir` is a Big Vision MoNE run (`mone_plugin.big_vision.train`: its
`config.json` and `checkpoint.bv`) or a Scenic one (`projects.mone.main`: its
`checkpoint_<step>` and `config.json`; `--config` replaces the latter), in
Big Vision's or Scenic's model vocabulary: a ViT with any of either
framework's position embeddings and poolings (classifiers), or a MoNE ViViT
(clips [B, T, H, W, C]; see `serving/models.py`). `--platforms` lowers the
SavedModel and `jax.export` artifacts for other backends (no device needed);
`--dtype` sets the exported model's matmul dtype (`dtype_mm`). The budget is a list of e_c (or
`dense`), of GFLOPs per image (each turned into the e_c that meets it), or
one latency target in ms per batch of `--latency_batch` images, measured here
on the current JAX backend: the largest e_c that meets it is exported and the
measurement written to `EXPORT_DIR/latency.json`. Writes to EXPORT_DIR:

  saved_model/          TF SavedModel (jax2tf, native serialization), one
                        signature per budget ("ec0.3", ...; "serving_default"
                        is the largest): uint8 images [B, H, W, C] (clips
                        [B, T, H, W, C]), any B ->
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

Every artifact runs the inference-optimised forward (`inference.prepare_inference`:
the experts' kernels sliced once, here, and stored so; equal to the training
forward within float rounding), and so does the latency measurement. The
work is done in `mone_plugin/serving/`: reading the workdir (`workdirs`),
resolving the budget (`resolve`) and writing the artifacts (`writers`); this
module writes the manifest and holds the command.
"""

import json
import os
import shutil

from absl import app
from absl import flags
from absl import logging
import jax
import numpy as np

from mone_plugin import capacity
from mone_plugin.serving import forward
from mone_plugin.serving import models
from mone_plugin.serving import resolve
from mone_plugin.serving import workdirs
from mone_plugin.serving import writers

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
ONNX_CHOICES = ("auto", "yes", "no")
DTYPES = ("float32", "bfloat16", "float16")


def export(ckpt, out_dir, e_cs, *, latency=None, onnx="auto", platforms=None,
           dtype=None):
  """Writes the SavedModel, the jax.export and ONNX artifacts, the manifest.

  Args:
    ckpt: the `workdirs.Checkpoint`.
    out_dir: the export directory (replaced if it holds an export).
    e_cs: the budgets (e_c, None: dense).
    latency: the latency measurement to write beside, or None.
    onnx: "auto", "yes" or "no" (`ONNX_CHOICES`).
    platforms: the platforms the SavedModel and `jax.export` artifacts are
      lowered for ("cpu", "cuda", "rocm", "tpu"); None: this machine's.
    dtype: the matmul dtype of the exported model (`dtype_mm`, e.g.
      "bfloat16" for accelerators); None: the run's.
  """
  if onnx not in ONNX_CHOICES:
    raise forward.ExportError(
        f"--onnx={onnx} is not one of {', '.join(ONNX_CHOICES)}.")
  if onnx == "yes" and not writers.onnx_available():
    raise forward.ExportError(
        "--onnx=yes but jax2onnx or onnxruntime is not installed (`make "
        "setup` installs both); give --onnx=no to export without ONNX.")
  bad = [p for p in platforms or () if p not in writers.PLATFORMS]
  if bad or (platforms is not None and not platforms):
    raise forward.ExportError(
        f"--platforms={','.join(platforms)}: allowed: "
        f"{', '.join(writers.PLATFORMS)}.")
  model, image_shape = workdirs.build_model(ckpt)
  if dtype is not None:
    if dtype not in DTYPES:
      raise forward.ExportError(f"--dtype={dtype} is not one of "
                                f"{', '.join(DTYPES)}.")
    model = model.clone(dtype_mm=dtype)
  dtype_mm = str(getattr(model, "dtype_mm", "float32"))
  if onnx == "yes" and dtype_mm != "float32":
    raise forward.ExportError(f"--onnx=yes exports float32 models only, not "
                              f"dtype {dtype_mm}; give --onnx=no.")
  write_onnx = dtype_mm == "float32" and (
      onnx == "yes" or (onnx == "auto" and writers.onnx_available()))
  resolve.check_e_c(model, e_cs)
  e_cs = tuple(dict.fromkeys(e_cs))  # Unique, in the given order.
  params = jax.tree.map(np.asarray, ckpt.params)
  if os.path.exists(out_dir):
    if os.listdir(out_dir) and not os.path.exists(
        os.path.join(out_dir, MANIFEST)):
      raise forward.ExportError(f"--out={out_dir} exists and is not an "
                                "export; give a new or empty directory.")
    shutil.rmtree(out_dir)
  os.makedirs(out_dir)
  logging.info("Exporting %s at %s to %s", ckpt.framework,
               [forward.budget_name(e) for e in e_cs], out_dir)
  args = (model, params, image_shape, e_cs, ckpt.value_range)
  kw = dict(activation=ckpt.activation, platforms=platforms)
  writers.save_saved_model(*args, os.path.join(out_dir, "saved_model"), **kw)
  jax_files = writers.save_jax(*args, os.path.join(out_dir, "jax"), **kw)
  onnx_files = {}
  if write_onnx:
    onnx_files = writers.save_onnx(*args, os.path.join(out_dir, "onnx"), **kw)
  else:
    logging.info("No ONNX export (--onnx=%s, dtype %s, jax2onnx installed: "
                 "%s).", onnx, dtype_mm, writers.onnx_available())
  manifest = _manifest(ckpt, model, image_shape, e_cs, jax_files, onnx_files)
  with open(os.path.join(out_dir, MANIFEST), "w") as f:
    json.dump(manifest, f, indent=2)
  if latency is not None:
    with open(os.path.join(out_dir, "latency.json"), "w") as f:
      json.dump(latency, f, indent=2)
  return manifest


def _manifest(ckpt, model, input_shape, e_cs, jax_files, onnx_files):
  """What a server needs to know of the export (`manifest.json`)."""
  grid = models.token_grid(model, input_shape)
  num_tokens = int(np.prod(grid[-2:]))  # Routed together (a frame's).
  budgets = []
  for e_c in e_cs:
    caps = model.capacities(e_c)
    files = jax_files[e_c]
    budgets.append({
        "name": forward.budget_name(e_c), "e_c": e_c,
        "gflops": resolve.gflops(model, input_shape, e_c),
        "capacities": None if caps is None else list(caps),
        "tokens_per_expert": None if caps is None else list(
            capacity.tokens_per_expert(caps, num_tokens)),
        "signature": forward.budget_name(e_c),
        "jax_export": next(iter(files.values())), "jax_export_files": files,
        "onnx": onnx_files.get(e_c)})
  video = len(input_shape) == 4
  width = getattr(model, "width", None) or model.hidden_size
  layout = "B, T, H, W, C" if video else "B, H, W, C"
  return {
      "format_version": FORMAT_VERSION,
      "framework": ckpt.framework,
      "model": type(model).__name__,
      "input": {**({"frames": input_shape[0]} if video else {}),
                "height": input_shape[-3], "width": input_shape[-2],
                "channels": input_shape[-1], "dtype": "uint8",
                "layout": layout, "value_range": list(ckpt.value_range),
                "resize": "bilinear, then clip and cast to uint8"},
      "patch_grid": list(grid),
      "dtype_mm": str(getattr(model, "dtype_mm", "float32")),
      "platforms": sorted({p for f in jax_files.values() for p in f}),
      "num_classes": model.num_classes,
      "class_names": ckpt.class_names,
      "num_experts": model.num_experts,
      "expert_widths": list(capacity.expert_dims(width, model.num_experts)),
      "capacity_method": model.capacity_method,
      "budgets": budgets,
      "default_budget": forward.budget_name(forward.default_budget(e_cs)),
      "outputs": {"logits": "float32 [B, classes]",
                  "probabilities": f"float32 [B, classes], the "
                                   f"{ckpt.activation} of the logits",
                  "experts": ("int32 [B, T', h, w]" if video else
                              "int32 [B, h, w]") + ", 0 = smallest expert"},
  }


def main(argv):
  del argv
  f = flags.FLAGS
  given = [n for n in ("e_c", "gflops", "latency_ms") if f[n].present]
  if len(given) > 1:
    raise app.UsageError(f"Give one of --e_c, --gflops, --latency_ms, not "
                         f"{given}.")
  try:
    ckpt = workdirs.read_workdir(f.workdir, f.config)
    if f.image_size:
      ckpt.image_size = f.image_size
    model, image_shape = workdirs.build_model(ckpt)
    e_cs, latency = resolve.budgets(
        model, ckpt.params, image_shape, e_c=f.e_c, gflops=f.gflops,
        latency_ms=f.latency_ms, latency_batch=f.latency_batch)
    if latency is not None:
      e_c, = e_cs
      print(f"Latency target {f.latency_ms:g} ms: e_c={e_c:g} "
            f"({latency['measured_ms'][f'{e_c:g}']:.3g} ms measured)",
            flush=True)
    manifest = export(ckpt, f.out, e_cs, latency=latency, onnx=f.onnx,
                      platforms=f.platforms, dtype=f.dtype)
  except forward.ExportError as e:
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
  flags.DEFINE_list("platforms", None,
                    "Platforms to lower the SavedModel and jax.export "
                    "artifacts for, e.g. cpu,cuda,tpu (no device needed); "
                    "default: this machine's.")
  flags.DEFINE_enum("dtype", None, DTYPES,
                    "Matmul dtype of the exported model (dtype_mm), e.g. "
                    "bfloat16 for GPUs and TPUs; default: the run's.")
  flags.DEFINE_integer("image_size", None,
                       "Input size when the checkpoint does not tell it.")
  from ml_collections import config_flags  # pylint: disable=g-import-not-at-top
  config_flags.DEFINE_config_file(
      "config", None, "The run's config, for a Scenic workdir without "
      "config.json (or to override it).")
  flags.mark_flags_as_required(["workdir", "out"])
  app.run(main)
