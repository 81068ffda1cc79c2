# The two commands the README promises: `make book` and `make test`. Both create the virtual
# environment and install the pinned requirements on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
# XLA's multi-threaded Eigen kernels can stall JAX's CPU backend on this stack (see
# mesalib/runtime.py and benchmarks/hang_check.py); mesalib sets this too, this covers every kernel.
export XLA_FLAGS ?= --xla_cpu_multi_thread_eigen=false
export PYTHONHASHSEED := 0

.PHONY: book test test-fast student-book static set-repository pretrained benchmarks clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

static: $(STAMP)
	$(PY) scripts/vendor_static.py

## Build the HTML book into _build/html, executing every chapter (cached between builds).
book: static
	$(VENV)/bin/jupyter-book build . -W -n --keep-going

## The book without exercise solutions, for students (into _build/student/_build/html).
student-book: static
	$(PY) scripts/student_config.py > _build_student_config.yml
	$(VENV)/bin/jupyter-book build . -W -n --keep-going --config _build_student_config.yml --path-output _build/student
	rm -f _build_student_config.yml

## Every test: unit, claims, exercises, notebooks (nbval), book build, browser, Colab-style install.
test: static
	$(PY) -m pytest tests chapters

## Point the Colab buttons, install cells and README at another repository: make set-repository URL=...
set-repository: $(STAMP)
	$(PY) scripts/set_repository.py "$(URL)"

## Retrain the networks the chapters load from mesalib/weights (minutes to hours on a CPU).
pretrained: $(STAMP)
	$(PY) -m mesalib.pretrained all

## Speed measurements, side by side, into benchmarks/*.log (see benchmarks/README.md). Optional:
## make benchmarks ARGS="--quick" or ARGS="--against <git revision>".
benchmarks: static
	$(PY) benchmarks/run.py $(ARGS)

## The fast tier: unit tests and exercise checkers (a few minutes), for use while editing.
test-fast: static
	$(PY) -m pytest -m fast tests

clean:
	rm -rf _build .jupyter_cache _vendor
