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
"""`make setup`: installs the Python stack without breaking an accelerated jax.

    python tools/setup_env.py [--accel=cpu|cuda12|tpu] [--dry_run]

Run by the Python it installs into (`make setup PYTHON=...`); needs only the
standard library and pip. Three cases:

* No accelerated jax installed and no `--accel` (a CPU machine, CI): installs
  `requirements-ci.lock` exactly, the pins CI tests. A no-op, without pip or
  network, when they are all installed already.
* A jax with its CUDA plugin (`jax-cuda12-plugin` / `jax-cuda12-pjrt`, also
  CUDA 13) or with `libtpu`: keeps it, if its parts are at matching versions
  and jax is in the tested range of `pyproject.toml`. The rest is installed at
  the ranges of `pyproject.toml`, under a constraints file that pins the jax
  found (jax, jaxlib, plugins), so pip never replaces it. Otherwise stops,
  changing nothing, with one message that names jax and ACCEL.
* `--accel=cuda12|tpu` (`make setup ACCEL=cuda12`): installs `jax[cuda12]` /
  `jax[tpu]` at the tested range together with the rest: a stack already
  there at matching versions and in range stays as it is; otherwise pip moves
  jax, jaxlib and the plugin together.

Every case prints the backend and the versions it will use, and, after pip,
checks that jax, jaxlib and the plugin still match. A `tensorflow` already
installed (e.g. a GPU build) in the tested range is kept instead of
installing `tensorflow-cpu` beside it.
"""

import argparse
import dataclasses
import importlib.metadata
import os
import re
import subprocess
import sys
import tempfile

try:  # pip vendors it; a plain `packaging` if the user has one.
  from packaging.requirements import Requirement
  from packaging.specifiers import SpecifierSet
except ImportError:
  from pip._vendor.packaging.requirements import Requirement
  from pip._vendor.packaging.specifiers import SpecifierSet

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOCK = "requirements-ci.lock"
# The accelerated jax builds: the distributions that make one, which must be
# at jax's version (CUDA) or at the version jax's own extra asks for (TPU).
PLUGINS = {
    "cuda12": ("jax-cuda12-plugin", "jax-cuda12-pjrt"),
    "cuda13": ("jax-cuda13-plugin", "jax-cuda13-pjrt"),
    "tpu": ("libtpu",),
}
ACCELS = ("cpu", "cuda12", "tpu")  # What --accel installs (pyproject extras).
JAX_STACK = ("jax", "jaxlib") + tuple(p for ps in PLUGINS.values() for p in ps)
# Installed without its dependencies (see the Makefile's JAX2ONNX).
NO_DEPS = ("jax2onnx",)


def norm(name):
  return re.sub(r"[-_.]+", "-", name).lower()


@dataclasses.dataclass
class Plan:
  """What setup does. mode: 'lock', 'keep', 'accel' or 'stop'."""
  mode: str
  backend: str  # cpu, cuda12, cuda13 or tpu.
  message: str  # The line printed before anything is installed.
  requirements: list = dataclasses.field(default_factory=list)
  constraints: list = dataclasses.field(default_factory=list)
  noop: bool = False  # 'lock' only: everything is there already.


def _fmt(installed, names):
  return ", ".join(f"{n} {installed[n]}" for n in names if n in installed)


def found_accel(installed):
  """The accelerated jax build installed (cuda12/cuda13/tpu) or None."""
  found = [a for a, ps in PLUGINS.items() if any(p in installed for p in ps)]
  return found[0] if len(found) == 1 else ("+".join(found) or None)


def mismatch(installed, accel, jax_requires=()):
  """Why the installed jax stack is not one release ('' when it is)."""
  jax = installed.get("jax")
  if jax is None:
    return "jax is not installed"
  parts = ["jaxlib"] + [p for p in PLUGINS.get(accel, ()) if p != "libtpu"]
  for p in parts:
    if p in installed and installed[p] != jax:
      return f"{p} {installed[p]} differs from jax {jax}"
  if "jaxlib" not in installed:
    return "jaxlib is not installed"
  if accel == "tpu" and "libtpu" in installed:
    for r in jax_requires:
      req = Requirement(r)
      if (norm(req.name) == "libtpu" and req.marker is not None and
          req.marker.evaluate({"extra": "tpu"}) and
          installed["libtpu"] not in req.specifier):
        return (f"libtpu {installed['libtpu']} is not the one jax {jax} "
                f"asks for ({req.specifier})")
  return ""


def range_requirements(pyproject, extras, drop=(), tf_installed=None):
  """The pyproject dependencies plus extras, without the names in drop.

  With `tf_installed` (a `tensorflow` build already there, in range), the
  `tensorflow-cpu` requirement is left out and that tensorflow is kept.
  """
  project = pyproject["project"]
  reqs = list(project["dependencies"])
  for e in extras:
    reqs += project["optional-dependencies"][e]
  out = []
  for r in reqs:
    name = norm(Requirement(r).name)
    if name in drop or (tf_installed and name == "tensorflow-cpu"):
      continue
    if r not in out:
      out.append(r)
  return out


