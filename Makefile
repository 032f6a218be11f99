# The two commands of the README: `make demo` and `make test`. Both set up first.
PY := .venv/bin/python
TOY := data/toy
TOY_CLS := data/toy_cls
DEMO_CFG := configs/toy/rbonn_faster_rcnn_toy.py
DEMO_DIR := work_dirs/demo

.PHONY: setup toy-data toy-data-force toy-cls-data test test-all test-compat demo clean-venv

setup:
	@bash tools/setup_env.sh

# The generator writes atomically, so an existing data/toy is a complete one.
toy-data: setup
	@if [ -d $(TOY) ]; then echo "[toy] $(TOY) exists (make toy-data-force to regenerate)"; \
	else $(PY) tools/misc/make_toy_dataset.py --out $(TOY); fi

# Classification crops of the toy set, for the backbone-pretraining config.
toy-cls-data: toy-data
	@if [ -d $(TOY_CLS) ]; then echo "[toy-cls] $(TOY_CLS) exists"; \
	else $(PY) tools/misc/make_toy_cls_dataset.py --det-root $(TOY) --out $(TOY_CLS); fi

toy-data-force: setup
	$(PY) tools/misc/make_toy_dataset.py --out $(TOY) --force

# CI-bounded suite (tests marked `slow` are left to `make test-all`).
test: setup
	$(PY) -m pytest tests -m "not slow"

test-all: setup
	$(PY) -m pytest tests

# The support matrix of docs/install.md, one environment per row (cached under
# ~/.cache/rbonn_det/envs; ROWS="py3.10-torch2.1.2" for some): see tools/install/test_compat.sh.
test-compat:
	bash tools/install/test_compat.sh $(ROWS)

demo: toy-data
	$(PY) tools/train.py $(DEMO_CFG) --work-dir $(DEMO_DIR)
	$(PY) tools/test.py $(DEMO_CFG) "$$(cat $(DEMO_DIR)/last_checkpoint)" --work-dir $(DEMO_DIR)/test

clean-venv:
	rm -rf .venv
