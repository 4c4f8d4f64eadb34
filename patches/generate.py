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

r"""Writes `patches/<framework>/*.patch`, the one generator of both series.

  python3 patches/generate.py                      # both frameworks
  python3 patches/generate.py --framework=scenic   # or big_vision
  python3 patches/generate.py --check              # exit 1 on drift

Each series applies with `git am` to its framework at the pinned commit. It
carries an adapter (Big Vision: `mone_plugin/big_vision/` and `configs/`;
Scenic: `projects/mone/`), every core module the adapter imports (found by
following the imports) and the local data sets (`mone_plugin/data/`), with
module names, imports and paths rewritten to their place upstream:

  Big Vision  core -> big_vision/models/proj/mone/ (mone_plugin/vit.py is
              mone_vit.py there; kernels/ a subpackage), trainer -> big_vision/trainers/proj/mone/,
              configs -> big_vision/configs/proj/mone/, data ->
              big_vision/datasets/mone/, plus three fixes of Big Vision itself.
  Scenic      core and projects/mone/ -> scenic/projects/mone/ (kernels/ a
              subpackage), data ->
              scenic/projects/mone/data/.

Dropped on the way (they only make sense in this repo): lines ending in
`# plugin-only`, Markdown between `<!-- plugin-only -->` and
`<!-- /plugin-only -->`, and the framework locator (`mone_plugin.frameworks`).
A `mone_plugin` name left after rewriting is an error, so the patches name
only what exists upstream. Commits have fixed authors and dates: the output
is byte-for-byte reproducible.
"""

import argparse
import ast
import dataclasses
import filecmp
import inspect
import os
import re
import subprocess
import sys
import tempfile
import textwrap
from typing import Callable, Optional

_HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(_HERE)
# As a script, Python puts patches/ first on the path, where patches/big_vision
# would shadow Big Vision: the repo root takes its place.
sys.path[:] = [REPO] + [p for p in sys.path if p != REPO and os.path.abspath(
    p or os.curdir) != _HERE]

from mone_plugin import frameworks  # pylint: disable=g-import-not-at-top,wrong-import-position

DATA = ("mone_plugin.data.prepare",)  # Carried with what it imports.
# Core subpackages whose modules a carried module may import: data goes to
# the series' `data_package`, kernels to `<core_package>.kernels`.
_SUBPACKAGES = ("mone_plugin.data.", "mone_plugin.kernels.")
_GIT_ENV = {
    "GIT_AUTHOR_NAME": "The MoNE Plugin Authors",
    "GIT_AUTHOR_EMAIL": "mone-plugin@users.noreply.github.com",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00+0000",
    "GIT_COMMITTER_NAME": "The MoNE Plugin Authors",
    "GIT_COMMITTER_EMAIL": "mone-plugin@users.noreply.github.com",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00+0000",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


@dataclasses.dataclass(frozen=True)
class Series:
  """How one framework receives MoNE.

  Attributes:
    name: "big_vision" or "scenic" (also `patches/<name>/`).
    adapters: our adapter modules -> their module upstream.
    core_package: where the core modules they import go.
    core_renames: core modules whose name changes there.
    data_package: where `mone_plugin.data` goes.
    paths: our file or directory paths -> theirs (non-module files, trees).
    commits: (subject and body, predicate on the upstream path) per commit,
      in order; every carried file goes to the first commit that takes it.
    fixes: builds the commits that change the framework's own files: a
      function of its checkout returning [(message, {path: text})].
    extra_files: {upstream path: text} of files only the series has.
  """
  name: str
  adapters: dict[str, str]
  core_package: str
  core_renames: dict[str, str]
  data_package: str
  paths: dict[str, str]
  commits: tuple[tuple[str, Callable[[str], bool]], ...]
  fixes: Optional[Callable[[str], list[tuple[str, dict[str, str]]]]] = None
  extra_files: Optional[dict[str, str]] = None


def _module_file(module):
  return os.path.join(REPO, *module.split(".")) + ".py"


def _is_module(module):
  return os.path.exists(_module_file(module))


def plugin_imports(path):
  """`mone_plugin...` modules imported by the Python file at `path`."""
  with open(path) as f:
    tree = ast.parse(f.read())
  found = set()
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      found |= {a.name for a in node.names if a.name.startswith("mone_plugin")}
    elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
        "mone_plugin"):
      for a in node.names:
        sub = f"{node.module}.{a.name}"
        found.add(sub if _is_module(sub) else node.module)
  return found - {"mone_plugin.frameworks"}  # The locator is dropped.


