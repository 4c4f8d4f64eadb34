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


"""Tests of the routing statistics the results report reads."""

from absl.testing import absltest
import numpy as np

from experiments.results import loading


class RoutingStatsTest(absltest.TestCase):

  def test_object_and_background_tokens(self):
    # One 8x8 image of 2x2 tokens (patch 4): the top-left patch is an object.
    images = -np.ones((1, 8, 8, 1), np.float32)
    images[0, :4, :4] = 0.5
    experts = np.array([[3, 0, 0, 2]])  # Spatial order: TL, TR, BL, BR.
    obj, bg, share = loading.routing_stats(images, experts, (4, 4))
    self.assertEqual(obj, 1.0)  # The object token is on expert 3.
    self.assertAlmostEqual(bg, 1 / 3)  # One of 3 background tokens (2).
    self.assertEqual(share, 0.25)

  def test_moving_still_and_background_tokens(self):
    # 1 clip of 2 frames (one tubelet), 2x2 tokens of 4x4 px.
    inputs = -np.ones((1, 2, 8, 8, 1), np.float32)
    inputs[0, :, :4, :4] = 0.5  # Still object: top-left, in both frames.
    inputs[0, 1, 4:, 4:] = 0.5  # Moves in: bottom-right, second frame.
    experts = np.array([[[[2, 0], [1, 3]]]])  # [n, T', h, w]
    moving, still, bg = loading.video_stats(inputs, experts)
    self.assertEqual(moving, 1.0)
    self.assertEqual(still, 1.0)
    self.assertEqual(bg, 0.0)

  def test_empty_class_is_nan(self):
    images = -np.ones((1, 8, 8, 1), np.float32)
    obj, bg, _ = loading.routing_stats(images, np.zeros((1, 4), int), (4, 4))
    self.assertTrue(np.isnan(obj))
    self.assertEqual(bg, 0.0)


if __name__ == "__main__":
  absltest.main()
