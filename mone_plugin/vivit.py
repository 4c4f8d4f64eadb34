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
"""MoNE ViViT: the factorised encoder with nested experts in space.

The parameter tree is the one of Scenic's `SpaceTimeViViT`
(`scenic/projects/vivit/model.py`, attention type "factorized_encoder"):
`embedding` (3D tubelet Conv, kernel [t, h, w, C, D]), `cls_SpatialTransformer`
and `cls_TemporalTransformer` (with classifier="token"),
`SpatialTransformer` and `TemporalTransformer` (each
`posembed_input/pos_embedding`, `encoderblock_{i}`, `encoder_norm`), an
optional `pre_logits` and `output_projection`; plus `router` and the scalar
`alpha` in both transformers (the temporal ones are unused: it runs dense). So
a Scenic ViViT checkpoint loads unchanged, and with e_c=1.0 (every token on the
largest expert) and alpha at its initial 0 this model computes that ViViT.

The spatial transformer is MoNE (`layers.MoneEncoder`), routing each frame on
its own: frames move into the batch axis, and EPR fills every frame's expert
buckets. The class token is never routed. The temporal transformer runs at full
capacity on one token per frame.
"""

import importlib
from typing import Any, Optional

import flax.linen as nn
import jax.numpy as jnp

from mone_plugin import capacity
from mone_plugin import flops
from mone_plugin import frameworks
from mone_plugin import layers

CLASSIFIERS = ("token", "gap", "gmp", "gsp", "0")
_POOL = {"gap": jnp.mean, "gmp": jnp.max, "gsp": jnp.sum}


def _get(config, key, default=None):
  """Reads a field of a ConfigDict, a dict or None."""
  if config is None:
    return default
  return config.get(key, default)


class _PositionEmbedding(nn.Module):
  """Learned 1D position embedding over the whole sequence (as Scenic's)."""

  @nn.compact
  def __call__(self, x):
    pe = self.param("pos_embedding", nn.initializers.normal(stddev=0.02),
                    (1, *x.shape[1:]), x.dtype)
    return x + pe


class Transformer(nn.Module):
  """Scenic's ViViT `Encoder` layout around `layers.MoneEncoder`.

  Scenic keeps the position embedding inside the encoder
  (`<name>/posembed_input`) and adds it after the class token; the blocks,
  `encoder_norm`, `router` and `alpha` of the MoneEncoder share this module's
  scope, so they sit beside it as in Scenic's checkpoints.
  """
  depth: int
  mlp_dim: Optional[int] = None
  num_heads: int = 12
  dropout: float = 0.0
  num_experts: int = 4
  router_type: str = "learned"
  dtype_mm: str = "float32"
  attention_dropout: float = 0.0
  droplayer_rate: float = 0.0
  kernel: str = "xla"

  def setup(self):
    self.posembed_input = _PositionEmbedding()
    # Stochastic depth as ViViT's: per example, not rescaled.
    self.encoder = layers.MoneEncoder(
        depth=self.depth, mlp_dim=self.mlp_dim, num_heads=self.num_heads,
        dropout=self.dropout, num_experts=self.num_experts,
        router_type=self.router_type, dtype_mm=self.dtype_mm,
        attention_dropout=self.attention_dropout,
        droplayer_rate=self.droplayer_rate, kernel=self.kernel)
    nn.share_scope(self, self.encoder)
    self.drop = nn.Dropout(rate=self.dropout)

  def __call__(self, x, *, capacities=None, deterministic=True,
               num_prefix_tokens=0):
    # The router reads the tokens after position embedding [choice].
    x = self.drop(self.posembed_input(x), deterministic)
    return self.encoder(x, capacities=capacities, deterministic=deterministic,
                        num_prefix_tokens=num_prefix_tokens)


