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

"""MoNE inside an unmodified Big Vision checkout.

Importing this package finds Big Vision (`mone_plugin.frameworks`), applies
the two compatibility fixes of `compat.py`, and makes the MoNE modules
importable under the names Big Vision looks them up by:

  big_vision.models.proj.mone.vit      -> mone_plugin.big_vision.vit
  big_vision.trainers.proj.mone.train  -> mone_plugin.big_vision.train
  big_vision.pp.proj.mone.ops_text     -> mone_plugin.big_vision.ops_text
  big_vision.evaluators.proj.mone.discriminative_classifier
      -> mone_plugin.big_vision.discriminative_classifier

so that `config.model_name = "proj.mone.vit"` works in any Big Vision trainer
(and so do `pp_modules=[..., "proj.mone.ops_text"]` and the evaluator type
`"proj.mone.discriminative_classifier"`).
The aliases resolve lazily (the trainer defines absl flags, so it is imported
only when asked for) and only when the checkout has no such module itself
(a tree patched with `patches/big_vision/` wins).
"""

import importlib
import importlib.abc
import importlib.machinery
import sys

from mone_plugin import frameworks

frameworks.ensure("big_vision")

from mone_plugin.big_vision import compat  # pylint: disable=g-import-not-at-top,g-bad-import-order

compat.apply()

MODULES = {
    "big_vision.models.proj.mone.vit": "mone_plugin.big_vision.vit",
    "big_vision.trainers.proj.mone.train": "mone_plugin.big_vision.train",
    "big_vision.pp.proj.mone.ops_text": "mone_plugin.big_vision.ops_text",
    "big_vision.evaluators.proj.mone.discriminative_classifier":
        "mone_plugin.big_vision.discriminative_classifier",
}
_PACKAGES = {name.rpartition(".")[0] for name in MODULES}


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
  """Resolves the names in `MODULES` to the plugin's modules."""

  def find_spec(self, fullname, path=None, target=None):
    del path, target
    if fullname in _PACKAGES:
      return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
    if fullname in MODULES:
      return importlib.machinery.ModuleSpec(fullname, self)
    return None

  def create_module(self, spec):
    if spec.name in _PACKAGES:
      return None  # An empty package holding the alias below.
    module = importlib.import_module(MODULES[spec.name])
    self._own_spec = module.__spec__  # pylint: disable=attribute-defined-outside-init
    return module

  def exec_module(self, module):
    if module.__name__ in MODULES.values():
      module.__spec__ = self._own_spec  # The import system overwrote it.


if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
  # Last, so that real modules of a patched checkout take precedence.
  sys.meta_path.append(_AliasFinder())
