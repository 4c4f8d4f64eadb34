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
r"""Wall-clock benchmark: MoNE ViT against the dense ViT in the same run.

  python -m experiments.benchmark            # ViT-B/16, 224 px, batch 8
  python -m experiments.benchmark --variant=S/16 --batch=32 --json=out.json
  python -m experiments.benchmark --model=vivit  # ViViT-FE-B/16x2, 32 frames
  python -m experiments.benchmark --dtype=float32,bfloat16  # one table each

Prints, for the current JAX backend, the dense forward time, MoNE's forward
time at each e_c, the FLOP ratio (dense / MoNE, analytic, one multiply-add =
one FLOP; XLA's own count is printed beside it), the speedup, the efficiency
(speedup / FLOP ratio: 1.0 means every saved FLOP saved time) and the share of
the forward spent in the router + Expert Preferred Routing; then the same for
a training step (forward + backward). With --inference_opt (the default) it
also times the inference-optimised forward (`inference.prepare_inference`:
expert kernels sliced once, fused Q/K/V, attention per query group) of MoNE
and of the dense model, with the same dense reference (the params path, Big
Vision's ViT computation). --model=vivit times the ViViT factorised
encoder (Scenic's `SpaceTimeViViT` layout: a routed spatial transformer per
frame, a dense temporal transformer of 4 layers; 32 frames, tubelets 16x16x2;
forward only). --dtype sets the models' matmul dtype (`dtype_mm`, Big
Vision's ViT included; parameters stay float32, the inference path's
kernels are cast once). Configurations are timed round-robin so
that background load hits them alike; the minimum over repetitions is kept.
"""

import functools
import json
import os
import tempfile
import time

from absl import app
from absl import flags
from absl import logging
import jax
import jax.numpy as jnp
import numpy as np
import optax

from mone_plugin import flops
from mone_plugin import frameworks
from mone_plugin import inference
from mone_plugin import routing
from mone_plugin.serving import forward
from mone_plugin.serving import writers
from mone_plugin import vit
from mone_plugin import vivit

_MODEL = flags.DEFINE_enum("model", "vit", ["vit", "vivit"],
                           "ViT, or the ViViT factorised encoder.")
_VARIANT = flags.DEFINE_string("variant", "B/16", "(Spatial) ViT variant.")
_FRAMES = flags.DEFINE_integer("num_frames", 32, "ViViT: frames per clip.")
_IMAGE_SIZE = flags.DEFINE_integer("image_size", 224, "Image side in pixels.")
_BATCH = flags.DEFINE_integer("batch", 8, "Batch size.")
_E_C = flags.DEFINE_list("e_c", ["0.2", "0.3", "0.4", "0.6"],
                         "Effective capacities to time.")
_REPS = flags.DEFINE_integer("reps", 5, "Timed repetitions per config.")
_TRAIN = flags.DEFINE_bool("train", True, "Also time training steps.")
_JSON = flags.DEFINE_string("json", None, "Write the results here as JSON.")
_DTYPE = flags.DEFINE_list(
    "dtype", ["float32"], "Matmul dtypes (`dtype_mm`) to time, one table "
    "each: float32, bfloat16.")
# Of the four policies, the one with which Big Vision's own ViT-B/16 trains
# fastest on 2 CPU cores (5.3-5.6 s a step, against 6.0 s for
# everything_saveable and 6.3 s for nothing_saveable): it keeps the
# projections and recomputes the attention scores, [B, H, N, N] per layer.
_REMAT = flags.DEFINE_enum(
    "remat_policy", "dots_with_no_batch_dims_saveable",
    ["nothing_saveable", "dots_saveable", "dots_with_no_batch_dims_saveable",
     "everything_saveable"],
    "Remat policy of the scanned layers of both models' training steps.")
_INFERENCE_OPT = flags.DEFINE_bool(
    "inference_opt", True, "Also time the inference-optimised forward "
    "(`inference.prepare_inference`).")
