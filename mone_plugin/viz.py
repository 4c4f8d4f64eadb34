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

"""Routing maps: every token tinted by its expert, for images and clips.

One palette and one legend for both trainers and the results report: expert
i of E (0 = smallest) has width D / 2^(E-1-i) and the colour `colors(E)[i]`,
from dark purple (D/8 for E = 4) to yellow (D).

  overlay(inputs, experts, E)   -> [n, T', H, W, 3] tinted frames
  sheet(tinted)                 -> one image: a row per clip (a column per
                                   tubelet), or 8 images per row
  draw(inputs, experts, E)      -> that sheet with a legend of the expert
                                   widths, as an RGB array (summaries, PNG)
  add_legend(fig, E)            -> the legend on a matplotlib figure
  write(writer, dir, step, ...) -> `draw` as a summary, a PNG and the arrays
"""

import functools
import io
import math
import os
from typing import Optional

import matplotlib
import numpy as np

matplotlib.use("Agg")
from matplotlib import patches as mpatches  # pylint: disable=g-import-not-at-top,g-bad-import-order
from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top,g-bad-import-order

# Viridis at 5 points: the smallest expert dark, the full model yellow. E
# experts take E of them, evenly spread (E > 5 repeats neighbours).
PALETTE = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140],
                    [94, 201, 98], [253, 231, 37]], np.float32) / 255.


def colors(num_experts: int) -> np.ndarray:
  """[E, 3] RGB in [0, 1], smallest expert first."""
  if num_experts < 1:
    raise ValueError(f"num_experts={num_experts} must be >= 1.")
  steps = np.linspace(0, len(PALETTE) - 1, num_experts).round().astype(int)
  return PALETTE[steps]


def labels(num_experts: int) -> list[str]:
  """Expert widths, smallest first: ['D/8', 'D/4', 'D/2', 'D'] for E = 4."""
  return [f"D/{2 ** (num_experts - 1 - i)}" if i < num_experts - 1 else "D"
          for i in range(num_experts)]


