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

"""Compute budgets of a MoNE run: checks, e_c per step, evals per e_c.

A run's budgets come from `config.mone`:

  e_c             effective capacity used for training (None: the dense ViT).
  gflops          instead of e_c: a GFLOPs-per-image budget, turned into e_c
                  with `mone_plugin.flops.e_c_for_gflops`.
  e_c_train_grid  instead of e_c: e_c is drawn from this tuple at every step
                  (the paper's adaptive training); one jitted step per value.
  eval_e_c        budgets every evaluator runs at (default: the training ones);
                  the evaluator `val` becomes `val_ec0.5`, `val_ec1`, ...
  iso_flops       scale the number of steps so that training costs as many
                  FLOPs as the dense ViT's (train longer at low e_c).
  routing_maps    dict(num_images=8, log_steps=...) or None.
"""

import dataclasses
import math
from typing import Optional

import numpy as np

from mone_plugin import capacity as capacity_lib
from mone_plugin import flops as flops_lib

# Keys a MoNE training config must have (dotted paths).
REQUIRED = ("model_name", "num_classes", "input.batch_size", "input.data",
            "optax_name", "lr", "mone")
DURATIONS = ("total_steps", "total_epochs", "total_examples")


def _get(config, dotted):
  for key in dotted.split("."):
    if config is None or key not in config:
      return None
    config = config[key]
  return config


def check_config(config):
  """Fails fast, before any data or model is built, on a bad config."""
  missing = [k for k in REQUIRED if _get(config, k) is None]
  if not any(_get(config, k) is not None for k in DURATIONS):
    missing.append(" or ".join(DURATIONS))
  if missing:
    raise ValueError(f"Config is missing {missing}; a MoNE config needs all "
                     f"of {list(REQUIRED)} and one of {list(DURATIONS)}.")
  mone = config.mone
  given = [k for k in ("gflops", "e_c_train_grid")
           if mone.get(k) is not None]
  if len(given) > 1:
    raise ValueError(f"config.mone sets {given}: give at most one of gflops "
                     "and e_c_train_grid (and e_c is then ignored).")
  if mone.get("e_c_train_grid") is not None and not mone.e_c_train_grid:
    raise ValueError("config.mone.e_c_train_grid is empty; give a tuple of "
                     "e_c values or None.")
  if mone.get("gflops") is not None and (
      not isinstance(mone.gflops, (int, float)) or mone.gflops <= 0):
    raise ValueError(f"config.mone.gflops={mone.gflops!r} must be a positive "
                     "number of GFLOPs per image.")
  e_cs = list(mone.get("e_c_train_grid") or ()) + list(
      mone.get("eval_e_c") or ())
  if mone.get("gflops") is None and not mone.get("e_c_train_grid"):
    e_cs.append(mone.get("e_c"))
  model_cfg = config.get("model") or {}
  router = model_cfg.get("router_type", "learned")
  if router not in ("learned", "random"):
    raise ValueError(f"config.model.router_type={router!r} is unknown; "
                     "allowed: 'learned', 'random'.")
  for e_c in e_cs:
    if e_c is not None:  # None: the dense path.
      capacity_lib.capacity_distribution(
          e_c, model_cfg.get("num_experts", 4),
          model_cfg.get("capacity_method", "mone"))


def check_e_c(model, e_cs):
  """Raises a ValueError naming the allowed range for an infeasible e_c."""
  for e_c in e_cs:
    if e_c is not None:  # None: the dense path.
      capacity_lib.capacity_distribution(
          e_c, model.num_experts, model.capacity_method)


def flops_kwargs(model, image_shape):
  """Arguments of `flops.vit_gflops` for a `mone_plugin.vit` model.

  Args:
    model: the `_Model` instance.
    image_shape: (height, width, channels) of the model's input.
  """
  return dict(
      image_size=tuple(image_shape[:2]), channels=image_shape[2],
      patch_size=tuple(model.patch_size), width=model.width,
      depth=model.depth, mlp_dim=model.mlp_dim, num_heads=model.num_heads,
      num_classes=model.num_classes, num_experts=model.num_experts,
      capacity_method=model.capacity_method, pool_type=model.pool_type,
      rep_size=model.rep_size)


def gflops(model, image_shape, e_c):
  """GFLOPs per image at `e_c` (None: dense ViT)."""
  return flops_lib.vit_gflops(e_c=e_c, **flops_kwargs(model, image_shape))


@dataclasses.dataclass(frozen=True)
class Budgets:
  """The e_c values a run trains and evaluates at, and their costs."""
  train: tuple[Optional[float], ...]  # One value, or the sampled grid.
  eval: tuple[Optional[float], ...]
  gflops: dict[Optional[float], float]  # e_c -> GFLOPs per image.
  dense_gflops: float
  step_scale: float  # Multiplies the number of steps (isoFLOPs), else 1.

  def train_e_c(self, seed, step):
    """The e_c of training step `step` (a function of seed and step only)."""
    if len(self.train) == 1:
      return self.train[0]
    rng = np.random.default_rng([seed, step])
    return self.train[rng.integers(len(self.train))]


