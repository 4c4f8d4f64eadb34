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
"""Mixture-of-Depths encoder (Raposo et al., 2024), a baseline of MoNE.

As the MoNE paper configures it (its best reported MoD): every other block
processes only the top `capacity` (12.5%) of the tokens by a learned router
score; the other tokens skip that block through the residual, unchanged. The
remaining blocks process all tokens. The router is a Dense to one score per
token, one per routed block; the processed tokens' block output is scaled by
sigmoid(score), so that the router gets a gradient [choice: MoD scales by the
raw score; its sigmoid keeps the scale in (0, 1), at 0.5 at initialisation].
Attention in a routed block runs among the processed tokens only.

The blocks are `layers.MoneEncoderBlock` on one full-width group, i.e. Big
Vision's ViT blocks with their parameter names, so a ViT checkpoint loads
(the routers keep their init). Use it through `mone_plugin.vit` with
`mod_capacity` set.
"""

from typing import Optional

import flax.linen as nn
import jax
import jax.numpy as jnp

from mone_plugin import capacity
from mone_plugin import layers


def is_routed(layer, every=2):
  """Whether block `layer` (0-based) is a MoD block: the 2nd, 4th, ..."""
  return layer % every == every - 1


def _full_width(x):
  """All channels of every token as one group of `layers.MoneEncoderBlock`."""
  zeros = jnp.zeros(x.shape[:-1] + (1,), jnp.float32)
  return layers.Group(h=x, tail_sum=zeros, tail_sumsq=zeros, mlp_scale=None)


class MoDEncoder(nn.Module):
  """ViT encoder whose every `every`-th block processes only the top tokens.

  The first `num_prefix_tokens` tokens (a class token) are never routed: every
  block processes them, as MoNE does [choice].
  """
  depth: int
  mlp_dim: Optional[int] = None
  num_heads: int = 12
  dropout: float = 0.0
  capacity: float = 0.125
  every: int = 2
  scan: bool = False
  dtype_mm: str = "float32"
  attention_dropout: float = 0.0
  droplayer_rate: float = 0.0
  droplayer_rescale: bool = False

  @nn.compact
  def __call__(self, x, *, deterministic=True, num_prefix_tokens=0):
    if self.scan:
      raise ValueError("Mixture-of-Depths alternates routed and full blocks: "
                       "it runs them in a Python loop; set scan=False.")
    if not isinstance(self.every, int) or self.every < 1:
      raise ValueError(f"mod_every={self.every!r} must be an integer >= 1.")
    if not 0.0 <= self.droplayer_rate < 1.0:
      raise ValueError(f"droplayer_rate={self.droplayer_rate} is not "
                       "allowed; allowed: 0 <= rate < 1.")
    out = {}
    b, _, width = x.shape
    p = num_prefix_tokens
    k = capacity.top_k_tokens(self.capacity, x.shape[1] - p)
    block_kw = dict(width=width, mlp_dim=self.mlp_dim,
                    num_heads=self.num_heads, dropout=self.dropout,
                    dtype_mm=self.dtype_mm,
                    attention_dropout=self.attention_dropout,
                    droplayer_rescale=self.droplayer_rescale)
    for lyr in range(self.depth):
      # Stochastic depth as `layers.MoneEncoder`: linear in depth from 0.
      rate = (self.droplayer_rate * lyr / max(self.depth - 1, 1)
              if self.droplayer_rate else None)
      block = layers.MoneEncoderBlock(name=f"encoderblock_{lyr}", **block_kw)
      if not is_routed(lyr, self.every):
        (g,), _ = block([_full_width(x)], deterministic, rate)
        x = g.h
        out[f"block{lyr:02d}"] = {"+mlp": x}
        continue
      tokens = x[:, p:]
      score = nn.Dense(1, name=f"router_{lyr}")(tokens)[..., 0]
      top, idx = jax.lax.top_k(score, k)  # [B, k]: static shapes.
      h = jnp.concatenate(
          [x[:, :p], jnp.take_along_axis(tokens, idx[..., None], axis=1)], 1)
      (g,), _ = block([_full_width(h)], deterministic, rate)
      delta = g.h - h  # The block's residual branches (attention + MLP).
      gate = jax.nn.sigmoid(top.astype(jnp.float32))[..., None]
      # Only the chosen tokens change; the others skip the block exactly.
      tokens = tokens.at[jnp.arange(b)[:, None], idx].add(
          (delta[:, p:] * gate).astype(tokens.dtype))
      x = jnp.concatenate([x[:, :p] + delta[:, :p], tokens], axis=1)
      out[f"block{lyr:02d}"] = {"+mlp": x, "mod_tokens": idx,
                                "mod_scores": score}
    out["pre_ln"] = x
    return nn.LayerNorm(name="encoder_norm")(x), out