_SAVED_MODEL = flags.DEFINE_bool(
    "saved_model", True, "ViT: also time the exported TF SavedModel "
    "(mone_plugin.export) at every budget, in TensorFlow, and the exported "
    "ONNX models in ONNX Runtime (when jax2onnx is installed).")


def _xla_flops(compiled):
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  return float(cost.get("flops", float("nan")))


def _time_round_robin(fns, args, reps):
  """Min wall time (ms) of each jitted fn, timed interleaved."""
  for f in fns.values():
    jax.block_until_ready(f(*args))  # Compile and warm up.
  times = {k: [] for k in fns}
  for _ in range(reps):
    for k, f in fns.items():
      t0 = time.perf_counter()
      jax.block_until_ready(f(*args))
      times[k].append(time.perf_counter() - t0)
  return {k: 1e3 * min(v) for k, v in times.items()}


def _time_forward_and_routing(model, params, x, budgets, tokens, router,
                              reps, inference_opt=False, reference=None,
                              inference_dtype=None):
  """Compiles and times the forward per budget, and router + EPR alone.

  Args:
    model: MoNE ViT or ViViT (`apply` returns (logits, aux), takes `e_c`).
    params: its variables.
    x: the input batch.
    budgets: e_c values (None: dense).
    tokens: [..., N, D] embedded tokens the router reads.
    router: name of the module holding the router ("Transformer", ...).
    reps: timed repetitions.
    inference_opt: also time the inference path, keys ("opt", e_c).
    reference: another forward f(x) to time beside them, key "reference".
    inference_dtype: the inference path's kernels are cast to it once
      (`inference.prepare_inference`); None keeps float32.

  Returns:
    ({e_c: compiled forward}, {e_c: min ms}, router + EPR min ms at the
    smallest MoNE budget).
  """
  def fwd(e_c, variables=params):  # Compiled once: timed, and asked for
    f = jax.jit(lambda p, x: model.apply(p, x, e_c=e_c)[0])  # XLA's FLOPs.
    return f.lower(variables, x).compile()

  caps = model.capacities(min(b for b in budgets if b is not None))

  @jax.jit
  def router_epr(p, t):
    w = p["params"][router]["router"]
    probs = jax.nn.softmax(t @ w["kernel"] + w["bias"])
    experts = routing.expert_preferred_routing(probs, caps)
    return routing.expert_sort_permutation(experts)

  fwds = {b: fwd(b) for b in budgets}
  if inference_opt:
    # Sliced once, outside the timed function, as at load or export time.
    opt = jax.block_until_ready(inference.prepare_inference(
        params["params"], dtype=inference_dtype))
    # Each compiled forward takes its own variables: wrap them in.
    fns = {b: functools.partial(f, params) for b, f in fwds.items()}
    fns.update({("opt", b): functools.partial(fwd(b, opt), opt)
                for b in budgets})
    if reference is not None:
      fns["reference"] = reference
    fwd_ms = _time_round_robin(fns, (x,), reps)
  else:
    fwd_ms = _time_round_robin(fwds, (params, x), reps)
  epr_ms = _time_round_robin({"epr": router_epr}, (params, tokens),
                             reps)["epr"]
  return fwds, fwd_ms, epr_ms


