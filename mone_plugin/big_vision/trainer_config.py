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

"""What the MoNE trainers need of a Big Vision config, beyond the budgets.

The budget vocabulary (`config.mone`), its validation, the per-step e_c, the
budget names and GFLOPs are the core's (`mone_plugin/budgets.py`), shared
with the Scenic trainer. This module adds what is Big Vision's own: the keys
a Big Vision config must have, what each trainer honours (`check_config`:
the plugin's trainer, every budget; `check_stock_config`: Big Vision's
`big_vision.train`, the model's e_c alone), and one copy of each evaluator
per budget through Big Vision's `pred_kw` mechanism.
"""

from mone_plugin import budgets as budgets_lib
from mone_plugin import capacity

# The trainers, as the errors name them.
MONE_TRAINER = "mone_plugin.big_vision.train"
STOCK_TRAINER = "big_vision.train (Big Vision's stock trainer)"
# Keys a MoNE training config must have (dotted paths).
REQUIRED = ("model_name", "num_classes", "input.batch_size", "input.data",
            "optax_name", "lr")
DURATIONS = ("total_steps", "total_epochs", "total_examples")


def _get(config, dotted):
  for key in dotted.split("."):
    if config is None or key not in config:
      return None
    config = config[key]
  return config


def _check_model(config):
  model_cfg = config.get("model") or {}
  router = model_cfg.get("router_type", "learned")
  if router not in ("learned", "random"):
    raise ValueError(f"config.model.router_type={router!r} is unknown; "
                     "allowed: 'learned', 'random'.")
  budgets_lib.check_model_keys(model_cfg, MONE_TRAINER)
  e_c = budgets_lib.configured_e_c(model_cfg, config.get("mone"))
  if e_c is not capacity.CONFIGURED:
    budgets_lib.check_e_c(
        e_c, model_cfg.get("num_experts", 4),
        model_cfg.get("capacity_method", "mone"),
        key="config.model.e_c" if "e_c" in model_cfg else "config.mone.e_c")
  return model_cfg


def check_config(config):
  """Fails fast, before any data or model is built, on a bad config.

  For `mone_plugin.big_vision.train`: every key of `config.mone` is honoured;
  `config.mone` may be left out when `config.model.e_c` is set.
  """
  missing = [k for k in REQUIRED if _get(config, k) is None]
  if not any(_get(config, k) is not None for k in DURATIONS):
    missing.append(" or ".join(DURATIONS))
  if "mone" not in config and "e_c" not in (config.get("model") or {}):
    missing.append("mone or model.e_c")
  if missing:
    raise ValueError(f"Config is missing {missing}; a MoNE config needs all "
                     f"of {list(REQUIRED)}, one of {list(DURATIONS)} and "
                     "config.mone or config.model.e_c.")
  model_cfg = _check_model(config)
  budgets_lib.check_config(config.get("mone"),
                           model_cfg.get("num_experts", 4),
                           model_cfg.get("capacity_method", "mone"))


def check_stock_config(config):
  """`check_config` for Big Vision's `big_vision.train`; sets the model's e_c.

  The stock trainer builds `Model(num_classes, **config.model)` and trains,
  evaluates and checkpoints it at that model's e_c: `e_c` (in `config.model`
  or `config.mone`, copied into `config.model`) is honoured, every other
  budget key refused, naming `mone_plugin.big_vision.train`.

  Args:
    config: the run's config (locked or not).

  Returns:
    `config`.
  """
  model_cfg = _check_model(config)
  mone = config.get("mone")
  budgets_lib.check_config(mone, model_cfg.get("num_experts", 4),
                           model_cfg.get("capacity_method", "mone"))
  budgets_lib.check_honoured(mone, model_cfg, trainer=STOCK_TRAINER,
                             alternative=MONE_TRAINER)
  e_c = budgets_lib.configured_e_c(model_cfg, mone)
  if e_c is not capacity.CONFIGURED and "e_c" not in model_cfg:
    with config.unlocked():
      if "model" not in config:
        config.model = {}
      config.model.e_c = e_c
  return config


def resolve(config, model, image_shape) -> budgets_lib.Budgets:
  """The run's `budgets_lib.Budgets`; checks `config.mone` against the model."""
  return budgets_lib.resolve(config.get("mone"), model, image_shape)


def evals_per_budget(evals, e_cs):
  """One copy of each evaluator per budget, passing e_c to the predict fn.

  Uses Big Vision's own `pred_kw` mechanism of `evaluators.common`: the
  evaluator `val` at e_c=0.5 is `val_ec0.5` (dense: `val_dense`), writing
  `val_ec0.5/prec@1`. Evaluators with `per_e_c=False` (or their own
  `pred_kw`) run once.

  Args:
    evals: `config.evals` (a ConfigDict of evaluator configs).
    e_cs: budgets; None means the model's dense path.

  Returns:
    A dict of evaluator configs for `big_vision.evaluators.common`.
  """
  out = {}
  for name, cfg in evals.items():
    cfg = cfg.to_dict()
    if not cfg.pop("per_e_c", True) or "pred_kw" in cfg:
      out[name] = cfg
      continue
    for e_c in e_cs:
      suffix = f"_{budgets_lib.name(e_c)}"
      c = dict(cfg, pred_kw={"e_c": e_c})
      c.setdefault("type", name)
      c["prefix"] = f"{cfg.get('prefix', name + '/').rstrip('/')}{suffix}/"
      out[f"{name}{suffix}"] = c
  return out