class _Range(SpecifierSet):
  """A SpecifierSet shown lower bound first (>=0.9.2,<0.11)."""

  def __str__(self):
    return ",".join(sorted((str(s) for s in self),
                           key=lambda s: (not s.startswith(">"), s)))


def jax_range(pyproject):
  for r in pyproject["project"]["dependencies"]:
    req = Requirement(r)
    if norm(req.name) == "jax":
      return _Range(str(req.specifier))
  raise ValueError("pyproject.toml has no jax dependency")


def tf_range(pyproject):
  for r in pyproject["project"]["optional-dependencies"]["cpu"]:
    req = Requirement(r)
    if norm(req.name) == "tensorflow-cpu":
      return req.specifier
  raise ValueError("pyproject.toml's cpu extra has no tensorflow-cpu")


def parse_lock(text):
  """{name: version} of a lock file's `name==version` lines."""
  pins = {}
  for line in text.splitlines():
    line = line.split("#", 1)[0].strip()
    if not line:
      continue
    req = Requirement(line)
    (spec,) = req.specifier
    if spec.operator != "==":
      raise ValueError(f"{LOCK}: not an exact pin: {line}")
    pins[norm(req.name)] = spec.version
  return pins


def decide(installed, accel, pyproject, lock_pins, no_deps_pins,
           jax_requires=()):
  """The plan for this environment.

  Args:
    installed: {normalized distribution name: version} of the environment.
    accel: '' (keep what is there, else the CPU lock), 'cpu', 'cuda12', 'tpu'.
    pyproject: pyproject.toml, parsed.
    lock_pins: {name: version} of requirements-ci.lock.
    no_deps_pins: {name: version} installed with --no-deps (jax2onnx).
    jax_requires: the installed jax's Requires-Dist lines (its extras' pins).
  """
  if accel and accel not in ACCELS:
    return Plan("stop", "", f"make setup: ACCEL={accel} is not one of "
                f"{', '.join(ACCELS)} (nothing was changed).")
  jr = jax_range(pyproject)
  found = found_accel(installed)
  jax = installed.get("jax")
  stack = _fmt(installed, JAX_STACK)
  tf = installed.get("tensorflow")
  tf_kept = tf if tf and tf in tf_range(pyproject) else None
  extras = ["export", "test"]
  no_deps = [f"{n}=={v}" for n, v in no_deps_pins.items()]

  if found and "+" in found:
    return Plan("stop", found, (
        f"make setup: stopped, nothing was changed: jax ({stack}) has "
        f"plugins for several backends ({found}); uninstall the ones you do "
        "not use, then run make setup (ACCEL=cuda12|tpu installs one)."))

  if found and accel in ("", found):
    why = mismatch(installed, found, jax_requires)
    if not why and jax in jr:
      return Plan(
          "keep", found,
          f"make setup: backend {found}: keeping the installed jax ({stack}); "
          "installing the rest at the tested ranges of pyproject.toml"
          + (f", keeping tensorflow {tf}" if tf_kept else "") + ".",
          # The cpu extra less jax: tensorflow-cpu.
          requirements=range_requirements(
              pyproject, ["cpu"] + extras, drop=JAX_STACK,
              tf_installed=tf_kept) +
          no_deps,
          constraints=[f"{n}=={installed[n]}" for n in JAX_STACK
                       if n in installed] +
          ([f"tensorflow=={tf_kept}"] if tf_kept else []))
    if not accel:
      problem = why or f"jax {jax} is outside the tested range jax{jr}"
      hint = (f"make setup ACCEL={found} installs jax[{found}]{jr} (jax and "
              "its plugin together)" if found in ACCELS else
              f"install jax[{found}]{jr} yourself")
      return Plan("stop", found, (
          f"make setup: stopped, nothing was changed: the installed {found} "
          f"jax ({stack}) cannot be kept: {problem}. {hint}, or install a "
          "matching jax yourself and run make setup again."))

  if found and accel != found:
    plugins = " ".join(p for p in PLUGINS[found] if p in installed)
    return Plan("stop", found, (
        f"make setup: stopped, nothing was changed: ACCEL={accel} asks for "
        f"a {accel} jax, but a {found} jax is installed ({stack}); "
        f"installing jax[{accel}] would leave {plugins} behind at another "
        f"version than jax. Uninstall {plugins} first, or run make setup "
        "without ACCEL to keep the installed jax."))

  if accel in ("cuda12", "tpu"):
    return Plan(
        "accel", accel,
        f"make setup: backend {accel}: installing jax[{accel}]{jr} with the "
        "rest at the tested ranges of pyproject.toml"
        + (f" (installed now: {stack})" if jax else "")
        + (f", keeping tensorflow {tf}" if tf_kept else "") + ".",
        requirements=range_requirements(
            pyproject, [accel] + extras, tf_installed=tf_kept) + no_deps,
        constraints=[f"tensorflow=={tf_kept}"] if tf_kept else [])

  # No accelerated jax and no ACCEL (or ACCEL=cpu): CI's exact CPU pins.
  pins = dict(lock_pins)
  if tf_kept:
    pins.pop("tensorflow-cpu", None)
  pins.update(no_deps_pins)
  missing = {n: v for n, v in pins.items() if installed.get(n) != v}
  shown = _fmt({**installed, **pins}, ("jax", "jaxlib", "flax",
                                       "tensorflow-cpu"))
  if tf_kept:
    shown += f", tensorflow {tf} (kept)"
  if not missing:
    return Plan("lock", "cpu", f"make setup: backend cpu: {LOCK} is "
                f"installed ({shown}).", noop=True)
  return Plan(
      "lock", "cpu",
      f"make setup: backend cpu: installing {LOCK} ({shown}; {len(missing)} "
      f"of {len(pins)} pins to install).",
      requirements=[f"{n}=={v}" for n, v in pins.items()],
      constraints=[f"tensorflow=={tf_kept}"] if tf_kept else [])


