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

r"""Evaluates a local MoNE video checkpoint at several e_c (and dense).

Every budget is compiled and timed on its own; accuracy, GFLOPs per clip and
seconds per budget go to `<workdir>/eval_results.json` and the summaries,
routing maps to `<workdir>/routing_maps/`.

  python -m projects.mone.main \
    --config=projects/mone/configs/local_mone_eval.py:ckpt=/tmp/mone/video \
    --workdir=/tmp/mone/eval

Arguments: `ckpt=<workdir of local_mone_video.py>` (required), `e_c=<float>`
(the model's configured e_c; irrelevant to the evaluated budgets).
"""

from projects.mone.configs import common
from projects.mone.configs import local_mone_video

# None: the dense path of the same weights (every token on the full model).
EVAL_E_C = (0.2, 0.3, 0.4, 0.6, 1.0, None)


def get_config(arg=None):
  """Returns the evaluation config."""
  arg = common.parse_arg(arg, ckpt='', e_c=0.4)
  if not arg.ckpt:
    raise ValueError('local_mone_eval.py needs ckpt=<training workdir>.')
  config = local_mone_video.get_config(f'e_c={arg.e_c}')
  config.experiment_name = 'mone_vivit_moving_fashion_mnist_eval'
  config.trainer_name = 'mone_evaluator'
  config.eval_from = {'checkpoint_path': arg.ckpt}
  config.mone.eval_e_c = EVAL_E_C
  config.init_from.checkpoint_path = None
  return config
