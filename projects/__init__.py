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

"""Framework projects of the MoNE plugin, laid out as in their host framework.

`projects/mone/` is written exactly as it lives upstream at
`scenic/projects/mone/`; `patches/scenic/` carries it there. Importing this
package puts the Scenic checkout (and Big Vision, which Scenic's pretraining
utilities import, and DMVR and SimCLR, which its video input imports) on
`sys.path` when one is found, so that `python -m projects.mone.main` runs from
this repo's root.
"""

import unittest

from mone_plugin import frameworks
from mone_plugin import scenic_compat

for _name in ("scenic", "big_vision", "dmvr", "simclr"):
  frameworks.available(_name)  # Adds the checkout to sys.path if found.
scenic_compat.install_official_augment()  # Scenic's video ops import it.


def video_input_missing():
  """Why Scenic's `video_tfrecord_dataset` cannot run here, or None."""
  needed = ("scenic", "dmvr", "simclr")
  if scenic_compat.stands_in():  # RandAugment's ops from Big Vision.
    needed += ("big_vision",)
  for name in needed:
    if not frameworks.available(name):
      return (f"{name} not found: set ${name.upper()}_DIR or run "
              "`make frameworks`.")
  return None


def skip_without_scenic():
  """Skips the calling test module when no Scenic checkout is found."""
  if not frameworks.available("scenic"):
    raise unittest.SkipTest(
        "Scenic not found: set $SCENIC_DIR or clone it to ~/frameworks/scenic.")
