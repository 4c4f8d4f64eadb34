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
"""MoNE ViT: a Vision Transformer whose tokens are routed to nested experts.

The parameter tree is the one of Big Vision's `models/vit.py` (same module
names and shapes) plus `Transformer/router` and the scalar `Transformer/alpha`,
so a ViT checkpoint loads unchanged. With `e_c=1.0` (every token on the
largest expert) and alpha at its initial 0 it computes exactly that ViT;
with `e_c=None` it runs the dense ViT path and never calls the router.
With `mod_capacity` set it is the Mixture-of-Depths baseline instead
(`mone_plugin.mod`); with one-hot capacities as e_c, a nested (MatViT-style)
model of one expert's width.
"""

import dataclasses
from typing import Optional, Sequence, Union

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from mone_plugin import capacity
from mone_plugin import layers
from mone_plugin import mod


def posemb_sincos_2d(h, w, width, temperature=10_000., dtype=jnp.float32):
  """Fixed 2-D sin-cos position embedding (MoCo v3), [1, h*w, width]."""
  if width % 4:
    raise ValueError(f"width={width} must be a multiple of 4 for sincos2d.")
  y, x = jnp.mgrid[:h, :w]
  omega = 1. / temperature ** (jnp.arange(width // 4) / (width // 4 - 1))
  y = jnp.einsum("m,d->md", y.flatten(), omega)
  x = jnp.einsum("m,d->md", x.flatten(), omega)
  pe = jnp.concatenate([jnp.sin(x), jnp.cos(x), jnp.sin(y), jnp.cos(y)], 1)
  return jnp.asarray(pe, dtype)[None]


def get_posemb(module, typ, seqshape, width, name, dtype=jnp.float32):
  if typ == "learn":
    return module.param(name, nn.initializers.normal(stddev=1 / np.sqrt(width)),
                        (1, int(np.prod(seqshape)), width), dtype)
  if typ == "sincos2d":
    return posemb_sincos_2d(*seqshape, width, dtype=dtype)
  raise ValueError(f"posemb={typ!r} is unknown; allowed: 'learn', 'sincos2d'.")


class MAPHead(nn.Module):
  """Multihead attention pooling (dense: it sees pooled features only)."""
  mlp_dim: Optional[int] = None
  num_heads: int = 12

  @nn.compact
  def __call__(self, x):
    n, _, d = x.shape
    probe = self.param("probe", nn.initializers.xavier_uniform(),
                       (1, 1, d), x.dtype)
    x = nn.MultiHeadDotProductAttention(
        num_heads=self.num_heads,
        kernel_init=nn.initializers.xavier_uniform())(
            jnp.tile(probe, [n, 1, 1]), x)
    y = nn.LayerNorm()(x)
    mlp = layers.NestedMlpBlock(d, self.mlp_dim, name="MlpBlock_0")
    return (x + mlp([y])[0])[:, 0]


class _Model(nn.Module):
  """MoNE ViT model (Big Vision ViT options plus the MoNE ones)."""

  num_classes: Optional[int] = None
  patch_size: Sequence[int] = (16, 16)
  width: int = 768
  depth: int = 12
  mlp_dim: Optional[int] = None  # Defaults to 4x input dim.
  num_heads: int = 12
  posemb: str = "learn"  # Can also be "sincos2d".
  rep_size: Union[int, bool] = False
  dropout: float = 0.0
  pool_type: str = "gap"  # Can also be "map", "tok", "0" or "none".
  head_zeroinit: bool = True
  scan: bool = False
  remat_policy: str = "nothing_saveable"
  dtype_mm: str = "float32"
  # Regularisers Big Vision's ViT lacks (Scenic's ViT has them): dropout of
  # attention weights, and stochastic depth (per example, rate growing
  # linearly to `droplayer` over depth; kept branches divided by 1 - rate
  # with `droplayer_rescale`), see `layers.MoneEncoder`.
  attention_dropout: float = 0.0
  droplayer: float = 0.0
  droplayer_rescale: bool = False
  # MoNE.
  num_experts: int = 4
  e_c: Optional[float] = 1.0  # None: the dense ViT path.
  capacity_method: str = "mone"
  router_type: str = "learned"
  router_noise: float = 0.0  # Training only; see `router.Router.noise`.
  # Mixture-of-Depths baseline (`mone_plugin.mod`): every `mod_every`-th
  # block processes only the top `mod_capacity` of the tokens. None: MoNE.
  # A MoD model has no nested experts: it runs with e_c=None only.
  mod_capacity: Optional[float] = None
  mod_every: int = 2
  # Implementation choices, the same model within float rounding
  # (`layers.MoneEncoder`): kernel "xla" or "pallas" (the nested Pallas
  # kernel, GPU/TPU); None takes `inference.default_choices`.
  kernel: str = "xla"
  attention_impl: Optional[str] = None
  fuse_qkv: Optional[bool] = None
  merge_small_groups: Optional[int] = None

  def capacities(self, e_c):
    """Static capacities of a budget: an e_c, E capacities or None (dense).

    One-hot capacities on expert j make the width-d_j nested model
    (MatViT-style, see `budgets.nested_budgets`).
    """
    if e_c is None:
      return None
    if isinstance(e_c, (tuple, list)):
      if len(e_c) != self.num_experts:
        raise ValueError(f"capacities={tuple(e_c)} must have one entry per "
                         f"expert ({self.num_experts}).")
      return capacity.as_static(e_c)
    return capacity.as_static(capacity.capacity_distribution(
        e_c, self.num_experts, self.capacity_method))

  def flops_kwargs(self, image_shape):
    """Arguments of `flops.vit_gflops` (but e_c) for images [H, W, C]."""
    return dict(
        image_size=tuple(image_shape[:2]), channels=image_shape[2],
        patch_size=tuple(self.patch_size), width=self.width,
        depth=self.depth, mlp_dim=self.mlp_dim, num_heads=self.num_heads,
        num_classes=self.num_classes, num_experts=self.num_experts,
        capacity_method=self.capacity_method, pool_type=self.pool_type,
        rep_size=self.rep_size,
        **({} if self.mod_capacity is None else dict(
            mod_capacity=self.mod_capacity, mod_every=self.mod_every)))

  @nn.compact
  def __call__(self, image, *, train=False, e_c=capacity.CONFIGURED):
    """Returns (logits, out); `e_c` overrides the configured budget."""
    e_c = self.e_c if e_c is capacity.CONFIGURED else e_c
    capacities = self.capacities(e_c)
    out = {"capacities": capacities}

    image = jnp.asarray(image, self.dtype_mm)
    x = out["stem"] = nn.Conv(
        self.width, self.patch_size, strides=self.patch_size,
        padding="VALID", name="embedding", dtype=self.dtype_mm)(image)
    n, h, w, c = x.shape
    x = jnp.reshape(x, [n, h * w, c])
    # Posemb before the class token, as Big Vision does. The router reads
    # these embedded tokens [choice].
    x = out["with_posemb"] = x + get_posemb(
        self, self.posemb, (h, w), c, "pos_embedding", x.dtype)
    prefix = 0
    if self.pool_type == "tok":
      cls = self.param("cls", nn.initializers.zeros, (1, 1, c), x.dtype)
      x = jnp.concatenate([jnp.tile(cls, [n, 1, 1]), x], axis=1)
      prefix = 1
    x = nn.Dropout(rate=self.dropout)(x, not train)

    if self.mod_capacity is not None:
      if capacities is not None:
        raise ValueError(
            f"e_c={e_c!r}: a Mixture-of-Depths model (mod_capacity="
            f"{self.mod_capacity}) has no nested experts; run it with "
            "e_c=None.")
      if self.kernel != "xla":
        raise ValueError(f"kernel={self.kernel!r}: a Mixture-of-Depths model "
                         "has no nested projections; allowed: 'xla'.")
      x, enc = mod.MoDEncoder(
          depth=self.depth, mlp_dim=self.mlp_dim, num_heads=self.num_heads,
          dropout=self.dropout, capacity=self.mod_capacity,
          every=self.mod_every, scan=self.scan, dtype_mm=self.dtype_mm,
          attention_dropout=self.attention_dropout,
          droplayer_rate=self.droplayer,
          droplayer_rescale=self.droplayer_rescale,
          name="Transformer")(x, deterministic=not train,
                              num_prefix_tokens=prefix)
    else:
      x, enc = layers.MoneEncoder(
          depth=self.depth, mlp_dim=self.mlp_dim, num_heads=self.num_heads,
          dropout=self.dropout, num_experts=self.num_experts,
          router_type=self.router_type, router_noise=self.router_noise,
          scan=self.scan,
          remat_policy=self.remat_policy, dtype_mm=self.dtype_mm,
          attention_dropout=self.attention_dropout,
          droplayer_rate=self.droplayer,
          droplayer_rescale=self.droplayer_rescale, kernel=self.kernel,
          attention_impl=self.attention_impl, fuse_qkv=self.fuse_qkv,
          merge_small_groups=self.merge_small_groups,
          name="Transformer")(x, capacities=capacities,
                              deterministic=not train,
                              num_prefix_tokens=prefix)
    out["encoder"] = enc
    if "experts" in enc:
      out["experts"], out["router_probs"] = enc["experts"], enc["router_probs"]
    encoded = out["encoded"] = x

    if self.pool_type == "map":
      x = out["head_input"] = MAPHead(
          num_heads=self.num_heads, mlp_dim=self.mlp_dim)(x)
    elif self.pool_type == "gap":
      x = out["head_input"] = jnp.mean(x, axis=1)
    elif self.pool_type == "0":
      x = out["head_input"] = x[:, 0]
    elif self.pool_type == "tok":
      x = out["head_input"] = x[:, 0]
      encoded = encoded[:, 1:]
    elif self.pool_type != "none":
      raise ValueError(f"pool_type={self.pool_type!r} is unknown; allowed: "
                       "'gap', 'map', 'tok', '0', 'none'.")

    x_2d = jnp.reshape(encoded, [n, h, w, -1])
    if self.rep_size:
      rep_size = self.width if self.rep_size is True else self.rep_size
      hid = nn.Dense(rep_size, name="pre_logits")
      x_2d = nn.tanh(hid(x_2d))
      x = nn.tanh(hid(x))
    out["pre_logits_2d"] = x_2d
    out["pre_logits"] = x

    if self.num_classes:
      kw = {"kernel_init": nn.initializers.zeros} if self.head_zeroinit else {}
      head = nn.Dense(self.num_classes, name="head", **kw)
      out["logits_2d"] = head(x_2d)
      x = out["logits"] = head(x)
    return x, out


def Model(num_classes=None, *, variant=None, **kw):  # pylint: disable=invalid-name
  """Factory: `Model(1000, variant="B/16", e_c=0.4)`."""
  return _Model(num_classes, **{**decode_variant(variant), **kw})


def model_options():
  """The names of the options `Model` takes (a config.model may set them)."""
  return tuple(f.name for f in dataclasses.fields(_Model)
               if f.name not in ("parent", "name"))


# Reference: Table 2 of https://arxiv.org/abs/2106.04560 (as Big Vision).
_WIDTH = {"mu": 32, "Ti": 192, "S": 384, "M": 512, "B": 768, "L": 1024,
          "So400m": 1152, "H": 1280, "g": 1408, "G": 1664}
_DEPTH = {"mu": 1, "Ti": 12, "S": 12, "M": 12, "B": 12, "L": 24,
          "So400m": 27, "H": 32, "g": 40, "G": 48}
_MLP = {"mu": 128, "Ti": 768, "S": 1536, "M": 2048, "B": 3072, "L": 4096,
        "So400m": 4304, "H": 5120, "g": 6144, "G": 8192}
_HEADS = {"mu": 2, "Ti": 3, "S": 6, "M": 8, "B": 12, "L": 16, "So400m": 16,
          "H": 16, "g": 16, "G": 16}


def decode_variant(variant):
  """Converts "B" or "B/16" into model kwargs."""
  if variant is None:
    return {}
  v, patch = variant, {}
  if "/" in variant:
    v, p = variant.split("/", 1)
    if not p.isdigit() or int(p) < 1:
      raise ValueError(f"variant={variant!r}: the patch size {p!r} must be a "
                       "positive integer, as in 'B/16'.")
    patch = {"patch_size": (int(p), int(p))}
  if v not in _WIDTH:
    raise ValueError(f"variant={variant!r}: unknown size {v!r}; allowed: "
                     f"{sorted(_WIDTH)} (optionally '/<patch>').")
  return {"width": _WIDTH[v], "depth": _DEPTH[v], "mlp_dim": _MLP[v],
          "num_heads": _HEADS[v], **patch}
