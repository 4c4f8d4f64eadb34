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

"""The paper's configs build their models (shapes only), right GFLOPs."""

import projects  # plugin-only
projects.skip_without_scenic()  # plugin-only

from absl.testing import absltest
from absl.testing import parameterized
import flax
import jax
import jax.numpy as jnp
from scenic.projects.vivit import model as scenic_vivit

from mone_plugin import flops
from projects.mone import main
from projects.mone import model as mone_model
from projects.mone import train_utils
from projects.mone import video_model
from projects.mone.configs import imagenet21k_nested_vit_b16 as nested_b16
from projects.mone.configs import kinetics400_mone_vivit_b16x2 as k400
from projects.mone.configs import kinetics400_vivit_b16x2_dense as k400_dense
from projects.mone.configs import local_mone_video
from projects.mone.configs import local_nested_pretrain
from projects.mone.configs import scenic_imagenet_vit
from projects.mone.configs import ssv2_mone_vivit_b16x2 as ssv2
from projects.mone.configs import ssv2_vivit_b16x2_dense as ssv2_dense

# Config -> (crop, classes, dense GFLOPs the paper reports).
PAPER = {k400: (224, 400, 283.0), ssv2: (256, 174, 376.3)}


def _shapes(config, crop, classes):
  model = main.get_model_cls(config.model_name)(
      config, {'num_classes': classes,
               'input_shape': (-1, 32, crop, crop, 3)})
  x = jax.ShapeDtypeStruct((1, 32, crop, crop, 3), jnp.float32)
  variables = jax.eval_shape(
      lambda x: model.flax_model.init(jax.random.PRNGKey(0), x, train=False),
      x)
  return model, flax.traverse_util.flatten_dict(
      flax.core.unfreeze(variables['params']))