def resolve(config, model, image_shape):
  """Turns `config.mone` into the run's `Budgets` (after `check_config`)."""
  mone = config.mone
  kw = flops_kwargs(model, image_shape)
  if mone.get("e_c_train_grid"):
    train = tuple(float(e) for e in mone.e_c_train_grid)
  elif mone.get("gflops") is not None:
    train = (flops_lib.e_c_for_gflops(mone.gflops, model="vit", **kw),)
  else:
    e_c = mone.get("e_c")
    train = (None if e_c is None else float(e_c),)
  evals = mone.get("eval_e_c")
  evals = tuple(None if e is None else float(e) for e in evals) if evals else (
      tuple(sorted(set(train), key=lambda e: -1 if e is None else e)))
  costs = {e: flops_lib.vit_gflops(e_c=e, **kw) for e in set(train + evals)}
  dense = flops_lib.vit_gflops(e_c=None, **kw)
  scale = 1.0
  if mone.get("iso_flops"):
    scale = dense / np.mean([costs[e] for e in train])
  return Budgets(train, evals, costs, dense, float(scale))


def suffix(e_c):
  """Name suffix of the evaluator run at budget `e_c` ("" for dense)."""
  return "" if e_c is None else f"_ec{e_c:g}"


def evals_per_budget(evals, e_cs):
  """One copy of each evaluator per e_c, passing e_c to the predict fn.

  Uses Big Vision's own `pred_kw` mechanism of `evaluators.common`: the
  evaluator `val` at e_c=0.5 is `val_ec0.5`, writing `val_ec0.5/prec@1`.
  Evaluators with `per_e_c=False` (or their own `pred_kw`) run once.

  Args:
    evals: `config.evals` (a ConfigDict of evaluator configs).
    e_cs: budgets; None means the model's dense path.

  Returns:
    A dict of evaluator configs for `big_vision.evaluators.common`.
  """
  out = {}
  for name, cfg in evals.items():
    cfg = cfg.to_dict()
    if not cfg.pop("per_e_c", True) or "pred_kw" in cfg:
      out[name] = cfg
      continue
    for e_c in e_cs:
      c = dict(cfg, pred_kw={"e_c": e_c})
      c.setdefault("type", name)
      c["prefix"] = f"{cfg.get('prefix', name + '/').rstrip('/')}{suffix(e_c)}/"
      out[f"{name}{suffix(e_c)}"] = c
  return out


# One colour per expert, smallest first (extra experts repeat the last).
PALETTE = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140],
                    [94, 201, 98], [253, 231, 37]], np.float32) / 255.


def routing_maps(images, experts, grid, num_experts, alpha=0.55):
  """Tokens coloured by expert over their images.

  Args:
    images: [B, H, W, C] model inputs (any value range).
    experts: [B, h*w] expert index of each token, in spatial order.
    grid: (h, w) token grid.
    num_experts: E (sets the colour scale: dark = small, yellow = large).
    alpha: opacity of the colour over the grey image.

  Returns:
    float32 [B, H', W', 3] in [0, 1], H' = h * (H // h).
  """
  images = np.asarray(images, np.float32)
  b, hh, ww = images.shape[:3]
  h, w = grid
  ph, pw = hh // h, ww // w
  grey = images[:, :h * ph, :w * pw].mean(-1, keepdims=True)
  lo = grey.min(axis=(1, 2, 3), keepdims=True)
  hi = grey.max(axis=(1, 2, 3), keepdims=True)
  grey = (grey - lo) / np.maximum(hi - lo, 1e-6)
  steps = np.linspace(0, len(PALETTE) - 1, num_experts).round().astype(int)
  colours = PALETTE[steps][np.asarray(experts).reshape(b, h, w)]
  colours = colours.repeat(ph, axis=1).repeat(pw, axis=2)
  return (1 - alpha) * grey + alpha * colours


def tile(images, cols=8, zoom=1):
  """[B, H, W, C] -> one [rows*H, cols*W, C] image (padded with white).

  Args:
    images: the images to tile.
    cols: images per row.
    zoom: integer upscaling (nearest neighbour), for small images.
  """
  images = images.repeat(zoom, axis=1).repeat(zoom, axis=2)
  b, h, w, c = images.shape
  cols = min(cols, b)
  rows = math.ceil(b / cols)
  canvas = np.ones((rows * h, cols * w, c), images.dtype)
  for i, img in enumerate(images):
    r, k = divmod(i, cols)
    canvas[r * h:(r + 1) * h, k * w:(k + 1) * w] = img
  return canvas