def satisfied(requirements, installed):
  """Whether every requirement (extras aside) is installed in its range."""
  for r in requirements:
    req = Requirement(r)
    if req.marker is not None and not req.marker.evaluate():
      continue
    version = installed.get(norm(req.name))
    if version is None or not req.specifier.contains(version,
                                                     prereleases=True):
      return False
  return True


def installed_versions():
  out = {}
  for d in importlib.metadata.distributions():
    name = d.metadata["Name"]
    if name:
      out[norm(name)] = d.version
  return out


def check_after(backend):
  """One line on the stack now installed; exits 1 if jax's parts differ."""
  installed = installed_versions()
  accel = found_accel(installed)
  requires = (importlib.metadata.requires("jax") or []) if (
      "jax" in installed) else []
  why = mismatch(installed, accel, requires)
  names = JAX_STACK + ("flax", "optax", "tensorflow", "tensorflow-cpu")
  line = f"make setup: done: backend {accel or 'cpu'}: " + _fmt(installed,
                                                                names)
  if why:
    sys.exit(f"{line}\nmake setup: ERROR: the jax stack is broken: {why}. "
             f"Run make setup ACCEL={accel or backend} to reinstall it.")
  print(line)


def pip(options, requirements, dry_run):
  cmd = [sys.executable, "-m", "pip", "install", "-q"] + options + requirements
  if dry_run:  # Not quiet: pip's "Would install" line is the answer.
    cmd[cmd.index("-q")] = "--dry-run"
  shown = cmd[1:] if len(requirements) < 30 else (
      cmd[1:len(cmd) - len(requirements)] + [f"<{len(requirements)} pins>"])
  print("+ python " + " ".join(shown), flush=True)
  subprocess.run(cmd, check=True)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--accel", default="",
                      help="cpu, cuda12 or tpu (default: keep, else CPU lock)")
  parser.add_argument("--no_deps", action="append", default=[],
                      help="name==version installed without dependencies")
  parser.add_argument("--dry_run", action="store_true",
                      help="pip --dry-run: say what would be installed")
  args = parser.parse_args(argv)
  if sys.version_info < (3, 11):
    sys.exit(f"make setup: stopped: Python {sys.version.split()[0]} "
             f"({sys.executable}); the plugin needs Python 3.11 or newer "
             "(make setup PYTHON=python3.11).")
  import tomllib  # pylint: disable=g-import-not-at-top
  with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
    pyproject = tomllib.load(f)
  with open(os.path.join(ROOT, LOCK)) as f:
    lock_pins = parse_lock(f.read())
  no_deps_pins = parse_lock("\n".join(args.no_deps))
  installed = installed_versions()
  requires = (importlib.metadata.requires("jax") or []) if (
      "jax" in installed) else []
  plan = decide(installed, args.accel.strip(), pyproject, lock_pins,
                no_deps_pins, requires)
  if plan.mode == "stop":
    sys.exit(plan.message)
  print(plan.message, flush=True)
  if plan.noop or (plan.mode == "keep" and satisfied(plan.requirements,
                                                     installed)):
    if not plan.noop:
      print("make setup: all of it is installed already.")
    return
  no_deps = [r for r in plan.requirements if norm(Requirement(r).name) in
             no_deps_pins]
  reqs = [r for r in plan.requirements if r not in no_deps]
  with tempfile.TemporaryDirectory() as tmp:
    extra = []
    if plan.constraints:
      path = os.path.join(tmp, "constraints.txt")
      with open(path, "w") as f:
        f.write("\n".join(plan.constraints) + "\n")
      extra = ["-c", path]
      print("make setup: constraints: " + ", ".join(plan.constraints))
    if reqs:
      pip(extra, reqs, args.dry_run)
    if no_deps:
      pip(["--no-deps"], no_deps, args.dry_run)
  if not args.dry_run:
    check_after(plan.backend)


if __name__ == "__main__":
  main()
