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

"""MoNE ViViT (factorised encoder) video classification model for Scenic.

The spatial transformer routes the tokens of every frame to nested experts;
the temporal transformer runs at full capacity. Parameter names are those of
Scenic's ViViT `SpaceTimeViViT`, so `init_from` uses ViViT's own
initialisation (`vivit.model_utils.initialise_from_train_state`: tubelet
kernel inflation, position-embedding resize or tile) from an image
checkpoint: a nested MoNE ViT of this project or a plain ViT, in Scenic's or
Big Vision's parameter layout.
"""

from typing import Any

import flax
import ml_collections
import numpy as np
from scenic.model_lib.base_models import classification_model
from scenic.projects.vivit import model_utils as vivit_model_utils

from mone_plugin import budgets as budgets_lib
from mone_plugin import vivit
from projects.mone import model as mone_model


def _tubelet_size(patches):
  """(h, w, t) of `patches` (a ConfigDict, a dict or None: ViViT-B/16x2)."""
  return tuple((patches or {}).get('size', (16, 16, 2)))


class MoneViViT(vivit.SpaceTimeViViT):
  """MoNE ViViT-FE with Scenic's call signature (see `model.py`, budgets)."""

  def capacities(self, e_c):
    return mone_model.resolve_capacities(e_c, self.num_experts,
                                         self.capacity_method)

  def __call__(self, x, *, train: bool, debug: bool = False,
               budget: Any = mone_model.CONFIGURED):
    logits, _ = super().__call__(x, train=train, debug=debug,
                                 **mone_model.e_c_kwargs(budget))
    return logits

  def routing(self, x, *, budget: Any = mone_model.CONFIGURED):
    """Expert (0 = smallest) of every token, per frame: [B, T', h, w]."""
    _, out = super().__call__(x, train=False,
                              **mone_model.e_c_kwargs(budget))
    if 'experts' not in out:
      raise ValueError('The dense path (budget None) routes no token.')
    fh, fw, _ = _tubelet_size(self.patches)
    b, t = out['experts'].shape[:2]
    return out['experts'].reshape(b, t, x.shape[2] // fh, x.shape[3] // fw)


def bv_to_scenic_vit(params, classifier):
  """Big Vision ViT parameter layout -> Scenic's (`baselines/vit.py`).

  Big Vision keeps the position embedding at the top (`pos_embedding`, no
  class-token row) and calls the classifier `head`; Scenic keeps it in
  `Transformer/posembed_input` and calls it `output_projection`. A Big Vision
  class token `cls` becomes the spatial one of ViViT.

  Args:
    params: Parameter dict of a Big Vision (or MoNE) ViT.
    classifier: ViViT's `classifier` of the target model.

  Returns:
    The parameter dict in Scenic's layout.
  """
  params = dict(flax.core.unfreeze(params))
  transformer = dict(params.pop('Transformer', {}))
  if 'pos_embedding' in params:
    transformer['posembed_input'] = {
        'pos_embedding': params.pop('pos_embedding')}
  if transformer:
    params['Transformer'] = transformer
  if 'head' in params:
    params['output_projection'] = params.pop('head')
  if 'cls' in params:
    cls = params.pop('cls')
    if classifier == 'token':
      params['cls_SpatialTransformer'] = cls
  return params


def _is_big_vision_layout(params):
  return 'pos_embedding' in params or 'head' in params


def _spatial_shape_problems(target, restored):
  """Mismatches between image weights and the spatial transformer's."""
  problems = []
  flat_t = flax.traverse_util.flatten_dict(target['SpatialTransformer'])
  flat_r = flax.traverse_util.flatten_dict(restored['Transformer'])
  for key, value in flat_r.items():
    name = '/'.join(key)
    if key[0] == 'posembed_input':
      ok = np.shape(value)[-1] == np.shape(flat_t[key])[-1]
    elif key in flat_t:
      ok = np.shape(value) == np.shape(flat_t[key])
    else:
      problems.append(f'Transformer/{name} has no counterpart in the model')
      continue
    if not ok:
      problems.append(f'Transformer/{name}: checkpoint {np.shape(value)} vs '
                      f'model {np.shape(flat_t[key])}')
  if 'embedding' in restored:
    want = np.shape(target['embedding']['kernel'])
    got = np.shape(restored['embedding']['kernel'])
    if got != want and got != want[1:]:
      problems.append(f'embedding/kernel: checkpoint {got} vs model {want} '
                      '(or its one-frame shape)')
  return problems


class MoneViViTClassificationModel(classification_model.ClassificationModel):
  """MoNE ViViT-FE for n-way video classification.

  `config.model` is ViViT's factorised-encoder config (`hidden_size`,
  `patches.size` (h, w, t), `spatial_transformer`, `temporal_transformer`,
  `classifier`, `temporal_encoding_config`, `attention_config`, ...) plus the
  MoNE fields `e_c` (None: dense ViViT; or `config.mone.e_c`, or the e_c of
  `config.mone.gflops`),
  `num_experts`, `capacity_method` and `router_type`. Stochastic depth
  (`stochastic_droplayer_rate`) and `attention_dropout_rate` are ViViT's.
  """

  def build_flax_model(self) -> MoneViViT:
    m = self.config.model
    mone = mone_model.mone_fields(dict(m), self.config.get('mone'))
    module = MoneViViT(
        num_classes=self.dataset_meta_data['num_classes'],
        spatial_mlp_dim=m.spatial_transformer.mlp_dim,
        spatial_num_layers=m.spatial_transformer.num_layers,
        spatial_num_heads=m.spatial_transformer.num_heads,
        temporal_mlp_dim=m.temporal_transformer.mlp_dim,
        temporal_num_layers=m.temporal_transformer.num_layers,
        temporal_num_heads=m.temporal_transformer.num_heads,
        patches=m.patches,
        hidden_size=m.hidden_size,
        temporal_encoding_config=m.temporal_encoding_config,
        attention_config=m.attention_config,
        representation_size=m.get('representation_size'),
        dropout_rate=m.get('dropout_rate', 0.0),
        attention_dropout_rate=m.get('attention_dropout_rate', 0.0),
        stochastic_droplayer_rate=m.get('stochastic_droplayer_rate', 0.0),
        classifier=m.classifier,
        dtype_mm=self.config.get('model_dtype_str', 'float32'),
        num_experts=m.get('num_experts', 4),
        e_c=mone.get('e_c', 1.0),
        capacity_method=m.get('capacity_method', 'mone'),
        router_type=m.get('router_type', 'learned'),
        kernel=m.get('kernel', 'xla'))
    module._check_config()  # pylint: disable=protected-access
    module = mone_model.at_gflops(module, self.config.get('mone'),
                                  mone_model.example_shape(
                                      self.dataset_meta_data))
    mone_model.check_budget(module.e_c, module.num_experts,
                            module.capacity_method)
    return module

  @property
  def num_experts(self) -> int:
    return self.flax_model.num_experts

  def check_budget(self, budget: mone_model.Budget):
    mone_model.check_budget(budget, self.flax_model.num_experts,
                            self.flax_model.capacity_method)

  def gflops(self, budget: mone_model.Budget):
    """Analytic GFLOPs per clip at a budget (e_c, capacities or None)."""
    return budgets_lib.gflops(
        self.flax_model, self.dataset_meta_data['input_shape'][1:], budget)

  def init_from_train_state(
      self, train_state: Any, restored_train_state: Any,
      restored_model_cfg: ml_collections.ConfigDict) -> Any:
    """Initialises from an image checkpoint with ViViT's own surgery.

    The spatial transformer (blocks, `encoder_norm`, `router`, `alpha`) is
    copied, the position embedding resized (or tiled) and the patch kernel
    inflated to a tubelet kernel as `config.init_from` and
    `config.model.temporal_encoding_config.kernel_init_method` say; the
    temporal transformer and the classifier keep their fresh values.

    Args:
      train_state: The freshly initialised train state.
      restored_train_state: Train state of the image checkpoint.
      restored_model_cfg: `config.init_from.model_config` (its
        `model.classifier` tells whether the checkpoint has a class token).

    Returns:
      The train state with the restored weights.

    Raises:
      ValueError: when a checkpoint tensor does not fit the model.
    """
    restored = flax.core.unfreeze(restored_train_state.params)
    restored_model_cfg = ml_collections.ConfigDict(
        restored_model_cfg or {'model': {'classifier': 'gap'}})
    if _is_big_vision_layout(restored):
      restored = bv_to_scenic_vit(restored, self.config.model.classifier)
      # Big Vision's position embedding never has a class-token row.
      restored_model_cfg.model.classifier = 'gap'
    if 'Transformer' not in restored:
      raise ValueError(
          'init_from checkpoint is not a ViT image checkpoint: it has no '
          f'Transformer (top-level keys: {sorted(restored)}).')
    params = flax.core.unfreeze(train_state.params)
    problems = _spatial_shape_problems(params, restored)
    if problems:
      raise ValueError(
          'init_from checkpoint does not fit the MoNE ViViT spatial '
          f'transformer: {"; ".join(problems[:6])}.')
    restored_train_state = restored_train_state.replace(
        params=flax.core.freeze(restored))
    return vivit_model_utils.initialise_from_train_state(
        self.config, train_state, restored_train_state, restored_model_cfg,
        restore_output_proj=False, vivit_transformer_key='SpatialTransformer',
        log_initialised_param_shapes=False)
