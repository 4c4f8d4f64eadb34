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

r"""Writes `patches/scenic/*.patch`: MoNE as `scenic/projects/mone/`.

The patches are `git am`-able against Scenic's pinned commit and are generated
from this repo's sources, never edited by hand:

  - 0001 adds the core library (`mone_plugin/{capacity,routing,layers,vit,
    vivit,flops}.py`) as `scenic/projects/mone/<name>.py`;
  - 0002 adds the project (`projects/mone/`: main, models, trainers, data,
    configs, README, tests) as `scenic/projects/mone/`.

Imports are rewritten for the upstream location (`mone_plugin.<core>` and
`projects.mone` become `scenic.projects.mone`); lines tagged `# plugin-only`
(the skips that only this repo's test runner needs) and the framework locator
are dropped.

  python patches/scenic/generate.py           # rewrite the patches
  python patches/scenic/generate.py --check   # exit 1 if they drifted
"""

import argparse
import filecmp
import os
import re
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
PATCH_DIR = os.path.join(REPO, 'patches', 'scenic')
CORE = ('capacity', 'routing', 'layers', 'vit', 'vivit', 'flops')
UPSTREAM = 'scenic/projects/mone'
_CORE_RE = '|'.join(CORE)
# Fixed identity and dates make the patches byte-for-byte reproducible.
_GIT_ENV = {
    'GIT_AUTHOR_NAME': 'The MoNE Plugin Authors',
    'GIT_AUTHOR_EMAIL': 'mone-plugin@users.noreply.github.com',
    'GIT_AUTHOR_DATE': '2026-01-01T00:00:00+0000',
    'GIT_COMMITTER_NAME': 'The MoNE Plugin Authors',
    'GIT_COMMITTER_EMAIL': 'mone-plugin@users.noreply.github.com',
    'GIT_COMMITTER_DATE': '2026-01-01T00:00:00+0000',
    'GIT_CONFIG_GLOBAL': os.devnull,
    'GIT_CONFIG_SYSTEM': os.devnull,
}
_MESSAGES = (
    ('MoNE: nested experts, Expert Preferred Routing, MoNE ViT and ViViT',
     'The core of Mixture of Nested Experts (Jain et al. 2024): capacity\n'
     'distributions, Expert Preferred Routing, nested attention and MLP,\n'
     'the MoNE encoder, the MoNE ViT and ViViT factorised encoder, and the\n'
     'analytic GFLOPs. Generated from mone_plugin/ of the MoNE plugin.'),
    ('MoNE project: models, nested and MoNE trainers, configs, local data',
     'Scenic models over the MoNE encoders, nested joint pretraining, MoNE\n'
     'training with init_from (ViViT inflation), evaluation at several\n'
     'e_c, Kinetics-400 / SSv2 / local configs and tests. Generated from\n'
     'projects/mone/ of the MoNE plugin.'),
)


def rewrite(text: str) -> str:
  """Rewrites one source file for its place in Scenic."""
  lines = []
  for line in text.splitlines(keepends=True):
    if line.rstrip().endswith('# plugin-only'):
      continue
    if re.match(r'\s*from mone_plugin import frameworks\s*$', line):
      continue
    if re.match(r'\s*frameworks\.ensure\([^)]*\)\s*$', line):
      continue
    line = re.sub(rf'from mone_plugin import ({_CORE_RE})\b',
                  r'from scenic.projects.mone import \1', line)
    line = re.sub(rf'\bmone_plugin\.({_CORE_RE})\b',
                  r'scenic.projects.mone.\1', line)
    line = re.sub(r'(?<![\w.])projects\.mone\b', 'scenic.projects.mone', line)
    line = re.sub(r'(?<![\w/.])projects/mone/', 'scenic/projects/mone/', line)
    lines.append(line)
  out = ''.join(lines)
  leftover = [l for l in out.splitlines() if re.search(
      r'\bmone_plugin\b', l) and 'mone_plugin.data' not in l]
  if leftover:
    raise ValueError(f'Unrewritten mone_plugin references: {leftover[:3]}')
  return out


def _sources():
  """(source path in this repo, path in Scenic) of each patch, in order."""
  core = [(f'mone_plugin/{name}.py', f'{UPSTREAM}/{name}.py') for name in CORE]
  listed = subprocess.run(
      ['git', 'ls-files', '--cached', '--others', '--exclude-standard',
       'projects/mone'], cwd=REPO, check=True, capture_output=True,
      text=True).stdout.split()
  project = sorted(
      (p, UPSTREAM + p[len('projects/mone'):]) for p in listed
      if os.path.isfile(os.path.join(REPO, p)) and '__pycache__' not in p)
  clash = {dst for _, dst in core} & {dst for _, dst in project}
  if clash:
    raise ValueError(f'Core and project files collide at {sorted(clash)}.')
  return core, project


def _git(cwd, *args):
  env = {**os.environ, **_GIT_ENV}
  return subprocess.run(['git', *args], cwd=cwd, env=env, check=True,
                        capture_output=True, text=True).stdout


def generate(out_dir: str):
  """Writes the patches into `out_dir` (emptied first)."""
  with tempfile.TemporaryDirectory() as tmp:
    _git(tmp, 'init', '-q', '-b', 'main')
    _git(tmp, 'commit', '-q', '--allow-empty', '-m', 'base')
    for (subject, body), files in zip(_MESSAGES, _sources()):
      for src, dst in files:
        with open(os.path.join(REPO, src), encoding='utf-8') as f:
          text = f.read()
        if src.endswith('.py') or src.endswith('.md'):
          text = rewrite(text)
        path = os.path.join(tmp, dst)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w', encoding='utf-8') as f:
          f.write(text)
        _git(tmp, 'add', dst)
      _git(tmp, 'commit', '-q', '-m', f'{subject}\n\n{body}')
    if os.path.isdir(out_dir):
      for name in os.listdir(out_dir):
        if name.endswith('.patch'):
          os.remove(os.path.join(out_dir, name))
    os.makedirs(out_dir, exist_ok=True)
    _git(tmp, 'format-patch', '-q', '--zero-commit', '--no-signature',
         '--full-index', '-o', out_dir, 'HEAD~2..HEAD')


def drift(reference_dir: str = PATCH_DIR):
  """Names of patches that differ from a fresh generation ([] if none)."""
  with tempfile.TemporaryDirectory() as tmp:
    generate(tmp)
    fresh = sorted(n for n in os.listdir(tmp) if n.endswith('.patch'))
    kept = sorted(n for n in os.listdir(reference_dir) if n.endswith('.patch'))
    if fresh != kept:
      return sorted(set(fresh) ^ set(kept))
    return [n for n in fresh if not filecmp.cmp(
        os.path.join(tmp, n), os.path.join(reference_dir, n), shallow=False)]


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--check', action='store_true',
                      help='exit 1 when the patches differ from a generation')
  parser.add_argument('--out', default=PATCH_DIR, help='output directory')
  args = parser.parse_args(argv)
  if args.check:
    stale = drift(args.out)
    if stale:
      print(f'Stale patches {stale}: run python patches/scenic/generate.py')
      return 1
    print('Scenic patches are up to date.')
    return 0
  generate(args.out)
  print(f'Wrote {sorted(os.listdir(args.out))} to {args.out}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
