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

"""Tests of the routing-map drawing (one palette and legend for all maps)."""

import os
import tempfile

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from mone_plugin import viz


class VizTest(parameterized.TestCase):

  @parameterized.parameters((2, ["D/2", "D"]), (4, ["D/8", "D/4", "D/2", "D"]))
  def test_legend_labels_are_expert_widths(self, num_experts, want):
    self.assertEqual(viz.labels(num_experts), want)

  def test_colors_distinct_dark_to_bright(self):
    c = viz.colors(4)
    self.assertEqual(c.shape, (4, 3))
    self.assertLen({tuple(x) for x in c}, 4)
    brightness = c.sum(-1)
    self.assertEqual(int(np.argmin(brightness)), 0)
    self.assertEqual(int(np.argmax(brightness)), 3)

  def test_image_tokens_take_their_expert_colour(self):
    images = np.zeros((2, 8, 8, 1), np.float32)
    experts = np.array([[[0, 3], [1, 2]], [[3, 3], [3, 3]]])
    out = viz.overlay(images, experts, 4, alpha=1.0)
    self.assertEqual(out.shape, (2, 1, 8, 8, 3))
    np.testing.assert_allclose(out[0, 0, 0, 0], viz.colors(4)[0])
    np.testing.assert_allclose(out[0, 0, 0, 7], viz.colors(4)[3])
    np.testing.assert_allclose(out[0, 0, 7, 0], viz.colors(4)[1])
    np.testing.assert_allclose(out[1, 0, 3, 3], viz.colors(4)[3])

  def test_clip_uses_first_frame_of_each_tubelet(self):
    clips = np.zeros((1, 4, 4, 4, 1), np.float32)
    clips[0, 2, :2] = 1.0  # Bright top half in frame 2 (tubelet 1).
    experts = np.zeros((1, 2, 2, 2), int)
    out = viz.overlay(clips, experts, 4, alpha=0.0)
    self.assertEqual(out.shape, (1, 2, 4, 4, 3))
    self.assertEqual(out[0, 0].max(), 0.0)
    self.assertEqual(out[0, 1, 0, 0, 0], 1.0)
    self.assertEqual(out[0, 1, 3, 0, 0], 0.0)
    # A row per clip, a column per tubelet.
    s = viz.sheet(out, zoom=1)
    self.assertEqual(s.shape, (5, 10, 3))

  @parameterized.parameters(
      (np.zeros((2, 8, 8, 1)), np.zeros((2, 9, 9), int), "does not tile"),
      (np.zeros((2, 8, 8, 1)), np.full((2, 2, 2), 4), r"in \[0, 3\]"),
      (np.zeros((2, 8, 8, 1)), np.zeros((2, 4), int), r"must be \[n, h, w\]"))
  def test_bad_maps(self, inputs, experts, pattern):
    with self.assertRaisesRegex(ValueError, pattern):
      viz.overlay(inputs, experts, 4)

  def test_draw_has_legend_below_the_maps(self):
    rng = np.random.default_rng(0)
    images = rng.random((3, 16, 16, 3))
    experts = rng.integers(0, 4, (3, 4, 4))
    rgb = viz.draw(images, experts, 4, title="ec0.4")
    self.assertEqual(rgb.dtype, np.uint8)
    self.assertEqual(rgb.shape[2], 3)
    # Each expert's colour appears in the legend strip (bottom 42 px).
    legend = rgb[-42:].reshape(-1, 3).astype(int)
    for c in (viz.colors(4) * 255).round().astype(int):
      self.assertTrue(np.any(np.abs(legend - c).max(-1) <= 2), c)


  def test_write_summary_png_and_arrays(self):

    class Writer:
      images = {}

      def write_images(self, step, images):
        self.images[step] = images

    tmp_dir = tempfile.TemporaryDirectory()
    self.addCleanup(tmp_dir.cleanup)
    tmp = tmp_dir.name
    images = np.random.default_rng(1).random((2, 8, 8, 1))
    experts = np.array([[[0, 1], [2, 3]], [[3, 2], [1, 0]]])
    writer = Writer()
    rgb = viz.write(writer, os.path.join(tmp, "maps"), 20, "ec0.4", images,
                    experts, 4)
    self.assertEqual(writer.images[20]["routing_maps_ec0.4"].shape,
                     (1,) + rgb.shape)
    self.assertEqual(sorted(os.listdir(os.path.join(tmp, "maps"))),
                     ["step0000020_ec0.4.npz", "step0000020_ec0.4.png"])
    z = np.load(os.path.join(tmp, "maps", "step0000020_ec0.4.npz"))
    np.testing.assert_array_equal(z["experts"], experts)


if __name__ == "__main__":
  absltest.main()
