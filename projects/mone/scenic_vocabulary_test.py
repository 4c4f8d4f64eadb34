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

"""The MoNE ViT speaks Scenic's ViT vocabulary: Scenic's own model tests.

Scenic's `model_lib/tests/test_models.py` runs on the MoNE model registered in
Scenic's model registry; the pattern of `projects/baselines/tests/test_vit.py`
runs with Scenic's ViT configs; a Scenic ViT's weights load into the MoNE ViT
and give the same logits at full capacity.
"""

import projects  # plugin-only
projects.skip_without_scenic()  # plugin-only

from absl.testing import absltest
from absl.testing import parameterized
import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from scenic.model_lib import models
from scenic.projects.baselines import vit as scenic_vit

from projects.mone import model as mone_model

MONE_IMAGE_MODELS = {
    'mone_vit_classification': mone_model.MoneViTClassificationModel}
# Registered before Scenic's test module is imported: it parameterises its
# tests over the registry.
models.CLASSIFICATION_MODELS.update(MONE_IMAGE_MODELS)
models.ALL_MODELS.update(MONE_IMAGE_MODELS)

from scenic.model_lib.tests import test_models  # pylint: disable=g-import-not-at-top,g-bad-import-order

NUM_OUTPUTS = 5
INPUT_SHAPE = (10, 32, 32, 3)
META = {'num_classes': NUM_OUTPUTS, 'target_is_onehot': False}


class ScenicModelsTest(test_models.ModelsTest):
  """Scenic's `test_models.ModelsTest`, on the MoNE models only."""


for _name in dir(test_models.ModelsTest):
  if _name.startswith('test_') and not any(
      m in _name for m in MONE_IMAGE_MODELS):
    setattr(ScenicModelsTest, _name, None)  # Not collected.


def scenic_vit_config(**model):
  """The model config of Scenic's `test_vit.py`, and a MoNE budget."""
  cfg = dict(num_heads=2, num_layers=1, representation_size=16, mlp_dim=32,
             dropout_rate=0., attention_dropout_rate=0., hidden_size=16,
             patches={'size': (4, 4)}, positional_embedding='learned_1d',
             classifier='gap', data_dtype_str='float32')
  return ml_collections.ConfigDict(
      {'model': {**cfg, **model}, 'mone': {'e_c': 0.4}})


class ScenicViTTest(parameterized.TestCase):
  """Scenic's `baselines/tests/test_vit.py`, with the MoNE ViT."""

  @parameterized.named_parameters(
      ('pos_embed_learned_1d', 'learned_1d', False),
      ('pos_embed_sinusoidal_1d', 'sinusoidal_1d', False),
      ('pos_embed_sinusoidal_2d', 'sinusoidal_2d', False),
      ('pos_embed_none', 'none', False),
      ('default_config', 'ignored', True)
  )
  def test_vit_model(self, positional_embedding, use_default_config):
    rng = jax.random.PRNGKey(0)
    config = None if use_default_config else scenic_vit_config(
        positional_embedding=positional_embedding)
    model = mone_model.MoneViTClassificationModel(config, META)
    self.assertIsInstance(model.flax_model, mone_model.MoneScenicViT)
    self.assertLess(model.flax_model.e_c, 1.0)  # From config.mone.
    xs = jnp.array(np.random.normal(loc=0.0, scale=10.0, size=INPUT_SHAPE),
                   jnp.float32)
    rng, init_rng = jax.random.split(rng)
    init_model_state, init_params = flax.core.pop(model.flax_model.init(
        init_rng, jnp.zeros(INPUT_SHAPE), train=False, debug=False),
                                                  'params')
    rng, dropout_rng = jax.random.split(rng)
    variables = {'params': init_params, **init_model_state}
    outputs = model.flax_model.apply(variables, xs, train=True,
                                     rngs={'dropout': dropout_rng},
                                     debug=False)
    self.assertEqual(outputs.shape, (INPUT_SHAPE[0], NUM_OUTPUTS))
    outputs = model.flax_model.apply(variables, xs, mutable=False,
                                     train=False, debug=False)
    self.assertEqual(outputs.shape, (INPUT_SHAPE[0], NUM_OUTPUTS))


