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

"""End-to-end MoNE training through Big Vision on local Fashion-MNIST.

One tiny 20-step run (2 layers, width 32, 32 px, deterministic input) is shared
by the assertions on loss, per-budget evaluation, GFLOPs logging, routing maps,
resume-after-kill and 8 simulated devices; the baselines (Mixture-of-Depths,
MatViT-style nested training) each get one run of the same tiny model.
"""

import csv
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time

from absl.testing import absltest
import numpy as np

from tests import big_vision_test_util as bvu

TINY = ("runlocal,e_c=0.5,eval_e_c=0.5;1,width=32,depth=2,heads=2,mlp=64,"
        "batch=32,steps=20,lr=0.003,deterministic")
# The baselines (MoD, MatViT): the same tiny model, without MoNE's budgets.
BASELINE = ("runlocal,width=32,depth=2,heads=2,mlp=64,batch=32,steps=20,"
            "lr=0.003,deterministic")


@absltest.skipUnless(bvu.HAVE_BV, bvu.NO_BV)
class BigVisionTrainTest(bvu.DataTestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.cache = os.path.join(cls.tmp.name, "jax_cache")
    cls.workdir = os.path.join(cls.tmp.name, "base")
    start = time.time()
    cls.log = bvu.run(bvu.trainer_cmd(cls.workdir, TINY),
                      bvu.env(cls.cache)).stderr
    cls.seconds = time.time() - start
    cls.metrics = bvu.metrics(cls.workdir)

  def test_20_steps_loss_falls(self):
    losses = {m["step"]: m["training_loss"] for m in self.metrics
              if "training_loss" in m}
    self.assertEqual(max(losses), 20)
    self.assertLess(losses[20], losses[min(losses)] - 0.1, losses)
    self.assertEqual({m["train_e_c"] for m in self.metrics
                      if "train_e_c" in m}, {0.5})

  def test_router_learns_at_every_logged_step(self):
    # alpha starts at 0, the warmup's learning rate at step 1 is 0 and the
    # head starts at zero, so alpha (logged before each step's update) is 0
    # through step 3 and its first update comes at step 3. Which early steps
    # Big Vision logs depends on timing (it logs every step of its timing
    # warmup), so the check keys on the step: from step 4 on, alpha must be
    # in (0, 1) and the router must have a gradient (a clipped alpha once cut
    # it for good). Each row carries the step it measured (compat.step_end).
    logged = [m for m in self.metrics if "l2_router_grads/Transformer" in m]
    self.assertGreaterEqual(len(logged), 3, self.metrics)
    self.assertEqual(logged[-1]["step"], 20)
    steps = [m["step"] for m in logged]
    self.assertEqual(steps, sorted(set(steps)))
    for m in logged:
      if m["step"] > 3:
        self.assertBetween(m["alpha/Transformer"], 1e-9, 1.0 - 1e-9)
      if m["alpha/Transformer"] > 0:
        self.assertGreater(m["l2_router_grads/Transformer"], 0.0, m)

  def test_gflops_and_one_metric_per_budget(self):
    first, last = self.metrics[0], self.metrics[-1]
    self.assertLess(first["gflops_ec0.5"], first["gflops_ec1"])
    self.assertLess(first["gflops_ec0.5"], first["gflops_dense"])
    per_budget = sorted(k for k in last if k.endswith("/prec@1"))
    self.assertEqual(per_budget, ["test_ec0.5/prec@1", "test_ec1/prec@1"])
    for k in per_budget:
      self.assertBetween(last[k], 0.0, 1.0)

  def test_routing_maps_written(self):
    maps = os.listdir(os.path.join(self.workdir, "routing_maps"))
    self.assertIn("step0000020_ec0.5.png", maps)
    # e_c=1 sends every token to the full model: no map for it.
    self.assertEmpty([m for m in maps if "_ec1" in m])
    events = [f for f in os.listdir(self.workdir) if "tfevents" in f]
    self.assertNotEmpty(events)
    from tensorboard.backend.event_processing import event_accumulator  # pylint: disable=g-import-not-at-top
    acc = event_accumulator.EventAccumulator(
        self.workdir, size_guidance={"tensors": 0, "images": 0})
    acc.Reload()
    tags = acc.Tags()["tensors"] + acc.Tags()["images"]
    self.assertIn("routing_maps_ec0.5", tags)

  def test_evaluate_reports_one_row_per_budget(self):
    bvu.run([sys.executable, "-m", "mone_plugin.big_vision.evaluate",
             f"--workdir={self.workdir}", "--e_c=0.3,1.0,dense"],
            bvu.env(self.cache))
    with open(os.path.join(self.workdir, "mone_eval.json")) as f:
      rows = json.load(f)
    self.assertEqual([r["e_c"] for r in rows], [0.3, 1.0, "dense"])
    for r in rows:
      self.assertBetween(r["test/prec@1"], 0.0, 1.0)
    self.assertLess(rows[0]["gflops"], rows[2]["gflops"])
    # Same checkpoint, same evaluator: the trainer's last e_c=1 number.
    self.assertAlmostEqual(rows[1]["test/prec@1"],
                           self.metrics[-1]["test_ec1/prec@1"], places=6)
    for ext in ("csv", "png"):
      self.assertGreater(
          os.path.getsize(os.path.join(self.workdir, f"mone_eval.{ext}")), 0)

  def test_evaluate_draws_a_reference_run(self):
    # The reference: the same checkpoint copied, evaluated on the dense path.
    ref = os.path.join(self.tmp.name, "reference")
    shutil.copytree(self.workdir, ref)
    bvu.run([sys.executable, "-m", "mone_plugin.big_vision.evaluate",
             f"--workdir={ref}", "--e_c=dense"], bvu.env(self.cache))
    out = os.path.join(self.tmp.name, "with_reference")
    shutil.copytree(self.workdir, out)
    log = bvu.run([sys.executable, "-m", "mone_plugin.big_vision.evaluate",
                   f"--workdir={out}", "--e_c=0.3", f"--reference={ref}"],
                  bvu.env(self.cache)).stdout
    with open(os.path.join(out, "mone_eval.json")) as f:
      rows = json.load(f)
    with open(os.path.join(ref, "mone_eval.json")) as f:
      dense = json.load(f)[0]
    self.assertEqual([r["e_c"] for r in rows], [0.3, "dense"])
    self.assertNotIn("reference", rows[0])
    self.assertEqual(rows[1], {**dense, "reference": ref})  # Same recipe.
    self.assertIn(f"reference dense  GFLOPs={dense['gflops']:.5f}", log)
    with open(os.path.join(out, "mone_eval.csv")) as f:
      self.assertEqual(list(csv.DictReader(f))[1]["reference"], ref)
    # Another recipe is said, with the fields that differ.
    from mone_plugin.big_vision import evaluate  # pylint: disable=g-import-not-at-top
    config = evaluate.load_config(out)
    config.total_steps = 999
    self.assertEqual(
        evaluate.load_reference(ref, config)[0]["reference"],
        f"{ref} (recipe differs: total_steps 20 vs 999)")
    with self.assertRaisesRegex(FileNotFoundError,
                                "--reference=/nonexistent is not an "
                                "evaluated run"):
      evaluate.load_reference("/nonexistent", config)

  def test_export_and_predict_agree_with_the_checkpoint(self):
    # Export (reads the checkpoint without Big Vision), then predict (TF
    # only) on real test images, against Big Vision's own model module,
    # loader and preprocessing on the same images.
    import big_vision.pp.builder as pp_builder  # pylint: disable=g-import-not-at-top
    import big_vision.pp.ops_general  # pylint: disable=g-import-not-at-top,unused-import
    import big_vision.pp.ops_image  # pylint: disable=g-import-not-at-top,unused-import
    import big_vision.utils as u  # pylint: disable=g-import-not-at-top
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
    import mone_plugin.big_vision  # pylint: disable=g-import-not-at-top,unused-import
    from mone_plugin import predict  # pylint: disable=g-import-not-at-top
    out = os.path.join(self.tmp.name, "export")
    bvu.run([sys.executable, "-m", "mone_plugin.export",
             f"--workdir={self.workdir}", f"--out={out}", "--e_c=0.3"],
            bvu.env(self.cache))
    with open(os.path.join(self.workdir, "config.json")) as f:
      config = json.load(f)
    ds = tfds.load("fashion_mnist_local", split="test[:4]",
                   data_dir=config["input"]["data"]["data_dir"],
                   decoders={"image": tfds.decode.SkipDecoding()})
    pp = pp_builder.get_preprocess_fn(
        'decode(channels=1)|resize(32)|value_range(-1, 1)')
    paths, images = [], []
    for i, ex in enumerate(ds):
      paths.append(os.path.join(self.tmp.name, f"test{i}.jpg"))
      with open(paths[-1], "wb") as f:
        f.write(ex["image"].numpy())
      images.append(pp({"image": ex["image"]})["image"].numpy())
    model = importlib.import_module(
        f"big_vision.models.{config['model_name']}").Model(
            num_classes=config["num_classes"], **config["model"])
    params = u.load_checkpoint_ts(os.path.join(self.workdir, "checkpoint.bv"),
                                  regex="params/.*")["params"]
    logits, _ = model.apply({"params": params}, np.stack(images), e_c=0.3)
    results = predict.predict(out, "0.3", paths,
                              os.path.join(self.tmp.name, "maps"))
    self.assertEqual([r["classes"][0] for r in results],
                     list(np.argmax(logits, -1)))
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    np.testing.assert_allclose([[p for _, p in r["top"]] for r in results],
                               -np.sort(-probs, -1)[:, :5], atol=1e-5)

  def test_mod_baseline(self):
    # Mixture-of-Depths: the 2nd block processes 8 of the 64 tokens.
    from mone_plugin import flops  # pylint: disable=g-import-not-at-top
    workdir = os.path.join(self.tmp.name, "mod")
    bvu.run(bvu.trainer_cmd(workdir, BASELINE + ",mod"),
            bvu.env(self.cache))
    ms = bvu.metrics(workdir)
    model = dict(image_size=32, patch_size=4, width=32, depth=2, mlp_dim=64,
                 num_heads=2, num_classes=10, channels=1)
    self.assertAlmostEqual(ms[0]["gflops_dense"], flops.vit_gflops(
        mod_capacity=0.125, **model))
    self.assertLess(ms[0]["gflops_dense"], 0.6 * flops.vit_gflops(**model))
    losses = [m["training_loss"] for m in ms if "training_loss" in m]
    self.assertLess(losses[-1], losses[0] - 0.1, losses)
    self.assertEqual(sorted(k for k in ms[-1] if k.endswith("/prec@1")),
                     ["test_dense/prec@1"])
    self.assertEqual(
        [k for k in bvu.final_params(workdir) if "router" in k],
        ["Transformer/router_1/bias", "Transformer/router_1/kernel"])

  def test_matvit_baseline(self):
    # MatViT-style: one loss per nested width, summed; each width evaluated
    # as its own model at its own GFLOPs.
    workdir = os.path.join(self.tmp.name, "matvit")
    bvu.run(bvu.trainer_cmd(workdir, BASELINE + ",matvit"),
            bvu.env(self.cache))
    ms = bvu.metrics(workdir)
    experts = [f"expert{i}" for i in range(4)]
    gflops = [ms[0][f"gflops_{e}"] for e in experts]
    self.assertEqual(gflops, sorted(gflops))
    self.assertLess(gflops[0], 0.5 * gflops[3])
    self.assertAlmostEqual(gflops[3], ms[0]["gflops_dense"], delta=1e-5)
    logged = [m for m in ms if "training_loss" in m]
    for m in logged:
      self.assertAlmostEqual(m["training_loss"], sum(
          m[f"training_loss_{e}"] for e in experts), places=4)
    self.assertLess(logged[-1]["training_loss"],
                    logged[0]["training_loss"] - 0.2)
    self.assertEqual(sorted(k for k in ms[-1] if k.endswith("/prec@1")),
                     [f"test_{e}/prec@1" for e in experts])

  def test_killed_and_resumed_equals_uninterrupted(self):
    workdir = os.path.join(self.tmp.name, "killed")
    # The trainer SIGKILLs itself right after writing checkpoint 10 (of 20).
    killed = subprocess.run(
        bvu.trainer_cmd(workdir, TINY), cwd=bvu.REPO, capture_output=True,
        text=True,
        env=bvu.env(self.cache, MONE_TEST_KILL_AFTER_CHECKPOINT="10"),
        timeout=600, check=False)
    self.assertEqual(killed.returncode, -signal.SIGKILL, killed.stderr[-3000:])
    with open(os.path.join(workdir, "checkpoint.bv-LAST")) as f:
      self.assertEqual(f.read().strip(), "000000010-tmp")

    log = bvu.run(bvu.trainer_cmd(workdir, TINY), bvu.env(self.cache)).stderr
    self.assertIn("Resuming training from checkpoint", log)
    resumed = bvu.final_params(workdir)
    uninterrupted = bvu.final_params(self.workdir)
    self.assertEqual(resumed.keys(), uninterrupted.keys())
    for name, value in uninterrupted.items():
      np.testing.assert_allclose(resumed[name], value, rtol=1e-6, atol=1e-7,
                                 err_msg=name)

  def test_8_simulated_devices_fsdp(self):
    workdir = os.path.join(self.tmp.name, "devices8")
    log = bvu.run(bvu.trainer_cmd(workdir, TINY + ",fsdp"), bvu.env(
        self.cache,
        XLA_FLAGS="--xla_force_host_platform_device_count=8")).stderr
    self.assertIn("holding 8/8 devices", log)
    # The parameter overview lists each parameter's sharding.
    self.assertRegex(log, r"Transformer/encoderblock/MlpBlock_0/Dense_0/kernel"
                     r"\s*\|[^\n]*'data'")
    ours = bvu.final_params(workdir)
    one_device = bvu.final_params(self.workdir)
    for name, value in one_device.items():
      np.testing.assert_allclose(ours[name], value, rtol=2e-3, atol=2e-4,
                                 err_msg=name)


@absltest.skipUnless(bvu.HAVE_BV, bvu.NO_BV)
class ConfigCheckTest(absltest.TestCase):
  """Bad configs fail before any training step, naming what is allowed."""

  def _train(self, config):
    from mone_plugin.big_vision import train  # pylint: disable=g-import-not-at-top
    workdir = os.path.join(bvu.temp_dir(self), "w")
    train.train_and_evaluate(config, workdir)

  def test_infeasible_e_c(self):
    for arg, bad in (("e_c=1.5", "1.5"), ("eval_e_c=0.05", "0.05"),
                     ("grid=0.1;0.5", "0.1")):
      with self.subTest(arg):
        with self.assertRaisesRegex(
            ValueError, rf"={bad} is outside the feasible range; allowed: a "
            r"number in \[0\.125, 1\] \(E=4 experts\)"):
          self._train(bvu.load_config("runlocal," + arg))

  def test_conflicting_and_renamed_keys(self):
    with self.assertRaisesRegex(ValueError, r"sets \['e_c', 'train_e_c_grid'"
                                r"\]: give at most one"):
      self._train(bvu.load_config("runlocal,e_c=0.5,grid=0.5;1"))
    config = bvu.load_config("runlocal")
    config.mone.e_c_train_grid = (0.5, 1.0)
    with self.assertRaisesRegex(ValueError, r"config\.mone\.e_c_train_grid "
                                r"was renamed: use config\.mone\."
                                r"train_e_c_grid"):
      self._train(config)

  def test_missing_keys(self):
    config = bvu.load_config("runlocal")
    del config.mone
    del config["total_steps"]
    with self.assertRaisesRegex(ValueError, r"missing \['total_steps or "
                                r"total_epochs or total_examples', 'mone or "
                                r"model\.e_c'\]"):
      self._train(config)

  def test_infeasible_gflops_budget(self):
    with self.assertRaisesRegex(ValueError, r"budget of 5.0 GFLOPs is "
                                r"infeasible.*reaches \["):
      self._train(bvu.load_config("runlocal,gflops=5.0"))

  def test_gflops_budget_sets_e_c(self):
    from mone_plugin import budgets as budgets_lib  # pylint: disable=g-import-not-at-top
    from mone_plugin.big_vision import trainer_config  # pylint: disable=g-import-not-at-top
    import big_vision.models.proj.mone.vit as mone_vit  # pylint: disable=g-import-not-at-top
    config = bvu.load_config("runlocal")
    model = mone_vit.Model(10, **config.model)
    target = budgets_lib.gflops(model, (32, 32, 1), 0.4)
    with config.unlocked():
      config.mone.gflops = target
      config.mone.train_e_c_grid = None
    trainer_config.check_config(config)
    b = trainer_config.resolve(config, model, (32, 32, 1))
    # EPR rounds bucket sizes down, so the e_c meeting the budget is a bit
    # below 0.4 for 64 tokens; its real cost is at most the budget.
    self.assertBetween(b.train[0], 0.35, 0.4)
    self.assertBetween(b.gflops[b.train[0]], 0.97 * target, target * 1.0001)


if __name__ == "__main__":
  absltest.main()
