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

r"""Classifies image files with an exported MoNE model, at a chosen budget.

  python -m mone_plugin.predict --export=EXPORT_DIR --budget=0.3 a.png b.jpg

Prints the top-5 classes of every image and writes its routing map (every
patch tinted by the width of its expert, with a legend) to
`--out_dir/<image>.routing_<budget>.png`. Needs TensorFlow only (the export
of `mone_plugin.export`), not JAX, Big Vision or Scenic. Images are decoded
(PNG, JPEG, GIF, BMP) and resized to the export's input size as the training
input pipeline did (bilinear, then clipped and cast to uint8).
"""

import json
import os
import sys

from absl import app
from absl import flags
import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # pylint: disable=g-import-not-at-top,g-bad-import-order

from mone_plugin import viz  # pylint: disable=g-import-not-at-top,g-bad-import-order

MANIFEST = "manifest.json"


class PredictError(ValueError):
  """A bad export, budget or image, with a one-line explanation."""


def _budget_name(budget):
  if str(budget).lower() == "dense":
    return "dense"
  try:
    return f"ec{float(budget):g}"
  except ValueError:
    raise PredictError(f"--budget={budget!r} is not a number or 'dense'."
                       ) from None


class Predictor:
  """An exported MoNE model at one budget: uint8 images -> outputs."""

  def __init__(self, export_dir, budget):
    path = os.path.join(export_dir, MANIFEST)
    if not os.path.isdir(export_dir):
      raise PredictError(f"--export={export_dir} does not exist.")
    try:
      with open(path) as f:
        self.manifest = json.load(f)
      self.budgets = {b["name"]: b for b in self.manifest["budgets"]}
    except (OSError, ValueError, KeyError, TypeError) as e:
      raise PredictError(
          f"--export={export_dir} is not a MoNE export: {path} is missing or "
          f"unreadable ({type(e).__name__}); rerun mone_plugin.export."
          ) from None
    name = _budget_name(budget)
    if name not in self.budgets:
      raise PredictError(
          f"--budget={budget} was not exported; {export_dir} has "
          f"{sorted(self.budgets)} (e_c "
          f"{[b['e_c'] for b in self.manifest['budgets']]}).")
    self.budget = self.budgets[name]
    inp = self.manifest["input"]
    self.shape = (inp["height"], inp["width"], inp["channels"])
    self._dir, self._fn = export_dir, None

  def load(self):
    """Loads the SavedModel (else done by the first call)."""
    if self._fn is not None:
      return self
    try:
      model = tf.saved_model.load(os.path.join(self._dir, "saved_model"))
      self._fn = model.signatures[self.budget["signature"]]
    except Exception as e:  # pylint: disable=broad-exception-caught
      raise PredictError(
          f"--export={self._dir}: its SavedModel cannot be loaded "
          f"({type(e).__name__}: {str(e).strip().splitlines()[0][:200]}); "
          "rerun mone_plugin.export.") from None
    self._model = model
    return self

  def __call__(self, images):
    """uint8 [B, H, W, C] -> dict of numpy logits, probabilities, experts."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1:] != self.shape:
      raise PredictError(
          f"images of shape {images.shape} do not fit this export: it takes "
          f"[B, {', '.join(map(str, self.shape))}] uint8.")
    if images.dtype != np.uint8:
      raise PredictError(f"images are {images.dtype}; the export takes uint8 "
                         "pixels in [0, 255].")
    out = self.load()._fn(images=tf.constant(images))
    return {k: v.numpy() for k, v in out.items()}

  def class_name(self, i):
    names = self.manifest.get("class_names")
    return names[i] if names and i < len(names) else str(i)


def load_image(path, shape, resize=True):
  """An image file as uint8 [H, W, C] at the export's input size."""
  try:
    data = tf.io.read_file(path)
  except Exception:  # pylint: disable=broad-exception-caught
    raise PredictError(f"{path}: cannot be read.") from None
  try:
    image = tf.io.decode_image(data, expand_animations=False)
  except Exception:  # pylint: disable=broad-exception-caught
    raise PredictError(f"{path} is not an image (PNG, JPEG, GIF or BMP)."
                       ) from None
  h, w, c = shape
  if image.shape[-1] != c:
    raise PredictError(f"{path} has {image.shape[-1]} channels; the model "
                       f"takes {c} ({'grayscale' if c == 1 else 'RGB'}).")
  if tuple(image.shape[:2]) != (h, w):
    if not resize:
      raise PredictError(f"{path} is {image.shape[0]}x{image.shape[1]} px; "
                         f"the model takes {h}x{w} (or pass --resize).")
    # As Big Vision's resize op: bilinear, clip, cast back to uint8.
    image = tf.image.resize(image, (h, w), method="bilinear")
    image = tf.cast(tf.clip_by_value(image, 0, 255), tf.uint8)
  return image.numpy()


def write_overlay(path, image, experts, num_experts, title):
  """The routing map of one image (with a legend of expert widths) as PNG."""
  rgb = viz.draw(image[None], experts[None], num_experts, title=title)
  tf.io.write_file(path, tf.io.encode_png(rgb))


def predict(export_dir, budget, paths, out_dir=".", top=5, resize=True):
  """Prints the top classes of each image and writes its routing map."""
  model = Predictor(export_dir, budget)
  images = np.stack([load_image(p, model.shape, resize) for p in paths])
  out = model.load()(images)
  os.makedirs(out_dir, exist_ok=True)
  b = model.budget
  results = []
  for path, image, probs, experts in zip(paths, images, out["probabilities"],
                                         out["experts"]):
    order = np.argsort(-probs, kind="stable")[:top]
    classes = [(model.class_name(i), float(probs[i])) for i in order]
    stem = os.path.splitext(os.path.basename(path))[0]
    overlay = os.path.join(out_dir, f"{stem}.routing_{b['name']}.png")
    write_overlay(overlay, image, experts, model.manifest["num_experts"],
                  f"{stem}: {classes[0][0]} (e_c {b['e_c']}, "
                  f"{1e3 * b['gflops']:.3g} MFLOPs)")
    print(f"{path} (e_c={b['e_c']}):  " + "  ".join(
        f"{name} {p:.3f}" for name, p in classes), flush=True)
    results.append({"path": path, "top": classes, "overlay": overlay,
                    "classes": [int(i) for i in order]})
  return results


def main(argv):
  paths = argv[1:]
  if not paths:
    raise app.UsageError("Give one or more image files.")
  f = flags.FLAGS
  try:
    predict(f.export, f.budget, paths, f.out_dir, f.top, f.resize)
  except PredictError as e:
    sys.exit(f"mone_plugin.predict: error: {e}")


if __name__ == "__main__":
  flags.DEFINE_string("export", None, "Directory of mone_plugin.export.")
  flags.DEFINE_string("budget", None, "e_c of an exported budget, or 'dense'.")
  flags.DEFINE_string("out_dir", ".", "Where the routing maps go.")
  flags.DEFINE_integer("top", 5, "Classes printed per image.")
  flags.DEFINE_bool("resize", True, "Resize images to the model's input size "
                    "(as training did); false: a size mismatch is an error.")
  flags.mark_flags_as_required(["export", "budget"])
  app.run(main)
