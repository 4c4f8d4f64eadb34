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

"""The MoNE models the export serves, none of them importing a framework.

  - `mone_plugin.vit.Model`: Big Vision's parameter layout (Big Vision runs
    and Scenic runs in Big Vision's vocabulary), every `posemb` and
    `pool_type` it has;
  - `ScenicViT`: the MoNE ViT of Scenic's vocabulary (`projects/mone/model.py`
    `MoneScenicViT`: Scenic's parameter names, every Scenic `classifier` and
    `positional_embedding`), written again here with the few Scenic layers it
    uses (position embeddings, MAP head) so that serving needs no Scenic;
  - `mone_plugin.vivit.SpaceTimeViViT`: MoNE ViViT (clips [B, T, H, W, C]).

Each is called as `model.apply(variables, x, e_c=...)` -> (logits, out), with
`out["experts"]` (not on the dense path); `token_grid` gives the shape of the
expert map of one example.
"""

from typing import Optional

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from mone_plugin import capacity
from mone_plugin import layers
from mone_plugin import vit
from mone_plugin import vivit

# Scenic `classifier` -> the core ViT's pooling (for FLOP counts), as
# `projects/mone/model.py` maps them.
SCENIC_CLASSIFIERS = {"token": "tok", "0": "0", "gap": "gap", "gmp": "gap",
                      "gsp": "gap", "map": "map", "none": "none"}
SCENIC_POSITIONAL_EMBEDDINGS = ("learned_1d", "sinusoidal_1d",
                                "sinusoidal_2d", "none")


def sinusoidal_1d(length, width, max_timescale=1.0e4):
  """Scenic's fixed 1-D position embedding (`sinusoidal_init`), [1, L, D]."""
  pe = np.zeros((length, width), np.float32)
  position = np.arange(length)[:, None]
  div = np.exp(np.arange(0, width, 2) * -(np.log(max_timescale) / width))
  pe[:, 0::2] = np.sin(position * div)
  pe[:, 1::2] = np.cos(position * div)
  return jnp.asarray(pe[None])