def time_saved_model(model, params, image_shape, batch, budgets, reps):
  """Min ms per budget of the exported SavedModel's signature, in TF."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  images = tf.constant(np.random.default_rng(0).integers(
      0, 256, (batch, *image_shape)).astype(np.uint8))
  with tempfile.TemporaryDirectory() as tmp:
    writers.save_saved_model(model, params, image_shape, budgets,
                             (-1.0, 1.0), tmp)
    loaded = tf.saved_model.load(tmp)
    fns = {b: loaded.signatures[forward.budget_name(b)] for b in budgets}
    for f in fns.values():
      f(images=images)["logits"].numpy()  # Compile and warm up.
    times = {b: [] for b in budgets}
    for _ in range(reps):
      for b, f in fns.items():
        t0 = time.perf_counter()
        f(images=images)["logits"].numpy()
        times[b].append(time.perf_counter() - t0)
  return {b: 1e3 * min(v) for b, v in times.items()}


def time_onnx(model, params, image_shape, batch, budgets, reps):
  """Min ms per budget of the exported ONNX models in ONNX Runtime, or None."""
  if not writers.onnx_available():
    logging.info("jax2onnx or onnxruntime not installed: ONNX not timed.")
    return None
  import onnxruntime as ort  # pylint: disable=g-import-not-at-top
  images = np.random.default_rng(0).integers(
      0, 256, (batch, *image_shape)).astype(np.uint8)
  with tempfile.TemporaryDirectory() as tmp:
    files = writers.save_onnx(model, params, image_shape, budgets,
                              (-1.0, 1.0), os.path.join(tmp, "onnx"))
    sessions = {b: ort.InferenceSession(os.path.join(tmp, f))
                for b, f in files.items()}
    for sess in sessions.values():
      sess.run(["logits"], {"images": images})  # Warm up.
    times = {b: [] for b in budgets}
    for _ in range(reps):
      for b, sess in sessions.items():
        t0 = time.perf_counter()
        sess.run(["logits"], {"images": images})
        times[b].append(time.perf_counter() - t0)
  return {b: 1e3 * min(v) for b, v in times.items()}


def _mm_dtype(dtype):
  """The inference path's kernel dtype for a `dtype_mm` (None: float32)."""
  return None if jnp.dtype(dtype) == jnp.float32 else dtype


def _big_vision_forward(variant, params, x, **model_kw):
  """Big Vision's own dense ViT on the same weights, f(x), or None."""
  if not frameworks.available("big_vision"):
    logging.info("Big Vision not found: its dense ViT is not timed.")
    return None
  frameworks.ensure("big_vision")
  import big_vision.models.vit as bv_vit  # pylint: disable=g-import-not-at-top
  model = bv_vit.Model(1000, variant=variant, **model_kw)
  enc = {k: v for k, v in params["params"]["Transformer"].items()
         if k not in ("router", "alpha")}
  bv_params = {"params": {**params["params"], "Transformer": enc}}
  f = jax.jit(lambda p, x: model.apply(p, x)[0]).lower(bv_params, x).compile()
  return functools.partial(f, bv_params)


def _big_vision_train_step(variant, params, x, labels, tx, **model_kw):
  """One SGD step of Big Vision's own dense ViT, f(x), or None.

  Args:
    variant: the ViT variant ("B/16").
    params: our variables of the same layout (`model_kw` as ours: scanned
      or not); the router and alpha are dropped.
    x: the batch.
    labels: one-hot labels.
    tx: the optax optimizer (the same as ours).
    **model_kw: Big Vision ViT fields (scan, remat_policy).
  """
  if not frameworks.available("big_vision"):
    return None
  frameworks.ensure("big_vision")
  import big_vision.models.vit as bv_vit  # pylint: disable=g-import-not-at-top
  model = bv_vit.Model(1000, variant=variant, **model_kw)
  enc = {k: v for k, v in params["params"]["Transformer"].items()
         if k not in ("router", "alpha")}
  bv_params = {"params": {**params["params"], "Transformer": enc}}
  return _train_step(model, bv_params, labels, tx, train=True)


def _train_step(model, params, labels, tx, **apply_kw):
  """f(x): one optimizer step of `model` from `params` (cross-entropy)."""
  opt_state = tx.init(params)

  def loss_fn(p, x):
    logits = model.apply(p, x, **apply_kw)[0]
    return optax.softmax_cross_entropy(logits, labels).mean()

  @jax.jit
  def step(p, x):
    grads = jax.grad(loss_fn)(p, x)
    updates, _ = tx.update(grads, opt_state, p)
    return optax.apply_updates(p, updates)
  return functools.partial(step, params)


