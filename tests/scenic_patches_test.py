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

"""patches/scenic: no drift from the sources; applies to Scenic and trains.

The patched tree runs a short nested pretraining with
`python -m scenic.projects.mone.main`, with neither this repo's `projects`
nor `mone_plugin` importable: the patches carry everything MoNE needs.
"""

import glob
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile

from absl.testing import absltest

from mone_plugin import frameworks

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PATCHES = sorted(glob.glob(os.path.join(REPO, 'patches', 'scenic', '*.patch')))
_SPEC = importlib.util.spec_from_file_location(
    'generate', os.path.join(REPO, 'patches', 'generate.py'))
generate = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(generate)


def _pinned_scenic_checkout():
  """The Scenic checkout if it is at the pinned commit, else None."""
  directory = frameworks.checkout_dir('scenic')
  if directory is None:
    return None
  marker = os.path.join(directory, '.exported-commit')
  if os.path.exists(marker):
    with open(marker) as f:
      commit = f.read().strip()
  else:
    commit = subprocess.run(['git', '-C', directory, 'rev-parse', 'HEAD'],
                            capture_output=True, text=True).stdout.strip()
  return directory if commit == frameworks.PINNED['scenic'] else None


class ScenicPatchesTest(absltest.TestCase):

  def test_patches_match_a_fresh_generation(self):
    self.assertLen(PATCHES, 2)
    self.assertEqual(generate.drift('scenic'), [], 'run `make patches`')

  def test_patches_name_only_what_exists_upstream(self):
    added = {}
    for patch in PATCHES:
      with open(patch) as f:
        text = f.read()
      added.update(dict.fromkeys(re.findall(r'^\+\+\+ b/(\S+)', text, re.M)))
      for line in text.splitlines():
        if line.startswith('+'):
          self.assertNotRegex(line, r'\bmone_plugin\b|\bmake (scenic|data)',
                              os.path.basename(patch))
    # The local data sets the configs read are built by the patch's own
    # module (the error messages and README name it).
    self.assertIn('scenic/projects/mone/data/prepare.py', added)
    for name in ('budgets.py', 'viz.py'):
      self.assertIn(f'scenic/projects/mone/{name}', added)

  def test_rewrite_for_upstream(self):
    text = ('import projects  # plugin-only\n'
            'from mone_plugin import frameworks\n'
            'from mone_plugin import vit as mone_vit\n'
            'from projects.mone import model\n'
            '  frameworks.ensure("scenic")\n'
            'x = "projects/mone/configs/a.py"  # see `mone_plugin.flops`\n')
    names = generate.names('scenic')
    self.assertEqual(
        generate.rewrite(text, names),
        'from scenic.projects.mone import vit as mone_vit\n'
        'from scenic.projects.mone import model\n'
        'x = "scenic/projects/mone/configs/a.py"  # see '
        '`scenic.projects.mone.flops`\n')
    with self.assertRaisesRegex(ValueError, 'Unrewritten mone_plugin'):
      generate.rewrite('import mone_plugin.benchmark\n', names)

  def test_apply_to_pinned_scenic_and_train(self):
    checkout = _pinned_scenic_checkout()
    if checkout is None:
      self.skipTest('Scenic checkout at the pinned commit not found.')
    big_vision = frameworks.checkout_dir('big_vision')
    if big_vision is None:
      self.skipTest('Big Vision (imported by Scenic pretrain_utils) not found.')
    from mone_plugin.data import prepare  # pylint: disable=g-import-not-at-top
    data_dir = prepare.ensure_prepared('fashion_mnist_local')
    tmp = tempfile.mkdtemp(prefix='scenic_patched_')
    tree = os.path.join(tmp, 'scenic_tree')
    shutil.copytree(checkout, tree, ignore=shutil.ignore_patterns(
        '__pycache__', '*.pyc'))
    env = {**os.environ, 'GIT_CONFIG_GLOBAL': os.devnull,
           'GIT_CONFIG_SYSTEM': os.devnull, 'GIT_AUTHOR_NAME': 'test',
           'GIT_AUTHOR_EMAIL': 'test@example.com',
           'GIT_COMMITTER_NAME': 'test',
           'GIT_COMMITTER_EMAIL': 'test@example.com'}

    def git(*args):
      result = subprocess.run(['git', *args], cwd=tree, env=env,
                              capture_output=True, text=True)
      self.assertEqual(result.returncode, 0, result.stderr)

    git('init', '-q')
    git('add', '-A')
    git('commit', '-q', '-m', 'Scenic at the pinned commit')
    git('am', '-q', *PATCHES)
    for name in ('main.py', 'trainer.py', 'layers.py', 'vivit.py',
                 'configs/local_nested_pretrain.py'):
      self.assertTrue(os.path.exists(
          os.path.join(tree, 'scenic', 'projects', 'mone', name)), name)

    workdir = os.path.join(tmp, 'workdir')
    run_env = {**os.environ, 'PYTHONPATH': os.pathsep.join([tree, big_vision])}
    cmd = [sys.executable, '-m', 'scenic.projects.mone.main',
           '--config=scenic/projects/mone/configs/local_nested_pretrain.py'
           ':steps=3', f'--workdir={workdir}',
           f'--config.dataset_configs.data_dir={data_dir}',
           '--config.batch_size=8', '--config.eval_batch_size=32',
           '--config.dataset_configs.eval_split=test[:32]',
           '--config.model.width=16', '--config.model.depth=1',
           '--config.model.mlp_dim=32', '--config.model.num_heads=2']
    result = subprocess.run(cmd, cwd=tree, env=run_env, capture_output=True,
                            text=True, timeout=600)
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    # Imported from the patched tree, not from this repo.
    self.assertNotIn(REPO, result.stderr)
    self.assertTrue(os.path.exists(os.path.join(workdir, 'checkpoint_3')))
    self.assertTrue(os.path.exists(os.path.join(workdir, 'final_eval.json')))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
  absltest.main()