def _project_files(series):
  """Files under the `paths` trees of `series` (git-tracked or new)."""
  out = {}
  for ours, theirs in series.paths.items():
    if not ours.endswith("/"):
      out[ours] = theirs
      continue
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard",
         ours], cwd=REPO, check=True, capture_output=True,
        text=True).stdout.split()
    for p in listed:
      if os.path.isfile(os.path.join(REPO, p)) and "__pycache__" not in p:
        out[p] = theirs + p[len(ours):]
  return out


def module_map(series):
  """Every module the series carries: ours -> theirs (imports followed)."""
  mapping = dict(series.adapters)
  files = [_module_file(m) for m in series.adapters]
  files += [os.path.join(REPO, p) for p in _project_files(series)
            if p.endswith(".py")]
  files += [_module_file(m) for m in DATA]
  mapping.update({m: _upstream(series, m) for m in DATA})
  while files:
    for dep in sorted(plugin_imports(files.pop())):
      if dep in mapping:
        continue
      if dep.count(".") != 1 and not dep.startswith(_SUBPACKAGES) or (
          dep == "mone_plugin.big_vision"):
        raise ValueError(f"{dep} is imported by a carried module but has no "
                         f"place in the {series.name} series.")
      mapping[dep] = _upstream(series, dep)
      files.append(_module_file(dep))
  return mapping


def _upstream(series, module):
  if module.startswith("mone_plugin.data."):
    return f"{series.data_package}.{module.rsplit('.', 1)[1]}"
  if module.startswith("mone_plugin.kernels."):
    return f"{series.core_package}.kernels.{module.rsplit('.', 1)[1]}"
  return series.core_renames.get(
      module, f"{series.core_package}.{module.rsplit('.', 1)[1]}")


def _names(series, mapping):
  """Every name to rewrite: modules, their files, the `paths`."""
  names = dict(mapping)
  names.update({k.replace(".", "/") + ".py": v.replace(".", "/") + ".py"
                for k, v in mapping.items()})
  names["mone_plugin.data"] = series.data_package
  names["mone_plugin.kernels"] = f"{series.core_package}.kernels"
  # The repo's Makefile is not upstream: its data target is this module there.
  names["`make data`"] = f"`python -m {series.data_package}.prepare`"
  names.update(series.paths)
  names.update({ours[:-3].replace("/", "."): theirs[:-3].replace("/", ".")
                for ours, theirs in series.paths.items()
                if ours.endswith(".py")})  # configs.mone_i21k, imported.
  for ours, theirs in series.paths.items():
    if ours.endswith("/") and ours.count("/") > 1:  # projects/mone/ is a
      names[ours.rstrip("/").replace("/", ".")] = (  # package too.
          theirs.rstrip("/").replace("/", "."))
  return names


def names(series_name):
  """What `rewrite` renames for the series `series_name`."""
  series = SERIES[series_name]
  return _names(series, module_map(series))


def _drop_plugin_only(text):
  text = re.sub(r"^[ \t]*<!-- plugin-only -->\n.*?^[ \t]*<!-- /plugin-only "
                r"-->\n", "", text, flags=re.M | re.S)
  lines = []
  for line in text.splitlines(keepends=True):
    if line.rstrip().endswith("# plugin-only"):
      continue
    if re.match(r"\s*from mone_plugin import frameworks\s*$", line):
      continue
    if re.match(r"\s*frameworks\.ensure\([^)]*\)\s*(#.*)?$", line):
      continue
    lines.append(line)
  return "".join(lines)


def rewrite(text, names):
  """Rewrites one file for its place upstream (see the module docstring).

  Args:
    text: the file.
    names: ours -> theirs: dotted modules and packages, and paths (a path
      ending in "/" is a directory prefix).

  Returns:
    The rewritten text.

  Raises:
    ValueError: a `mone_plugin` name is left.
  """
  text = _drop_plugin_only(text)
  for ours in sorted(names, key=len, reverse=True):
    theirs = names[ours]
    if "/" in ours:
      text = re.sub(rf"(?<![\w/.]){re.escape(ours)}", theirs, text)
      continue
    pkg, _, mod = ours.rpartition(".")
    tpkg, _, tmod = theirs.rpartition(".")
    if pkg:  # from <pkg> import <mod> [as <alias>]
      text = re.sub(
          rf"^(\s*)from {re.escape(pkg)} import {mod}\b( as (\w+))?",
          lambda m, tpkg=tpkg, tmod=tmod, mod=mod: (
              f"{m.group(1)}from {tpkg} import {tmod}"
              + (f" as {m.group(3)}" if m.group(3) and m.group(3) != tmod
                 else (f" as {mod}" if not m.group(3) and mod != tmod
                       else ""))),
          text, flags=re.M)
    text = re.sub(rf"(?<![\w.]){re.escape(ours)}(?![\w])", theirs, text)
  leftover = [line for line in text.splitlines()
              if re.search(r"\bmone_plugin\b", line)]
  if leftover:
    raise ValueError(f"Unrewritten mone_plugin references: {leftover[:3]}")
  return text


