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
"""`make setup`'s decisions (tools/setup_env.py), without pip or network."""

import importlib.util
import os
import sys
import tomllib

from absl.testing import absltest

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_spec = importlib.util.spec_from_file_location(
    "setup_env", os.path.join(_ROOT, "tools", "setup_env.py"))
setup_env = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(setup_env)
Requirement = setup_env.Requirement

with open(os.path.join(_ROOT, "pyproject.toml"), "rb") as _f:
  PYPROJECT = tomllib.load(_f)
with open(os.path.join(_ROOT, setup_env.LOCK)) as _f:
  LOCK = setup_env.parse_lock(_f.read())
NO_DEPS = {"jax2onnx": "0.12.5"}
# jax 0.10.1's own pins for its extras (from its METADATA).
JAX_0101_REQUIRES = [
    "jaxlib<=0.10.1,>=0.10.1",
    'libtpu==0.0.41.*; extra == "tpu"',
    'jax-cuda12-plugin[with-cuda]<=0.10.1,>=0.10.1; extra == "cuda12"',
]
CUDA_0101 = {"jax": "0.10.1", "jaxlib": "0.10.1",
             "jax-cuda12-plugin": "0.10.1", "jax-cuda12-pjrt": "0.10.1"}


def decide(installed, accel=""):
  return setup_env.decide(installed, accel, PYPROJECT, LOCK, NO_DEPS,
                          JAX_0101_REQUIRES)


def names(requirements):
  return {setup_env.norm(Requirement(r).name) for r in requirements}


class CpuTest(absltest.TestCase):

  def test_lock_already_installed_is_a_noop(self):
    plan = decide({**LOCK, **NO_DEPS, "unrelated": "1.0"})
    self.assertEqual((plan.mode, plan.backend, plan.noop), ("lock", "cpu",
                                                            True))
    self.assertIn("requirements-ci.lock is installed", plan.message)
    self.assertIn(f"jax {LOCK['jax']}", plan.message)

  def test_fresh_machine_installs_the_lock_exactly(self):
    plan = decide({"pip": "23.2.1"})
    self.assertEqual((plan.mode, plan.noop), ("lock", False))
    self.assertCountEqual(
        plan.requirements,
        [f"{n}=={v}" for n, v in {**LOCK, **NO_DEPS}.items()])
    self.assertEmpty(plan.constraints)

  def test_plain_cpu_jax_of_another_release_is_replaced_by_the_lock(self):
    plan = decide({**LOCK, **NO_DEPS, "jax": "0.9.0", "jaxlib": "0.9.0"})
    self.assertEqual(plan.mode, "lock")
    self.assertIn(f"jax=={LOCK['jax']}", plan.requirements)

  def test_accel_cpu_on_a_cpu_machine_is_the_lock(self):
    self.assertEqual(decide({}, "cpu").mode, "lock")


class CudaTest(absltest.TestCase):

  def test_matching_cuda_jax_is_kept(self):
    plan = decide(dict(CUDA_0101))
    self.assertEqual((plan.mode, plan.backend), ("keep", "cuda12"))
    self.assertIn("keeping the installed jax (jax 0.10.1, jaxlib 0.10.1, "
                  "jax-cuda12-plugin 0.10.1, jax-cuda12-pjrt 0.10.1)",
                  plan.message)
    self.assertCountEqual(plan.constraints,
                          [f"{n}=={v}" for n, v in CUDA_0101.items()])
    reqs = names(plan.requirements)
    self.assertNoCommonElements(reqs, setup_env.JAX_STACK)
    self.assertContainsSubset({"flax", "tensorflow-cpu", "jax2onnx"}, reqs)
    self.assertIn("jax2onnx==0.12.5", plan.requirements)

  def test_accel_cuda12_keeps_a_matching_stack_too(self):
    self.assertEqual(decide(dict(CUDA_0101), "cuda12").mode, "keep")

  def test_jax_and_plugin_at_different_versions_stop_with_one_message(self):
    plan = decide({**CUDA_0101, "jax": "0.10.2", "jaxlib": "0.10.2"})
    self.assertEqual(plan.mode, "stop")
    self.assertEmpty(plan.requirements)
    self.assertNotIn("\n", plan.message)
    for words in ("nothing was changed", "jax 0.10.2",
                  "jax-cuda12-plugin 0.10.1 differs from jax 0.10.2",
                  "make setup ACCEL=cuda12", "jax[cuda12]>=0.9.2,<0.11"):
      self.assertIn(words, plan.message)

  def test_accel_cuda12_installs_jax_and_plugin_together(self):
    plan = decide({**CUDA_0101, "jax": "0.10.2", "jaxlib": "0.10.2"},
                  "cuda12")
    self.assertEqual((plan.mode, plan.backend), ("accel", "cuda12"))
    self.assertIn("jax[cuda12]>=0.9.2,<0.11", plan.requirements)
    self.assertEmpty(plan.constraints)  # pip moves jax and plugins together.

  def test_fresh_machine_with_accel_cuda12(self):
    plan = decide({}, "cuda12")
    self.assertEqual(plan.mode, "accel")
    self.assertIn("jax[cuda12]>=0.9.2,<0.11", plan.requirements)
    self.assertIn("tensorflow-cpu>=2.20,<2.22", plan.requirements)

  def test_matching_jax_outside_the_range_stops_or_is_replaced(self):
    newer = {n: "0.11.2" for n in CUDA_0101}
    plan = decide(newer)
    self.assertEqual(plan.mode, "stop")
    self.assertIn("jax 0.11.2 is outside the tested range "
                  "jax>=0.9.2,<0.11", plan.message)
    self.assertIn("ACCEL=cuda12", plan.message)
    self.assertEqual(decide(newer, "cuda12").mode, "accel")

  def test_plugin_without_jax_stops(self):
    plan = decide({"jax-cuda12-plugin": "0.10.1"})
    self.assertEqual(plan.mode, "stop")
    self.assertIn("jax is not installed", plan.message)

  def test_cuda13_is_kept_but_not_installed(self):
    cuda13 = {"jax": "0.10.1", "jaxlib": "0.10.1",
              "jax-cuda13-plugin": "0.10.1", "jax-cuda13-pjrt": "0.10.1"}
    self.assertEqual(decide(cuda13).mode, "keep")
    plan = decide({**cuda13, "jax-cuda13-plugin": "0.10.0"})
    self.assertEqual(plan.mode, "stop")
    self.assertIn("install jax[cuda13]>=0.9.2,<0.11 yourself", plan.message)

  def test_another_accel_than_the_installed_one_stops(self):
    for accel in ("cpu", "tpu"):
      plan = decide(dict(CUDA_0101), accel)
      self.assertEqual(plan.mode, "stop", accel)
      self.assertIn(f"ACCEL={accel}", plan.message)
      self.assertIn("Uninstall jax-cuda12-plugin jax-cuda12-pjrt",
                    plan.message)

  def test_unknown_accel_stops(self):
    plan = decide({}, "rocm")
    self.assertEqual(plan.mode, "stop")
    self.assertIn("ACCEL=rocm is not one of cpu, cuda12, tpu", plan.message)

  def test_a_gpu_tensorflow_in_range_is_kept(self):
    plan = decide({**CUDA_0101, "tensorflow": "2.21.0"})
    self.assertEqual(plan.mode, "keep")
    self.assertNotIn("tensorflow-cpu", names(plan.requirements))
    self.assertIn("tensorflow==2.21.0", plan.constraints)
    self.assertIn("keeping tensorflow 2.21.0", plan.message)
    # Out of range: tensorflow-cpu in range goes in.
    plan = decide({**CUDA_0101, "tensorflow": "2.15.0"})
    self.assertIn("tensorflow-cpu", names(plan.requirements))


