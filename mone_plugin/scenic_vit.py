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

"""MoNE ViT with Scenic's ViT parameter layout, without Scenic.

`ScenicViT` has the parameter names, initialisers and computation of Scenic's
ViT (`projects/baselines/vit.py`) over MoNE blocks, with the few Scenic layers
it uses (position embeddings, MAP head) written here, so that the export
serves it without Scenic. `projects/mone/model.py` (`MoneScenicViT`) gives it
Scenic's model contract.
"""

from typing import Optional

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from mone_plugin import capacity
from mone_plugin import layers
from mone_plugin import vit

# Scenic `classifier` -> the core ViT's pooling (and its FLOP count).
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


class AddPositionEmbs(nn.Module):
  """Scenic's `AddPositionEmbs` (param `pos_embedding`, [1, L, D])."""

  @nn.compact
  def __call__(self, x):
    return x + self.param("pos_embedding", nn.initializers.normal(0.02),
                          (1, *x.shape[1:]), x.dtype)


class ScenicEncoder(nn.Module):
  """Scenic's ViT `Encoder` (position embedding, dropout) over MoNE blocks.

  Parameters sit where Scenic's ViT has them: `posembed_input/pos_embedding`
  (added after the class token, as Scenic does), then the blocks,
  `encoder_norm`, `router` and `alpha` of the core encoder in this scope.
  Stochastic depth is Scenic's `stochastic_depth` (rescaled, as timm).
  """
  depth: int
  mlp_dim: Optional[int]
  num_heads: int
  positional_embedding: str = "learned_1d"
  dropout: float = 0.0
  attention_dropout: float = 0.0
  droplayer: float = 0.0
  num_experts: int = 4
  router_type: str = "learned"
  dtype_mm: str = "float32"
  kernel: str = "xla"

  def setup(self):
    if self.positional_embedding == "learned_1d":
      self.posembed_input = AddPositionEmbs()
    self.drop = nn.Dropout(rate=self.dropout)
    self.encoder = layers.MoneEncoder(
        depth=self.depth, mlp_dim=self.mlp_dim, num_heads=self.num_heads,
        dropout=self.dropout, attention_dropout=self.attention_dropout,
        droplayer_rate=self.droplayer, droplayer_rescale=True,
        num_experts=self.num_experts, router_type=self.router_type,
        dtype_mm=self.dtype_mm, kernel=self.kernel)
    nn.share_scope(self, self.encoder)

  def __call__(self, x, *, grid, capacities=None, deterministic=True,
               num_prefix_tokens=0):
    """`grid`: the (h, w) of the patches (after `num_prefix_tokens`)."""
    typ, p = self.positional_embedding, num_prefix_tokens
    _, n, c = x.shape
    if typ == "learned_1d":
      x = self.posembed_input(x)
    elif typ == "sinusoidal_1d":  # Over the whole sequence, class token too.
      x = x + sinusoidal_1d(n, c).astype(x.dtype)
    elif typ == "sinusoidal_2d":  # Over the patches only.
      pe = sincos_2d(*grid, c).astype(x.dtype)
      x = jnp.concatenate([x[:, :p], x[:, p:] + pe], axis=1)
    x = self.drop(x, deterministic)
    # The router reads the tokens after position embedding [choice].
    return self.encoder(x, capacities=capacities, deterministic=deterministic,
                        num_prefix_tokens=p)


class MlpBlock(nn.Module):
  """Scenic's `attention_layers.MlpBlock` without dropout (as `MAPHead`)."""
  mlp_dim: int

  @nn.compact
  def __call__(self, x):
    dense = lambda d, name: nn.Dense(  # pylint: disable=g-long-lambda
        d, kernel_init=nn.initializers.xavier_uniform(),
        bias_init=nn.initializers.normal(stddev=1e-6), name=name)
    y = nn.gelu(dense(self.mlp_dim, "Dense_0")(x))
    return dense(x.shape[-1], "Dense_1")(y)


class MAPHead(nn.Module):
  """Scenic's `MAPHead` (multihead attention pooling)."""
  mlp_dim: int
  num_heads: int

  @nn.compact
  def __call__(self, x):
    n, _, d = x.shape
    probe = self.param("probe", nn.initializers.xavier_uniform(), (1, 1, d),
                       x.dtype)
    x = nn.MultiHeadDotProductAttention(
        num_heads=self.num_heads,
        kernel_init=nn.initializers.xavier_uniform())(
            jnp.tile(probe, [n, 1, 1]), x)
    y = nn.LayerNorm()(x)
    return x[:, 0] + MlpBlock(self.mlp_dim, name="MlpBlock_0")(y)[:, 0]


class ScenicViT(vit._Model):  # pylint: disable=protected-access
  """MoNE ViT with Scenic's ViT parameter names (`baselines/vit.py`).

  `embedding`, `cls`, `Transformer` (`posembed_input`, `encoderblock_{i}`,
  `encoder_norm`, plus `router`, `alpha`), `MAPHead_0`, `pre_logits` and
  `output_projection`: a Scenic ViT checkpoint loads unchanged. The core
  fields keep Big Vision's names (`width`, `depth`, ...; `pool_type` is the
  core's pooling of `classifier`, for FLOP counts).
  """
  classifier: str = "gap"
  positional_embedding: str = "learned_1d"

  @nn.compact
  def forward(self, image, *, train=False, e_c=capacity.CONFIGURED):
    """(logits, out): `out` has `capacities`, `experts` (not on the dense
    path), `encoded` tokens, the patch `grid` (h, w) and `pre_logits`."""
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
    x, enc = ScenicEncoder(
        depth=self.depth, mlp_dim=self.mlp_dim, num_heads=self.num_heads,
        positional_embedding=self.positional_embedding, dropout=self.dropout,
        attention_dropout=self.attention_dropout, droplayer=self.droplayer,
        num_experts=self.num_experts, router_type=self.router_type,
        dtype_mm=self.dtype_mm, kernel=self.kernel, name="Transformer")(
            x, grid=(h, w), capacities=out["capacities"],
            deterministic=not train, num_prefix_tokens=prefix)
    out.update(enc)
    out["encoded"] = x
    out["grid"] = (h, w)
    if self.classifier in ("token", "0"):
      x = x[:, 0]
    elif self.classifier in ("gap", "gmp", "gsp"):
      x = {"gap": jnp.mean, "gmp": jnp.max, "gsp": jnp.sum}[
          self.classifier](x, axis=1)
    elif self.classifier == "map":
      x = MAPHead(num_heads=self.num_heads, mlp_dim=self.mlp_dim,
                  name="MAPHead_0")(x)
    if self.rep_size:
      x = nn.tanh(nn.Dense(self.rep_size, name="pre_logits")(x))
    out["pre_logits"] = x
    if self.num_classes:
      x = nn.Dense(self.num_classes, kernel_init=nn.initializers.zeros,
                   name="output_projection")(x)
    return x, out

  def __call__(self, image, *, train=False, e_c=capacity.CONFIGURED):
    return self.forward(image, train=train, e_c=e_c)