def _carried_files(series, mapping):
  """{upstream path: text} of every file of the series but the fixes."""
  names = _names(series, mapping)
  files = {}
  sources = {_module_file(m): v.replace(".", "/") + ".py"
             for m, v in mapping.items()}
  sources.update({os.path.join(REPO, p): t
                  for p, t in _project_files(series).items()})
  sources[os.path.join(REPO, "mone_plugin", "data", "__init__.py")] = (
      series.data_package.replace(".", "/") + "/__init__.py")
  if any(m.startswith("mone_plugin.kernels.") for m in mapping):
    sources[os.path.join(REPO, "mone_plugin", "kernels", "__init__.py")] = (
        series.core_package.replace(".", "/") + "/kernels/__init__.py")
  for src, dst in sorted(sources.items()):
    if dst in files:
      raise ValueError(f"Two files go to {dst} in the {series.name} series.")
    with open(src, encoding="utf-8") as f:
      text = f.read()
    if src.endswith((".py", ".md")):
      text = rewrite(text, names)
    files[dst] = text
  files.update(series.extra_files or {})
  return files


def _git(cwd, *args):
  env = {**os.environ, **_GIT_ENV, "HOME": cwd}
  return subprocess.run(["git", *args], cwd=cwd, env=env, check=True,
                        capture_output=True, text=True).stdout


def _write(root, rel, text):
  path = os.path.join(root, rel)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w", encoding="utf-8") as f:
    f.write(text)


def generate(series, out_dir, checkout=None):
  """Writes the patch series into `out_dir` (its old patches removed).

  Args:
    series: `SERIES[name]`.
    out_dir: where the patches go.
    checkout: the framework's checkout (default: `frameworks.checkout_dir`);
      only series with `fixes` read it.

  Returns:
    The patch file names, sorted.
  """
  fixes = []
  if series.fixes:
    checkout = checkout or frameworks.checkout_dir(series.name)
    if checkout is None:
      frameworks.ensure(series.name)  # Raises with instructions.
    fixes = series.fixes(checkout)
  files = _carried_files(series, module_map(series))
  with tempfile.TemporaryDirectory() as tmp:
    _git(tmp, "init", "-q")
    # The framework files the fixes change, as they are upstream (`git am`
    # matches context lines).
    for rel in sorted({r for _, changed in fixes for r in changed}):
      if os.path.exists(os.path.join(checkout, rel)):
        with open(os.path.join(checkout, rel)) as f:
          _write(tmp, rel, f.read())
    _git(tmp, "commit", "-q", "--allow-empty", "-m", "base")
    _git(tmp, "add", "-A")
    _git(tmp, "commit", "-q", "--allow-empty", "-m", "upstream files")
    count = 0
    for message, changed in fixes:
      for rel, text in changed.items():
        _write(tmp, rel, text)
      _git(tmp, "add", "-A")
      _git(tmp, "commit", "-q", "-m", message)
      count += 1
    left = dict(files)
    for message, takes in series.commits:
      chosen = sorted(p for p in left if takes(p))
      if not chosen:
        continue
      for rel in chosen:
        _write(tmp, rel, left.pop(rel))
      _git(tmp, "add", "-A")
      _git(tmp, "commit", "-q", "-m", message)
      count += 1
    if left:
      raise ValueError(f"No commit of the {series.name} series takes "
                       f"{sorted(left)}.")
    os.makedirs(out_dir, exist_ok=True)
    for old in os.listdir(out_dir):
      if old.endswith(".patch"):
        os.remove(os.path.join(out_dir, old))
    _git(tmp, "format-patch", "-q", "--zero-commit", "--no-signature",
         "--numbered", "--full-index", "-o", os.path.abspath(out_dir),
         f"HEAD~{count}")
  return sorted(n for n in os.listdir(out_dir) if n.endswith(".patch"))


