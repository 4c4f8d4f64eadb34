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

"""Tests of the MoNE Scenic models: budgets, routing, init_from, errors."""

import projects  # plugin-only
projects.skip_without_scenic()  # plugin-only

import functools

from absl.testing import absltest
from absl.testing import parameterized
import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from scenic.train_lib import train_utils

from projects.mone import model as mone_model
from projects.mone import video_model
from projects.mone.configs import local_mone_video
from projects.mone.configs import local_nested_pretrain

IMAGE_META = {'num_classes': 10, 'input_shape': (-1, 28, 28, 1)}
VIDEO_META = {'num_classes': 8, 'input_shape': (-1, 8, 32, 32, 1)}


def tiny_image_config(**model):
  config = local_nested_pretrain.get_config()
  config.model.update(dict(width=32, depth=2, mlp_dim=64, num_heads=2),
                      **model)
  return config


def tiny_video_config(arg=None, **model):
  config = local_mone_video.get_config(arg)
  config.model.hidden_size = 32
  for t in (config.model.spatial_transformer,
            config.model.temporal_transformer):
    t.update(dict(num_heads=2, mlp_dim=64, num_layers=2))
  config.model.temporal_transformer.num_layers = 1
  config.model.update(model)
  return config


def init_params(model, shape, rng=0):
  x = jnp.zeros((2,) + tuple(shape[1:]))
  return model.flax_model.init(jax.random.PRNGKey(rng), x, train=False)[
      'params']


class ImageModelTest(parameterized.TestCase):

  def test_one_hot_budgets_run_one_expert_each(self):
    model = mone_model.MoneViTClassificationModel(tiny_image_config(),
                                                  IMAGE_META)
    params = init_params(model, IMAGE_META['input_shape'])
    x = jax.random.normal(jax.random.PRNGKey(1), (3, 28, 28, 1))
    apply = functools.partial(model.flax_model.apply, {'params': params}, x)

    @jax.jit
    def outputs():  # One compilation for all budgets.
      maps = [apply(budget=b, method='routing')
              for b in mone_model.one_hot_budgets(4)]
      return maps, (apply(train=False, budget=(0., 0., 0., 1.)),
                    apply(train=False, budget=None))

    maps, (full, dense) = outputs()
    for i, experts in enumerate(maps):
      self.assertEqual(experts.shape, (3, 7, 7))
      np.testing.assert_array_equal(experts, i)
    # Everything on the largest expert with alpha = 0 is the dense ViT.
    np.testing.assert_allclose(full, dense, atol=1e-5)

  def test_smallest_expert_differs_from_dense(self):
    model = mone_model.MoneViTClassificationModel(tiny_image_config(),
                                                  IMAGE_META)
    params = init_params(model, IMAGE_META['input_shape'])
    params = flax.core.unfreeze(params)
    params['head']['kernel'] = jax.random.normal(
        jax.random.PRNGKey(4), params['head']['kernel'].shape)
    x = jax.random.normal(jax.random.PRNGKey(1), (2, 28, 28, 1))
    small = model.flax_model.apply({'params': params}, x, train=False,
                                   budget=(1., 0., 0., 0.))
    dense = model.flax_model.apply({'params': params}, x, train=False,
                                   budget=None)
    self.assertGreater(float(jnp.abs(small - dense).max()), 1e-3)

  @parameterized.parameters(0.05, 1.5)
  def test_infeasible_e_c_is_a_clear_error(self, e_c):
    with self.assertRaisesRegex(
        ValueError, rf'e_c={e_c} is outside the feasible range; allowed: a '
        r'number in \[0.125, 1\]'):
      mone_model.MoneViTClassificationModel(tiny_image_config(e_c=e_c),
                                            IMAGE_META)
    model = mone_model.MoneViTClassificationModel(tiny_image_config(),
                                                  IMAGE_META)
    with self.assertRaisesRegex(ValueError, 'budget .* is not allowed'):
      model.check_budget(e_c)

  def test_unknown_model_field_is_a_clear_error(self):
    with self.assertRaisesRegex(ValueError, r"unknown fields \['widht'\]"):
      mone_model.MoneViTClassificationModel(tiny_image_config(widht=3),
                                            IMAGE_META)

  def test_gflops_match_flops_module(self):
    model = mone_model.MoneViTClassificationModel(tiny_image_config(),
                                                  IMAGE_META)
    self.assertLess(model.gflops(0.3), model.gflops(1.0))
    # Every token on expert 0: the nested model of width D/8.
    self.assertLess(model.gflops((1., 0., 0., 0.)), model.gflops(0.3))


