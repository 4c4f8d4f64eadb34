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

# pylint: disable=line-too-long
r"""MoNE ViT on cluttered Fashion-MNIST, where most tokens carry little.

Each 28x28 garment sits at a random position of a 64x64 canvas among 8
fragments of other garments (`mone_plugin/data/cluttered_fashion_mnist.py`):
with 8x8 patches the model sees 64 tokens, as on Fashion-MNIST at 32 px, but
the garment has ink in only ~19% of them (clutter ~26%, black ~55%).

  python -m mone_plugin.data.prepare --datasets=cluttered_fashion_mnist
  python -m mone_plugin.big_vision.train \
      --config configs/mone_cluttered.py:val,dense --workdir /tmp/cluttered

Every argument of `configs/mone_fashion_mnist.py` (dense, matvit, mod, e_c,
grid, router, the recipe's steps, lr, width, ...) means the same here, except:
  val   train on the whole train split (from Fashion-MNIST's train[:50000])
        and evaluate on the `validation` split (its train[50000:]) instead of
        test;
  res   is not an argument: the canvas is 64 px, in 8 px patches.
"""

import big_vision.configs.common as bvcc
import configs.mone_fashion_mnist as mone_fashion_mnist

from mone_plugin.data import cluttered_fashion_mnist as cfm

NAME = 'cluttered_fashion_mnist'


def get_config(arg=None):
  """Config for MoNE on cluttered Fashion-MNIST."""
  given = bvcc.parse_arg(arg, lazy=True)
  if 'res' in given:
    raise ValueError(f'res is fixed at the {cfm.CANVAS} px canvas here (patch '
                     f'{cfm.PATCH}); drop res={given.res}.')
  # The same model, recipe and evaluators at the canvas's side, then the
  # data set and the patch swapped in.
  config = mone_fashion_mnist.get_config(
      ','.join(filter(None, [arg, f'res={cfm.CANVAS}'])))
  config.input.data.name = NAME
  config.input.data.split = 'train'
  config.model.patch_size = (cfm.PATCH, cfm.PATCH)
  for name, evaluator in config.evals.items():
    evaluator.data.name = NAME
    if name == 'val':
      evaluator.data.split = (
          'validation[:64]' if given.get('runlocal') else 'validation')
  return config