class TpuTest(absltest.TestCase):

  def test_matching_tpu_jax_is_kept(self):
    tpu = {"jax": "0.10.1", "jaxlib": "0.10.1", "libtpu": "0.0.41"}
    plan = decide(tpu)
    self.assertEqual((plan.mode, plan.backend), ("keep", "tpu"))
    self.assertIn("libtpu==0.0.41", plan.constraints)

  def test_libtpu_jax_does_not_ask_for_stops(self):
    plan = decide({"jax": "0.10.1", "jaxlib": "0.10.1", "libtpu": "0.0.30"})
    self.assertEqual(plan.mode, "stop")
    self.assertIn("libtpu 0.0.30 is not the one jax 0.10.1 asks for",
                  plan.message)
    self.assertIn("make setup ACCEL=tpu", plan.message)

  def test_accel_tpu(self):
    plan = decide({}, "tpu")
    self.assertEqual(plan.mode, "accel")
    self.assertIn("jax[tpu]>=0.9.2,<0.11", plan.requirements)

  def test_two_backends_stop(self):
    plan = decide({**CUDA_0101, "libtpu": "0.0.41"})
    self.assertEqual(plan.mode, "stop")
    self.assertIn("cuda12+tpu", plan.message)


class FilesTest(absltest.TestCase):
  """The lock, the ranges and the Python version agree."""

  def test_lock_pins_lie_in_the_tested_ranges(self):
    project = PYPROJECT["project"]
    reqs = list(project["dependencies"])
    for extra in ("cpu", "export", "test"):
      reqs += project["optional-dependencies"][extra]
    for r in reqs:
      req = Requirement(r)
      name = setup_env.norm(req.name)
      self.assertIn(name, LOCK, r)
      self.assertTrue(req.specifier.contains(LOCK[name]),
                      f"{name}=={LOCK[name]} is outside {r}")
    self.assertEqual(LOCK["jax"], LOCK["jaxlib"])

  def test_every_accelerator_extra_has_the_base_jax_range(self):
    base = setup_env.jax_range(PYPROJECT)
    for extra in setup_env.ACCELS:
      (jax,) = [Requirement(r) for r in
                PYPROJECT["project"]["optional-dependencies"][extra]
                if Requirement(r).name == "jax"]
      self.assertEqual(jax.extras, {extra})
      self.assertEqual(jax.specifier, base)

  def test_requires_python_holds_for_this_python(self):
    spec = Requirement("python" + PYPROJECT["project"]["requires-python"])
    self.assertTrue(spec.specifier.contains("3.11"))
    self.assertFalse(spec.specifier.contains("3.10"))
    self.assertTrue(spec.specifier.contains(
        "%d.%d" % sys.version_info[:2]))

  def test_satisfied(self):
    self.assertTrue(setup_env.satisfied(["flax>=0.12.1,<0.13", "numpy"],
                                        {"flax": "0.12.8", "numpy": "2.4.6"}))
    self.assertFalse(setup_env.satisfied(["flax>=0.12.1,<0.13"],
                                         {"flax": "0.13.0"}))
    self.assertFalse(setup_env.satisfied(["numpy"], {}))

  def test_lock_lines_must_be_exact_pins(self):
    with self.assertRaisesRegex(ValueError, "not an exact pin"):
      setup_env.parse_lock("jax>=0.8.1\n")
    self.assertEqual(setup_env.parse_lock("# c\nJax_Lib==1.0  # x\n"),
                     {"jax-lib": "1.0"})


if __name__ == "__main__":
  absltest.main()