def run(variant, image_size, batch, e_cs, reps, train=True,
        saved_model=False, inference_opt=False,
        remat_policy="dots_with_no_batch_dims_saveable", dtype="float32"):
  """Times dense and MoNE ViT; returns a list of result rows."""
  model = vit.Model(1000, variant=variant, e_c=None, dtype_mm=dtype)
  x = jax.random.normal(jax.random.PRNGKey(0), (batch, image_size,
                                                 image_size, 3))
  params = jax.jit(model.init)(jax.random.PRNGKey(1), x)
  # Big Vision's ViT beside our dense path (the reference of the ratios).
  reference = (_big_vision_forward(variant, params, x, dtype_mm=dtype)
               if inference_opt else None)
  cfg = dict(image_size=image_size, patch_size=model.patch_size[0],
             width=model.width, depth=model.depth, mlp_dim=model.mlp_dim,
             num_heads=model.num_heads, num_classes=1000)
  budgets = [None] + list(e_cs)

  # Training steps use the scanned layer stack (as Big Vision's large configs
  # do): one compiled layer body keeps compile times sane for ViT-B.
  train_model = model.clone(scan=True, remat_policy=remat_policy)
  train_params = jax.jit(train_model.init)(jax.random.PRNGKey(1), x)
  labels = jax.nn.one_hot(jnp.arange(batch) % 1000, 1000)
  tx = optax.sgd(1e-3)

  # Router + EPR alone, on the embedded tokens.
  tokens = jnp.zeros((batch, (image_size // model.patch_size[0]) ** 2,
                      model.width))
  fwds, fwd_ms, epr_ms = _time_forward_and_routing(
      model, params, x, budgets, tokens, "Transformer", reps, inference_opt,
      reference, _mm_dtype(dtype))
  step_ms = {}
  if train:
    steps = {b: _train_step(train_model, train_params, labels, tx, e_c=b)
             for b in budgets}
    if inference_opt:  # Big Vision's ViT, the same scan and remat as ours.
      ref = _big_vision_train_step(
          variant, train_params, x, labels, tx, scan=True,
          remat_policy=remat_policy, dtype_mm=dtype)
      if ref is not None:
        steps["reference"] = ref
    step_ms = _time_round_robin(steps, (x,), max(2, reps // 2))
  rows = _rows(budgets, fwds, fwd_ms, step_ms,
               lambda e: flops.vit_gflops(**cfg, e_c=e))
  if "reference" in fwd_ms:
    # The ratios again against Big Vision's ViT (the dense reference).
    rows[0]["big_vision_ms"] = bv_ms = fwd_ms["reference"]
    for r in rows:
      r["efficiency_vs_big_vision"] = bv_ms / r["fwd_ms"] / r["flop_ratio"]
      r["opt_efficiency_vs_big_vision"] = (
          bv_ms / r["opt_fwd_ms"] / r["flop_ratio"])
  if "reference" in step_ms:
    rows[0]["big_vision_train_ms"] = bv_ms = step_ms["reference"]
    for r in rows:
      r["train_efficiency_vs_big_vision"] = (
          bv_ms / r["train_ms"] / r["flop_ratio"])
  if saved_model and _mm_dtype(dtype) is not None:
    logging.info("dtype %s: the exported formats are timed in float32 only.",
                 dtype)
    saved_model = False
  if saved_model:
    tf_ms = time_saved_model(model, params["params"], x.shape[1:], batch,
                             budgets, reps)
    for r in rows:
      r["tf_ms"] = tf_ms[r["e_c"]]
      r["tf_speedup"] = tf_ms[None] / tf_ms[r["e_c"]]
    onnx_ms = time_onnx(model, params["params"], x.shape[1:], batch, budgets,
                        reps)
    for r in rows if onnx_ms else ():
      r["onnx_ms"] = onnx_ms[r["e_c"]]
      r["onnx_speedup"] = onnx_ms[None] / onnx_ms[r["e_c"]]
  return rows, epr_ms


def run_vivit(variant, image_size, num_frames, batch, e_cs, reps,
              inference_opt=False, dtype="float32"):
  """Times the dense and MoNE ViViT-FE forward; returns (rows, epr_ms)."""
  cfg = vit.decode_variant(variant)
  patch = cfg["patch_size"][0]
  kw = dict(spatial_mlp_dim=cfg["mlp_dim"], spatial_num_layers=cfg["depth"],
            spatial_num_heads=cfg["num_heads"],
            temporal_mlp_dim=cfg["mlp_dim"],
            temporal_num_layers=max(1, cfg["depth"] // 3),
            temporal_num_heads=cfg["num_heads"], hidden_size=cfg["width"],
            patches={"size": (patch, patch, 2)})
  model = vivit.SpaceTimeViViT(num_classes=400, e_c=None, dtype_mm=dtype,
                               **kw)
  x = jax.random.normal(jax.random.PRNGKey(0),
                        (batch, num_frames, image_size, image_size, 3))
  params = jax.jit(model.init)(jax.random.PRNGKey(1), x)
  budgets = [None] + list(e_cs)

  # Every frame (tubelet) is routed on its own.
  tokens = jnp.zeros((batch * (num_frames // 2), (image_size // patch) ** 2,
                      cfg["width"]))
  fwds, fwd_ms, epr_ms = _time_forward_and_routing(
      model, params, x, budgets, tokens, "SpatialTransformer", reps,
      inference_opt, inference_dtype=_mm_dtype(dtype))
  fcfg = dict(num_frames=num_frames, image_size=image_size,
              patch_size=patch, tubelet_size=2, width=cfg["width"],
              spatial_depth=cfg["depth"],
              temporal_depth=kw["temporal_num_layers"],
              mlp_dim=cfg["mlp_dim"], num_heads=cfg["num_heads"],
              num_classes=400)
  return _rows(budgets, fwds, fwd_ms, {},
               lambda e: flops.vivit_gflops(**fcfg, e_c=e)), epr_ms


def _rows(budgets, fwds, fwd_ms, step_ms, gflops_fn):
  """One result row per budget (None: dense, the reference)."""
  rows = []
  dense_gf, dense_xla = gflops_fn(None), _xla_flops(fwds[None])
  for b in budgets:
    gf = gflops_fn(b)
    ratio = dense_gf / gf
    row = dict(e_c=b, gflops=gf, flop_ratio=ratio,
               xla_flop_ratio=dense_xla / _xla_flops(fwds[b]),
               fwd_ms=fwd_ms[b], speedup=fwd_ms[None] / fwd_ms[b])
    row["efficiency"] = row["speedup"] / ratio
    if ("opt", b) in fwd_ms:  # Against the same dense reference.
      row["opt_fwd_ms"] = fwd_ms[("opt", b)]
      row["opt_speedup"] = fwd_ms[None] / fwd_ms[("opt", b)]
      row["opt_efficiency"] = row["opt_speedup"] / ratio
    if step_ms:
      row["train_ms"] = step_ms[b]
      row["train_speedup"] = step_ms[None] / step_ms[b]
      row["train_efficiency"] = row["train_speedup"] / ratio
    rows.append(row)
  return rows


def format_table(rows, epr_ms, header):
  lines = [header, "  e_c  GFLOPs/img  FLOP ratio (XLA)  fwd ms  speedup  "
           "efficiency  train ms  speedup  efficiency"]
  for r in rows:
    name = "dense" if r["e_c"] is None else f"{r['e_c']:.2f}"
    line = (f"{name:>5}  {r['gflops']:10.2f}  {r['flop_ratio']:5.2f} "
            f"({r['xla_flop_ratio']:5.2f})  {r['fwd_ms']:8.1f}  "
            f"{r['speedup']:6.2f}x  {r['efficiency']:10.2f}")
    if "train_ms" in r:
      line += (f"  {r['train_ms']:8.1f}  {r['train_speedup']:6.2f}x  "
               f"{r['train_efficiency']:10.2f}")
    if "opt_fwd_ms" in r:
      line += (f"  inference path {r['opt_fwd_ms']:8.1f} ms "
               f"{r['opt_speedup']:6.2f}x eff {r['opt_efficiency']:5.2f}")
    if "opt_efficiency_vs_big_vision" in r:
      line += (f"  eff vs BV ViT {r['efficiency_vs_big_vision']:5.2f} / "
               f"inference path {r['opt_efficiency_vs_big_vision']:5.2f}")
    if "train_efficiency_vs_big_vision" in r:
      line += (f"  train eff vs BV ViT "
               f"{r['train_efficiency_vs_big_vision']:5.2f}")
    if "tf_ms" in r:
      line += f"  TF SavedModel {r['tf_ms']:8.1f} ms {r['tf_speedup']:6.2f}x"
    if "onnx_ms" in r:
      line += (f"  ONNX Runtime {r['onnx_ms']:8.1f} ms "
               f"{r['onnx_speedup']:6.2f}x")
    lines.append(line)
  if "big_vision_ms" in rows[0]:
    lines.append(f"Big Vision's own dense ViT (same weights, same run): "
                 f"{rows[0]['big_vision_ms']:.1f} ms forward; dense above: "
                 f"{rows[0]['fwd_ms']:.1f} ms (eff vs BV ViT: forward "
                 "speedup over it / FLOP ratio)")
  if "big_vision_train_ms" in rows[0]:
    lines.append(f"Big Vision's own dense ViT train step (same weights, "
                 f"scan and remat): {rows[0]['big_vision_train_ms']:.1f} ms; "
                 f"dense above: {rows[0]['train_ms']:.1f} ms")
  smallest = min((r for r in rows if r["e_c"] is not None),
                 key=lambda r: r["fwd_ms"])
  lines.append(f"router + EPR: {epr_ms:.2f} ms = "
               f"{100 * epr_ms / smallest['fwd_ms']:.2f}% of the fastest MoNE "
               f"forward, {100 * epr_ms / rows[0]['fwd_ms']:.2f}% of dense")
  return "\n".join(lines)


def main(argv):
  del argv
  e_cs = [float(e) for e in _E_C.value]
  runs = []
  for dtype in _DTYPE.value:
    if _MODEL.value == "vivit":
      name = f"ViViT-FE-{_VARIANT.value}x2 {_FRAMES.value} frames"
      logging.info("Benchmarking %s (%s) on %s", name, dtype, jax.devices())
      rows, epr_ms = run_vivit(_VARIANT.value, _IMAGE_SIZE.value,
                               _FRAMES.value, _BATCH.value, e_cs, _REPS.value,
                               _INFERENCE_OPT.value, dtype)
    else:
      name = f"ViT-{_VARIANT.value}"
      logging.info("Benchmarking %s (%s) on %s", name, dtype, jax.devices())
      rows, epr_ms = run(_VARIANT.value, _IMAGE_SIZE.value, _BATCH.value,
                         e_cs, _REPS.value, _TRAIN.value, _SAVED_MODEL.value,
                         _INFERENCE_OPT.value, _REMAT.value, dtype)
    header = (f"{name} {_IMAGE_SIZE.value}px batch {_BATCH.value} "
              f"on {jax.devices()[0].platform} ({len(jax.devices())} "
              f"device(s), min of {_REPS.value} reps), matmuls in {dtype}")
    if _MODEL.value == "vit" and _TRAIN.value:
      header += f"; training steps: scanned layers, remat {_REMAT.value}"
    print(format_table(rows, epr_ms, header))
    runs.append({"header": header, "dtype": dtype, "rows": rows,
                 "epr_ms": epr_ms})
  if _JSON.value:
    if os.path.dirname(_JSON.value):
      os.makedirs(os.path.dirname(_JSON.value), exist_ok=True)
    with open(_JSON.value, "w") as f:  # One dtype: the one run, as before.
      json.dump(runs[0] if len(runs) == 1 else {"runs": runs}, f, indent=1)


if __name__ == "__main__":
  app.run(main)
