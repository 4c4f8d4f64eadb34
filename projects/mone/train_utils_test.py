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

"""Tests of the MoNE train utilities (the trainers run in tests/)."""

import projects  # plugin-only
projects.skip_without_scenic()  # plugin-only

import functools
import logging

from absl.testing import absltest
from flax.jax_utils import replicate as flax_replicate
import jax
import jax.numpy as jnp
import numpy as np
from scenic.train_lib import train_utils

from projects.mone import model as mone_model
from projects.mone import train_utils as mone_train_utils


class MultiviewTestStepTest(absltest.TestCase):

  def test_logits_are_averaged_over_each_videos_views(self):
    model = mone_model.MoneViTClassificationModel(
        None, {'num_classes': 5, 'target_is_onehot': False})
    # 3 videos x 2 views, next to each other as Scenic's video input has them.
    x = jax.random.normal(jax.random.PRNGKey(1), (6, 32, 32, 3))
    params = model.flax_model.init(jax.random.PRNGKey(0), x,
                                   train=False)['params']
    params = jax.tree_util.tree_map(  # A head that is not all zeros.
        lambda p: p + 0.3 * jax.random.normal(jax.random.PRNGKey(2), p.shape),
        params)
    state = train_utils.TrainState(params=params)
    batch = {'inputs': x, 'label': jnp.array([1, 1, 4, 4, 0, 0]),
             'batch_mask': jnp.ones(6)}
    metrics_fn = model.get_metrics_fn('test')

    @functools.partial(jax.pmap, axis_name='batch')
    def run(state, batch):
      got = mone_train_utils.test_step(
          state, batch, flax_model=model.flax_model, metrics_fn=metrics_fn,
          budgets=(('ec0.5', 0.5),), num_views=2)
      views = model.flax_model.apply({'params': state.params},
                                     batch['inputs'], train=False,
                                     budget=0.5)
      want = metrics_fn(views.reshape(3, 2, 5).mean(1), {
          'label': batch['label'][::2], 'batch_mask': batch['batch_mask'][::2]})
      return got, want

    add_axis = functools.partial(jax.tree_util.tree_map,
                                 lambda a: jnp.asarray(a)[None])
    got, want = run(add_axis(state), add_axis(batch))
    self.assertEqual(sorted(got), sorted(f'{k}_ec0.5' for k in want))
    for key, value in want.items():
      # (sum, count) per metric: 3 videos, not 6 views.
      np.testing.assert_allclose(got[f'{key}_ec0.5'][0], value[0], rtol=1e-6)
      self.assertEqual(float(got[f'{key}_ec0.5'][1][0]), 3.0)


class ReplicateTest(absltest.TestCase):

  def test_a_step_fed_its_own_outputs_compiles_once(self):
    batch = np.ones((jax.local_device_count(), 4), np.float32)
    for replicate, compiles_at_step_2 in ((flax_replicate, 1),
                                           (mone_train_utils.replicate, 0)):
      # A new step each time: nothing compiled for the other case is reused.
      step = jax.pmap(lambda s, b: ({'w': s['w'] + b.sum()}, b.mean()),
                      axis_name='batch')
      state = replicate({'w': jnp.arange(3.0)})
      state, _ = step(state, batch)
      with jax.log_compiles(True), self.assertLogs('jax', 'WARNING') as logs:
        logging.getLogger('jax').warning('step 2')  # assertLogs needs one.
        state, _ = step(state, batch)
      compiled = [r for r in logs.output if 'Compiling' in r]
      # The baseline shows the test sees the recompile it guards against.
      self.assertLen(compiled, compiles_at_step_2, (replicate, compiled))
      np.testing.assert_allclose(state['w'][0], np.arange(3.0) + 8.0)


if __name__ == '__main__':
  absltest.main()
