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

"""What every exported artifact computes, and the names it goes by.

An artifact takes uint8 images [B, H, W, C] (or clips [B, T, H, W, C]), any
B, and returns the logits, the probabilities and the expert of every patch
(or tubelet) at one budget: an e_c, or None for the dense model.
"""

import jax
import jax.numpy as jnp

from mone_plugin.serving import models

# The output names of every artifact, in the order ONNX lists them.
OUTPUTS = ("logits", "probabilities", "experts")
ACTIVATIONS = ("softmax", "sigmoid")  # Of the probabilities.


class ExportError(ValueError):
  """A bad workdir, budget or option, with a one-line explanation."""


def budget_name(e_c):
  """Signature and file name of a budget: "ec0.3", "ec1", "dense"."""
  return "dense" if e_c is None else f"ec{float(e_c):g}"


def default_budget(e_cs):
  """The largest budget of `e_cs` (dense above every e_c)."""
  return max(e_cs, key=lambda e: 2.0 if e is None else e)


def forward_fn(model, e_c, value_range, activation="softmax"):
  """f(variables, uint8 images or clips) -> dict(logits, probabilities, experts).

  `variables` are {"params": params} (the training forward) or
  `inference.prepare_inference(params)` (the inference path, as exported).
  `experts` is the expert map, [B, h, w] (images) or [B, T', h, w] (clips);
  `probabilities` the softmax of the logits, or their sigmoid
  (`activation="sigmoid"`, multi-label models).
  """
  vmin, vmax = value_range
  if activation not in ACTIVATIONS:
    raise ExportError(f"activation={activation!r} is not one of "
                      f"{ACTIVATIONS}.")

  def f(variables, images):
    x = vmin + images.astype(jnp.float32) / 255.0 * (vmax - vmin)
    logits, out = model.apply(variables, x, e_c=e_c)
    grid = models.token_grid(model, images.shape[1:])
    if "experts" in out:
      experts = out["experts"].reshape(-1, *grid)
    else:  # Dense: every token on the largest expert.
      # (zeros_like, not full: a symbolic batch must not become a constant.)
      batch = jnp.zeros_like(logits[:, 0], jnp.int32)
      experts = batch.reshape(-1, *(1,) * len(grid)) + jnp.full(
          grid, model.num_experts - 1, jnp.int32)
    logits32 = logits.astype(jnp.float32)
    probs = (jax.nn.sigmoid(logits32) if activation == "sigmoid"
             else jax.nn.softmax(logits32))
    return {"logits": logits32, "probabilities": probs,
            "experts": experts.astype(jnp.int32)}
  return f