def sincos_2d(h, w, width, temperature=10_000.0):
  """Scenic's fixed 2-D sin-cos embedding, [1, h * w, D].

  (`get_fixed_sincos_position_embedding`: its frequencies differ from Big
  Vision's `posemb_sincos_2d`, which divides by width/4 - 1, not width/4.)
  """
  if width % 4:
    raise ValueError(f"width={width} must be a multiple of 4 for "
                     "sinusoidal_2d.")
  omega = jnp.arange(width // 4, dtype=jnp.float32) / (width / 4)
  omega = 1.0 / temperature ** omega
  y, x = jnp.mgrid[:h, :w]
  y = jnp.einsum("m,d->md", y.flatten(), omega)
  x = jnp.einsum("m,d->md", x.flatten(), omega)
  return jnp.concatenate([jnp.sin(x), jnp.cos(x), jnp.sin(y), jnp.cos(y)],
                         axis=1)[None]


class _LearnedPosemb(nn.Module):
  """Scenic's `AddPositionEmbs` (param `pos_embedding`, [1, L, D])."""

  @nn.compact
  def __call__(self, x):
    return x + self.param("pos_embedding", nn.initializers.normal(0.02),
                          (1, *x.shape[1:]), x.dtype)


class _ScenicEncoder(nn.Module):
  """The `Transformer` scope of `MoneScenicViT`: position embedding + blocks."""
  depth: int
  mlp_dim: Optional[int]
  num_heads: int
  positional_embedding: str
  grid: tuple
  num_experts: int
  router_type: str
  dtype_mm: str

  def setup(self):
    if self.positional_embedding == "learned_1d":
      self.posembed_input = _LearnedPosemb()
    self.encoder = layers.MoneEncoder(
        depth=self.depth, mlp_dim=self.mlp_dim, num_heads=self.num_heads,
        num_experts=self.num_experts, router_type=self.router_type,
        droplayer_rescale=True, dtype_mm=self.dtype_mm)
    nn.share_scope(self, self.encoder)

  def __call__(self, x, *, capacities, num_prefix_tokens):
    typ, p = self.positional_embedding, num_prefix_tokens
    _, n, c = x.shape
    if typ == "learned_1d":
      x = self.posembed_input(x)
    elif typ == "sinusoidal_1d":  # Over the whole sequence, class token too.
      x = x + sinusoidal_1d(n, c).astype(x.dtype)
    elif typ == "sinusoidal_2d":  # Over the patches only.
      pe = sincos_2d(*self.grid, c).astype(x.dtype)
      x = jnp.concatenate([x[:, :p], x[:, p:] + pe], axis=1)
    return self.encoder(x, capacities=capacities, deterministic=True,
                        num_prefix_tokens=p)


class _ScenicMAPHead(nn.Module):
  """Scenic's `MAPHead` (its parameter names and its MLP)."""
  mlp_dim: int
  num_heads: int

  @nn.compact
  def __call__(self, x):
    n, _, d = x.shape
    probe = self.param("probe", nn.initializers.xavier_uniform(), (1, 1, d),
                       x.dtype)
    x = nn.MultiHeadDotProductAttention(num_heads=self.num_heads)(
        jnp.tile(probe, [n, 1, 1]), x)
    y = nn.LayerNorm()(x)
    return x[:, 0] + _ScenicMlp(self.mlp_dim, name="MlpBlock_0")(y)[:, 0]


class _ScenicMlp(nn.Module):
  """Scenic's `attention_layers.MlpBlock` at inference (gelu, no dropout)."""
  mlp_dim: int

  @nn.compact
  def __call__(self, x):
    y = nn.gelu(nn.Dense(self.mlp_dim, name="Dense_0")(x))
    return nn.Dense(x.shape[-1], name="Dense_1")(y)


class ScenicViT(vit._Model):  # pylint: disable=protected-access
  """`MoneScenicViT` at inference, without Scenic.

  The core fields keep Big Vision's names (`width`, `depth`, ...);
  `pool_type` is the core's pooling of `classifier` (for FLOP counts).
  """
  classifier: str = "gap"
  positional_embedding: str = "learned_1d"

  @nn.compact
  def __call__(self, image, *, train=False, e_c=capacity.CONFIGURED):
    del train
    e_c = self.e_c if e_c is capacity.CONFIGURED else e_c
    out = {"capacities": self.capacities(e_c)}
    x = nn.Conv(self.width, tuple(self.patch_size),
                strides=tuple(self.patch_size), padding="VALID",
                name="embedding", dtype=self.dtype_mm)(
                    jnp.asarray(image, self.dtype_mm))
    n, h, w, c = x.shape
    x = jnp.reshape(x, [n, h * w, c])
    prefix = int(self.classifier == "token")
    if prefix:
      cls = self.param("cls", nn.initializers.zeros, (1, 1, c), x.dtype)
      x = jnp.concatenate([jnp.tile(cls, [n, 1, 1]), x], axis=1)
    x, enc = _ScenicEncoder(
        depth=self.depth, mlp_dim=self.mlp_dim, num_heads=self.num_heads,
        positional_embedding=self.positional_embedding, grid=(h, w),
        num_experts=self.num_experts, router_type=self.router_type,
        dtype_mm=self.dtype_mm, name="Transformer")(
            x, capacities=out["capacities"], num_prefix_tokens=prefix)
    if "experts" in enc:
      out["experts"] = enc["experts"]
    if self.classifier in ("token", "0"):
      x = x[:, 0]
    elif self.classifier in ("gap", "gmp", "gsp"):
      x = {"gap": jnp.mean, "gmp": jnp.max, "gsp": jnp.sum}[
          self.classifier](x, axis=1)
    elif self.classifier == "map":
      x = _ScenicMAPHead(num_heads=self.num_heads, mlp_dim=self.mlp_dim,
                         name="MAPHead_0")(x)
    if self.rep_size:
      x = nn.tanh(nn.Dense(self.rep_size, name="pre_logits")(x))
    out["pre_logits"] = x
    if self.num_classes:
      x = nn.Dense(self.num_classes, name="output_projection")(x)
    return x, out


def token_grid(model, input_shape):
  """The expert map of one example: (h, w) for images, (T', h, w) for clips."""
  if isinstance(model, vivit.SpaceTimeViViT):
    fh, fw, ft = tuple(vivit._get(model.patches, "size", (16, 16, 2)))  # pylint: disable=protected-access
    t, hh, ww = input_shape[:3]
    return (t // ft, hh // fh, ww // fw)
  ph, pw = model.patch_size
  return (input_shape[0] // ph, input_shape[1] // pw)