def drift(name, patch_dir=None):
  """Patch names that differ from a fresh generation ([] if none)."""
  series = SERIES[name]
  patch_dir = patch_dir or os.path.join(REPO, "patches", name)
  with tempfile.TemporaryDirectory() as tmp:
    fresh = generate(series, tmp)
    kept = sorted(n for n in os.listdir(patch_dir) if n.endswith(".patch"))
    if fresh != kept:
      return sorted(set(fresh) ^ set(kept))
    _, mismatch, errors = filecmp.cmpfiles(tmp, patch_dir, fresh,
                                           shallow=False)
    return sorted(mismatch + errors)


################################ Big Vision #################################


def _big_vision_fixes(checkout):
  """Three fixes Big Vision needs at the pinned commit (see their messages)."""
  from mone_plugin.big_vision import compat  # pylint: disable=g-import-not-at-top
  read = lambda rel: open(os.path.join(checkout, rel)).read()
  utils = read("big_vision/utils.py")
  ours = inspect.getsource(compat.sync).replace("u.reshard(", "reshard(")
  pattern = re.compile(r"^def sync\(\):\n(?:(?:    |  |\n).*\n)*?(?=\n\n)",
                       flags=re.M)
  if len(pattern.findall(utils)) != 1:
    raise ValueError("Could not find exactly one `def sync()` in utils.py.")
  synced = pattern.sub(lambda _: ours.rstrip("\n") + "\n", utils)
  writer = re.compile(r"^  def step_end\(self\):\n(?:(?:    |\n).*\n)*?(?=\n  def )",
                      flags=re.M)
  if len(writer.findall(synced)) != 1:
    raise ValueError("Could not find exactly one `def step_end` in utils.py.")
  step_end = textwrap.indent(inspect.getsource(compat.step_end), "  ")
  aa = read("big_vision/pp/archive/autoaugment.py")
  old_import = "from tensorflow_addons import image as contrib_image"
  if old_import not in aa:
    raise ValueError(f"{old_import!r} not in autoaugment.py.")
  with open(_module_file("mone_plugin.big_vision.tfa_image")) as f:
    tfa_text = rewrite(f.read(), {})
  return [
      ("utils: sync() over a NamedSharding\n\n"
       "jax.sharding.PositionalSharding was removed in JAX 0.7, so train.py "
       "exited\nwith an error on its last line (u.sync()).",
       {"big_vision/utils.py": synced}),
      ("pp/archive: RandAugment without tensorflow_addons\n\n"
       "TFA is archived and does not import under TF 2.16+ (Keras 3). "
       "tfa_image.py\nprovides rotate/translate/transform over TF's "
       "ImageProjectiveTransformV3.",
       {"big_vision/pp/archive/autoaugment.py": aa.replace(
           old_import,
           "from big_vision.pp.archive import tfa_image as contrib_image"),
        "big_vision/pp/archive/tfa_image.py": tfa_text}),
      ("utils: each metrics row labelled with its own step\n\n"
       "BigVisionMetricWriter.step_end wrote the row on a thread that read "
       "self.step\nwhen it ran: a row written after the next step_start "
       "carried a later step\nthan the one measured. close() also wrote the "
       "last row twice.",
       {"big_vision/utils.py": writer.sub(
           lambda _: step_end.rstrip("\n") + "\n", synced)}),
  ]


_BV_README = """\
# MoNE: Mixture of Nested Experts (Jain et al., NeurIPS 2024)

- Model: `big_vision/models/proj/mone/vit.py` (`model_name="proj.mone.vit"`),
  Big Vision's ViT with nested experts and Expert Preferred Routing; loads
  Big Vision ViT checkpoints.
- Trainer: `python -m big_vision.trainers.proj.mone.train --config
  big_vision/configs/proj/mone/fashion_mnist.py --workdir /tmp/mone` (e_c fixed,
  from a GFLOPs budget or sampled per step; isoFLOPs; evaluators per e_c;
  `config.mone` is described in `big_vision/models/proj/mone/budgets.py`).
- Evaluation at several budgets: `python -m
  big_vision.trainers.proj.mone.evaluate --workdir /tmp/mone`.
- Big Vision's own `big_vision.train` trains MoNE at the model's e_c:
  `python -m big_vision.trainers.proj.mone.stock_train --config
  big_vision/configs/proj/mone/fashion_mnist.py:stock,e_c=0.5 --workdir
  /tmp/mone_stock` refuses, before it builds anything, every budget key that
  trainer cannot honour.
- Fine-tuning from a Big Vision ViT (`model_init`, head dropped with
  `model_load`): `big_vision/configs/proj/mone/finetune.py`, e.g.
  `:init=howto-i21k-B/16,dataset=imagenet2012,e_c=0.4`; nested (MatViT-style)
  pretraining for the video models: `i21k.py:variant=B/16,nested`.
- The Fashion-MNIST config reads the local TFDS data set `fashion_mnist_local`
  that `python -m big_vision.datasets.mone.prepare` builds (from Debian's
  `dataset-fashion-mnist` files).
"""


