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

"""Class-name captions through Big Vision's own text ops, offline."""

import importlib
import importlib.util
import os
import tempfile
import unittest

from mone_plugin import frameworks

if not frameworks.available("big_vision"):
  raise unittest.SkipTest("Big Vision not found: set $BIG_VISION_DIR or "
                          "clone it to ~/frameworks/big_vision.")
if importlib.util.find_spec("sentencepiece") is None:
  raise unittest.SkipTest("sentencepiece not installed (Big Vision's "
                          "ops_text needs it).")

# pylint: disable=g-import-not-at-top,g-bad-import-order
from absl.testing import absltest
from big_vision.pp import builder as pp_builder
import numpy as np
import tensorflow as tf

import mone_plugin.big_vision  # pylint: disable=unused-import
from mone_plugin.big_vision import ops_text
# pylint: enable=g-import-not-at-top,g-bad-import-order

for _m in ("ops_general", "ops_text", "proj.paligemma.ops",
           "proj.mone.ops_text"):  # As a trainer's `pp_modules` does.
  importlib.import_module(f"big_vision.pp.{_m}")

NAMES = ("t-shirt or top", "ankle boot", "bag")


class OpsTextTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    tmp = tempfile.TemporaryDirectory()
    self.addCleanup(tmp.cleanup)
    self.dir = tmp.name
    self.model = ops_text.sentencepiece_model(
        [f"a photo of a {n}" for n in NAMES], self.dir)

  def pp(self, length=8):
    return pp_builder.get_preprocess_fn(
        f"class_name(names={NAMES!r})"
        '|strfmt("a photo of a {texts}", outkey="texts")'
        f"|tok(model='sp(model=\"{self.model}\")', eos=\"sticky\", "
        'inkey="texts", outkey="labels")'
        f'|tolen({length}, sticky_end=True, pad_value=1, key="labels")')

  def test_same_texts_same_file(self):
    again = ops_text.sentencepiece_model(
        [f"a photo of a {n}" for n in NAMES], self.dir)
    self.assertEqual(again, self.model)
    other = ops_text.sentencepiece_model(["a photo of a dog"], self.dir)
    self.assertNotEqual(other, self.model)
    self.assertLen([f for f in os.listdir(self.dir) if f.endswith(".model")],
                   2)

  def test_captions_tokenize_apart_and_end_in_eos(self):
    tokens = [self.pp()({"label": tf.constant(i, tf.int64)})["labels"].numpy()
              for i in range(len(NAMES))]
    for t in tokens:
      self.assertEqual(t.shape, (8,))
      self.assertEqual(t[-1], ops_text.EOS_ID)  # SigLIP's pool "last".
      self.assertNotIn(2, t)  # No unknown word.
    self.assertLen({tuple(t) for t in tokens}, len(NAMES))
    # "a photo of a t-shirt or top" + EOS is 8 tokens: nothing padded.
    self.assertNotIn(0, tokens[0])
    np.testing.assert_array_equal(tokens[1][:4], tokens[2][:4])

  def test_sticky_eos_when_truncated(self):
    t = self.pp(length=4)({"label": tf.constant(0, tf.int64)})["labels"]
    self.assertEqual(t.numpy()[-1], ops_text.EOS_ID)


if __name__ == "__main__":
  absltest.main()
