# Two commands a newcomer needs: `make serve` and `make test`. Everything else is optional.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 3000
SERVICE := service.service:EmotionService
DATA ?= ../shared/data

.PHONY: serve test lint setup-serve setup-dev weights train reports clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Serving needs no torch: numpy, OpenCV, Pillow, onnxruntime and BentoML only.
setup-serve: $(PY)
	$(PY) -m pip install --quiet -e ".[serve]"

setup-dev: $(PY)
	$(PY) -m pip install --quiet -e ".[serve,train,dev]"

serve: setup-serve
	@test -f models/face_emotion.onnx || { echo "no shipped model at models/face_emotion.onnx: run 'make train' or set EMOTION_MODEL_PATH"; exit 1; }
	$(VENV)/bin/bentoml serve $(SERVICE) --port $(PORT)

lint: setup-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint
	$(VENV)/bin/python -m pytest

# ImageNet MobileNetV2 weights for offline machines (see scripts/fetch_weights.sh).
weights: $(PY)
	bash scripts/fetch_weights.sh

# The capped cascade (seed 0 is in the shipped set): small faces framed tight (margin at most 25% of the box's side).
CASCADE := runs/cascade80-cap25-mobilenet-both
# The cascade averaged with its FER-2013 stage in weight space (WiSE-FT, half and half).
WISE := runs/cascade80-cap25-wise50-mobilenet-both
# The capped cascade from another FER-2013 lineage (fer-long-polish80).
LONG := runs/cascade80-cap25-long-mobilenet-both
ST := models/stages
# Candidate FER-2013 members at the shipped size; `variants` chose the shipped set among them.
FER_MEMBERS := $(ST)/fer-polish80-mobilenet.pt $(ST)/fer-light-polish80-mobilenet.pt \
	$(ST)/fer-long-polish80-mobilenet.pt $(ST)/fer-polish80-of-seed1-mobilenet.pt $(ST)/fer-distill80-mobilenet.pt \
	$(ST)/fer-distill80-robust-mobilenet.pt $(ST)/fer-polish80-of-stage80-mobilenet.pt
CANDIDATES := $(CASCADE)/random/seed0 $(FER_MEMBERS) $(CASCADE)/random/seed1 $(WISE)/random/seed0 $(WISE)/random/seed1
VAL_RUNS := $(CASCADE)/val/seed0 $(FER_MEMBERS) $(CASCADE)/val/seed1 $(WISE)/val/seed0 $(WISE)/val/seed1
# The second pool: the first pool's best members with the other lineage's cascade (reports/shipped_variants_long.md).
LONG_POOL := $(ST)/fer-polish80-of-seed1-mobilenet.pt $(ST)/fer-polish80-of-stage80-mobilenet.pt
LONG_CANDIDATES := $(CASCADE)/random/seed0 $(LONG_POOL) $(CASCADE)/random/seed1 $(LONG)/random/seed0 \
	$(LONG)/random/seed1 $(ST)/fer-polish80-mobilenet.pt $(ST)/fer-long-polish80-mobilenet.pt
LONG_VAL_RUNS := $(CASCADE)/val/seed0 $(LONG_POOL) $(CASCADE)/val/seed1 $(LONG)/val/seed0 \
	$(LONG)/val/seed1 $(ST)/fer-polish80-mobilenet.pt $(ST)/fer-long-polish80-mobilenet.pt
# v3.5's FER-2013 stage (the rule's pick in reports/shipped_variants_long.md, with the capped cascade's seed 0 and
# the other lineage's cascade, seed 1).
V35_STAGE := $(ST)/fer-polish80-of-seed1-mobilenet.pt
LONG_WISE := runs/cascade80-cap25-long-wise50-mobilenet-both
# The pool again, one network per recipe, each judged on every training-side film by its recipe's cv folds
# (reports/shipped_variants_cv.md): a recipe's two seeds would have one counterpart there.
CV_POOL := $(V35_STAGE) $(ST)/fer-polish80-of-stage80-mobilenet.pt $(ST)/fer-polish80-mobilenet.pt \
	$(ST)/fer-long-polish80-mobilenet.pt
