# MoNE for Scenic and Big Vision. See README.md.
PYTHON ?= python3
export PYTHONPATH := $(CURDIR):$(PYTHONPATH)
# Where the data and run outputs live (outside the repo).
MONE_DATA_DIR ?= $(HOME)/mone_data
export MONE_DATA_DIR
WORKDIR ?= $(CURDIR)/workdirs
# Scenic and Big Vision checkouts (outside the repo; see README.md).
FRAMEWORKS_DIR ?= $(HOME)/frameworks
BIG_VISION_COMMIT = 0127fb6b337ee2a27bf4e54dea79cff176527356
SCENIC_COMMIT = 4a38d475ee89cb821078c0e2bf2065ee030e1535

.PHONY: setup data frameworks run test benchmark

# Installs the pinned Python stack (a no-op when it is already there).
setup:
	$(PYTHON) -m pip install -q -r requirements.txt

# Local TFDS data sets from Debian's dataset-fashion-mnist (idempotent).
data: setup
	$(PYTHON) -m mone_plugin.data.prepare

# Clones Big Vision and Scenic at the pinned commits, unless already there.
frameworks:
	@for fw in big_vision:$(BIG_VISION_COMMIT) scenic:$(SCENIC_COMMIT); do \
	  name=$${fw%%:*}; commit=$${fw##*:}; dir=$(FRAMEWORKS_DIR)/$$name; \
	  if [ -d $$dir/$$name ]; then echo "$$name: $$dir"; else \
	    git clone -q https://github.com/google-research/$$name $$dir && \
	    git -C $$dir checkout -q $$commit; fi; done

# The main job: a MoNE training run through Big Vision on Fashion-MNIST, then
# an evaluation at several compute budgets.
run: setup
	@echo "make run: filled in by the Big Vision integration"

# Unit tests and end-to-end tests (framework tests skip when absent).
test: setup data
	$(PYTHON) -m pytest -q

# Speed: dense vs MoNE ViT-B/16, batch 8, on the current backend.
benchmark: setup
	$(PYTHON) -m mone_plugin.benchmark
