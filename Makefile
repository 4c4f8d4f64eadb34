# MoNE for Scenic and Big Vision. See README.md.
PYTHON ?= python3
export PYTHONPATH := $(CURDIR):$(PYTHONPATH)
# Where the data and run outputs live (outside the repo).
MONE_DATA_DIR ?= $(HOME)/mone_data
export MONE_DATA_DIR
WORKDIR ?= $(CURDIR)/workdirs
# Scenic, Big Vision and DMVR checkouts (outside the repo; see README.md),
# at the commits of mone_plugin/frameworks.py.
FRAMEWORKS_DIR ?= $(HOME)/frameworks
BIG_VISION_COMMIT = 0127fb6b337ee2a27bf4e54dea79cff176527356
SCENIC_COMMIT = 4a38d475ee89cb821078c0e2bf2065ee030e1535
DMVR_COMMIT = 77ccedaa084d29239eaeafddb0b2e83843b613a1
SIMCLR_COMMIT = 383d4143fd8cf7879ae10f1046a9baeb753ff438

.PHONY: setup data frameworks run run-reference test benchmark patches \
  patches-bv

# Installs the Python stack (tools/setup_env.py). On a CPU machine (CI):
# requirements-ci.lock exactly, a no-op when it is already there. A jax with
# its CUDA plugin or libtpu is kept (the rest goes in at the tested ranges of
# pyproject.toml around it), or setup stops with one message and changes
# nothing. ACCEL=cuda12 or ACCEL=tpu installs jax[cuda12] / jax[tpu] in the
# tested range with the rest; SETUP_ARGS=--dry_run only says what pip would do.
ACCEL ?=
SETUP_ARGS ?=
# jax2onnx (ONNX export) without its dependencies: it pins orbax-checkpoint
# below the 0.12 line installed here beside flax 0.12.8 and pulls in equinox,
# dm-pix, netron and huggingface-hub for its own examples; the export uses
# none of them. What it does use (onnx, onnx-ir, onnxruntime) is pinned in
# requirements-ci.lock (pyproject.toml's export extra).
# 0.12.5, not newer: from 0.13 on, every converted equation's outputs are
# searched for in every node of the graph built so far, quadratic in model
# size (a depth-4 MoNE took 97 s instead of 6.9 s; ViT-B would take hours).
JAX2ONNX = jax2onnx==0.12.5

setup:
	@$(PYTHON) tools/setup_env.py --accel=$(ACCEL) --no_deps=$(JAX2ONNX) \
	  $(SETUP_ARGS)

# Local TFDS data sets from Debian's dataset-fashion-mnist (idempotent).
data: setup
	$(PYTHON) -m mone_plugin.data.prepare