def overlay(inputs, experts, num_experts: int, alpha: float = 0.55):
  """Frames in grey, each token tinted by the colour of its expert.

  Args:
    inputs: [n, H, W, C] images or [n, T, H, W, C] clips (any value range).
    experts: [n, h, w] (images) or [n, T', h, w] (clips, T' tubelets) expert
      of every token, 0 = smallest; h, w (and T') must divide H, W (and T).
    num_experts: E (sets the colours).
    alpha: opacity of the colour over the grey frame.

  Returns:
    float32 [n, T', H', W', 3] in [0, 1] (T' = 1 for images), H' = h * (H //
    h): the first input frame of every tubelet stands for it.
  """
  inputs = np.asarray(inputs, np.float32)
  experts = np.asarray(experts)
  if experts.ndim == 3 and inputs.ndim == 4:
    inputs, experts = inputs[:, None], experts[:, None]
  if experts.ndim != 4 or inputs.ndim != 5 or (
      experts.shape[0] != inputs.shape[0]):
    raise ValueError(f"experts {experts.shape} must be [n, h, w] for images "
                     f"[n, H, W, C] or [n, T', h, w] for clips [n, T, H, W, "
                     f"C]; inputs are {inputs.shape}.")
  n, t, big_h, big_w = inputs.shape[:4]
  tt, h, w = experts.shape[1:]
  if t % tt or big_h < h or big_w < w:
    raise ValueError(f"Routing map {experts.shape} does not tile the inputs "
                     f"{inputs.shape}.")
  if experts.size and (experts.min() < 0 or experts.max() >= num_experts):
    raise ValueError(f"experts must lie in [0, {num_experts - 1}]; got "
                     f"[{experts.min()}, {experts.max()}].")
  ph, pw = big_h // h, big_w // w
  frames = inputs[:, ::t // tt, :h * ph, :w * pw]
  grey = frames.mean(-1, keepdims=True)
  lo = grey.min(axis=(1, 2, 3, 4), keepdims=True)
  hi = grey.max(axis=(1, 2, 3, 4), keepdims=True)
  grey = (grey - lo) / np.maximum(hi - lo, 1e-6)
  tint = colors(num_experts)[experts]
  tint = tint.repeat(ph, axis=2).repeat(pw, axis=3)
  return ((1 - alpha) * grey + alpha * tint).astype(np.float32)


def tile(images, cols: int = 8, zoom: int = 1, pad: int = 1):
  """[B, H, W, C] -> one [rows*(H+pad), cols*(W+pad), C] image, white gaps."""
  images = np.asarray(images)
  images = images.repeat(zoom, axis=1).repeat(zoom, axis=2)
  b, h, w, c = images.shape
  cols = max(1, min(cols, b))
  rows = math.ceil(b / cols)
  canvas = np.ones((rows * (h + pad), cols * (w + pad), c), images.dtype)
  for i, img in enumerate(images):
    r, k = divmod(i, cols)
    canvas[r * (h + pad):r * (h + pad) + h,
           k * (w + pad):k * (w + pad) + w] = img
  return canvas


def sheet(tinted, cols: int = 8, zoom: Optional[int] = None):
  """`overlay`'s output as one image.

  Clips (T' > 1): a row per clip, a column per tubelet. Images: `cols` per
  row.

  Args:
    tinted: [n, T', H, W, 3] from `overlay`.
    cols: images per row (images only).
    zoom: integer upscaling (default: to at least 96 px per frame).
  """
  n, t, h = tinted.shape[:3]
  zoom = zoom or max(1, 96 // h)
  if t > 1:
    return tile(tinted.reshape(n * t, *tinted.shape[2:]), cols=t, zoom=zoom)
  return tile(tinted[:, 0], cols=cols, zoom=zoom)


def add_legend(fig, num_experts: int, **kwargs):
  """A legend of expert widths (D/8 .. D) under `fig`'s axes."""
  handles = [mpatches.Patch(color=c, label=l) for c, l in
             zip(colors(num_experts), labels(num_experts))]
  opts = dict(loc="lower center", ncol=num_experts, fontsize=8,
              frameon=False, title="expert width", title_fontsize=8)
  opts.update(kwargs)
  return fig.legend(handles=handles, **opts)


def draw(inputs, experts, num_experts: int, title: Optional[str] = None,
         cols: int = 8, dpi: int = 100) -> np.ndarray:
  """The routing maps of `inputs` as one picture with a legend.

  Args:
    inputs: as `overlay`.
    experts: as `overlay`.
    num_experts: E.
    title: drawn above the maps.
    cols: images per row (images only).
    dpi: resolution of the picture.

  Returns:
    uint8 [height, width, 3] RGB.
  """
  image = sheet(overlay(inputs, experts, num_experts), cols=cols)
  h, w = image.shape[:2]
  legend_h, title_h = 42, 16 if title else 0
  total = h + legend_h + title_h
  fig = plt.figure(figsize=(max(w, 300) / dpi, total / dpi), dpi=dpi)
  ax = fig.add_axes((0, legend_h / total, 1, h / total))
  ax.imshow(image, interpolation="nearest")
  ax.axis("off")
  if title:
    fig.suptitle(title, fontsize=8, y=0.995, va="top")
  add_legend(fig, num_experts)
  fig.canvas.draw()
  rgb = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
  plt.close(fig)
  return rgb


def write(writer, directory: Optional[str], step: int, name: str, inputs,
          experts, num_experts: int, *, open_fn=open, makedirs=None):
  """Draws the routing maps of one budget; writes a summary, PNG and arrays.

  Both trainers call this: the image summary `routing_maps_<name>` goes to
  `writer` (a CLU metric writer), `<directory>/step<step>_<name>.png` is the
  picture and `.npz` holds the `inputs` and `experts` behind it.

  Args:
    writer: has `write_images(step, {tag: [1, H, W, 3]})`; None: no summary.
    directory: where to write the files (None: no files).
    step: the training step.
    name: the budget's name (`budgets.name`).
    inputs: as `overlay`.
    experts: as `overlay`.
    num_experts: E.
    open_fn: opens a file for writing (e.g. `tf.io.gfile.GFile`, for cloud
      storage).
    makedirs: creates `directory` (default `os.makedirs`).

  Returns:
    The picture, uint8 [H, W, 3].
  """
  rgb = draw(inputs, experts, num_experts, title=f"routing, {name}")
  if writer is not None:
    writer.write_images(step, {f"routing_maps_{name}": rgb[None]})
  if directory:
    (makedirs or functools.partial(os.makedirs, exist_ok=True))(directory)
    base = os.path.join(directory, f"step{step:07d}_{name}")
    with open_fn(base + ".png", "wb") as f:
      plt.imsave(f, rgb, format="png")
    buf = io.BytesIO()
    np.savez_compressed(buf, inputs=np.asarray(inputs),
                        experts=np.asarray(experts))
    with open_fn(base + ".npz", "wb") as f:
      f.write(buf.getvalue())
  return rgb