class PaperConfigsTest(parameterized.TestCase):

  @parameterized.parameters((k400, 0.4), (ssv2, 0.4), (ssv2, 0.3))
  def test_builds_and_gflops_match_flops_module(self, module, e_c):
    crop, classes, paper_dense = PAPER[module]
    config = module.get_config(f'e_c={e_c}')
    self.assertEqual(config.dataset_name, 'video_tfrecord_dataset')
    self.assertEqual(config.dataset_configs.crop_size, crop)
    self.assertEqual(config.dataset_configs.num_frames, 32)
    model, params = _shapes(config, crop, classes)
    self.assertEqual(params[('embedding', 'kernel')].shape,
                     (2, 16, 16, 3, 768))
    self.assertEqual(
        params[('SpatialTransformer', 'posembed_input', 'pos_embedding')].shape,
        (1, 1 + (crop // 16) ** 2, 768))
    self.assertIn(('SpatialTransformer', 'router', 'kernel'), params)
    expected = dict(num_frames=32, image_size=crop, patch_size=16,
                    tubelet_size=2, width=768, spatial_depth=12,
                    temporal_depth=4, mlp_dim=3072, num_heads=12,
                    num_classes=classes, classifier='token', channels=3)
    self.assertAlmostEqual(model.gflops(e_c),
                           flops.vivit_gflops(e_c=e_c, **expected), places=6)
    dense = model.gflops(None)
    self.assertAlmostEqual(dense, flops.vivit_gflops(e_c=None, **expected),
                           places=6)
    self.assertAlmostEqual(dense, paper_dense, delta=0.02 * paper_dense)
    self.assertLess(model.gflops(e_c), 0.6 * dense)

  @parameterized.parameters((k400_dense, k400), (ssv2_dense, ssv2))
  def test_dense_baseline_is_scenic_vivit(self, dense_module, module):
    crop, classes, _ = PAPER[module]
    config = dense_module.get_config()
    self.assertIsNone(config.model.e_c)
    self.assertEqual(tuple(config.mone.eval_e_c), (None,))
    _, ours = _shapes(config, crop, classes)
    # Scenic's own ViViT-FE with the same config: same names and shapes.
    vivit = scenic_vivit.ViViTClassificationModel(
        config, {'num_classes': classes,
                 'input_shape': (-1, 32, crop, crop, 3)}).flax_model
    x = jax.ShapeDtypeStruct((1, 32, crop, crop, 3), jnp.float32)
    theirs = flax.traverse_util.flatten_dict(flax.core.unfreeze(
        jax.eval_shape(lambda x: vivit.init(jax.random.PRNGKey(0), x,
                                            train=False), x)['params']))
    ours = {k: v for k, v in ours.items()
            if not set(k) & {'router', 'alpha'}}
    self.assertEqual({k: v.shape for k, v in ours.items()},
                     {k: v.shape for k, v in theirs.items()})

  def test_ssv2_recipe_of_the_paper(self):
    config = ssv2.get_config('e_c=0.4')
    d = config.dataset_configs
    self.assertEqual(config.model.stochastic_droplayer_rate, 0.3)
    self.assertEqual(config.mixup.alpha, 0.3)
    self.assertEqual(config.label_smoothing, 0.3)
    self.assertEqual((d.augmentation_params.rand_augment_num_layers,
                      d.augmentation_params.rand_augment_magnitude), (2, 20))
    self.assertEqual(d.crop_size, 256)
    # Multi-view test evaluation, as ViViT's recipes.
    self.assertTrue(d.do_multicrop_test)
    self.assertEqual((d.num_test_clips, d.do_three_spatial_crops), (4, True))
    # isoFLOPs: MoNE trains as many FLOPs as 35 epochs of the dense ViViT.
    model, _ = _shapes(config, 256, 174)
    self.assertAlmostEqual(config.num_training_epochs * model.gflops(0.4),
                           35 * model.gflops(None), delta=1.0)
    self.assertEqual(ssv2.get_config('e_c=none').num_training_epochs, 35)
    self.assertEqual(
        ssv2.get_config('iso_flops=false').num_training_epochs, 35)

  @parameterized.parameters(('i21k', 21843, 90), ('i1k', 1000, 300))
  def test_nested_pretraining_at_paper_scale_feeds_the_video_configs(
      self, dataset, classes, epochs):
    config = nested_b16.get_config(f'dataset={dataset}')
    train_utils.check_config(config)
    self.assertEqual(config.trainer_name, 'mone_nested_trainer')
    self.assertEqual(config.num_training_epochs, epochs)
    self.assertEqual(config.dataset_configs.num_classes, classes)
    model = main.get_model_cls(config.model_name)(
        config, {'num_classes': classes, 'input_shape': (-1, 224, 224, 3)})
    self.assertIsInstance(model.flax_model, mone_model.MoneScenicViT)
    # ViT-B/16 at 224 px, and its smallest nested model (every token on
    # expert 0, width 96).
    self.assertAlmostEqual(model.gflops(None), 17.6, delta=0.3)
    self.assertLess(model.gflops((1.0, 0.0, 0.0, 0.0)), 0.2 * 17.6)
    x = jax.ShapeDtypeStruct((1, 224, 224, 3), jnp.float32)
    image = flax.core.unfreeze(jax.eval_shape(
        lambda x: model.flax_model.init(jax.random.PRNGKey(0), x,
                                        train=False), x)['params'])
    # Its checkpoint is what the K400 and SSv2 configs take (`init=`): the
    # spatial transformer of their ViViT, with the same class token.
    for video_cfg, (crop, video_classes, _) in PAPER.items():
      video = video_cfg.get_config('init=/path/to/nested_vit_b16')
      self.assertEqual(video.init_from.model_config.model.classifier,
                       config.model.classifier)
      self.assertEqual(video.init_from.checkpoint_format, 'scenic')
      _, params = _shapes(video, crop, video_classes)
      self.assertEqual(video_model._spatial_shape_problems(  # pylint: disable=protected-access
          flax.traverse_util.unflatten_dict(params), image), [])

  def test_local_configs_build(self):
    image = local_nested_pretrain.get_config('steps=7')
    self.assertEqual(image.num_training_steps, 7)
    image = local_nested_pretrain.get_config(
        'steps=9,width=128,depth=6,mlp_dim=512,num_heads=8,lr=1e-3,'
        'batch_size=32')
    self.assertEqual((image.model.width, image.model.depth,
                      image.model.mlp_dim, image.model.num_heads),
                     (128, 6, 512, 8))
    self.assertEqual((image.lr_configs.base_learning_rate, image.batch_size,
                      image.num_training_steps), (1e-3, 32, 9))
    for arg, e_c in (('config=imagenet_vit_config,e_c=0.3', 0.3),
                     ('gflops=8.8', None)):
      scenic = scenic_imagenet_vit.get_config(arg)
      self.assertEqual(scenic.model_name, 'mone_vit_multilabel_classification')
      self.assertEqual(scenic.model.get('e_c'), e_c)
      train_utils.check_config(scenic)  # classification_trainer honours it.
    image = local_nested_pretrain.get_config('steps=7')
    video = local_mone_video.get_config('init=/tmp/x,e_c=0.3,e_c_grid=0.2/0.6')
    self.assertEqual(video.init_from.checkpoint_path, '/tmp/x')
    self.assertEqual(tuple(video.mone.train_e_c_grid), (0.2, 0.6))
    self.assertEqual(video.model.hidden_size, image.model.width)
    self.assertEqual(tuple(video.model.patches.size),
                     tuple(image.model.patch_size) + (2,))

  def test_local_video_trains_iso_flops(self):
    # The paper's video protocol: MoNE costs the dense ViViT's training FLOPs.
    self.assertEqual(
        local_mone_video.get_config('e_c=none,steps=300').num_training_steps,
        300)
    self.assertEqual(local_mone_video.get_config(
        'e_c=0.3,steps=300,iso_flops=false').num_training_steps, 300)
    for e_c in (0.3, 0.4):
      config = local_mone_video.get_config(f'e_c={e_c},steps=300')
      model = main.get_model_cls(config.model_name)(
          config, {'num_classes': 8, 'input_shape': (-1, 8, 32, 32, 1)})
      self.assertGreaterEqual(config.num_training_steps, 600)
      self.assertAlmostEqual(config.num_training_steps * model.gflops(e_c),
                             300 * model.gflops(None),
                             delta=model.gflops(e_c))
      self.assertEqual(config.lr_configs.steps_per_cycle,
                       config.num_training_steps)
      self.assertEqual(config.log_eval_steps, config.num_training_steps)

  def test_bad_arguments_and_names_are_clear_errors(self):
    with self.assertRaisesRegex(ValueError, r"'foo=1' is not key=value"):
      k400.get_config('foo=1')
    with self.assertRaisesRegex(ValueError, "Unknown model_name 'vit_moe'"):
      main.get_model_cls('vit_moe')
    with self.assertRaisesRegex(ValueError, "Unknown trainer_name 'x'"):
      main.get_trainer('x')
    with self.assertRaisesRegex(ValueError, 'e_c=0.05 is infeasible'):
      k400.get_config('e_c=0.05')  # Its isoFLOPs epochs.
    config = k400.get_config('e_c=0.05,iso_flops=false')
    with self.assertRaisesRegex(ValueError, 'e_c=0.05 is outside the '
                                'feasible range'):
      _shapes(config, 224, 400)


if __name__ == '__main__':
  absltest.main()
