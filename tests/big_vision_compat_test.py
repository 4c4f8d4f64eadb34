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

"""An unmodified Big Vision checkout, after `import mone_plugin.big_vision`."""

import importlib
import json
import os
import sys
import tempfile

from absl.testing import absltest
import numpy as np

from mone_plugin import frameworks

HAVE_BV = frameworks.available("big_vision")


@absltest.skipUnless(HAVE_BV, "Big Vision checkout not found (see README).")
class RegistrationTest(absltest.TestCase):

  def test_modules_under_big_vision_names(self):
    import mone_plugin.big_vision  # pylint: disable=g-import-not-at-top,unused-import
    from mone_plugin import vit  # pylint: disable=g-import-not-at-top
    from mone_plugin.big_vision import vit as bv_module  # pylint: disable=g-import-not-at-top
    # How Big Vision's trainers look the model up (config.model_name).
    model_mod = importlib.import_module("big_vision.models.proj.mone.vit")
    self.assertIs(model_mod, bv_module)
    # Its Model builds the core MoNE ViT (through Big Vision's own variants).
    self.assertIsInstance(model_mod.Model(10, variant="mu/16"),
                          vit._Model)  # pylint: disable=protected-access
    self.assertEqual(model_mod.__spec__.name, "mone_plugin.big_vision.vit")
    trainer = importlib.import_module("big_vision.trainers.proj.mone.train")
    self.assertTrue(callable(trainer.train_and_evaluate))
    with self.assertRaises(ModuleNotFoundError):
      importlib.import_module("big_vision.models.proj.mone.nonexistent")


@absltest.skipUnless(HAVE_BV, "Big Vision checkout not found (see README).")
class CompatTest(absltest.TestCase):

  def test_sync_without_positional_sharding(self):
    import jax  # pylint: disable=g-import-not-at-top
    import mone_plugin.big_vision  # pylint: disable=g-import-not-at-top,unused-import
    import big_vision.utils as u  # pylint: disable=g-import-not-at-top
    self.assertFalse(hasattr(jax.sharding, "PositionalSharding"))
    u.sync()  # Big Vision's own raised AttributeError here.

  def test_randaugment_runs_in_tf_data(self):
    import mone_plugin.big_vision  # pylint: disable=g-import-not-at-top,unused-import
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    import big_vision.pp.archive.randaug  # pylint: disable=g-import-not-at-top,unused-import
    import big_vision.pp.ops_image  # pylint: disable=g-import-not-at-top,unused-import
    from big_vision.pp import builder  # pylint: disable=g-import-not-at-top
    image = (np.random.RandomState(0).rand(32, 32, 3) * 255).astype(np.uint8)
    pp = builder.get_preprocess_fn("randaug(2,15)")
    out = [x["image"].numpy() for x in tf.data.Dataset.from_tensors(
        {"image": image}).repeat(8).map(pp)]
    self.assertEqual(out[0].shape, (32, 32, 3))
    self.assertTrue(any((o != image).any() for o in out))

  def test_metric_writer_labels_each_row_with_its_own_step(self):
    import mone_plugin.big_vision  # pylint: disable=g-import-not-at-top,unused-import
    import big_vision.utils as u  # pylint: disable=g-import-not-at-top
    interval = sys.getswitchinterval()
    # No thread switch until the main thread blocks (in `pool.apply`): the
    # writer thread then always runs after the next step_start, the order
    # that labelled Big Vision's rows with a later step.
    sys.setswitchinterval(100.0)
    try:
      with tempfile.TemporaryDirectory() as workdir:
        mw = u.BigVisionMetricWriter(-1, -1, workdir)
        for step in (1, 2, 3):
          mw.step_start(step)
          mw.measure("value", 10 * step)
          mw.step_end()
        mw.close()
        with open(os.path.join(workdir, "big_vision_metrics.txt")) as f:
          rows = [json.loads(line) for line in f]
    finally:
      sys.setswitchinterval(interval)
    # One row per step (close() wrote the last one twice), each its own.
    self.assertEqual(rows, [{"step": 1, "value": 10.0},
                            {"step": 2, "value": 20.0},
                            {"step": 3, "value": 30.0}])

  def test_tfa_image_geometry(self):
    from mone_plugin.big_vision import tfa_image  # pylint: disable=g-import-not-at-top
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    sq = np.arange(9, dtype=np.float32).reshape(3, 3)
    np.testing.assert_array_equal(tfa_image.rotate(sq, np.pi / 2), np.rot90(sq))
    np.testing.assert_array_equal(tfa_image.rotate(a, 0.0), a)
    shifted = tfa_image.translate(a, [1, 0]).numpy()
    np.testing.assert_array_equal(shifted[:, 1:], a[:, :-1])
    np.testing.assert_array_equal(shifted[:, 0], 0)
    down = tfa_image.translate(a[None, :, :, None], [0, 1]).numpy()[0, :, :, 0]
    np.testing.assert_array_equal(down[1:], a[:-1])
    identity = [1., 0., 0., 0., 1., 0., 0., 0.]
    np.testing.assert_array_equal(tfa_image.transform(a[..., None], identity),
                                  a[..., None])
    with self.assertRaisesRegex(ValueError, "rank 2"):
      tfa_image.transform(np.zeros((1, 1, 1, 1, 1)), identity)


if __name__ == "__main__":
  absltest.main()
