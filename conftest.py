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
"""pytest: one persistent JAX compilation cache for every test process.

Most of the suite's time is XLA compiling tiny models, and many tests compile
the same programs (a killed run and its resume, the same tiny config in the
train, fault and patch tests). Every test process (pytest-xdist workers and
the trainers they launch, which inherit the environment) shares one cache
directory: $MONE_TEST_JAX_CACHE, else ~/.cache/mone_plugin/jax_test_cache.
Set MONE_TEST_JAX_CACHE=off to compile everything afresh. The cache holds
compiled executables keyed by the program and the JAX/XLA version and flags,
so it changes how long a test takes, never what it computes. A full run
adds a few hundred MB at most; delete the directory to reclaim it.
"""

import os

_CACHE = os.environ.get("MONE_TEST_JAX_CACHE") or os.path.join(
    os.path.expanduser("~"), ".cache", "mone_plugin", "jax_test_cache")


def _configure():
  if _CACHE == "off":
    return
  os.makedirs(_CACHE, exist_ok=True)
  os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", _CACHE)
  # Cache every program, however quick to compile: tiny models compile fast
  # one by one but there are hundreds of them.
  os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
  os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "-1")


_configure()