def _tubelet_kernel_init(method):
  if method is None:
    return nn.initializers.lecun_normal()  # flax's (and Scenic's) default.
  if method in ("central_frame_initializer", "average_frame_initializer"):
    frameworks.ensure("scenic")
    model_utils = importlib.import_module("scenic.projects.vivit.model_utils")
    return getattr(model_utils, method)()
  raise ValueError(
      f"temporal_encoding_config.kernel_init_method={method!r} is unknown; "
      "allowed: None, 'central_frame_initializer', "
      "'average_frame_initializer'.")


class SpaceTimeViViT(nn.Module):
  """MoNE ViViT factorised encoder (fields as Scenic's, plus MoNE's).

  `patches`, `temporal_encoding_config` and `attention_config` are Scenic's
  ConfigDicts (dicts or None also work): `patches.size` is (h, w, t) as in
  Scenic's configs. Defaults are ViViT-B/16x2 FE.
  """

  spatial_mlp_dim: int = 3072
  spatial_num_layers: int = 12
  spatial_num_heads: int = 12
  temporal_mlp_dim: int = 3072
  temporal_num_layers: int = 4
  temporal_num_heads: int = 12
  num_classes: Optional[int] = None
  patches: Any = None  # None: size (16, 16, 2).
  hidden_size: int = 768
  temporal_encoding_config: Any = None  # None: method "3d_conv".
  attention_config: Any = None  # None: type "factorized_encoder".
  representation_size: Optional[int] = None
  dropout_rate: float = 0.0
  attention_dropout_rate: float = 0.0
  stochastic_droplayer_rate: float = 0.0
  classifier: str = "token"
  dtype_mm: str = "float32"
  # MoNE.
  num_experts: int = 4
  e_c: Optional[float] = 1.0  # None: the dense ViViT path.
  capacity_method: str = "mone"
  router_type: str = "learned"
  kernel: str = "xla"  # Or "pallas": see `layers.MoneEncoder`.

  def capacities(self, e_c):
    if e_c is None:
      return None
    return capacity.as_static(capacity.capacity_distribution(
        e_c, self.num_experts, self.capacity_method))

  def _check_config(self):
    method = _get(self.temporal_encoding_config, "method", "3d_conv")
    if method != "3d_conv":
      raise ValueError(f"temporal_encoding_config.method={method!r} is not "
                       "supported by MoNE ViViT; allowed: '3d_conv'.")
    typ = _get(self.attention_config, "type", "factorized_encoder")
    if typ != "factorized_encoder":
      raise ValueError(f"attention_config.type={typ!r} is not supported by "
                       "MoNE ViViT; allowed: 'factorized_encoder'.")
    if _get(self.attention_config, "spatial_only_baseline", False):
      raise ValueError("attention_config.spatial_only_baseline=True is not "
                       "supported by MoNE ViViT.")
    if self.classifier not in CLASSIFIERS:
      raise ValueError(f"classifier={self.classifier!r} is unknown; allowed: "
                       f"{CLASSIFIERS}.")
    if not 0.0 <= self.stochastic_droplayer_rate < 1.0:
      raise ValueError(
          f"stochastic_droplayer_rate={self.stochastic_droplayer_rate} is "
          "not allowed; allowed: 0 <= rate < 1.")

  def _pool(self, x):
    if self.classifier in ("token", "0"):
      return x[:, 0]
    return _POOL[self.classifier](x, axis=1)

  @nn.compact
  def __call__(self, x, *, train=False, e_c=capacity.CONFIGURED, debug=False):
    """Returns (logits, out); `e_c` overrides the configured budget.

    Args:
      x: [B, T, H, W, C] clip.
      train: dropout on.
      e_c: effective capacity of the spatial transformer (a static python
        float), None for the dense path; omitted: the configured `e_c`.
      debug: unused (Scenic's signature).

    Returns:
      logits [B, num_classes] (pre-logits without `num_classes`), and a dict
      with "capacities", "experts" int32 [B, T', h*w] (per frame, spatial
      token order) and "router_probs" [B, T', h*w, E] (not on the dense
      path), "frame_tokens" [B, T', D] and "pre_logits".
    """
    del debug
    self._check_config()
    e_c = self.e_c if e_c is capacity.CONFIGURED else e_c
    capacities = self.capacities(e_c)
    out = {"capacities": capacities}

    fh, fw, ft = tuple(_get(self.patches, "size", (16, 16, 2)))
    x = nn.Conv(
        self.hidden_size, (ft, fh, fw), strides=(ft, fh, fw),
        padding="VALID", name="embedding", dtype=self.dtype_mm,
        kernel_init=_tubelet_kernel_init(_get(
            self.temporal_encoding_config, "kernel_init_method")))(x)
    b, t, h, w, d = x.shape
    # Frames into the batch axis: each frame is routed on its own.
    x = jnp.reshape(x, [b * t, h * w, d])

    def encode(x, name, capacities, **kw):
      prefix = 0
      if self.classifier == "token":
        cls = self.param(f"cls_{name}", nn.initializers.zeros, (1, 1, d),
                         x.dtype)
        x = jnp.concatenate([jnp.tile(cls, [x.shape[0], 1, 1]), x], axis=1)
        prefix = 1
      x, enc = Transformer(
          dropout=self.dropout_rate, num_experts=self.num_experts,
          router_type=self.router_type, dtype_mm=self.dtype_mm, name=name,
          attention_dropout=self.attention_dropout_rate,
          droplayer_rate=self.stochastic_droplayer_rate, kernel=self.kernel,
          **kw)(x, capacities=capacities, deterministic=not train,
                num_prefix_tokens=prefix)
      return self._pool(x), enc

    x, enc = encode(x, "SpatialTransformer", capacities,
                    depth=self.spatial_num_layers,
                    mlp_dim=self.spatial_mlp_dim,
                    num_heads=self.spatial_num_heads)
    if "experts" in enc:
      out["experts"] = jnp.reshape(enc["experts"], [b, t, h * w])
      out["router_probs"] = jnp.reshape(enc["router_probs"],
                                        [b, t, h * w, -1])
    x = out["frame_tokens"] = jnp.reshape(x, [b, t, d])
    x, _ = encode(x, "TemporalTransformer", None,
                  depth=self.temporal_num_layers,
                  mlp_dim=self.temporal_mlp_dim,
                  num_heads=self.temporal_num_heads)

    if self.representation_size is not None:
      x = nn.tanh(nn.Dense(self.representation_size, name="pre_logits")(x))
    out["pre_logits"] = x
    if self.num_classes:
      x = out["logits"] = nn.Dense(
          self.num_classes, kernel_init=nn.initializers.zeros,
          name="output_projection")(x)
    return x, out

  def flops_kwargs(self, clip_shape):
    """Arguments of `flops.vivit_gflops` (but e_c) for clips [T, H, W, C]."""
    fh, fw, ft = tuple(_get(self.patches, "size", (16, 16, 2)))
    num_frames, height, width, channels = clip_shape
    return dict(
        num_frames=num_frames, image_size=(height, width), patch_size=(fh, fw),
        tubelet_size=ft, width=self.hidden_size,
        spatial_depth=self.spatial_num_layers,
        temporal_depth=self.temporal_num_layers,
        mlp_dim=self.spatial_mlp_dim, temporal_mlp_dim=self.temporal_mlp_dim,
        num_heads=self.spatial_num_heads, num_classes=self.num_classes,
        num_experts=self.num_experts, capacity_method=self.capacity_method,
        classifier=self.classifier,
        representation_size=self.representation_size, channels=channels)

  def gflops(self, clip_shape, e_c=capacity.CONFIGURED):
    """Analytic GFLOPs per clip of shape [T, H, W, C] (see `flops.py`)."""
    return flops.vivit_gflops(
        e_c=self.e_c if e_c is capacity.CONFIGURED else e_c,
        **self.flops_kwargs(clip_shape))
