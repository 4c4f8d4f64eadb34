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
"""The MoNE router and alpha, the scale through which the router learns.

One router at the encoder's input gives every token a softmax over the
experts (docs/method.md §2); Expert Preferred Routing (`routing.py`) turns it
into assignments. The chosen probability r scales the token's MLP branch by
(alpha r + 1), the router's only path to a gradient.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp


class Router(nn.Module):
  """Per-token softmax over the experts: r = softmax(W_r x + b_r)."""
  num_experts: int
  router_type: str = "learned"  # Or "random" (an ablation of the paper).
  # Training only (when a "router" rng is given): Gumbel noise of this scale
  # on the learned logits, so that every kind of token sometimes takes every
  # expert [choice: 0, the paper's deterministic router]. A router that always
  # sends the same tokens to the same expert leaves the experts' outputs for a
  # token mutually untrained, and the model collapses away from its budget.
  noise: float = 0.0

  @nn.compact
  def __call__(self, x):
    w = self.param("kernel", nn.initializers.lecun_normal(),
                   (x.shape[-1], self.num_experts))
    b = self.param("bias", nn.initializers.zeros, (self.num_experts,))
    logits = jnp.dot(x, w) + b
    if self.router_type == "random":
      # Random scores, fresh per call when a "router" rng is given.
      key = (self.make_rng("router") if self.has_rng("router")
             else jax.random.PRNGKey(0))
      logits = jax.random.normal(key, logits.shape) + 0 * logits
    elif self.router_type != "learned":
      raise ValueError(f"router_type={self.router_type!r} is unknown; "
                       "allowed: 'learned', 'random'.")
    elif self.noise and self.has_rng("router"):
      logits = logits + self.noise * jax.random.gumbel(
          self.make_rng("router"), logits.shape, logits.dtype)
    return jax.nn.softmax(logits.astype(jnp.float32), axis=-1)


@jax.custom_jvp
def _reflect(a):
  """|a|, with derivative +1 at a = 0 so that alpha can leave its init."""
  return jnp.abs(a)


@_reflect.defjvp
def _reflect_jvp(primals, tangents):
  (a,), (da,) = primals, tangents
  return jnp.abs(a), jnp.where(a < 0, -da, da)


def effective_alpha(raw):
  """The alpha the forward uses, from the raw parameter: tanh(|raw|).

  The router learns only through alpha * r, so alpha must never sit on a
  boundary where its value is 0 for a whole range of raw values: a clip to
  [0, 1) (our first choice) left raw alpha at -0.2..-0.6 after training, the
  forward at 0, and the router's gradient at exactly 0 for good. tanh(|raw|)
  is in [0, 1), is 0 only at raw = 0, and its slope there is 1: when the loss
  pushes alpha down, raw alpha bounces around 0 (|alpha| ~ learning rate), and
  the router keeps a gradient of the right sign, which Adam rescales
  [choice: reflection].

  Args:
    raw: the `alpha` parameter (any float, initialised to 0).

  Returns:
    alpha in [0, 1), same dtype as `raw`.
  """
  return jnp.tanh(_reflect(raw))


def router_metrics(params, grads):
  """alpha and the router's gradient norm of every routed encoder.

  Both trainers log these: the router learns only through alpha * r, and a
  router whose gradient is 0 has stopped learning (docs/method.md §2).

  Args:
    params: a model's parameter tree (nested dicts).
    grads: the gradient of the loss, same tree.

  Returns:
    {"alpha/<encoder>": effective alpha, "l2_router_grads/<encoder>": norm},
    one pair per encoder holding `router` and `alpha` (`Transformer` in a ViT,
    `SpatialTransformer` in a ViViT, whose temporal transformer runs dense and
    never uses its router, so it is left out).
  """
  out = {}

  def visit(p, g, path):
    if not hasattr(p, "keys"):
      return
    if "router" in p and "alpha" in p:
      if path.endswith("TemporalTransformer"):
        return
      gs = jax.tree.leaves(g["router"])
      out[f"alpha/{path}"] = effective_alpha(p["alpha"])
      out[f"l2_router_grads/{path}"] = jnp.sqrt(
          sum(jnp.sum(jnp.square(x)) for x in gs))
      return
    for k in p.keys():
      visit(p[k], g[k], f"{path}/{k}" if path else k)

  visit(params, grads, "")
  return out
