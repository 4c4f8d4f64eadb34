# MoNE for Scenic and Big Vision. See README.md.
PYTHON ?= python3
export PYTHONPATH := $(CURDIR):$(PYTHONPATH)
# Where the data and run outputs live (outside the repo).
MONE_DATA_DIR ?= $(HOME)/mone_data
WORKDIR ?= $(CURDIR)/workdirs

.PHONY: setup run test benchmark

# Installs the pinned Python stack (a no-op when it is already there).
setup:
	$(PYTHON) -m pip install -q -r requirements.txt

# The main job: a MoNE training run through Big Vision on Fashion-MNIST, then
# an evaluation at several compute budgets.
run: setup
	@echo "make run: filled in by the Big Vision integration"

# Unit tests and end-to-end tests (framework tests skip when absent).
test: setup
	$(PYTHON) -m pytest -q -x

# Speed: dense vs MoNE ViT-B/16, batch 8, on the current backend.
benchmark: setup
	$(PYTHON) -m mone_plugin.benchmark
