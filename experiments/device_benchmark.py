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
r"""The prepared accelerator benchmark: one command, under 8 minutes.

  python -m experiments.device_benchmark --results_dir=docs/results/gpu

Times, on the first JAX device, dense against MoNE for
  - ViT-B/16 at 224 px (the dense model: Big Vision's own ViT in the same
    process, same weights) and ViViT-FE-B/16x2, 32 frames (the dense model:
    our ViViT on its dense path, Scenic's layout);
  - matmuls in bfloat16 and float32 (`dtype_mm`; parameters float32);
  - batch 8, 256 and 64;
  - the inference path (`inference.prepare_inference`, kernels cast to the
    matmul dtype once) and the training step (SGD, cross-entropy; the ViT
    with scanned layers and remat as `experiments/benchmark.py`);
  - e_c 0.4, 0.3 and 0.6, for every implementation choice of --choices
    (model kwargs, e.g. `kernel=pallas`; `+` joins several in one choice;
    a field the models lack is skipped with a message).
It reuses `experiments/benchmark.py`'s timing code (round-robin, minimum over
repetitions, Big Vision's ViT as reference). ViViT training steps run at
--vivit_train_batches only (default 8: a ViViT clip is 16 frames of 196
tokens, so its batch 64 holds as many tokens as a ViT batch of 1024).

Time guard: before each unit (model, dtype, batch, path) it estimates the
unit's compile and run time from the units measured so far (priors before
the first) and skips a unit that would end past --max_minutes, saying so;
the skipped units are listed in the JSON and the docs. A unit that fails (out
of memory, a choice that does not lower) is recorded and the run goes on.

Writes <out>/<device kind>.json (device, versions, every timing, analytic
FLOPs, speedup, efficiency = speedup / FLOP ratio, achieved TFLOP/s) after
every unit, then regenerates the table of --doc from every JSON in <out>
(`experiments/device_table.py`). --reduced: tiny models (mu/16, 32 px, 4
frames), batch 2, one repetition: the plumbing, on the CPU, in a test.
"""

import ast
import dataclasses
import functools
import gc
import json
import os
import re
import sys
import time
from typing import Any, Dict, List, Optional, Sequence

from absl import app
from absl import flags
import flax
import jax
import jax.numpy as jnp
import optax

from experiments import benchmark
from experiments import device_table
from mone_plugin import flops
from mone_plugin import frameworks
from mone_plugin import inference
from mone_plugin import vit
from mone_plugin import vivit

_OUT = flags.DEFINE_string("results_dir", "docs/results/gpu",
                           "Directory of the per-device JSONs.")
_DOC = flags.DEFINE_string(
    "doc", "docs/gpu_benchmark.md", "Docs page whose generated table is "
    "rewritten from every JSON in --out ('' to leave it).")
_MODELS = flags.DEFINE_list("models", ["vit", "vivit"], "vit, vivit.")
_DTYPES = flags.DEFINE_list("dtypes", ["bfloat16", "float32"],
                            "Matmul dtypes, in priority order.")
_BATCHES = flags.DEFINE_list("batches", ["8", "256", "64"],
                             "Batch sizes, in priority order.")
_PATHS = flags.DEFINE_list("paths", ["infer", "train"],
                           "infer (the inference path), train (a step).")
_E_C = flags.DEFINE_list("e_cs", ["0.4", "0.3", "0.6"], "MoNE budgets.")
_CHOICES = flags.DEFINE_list(
    "choices", ["default", "kernel=pallas"],
    "Implementation choices, each `field=value[+field=value]` (model "
    "kwargs) or `default` (the models' defaults).")
_VIVIT_TRAIN = flags.DEFINE_list("vivit_train_batches", ["8"],
                                 "Batches at which ViViT training is timed.")
_REPS = flags.DEFINE_integer("repetitions", 5,
                            "Timed repetitions (the minimum is kept).")
_MAX_MINUTES = flags.DEFINE_float("max_minutes", 8.0,
                                  "Time limit of the whole run.")
_REDUCED = flags.DEFINE_bool("reduced", False,
                             "Tiny models, batch 2, one rep (CPU test).")

REMAT = "dots_with_no_batch_dims_saveable"  # As experiments/benchmark.py.
# Seconds before anything is measured: one compile per function, and run
# time per example per call (a guess for an H100/H200; replaced by
# measurements as the run goes).
PRIOR_COMPILE_S = {("vit", "infer"): 15.0, ("vit", "train"): 30.0,
                   ("vivit", "infer"): 25.0, ("vivit", "train"): 60.0}
