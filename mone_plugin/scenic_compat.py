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

"""Fixes for running Scenic's video input (4a38d475) on the current TF stack.

`scenic/dataset_lib/video_ops.py`, which `video_tfrecord_dataset` imports,
takes RandAugment's ops from `official.vision.image_classification.augment`
(TF Model Garden). tf-models-official no longer has that module (it became
`official.legacy.image_classification.augment`, which needs `tf_keras`, and
the package pins an older TF). When it does not import, a stand-in takes its
name: Big Vision's `pp/archive/autoaugment.py`, the same TPU AutoAugment ops
(`autocontrast`, `equalize`, ..., `sharpness`, written for `tf.compat.v1`),
with Model Garden's `level_to_arg(cutout_const, translate_const)` signature.
It loads on first use, so installing it imports nothing.
"""

import importlib
import importlib.util
import sys
import types

AUGMENT = "official.vision.image_classification.augment"


def _importable(name):
  try:
    return importlib.util.find_spec(name) is not None
  except ImportError:  # A parent package is missing.
    return False


class _BigVisionAutoAugment(types.ModuleType):
  """`official...augment` over Big Vision's AutoAugment ops, loaded lazily."""

  def __getattr__(self, attr):
    if attr.startswith("__"):
      raise AttributeError(attr)
    from mone_plugin import frameworks  # pylint: disable=g-import-not-at-top
    frameworks.ensure("big_vision")
    from mone_plugin.big_vision import compat  # pylint: disable=g-import-not-at-top
    compat.install_tfa_image()  # autoaugment.py imports tensorflow_addons.
    autoaugment = importlib.import_module("big_vision.pp.archive.autoaugment")
    for name in dir(autoaugment):
      if not name.startswith("__"):
        setattr(self, name, getattr(autoaugment, name))

    def level_to_arg(cutout_const, translate_const):
      return autoaugment.level_to_arg(types.SimpleNamespace(
          cutout_const=cutout_const, translate_const=translate_const))

    self.level_to_arg = level_to_arg
    return object.__getattribute__(self, attr)


def stands_in():
  """True when the augment module is the Big Vision stand-in."""
  return isinstance(sys.modules.get(AUGMENT), _BigVisionAutoAugment)


def install_official_augment():
  """Makes `official.vision.image_classification.augment` importable."""
  if AUGMENT in sys.modules or _importable(AUGMENT):
    return
  parent = None
  parts = AUGMENT.split(".")
  for i in range(1, len(parts) + 1):
    name = ".".join(parts[:i])
    if name not in sys.modules:
      if i == len(parts):
        module = _BigVisionAutoAugment(name, __doc__)
      else:
        module = types.ModuleType(name)
        module.__path__ = []
      sys.modules[name] = module
      if parent is not None:
        setattr(parent, parts[i - 1], module)
    parent = sys.modules[name]
