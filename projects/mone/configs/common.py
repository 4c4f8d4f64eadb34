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

"""Shared pieces of the MoNE configs."""

import os

import ml_collections
import numpy as np

from mone_plugin import flops


def local_data_dir() -> str:
  """Where the local TFDS data sets live: $MONE_DATA_DIR/tfds."""
  root = os.environ.get('MONE_DATA_DIR', os.path.join('~', 'mone_data'))
  return os.path.join(os.path.expanduser(root), 'tfds')


def parse_arg(arg, **defaults):
  """Parses 'key=value,key=value' (the config argument) over `defaults`.

  Values take the type of their default (bool: 'true'/'false', None: float).

  Args:
    arg: The string after ':' in `--config=file.py:arg`, or None.
    **defaults: Allowed keys and their default values.

  Returns:
    An `ml_collections.ConfigDict` with every key of `defaults`.
  """
  out = dict(defaults)
  for item in filter(None, (arg or '').split(',')):
    key, sep, value = item.partition('=')
    if not sep or key not in defaults:
      raise ValueError(f'Config argument {item!r} is not key=value with a key '
                       f'in {sorted(defaults)}.')
    default = defaults[key]
    if isinstance(default, bool):
      if value.lower() not in ('true', 'false'):
        raise ValueError(f'{key}={value!r}: expected true or false.')
      out[key] = value.lower() == 'true'
    elif value.lower() == 'none':
      out[key] = None
    elif default is None or isinstance(default, float):
      out[key] = float(value)
    else:
      out[key] = type(default)(value)
  return ml_collections.ConfigDict(out)


def cosine_lr(config, base_lr, warmup_steps):
  """Scenic's compound schedule: linear warmup then cosine decay."""
  config.lr_configs = ml_collections.ConfigDict()
  config.lr_configs.learning_rate_schedule = 'compound'
  config.lr_configs.factors = 'constant * cosine_decay * linear_warmup'
  config.lr_configs.warmup_steps = warmup_steps
  config.lr_configs.steps_per_cycle = config.num_training_steps
  config.lr_configs.base_learning_rate = base_lr


def iso_flops_scale(config, arg, *, num_frames, image_size, num_classes,
                    channels=3):
  """How much longer MoNE trains to cost the dense ViViT's training FLOPs.

  The paper always fine-tunes video models isoFLOPs: dense GFLOPs over MoNE's
  (with `e_c_grid`, the mean cost of its budgets). 1 for the dense baseline or
  with `iso_flops=false`. (`config.mone.iso_flops` is Big Vision's way; Scenic
  configs set their steps or epochs themselves, so the config shows them.)

  Args:
    config: the config, with its model set (ViViT-FE fields).
    arg: the parsed config argument (`e_c`, `e_c_grid`, `iso_flops`).
    num_frames: frames per clip.
    image_size: frame height and width.
    num_classes: classes of the head.
    channels: channels of a frame.
  """
  grid = [float(v) for v in filter(None, arg.e_c_grid.split('/'))]
  budgets = grid or [arg.e_c]
  if not arg.iso_flops or None in budgets:
    return 1.0
  m = config.model
  kw = dict(num_frames=num_frames, image_size=image_size,
            patch_size=m.patches.size[0], tubelet_size=m.patches.size[2],
            width=m.hidden_size,
            spatial_depth=m.spatial_transformer.num_layers,
            temporal_depth=m.temporal_transformer.num_layers,
            mlp_dim=m.spatial_transformer.mlp_dim,
            temporal_mlp_dim=m.temporal_transformer.mlp_dim,
            num_heads=m.spatial_transformer.num_heads,
            num_classes=num_classes, classifier=m.classifier,
            channels=channels)
  cost = np.mean([flops.vivit_gflops(e_c=e, **kw) for e in budgets])
  return flops.vivit_gflops(e_c=None, **kw) / float(cost)


