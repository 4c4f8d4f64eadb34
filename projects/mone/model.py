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
from typing import Any, Optional, Sequence

from absl import logging
import flax
import jax
import ml_collections
import numpy as np
from scenic.model_lib.base_models import model_utils as base_model_utils
from scenic.model_lib.base_models import classification_model
from scenic.model_lib.base_models import multilabel_classification_model
from scenic.projects.baselines import vit as scenic_vit
from scenic.projects.vivit import model_utils as vivit_model_utils

from mone_plugin import budgets as budgets_lib
from mone_plugin import scenic_vit as core_scenic_vit
from mone_plugin import vit

Budget = budgets_lib.Budget


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
               'capacity_method', 'router_type', 'kernel')


# The budget vocabulary is the core's (`mone_plugin/budgets.py`), shared with
# Big Vision; these names are kept for Scenic code that imports them here.
budget_name = budgets_lib.name
one_hot_budgets = budgets_lib.one_hot
resolve_capacities = budgets_lib.capacities
check_budget = budgets_lib.check_budget


class MoneViT(vit._Model):  # pylint: disable=protected-access
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


# Scenic's ViT options (`projects/baselines/vit.py`): `config.model` holds
# either these or Big Vision's (`_VIT_FIELDS`), plus the MoNE ones.
SCENIC_VIT_FIELDS = ('hidden_size', 'num_layers', 'mlp_dim', 'num_heads',
                     'patches', 'classifier', 'representation_size',
                     'dropout_rate', 'attention_dropout_rate',
                     'stochastic_depth', 'positional_embedding',
                     'data_dtype_str')
# kernel: 'xla' or 'pallas' (`mone_plugin.layers.MoneEncoder`).
_MONE_FIELDS = ('num_experts', 'e_c', 'capacity_method', 'router_type',
                'kernel')
# Scenic classifier -> the pooling of the core ViT (and of its FLOP count).
SCENIC_CLASSIFIERS = core_scenic_vit.SCENIC_CLASSIFIERS
SCENIC_POSITIONAL_EMBEDDINGS = core_scenic_vit.SCENIC_POSITIONAL_EMBEDDINGS
ScenicEncoder = core_scenic_vit.ScenicEncoder


class MoneScenicViT(core_scenic_vit.ScenicViT):
  """MoNE ViT with Scenic's ViT parameter names (`baselines/vit.py`).

  The core's `ScenicViT` (`mone_plugin/scenic_vit.py`: `embedding`, `cls`,
  `Transformer` (`posembed_input`, `encoderblock_{i}`, `encoder_norm`, plus
  `router`, `alpha`), `pre_logits` and `output_projection`: a Scenic ViT
  checkpoint loads unchanged) with Scenic's call signature.
  """

  def capacities(self, e_c):
    return resolve_capacities(e_c, self.num_experts, self.capacity_method)

  def forward(self, x, *, train: bool, budget: Any = CONFIGURED):
    """Returns (logits, out) as the core ViT does (a subset of its `out`)."""
    return super().forward(x, train=train, **e_c_kwargs(budget))

  def __call__(self, x, *, train: bool, debug: bool = False,
               budget: Any = CONFIGURED):
    del debug
    return self.forward(x, train=train, budget=budget)[0]

  def routing(self, x, *, budget: Any = CONFIGURED):
    """Expert (0 = smallest) of every patch, [B, h, w]."""
    _, out = self.forward(x, train=False, budget=budget)
    if 'experts' not in out:
      raise ValueError('The dense path (budget None) routes no token.')
    return out['experts'].reshape(-1, *out['grid'])


def mone_fields(cfg, mone):
  """Pops the MoNE fields of `cfg` (`config.model` as a dict).

  The model's e_c is `budgets.configured_e_c`: `config.model.e_c` or
  `config.mone.e_c` (two that differ are an error), so that every trainer,
  Scenic's stock ones included, builds the model at the same e_c.
  """
  e_c = budgets_lib.configured_e_c(cfg, mone, default=CONFIGURED)
  if 'e_c' in cfg and (mone or {}).get('gflops') is not None:
    raise ValueError(f'config.model.e_c={cfg["e_c"]!r} and config.mone.gflops'
                     f'={mone["gflops"]!r} both set the model\'s e_c: give '
                     'one of them.')
  kw = {k: cfg.pop(k) for k in _MONE_FIELDS if k in cfg}
  if e_c is not CONFIGURED:
    kw['e_c'] = None if e_c is None else float(e_c)
  return kw