SERIES = {
    "big_vision": Series(
        name="big_vision",
        adapters={
            "mone_plugin.big_vision.vit": "big_vision.models.proj.mone.vit",
            "mone_plugin.big_vision.train":
                "big_vision.trainers.proj.mone.train",
            "mone_plugin.big_vision.trainer_config":
                "big_vision.trainers.proj.mone.trainer_config",
            "mone_plugin.big_vision.evaluate":
                "big_vision.trainers.proj.mone.evaluate",
            "mone_plugin.big_vision.stock_train":
                "big_vision.trainers.proj.mone.stock_train",
        },
        core_package="big_vision.models.proj.mone",
        core_renames={"mone_plugin.vit": "big_vision.models.proj.mone.mone_vit"},
        data_package="big_vision.datasets.mone",
        paths={
            "configs/mone_fashion_mnist.py":
                "big_vision/configs/proj/mone/fashion_mnist.py",
            "configs/mone_i21k.py": "big_vision/configs/proj/mone/i21k.py",
            "configs/mone_finetune.py":
                "big_vision/configs/proj/mone/finetune.py",
            "configs/mone_i1k_ti16.py":
                "big_vision/configs/proj/mone/i1k_ti16.py",
        },
        commits=(
            ("models/proj/mone: Mixture of Nested Experts ViT",
             lambda p: p.startswith("big_vision/models/")),
            ("trainers/proj/mone: MoNE trainer and per-budget evaluation",
             lambda p: p.startswith("big_vision/trainers/")),
            ("datasets/mone: local Fashion-MNIST and Moving Fashion-MNIST",
             lambda p: p.startswith("big_vision/datasets/")),
            ("configs/proj/mone: MoNE configs (AugReg i21k, i1k Ti/16, "
             "Fashion-MNIST)", lambda p: p.startswith("big_vision/configs/")),
        ),
        fixes=_big_vision_fixes,
        extra_files={"big_vision/configs/proj/mone/README.md": _BV_README}),
    "scenic": Series(
        name="scenic",
        adapters={},
        core_package="scenic.projects.mone",
        core_renames={},
        data_package="scenic.projects.mone.data",
        paths={"projects/mone/": "scenic/projects/mone/"},
        commits=(
            ("MoNE: nested experts, Expert Preferred Routing, MoNE ViT and "
             "ViViT\n\nThe core of Mixture of Nested Experts (Jain et al. "
             "2024): capacity\ndistributions, Expert Preferred Routing, nested "
             "attention and MLP,\na nested grouped-matmul Pallas kernel, the MoNE encoder, the MoNE ViT and ViViT "
             "factorised encoder, the\nanalytic GFLOPs, the budget vocabulary "
             "and the routing maps.",
             lambda p: p.startswith("scenic/projects/mone/kernels/") or (
                 p.count("/") == 3 and not p.endswith("__init__.py")
                 and os.path.exists(os.path.join(REPO, "mone_plugin",
                                                 os.path.basename(p))))),
            ("MoNE project: models, nested and MoNE trainers, configs, local "
             "data\n\nScenic models over the MoNE encoders, nested joint "
             "pretraining, MoNE\ntraining with init_from (ViViT inflation), "
             "evaluation at several\ne_c, Kinetics-400 / SSv2 / local configs, "
             "the local data sets and tests.",
             lambda p: True),
        )),
}

def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--framework", choices=sorted(SERIES) + ["all"],
                      default="all")
  parser.add_argument("--check", action="store_true",
                      help="exit 1 when the patches differ from a generation")
  args = parser.parse_args(argv)
  names = sorted(SERIES) if args.framework == "all" else [args.framework]
  stale = False
  for name in names:
    out = os.path.join(REPO, "patches", name)
    if args.check:
      bad = drift(name)
      print(f"{name}: stale patches {bad}: run `make patches`" if bad else
            f"{name}: patches match the sources.")
      stale = stale or bool(bad)
    else:
      for patch in generate(SERIES[name], out):
        print(os.path.join(out, patch))
  return 1 if stale else 0


if __name__ == "__main__":
  sys.exit(main())
