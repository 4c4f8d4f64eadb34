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

"""Scenic runs export: every classifier, position embedding, and ViViT.

Each model is Scenic's own config (ImageNet ViT, Kinetics ViViT factorised
encoder) with `model_name` switched to MoNE, shrunk, trained a few steps by
the trainer it names (Scenic's `classification_trainer`; `vivit_trainer`);
the workdir holds `config.json` as `projects.mone.main` writes it. The export
(which imports no Scenic) must give the trained Scenic model's logits within
1e-4 and its routing, from the `jax.export` and the SavedModel artifacts.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

import projects
projects.skip_without_scenic()

from absl.testing import absltest
from absl.testing import parameterized
from clu import metric_writers
from flax import jax_utils
import jax
import ml_collections
import numpy as np
from scenic.projects.baselines.configs.imagenet import imagenet_vit_config
from scenic.train_lib import train_utils

from mone_plugin import export
from mone_plugin.serving import forward
from mone_plugin.serving import models
from mone_plugin.serving import test_util
from mone_plugin.serving import workdirs
from projects.mone import main
from tests import scenic_test_util as stu

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
E_CS = (0.5, None)  # Exported budgets: the trained e_c and the dense path.


def shrink(config, steps, split, **data):
  """A few steps on the local data, checkpointed at the end."""
  return stu.shrink(config, steps, split, eval_split='test[:16]',
                    eval_batch_size=16, checkpoint=True, count_flops=False,
                    **data)


def train(config, workdir):
  """Trains with the config's trainer; the params and the Flax module."""
  os.makedirs(workdir)
  with open(os.path.join(workdir, 'config.json'), 'w') as f:
    f.write(config.to_json_best_effort())  # As projects.mone.main does.
  rng = jax.random.PRNGKey(0)
  dataset = train_utils.get_dataset(config, rng)
  model_cls = main.get_model_cls(config.model_name)
  state, _, _ = main.get_trainer(config.trainer_name)(
      rng=rng, config=config, model_cls=model_cls, dataset=dataset,
      workdir=workdir, writer=metric_writers.LoggingWriter())
  module = model_cls(config, dataset.meta_data).flax_model
  params = jax.device_get(jax_utils.unreplicate(state).params)
  return params, module


def vit_config(classifier, posemb):
  config = imagenet_vit_config.get_config()
  config.model_name = 'mone_vit_classification'
  config.mone = ml_collections.ConfigDict({'e_c': 0.5})
  config.model.update(hidden_size=32, num_layers=1, mlp_dim=64, num_heads=2,
                      representation_size=32, classifier=classifier,
                      positional_embedding=posemb)
  config.model.patches.size = (4, 4)
  config.dataset_name = 'mone_local_images'
  return shrink(config, steps=2, split='train[:32]', image_size=32)


def scenic_reference(module, params):
  """f(e_c, uint8 inputs) -> the trained Scenic module's logits, routing."""
  def f(e_c, inputs):
    x = -1.0 + inputs.astype(np.float32) / 255.0 * 2.0
    logits = module.apply({'params': params}, x, train=False, budget=e_c)
    experts = None if e_c is None else module.apply(
        {'params': params}, x, budget=e_c, method='routing')
    return {'logits': np.asarray(logits),
            'experts': None if experts is None else np.asarray(experts)}
  return f


def inputs(shape, n=3):
  return np.random.default_rng(0).integers(0, 256, (n, *shape)).astype(
      np.uint8)