PRIOR_S_PER_EXAMPLE = {("vit", "infer"): 1e-3, ("vit", "train"): 3e-3,
                       ("vivit", "infer"): 15e-3, ("vivit", "train"): 50e-3}


@dataclasses.dataclass
class Settings:
  models: Sequence[str] = ("vit", "vivit")
  dtypes: Sequence[str] = ("bfloat16", "float32")
  batches: Sequence[int] = (8, 256, 64)
  paths: Sequence[str] = ("infer", "train")
  e_cs: Sequence[float] = (0.4, 0.3, 0.6)
  choices: Sequence[str] = ("default", "kernel=pallas")
  vivit_train_batches: Sequence[int] = (8,)
  reps: int = 5
  max_minutes: float = 8.0
  reduced: bool = False


def parse_choice(spec):
  """'kernel=pallas+fuse_qkv=True' -> {'kernel': 'pallas', 'fuse_qkv': True}."""
  if spec in ("", "default"):
    return {}
  kw = {}
  for part in spec.split("+"):
    if "=" not in part:
      raise ValueError(f"choice {spec!r}: {part!r} is not field=value.")
    k, v = part.split("=", 1)
    try:
      kw[k.strip()] = ast.literal_eval(v.strip())
    except (ValueError, SyntaxError):
      kw[k.strip()] = v.strip()
  return kw


def _fields(cls):
  return {f.name for f in dataclasses.fields(cls)}


def _model_classes():
  return {"vit": vit.Model(1).__class__, "vivit": vivit.SpaceTimeViViT}


def valid_choices(choices, log, models=("vit", "vivit")):
  """{spec: kwargs} of the choices every selected model knows; logs others."""
  out = {}
  for spec in choices:
    kw = parse_choice(spec)
    unknown = {name: sorted(set(kw) - _fields(cls))
               for name, cls in _model_classes().items() if name in models}
    unknown = {k: v for k, v in unknown.items() if v}
    if unknown:
      log(f"choice {spec}: skipped, fields unknown to the models "
          f"{unknown} (not implemented in this tree)")
      continue
    out[spec] = kw
  return out


def device_name():
  d = jax.devices()[0]
  return getattr(d, "device_kind", d.platform) or d.platform


def slug(name):
  return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "device"


