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

"""Prints the results of the local pipeline (README.md) as a table.

  python -m projects.mone.report <pipeline workdir>
"""

import json
import os
import sys


def _load(*parts):
  path = os.path.join(*parts)
  if not os.path.exists(path):
    return {}
  with open(path) as f:
    return json.load(f)


def report(workdir: str) -> str:
  """The pipeline's accuracy per e_c, GFLOPs and wall times, as text."""
  nested = _load(workdir, 'nested', 'final_eval.json')
  video = _load(workdir, 'video', 'final_eval.json')
  evaluation = _load(workdir, 'eval', 'eval_results.json')
  times = _load(workdir, 'wall_times.json')
  lines = [f'MoNE local pipeline in {workdir}']
  if nested:
    accs = ', '.join(f'expert{i} {nested[f"accuracy_expert{i}"]:.3f}'
                     for i in range(8) if f'accuracy_expert{i}' in nested)
    lines.append(f'Nested pretraining (images), accuracy: {accs}')
  if video:
    lines.append(f'MoNE video training: {int(video["step"])} steps')
  if evaluation:
    lines.append(f'Evaluation of step {int(evaluation["checkpoint_step"])}:')
    lines.append('  budget     GFLOPs/clip  accuracy  eval s')
    names = sorted((k[len('accuracy_'):] for k in evaluation
                    if k.startswith('accuracy_')),
                   key=lambda n: (n == 'dense', n))
    for name in names:
      lines.append(f'  {name:<10} {evaluation.get(f"gflops_{name}", 0):11.4f}'
                   f'  {evaluation[f"accuracy_{name}"]:8.3f}'
                   f'  {evaluation.get(f"eval_seconds_{name}", 0):6.1f}')
  if times:
    lines.append('Wall times (s): ' + ', '.join(
        f'{k[:-2]} {v}' for k, v in times.items()))
  return '\n'.join(lines)


if __name__ == '__main__':
  if len(sys.argv) != 2:
    sys.exit('usage: python -m projects.mone.report <pipeline workdir>')
  print(report(sys.argv[1]))
