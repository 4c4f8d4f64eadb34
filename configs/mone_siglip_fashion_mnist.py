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
r"""SigLIP with a MoNE image tower on local Fashion-MNIST, zero-shot per budget.

Big Vision's own SigLIP trainer and two-tower model: the image tower is the
MoNE ViT (`proj.mone.vit`) trained at e_c=0.5, the text tower a small
`proj.image_text.text_transformer`. Captions are the class names ("a photo of
a trouser"), tokenized by Big Vision's `tok` op with a word-level SentencePiece
model trained here on those captions (nothing is downloaded). Big Vision's
zero-shot evaluator runs once per budget of `eval_e_c` on the same weights
(`zeroshot_ec0.3/fashion_mnist_local_accuracy`, ...):

  python -m mone_plugin.data.prepare
  PYTHONPATH=.:$HOME/frameworks/big_vision \
  python -m big_vision.trainers.proj.image_text.siglip \
      --config configs/mone_siglip_fashion_mnist.py --workdir /tmp/mone_siglip

The config imports `mone_plugin.big_vision`, which registers the MoNE model,
pp ops and evaluator with Big Vision and applies its JAX fixes.

Arguments (`--config configs/mone_siglip_fashion_mnist.py:e_c=0.25,steps=500`):
  e_c=0.5           the image tower's training budget;
  eval_e_c=0.3;0.5;1  the budgets of the zero-shot evaluators;
  steps, batch, lr, wd, warmup, width, depth, heads, mlp: the recipe (image
                    tower); txt_width, txt_depth: the text tower;
  data_dir          TFDS data dir (default $MONE_DATA_DIR/tfds);
  tokenizer_dir     where the SentencePiece model goes (default: beside
                    data_dir, `tokenizers/`);
  runlocal          10 steps of a tiny model, 256 test images (smoke test).
"""

import os

import big_vision.configs.common as bvcc
import ml_collections as mlc

import mone_plugin.big_vision  # pylint: disable=unused-import
from mone_plugin import budgets as budgets_lib
from mone_plugin.big_vision import ops_text
from mone_plugin.data import fashion_mnist
from mone_plugin.data import prepare

# "T-shirt/top" -> "t-shirt or top": readable captions, no pp-string separator.
CLASS_NAMES = tuple(n.lower().replace('/', ' or ')
                    for n in fashion_mnist.CLASS_NAMES)
TEMPLATE = 'a photo of a {}'


def get_config(arg=None):
  """Config for SigLIP with a MoNE image tower on Fashion-MNIST."""
  arg = bvcc.parse_arg(
      arg, e_c=0.5, eval_e_c='0.3;0.5;1', steps=1000, batch=128, lr=0.001,
      wd=0.0001, warmup=50, width=64, depth=4, heads=4, mlp=256,
      txt_width=64, txt_depth=2, token_len=8, data_dir='', tokenizer_dir='',
      seed=0, runlocal=False)
  config = mlc.ConfigDict()

  config.seed = arg.seed
  # runlocal changes the defaults of steps and batch, not given values.
  config.total_steps = 10 if arg.runlocal and arg.steps == 1000 else arg.steps

  data_dir = arg.data_dir or prepare.data_dir()
  tokenizer = ops_text.sentencepiece_model(
      [TEMPLATE.format(n) for n in CLASS_NAMES],
      arg.tokenizer_dir or os.path.join(os.path.dirname(data_dir),
                                        'tokenizers'))
  # Texts -> "labels": SigLIP's sticky EOS, padded with EOS (pool 'last').
  pp_txt = (
      f'strfmt("{TEMPLATE.format("{texts}")}", outkey="texts")'
      f'|tok(model=\'sp(model="{tokenizer}")\', eos="sticky", inkey="texts", outkey="labels")'
      f'|tolen({arg.token_len}, sticky_end=True, pad_value={ops_text.EOS_ID}, key="labels")')

  config.input = dict()
  config.input.data = dict(
      name='fashion_mnist_local', split='train', data_dir=data_dir)
  config.input.batch_size = (
      32 if arg.runlocal and arg.batch == 128 else arg.batch)
  config.input.shuffle_buffer_size = 10_000 if not arg.runlocal else 100
  config.input.pp = (
      'decode(channels=1)|resize(32)|flip_lr|value_range(-1, 1)'
      f'|class_name(names={CLASS_NAMES!r})|{pp_txt}|keep("image", "labels")')
  config.pp_modules = ['ops_general', 'ops_image', 'ops_text',
                       'proj.paligemma.ops', 'proj.mone.ops_text']
  config.input.prefetch = 4
  config.prefetch_to_device = 2

  config.log_training_steps = 50 if not arg.runlocal else 5
  config.ckpt_steps = 500 if not arg.runlocal else 10

  config.model_name = 'proj.image_text.two_towers'
  config.model = mlc.ConfigDict()
  config.model.image_model = 'proj.mone.vit'
  config.model.image = dict(
      patch_size=(4, 4), width=arg.width, depth=arg.depth, mlp_dim=arg.mlp,
      num_heads=arg.heads, pool_type='gap', posemb='learn', num_experts=4,
      e_c=arg.e_c, head_zeroinit=False, scan=True)
  config.model.text_model = 'proj.image_text.text_transformer'
  config.model.text = dict(
      width=arg.txt_width, depth=arg.txt_depth, mlp_dim=4 * arg.txt_width,
      num_heads=max(1, arg.txt_width // 32), vocab_size=64)
  config.model.out_dim = (arg.width, arg.txt_width)
  config.model.temperature_init = 10.0
  config.model.bias_init = -10.0

  config.optax_name = 'scale_by_adam'
  config.grad_clip_norm = 1.0
  config.lr = arg.lr
  config.wd = arg.wd
  config.schedule = dict(warmup_steps=arg.warmup if not arg.runlocal else 2,
                         decay_type='cosine')

  # One zero-shot evaluator per budget, all on the same weights; metrics
  # `zeroshot_ec0.3/fashion_mnist_local_accuracy` (no dots in config keys).
  config.evals = {}
  for e_c in budgets_lib.parse_e_c(x for x in arg.eval_e_c.split(';') if x):
    name = f'zeroshot_{budgets_lib.name(e_c)}'
    config.evals[name.replace('.', '_')] = dict(
        type='proj.mone.discriminative_classifier',
        e_c=e_c,
        prefix=f'{name}/',
        dataset_names=('fashion_mnist_local',),
        data_dir=data_dir,
        split='test' if not arg.runlocal else 'test[:256]',
        class_names=CLASS_NAMES,
        canonicalize=False,
        prompt_templates='class_name_only',  # TEMPLATE is in pp_txt.
        dataset_overrides={},
        pp_img='resize(32)|value_range(-1, 1)',  # TFDS gives decoded images.
        pp_txt=pp_txt,
        log_steps=500,
        skip_first=True,  # No evaluation of the untrained model.
        batch_size=1000 if not arg.runlocal else 256,
    )

  if arg.runlocal:  # Tiny: 10 steps of 2-layer towers of width 32.
    config.model.image.update(width=32, depth=min(arg.depth, 2), mlp_dim=64,
                              num_heads=2)
    config.model.text.update(width=32, depth=1, mlp_dim=64, num_heads=1)
    config.model.out_dim = (32, 32)

  return config