# Clones Big Vision, Scenic, DMVR and SimCLR at the pinned commits, unless
# already there (SimCLR's repository is the `simclr` package itself: it goes
# one level down, to simclr/simclr). Never fails: offline, it says so in one
# line per framework, and the tests that need a missing framework skip.
frameworks:
	@for fw in google-research/big_vision:$(BIG_VISION_COMMIT) \
	    google-research/scenic:$(SCENIC_COMMIT) \
	    google-deepmind/dmvr:$(DMVR_COMMIT) \
	    google-research/simclr:$(SIMCLR_COMMIT); do \
	  repo=$${fw%%:*}; commit=$${fw##*:}; name=$${repo##*/}; \
	  dir=$(FRAMEWORKS_DIR)/$$name; clone=$$dir; \
	  if [ $$name = simclr ]; then clone=$$dir/$$name; fi; \
	  if [ -d $$dir/$$name ]; then echo "$$name: $$dir"; \
	  elif mkdir -p $$(dirname $$clone) && GIT_TERMINAL_PROMPT=0 git clone -q \
	      https://github.com/$$repo $$clone.tmp 2>/dev/null && \
	      git -C $$clone.tmp checkout -q $$commit; \
	  then mv $$clone.tmp $$clone; echo "$$name: cloned to $$clone"; \
	  else rm -rf $$clone.tmp; echo "$$name: not found and could not be" \
	    "cloned (offline?); its tests skip, set \$$$$(echo $$name | \
	    tr a-z A-Z)_DIR or see README.md"; fi; done

# The main job: a MoNE training run through Big Vision on Fashion-MNIST, then
# an evaluation at several compute budgets. Writes $(BV_RUN_DIR)/mone_eval.{json,
# csv,png} (accuracy vs GFLOPs at e_c = 0.2, 0.3, ..., 1.0); BV_RUN_ARGS adds
# config arguments (e.g. BV_RUN_ARGS=steps=500). The plot and the JSON also
# show the dense ViT of the same recipe, from $(BV_REF_DIR) (committed; made by
# `make run-reference`; a recipe that differs is said in its label).
BV_RUN_DIR ?= $(WORKDIR)/bv_fashion_mnist
BV_RUN_ARGS ?=
BV_EVAL_E_C ?= 0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1.0
BV_REF_DIR ?= docs/make_run/dense
comma := ,
run: setup frameworks
	@set -e; start=$$(date +%s); \
	echo "== make run: data"; \
	$(PYTHON) -m mone_plugin.data.prepare --datasets=fashion_mnist_local; \
	echo "== make run: training MoNE through Big Vision into $(BV_RUN_DIR)"; \
	rm -rf $(BV_RUN_DIR); \
	TF_CPP_MIN_LOG_LEVEL=2 JAX_COMPILATION_CACHE_DIR=$(WORKDIR)/jax_cache \
	  $(PYTHON) -m mone_plugin.big_vision.train \
	  --config=configs/mone_fashion_mnist.py:$(BV_RUN_ARGS) \
	  --workdir=$(BV_RUN_DIR); \
	echo "== make run: evaluating at e_c = $(BV_EVAL_E_C)"; \
	TF_CPP_MIN_LOG_LEVEL=2 JAX_COMPILATION_CACHE_DIR=$(WORKDIR)/jax_cache \
	  $(PYTHON) -m mone_plugin.big_vision.evaluate --workdir=$(BV_RUN_DIR) \
	  --e_c=$(BV_EVAL_E_C) $$([ -f $(BV_REF_DIR)/mone_eval.json ] && \
	  echo --reference=$(BV_REF_DIR)); \
	echo "== make run: done in $$(( $$(date +%s) - start )) s; results in" \
	  "$(BV_RUN_DIR)/mone_eval.{json,csv,png}"

# The dense ViT of `make run`'s recipe (same BV_RUN_ARGS), trained and
# evaluated the same way; its config and evaluation go to $(BV_REF_DIR).
run-reference: setup frameworks
	@set -e; \
	$(PYTHON) -m mone_plugin.data.prepare --datasets=fashion_mnist_local; \
	rm -rf $(BV_RUN_DIR)_dense; \
	TF_CPP_MIN_LOG_LEVEL=2 JAX_COMPILATION_CACHE_DIR=$(WORKDIR)/jax_cache \
	  $(PYTHON) -m mone_plugin.big_vision.train \
	  --config=configs/mone_fashion_mnist.py:dense$(if $(BV_RUN_ARGS),$(comma)$(BV_RUN_ARGS)) \
	  --workdir=$(BV_RUN_DIR)_dense; \
	TF_CPP_MIN_LOG_LEVEL=2 JAX_COMPILATION_CACHE_DIR=$(WORKDIR)/jax_cache \
	  $(PYTHON) -m mone_plugin.big_vision.evaluate \
	  --workdir=$(BV_RUN_DIR)_dense --e_c=dense; \
	mkdir -p $(BV_REF_DIR); \
	cp $(BV_RUN_DIR)_dense/config.json $(BV_RUN_DIR)_dense/mone_eval.json \
	  $(BV_REF_DIR)/; \
	echo "== make run-reference: $(BV_REF_DIR) written (commit it)"

# Regenerates patches/big_vision/ and patches/scenic/ from the sources with
# the one generator (run after changing them; tests/*_patches_test.py fail on
# drift). `make patches-bv` or `make scenic-patches`: one framework.
patches:
	$(PYTHON) patches/generate.py

patches-bv:
	$(PYTHON) patches/generate.py --framework=big_vision

# Unit tests and end-to-end tests (framework tests skip when absent).
# Two workers (CI has 2 cores; most tests are single-threaded XLA compiles);
# each test class stays on one worker (its setUpClass trains once); all
# test processes share one JAX compilation cache (conftest.py).
TEST_WORKERS ?= 2
test: setup data frameworks
	$(PYTHON) -m pytest -q -n $(TEST_WORKERS) --dist loadscope

# Regenerates docs/results.md and docs/results/*.png: every run of
# experiments/results/plan.py through Big Vision's and Scenic's trainers, then
# the benchmark (alone on the machine), then the report; needs the frameworks
# (`make frameworks`). Each finished run writes a summary to
# docs/results/runs/<run>.json (commit them): the plan skips runs whose
# summary is there (of the current recipe, plan.RECIPE), so it spans
# sessions; it says how many runs are done and pending, and Ctrl-C stops it.
# A bounded chunk: make results RESULTS_ARGS=--budget_minutes=100 (or
# --max_runs=4). `make results-page`: the page from the summaries alone.
RESULTS_JOBS ?= 2
RESULTS_ARGS ?=
.PHONY: results results-reduced results-page
results: setup data
	$(PYTHON) -m experiments.results.run --mode=full \
	  --root=$(WORKDIR)/results --out=docs --jobs=$(RESULTS_JOBS) \
	  $(RESULTS_ARGS)

results-page:
	$(PYTHON) -m experiments.results.report --out=docs

# The same scripts on tiny settings, in a few minutes (tests/results_test.py
# runs this); the page goes to $(WORKDIR)/results/reduced/docs.
results-reduced: setup data
	$(PYTHON) -m experiments.results.run --mode=reduced \
	  --root=$(WORKDIR)/results --out=$(WORKDIR)/results/reduced/docs \
	  --jobs=$(RESULTS_JOBS)

# Speed: dense vs MoNE ViT-B/16 and ViViT-FE-B/16x2 (32 frames, forward only),
# batch 8, on the current backend.
benchmark: setup
	$(PYTHON) -m experiments.benchmark
	$(PYTHON) -m experiments.benchmark --model=vivit --reps=3 --e_c=0.3,0.4

# ---- Scenic MoNE project (projects/mone; owned by the Scenic integration) ---
SCENIC_WORKDIR ?= $(WORKDIR)/scenic
MONE_MAIN = $(PYTHON) -m projects.mone.main
.PHONY: scenic-run scenic-patches

# The local video pipeline (about 25 min on 2 CPU cores): nested pretraining on
# Fashion-MNIST images, MoNE ViViT training on Moving Fashion-MNIST from that
# checkpoint, evaluation at several e_c. Resumes an interrupted run; delete
# $(SCENIC_WORKDIR) to start over. Results: $(SCENIC_WORKDIR)/eval/.
scenic-run: setup data
	@mkdir -p $(SCENIC_WORKDIR)
	@t0=$$(date +%s); \
	$(MONE_MAIN) --config=projects/mone/configs/local_nested_pretrain.py \
	  --workdir=$(SCENIC_WORKDIR)/nested && t1=$$(date +%s) && \
	$(MONE_MAIN) \
	  --config=projects/mone/configs/local_mone_video.py:init=$(SCENIC_WORKDIR)/nested \
	  --workdir=$(SCENIC_WORKDIR)/video && t2=$$(date +%s) && \
	$(MONE_MAIN) \
	  --config=projects/mone/configs/local_mone_eval.py:ckpt=$(SCENIC_WORKDIR)/video \
	  --workdir=$(SCENIC_WORKDIR)/eval && t3=$$(date +%s) && \
	echo "{\"nested_s\": $$((t1-t0)), \"video_s\": $$((t2-t1)), \"eval_s\": $$((t3-t2)), \"total_s\": $$((t3-t0))}" \
	  > $(SCENIC_WORKDIR)/wall_times.json
	@$(PYTHON) -m projects.mone.report $(SCENIC_WORKDIR)

# Regenerates patches/scenic/ (scenic/projects/mone/ for Scenic's pinned commit).
scenic-patches:
	$(PYTHON) patches/generate.py --framework=scenic