def at_gflops(module, mone, input_shape):
  """`module` at the e_c of `config.mone.gflops` (unchanged without it).

  The GFLOPs budget becomes the model's e_c when the model is built, so
  Scenic's stock trainers train at it too (`budgets.resolve` turns it into
  e_c, as `mone_trainer` does).

  Args:
    module: the MoNE ViT or ViViT module.
    mone: `config.mone` (or None).
    input_shape: one example's shape (the dataset's `input_shape[1:]`).
  """
  if (mone or {}).get('gflops') is None:
    return module
  if input_shape is None:
    raise ValueError('config.mone.gflops needs the input shape of the data '
                     "(dataset meta data 'input_shape') to find its e_c.")
  e_c = budgets_lib.resolve(mone, module, tuple(input_shape)).train[0]
  logging.info('config.mone.gflops=%s: the model is built at e_c %.4f.',
               mone['gflops'], e_c)
  return module.clone(e_c=e_c)


def _scenic_vit_kwargs(cfg, dtype_mm):
  """Core (Big Vision) names of a Scenic ViT `config.model`."""
  missing = [k for k in ('hidden_size', 'num_layers', 'mlp_dim', 'num_heads',
                         'patches') if cfg.get(k) is None]
  if missing:
    raise ValueError(f'config.model lacks the Scenic ViT fields {missing}.')
  classifier = cfg.get('classifier', 'gap')
  if classifier not in SCENIC_CLASSIFIERS:
    raise ValueError(f'config.model.classifier={classifier!r} is unknown; '
                     f'allowed: {sorted(SCENIC_CLASSIFIERS)}.')
  posemb = cfg.get('positional_embedding', 'learned_1d')
  if posemb not in SCENIC_POSITIONAL_EMBEDDINGS:
    raise ValueError(f'config.model.positional_embedding={posemb!r} is '
                     f'unknown; allowed: {list(SCENIC_POSITIONAL_EMBEDDINGS)}.')
  return dict(
      width=cfg['hidden_size'], depth=cfg['num_layers'],
      mlp_dim=cfg['mlp_dim'], num_heads=cfg['num_heads'],
      patch_size=tuple(cfg['patches']['size']), classifier=classifier,
      pool_type=SCENIC_CLASSIFIERS[classifier], positional_embedding=posemb,
      rep_size=cfg.get('representation_size') or False,
      dropout=cfg.get('dropout_rate') or 0.0,
      attention_dropout=cfg.get('attention_dropout_rate') or 0.0,
      droplayer=cfg.get('stochastic_depth') or 0.0, dtype_mm=dtype_mm)


def vit_module(config, num_classes, input_shape=None):
  """The MoNE ViT module of a Scenic config, in either vocabulary.

  Scenic's ViT fields (`SCENIC_VIT_FIELDS`) give a `MoneScenicViT` (Scenic's
  parameter names: Scenic ViT checkpoints and configs work as they are); Big
  Vision's (`_VIT_FIELDS`) give a `MoneViT` (Big Vision's names).

  Args:
    config: the experiment config (`model`, optional `mone` and
      `model_dtype_str`).
    num_classes: classifier outputs.
    input_shape: one example's shape, (H, W, C): needed with
      `config.mone.gflops` only.

  Returns:
    The Flax module.

  Raises:
    ValueError: unknown fields, both vocabularies at once, bad values or an
      infeasible budget (each error names the field and what is allowed).
  """
  cfg = dict(config.model)
  unknown = sorted(set(cfg) - set(_VIT_FIELDS) - set(SCENIC_VIT_FIELDS))
  if unknown:
    raise ValueError(
        f'config.model has unknown fields {unknown}; allowed: Scenic ViT '
        f'fields {list(SCENIC_VIT_FIELDS)} or Big Vision ViT fields '
        f'{list(_VIT_FIELDS)}, and the MoNE ones {list(_MONE_FIELDS)}.')
  mone_kw = mone_fields(cfg, config.get('mone'))
  scenic = sorted(set(cfg) & (set(SCENIC_VIT_FIELDS) - set(_VIT_FIELDS)))
  bv = sorted(set(cfg) & (set(_VIT_FIELDS) - set(SCENIC_VIT_FIELDS)))
  if scenic and bv:
    raise ValueError(f'config.model mixes Scenic ViT fields {scenic} with '
                     f'Big Vision ViT fields {bv}; use one vocabulary.')
  if scenic:
    module = MoneScenicViT(
        num_classes=num_classes, **mone_kw, **_scenic_vit_kwargs(
            cfg, config.get('model_dtype_str', 'float32')))
  else:
    variant = cfg.pop('variant', None)
    # Scenic's `model_dtype_str` sets the matmul dtype here too, unless the
    # Big Vision field `dtype_mm` says otherwise (then both must agree).
    if 'model_dtype_str' in config:
      dtype = config.model_dtype_str
      if cfg.setdefault('dtype_mm', dtype) != dtype:
        raise ValueError(
            f'config.model.dtype_mm={cfg["dtype_mm"]!r} and '
            f'config.model_dtype_str={dtype!r} disagree; set one of them.')
    if 'patch_size' in cfg:
      cfg['patch_size'] = tuple(cfg['patch_size'])
    module = MoneViT(num_classes=num_classes, **mone_kw,
                     **{**vit.decode_variant(variant), **cfg})
  module = at_gflops(module, config.get('mone'), input_shape)
  check_budget(module.e_c, module.num_experts, module.capacity_method)
  return module


