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

"""MoNE models for Scenic: image (ViT) and video (ViViT factorised encoder).

Both wrap the MoNE encoders with Scenic's model contract: a
`ClassificationModel` whose Flax module is called as
`module(x, *, train, debug=False, budget=...)` and returns logits. A `budget`
selects the compute of one forward pass:

  - a float: the effective capacity e_c (the paper's capacity distribution);
  - a tuple of E capacities, smallest expert first (e.g. one-hot
    (0, 1, 0, 0): every token on expert 2, as nested pretraining needs);
  - None: the dense model (router unused);
  - `CONFIGURED` (the default): the model's configured `e_c`.

`module.apply(..., method='routing')` returns the expert of every token as a
map (images [B, h, w], video [B, T', h, w]) for routing visualisations.
"""

import functools
from typing import Any, Optional, Sequence, Tuple, Union

from absl import logging
import flax
import jax
import ml_collections
import numpy as np
from scenic.model_lib.base_models import model_utils as base_model_utils
from scenic.model_lib.base_models import classification_model
from scenic.projects.vivit import model_utils as vivit_model_utils

from mone_plugin import capacity as capacity_lib
from mone_plugin import flops as flops_lib
from mone_plugin import vit as mone_vit

Budget = Union[None, float, Tuple[float, ...]]


class _Configured:
  """Type of `CONFIGURED`: the budget a model was configured with."""

  def __repr__(self):
    return 'CONFIGURED'


CONFIGURED = _Configured()


def e_c_kwargs(budget) -> dict:
  """Keyword arguments of a core encoder call for `budget`."""
  return {} if budget is CONFIGURED else {'e_c': budget}

# Image model options (Big Vision ViT names) read from `config.model`.
_VIT_FIELDS = ('variant', 'patch_size', 'width', 'depth', 'mlp_dim',
               'num_heads', 'posemb', 'rep_size', 'dropout', 'pool_type',
               'head_zeroinit', 'dtype_mm', 'num_experts', 'e_c',
               'capacity_method', 'router_type')


def budget_name(budget: Budget) -> str:
  """Summary name of a budget: 'dense', 'ec0.30' or 'capacities0-1-0-0'."""
  if budget is None:
    return 'dense'
  if isinstance(budget, (tuple, list)):
    return 'capacities' + '-'.join(f'{c:g}' for c in budget)
  return f'ec{float(budget):.2f}'


def one_hot_budgets(num_experts: int) -> Tuple[Tuple[float, ...], ...]:
  """Capacities putting every token on expert i, for i = 0 .. E-1."""
  return tuple(tuple(float(c) for c in row) for row in np.eye(num_experts))


def resolve_capacities(budget, num_experts, capacity_method):
  """Static capacities of a budget (None stays None: the dense path)."""
  if budget is None:
    return None
  if isinstance(budget, (tuple, list)):
    if len(budget) != num_experts:
      raise ValueError(f'capacities={tuple(budget)} must have one entry per '
                       f'expert ({num_experts}).')
    return capacity_lib.as_static(budget)
  return capacity_lib.as_static(capacity_lib.capacity_distribution(
      budget, num_experts, capacity_method))


def check_budget(budget, num_experts, capacity_method):
  """Raises a ValueError naming the budget when it is infeasible."""
  try:
    resolve_capacities(budget, num_experts, capacity_method)
  except ValueError as e:
    raise ValueError(f'MoNE budget {budget!r} is not allowed: {e}') from None


class MoneViT(mone_vit._Model):  # pylint: disable=protected-access
  """MoNE ViT (Big Vision parameter names) with Scenic's call signature."""

  def capacities(self, e_c):
    return resolve_capacities(e_c, self.num_experts, self.capacity_method)

  def __call__(self, x, *, train: bool, debug: bool = False,
               budget: Any = CONFIGURED):
    del debug
    logits, _ = super().__call__(x, train=train, **e_c_kwargs(budget))
    return logits

  def routing(self, x, *, budget: Any = CONFIGURED):
    """Expert (0 = smallest) of every patch, [B, h, w]."""
    _, out = super().__call__(x, train=False, **e_c_kwargs(budget))
    if 'experts' not in out:
      raise ValueError('The dense path (budget None) routes no token.')
    h, w = out['pre_logits_2d'].shape[1:3]
    return out['experts'].reshape(-1, h, w)


class MoneViTClassificationModel(classification_model.ClassificationModel):
  """MoNE ViT for n-way image classification.

  `config.model` holds Big Vision ViT options (`variant` or `patch_size`,
  `width`, `depth`, `mlp_dim`, `num_heads`, `pool_type`, ...) and the MoNE
  ones (`e_c`, `num_experts`, `capacity_method`, `router_type`).
  """

  def build_flax_model(self) -> MoneViT:
    cfg = dict(self.config.model)
    unknown = sorted(set(cfg) - set(_VIT_FIELDS))
    if unknown:
      raise ValueError(f'config.model has unknown fields {unknown}; allowed: '
                       f'{list(_VIT_FIELDS)}.')
    variant = cfg.pop('variant', None)
    if 'patch_size' in cfg:
      cfg['patch_size'] = tuple(cfg['patch_size'])
    kwargs = {**mone_vit.decode_variant(variant), **cfg}
    module = MoneViT(num_classes=self.dataset_meta_data['num_classes'],
                     **kwargs)
    check_budget(module.e_c, module.num_experts, module.capacity_method)
    return module

  @property
  def num_experts(self) -> int:
    return self.flax_model.num_experts

  def check_budget(self, budget: Budget):
    check_budget(budget, self.flax_model.num_experts,
                 self.flax_model.capacity_method)

  def gflops(self, budget: Budget) -> Optional[float]:
    """Analytic GFLOPs per image at an e_c (None: dense; tuples: None)."""
    if isinstance(budget, (tuple, list)):
      return None
    m = self.flax_model
    shape = self.dataset_meta_data['input_shape']
    return flops_lib.vit_gflops(
        image_size=tuple(shape[1:3]), patch_size=tuple(m.patch_size),
        width=m.width, depth=m.depth, mlp_dim=m.mlp_dim,
        num_heads=m.num_heads, num_classes=m.num_classes, e_c=budget,
        num_experts=m.num_experts, capacity_method=m.capacity_method,
        pool_type=m.pool_type, channels=shape[-1], rep_size=m.rep_size)

  def default_flax_model_config(self) -> ml_collections.ConfigDict:
    return ml_collections.ConfigDict(dict(
        patch_size=(4, 4), width=32, depth=2, mlp_dim=64, num_heads=2,
        pool_type='gap', e_c=0.5))