def iso_flops_epochs(config, arg, epochs):
  """Epochs of MoNE whose training FLOPs equal `epochs` of the dense ViViT."""
  d = config.dataset_configs
  return epochs * iso_flops_scale(
      config, arg, num_frames=d.num_frames, image_size=d.crop_size,
      num_classes=d.num_classes)


def vivit_fe(config, *, hidden_size, patch_size, num_heads, mlp_dim,
             spatial_layers, temporal_layers, e_c, num_experts=4,
             classifier='token'):
  """A MoNE ViViT factorised encoder (Scenic's ViViT config names).

  Args:
    config: the config; gets `model_name`, `model` and `model_dtype_str`.
    hidden_size: D, the model dimension of both transformers.
    patch_size: the tubelet (h, w, t).
    num_heads: heads of both transformers.
    mlp_dim: MLP width of both transformers.
    spatial_layers: depth of the spatial (routed) transformer.
    temporal_layers: depth of the temporal (dense) transformer.
    e_c: the model's effective capacity (None: the dense ViViT).
    num_experts: E, the nested experts of the spatial transformer.
    classifier: 'token' or 'gap' (both transformers).
  """
  config.model_name = 'mone_vivit_classification'
  config.model = ml_collections.ConfigDict()
  config.model.hidden_size = hidden_size
  config.model.attention_config = ml_collections.ConfigDict()
  config.model.attention_config.type = 'factorized_encoder'
  config.model.patches = ml_collections.ConfigDict()
  config.model.patches.size = tuple(patch_size)
  for name, layers in (('spatial_transformer', spatial_layers),
                       ('temporal_transformer', temporal_layers)):
    config.model[name] = ml_collections.ConfigDict()
    config.model[name].num_heads = num_heads
    config.model[name].mlp_dim = mlp_dim
    config.model[name].num_layers = layers
  config.model.representation_size = None
  config.model.classifier = classifier
  config.model.attention_dropout_rate = 0.0
  config.model.dropout_rate = 0.0
  config.model.temporal_encoding_config = ml_collections.ConfigDict()
  config.model.temporal_encoding_config.method = '3d_conv'
  config.model.temporal_encoding_config.kernel_init_method = (
      'central_frame_initializer')
  config.model.num_experts = num_experts
  config.model.e_c = e_c
  config.model.capacity_method = 'mone'
  config.model.router_type = 'learned'
  config.model_dtype_str = 'float32'


def mone_block(config, arg, eval_e_c):
  """`mone_trainer` with `config.mone` (see `mone_plugin/budgets.py`).

  Args:
    config: the config.
    arg: the parsed config argument (`e_c`, `e_c_grid`).
    eval_e_c: the budgets every evaluation reports (the dense model only
      when `arg.e_c` is None).
  """
  config.trainer_name = 'mone_trainer'
  config.mone = ml_collections.ConfigDict()
  if arg.e_c_grid:  # Else the model's e_c.
    config.mone.train_e_c_grid = tuple(
        float(v) for v in filter(None, arg.e_c_grid.split('/')))
  config.mone.eval_e_c = tuple(eval_e_c) if arg.e_c is not None else (None,)
  config.mone.num_routing_maps = 4


def init_from_image(config, *, path, checkpoint_format, classifier,
                    positional_embed_size_change):
  """ViViT's `init_from` block, from a nested (or plain) ViT checkpoint.

  Args:
    config: the config.
    path: the image checkpoint's directory ('' or None: train from scratch).
    checkpoint_format: 'scenic' or 'big_vision'.
    classifier: the image model's classifier ('token' or 'gap').
    positional_embed_size_change: 'resize' or 'tile'.
  """
  config.init_from = ml_collections.ConfigDict()
  config.init_from.checkpoint_path = path or None
  config.init_from.checkpoint_format = checkpoint_format
  config.init_from.model_config = ml_collections.ConfigDict()
  config.init_from.model_config.model = ml_collections.ConfigDict()
  config.init_from.model_config.model.classifier = classifier
  config.init_from.restore_positional_embedding = True
  config.init_from.restore_input_embedding = True
  config.init_from.positional_embed_size_change = positional_embed_size_change


