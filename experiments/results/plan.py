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


"""The experiments behind docs/results.md, as data.

Every experiment is a run of a framework's own trainer with one of this repo's
configs: Big Vision's (`configs/mone_fashion_mnist.py`, through
`mone_plugin.big_vision.train`) for images and Scenic's
(`projects/mone/configs/`, through `projects.mone.main`) for video. "full" is
the plan of the results page; "reduced" runs the same code paths in a few
minutes (tiny models, a few steps, small test splits), for the test suite.
"""

import dataclasses
from typing import Optional

from mone_plugin import capacity as capacity_lib

MODES = ("full", "reduced")
# The recipe of every image run (the default run's, with fewer steps).
STEPS = 400
SEEDS = (0, 1, 2)
TRAIN_E_C = (0.2, 0.3, 0.4, 0.6)
ISO_FLOPS_E_C = 0.4
ADAPT_TRAIN_E_C = (0.2, 0.4, 0.6)
ADAPT_EVAL_E_C = (0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
RANDOM_ROUTER_E_C = (0.2, 0.6)
# Capacity distributions at equal e_c. "proportionate" fixes its own e_c
# (0.708), where MoNE is trained too; "greedy" meets any e_c. "uniform" fixes
# e_c 0.469, where the maximum-entropy distribution is uniform itself (the
# same model), so it needs no run of its own.
CAPACITY_BASELINES = (("proportionate", None), ("greedy", 0.3))
VIDEO_E_C = (None, 0.3, 0.4)  # None: the dense ViViT.


def method_e_c(method, num_experts=4):
  """The effective capacity a fixed capacity distribution implies."""
  return round(float(capacity_lib.effective_capacity(
      capacity_lib.capacity_distribution(1.0, num_experts, method))), 6)


@dataclasses.dataclass(frozen=True)
class BvRun:
  """One Big Vision training run, then an evaluation at `eval_e_c`."""
  name: str
  args: str  # The argument of configs/mone_fashion_mnist.py.
  seed: int
  eval_e_c: tuple[Optional[float], ...]  # None: the dense ViT path.
  cost: float = 1.0  # Relative, to start the longest runs first.
  routing: bool = False  # Also save test images with their experts.

  def command(self, workdir):
    """The equivalent stand-alone command line."""
    return (f"python -m mone_plugin.big_vision.train --config="
            f"configs/mone_fashion_mnist.py:{self.args} --workdir={workdir}")


@dataclasses.dataclass(frozen=True)
class ScenicRun:
  """One run of Scenic's `projects.mone.main`."""
  name: str
  config: str  # Path and argument; {root} is the Scenic runs' directory.
  overrides: tuple[str, ...] = ()
  after: tuple[str, ...] = ()  # Runs whose workdir this one reads.

  def argv(self, root):
    return ([f"--config={self.config.format(root=root)}",
             f"--workdir={root}/{self.name}"] + list(self.overrides))


def capacity_pairs(mode="full"):
  """[(method, e_c, baseline run, MoNE run)] of the capacity ablation."""
  baselines = CAPACITY_BASELINES if mode == "full" else (("greedy", 0.2),)
  pairs = []
  for method, e_c in baselines:
    if e_c is None:
      e_c = method_e_c(method)
      pairs.append((method, e_c, f"{method}_s0", f"mone_ec{e_c:g}_s0"))
    else:
      pairs.append((method, e_c, f"{method}_ec{e_c:g}_s0", f"ec{e_c:g}_s0"))
  return pairs


def _ec(e_c):
  return "dense" if e_c is None else f"ec{e_c:g}"


def bv_runs(mode="full"):
  """The Big Vision runs of `mode`, longest first."""
  if mode not in MODES:
    raise ValueError(f"mode={mode!r} is unknown; allowed: {MODES}.")
  if mode == "reduced":  # 10 steps of a 2-layer model, 64 test images.
    s = "runlocal"
    return [
        BvRun("dense_s0", f"dense,{s}", 0, (None,)),
        BvRun("ec0.2_s0", f"e_c=0.2,{s}", 0, (0.2, 0.6), routing=True),
        BvRun("random_ec0.2_s0", f"e_c=0.2,router=random,{s}", 0, (0.2,),
              routing=True),
        BvRun("greedy_ec0.2_s0", f"capacity=greedy,e_c=0.2,{s}", 0, (0.2,)),
    ]
  runs = []
  for seed in SEEDS:
    s = f"steps={STEPS},seed={seed}"
    runs.append(BvRun(f"dense_s{seed}", f"dense,{s}", seed, (None,), 1.3))
    for e_c in TRAIN_E_C:
      adapt = seed == 0 and e_c in ADAPT_TRAIN_E_C
      runs.append(BvRun(
          f"ec{e_c:g}_s{seed}", f"e_c={e_c},{s}", seed,
          ADAPT_EVAL_E_C if adapt else (e_c,), 0.6 + e_c,
          routing=seed == 0))
  s = f"steps={STEPS}"  # Seed 0, the config's default.
  runs.append(BvRun(f"iso_ec{ISO_FLOPS_E_C:g}_s0",
                    f"e_c={ISO_FLOPS_E_C},iso_flops,{s}", 0,
                    (ISO_FLOPS_E_C,), 2.2))
  runs.append(BvRun("grid_s0", s, 0, ADAPT_EVAL_E_C, 1.0, routing=True))
  for e_c in RANDOM_ROUTER_E_C:
    runs.append(BvRun(f"random_ec{e_c:g}_s0", f"e_c={e_c},router=random,{s}",
                      0, (e_c,), 0.6 + e_c, routing=True))
  names = {r.name for r in runs}
  for method, e_c, baseline, mone in capacity_pairs(mode):
    runs.append(BvRun(baseline, f"capacity={method},e_c={e_c},{s}", 0,
                      (e_c,), 0.6 + e_c))
    if mone not in names:
      runs.append(BvRun(mone, f"e_c={e_c},{s}", 0, (e_c,), 0.6 + e_c))
  return sorted(runs, key=lambda r: -r.cost)


def scenic_runs(mode="full"):
  """The Scenic runs of `mode`: nested pretraining, then the video runs."""
  if mode not in MODES:
    raise ValueError(f"mode={mode!r} is unknown; allowed: {MODES}.")
  cfg = "projects/mone/configs"
  if mode == "reduced":  # One tiny video run from scratch: the scripts' path.
    small = ("--config.num_training_steps=2", "--config.batch_size=16",
             "--config.eval_batch_size=64", "--config.log_eval_steps=2",
             "--config.checkpoint_steps=2",
             "--config.lr_configs.warmup_steps=1",
             "--config.dataset_configs.eval_split=test[:64]")
    return [ScenicRun("video_ec0.3",
                      f"{cfg}/local_mone_video.py:init=,e_c=0.3", small)]
  runs = [ScenicRun("nested", f"{cfg}/local_nested_pretrain.py")]
  for e_c in VIDEO_E_C:
    arg = "none" if e_c is None else f"{e_c:g}"
    runs.append(ScenicRun(
        f"video_{_ec(e_c)}",
        f"{cfg}/local_mone_video.py:init={{root}}/nested,e_c={arg}",
        after=("nested",)))
  return runs
