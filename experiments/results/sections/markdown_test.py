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


"""Tests of the Markdown pieces the sections share."""

from absl.testing import absltest

from experiments.results.sections import markdown as md


class MarkdownTest(absltest.TestCase):

  def test_numbers(self):
    self.assertEqual(md.pct(None), "—")
    self.assertEqual(md.pct(0.8764), "87.6")
    self.assertEqual(md.pm(0.85, 0.01, 3), "85.00 ± 1.00")
    self.assertEqual(md.pm(0.85, 0.0, 1), "85.00")
    self.assertEqual(md.pm(None, None), "—")
    self.assertEqual(md.seeds_pm([0.8, 0.9]), "85.00 ± 7.07")
    self.assertEqual(md.seeds_pm([0.8]), "80.00 (1 seed)")
    self.assertEqual(md.signed_pm(-0.012, 0.003, 2), "-1.20 ± 0.30")
    self.assertEqual(md.signed_pm(0.012, 0.0, 1), "+1.20")

  def test_words(self):
    self.assertEqual(md.sentence("moNE at e_c 0.4"), "MoNE at e_c 0.4")
    self.assertEqual(md.minutes(90), "1.5 min")
    self.assertEqual(md.pending({"a": 1}, ["a"]), "")
    self.assertEqual(md.pending({"a": 1}, ["a", "b"]),
                     "pending (1 of 2 runs done; missing: b)")
    self.assertEqual(md.img("/x/results/speed.png", "speed"),
                     "![speed](results/speed.png)")


if __name__ == "__main__":
  absltest.main()
