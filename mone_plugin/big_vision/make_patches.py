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

r"""Writes `patches/big_vision/*.patch` from this repo's sources.

  python -m mone_plugin.big_vision.make_patches [--out_dir=patches/big_vision]
  python -m mone_plugin.big_vision.make_patches --check   # exit 1 on drift

The patches apply with `git am` to Big Vision at the pinned commit and add:
  1. utils.sync() over a NamedSharding (compat.sync),
  2. RandAugment without tensorflow_addons (tfa_image.py),
  3. the MoNE model: big_vision/models/proj/mone/ (vit.py, the Big Vision
     module, and the core it imports: mone_vit.py, layers.py, ...),
  4. the MoNE trainer: big_vision/trainers/proj/mone/ (train.py, ...),
  5. the configs: big_vision/configs/proj/mone/.
Files are copied with their `mone_plugin` imports and names rewritten to their
place in the Big Vision tree; commits have fixed authors and dates, so the
output is byte-for-byte reproducible.
"""

import ast
import filecmp
import inspect
import os
import re
import shutil
import subprocess
import sys
import tempfile

from absl import app
from absl import flags

from mone_plugin import frameworks

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
PLUGIN = os.path.join(REPO, "mone_plugin")

# Our module -> its module in the Big Vision tree. Core modules that the
# adapters import are added by `_module_map` (as models/proj/mone/<name>).
ADAPTERS = {
    "mone_plugin.big_vision.vit": "big_vision.models.proj.mone.vit",
    "mone_plugin.big_vision.train": "big_vision.trainers.proj.mone.train",
    "mone_plugin.big_vision.budgets": "big_vision.trainers.proj.mone.budgets",
    "mone_plugin.big_vision.evaluate":
        "big_vision.trainers.proj.mone.evaluate",
    "mone_plugin.big_vision.tfa_image": "big_vision.pp.archive.tfa_image",
}
CORE_RENAMES = {"mone_plugin.vit": "big_vision.models.proj.mone.mone_vit"}
CONFIGS = {
    "configs/mone_fashion_mnist.py": "big_vision/configs/proj/mone/fashion_mnist.py",
    "configs/mone_i21k.py": "big_vision/configs/proj/mone/i21k.py",
    "configs/mone_i1k_ti16.py": "big_vision/configs/proj/mone/i1k_ti16.py",
}
AUTHOR = ("MoNE Plugin Authors", "mone-plugin@users.noreply.github.com")
DATE = "2026-01-01T00:00:00+00:00"
README = """\
# MoNE: Mixture of Nested Experts (Jain et al., NeurIPS 2024)

Generated from the MoNE plugin by `mone_plugin/big_vision/make_patches.py`.

- Model: `big_vision/models/proj/mone/vit.py` (`model_name="proj.mone.vit"`),
  Big Vision's ViT with nested experts and Expert Preferred Routing; loads
  Big Vision ViT checkpoints.
- Trainer: `python -m big_vision.trainers.proj.mone.train --config
  big_vision/configs/proj/mone/fashion_mnist.py --workdir /tmp/mone` (e_c fixed,
  from a GFLOPs budget or sampled per step; isoFLOPs; evaluators per e_c).
- Evaluation at several budgets: `python -m
  big_vision.trainers.proj.mone.evaluate --workdir /tmp/mone`.
- The Fashion-MNIST config reads the local TFDS data set `fashion_mnist_local`
  that the plugin's `python -m mone_plugin.data.prepare` builds.
"""


def _module_file(module):
  return os.path.join(REPO, *module.split(".")) + ".py"


def _plugin_imports(path):
  """`mone_plugin...` modules imported by the file at `path`."""
  tree = ast.parse(open(path).read())
  found = set()
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      found |= {a.name for a in node.names if a.name.startswith("mone_plugin")}
    elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
        "mone_plugin"):
      for a in node.names:
        sub = f"{node.module}.{a.name}"
        found.add(sub if os.path.exists(_module_file(sub)) else node.module)
  return found