def example_shape(dataset_meta_data):
  """One example's shape from Scenic's dataset meta data (None: unknown)."""
  shape = dataset_meta_data.get('input_shape')
  return None if shape is None else tuple(shape[1:])


class _MoneViTModel:
  """The MoNE ViT of a Scenic model class, whatever its loss family.

  `config.model` is a Scenic ViT config (`hidden_size`, `num_layers`,
  `mlp_dim`, `num_heads`, `patches.size`, `classifier`, ...: Scenic's
  parameter names) or holds Big Vision ViT options (`variant` or
  `patch_size`, `width`, `depth`, `pool_type`, ...: Big Vision's names), plus
  the MoNE fields (`e_c`, `num_experts`, `capacity_method`, `router_type`).
  The e_c is `config.model.e_c` or `config.mone.e_c`
  (`budgets.configured_e_c`), or the one of `config.mone.gflops`.
  """

  def build_flax_model(self) -> vit._Model:  # pylint: disable=protected-access
    return vit_module(self.config, self.dataset_meta_data['num_classes'],
                      example_shape(self.dataset_meta_data))

  @property
  def num_experts(self) -> int:
    return self.flax_model.num_experts

  def check_budget(self, budget: Budget):
    check_budget(budget, self.flax_model.num_experts,
                 self.flax_model.capacity_method)

  def gflops(self, budget: Budget) -> Optional[float]:
    """Analytic GFLOPs per image at a budget (e_c, capacities or None)."""
    return budgets_lib.gflops(
        self.flax_model, self.dataset_meta_data['input_shape'][1:], budget)

  def init_from_train_state(
      self, train_state: Any, restored_train_state: Any,
      restored_model_cfg: Optional[ml_collections.ConfigDict] = None) -> Any:
    """Initialises from an image checkpoint (`config.init_from`).

    A Scenic ViT train state (`vit_classification`,
    `vit_multilabel_classification`) or a MoNE one, in the model's
    vocabulary: every parameter of the checkpoint is copied; the position
    embedding is resized to the model's grid as Scenic's ViT does; `router`
    and `alpha`, which a dense ViT lacks, keep their initial values. The head
    is copied too, unless `config.init_from.restore_output_proj` is False
    (a fresh head, e.g. for another number of classes).

    Args:
      train_state: The freshly initialised train state.
      restored_train_state: Train state of the checkpoint.
      restored_model_cfg: `config.init_from.model_config` (default: its
        `classifier` and `representation_size` read from the checkpoint).

    Returns:
      The train state with the restored weights.

    Raises:
      ValueError: a parameter that is missing from the model or whose shape
        differs (naming it and both shapes), or a head of another number of
        classes; before anything is trained or written.
    """
    params = flax.core.unfreeze(train_state.params)
    restored = flax.core.unfreeze(restored_train_state.params)
    init_from = self.config.get('init_from') or {}
    restore_head = init_from.get('restore_output_proj', True)
    scenic = isinstance(self.flax_model, MoneScenicViT)
    head = 'output_projection' if scenic else 'head'
    posemb = (('Transformer', 'posembed_input', 'pos_embedding') if scenic
              else ('pos_embedding',))
    if scenic != ('pos_embedding' not in restored and 'head' not in restored):
      raise ValueError(
          'init_from checkpoint is in the other ViT vocabulary than the model '
          f"({'Scenic' if scenic else 'Big Vision'} parameter names); "
          f'checkpoint top-level keys: {sorted(restored)}.')
    flat_p = flax.traverse_util.flatten_dict(params)
    flat_r = flax.traverse_util.flatten_dict(restored)
    problems = []
    for key, value in flat_r.items():
      name = '/'.join(key)
      if key[0] == head and not restore_head:
        continue
      if key not in flat_p:
        problems.append(f'{name} {np.shape(value)} is not a parameter of the '
                        'model')
      elif key == posemb:
        if np.shape(value)[-1] != np.shape(flat_p[key])[-1]:
          problems.append(f'{name}: checkpoint {np.shape(value)} vs model '
                          f'{np.shape(flat_p[key])}')
      elif np.shape(value) != np.shape(flat_p[key]):
        problems.append(f'{name}: checkpoint {np.shape(value)} vs model '
                        f'{np.shape(flat_p[key])}')
        if key[0] == head and key[-1] == 'bias':
          problems.append(
              f'the checkpoint head has {np.shape(value)[-1]} classes, the '
              f'model {np.shape(flat_p[key])[-1]}: set '
              'config.init_from.restore_output_proj=False for a fresh head')
    if problems:
      more = f' ({len(problems) - 8} more)' if len(problems) > 8 else ''
      raise ValueError('init_from checkpoint does not fit the MoNE ViT: '
                       + '; '.join(problems[:8]) + more + '.')
    logging.info('init_from: kept at their initial values (not in the '
                 'checkpoint): %s', sorted('/'.join(k) for k in flat_p
                                           if k not in flat_r))
    # What Scenic's surgery reads of the checkpoint's model, from its
    # parameters unless `init_from.model_config` says it.
    read = {'classifier': 'token' if 'cls' in restored else 'gap',
            'representation_size': (
                np.shape(restored['pre_logits']['kernel'])[-1]
                if 'kernel' in restored.get('pre_logits', {}) else None)}
    given = dict((restored_model_cfg or {}).get('model') or {})
    restored_model_cfg = ml_collections.ConfigDict(
        {'model': {**read, **given}})
    if scenic:
      # Scenic's own surgery (position embedding resize, `pre_logits`); it
      # never copies the head, which is copied below when restored.
      model_cfg = ml_collections.ConfigDict({'model': {
          'classifier': self.flax_model.classifier,
          'representation_size': self.flax_model.rep_size or None}})
      train_state = scenic_vit.init_vit_from_train_state(
          train_state, restored_train_state.replace(
              params=flax.core.freeze(restored)), model_cfg,
          restored_model_cfg)
      params = flax.core.unfreeze(train_state.params)
      if restore_head and head in restored:
        params[head] = restored[head]
    else:
      flat_p.update({k: v for k, v in flat_r.items()
                     if restore_head or k[0] != head})
      params = flax.traverse_util.unflatten_dict(flat_p)
    logging.info('init_from: %d parameters restored%s.', len(flat_r),
                 '' if restore_head else ' (head not restored)')
    return train_state.replace(params=flax.core.freeze(params))

  def default_flax_model_config(self) -> ml_collections.ConfigDict:
    """A tiny Scenic ViT config (Scenic's layout) at e_c 0.5."""
    return ml_collections.ConfigDict(dict(
        model=dict(hidden_size=32, num_layers=2, mlp_dim=64, num_heads=2,
                   patches={'size': (4, 4)}, classifier='gap',
                   representation_size=None, dropout_rate=0.0,
                   attention_dropout_rate=0.0, stochastic_depth=0.0),
        mone=dict(e_c=0.5),
        model_dtype_str='float32',
        data_dtype_str='float32'))


class MoneViTClassificationModel(_MoneViTModel,
                                 classification_model.ClassificationModel):
  """MoNE ViT for n-way image classification (softmax cross-entropy).

  The counterpart of Scenic's `vit_classification`; see `_MoneViTModel`.
  """


class MoneViTMultiLabelClassificationModel(
    _MoneViTModel,
    multilabel_classification_model.MultiLabelClassificationModel):
  """MoNE ViT with sigmoid cross-entropy (multi-label classification).

  The counterpart of Scenic's `vit_multilabel_classification`, the model of
  Scenic's ImageNet and ImageNet-21k ViT configs: the same loss, metrics
  (`prec@1`, `loss`) and parameter names; see `_MoneViTModel`.
  """
