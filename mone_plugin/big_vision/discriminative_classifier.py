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

"""Big Vision's zero-shot classifier with the MoNE image tower at one budget.

`type="proj.mone.discriminative_classifier"` takes every argument of
`big_vision.evaluators.proj.image_text.discriminative_classifier` plus `e_c`:
the trainer's own predict_fn runs with every MoNE ViT in the model called at
that e_c (a Flax method interceptor adds the argument Big Vision's trainers
cannot pass). One evaluator entry per budget evaluates the same two-tower
weights at several budgets, e.g. in the SigLIP trainer.
"""

import functools

from big_vision.evaluators.proj.image_text import discriminative_classifier
import flax.linen as nn

from mone_plugin import vit

API = "jit"


def at_budget(predict_fn, e_c):
  """`predict_fn` with every MoNE ViT it calls running at `e_c`.

  Args:
    predict_fn: a Big Vision predict function (e.g. the SigLIP trainer's
      `eval_logits_fn(train_state, batch)`).
    e_c: the budget: a float in (0, 1], per-expert capacities, or None (the
      dense path); see `mone_plugin.vit`.

  Returns:
    A function with the signature of `predict_fn`.
  """

  def interceptor(next_fun, args, kwargs, context):
    if (context.method_name == "__call__"
        and isinstance(context.module, vit._Model)):  # pylint: disable=protected-access
      kwargs = {**kwargs, "e_c": e_c}
    return next_fun(*args, **kwargs)

  @functools.wraps(predict_fn)
  def predict(*args, **kwargs):
    with nn.intercept_methods(interceptor):
      return predict_fn(*args, **kwargs)

  return predict


class Evaluator(discriminative_classifier.Evaluator):
  """Zero-shot classification with the MoNE image tower at `e_c`."""

  def __init__(self, predict_fn, *, e_c, **kw):
    if isinstance(e_c, list):  # Capacities from a config.
      e_c = tuple(e_c)
    super().__init__(at_budget(predict_fn, e_c), **kw)
