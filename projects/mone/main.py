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

"""Main file of MoNE (Mixture of Nested Experts) for Scenic.

Run from the directory above `projects/`, for example:

  python -m projects.mone.main \
    --config=projects/mone/configs/local_nested_pretrain.py \
    --workdir=/tmp/mone_nested
"""

import functools
from typing import Any, Callable

from absl import flags
from clu import metric_writers
import jax
import jax.numpy as jnp
import ml_collections
from scenic import app
from scenic.train_lib import classification_trainer
from scenic.train_lib import train_utils

from mone_plugin import workdir as workdir_lib
# Registers the local image and video datasets.
from projects.mone import local_datasets  # pylint: disable=unused-import
from projects.mone import model
from projects.mone import train_utils as mone_train_utils
from projects.mone import trainer
from projects.mone import video_model

FLAGS = flags.FLAGS

_MODELS = {
    # The counterparts of Scenic's `vit_classification` (softmax) and
    # `vit_multilabel_classification` (sigmoid: Scenic's ImageNet and i21k
    # ViT configs): the same loss, metrics and parameter names.
    'mone_vit_classification': model.MoneViTClassificationModel,
    'mone_vit_multilabel_classification':
        model.MoneViTMultiLabelClassificationModel,
    'mone_vivit_classification': video_model.MoneViViTClassificationModel,
}



def with_config_json(train_fn: Callable[..., Any]) -> Callable[..., Any]:
  """A Scenic trainer that also claims the workdir and writes `config.json`.

  Scenic's own trainers write no config; the MoNE trainers claim the workdir
  themselves (`train_utils.claim_workdir`). With it, every workdir of this
  project holds its `config.json`, which exports and evaluations read.
  """

  @functools.wraps(train_fn)
  def train(*, config, workdir, **kwargs):
    mone_train_utils.claim_workdir(config, workdir)
    try:
      return train_fn(config=config, workdir=workdir, **kwargs)
    finally:
      workdir_lib.release(workdir)

  return train


_TRAINERS = {
    'mone_trainer': trainer.train,
    'mone_nested_trainer': trainer.train_nested,
    'mone_evaluator': trainer.evaluate,
    # Scenic's own trainers, so that Scenic's configs run with MoNE models by
    # switching `model_name` only: the classification trainer trains at the
    # model's e_c (`config.model.e_c`, `config.mone.e_c` or `.gflops`) and
    # `check_config` refuses the budget keys it cannot honour; ViViT's
    # `vivit_trainer` does not import at the pinned Scenic commit, and
    # `mone_trainer` does what it did (multi-view test evaluation included)
    # at every budget of `config.mone`.
    'classification_trainer': with_config_json(classification_trainer.train),
    'vivit_trainer': trainer.train,
}


def get_model_cls(model_name: str) -> Any:
  """Returns the model class of `model_name`."""
  if model_name not in _MODELS:
    raise ValueError(f'Unknown model_name {model_name!r}; allowed: '
                     f'{sorted(_MODELS)}.')
  return _MODELS[model_name]


def get_trainer(trainer_name: str) -> Callable[..., Any]:
  """Returns the train function of `trainer_name`."""
  if trainer_name not in _TRAINERS:
    raise ValueError(f'Unknown trainer_name {trainer_name!r}; allowed: '
                     f'{sorted(_TRAINERS)}.')
  return _TRAINERS[trainer_name]


def main(rng: jnp.ndarray, config: ml_collections.ConfigDict, workdir: str,
         writer: metric_writers.MetricWriter):
  """Builds the dataset and runs the configured trainer."""
  mone_train_utils.check_config(config)  # Before any data or model is built.
  model_cls = get_model_cls(config.model_name)
  train_fn = get_trainer(config.trainer_name)
  data_rng, rng = jax.random.split(rng)
  dataset = train_utils.get_dataset(
      config, data_rng, dataset_service_address=FLAGS.dataset_service_address)
  train_fn(rng=rng, config=config, model_cls=model_cls, dataset=dataset,
           workdir=workdir, writer=writer)


if __name__ == '__main__':
  app.run(main=main)