def _module_map():
  """Every module the patches carry: ours -> Big Vision's name."""
  mapping = dict(ADAPTERS)
  todo = [m for m in ADAPTERS if m != "mone_plugin.big_vision.tfa_image"]
  while todo:
    for dep in _plugin_imports(_module_file(todo.pop())):
      if dep in mapping:
        continue
      if dep.startswith("mone_plugin.big_vision"):
        raise ValueError(f"{dep} is imported by a patched module but has no "
                         "place in ADAPTERS.")
      mapping[dep] = CORE_RENAMES.get(
          dep, "big_vision.models.proj.mone." + dep.rsplit(".", 1)[1])
      todo.append(dep)
  return mapping


def rewrite(text, mapping):
  """Rewrites module names, imports and paths from ours to Big Vision's."""
  names = dict(mapping)
  names.update({k.replace(".", "/") + ".py": v.replace(".", "/") + ".py"
                for k, v in mapping.items()})
  names.update(CONFIGS)
  for ours in sorted(names, key=len, reverse=True):
    theirs = names[ours]
    if ours.endswith(".py"):
      text = text.replace(ours, theirs)
      continue
    pkg, _, mod = ours.rpartition(".")
    tpkg, _, tmod = theirs.rpartition(".")
    # from <pkg> import <mod> [as <alias>]
    text = re.sub(
        rf"^(\s*)from {re.escape(pkg)} import {mod}\b( as (\w+))?",
        lambda m, tpkg=tpkg, tmod=tmod: (
            f"{m.group(1)}from {tpkg} import {tmod}"
            + (f" as {m.group(3)}" if m.group(3) and m.group(3) != tmod
               else (f" as {mod}" if not m.group(3) and mod != tmod else ""))),
        text, flags=re.M, count=0)
    text = re.sub(rf"(?<![\w.]){re.escape(ours)}(?![\w])", theirs, text)
  leftover = re.findall(r"^.*\bimport\b.*mone_plugin.*$|^.*mone_plugin\S* import.*$",
                        text, flags=re.M)
  if leftover:
    raise ValueError(f"Unrewritten plugin imports: {leftover}")
  return text


def _sync_patch(bv_utils_text):
  """Big Vision's utils.py with `sync` replaced by ours."""
  from mone_plugin.big_vision import compat  # pylint: disable=g-import-not-at-top
  ours = inspect.getsource(compat.sync).replace("u.reshard(", "reshard(")
  pattern = re.compile(r"^def sync\(\):\n(?:(?:    |  |\n).*\n)*?(?=\n\n)",
                       flags=re.M)
  if len(pattern.findall(bv_utils_text)) != 1:
    raise ValueError("Could not find exactly one `def sync()` in utils.py.")
  return pattern.sub(lambda _: ours.rstrip("\n") + "\n", bv_utils_text)


def _git(repo, *args, **kw):
  env = dict(os.environ, GIT_AUTHOR_NAME=AUTHOR[0],
             GIT_AUTHOR_EMAIL=AUTHOR[1], GIT_COMMITTER_NAME=AUTHOR[0],
             GIT_COMMITTER_EMAIL=AUTHOR[1], GIT_AUTHOR_DATE=DATE,
             GIT_COMMITTER_DATE=DATE, GIT_CONFIG_NOSYSTEM="1",
             GIT_CONFIG_GLOBAL=os.devnull, HOME=repo)
  return subprocess.run(["git", "-C", repo, *args], env=env, check=True,
                        capture_output=True, text=True, **kw).stdout


def _write(root, rel, text):
  path = os.path.join(root, rel)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w") as f:
    f.write(text)