class ScenicExportTest(parameterized.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.tmp = cls.enterClassContext(tempfile.TemporaryDirectory())
    # Scenic's default: a class token and learned position embeddings.
    cls.token = (vit_config('token', 'learned_1d'),
                 os.path.join(cls.tmp, 'vit_token_learned_1d'))
    cls.token += train(*cls.token)

  # Every position embedding, and the classifiers of distinct code (the
  # class token; mean, max (as sum) pooling; MAP). 'none' is for
  # per-token outputs, which no classification trainer trains.
  @parameterized.parameters(
      ('token', 'learned_1d'), ('gap', 'sinusoidal_1d'),
      ('map', 'sinusoidal_2d'), ('gmp', 'none'))
  def test_vit_exports_as_trained(self, classifier, posemb):
    config = vit_config(classifier, posemb)
    workdir = os.path.join(self.tmp, f'vit_{classifier}_{posemb}')
    if classifier == 'token':
      params, module = self.token[2:]
    else:
      params, module = train(config, workdir)
    out = os.path.join(workdir, 'export')
    # No --config: the workdir's config.json.
    ckpt = workdirs.read_workdir(workdir)
    manifest = export.export(ckpt, out, E_CS, onnx='no')
    self.assertEqual(manifest['model'], 'ScenicViT')
    self.assertEqual(manifest['input']['height'], 32)
    self.assertEqual(manifest['patch_grid'], [8, 8])
    test_util.assert_matches(self, out, inputs((32, 32, 1)),
                             scenic_reference(module, params))
    # The manifest's GFLOPs are Scenic's model's.
    model = main.get_model_cls(config.model_name)(
        config, {'num_classes': 10, 'input_shape': (-1, 32, 32, 1)})
    self.assertAlmostEqual(manifest['budgets'][0]['gflops'], model.gflops(0.5))

  def test_vivit_exports_clips(self):
    config = stu.tiny_scenic_vivit_config()
    shrink(config, steps=2, split='train[:16]')
    workdir = os.path.join(self.tmp, 'vivit')
    params, module = train(config, workdir)
    out = os.path.join(workdir, 'export')
    # By the command, without --config; it imports neither framework.
    argv = ['export', f'--workdir={workdir}', f'--out={out}',
            '--e_c=0.5,dense', '--onnx=no']
    code = '\n'.join([
        'import runpy, sys',
        f'sys.argv = {argv!r}',
        'try:',
        "  runpy.run_module('mone_plugin.export', run_name='__main__')",
        'except SystemExit as e:',  # absl's app.run exits.
        '  assert not e.code, e.code',
        "print(sorted({'scenic', 'big_vision'} & "
        "{m.split('.')[0] for m in sys.modules}))"])
    r = subprocess.run(
        [sys.executable, '-c', code], cwd=REPO, capture_output=True,
        text=True, timeout=600, check=False,
        env=dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL='3'))
    self.assertEqual(r.returncode, 0, r.stderr[-3000:])
    self.assertEqual(r.stdout.strip().splitlines()[-1], '[]')
    with open(os.path.join(out, 'manifest.json')) as f:
      manifest = json.load(f)
    self.assertEqual(manifest['model'], 'SpaceTimeViViT')
    self.assertEqual(manifest['input']['layout'], 'B, T, H, W, C')
    clip = (manifest['input']['frames'], 32, 32, 1)
    self.assertEqual(clip, (8, 32, 32, 1))
    self.assertEqual(manifest['patch_grid'], [4, 8, 8])
    got = test_util.assert_matches(self, out, inputs(clip),
                                   scenic_reference(module, params))
    self.assertEqual(got['dense']['jax']['experts'].shape, (3, 4, 8, 8))

  def test_config_json_or_config_flag(self):
    config, trained = self.token[:2]
    workdir = os.path.join(self.tmp, 'no_config_json')
    shutil.copytree(trained, workdir, ignore=shutil.ignore_patterns('export'))
    os.remove(os.path.join(workdir, 'config.json'))
    with self.assertRaisesRegex(
        forward.ExportError,
        r'without config\.json: pass the run.s config with --config=.*'
        r'projects\.mone\.main.*writes config\.json'):
      workdirs.read_workdir(workdir)
    # --config instead (it also overrides a config.json).
    ckpt = workdirs.read_workdir(workdir, config)
    model, shape = workdirs.build_model(ckpt)
    self.assertIsInstance(model, models.ScenicViT)
    self.assertEqual((model.classifier, shape), ('token', (32, 32, 1)))
    with open(os.path.join(workdir, 'config.json'), 'w') as f:
      json.dump({'model': {'hidden_size': 32, 'classifier': 'gap'}}, f)
    self.assertEqual(
        workdirs.read_workdir(workdir, config).model_cfg['classifier'],
        'token')
    shutil.rmtree(workdir)


class ScenicViTTest(parameterized.TestCase):
  """`models.ScenicViT` computes `MoneScenicViT` (random weights, no run)."""

  @parameterized.product(
      classifier=sorted(models.SCENIC_CLASSIFIERS),
      posemb=models.SCENIC_POSITIONAL_EMBEDDINGS)
  def test_same_outputs_as_scenic_model(self, classifier, posemb):
    config = ml_collections.ConfigDict(dict(
        model=dict(hidden_size=32, num_layers=1, mlp_dim=64, num_heads=2,
                   patches={'size': (4, 4)}, classifier=classifier,
                   positional_embedding=posemb, representation_size=16),
        mone=dict(e_c=0.5), model_dtype_str='float32'))
    module = main.get_model_cls('mone_vit_classification')(
        config, {'num_classes': 5,
                 'input_shape': (-1, 16, 16, 1)}).flax_model
    x = inputs((16, 16, 1), n=2)
    params = module.init(jax.random.PRNGKey(0), x.astype(np.float32),
                         train=False)['params']
    params = jax.tree.map(  # Nonzero head, alpha: every path counts.
        lambda p: p + 0.1 * np.cos(np.arange(p.size).reshape(p.shape)),
        jax.device_get(params))
    ckpt = workdirs.Checkpoint(
        framework='scenic', params=params, model_cfg=dict(config.model),
        num_classes=None, image_size=16, class_names=None)
    model, shape = workdirs.build_model(ckpt)
    self.assertEqual(shape, (16, 16, 1))
    xf = x.astype(np.float32) / 255.0
    for e_c in (0.5, None):
      want = module.apply({'params': params}, xf, train=False, budget=e_c)
      got, out = model.apply({'params': params}, xf, e_c=e_c)
      np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
      if e_c is not None:
        np.testing.assert_array_equal(
            out['experts'].reshape(2, 4, 4),
            module.apply({'params': params}, xf, budget=e_c,
                         method='routing'))


if __name__ == '__main__':
  absltest.main()
