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
r"""Recipe probes of the dense ViT on cluttered Fashion-MNIST (validation only).

  python -m experiments.cluttered_probe [--probes=w64_lr0.0015_1500steps,...] \
      [--out_dir=docs/results/runs] [--workdir_root=workdirs/recipe]
  python -m experiments.cluttered_probe --stats [--out_dir=...]

`--stats` writes `cluttered_data.json` instead: the share of background,
clutter and garment tokens in each split of the built data set (section 9).

The probes of `experiments/recipe_probe.py` (same trainer, summaries and
resume: a probe whose `cluttered_r1_<name>.json` exists is skipped, a killed
one resumes from its checkpoint) on `configs/mone_cluttered.py:val`: trained
on the train split, evaluated on the validation split, never on test. Without
--probes the probes run stage by stage (STAGES, `next_probes`). The recipe
fits the study when (a) doubling the steps gains less than 0.5 point and (b) the dense
family gains at least 1 point per doubling of FLOPs over its widths.

Budget: a step of width 64 (0.0149 GFLOPs an image, as on Fashion-MNIST at 32
px) takes ~0.3 s on 2 idle cores (1500 steps with two evaluations: ~9
minutes); widths 32, 96 and 128 cost about 0.6x, 1.4x and 2x that. Stages
2-5: ~2.3 hours of 2 idle cores.
"""

import json
import os

from absl import app
from absl import flags
from absl import logging

import numpy as np

from experiments import recipe_probe
from experiments.results import plan
from mone_plugin.data import cluttered_fashion_mnist as cfm
from mone_plugin.data import prepare

_STATS = flags.DEFINE_bool(
    "stats", False, "Write the data set's token statistics "
    "(cluttered_data.json in --out_dir) instead of running probes.")

CONFIG = "configs/mone_cluttered.py"
PREFIX = "cluttered_r1"
SPLIT = "train (50000 canvases) -> evaluated on validation (10000)"
# The Fashion-MNIST recipe with the learning rate its probes found best.
BASE = {**plan.RECIPE, "lr": 0.0015, "seed": 0}
_FAMILY = {width: (heads, mlp) for width, heads, mlp in plan.DENSE_FAMILY}


def _dense(width, lr, steps):
  heads, mlp = _FAMILY[width]
  return (f"w{width}_lr{lr}_{steps}steps",
          dict(width=width, heads=heads, mlp=mlp, lr=lr, steps=steps))


# Stages, in order. 1: the learning rate at width 64, 1500 steps (higher
# was better: 0.0015 56.2%, 0.003 59.4%, 0.006 60.5%). 2: the two best rates
# at the study's 3000 steps (0.003 67.6%, 0.006 62.8%: on both testbeds the
# best rate falls as the runs grow longer). Then, at stage 2's better rate
# (`later`): the widest model at 3000 steps (the family's slope up to 128);
# whether 3000 steps have converged (6000 steps); the narrowest width; the
# widest at half the rate (width 128 fell to 58.0%: is the rate too high for
# it?); width 96, the family's fourth member.
LRS = (0.003, 0.006)


def later(lr):
  """The probes after stage 2, in order, at its winning rate `lr`."""
  return (_dense(128, lr, 3000), _dense(64, lr, 6000), _dense(32, lr, 3000),
          _dense(128, lr / 2, 3000), _dense(96, lr, 3000))


STAGES = (
    tuple(_dense(64, lr, 1500) for lr in (0.0015, 0.003, 0.006)),
    tuple(_dense(64, lr, 3000) for lr in LRS),
) + tuple(later(lr) for lr in LRS)
PROBES = dict(probe for stage in STAGES for probe in stage)


def _val(out_dir, name):
  path = os.path.join(out_dir, f"{PREFIX}_{name}.json")
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)["final_val_prec_1"]


def next_probes(out_dir):
  """The probes still to run, in order, given the summaries in `out_dir`.

  Stages 1 and 2 run whole; then `later` at the rate that won stage 2 (not
  listed until stage 2 is done).
  """
  names = [n for stage in STAGES[:2] for n, _ in stage]
  at_3000 = {lr: _val(out_dir, f"w64_lr{lr}_3000steps") for lr in LRS}
  if all(v is not None for v in at_3000.values()):
    best = max(LRS, key=lambda lr: at_3000[lr])
    names += [n for n, _ in later(best)]
  return [n for n in names if _val(out_dir, n) is None]


def args_of(name):
  """The config arguments of probe `name`."""
  return recipe_probe.args_of(name, PROBES, BASE)


def token_stats(data_dir=None, splits=tuple(cfm.SPLITS)):
  """The share of each kind of token per split of the built data set."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  builder = tfds.builder(cfm.ClutteredFashionMnist.name,
                         data_dir=data_dir or prepare.data_dir())
  out = {"canvas": cfm.CANVAS, "patch": cfm.PATCH,
         "fragments": cfm.NUM_FRAGMENTS, "fragment": cfm.FRAGMENT,
         "version": str(builder.version), "splits": {}}
  for split in splits:
    ds = builder.as_dataset(split=split).map(lambda x: x["mask"]).batch(5000)
    counts, examples = np.zeros(len(cfm.TOKEN_CLASS_NAMES)), 0
    for masks in ds.as_numpy_iterator():
      classes = cfm.token_classes(masks)
      counts += np.bincount(classes.ravel(),
                            minlength=len(cfm.TOKEN_CLASS_NAMES))
      examples += len(masks)
    out["splits"][split] = {
        "examples": examples,
        "token_shares": {name: round(float(c / counts.sum()), 4) for name, c
                         in zip(cfm.TOKEN_CLASS_NAMES, counts)}}
  return out


def main(argv):
  del argv
  if _STATS.value:
    path = os.path.join(flags.FLAGS.out_dir, "cluttered_data.json")
    with open(path, "w") as f:
      json.dump(token_stats(), f, indent=1)
    logging.info("Wrote %s", path)
    return
  names = flags.FLAGS.probes
  for name in names or ():
    args_of(name)  # Unknown names fail before any training.
  done = []
  while True:
    todo = names if names is not None else next_probes(flags.FLAGS.out_dir)
    todo = [n for n in todo if n not in done]
    if not todo:
      break
    name = todo[0]
    recipe_probe.run_probe(
        name, flags.FLAGS.out_dir,
        os.path.join(flags.FLAGS.workdir_root, "cluttered"),
        args=args_of(name), config=CONFIG, prefix=PREFIX, split=SPLIT)
    done.append(name)
  logging.info("Probes done: %s", done)


if __name__ == "__main__":
  app.run(main)  # The flags are recipe_probe's.