class _Setup:
  """Model configurations, parameters and inputs of one run (cached)."""

  def __init__(self, reduced):
    self.variant = "mu/16" if reduced else "B/16"
    self.image_size = 32 if reduced else 224
    self.frames = 4 if reduced else 32
    self._params = {}

  def model(self, name, dtype, train, **choice):
    if name == "vit":
      m = vit.Model(1000, variant=self.variant, e_c=None, dtype_mm=dtype,
                    **choice)
      return m.clone(scan=True, remat_policy=REMAT) if train else m
    cfg = vit.decode_variant(self.variant)
    patch = cfg["patch_size"][0]
    return vivit.SpaceTimeViViT(
        num_classes=400, e_c=None, dtype_mm=dtype,
        spatial_mlp_dim=cfg["mlp_dim"], spatial_num_layers=cfg["depth"],
        spatial_num_heads=cfg["num_heads"], temporal_mlp_dim=cfg["mlp_dim"],
        temporal_num_layers=max(1, cfg["depth"] // 3),
        temporal_num_heads=cfg["num_heads"], hidden_size=cfg["width"],
        patches={"size": (patch, patch, 2)}, **choice)

  def input(self, name, batch):
    s = self.image_size
    shape = ((batch, s, s, 3) if name == "vit"
             else (batch, self.frames, s, s, 3))
    return jax.random.normal(jax.random.PRNGKey(0), shape)

  def params(self, name, train):
    """float32 variables (shared by dtypes and batches)."""
    key = (name, train)
    if key not in self._params:
      m = self.model(name, "float32", train)
      self._params[key] = jax.jit(m.init)(jax.random.PRNGKey(1),
                                          self.input(name, 1))
    return self._params[key]

  def num_classes(self, name):
    return 1000 if name == "vit" else 400

  def gflops(self, name, e_c):
    """Analytic forward GFLOPs per example."""
    cfg = vit.decode_variant(self.variant)
    patch = cfg["patch_size"][0]
    if name == "vit":
      return flops.vit_gflops(
          image_size=self.image_size, patch_size=patch, width=cfg["width"],
          depth=cfg["depth"], mlp_dim=cfg["mlp_dim"],
          num_heads=cfg["num_heads"], num_classes=1000, e_c=e_c)
    return flops.vivit_gflops(
        num_frames=self.frames, image_size=self.image_size, patch_size=patch,
        tubelet_size=2, width=cfg["width"], spatial_depth=cfg["depth"],
        temporal_depth=max(1, cfg["depth"] // 3), mlp_dim=cfg["mlp_dim"],
        num_heads=cfg["num_heads"], num_classes=400, e_c=e_c)


def _unit_fns(setup, name, dtype, batch, path, e_cs, choices):
  """{key: (f(x) builder)}: the dense reference first, then MoNE configs.

  Keys: ("dense", reference name) and (choice spec, e_c). Builders return
  the callable (compiling may happen in the builder or on the first call).
  """
  train = path == "train"
  params = setup.params(name, train)
  x = setup.input(name, batch)
  labels = jax.nn.one_hot(jnp.arange(batch) % setup.num_classes(name),
                          setup.num_classes(name))
  tx = optax.sgd(1e-3)
  mm = None if jnp.dtype(dtype) == jnp.float32 else dtype
  builders = {}
  have_bv = name == "vit" and frameworks.available("big_vision")
  if have_bv and train:
    builders[("dense", "big_vision")] = lambda: benchmark._big_vision_train_step(  # pylint: disable=protected-access
        setup.variant, params, x, labels, tx, scan=True, remat_policy=REMAT,
        dtype_mm=dtype)
  elif have_bv:
    builders[("dense", "big_vision")] = lambda: benchmark._big_vision_forward(  # pylint: disable=protected-access
        setup.variant, params, x, dtype_mm=dtype)
  else:
    m = setup.model(name, dtype, train)
    if train:
      builders[("dense", "ours")] = lambda: benchmark._train_step(  # pylint: disable=protected-access
          m, params, labels, tx, e_c=None)
    else:
      f = jax.jit(lambda p, x: m.apply(p, x, e_c=None)[0])
      builders[("dense", "ours")] = lambda: functools.partial(f, params)
  prepared = None
  for spec, kw in choices.items():
    m = setup.model(name, dtype, train, **kw)
    for e_c in e_cs:
      if train:
        builders[(spec, e_c)] = functools.partial(
            benchmark._train_step, m, params, labels, tx, e_c=e_c)  # pylint: disable=protected-access
      else:
        if prepared is None:  # Sliced (and cast) once, as at load time.
          prepared = jax.block_until_ready(
              inference.prepare_inference(params["params"], dtype=mm))
        f = jax.jit(functools.partial(
            lambda m, e, v, x: m.apply(v, x, e_c=e)[0], m, e_c))
        builders[(spec, e_c)] = functools.partial(functools.partial, f,
                                                  prepared)
  return builders, x


def run_unit(setup, name, dtype, batch, path, e_cs, choices, reps, log):
  """Compiles and times one unit; returns (rows, compile seconds, errors)."""
  builders, x = _unit_fns(setup, name, dtype, batch, path, e_cs, choices)
  fns, compile_s, errors = {}, {}, []
  for key, build in builders.items():
    t0 = time.perf_counter()
    try:
      f = build()
      jax.block_until_ready(f(x))  # Compile and warm up.
    except Exception as e:  # pylint: disable=broad-except
      msg = f"{name} {dtype} batch {batch} {path} {key[0]} e_c {key[1]}: " + (
          str(e).strip().splitlines() or [type(e).__name__])[0][:200]
      log("failed: " + msg)
      errors.append(msg)
      if key[0] == "dense":
        return [], compile_s, errors  # No reference: nothing to compare.
      continue
    compile_s[key] = time.perf_counter() - t0
    fns[key] = f
  ms = benchmark._time_round_robin(fns, (x,), reps)  # pylint: disable=protected-access
  dense_key = next(k for k in fns if k[0] == "dense")
  dense_gf = setup.gflops(name, None)
  work = 3.0 if path == "train" else 1.0  # Forward + backward: ~3x.
  rows = []
  for key, t in ms.items():
    is_dense = key[0] == "dense"
    e_c = None if is_dense else key[1]
    gf = setup.gflops(name, e_c)
    row = dict(model=name, dtype=dtype, batch=batch, path=path,
               choice="dense" if is_dense else key[0], e_c=e_c,
               reference=key[1] if is_dense else None, ms=t, gflops=gf,
               flop_ratio=dense_gf / gf, speedup=ms[dense_key] / t,
               compile_s=compile_s[key],
               tflops_per_s=work * gf * batch / t / 1e3)
    row["efficiency"] = row["speedup"] / row["flop_ratio"]
    rows.append(row)
  return rows, compile_s, errors


class _Estimator:
  """Compile and run time of a unit from what was measured so far."""

  def __init__(self):
    self.compile_s = dict(PRIOR_COMPILE_S)
    self.s_per_example = dict(PRIOR_S_PER_EXAMPLE)

  def estimate(self, name, path, batch, n_fns, reps):
    key = (name, path)
    return n_fns * (self.compile_s[key]
                    + (reps + 1) * self.s_per_example[key] * batch)

  def update(self, name, path, batch, rows, compile_s):
    key = (name, path)
    if compile_s:
      self.compile_s[key] = max(compile_s.values())
    if rows:
      self.s_per_example[key] = max(r["ms"] for r in rows) / 1e3 / batch


def run_all(settings, out_dir, doc=None, log=print):
  """Runs every unit that fits the time limit; writes the JSON and the doc."""
  start = time.perf_counter()
  limit = 60.0 * settings.max_minutes
  setup = _Setup(settings.reduced)
  reps = 1 if settings.reduced else settings.reps
  batches = [2] if settings.reduced else list(settings.batches)
  device = device_name()
  result = {
      device_table.SCHEMA: 1, "device": device,
      "platform": jax.devices()[0].platform,
      "device_count": len(jax.devices()), "jax": jax.__version__,
      "flax": flax.__version__, "optax": optax.__version__,
      "date": time.strftime("%Y-%m-%d"), "command": " ".join(sys.argv),
      "reduced": settings.reduced, "max_minutes": settings.max_minutes,
      "settings": dataclasses.asdict(settings),
      "reference": ("ViT: Big Vision's own ViT (same weights, same "
                    "process); ViViT: our dense path"),
      "rows": [], "skipped": [], "errors": [], "elapsed_s": 0.0}
  choices = valid_choices(settings.choices, lambda m: (
      log(m), result["skipped"].append(m)), settings.models)
  os.makedirs(out_dir, exist_ok=True)
  path_json = os.path.join(out_dir, slug(device) + ".json")
  est = _Estimator()
  log(f"device benchmark on {device} ({jax.devices()[0].platform}), jax "
      f"{jax.__version__}, limit {settings.max_minutes} min -> {path_json}")
  for name in settings.models:
    for dtype in settings.dtypes:
      for batch in batches:
        for path in settings.paths:
          unit = f"{name} {dtype} batch {batch} {path}"
          if (name == "vivit" and path == "train" and not settings.reduced
              and batch not in settings.vivit_train_batches):
            continue
          n_fns = 1 + len(choices) * len(settings.e_cs)
          elapsed = time.perf_counter() - start
          need = est.estimate(name, path, batch, n_fns, reps)
          if elapsed + need > limit:
            msg = (f"{unit}: skipped, estimated {need:.0f} s with "
                   f"{limit - elapsed:.0f} s left of {settings.max_minutes}"
                   " min")
            log(msg)
            result["skipped"].append(msg)
            continue
          t0 = time.perf_counter()
          rows, compile_s, errors = run_unit(
              setup, name, dtype, batch, path, settings.e_cs, choices, reps,
              log)
          est.update(name, path, batch, rows, compile_s)
          result["rows"].extend(rows)
          result["errors"].extend(errors)
          for r in rows:
            log(f"{unit} {r['choice']} e_c {r['e_c']}: {r['ms']:.2f} ms, "
                f"speedup {r['speedup']:.2f}x, efficiency "
                f"{r['efficiency']:.2f} (compile {r['compile_s']:.1f} s)")
          log(f"{unit}: {time.perf_counter() - t0:.1f} s")
          result["elapsed_s"] = time.perf_counter() - start
          with open(path_json, "w") as f:  # After every unit: a killed run
            json.dump(result, f, indent=1)  # keeps what it measured.
          gc.collect()
  result["elapsed_s"] = time.perf_counter() - start
  with open(path_json, "w") as f:
    json.dump(result, f, indent=1)
  if doc:
    device_table.update_doc(doc, out_dir)
    log(f"table of {doc} regenerated from {out_dir}")
  return result, path_json


def main(argv):
  del argv
  settings = Settings(
      models=_MODELS.value, dtypes=_DTYPES.value,
      batches=[int(b) for b in _BATCHES.value], paths=_PATHS.value,
      e_cs=[float(e) for e in _E_C.value], choices=_CHOICES.value,
      vivit_train_batches=[int(b) for b in _VIVIT_TRAIN.value],
      reps=_REPS.value, max_minutes=_MAX_MINUTES.value,
      reduced=_REDUCED.value)
  result, path = run_all(settings, _OUT.value, _DOC.value or None)
  print(f"{len(result['rows'])} timings, {len(result['skipped'])} skipped, "
        f"{len(result['errors'])} failed in {result['elapsed_s']:.0f} s: "
        f"{path}")


if __name__ == "__main__":
  app.run(main)
