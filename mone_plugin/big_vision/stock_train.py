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

r"""Big Vision's stock `big_vision.train`, holding MoNE to its budget contract.

  python -m mone_plugin.big_vision.stock_train \
      --config configs/mone_fashion_mnist.py:stock,e_c=0.5 --workdir /tmp/s

Runs `big_vision/train.py` as it is, with `config.model_name =
"proj.mone.vit"` importable, after `trainer_config.check_stock_config` has
checked the config, before the stock trainer builds anything (it creates the
workdir and the data pipeline before the model): the model's e_c
(`config.model.e_c`, or `config.mone.e_c`, copied into `config.model`) is
honoured; `gflops`, `train_e_c_grid`, `eval_e_c` at other budgets,
`iso_flops`, `nested` and routing maps are refused, naming
`mone_plugin.big_vision.train`, which honours them.
"""

from absl import app
from absl import flags
from big_vision import train as bv_train  # Defines --config and --workdir.

from mone_plugin.big_vision import trainer_config


def main(argv):
  trainer_config.check_stock_config(flags.FLAGS.config)
  bv_train.main(argv)


if __name__ == "__main__":
  app.run(main)