def make_patches(out_dir, bv_dir=None):
  """Writes the patch series into `out_dir`; returns the file names."""
  bv_dir = bv_dir or frameworks.checkout_dir("big_vision")
  if bv_dir is None:
    frameworks.ensure("big_vision")  # Raises with instructions.
  mapping = _module_map()
  to_path = lambda m: m.replace(".", "/") + ".py"
  read = lambda rel: open(os.path.join(bv_dir, rel)).read()
  src = lambda m: rewrite(open(_module_file(m)).read(), mapping)

  with tempfile.TemporaryDirectory() as tmp:
    _git(tmp, "init", "-q")
    # Only the files the series modifies: `git am` matches context lines.
    for rel in ("big_vision/utils.py", "big_vision/pp/archive/autoaugment.py"):
      _write(tmp, rel, read(rel))
    _git(tmp, "add", "-A")
    _git(tmp, "commit", "-qm", "Big Vision files touched by the MoNE series")

    def commit(message, files):
      for rel, text in files.items():
        _write(tmp, rel, text)
      _git(tmp, "add", "-A")
      _git(tmp, "commit", "-qm", message)

    commit("utils: sync() over a NamedSharding\n\n"
           "jax.sharding.PositionalSharding was removed in JAX 0.7, so train.py "
           "exited\nwith an error on its last line (u.sync()).",
           {"big_vision/utils.py": _sync_patch(read("big_vision/utils.py"))})
    aa = read("big_vision/pp/archive/autoaugment.py")
    old_import = "from tensorflow_addons import image as contrib_image"
    if old_import not in aa:
      raise ValueError(f"{old_import!r} not in autoaugment.py.")
    commit("pp/archive: RandAugment without tensorflow_addons\n\n"
           "TFA is archived and does not import under TF 2.16+ (Keras 3). "
           "tfa_image.py\nprovides rotate/translate/transform over TF's "
           "ImageProjectiveTransformV3.",
           {"big_vision/pp/archive/autoaugment.py": aa.replace(
               old_import,
               "from big_vision.pp.archive import tfa_image as contrib_image"),
            to_path(mapping["mone_plugin.big_vision.tfa_image"]):
                src("mone_plugin.big_vision.tfa_image")})
    model_mods = sorted(m for m, t in mapping.items()
                        if t.startswith("big_vision.models."))
    commit("models/proj/mone: Mixture of Nested Experts ViT",
           {to_path(mapping[m]): src(m) for m in model_mods})
    trainer_mods = sorted(m for m, t in mapping.items()
                          if t.startswith("big_vision.trainers."))
    commit("trainers/proj/mone: MoNE trainer and per-budget evaluation",
           {to_path(mapping[m]): src(m) for m in trainer_mods})
    configs = {theirs: rewrite(open(os.path.join(REPO, ours)).read(), mapping)
               for ours, theirs in CONFIGS.items()
               if os.path.exists(os.path.join(REPO, ours))}
    configs["big_vision/configs/proj/mone/README.md"] = README
    commit("configs/proj/mone: MoNE configs (AugReg i21k, i1k Ti/16, "
           "Fashion-MNIST)", configs)

    os.makedirs(out_dir, exist_ok=True)
    for old in os.listdir(out_dir):
      if old.endswith(".patch"):
        os.remove(os.path.join(out_dir, old))
    _git(tmp, "format-patch", "-q", "--zero-commit", "--no-signature",
         "--numbered", "-o", os.path.abspath(out_dir), "HEAD~5")
  return sorted(n for n in os.listdir(out_dir) if n.endswith(".patch"))


def main(argv):
  del argv
  out_dir = flags.FLAGS.out_dir or os.path.join(REPO, "patches", "big_vision")
  if not flags.FLAGS.check:
    for name in make_patches(out_dir):
      print(os.path.join(out_dir, name))
    return
  with tempfile.TemporaryDirectory() as tmp:
    fresh = make_patches(tmp)
    committed = sorted(n for n in os.listdir(out_dir) if n.endswith(".patch"))
    _, mismatch, errors = filecmp.cmpfiles(tmp, out_dir, fresh, shallow=False)
    if committed != fresh or mismatch or errors:
      drift = mismatch or errors or sorted(set(committed) ^ set(fresh))
      print(f"Patches in {out_dir} drifted from the sources: {drift}. Run "
            "`make patches-bv`.")
      sys.exit(1)
    print(f"{len(fresh)} patches in {out_dir} match the sources.")


if __name__ == "__main__":
  flags.DEFINE_string("out_dir", None,
                      "Where to write the patches (default: patches/big_vision).")
  flags.DEFINE_boolean("check", False,
                       "Compare with a fresh generation instead of writing.")
  app.run(main)
