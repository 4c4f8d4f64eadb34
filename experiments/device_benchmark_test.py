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
"""The device benchmark's reduced mode on the CPU: JSON, table, time guard."""

import json
import os
import tempfile

from absl.testing import absltest

from experiments import device_benchmark as db
from experiments import device_table


class DeviceBenchmarkTest(absltest.TestCase):

  def test_reduced_run_writes_json_and_table(self):
    with tempfile.TemporaryDirectory() as tmp:
      doc = os.path.join(tmp, "page.md")
      with open(doc, "w") as f:
        f.write(f"# Page\n\nBefore.\n\n{device_table.BEGIN}\nold\n"
                f"{device_table.END}\n\nAfter.\n")
      logged = []
      settings = db.Settings(e_cs=(0.4,), max_minutes=60, reduced=True,
                             choices=("default", "no_such_field=1"))
      result, path = db.run_all(settings, tmp, doc, log=logged.append)
      self.assertEqual(os.path.basename(path), db.slug(db.device_name())
                       + ".json")
      with open(path) as f:
        saved = json.load(f)
      self.assertEqual(saved["rows"], json.loads(json.dumps(result["rows"])))
      self.assertTrue(saved["reduced"])
      self.assertIn("jax", saved)
      # Both models, both dtypes, both paths: a dense row and e_c 0.4.
      units = {(r["model"], r["dtype"], r["path"]) for r in saved["rows"]}
      self.assertLen(units, 8)
      self.assertEqual(saved["errors"], [])
      for r in saved["rows"]:
        self.assertEqual(r["batch"], 2)
        self.assertGreater(r["ms"], 0)
        self.assertAlmostEqual(r["efficiency"], r["speedup"] / r["flop_ratio"])
        if r["e_c"] is None:
          self.assertEqual((r["choice"], r["speedup"]), ("dense", 1.0))
        else:
          self.assertEqual((r["choice"], r["e_c"]), ("default", 0.4))
          self.assertGreater(r["flop_ratio"], 1.0)
      # The unknown choice is skipped with a message.
      self.assertTrue(any("no_such_field" in s for s in saved["skipped"]))
      self.assertTrue(any("no_such_field" in s for s in logged))
      # The page: its generated section replaced, the rest kept.
      page = open(doc).read()
      self.assertNotIn("\nold\n", page)
      self.assertIn("Before.", page)
      self.assertIn("After.", page)
      self.assertIn(device_table.HEADER, page)
      rows = device_table.all_rows(tmp)
      self.assertLen(rows, 8)  # (model, dtype, e_c): infer and train merged.
      for row in rows:
        self.assertIn(row, page)
      self.assertIn("| vit | bfloat16 | 2 | default | 0.4 |", page)

  def test_time_guard_skips_what_does_not_fit(self):
    with tempfile.TemporaryDirectory() as tmp:
      logged = []
      settings = db.Settings(models=("vit",), dtypes=("float32",),
                             max_minutes=0.01, reduced=True)
      result, _ = db.run_all(settings, tmp, log=logged.append)
    self.assertEqual(result["rows"], [])
    self.assertLen([s for s in result["skipped"] if "estimated" in s], 2)
    self.assertTrue(any("vit float32 batch 2 train: skipped" in s
                        for s in logged))

  def test_parse_choice(self):
    self.assertEqual(db.parse_choice("default"), {})
    self.assertEqual(db.parse_choice("kernel=pallas+fuse_qkv=True"),
                     {"kernel": "pallas", "fuse_qkv": True})
    with self.assertRaisesRegex(ValueError, "field=value"):
      db.parse_choice("kernel")


if __name__ == "__main__":
  absltest.main()
