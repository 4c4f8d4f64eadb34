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

"""Captions from class labels, for image-text training on a labelled data set.

`pp_modules=[..., "proj.mone.ops_text"]` registers `class_name`, which turns
an integer label into its class name (Big Vision's `clip_i1k_label_names` for
any list of names); Big Vision's `strfmt` makes a caption of it. Big Vision's
text ops load their SentencePiece model from GCS: `sentencepiece_model` trains
a tiny word-level one on the captions instead, offline, for Big Vision's
`tok(model='sp(model="<path>")', ...)` op (ids: pad 0, eos 1, unk 2, like the
T5 vocabularies, so `tolen(..., pad_value=1)` pads with EOS as SigLIP does).
"""

import hashlib
import io
import os

from big_vision.pp import utils
from big_vision.pp.registry import Registry
import tensorflow as tf

EOS_ID = 1


@Registry.register("preprocess_ops.class_name")
@utils.InKeyOutKey(indefault="label", outdefault="texts")
def get_class_name(names):
  """Maps an integer label to its name in `names` (a string tensor)."""
  names = tf.constant(list(names))

  def _pp_class_name(label):
    return tf.gather(names, label)

  return _pp_class_name


def sentencepiece_model(texts, directory, vocab_size=64):
  """Path of a word-level SentencePiece model of `texts`, trained if absent.

  The file is named by a digest of its inputs, so that other texts give
  another file and concurrent runs with the same texts share one.

  Args:
    texts: the sentences (every word of them gets a piece).
    directory: where the model file goes.
    vocab_size: an upper bound: the model has as many pieces as `texts` have
      distinct words, plus pad, eos and unk.

  Returns:
    The path of the `.model` file.
  """
  import sentencepiece as spm  # pylint: disable=g-import-not-at-top
  texts = list(texts)
  digest = hashlib.sha1(
      "\n".join([str(vocab_size)] + texts).encode()).hexdigest()[:12]
  path = os.path.join(directory, f"captions_{digest}.model")
  if os.path.exists(path):
    return path
  model = io.BytesIO()
  spm.SentencePieceTrainer.train(
      sentence_iterator=iter(texts), model_writer=model, model_type="word",
      vocab_size=vocab_size, hard_vocab_limit=False, pad_id=0, eos_id=EOS_ID,
      unk_id=2, bos_id=-1, num_threads=1, minloglevel=2)
  os.makedirs(directory, exist_ok=True)
  tmp = f"{path}.tmp{os.getpid()}"
  with open(tmp, "wb") as f:
    f.write(model.getvalue())
  os.replace(tmp, path)  # Atomic: readers see no partial file.
  return path