def video_tfrecord_dataset(config, *, tables, examples_per_subset,
                           num_classes, stride, min_resize, crop_size):
  """Scenic's `video_tfrecord_dataset` with ViViT's augmentations.

  32 frames, scale jitter and colour augmentation, multi-view test (4 clips
  x 3 crops); a config changes `augmentation_params` after the call.

  Args:
    config: the config.
    tables: {'train', 'validation', 'test'} -> sharded file spec.
    examples_per_subset: the same keys -> number of videos.
    num_classes: classes of the data set.
    stride: temporal stride between the sampled frames.
    min_resize: shorter side before cropping.
    crop_size: frame height and width.
  """
  config.dataset_name = 'video_tfrecord_dataset'
  config.data_dtype_str = 'float32'
  d = config.dataset_configs = ml_collections.ConfigDict()
  d.base_dir = '/path/to/dataset'
  d.tables = dict(tables)
  d.examples_per_subset = dict(examples_per_subset)
  d.num_classes = num_classes
  d.num_frames = 32
  d.stride = stride
  d.min_resize = min_resize
  d.crop_size = crop_size
  d.one_hot_labels = True
  d.zero_centering = True
  d.do_multicrop_test = True
  d.log_test_epochs = 5
  d.num_test_clips = 4
  d.test_batch_size = 8
  d.do_three_spatial_crops = True
  config.multicrop_clips_per_device = 2
  d.augmentation_params = ml_collections.ConfigDict(dict(
      do_jitter_scale=True, scale_min_factor=0.9, scale_max_factor=1.33,
      prob_scale_jitter=1.0, do_color_augment=True, prob_color_augment=0.8,
      prob_color_drop=0.1))
  d.prefetch_to_device = 2


def vivit_schedule(config, *, train_size, epochs, base_lr, checkpoint_steps):
  """ViViT's optimisation: momentum, clipped gradients, cosine learning rate.

  Args:
    config: the config, with its `batch_size`.
    train_size: training videos (steps per epoch = train_size // batch).
    epochs: training epochs (already scaled isoFLOPs).
    base_lr: the peak learning rate (after 2.5 epochs of warmup).
    checkpoint_steps: steps between checkpoints.
  """
  config.optimizer = 'momentum'
  config.optimizer_configs = ml_collections.ConfigDict()
  config.l2_decay_factor = 0
  config.max_grad_norm = 1
  config.num_training_epochs = epochs
  steps_per_epoch = train_size // config.batch_size
  config.lr_configs = ml_collections.ConfigDict()
  config.lr_configs.learning_rate_schedule = 'compound'
  config.lr_configs.factors = 'constant * cosine_decay * linear_warmup'
  config.lr_configs.warmup_steps = int(2.5 * steps_per_epoch)
  config.lr_configs.steps_per_cycle = int(epochs * steps_per_epoch)
  config.lr_configs.base_learning_rate = base_lr
  bookkeeping(config, checkpoint_steps=checkpoint_steps)


def bookkeeping(config, *, checkpoint_steps, log_summary_steps=100,
                log_eval_steps=None):
  """Summaries, checkpoints and logging steps of a run (no debug runs).

  Args:
    config: the config.
    checkpoint_steps: steps between checkpoints.
    log_summary_steps: steps between training summaries.
    log_eval_steps: steps between evaluations (None: the trainer's default).
  """
  config.write_summary = True
  config.checkpoint = True
  config.checkpoint_steps = checkpoint_steps
  config.log_summary_steps = log_summary_steps
  if log_eval_steps is not None:
    config.log_eval_steps = log_eval_steps
  config.debug_train = False
  config.debug_eval = False