class ScenicCheckpointTest(absltest.TestCase):

  def test_scenic_vit_weights_give_scenic_vit_logits(self):
    config = scenic_vit_config(classifier='token', stochastic_depth=0.1)
    scenic = scenic_vit.ViTMultiLabelClassificationModel(config, META)
    mone = mone_model.MoneViTClassificationModel(config, META)
    x = jax.random.normal(jax.random.PRNGKey(1), (2, 32, 32, 3))
    params = scenic.flax_model.init(jax.random.PRNGKey(0), x,
                                    train=False)['params']
    leaves, tree = jax.tree_util.tree_flatten(params)
    keys = jax.random.split(jax.random.PRNGKey(2), len(leaves))
    params = jax.tree_util.tree_unflatten(tree, [  # Zero head, zero cls...
        v + 0.1 * jax.random.normal(k, v.shape) for v, k in zip(leaves, keys)])
    flat = flax.traverse_util.flatten_dict(flax.core.unfreeze(params))
    mone_init = flax.traverse_util.flatten_dict(flax.core.unfreeze(
        mone.flax_model.init(jax.random.PRNGKey(0), x, train=False)[
            'params']))
    extra = sorted('/'.join(k) for k in set(mone_init) - set(flat))
    self.assertEqual(extra, ['Transformer/alpha', 'Transformer/router/bias',
                             'Transformer/router/kernel'])
    self.assertEqual({k: v.shape for k, v in flat.items()},
                     {k: v.shape for k, v in mone_init.items()
                      if k in flat})
    mone_params = flax.traverse_util.unflatten_dict({**mone_init, **flat})

    @jax.jit
    def logits():
      apply = lambda b: mone.flax_model.apply(
          {'params': mone_params}, x, train=False, budget=b)
      return (scenic.flax_model.apply({'params': params}, x, train=False),
              apply(1.0), apply(0.4))

    want, full, small = logits()
    # Every token on the largest expert, alpha 0: Scenic's ViT.
    np.testing.assert_allclose(full, want, atol=2e-5)
    self.assertGreater(float(jnp.abs(small - want).max()), 1e-3)

  def test_vocabulary_errors(self):
    for model, message in (
        (dict(width=16), r"mixes Scenic ViT fields \[.*\] with Big Vision "
         r"ViT fields \['width'\]"),
        (dict(hidden_sise=16), r"unknown fields \['hidden_sise'\]"),
        (dict(classifier='cls'), "classifier='cls' is unknown; allowed"),
        (dict(positional_embedding='rope'),
         "positional_embedding='rope' is unknown; allowed"),
        (dict(num_layers=None), r"lacks the Scenic ViT fields \['num_layers"),
    ):
      with self.subTest(message):
        with self.assertRaisesRegex(ValueError, message):
          mone_model.MoneViTClassificationModel(scenic_vit_config(**model),
                                                META)

  def test_one_e_c_in_model_or_mone(self):
    model_cls = mone_model.MoneViTClassificationModel
    config = scenic_vit_config(e_c=0.6)
    del config.mone['e_c']
    self.assertEqual(model_cls(config, META).flax_model.e_c, 0.6)
    config.mone.e_c = 0.6  # The same value in both places is fine.
    self.assertEqual(model_cls(config, META).flax_model.e_c, 0.6)
    config.mone.e_c = 0.4
    with self.assertRaisesRegex(ValueError, r'config\.model\.e_c=0\.6 and '
                                r'config\.mone\.e_c=0\.4 disagree'):
      model_cls(config, META)

if __name__ == '__main__':
  absltest.main()