CV_CANDIDATES := $(CASCADE)/random/seed0 $(CV_POOL) $(LONG)/random/seed1 $(WISE)/random/seed0 \
	$(LONG_WISE)/random/seed1
CV_VAL_RUNS := $(CASCADE)/cv $(CV_POOL) $(LONG)/cv $(WISE)/cv $(LONG_WISE)/cv
# The shipped set (v3.6), the rule's pick in reports/shipped_variants_cv.md: the capped cascade's seed 0, the
# FER-2013 stage it started from, and the other lineage's WiSE-FT half, seed 1.
SHIPPED_STAGE := $(ST)/fer-polish80-mobilenet.pt
STAGES := $(ST)/fer-stage-mobilenet.pt $(ST)/fer-polish-mobilenet.pt $(ST)/fer-polish80-mobilenet.pt \
	$(ST)/fer-polish96-mobilenet.pt $(ST)/fer-light-mobilenet.pt $(ST)/fer-long-mobilenet.pt \
	$(ST)/fer-light-polish80-mobilenet.pt $(ST)/fer-long-polish80-mobilenet.pt $(ST)/fer-stage-mobilenet-seed1.pt \
	$(ST)/fer-polish80-of-seed1-mobilenet.pt $(ST)/fer-distill80-mobilenet.pt $(ST)/fer-distill80-robust-mobilenet.pt \
	$(ST)/fer-stage80-mobilenet.pt $(ST)/fer-polish80-of-stage80-mobilenet.pt \
	$(ST)/fer-stage-resnet18.pt $(ST)/fer-stage-resnet18-long.pt $(ST)/fer-stage-mobilenet-scratch.pt \
	$(ST)/fer-stage-mobilenet-8ep.pt

# Reproduce every Table 1/2 number and the shipped model from the data (hours on 2 CPU cores).
train: setup-dev weights
	$(PY) -m training split --data $(DATA)/sfew675 --check
	$(PY) -m training table1 --data $(DATA)/sfew675
	$(PY) -m training box-map --data $(DATA)/sfew675
	$(PY) -m training sweep --data $(DATA)/sfew675 --fer $(DATA)/fer2013/train
	$(PY) -m training ensembles --recipes cascade80-cap25-mobilenet-both cascade80-cap25-long-mobilenet-both \
		cascade80-cap25-wise50-mobilenet-both cascade80-cap25-long-wise50-mobilenet-both --split val --data $(DATA)/sfew675
	$(PY) -m training ensembles --recipes cascade80-cap25-mobilenet-both cascade80-cap25-long-mobilenet-both \
		cascade80-cap25-wise50-mobilenet-both cascade80-cap25-long-wise50-mobilenet-both --split cv --data $(DATA)/sfew675
	$(PY) -m training table2 --data $(DATA)/sfew675
	$(PY) -m training variants --runs $(CANDIDATES) --val-runs $(VAL_RUNS) --data $(DATA)/sfew675 \
		--fer $(DATA)/fer2013/train --out reports/shipped_variants_cap25.md
	$(PY) -m training variants --runs $(LONG_CANDIDATES) --val-runs $(LONG_VAL_RUNS) --data $(DATA)/sfew675 \
		--fer $(DATA)/fer2013/train --out reports/shipped_variants_long.md
	$(PY) -m training variants --runs $(CV_CANDIDATES) --val-runs $(CV_VAL_RUNS) --data $(DATA)/sfew675 \
		--fer $(DATA)/fer2013/train --out reports/shipped_variants_cv.md
	$(PY) -m training transfer --stages $(STAGES) --data $(DATA)/sfew675
	$(PY) -m training export --runs $(CASCADE)/random/seed0 $(SHIPPED_STAGE) $(LONG_WISE)/random/seed1 \
		--data $(DATA)/sfew675 --fer $(DATA)/fer2013/train
	$(PY) -m training export --runs $(CASCADE)/film/seed0 $(SHIPPED_STAGE) $(LONG_WISE)/film/seed1 --out runs/film/face_emotion.onnx \
		--data $(DATA)/sfew675 --fer $(DATA)/fer2013/train
	$(PY) -m training end-to-end --data $(DATA)/sfew675 --fer $(DATA)/fer2013/train --film-model runs/film/face_emotion.onnx

clean:
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache
