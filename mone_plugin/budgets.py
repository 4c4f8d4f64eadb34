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

"""Compute budgets of a MoNE run, the same for Scenic and Big Vision.

A budget is what one forward pass may spend:

  - a float: the effective capacity e_c, in [1/2^(E-1), 1] for E experts
    (capacities from `capacity.capacity_distribution`);
  - a tuple of E capacities, smallest expert first (e.g. (0, 1, 0, 0): every
    token on expert 1, as nested pretraining needs);
  - None: the dense model (the router is unused).

Its name, in metric names, summaries and files, is `name(budget)`: "ec0.4",
"ec1", "dense", "expert1" (capacities one-hot on expert 1: the nested model
of width d_1), "capacities0.5-0.5-0-0". Both trainers write `<metric>_<name>`
(Big Vision: the evaluator `val` at e_c 0.4 is `val_ec0.4`; Scenic:
`accuracy_ec0.4`) and `gflops_<name>`.

A run's budgets come from `config.mone` (`KEYS`), the one vocabulary of both
adapters:

  e_c               training e_c (None: the dense model; absent: the
                    model's configured e_c).
  gflops            instead of e_c: a GFLOPs-per-example budget (image or
                    clip), turned into e_c with `flops.e_c_for_gflops`.
  train_e_c_grid    instead of e_c: e_c is drawn from this tuple at every
                    step (`Budgets.train_e_c`, a function of seed and step);
                    one compiled step per value.
  eval_e_c          budgets evaluated (default: the training ones; with
                    `nested`, evaluated besides the nested models).
  iso_flops         scale the number of steps so that training costs as many
                    FLOPs as the dense model's (train longer at low e_c; the
                    Big Vision trainer; Scenic's refuses it with the factor).
  nested            instead of e_c: MatViT-style joint training nested in D.
                    Every step sums the losses of the E nested models (every
                    token on expert i: `nested_budgets`), each evaluated as
                    its own model (`expert0` .. `expert3`) at its own GFLOPs.
  num_routing_maps  examples whose routing maps are drawn (0: none).
  routing_maps_steps / _epochs / _percent: how often the Big Vision trainer
                    draws them (its duration convention; default: the last
                    step). Scenic's trainer draws them at every evaluation.

Renamed keys (`RENAMED`) fail with the new name; `check_config` validates
all of them before any data or model is built.

`config.model` holds one budget only, the model's own `e_c`; `configured_e_c`
is the one place that decides it from `config.model.e_c` and
`config.mone.e_c` (two values that disagree are an error). A framework's
stock trainer builds the model from `config.model` and nothing else:
`check_honoured` refuses, before anything is built, each key it cannot
honour, naming the trainer that can.
"""

import dataclasses
import math
import numbers
from typing import Any, Callable, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from mone_plugin import capacity
from mone_plugin import flops
from mone_plugin import vit
from mone_plugin import vivit

Budget = Union[None, float, Tuple[float, ...]]

KEYS = ("e_c", "gflops", "train_e_c_grid", "eval_e_c", "iso_flops",
        "num_routing_maps", "routing_maps_steps", "routing_maps_epochs",
        "routing_maps_percent", "nested")
# Keys of earlier versions of either adapter -> what replaces them.
RENAMED = {
    "e_c_train_grid": "train_e_c_grid",
    "train_e_c": "e_c",
    "routing_maps": "num_routing_maps (and routing_maps_steps)",
}
# The keys that each choose the training e_c (at most one may be set).
TRAIN_KEYS = ("e_c", "gflops", "train_e_c_grid", "nested")
# What a trainer that only builds the model at its configured e_c (Big
# Vision's `big_vision.train`, Scenic's `classification_trainer`) cannot do,
# per key it refuses.
NOT_HONOURED = {
    "gflops": "cannot turn a GFLOPs budget into the model's e_c",
    "train_e_c_grid": "trains at the model's one configured e_c and cannot "
                      "draw e_c at every step",
    "eval_e_c": "evaluates only at the model's configured e_c",
    "iso_flops": "cannot scale its number of steps",
    "nested": "cannot sum the losses of the nested models",
    "num_routing_maps": "draws no routing maps",
    "routing_maps_steps": "draws no routing maps",
    "routing_maps_epochs": "draws no routing maps",
    "routing_maps_percent": "draws no routing maps",
}


def _allowed(num_experts, dense=True):
  lo, hi = capacity.feasible_range(num_experts)
  return (f"a number in [{lo:g}, {hi:g}] (E={num_experts} experts)"
          + (" or None (the dense model)" if dense else ""))


def check_e_c(value, num_experts=4, capacity_method="mone", *,
              key="e_c", dense=True) -> Optional[float]:
  """Returns `value` as a float (None: dense) or raises a clear ValueError.

  Args:
    value: the e_c to check.
    num_experts: E; the feasible range is [1/2^(E-1), 1].
    capacity_method: see `capacity.capacity_distribution`.
    key: what to call the value in the error (e.g. "config.mone.e_c").
    dense: whether None (the dense model) is allowed.
  """
  allowed = _allowed(num_experts, dense)
  if value is None:
    if dense:
      return None
    raise ValueError(f"{key}=None is not allowed here; allowed: {allowed}.")
  if isinstance(value, bool) or not isinstance(value, numbers.Real):
    raise ValueError(f"{key}={value!r} is not a number; allowed: {allowed}.")
  lo, hi = capacity.feasible_range(num_experts)
  e_c = float(value)
  if not (math.isfinite(e_c) and lo - 1e-12 <= e_c <= hi + 1e-12):
    raise ValueError(f"{key}={value!r} is outside the feasible range; "
                     f"allowed: {allowed}.")
  try:
    capacity.capacity_distribution(e_c, num_experts, capacity_method)
  except ValueError as e:
    raise ValueError(f"{key}={value!r} is not allowed: {e}") from None
  return e_c


def capacities(budget: Budget, num_experts=4, capacity_method="mone"):
  """Static capacities of a budget (None stays None: the dense path)."""
  if budget is None:
    return None
  if isinstance(budget, (tuple, list)):
    if len(budget) != num_experts:
      raise ValueError(f"capacities={tuple(budget)} must have one entry per "
                       f"expert ({num_experts}).")
    return capacity.as_static(budget)
  e_c = check_e_c(budget, num_experts, capacity_method, key="e_c")
  return capacity.as_static(capacity.capacity_distribution(
      e_c, num_experts, capacity_method))


def check_budget(budget: Budget, num_experts=4, capacity_method="mone"):
  """Raises a ValueError naming the budget when it is infeasible."""
  try:
    capacities(budget, num_experts, capacity_method)
  except ValueError as e:
    raise ValueError(f"MoNE budget {budget!r} is not allowed: {e}") from None


def name(budget: Budget) -> str:
  """Name: 'dense', 'ec0.4', 'ec1', 'expert1' or 'capacities0.5-0.5-0-0'."""
  if budget is None:
    return "dense"
  if isinstance(budget, (tuple, list)):
    hot = [i for i, c in enumerate(budget) if c]
    if len(hot) == 1 and float(budget[hot[0]]) == 1.0:
      return f"expert{hot[0]}"  # The nested model of expert i's width.
    return "capacities" + "-".join(f"{c:g}" for c in budget)
  return f"ec{float(budget):g}"


def draws_routing(budget: Budget) -> bool:
  """Whether a budget's routing is worth drawing (not dense, not all on D)."""
  if budget is None:
    return False
  if isinstance(budget, (tuple, list)):
    return float(budget[-1]) < 1.0
  return float(budget) < 1.0


def parse_e_c(values: Sequence[str]) -> Tuple[Optional[float], ...]:
  """Command-line budgets: ["0.2", "dense", ...] -> (0.2, None, ...)."""
  out = []
  for v in values:
    if str(v).lower() in ("dense", "none"):
      out.append(None)
      continue
    try:
      out.append(float(v))
    except ValueError:
      raise ValueError(f"--e_c value {v!r} is not a number or 'dense'."
                       ) from None
  return tuple(out)


def one_hot(num_experts: int) -> Tuple[Tuple[float, ...], ...]:
  """Capacities putting every token on expert i, for i = 0 .. E-1."""
  return tuple(tuple(float(c) for c in row) for row in np.eye(num_experts))


def nested_budgets(num_experts: int) -> Tuple[Tuple[float, ...], ...]:
  """The E nested models of MatViT-style training, smallest first.

  "MatViT is equivalent to MoNE with a deterministic router to pass all
  tokens to the same nested model" (the paper): every token on expert i is
  the model of width d_i = D / 2^(E-1-i), named `expert{i}`.
  """
  return one_hot(num_experts)


def joint_loss(loss_at: Callable[[Budget], Tuple[Any, Any]],
               budgets: Sequence[Budget]):
  """The sum of the losses at `budgets`, for one update of all of them.

  Both trainers train nested models jointly with it (MatViT sums the losses
  of its granularities); with one budget it is that budget's loss.

  Args:
    loss_at: budget -> (scalar loss, auxiliary output) of the model.
    budgets: the budgets (static) whose losses are summed.

  Returns:
    (total loss, {name(budget): loss}, {name(budget): auxiliary output}).
  """
  if not budgets:
    raise ValueError("joint_loss needs at least one budget.")
  losses, aux = {}, {}
  for budget in budgets:
    key = name(budget)
    losses[key], aux[key] = loss_at(budget)
  return sum(losses.values()), losses, aux


def sample_e_c(grid: Sequence[float], seed: int, step: int) -> float:
  """The e_c of training step `step`, drawn from `grid`.

  A function of (seed, step) only: a resumed run draws the same budgets as an
  uninterrupted one, and every host draws the same.

  Args:
    grid: the e_c values to draw from (uniformly).
    seed: the run's seed.
    step: the training step.
  """
  rng = np.random.default_rng([seed, step])
  return grid[rng.integers(len(grid))]


def _get(config, key):
  return config.get(key) if config is not None else None


def check_config(mone: Optional[Mapping[str, Any]], num_experts=4,
                 capacity_method="mone"):
  """Checks `config.mone` (None: absent) before anything is built.

  Args:
    mone: the `config.mone` of a run (a ConfigDict or dict).
    num_experts: E of the model.
    capacity_method: of the model.

  Raises:
    ValueError: naming the key, the value and what is allowed, for a renamed
      or unknown key, conflicting keys, or an infeasible or ill-typed value.
  """
  if mone is None:
    return
  keys = list(mone.keys())
  for key in keys:
    if key in RENAMED:
      raise ValueError(f"config.mone.{key} was renamed: use config.mone."
                       f"{RENAMED[key]} (see mone_plugin/budgets.py).")
  unknown = [k for k in keys if k not in KEYS]
  if unknown:
    raise ValueError(f"config.mone has unknown keys {unknown}; allowed: "
                     f"{list(KEYS)}.")
  given = [k for k in TRAIN_KEYS if _get(mone, k) not in (None, False)]
  if len(given) > 1:
    raise ValueError(f"config.mone sets {given}: give at most one of "
                     f"{list(TRAIN_KEYS)} (each chooses the training e_c).")
  check_e_c(_get(mone, "e_c"), num_experts, capacity_method,
            key="config.mone.e_c")
  grid = _get(mone, "train_e_c_grid")
  if grid is not None:
    if isinstance(grid, (str, bytes)) or not isinstance(
        grid, (tuple, list)) or not grid:
      raise ValueError(f"config.mone.train_e_c_grid={grid!r} must be a "
                       f"non-empty tuple of e_c values, each "
                       f"{_allowed(num_experts, dense=False)}.")
    for i, e_c in enumerate(grid):
      check_e_c(e_c, num_experts, capacity_method, dense=False,
                key=f"config.mone.train_e_c_grid[{i}]")
  g = _get(mone, "gflops")
  if g is not None and (isinstance(g, bool) or not isinstance(
      g, numbers.Real) or not math.isfinite(g) or g <= 0):
    raise ValueError(f"config.mone.gflops={g!r} is not allowed: give a "
                     "positive number of GFLOPs per example.")
  evals = _get(mone, "eval_e_c")
  if evals is not None:
    if isinstance(evals, (str, bytes)) or not isinstance(
        evals, (tuple, list)) or not evals:
      raise ValueError(f"config.mone.eval_e_c={evals!r} must be a non-empty "
                       "tuple of budgets, each "
                       f"{_allowed(num_experts)}.")
    for i, e_c in enumerate(evals):
      check_e_c(e_c, num_experts, capacity_method,
                key=f"config.mone.eval_e_c[{i}]")
  num = _get(mone, "num_routing_maps")
  if num is not None and (isinstance(num, bool) or not isinstance(
      num, numbers.Integral) or num < 0):
    raise ValueError(f"config.mone.num_routing_maps={num!r} must be an "
                     "integer >= 0 (0: no routing maps).")
  for key in ("iso_flops", "nested"):
    value = _get(mone, key)
    if value is not None and not isinstance(value, bool):
      raise ValueError(f"config.mone.{key}={value!r} must be True or False.")
  if _get(mone, "nested") and _get(mone, "iso_flops"):
    raise ValueError("config.mone.nested trains every nested model at once: "
                     "config.mone.iso_flops does not apply to it.")


def _same_e_c(a, b):
  if a is None or b is None:
    return a is None and b is None
  try:
    return math.isclose(float(a), float(b), rel_tol=0, abs_tol=1e-12)
  except (TypeError, ValueError):
    return a == b


def configured_e_c(model_cfg: Optional[Mapping[str, Any]],
                   mone: Optional[Mapping[str, Any]],
                   default: Any = capacity.CONFIGURED):
  """The e_c of the model: `config.model.e_c` or `config.mone.e_c`.

  The one place that decides it, for every trainer of both frameworks: the
  model is built at this e_c, and a trainer with budgets of its own
  (`resolve`) trains at it unless `gflops`, `train_e_c_grid` or `nested`
  says otherwise.

  Args:
    model_cfg: `config.model` (None: absent).
    mone: `config.mone` (None: absent).
    default: what to return when neither sets `e_c`.

  Returns:
    The e_c (a float, or None: the dense model), or `default`.

  Raises:
    ValueError: both set `e_c` and the values differ.
  """
  in_model = model_cfg is not None and "e_c" in model_cfg
  in_mone = mone is not None and "e_c" in mone
  if in_model and in_mone and not _same_e_c(model_cfg["e_c"], mone["e_c"]):
    raise ValueError(
        f"config.model.e_c={model_cfg['e_c']!r} and config.mone.e_c="
        f"{mone['e_c']!r} disagree: set the model's e_c in one place (or "
        "both to the same value).")
  if in_model:
    value = model_cfg["e_c"]
  elif in_mone:
    value = mone["e_c"]
  else:
    return default
  return None if value is None else value


def check_model_keys(model_cfg: Optional[Mapping[str, Any]], trainer: str):
  """Refuses budget keys other than `e_c` in `config.model`.

  Args:
    model_cfg: `config.model`.
    trainer: the trainer that honours them in `config.mone` (for the error).
  """
  for key in KEYS:
    if key != "e_c" and model_cfg is not None and key in model_cfg:
      raise ValueError(
          f"config.model.{key}={model_cfg[key]!r} is not a model option: "
          f"the model takes one budget, e_c. Set config.mone.{key} instead "
          f"and train with {trainer}, which honours it.")


def check_honoured(mone: Optional[Mapping[str, Any]],
                   model_cfg: Optional[Mapping[str, Any]], *, trainer: str,
                   alternative: str):
  """Refuses what a trainer that only builds the model cannot honour.

  Such a trainer (Big Vision's `big_vision.train`, Scenic's
  `classification_trainer`) trains and evaluates the model at its configured
  e_c (`configured_e_c`) and honours `e_c` alone: every other key of
  `NOT_HONOURED` that is set (not None, False or 0) is refused, except
  `eval_e_c` equal to that one e_c.

  Args:
    mone: `config.mone` (None: absent).
    model_cfg: `config.model`.
    trainer: the trainer that runs the config (for the error).
    alternative: the trainer that honours the keys (for the error).

  Raises:
    ValueError: naming the first key refused, its value, why, and
      `alternative`.
  """
  check_model_keys(model_cfg, alternative)
  e_c = configured_e_c(model_cfg, mone, default=1.0)
  for key, why in NOT_HONOURED.items():
    value = _get(mone, key)
    if value is None or value is False or (
        key == "num_routing_maps" and value == 0):
      continue
    if key == "eval_e_c" and isinstance(value, (tuple, list)) and all(
        _same_e_c(v, e_c) for v in value):
      continue  # Evaluating at the training e_c is what it does.
    raise ValueError(
        f"config.mone.{key}={value!r} is not honoured by {trainer}, which "
        f"{why}. Train with {alternative}, which honours it, or remove "
        f"config.mone.{key}.")


def flops_config(module, input_shape) -> Tuple[str, dict]:
  """("vit" | "vivit", arguments of `flops.*_gflops`) of a MoNE module.

  Args:
    module: a `mone_plugin.vit` ViT or a `mone_plugin.vivit.SpaceTimeViViT`
      (or a subclass, as the adapters' modules are).
    input_shape: one example: (H, W, C) for images, (T, H, W, C) for clips.
  """
  input_shape = tuple(input_shape)
  for kind, cls, want in (("vivit", vivit.SpaceTimeViViT, "(T, H, W, C)"),
                          ("vit", vit._Model, "(H, W, C)")):  # pylint: disable=protected-access
    if isinstance(module, cls):
      if len(input_shape) != len(want.split(",")):
        raise ValueError(f"input_shape={input_shape} must be {want} for a "
                         f"{kind}.")
      return kind, module.flops_kwargs(input_shape)
  raise TypeError(f"{type(module).__name__} is not a MoNE ViT or ViViT "
                  "(mone_plugin.vit / mone_plugin.vivit).")


def gflops(module, input_shape, budget: Budget) -> float:
  """Analytic GFLOPs per example at `budget` (an e_c, capacities or None)."""
  kind, kw = flops_config(module, input_shape)
  fn = flops.vivit_gflops if kind == "vivit" else flops.vit_gflops
  return fn(e_c=budget, **kw)


@dataclasses.dataclass(frozen=True)
class Budgets:
  """The e_c values a run trains and evaluates at, and their costs."""
  train: Tuple[Budget, ...]  # One value, the sampled grid, or the joint.
  eval: Tuple[Budget, ...]
  gflops: Mapping[Budget, float]  # Budget -> GFLOPs per example.
  dense_gflops: float
  step_scale: float  # Multiplies the number of steps (isoFLOPs), else 1.
  num_routing_maps: int
  joint: bool = False  # Every step trains on the sum of all `train` losses.

  def train_e_c(self, seed: int, step: int) -> Budget:
    """The e_c of training step `step` (a function of seed and step only)."""
    if len(self.train) == 1:
      return self.train[0]
    return sample_e_c(self.train, seed, step)

  def step_budgets(self, seed: int, step: int) -> Tuple[Budget, ...]:
    """The budgets whose losses step `step` sums (`joint_loss`)."""
    return self.train if self.joint else (self.train_e_c(seed, step),)

  @property
  def routed(self) -> Tuple[float, ...]:
    """The evaluated budgets whose routing is worth drawing (e_c < 1)."""
    return tuple(e for e in self.eval if draws_routing(e))


def resolve(mone: Optional[Mapping[str, Any]], module, input_shape,
            num_routing_maps=8) -> Budgets:
  """Checks `config.mone` and turns it into the run's `Budgets`.

  Args:
    mone: `config.mone` (None or absent keys: the module's configured e_c).
    module: the MoNE ViT or ViViT module (see `flops_config`).
    input_shape: one example's shape, (H, W, C) or (T, H, W, C).
    num_routing_maps: the default of `num_routing_maps`.
  """
  mone = mone if mone is not None else {}
  check_config(mone, module.num_experts, module.capacity_method)
  kind, kw = flops_config(module, input_shape)
  cost = flops.vivit_gflops if kind == "vivit" else flops.vit_gflops
  nested = bool(_get(mone, "nested"))
  if nested:
    train = nested_budgets(module.num_experts)
  elif _get(mone, "train_e_c_grid"):
    train = tuple(float(e) for e in mone["train_e_c_grid"])
  elif _get(mone, "gflops") is not None:
    train = (flops.e_c_for_gflops(mone["gflops"], model=kind, **kw),)
  else:
    e_c = configured_e_c(None, mone, default=module.e_c)
    e_c = check_e_c(e_c, module.num_experts, module.capacity_method,
                    key="the model's e_c")
    train = (e_c,)
  evals = _get(mone, "eval_e_c")
  if evals:
    evals = tuple(None if e is None else float(e) for e in evals)
    if nested:  # The nested models, and these e_c of MoNE on top.
      evals = train + evals
  elif nested:
    evals = train
  else:
    evals = tuple(sorted(set(train), key=lambda e: -1 if e is None else e))
  costs = {e: cost(e_c=e, **kw) for e in set(train + evals)}
  dense = cost(e_c=None, **kw)
  scale = 1.0
  if _get(mone, "iso_flops"):
    scale = dense / float(np.mean([costs[e] for e in train]))
  num = _get(mone, "num_routing_maps")
  return Budgets(train, evals, costs, dense, float(scale),
                 num_routing_maps if num is None else int(num), joint=nested)
