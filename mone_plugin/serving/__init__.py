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

"""Serving a trained MoNE ViT at chosen budgets (`mone_plugin.export`).

  workdirs  a Big Vision or Scenic workdir -> `Checkpoint` -> `vit.Model`
  resolve   budgets given as e_c, GFLOPs per image or a latency target -> e_c
  forward   what every artifact computes (uint8 images -> logits, ...)
  writers   TF SavedModel, `jax.export` and ONNX artifacts of that forward

Nothing here imports Big Vision or Scenic: checkpoints are read as files.
"""