class VideoModelTest(parameterized.TestCase):

  def test_identical_frames_route_identically(self):
    model = video_model.MoneViViTClassificationModel(tiny_video_config(),
                                                     VIDEO_META)
    params = init_params(model, VIDEO_META['input_shape'])
    frame = jax.random.normal(jax.random.PRNGKey(2), (2, 1, 32, 32, 1))
    clip = jnp.tile(frame, (1, 8, 1, 1, 1))
    budgets = (0.3, 0.6)
    maps = jax.jit(lambda clip: [  # One compilation for both budgets.
        model.flax_model.apply({'params': params}, clip, budget=b,
                               method='routing') for b in budgets])(clip)
    for experts in maps:
      self.assertEqual(experts.shape, (2, 4, 8, 8))
      for t in range(1, 4):
        np.testing.assert_array_equal(experts[:, t], experts[:, 0])
      # Every expert bucket is filled, so the frame is really routed.
      self.assertGreater(len(np.unique(experts)), 1)

  def _image_train_state(self, width=32):
    image = mone_model.MoneViTClassificationModel(
        tiny_image_config(width=width), IMAGE_META)
    params = init_params(image, IMAGE_META['input_shape'], rng=7)
    # Non-trivial alpha and router, so that copying them is visible.
    params = flax.core.unfreeze(params)
    params['Transformer']['alpha'] = jnp.asarray(0.25)
    return train_utils.TrainState(params=flax.core.freeze(params))

  def _video_train_state(self, config):
    model = video_model.MoneViViTClassificationModel(config, VIDEO_META)
    params = init_params(model, VIDEO_META['input_shape'], rng=3)
    return model, train_utils.TrainState(params=params)

  @parameterized.parameters('central_frame_initializer',
                            'average_frame_initializer')
  def test_init_from_copies_spatial_weights_and_inflates(self, kernel_init):
    config = tiny_video_config()
    config.model.temporal_encoding_config.kernel_init_method = kernel_init
    model, state = self._video_train_state(config)
    restored = self._image_train_state()
    new = model.init_from_train_state(state, restored,
                                      config.init_from.model_config)
    src = flax.traverse_util.flatten_dict(
        flax.core.unfreeze(restored.params))
    dst = flax.traverse_util.flatten_dict(flax.core.unfreeze(new.params))
    old = flax.traverse_util.flatten_dict(flax.core.unfreeze(state.params))
    copied = 0
    for key, value in src.items():
      if key[0] != 'Transformer':
        continue
      np.testing.assert_array_equal(
          dst[('SpatialTransformer',) + key[1:]], value, err_msg=str(key))
      copied += 1
    self.assertEqual(copied, 2 * 16 + 2 + 2 + 1)  # blocks, norm, router, alpha
    # Tubelet kernel [t=2, 4, 4, 1, D] inflated from the 2D patch kernel.
    kernel2d = src[('embedding', 'kernel')]
    kernel3d = dst[('embedding', 'kernel')]
    self.assertEqual(kernel3d.shape, (2,) + kernel2d.shape)
    if kernel_init == 'central_frame_initializer':
      np.testing.assert_array_equal(kernel3d[1], kernel2d)
      np.testing.assert_array_equal(kernel3d[0], 0.0)
    else:
      np.testing.assert_allclose(kernel3d[0], kernel2d / 2, rtol=1e-6)
      np.testing.assert_allclose(kernel3d[1], kernel2d / 2, rtol=1e-6)
    np.testing.assert_array_equal(dst[('embedding', 'bias')],
                                  src[('embedding', 'bias')])
    # Position embedding: 7x7 grid resized to 8x8, class-token row kept.
    posemb = dst[('SpatialTransformer', 'posembed_input', 'pos_embedding')]
    self.assertEqual(posemb.shape, (1, 1 + 64, 32))
    np.testing.assert_array_equal(
        posemb[:, :1], old[('SpatialTransformer', 'posembed_input',
                            'pos_embedding')][:, :1])
    grid = np.asarray(src[('pos_embedding',)]).reshape(7, 7, 32)
    np.testing.assert_allclose(posemb[0, 1:].reshape(8, 8, 32)[0, 0],
                               grid[0, 0], rtol=1e-5)
    # Temporal transformer and classifier keep their fresh values.
    for key, value in old.items():
      if key[0] in ('TemporalTransformer', 'output_projection'):
        np.testing.assert_array_equal(dst[key], value)

  def test_wrong_shape_checkpoint_is_a_clear_error(self):
    config = tiny_video_config()
    model, state = self._video_train_state(config)
    restored = self._image_train_state(width=64)
    with self.assertRaisesRegex(
        ValueError, r'does not fit .*encoderblock_0.*checkpoint \(64,.*'
        r'vs model \(32,'):
      model.init_from_train_state(state, restored,
                                  config.init_from.model_config)

  def test_not_an_image_checkpoint_is_a_clear_error(self):
    config = tiny_video_config()
    model, state = self._video_train_state(config)
    with self.assertRaisesRegex(ValueError, 'no Transformer'):
      model.init_from_train_state(
          state, train_utils.TrainState(params={'head': {}, 'x': 1}),
          ml_collections.ConfigDict({'model': {'classifier': 'gap'}}))

  def test_budget_names(self):
    self.assertEqual(mone_model.budget_name(None), 'dense')
    self.assertEqual(mone_model.budget_name(0.3), 'ec0.3')
    self.assertEqual(mone_model.budget_name((0., 1., 0., 0.)), 'expert1')
    self.assertEqual(mone_model.budget_name((.5, .5, 0., 0.)),
                     'capacities0.5-0.5-0-0')


if __name__ == '__main__':
  absltest.main()
