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

"""Finds the Scenic and Big Vision checkouts the plugin runs against.

Neither framework is on PyPI: users clone them. A checkout is found, in this
order, already importable on `sys.path`, through `$BIG_VISION_DIR` /
`$SCENIC_DIR`, or at the default location `~/frameworks/<name>` (outside this
repo, so every clone of the repo on a machine finds the same checkouts).
DMVR (Scenic's video input, `video_tfrecord_dataset`) is found the same way
(`$DMVR_DIR`, `~/frameworks/dmvr`), and so is SimCLR, whose `tf2/data_util.py`
Scenic's video ops import as `simclr.tf2.data_util` (`$SIMCLR_DIR`,
`~/frameworks/simclr`): its repository is itself the `simclr` package, so it
is cloned one level down, to `~/frameworks/simclr/simclr`.
"""

import importlib
import importlib.machinery
import importlib.util
import os
import sys
import types

# Commits the plugin is tested against (see README.md).
PINNED = {
    "big_vision": "0127fb6b337ee2a27bf4e54dea79cff176527356",
    "scenic": "4a38d475ee89cb821078c0e2bf2065ee030e1535",
    "dmvr": "77ccedaa084d29239eaeafddb0b2e83843b613a1",
    "simclr": "383d4143fd8cf7879ae10f1046a9baeb753ff438",
}
_REPOS = {
    "big_vision": "https://github.com/google-research/big_vision",
    "scenic": "https://github.com/google-research/scenic",
    "dmvr": "https://github.com/google-deepmind/dmvr",
    "simclr": "https://github.com/google-research/simclr",
}
_ENV = {"big_vision": "BIG_VISION_DIR", "scenic": "SCENIC_DIR",
        "dmvr": "DMVR_DIR", "simclr": "SIMCLR_DIR"}
# Repositories that are the package itself: cloned into <checkout>/<name>.
_REPO_IS_PACKAGE = ("simclr",)
# DMVR imports these for its text tokenizers only (CLIP's BPE, TF Text,
# SentencePiece; CLIP needs PyTorch); video input never calls them.
_DMVR_TEXT_ONLY = {"clip": ("clip.simple_tokenizer",),
                   "tensorflow_text": (), "sentencepiece": ()}
DEFAULT_ROOT = os.path.join("~", "frameworks")


class FrameworkNotFoundError(ImportError):
  """Raised when a host framework checkout cannot be found."""


def checkout_dir(name):
  """Returns the directory holding the `name` checkout, or None."""
  env = os.environ.get(_ENV[name])
  candidates = [env] if env else []
  candidates.append(os.path.expanduser(os.path.join(DEFAULT_ROOT, name)))
  for d in candidates:
    if d and os.path.isdir(os.path.join(d, name)):
      return os.path.abspath(d)
  return None


def _how_to_get(name):
  clone = f"{DEFAULT_ROOT}/{name}"
  if name in _REPO_IS_PACKAGE:
    clone += f"/{name}"
  return (f"{name} not found: it is not importable, ${_ENV[name]} is "
          f"{os.environ.get(_ENV[name])!r}, and {DEFAULT_ROOT}/{name} does not "
          f"exist. Clone it: `git clone {_REPOS[name]} {clone} && "
          f"git -C {clone} checkout {PINNED[name]}` (or point "
          f"${_ENV[name]} at a checkout).")


class _TextOnlyPlaceholder(types.ModuleType):
  """Stands in for an absent package that only DMVR's text tokenizers use."""

  def __getattr__(self, attr):
    if attr.startswith("__"):
      raise AttributeError(attr)
    raise ImportError(
        f"{self.__name__}.{attr}: {self.__name__} is not installed. DMVR "
        "needs it for text tokenizers only (video input does not); install "
        "it to tokenize text.")


def _dmvr_text_placeholders():
  for top, subs in _DMVR_TEXT_ONLY.items():
    if top in sys.modules or importlib.util.find_spec(top) is not None:
      continue
    sys.modules[top] = module = _TextOnlyPlaceholder(top)
    module.__path__ = []
    for sub in subs:
      sys.modules[sub] = _TextOnlyPlaceholder(sub)
      setattr(module, sub.rpartition(".")[2], sys.modules[sub])
    for placeholder in [module] + [sys.modules[sub] for sub in subs]:
      # `importlib.util.find_spec` raises on a module without a spec; a spec
      # without a loader says that nothing real stands behind it.
      placeholder.__spec__ = importlib.machinery.ModuleSpec(
          placeholder.__name__, None)


def ensure(name):
  """Makes framework `name` importable and returns its top-level package.

  Args:
    name: "big_vision", "scenic", "dmvr" (whose text-only dependencies,
      when absent, become placeholders that raise when used) or "simclr".

  Raises:
    FrameworkNotFoundError: with instructions, when no checkout is found.
  """
  if name not in _ENV:
    raise ValueError(f"Unknown framework {name!r}; known: {sorted(_ENV)}.")
  if name not in sys.modules and importlib.util.find_spec(name) is None:
    d = checkout_dir(name)
    if d is None:
      raise FrameworkNotFoundError(_how_to_get(name))
    sys.path.insert(0, d)
  if name == "dmvr":
    _dmvr_text_placeholders()
  return importlib.import_module(name)


def available(name):
  """True when framework `name` can be imported (used by tests to skip)."""
  try:
    ensure(name)
    return True
  except ImportError:
    return False
