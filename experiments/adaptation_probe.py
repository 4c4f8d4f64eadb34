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
r"""Why does a model trained at one e_c collapse at another? A probe.

  python -m experiments.adaptation_probe --workdir=DIR [--e_c=1.0] \
      [--split='train[50000:52000]'] [--json=out.json]

Loads a Big Vision MoNE run (config.json + last checkpoint), runs the
validation images at the training budget and at `--e_c`, and measures, per
token class (background: every pixel of the patch black; object: the rest):
where the router sends it at the training budget, and how far its final
(post-norm) feature moves when the budget changes. Then a counterfactual: the
model at `--e_c`, with the final features of one token class swapped back to
their training-budget values before pooling. If swapping back the background
tokens restores the accuracy, the collapse comes from tokens that never took
the large experts in training (with GAP, every token's feature enters the
pooled representation).
"""

import json
import os

from absl import app
from absl import flags
# First: it puts the Big Vision checkout on the path (frameworks.ensure).
import mone_plugin.big_vision  # pylint: disable=unused-import,g-bad-import-order
import big_vision.pp.builder as pp_builder
import big_vision.pp.ops_general  # pylint: disable=unused-import
import big_vision.pp.ops_image  # pylint: disable=unused-import
import big_vision.utils as u
import jax
import jax.numpy as jnp
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from mone_plugin import checkpoints
from mone_plugin import vit

_WORKDIR = flags.DEFINE_string("workdir", None, "Big Vision MoNE run.")
_E_C = flags.DEFINE_float("e_c", 1.0, "Budget to move to.")
_SPLIT = flags.DEFINE_string("split", "train[50000:52000]",
                             "Images (a validation slice of train).")
_JSON = flags.DEFINE_string("json", None, "Write the results here.")


def _images(config, split):
  data = config.input.data
  ds = tfds.load(data.name, split=split, data_dir=data.get("data_dir"),
                 decoders={"image": tfds.decode.SkipDecoding()})
  pp = pp_builder.get_preprocess_fn(config.evals.test.pp_fn)
  batches = list(tfds.as_numpy(ds.map(pp).batch(500)))
  return (np.concatenate([b["image"] for b in batches]),
          np.concatenate([b["labels"] for b in batches]).argmax(-1))


def probe(workdir, e_c_to, split):
  """Returns a dict of measurements (see the module docstring)."""
  with open(os.path.join(workdir, "config.json")) as f:
    import ml_collections  # pylint: disable=g-import-not-at-top
    config = ml_collections.ConfigDict(json.load(f))
  e_c_train = config.mone.e_c
  if config.model.get("pool_type") != "gap" or e_c_train is None:
    raise ValueError(f"{workdir}: the probe needs a GAP model trained at one "
                     f"e_c (pool_type={config.model.get('pool_type')!r}, "
                     f"e_c={e_c_train!r}).")
  model = vit.Model(num_classes=config.num_classes, **config.model)
  ckpt, _ = checkpoints.resolve_last(os.path.join(workdir, "checkpoint.bv"))
  params = jax.device_get(
      u.load_checkpoint_ts(ckpt, regex="params/.*")["params"])
  images, labels = _images(config, split)
  p = model.patch_size[0]
  n, h, w = images.shape[0], images.shape[1] // p, images.shape[2] // p
  patches = images.reshape(n, h, p, w, p, -1).max(axis=(2, 4, 5))
  background = (patches <= -0.99).reshape(n, h * w)  # All-black patches.

  def forward(e_c):
    fn = jax.jit(lambda prm, x: model.apply({"params": prm}, x, e_c=e_c)[1])
    outs = [jax.device_get(fn(params, images[i:i + 500]))
            for i in range(0, n, 500)]
    return {k: np.concatenate([o[k] for o in outs])
            for k in ("encoded", "logits", "experts") if k in outs[0]}

  at_train, at_to = forward(e_c_train), forward(e_c_to)
  head = params["head"]

  def accuracy(encoded):
    logits = encoded.mean(axis=1) @ head["kernel"] + head["bias"]
    return float((logits.argmax(-1) == labels).mean())

  result = {"workdir": workdir, "e_c_train": e_c_train, "e_c_to": e_c_to,
            "images": int(n), "background_share": float(background.mean()),
            "accuracy": {f"{e_c_train:g}": accuracy(at_train["encoded"]),
                         f"{e_c_to:g}": accuracy(at_to["encoded"])}}
  num_experts = model.num_experts
  experts = at_train["experts"]
  for name, mask in (("background", background), ("object", ~background)):
    share = [float((experts[mask] == j).mean()) for j in range(num_experts)]
    moved = np.linalg.norm(at_to["encoded"] - at_train["encoded"], axis=-1)
    scale = np.linalg.norm(at_train["encoded"], axis=-1)
    swapped = np.where(mask[..., None], at_train["encoded"],
                       at_to["encoded"])
    result[name] = {
        "expert_share_at_train_budget": share,
        "relative_feature_move": float((moved[mask] / scale[mask]).mean()),
        "accuracy_with_these_tokens_swapped_back": accuracy(swapped),
    }
  return result


def main(argv):
  del argv
  tf.config.set_visible_devices([], "GPU")
  result = probe(_WORKDIR.value, _E_C.value, _SPLIT.value)
  print(json.dumps(result, indent=1))
  if _JSON.value:
    with open(_JSON.value, "w") as f:
      json.dump(result, f, indent=1)


if __name__ == "__main__":
  flags.mark_flag_as_required("workdir")
  app.run(main)
