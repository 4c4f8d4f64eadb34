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

The probes of `experiments/recipe_probe.py` (same trainer, summaries and
resume: a probe whose `cluttered_r1_<name>.json` exists is skipped, a killed
one resumes from its checkpoint) on `configs/mone_cluttered.py:val`: trained
on the train split, evaluated on the validation split, never on test. Without
--probes every probe runs, stage by stage (see PROBES). The recipe fits the
study when (a) doubling the steps gains less than 0.5 point and (b) the dense
family gains at least 1 point per doubling of FLOPs over its widths.

Budget: a step of width 64 (0.0149 GFLOPs an image, as on Fashion-MNIST at 32
px) takes ~0.48 CPU-seconds, ~0.29 s on 2 idle cores; widths 32, 96 and 128
cost about 0.75x, 1.4x and 2x that. All the probes: ~3.5 hours of 2 cores.
"""

import os

from absl import app
from absl import flags
from absl import logging

from experiments import recipe_probe
from experiments.results import plan

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


# Stages, in order: 0 times a step; 1 picks the learning rate at width 64;
# 2 measures the dense family's slope over widths 32-128 (and whether the
# widest wants a lower rate); 3 asks whether the steps have converged.
STAGES = (
    (_dense(64, 0.0015, 300),),
    tuple(_dense(64, lr, 1500) for lr in (0.00075, 0.0015, 0.003)),
    tuple(_dense(w, 0.0015, 3000) for w in (32, 64, 96, 128))
    + (_dense(128, 0.00075, 3000),),
    (_dense(64, 0.0015, 6000), _dense(128, 0.0015, 6000)),
)
PROBES = dict(probe for stage in STAGES for probe in stage)


def args_of(name):
  """The config arguments of probe `name`."""
  return recipe_probe.args_of(name, PROBES, BASE)


def main(argv):
  del argv
  names = flags.FLAGS.probes or list(PROBES)
  for name in names:
    args_of(name)  # Unknown names fail before any training.
  for name in names:
    recipe_probe.run_probe(
        name, flags.FLAGS.out_dir,
        os.path.join(flags.FLAGS.workdir_root, "cluttered"),
        args=args_of(name), config=CONFIG, prefix=PREFIX, split=SPLIT)
  logging.info("Probes done: %s", names)


if __name__ == "__main__":
  app.run(main)  # The flags are recipe_probe's.
