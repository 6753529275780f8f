# Two commands: `make demo` (set up, then run the main job) and `make test` (set up, then every test).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEBS := abcmidi fluidsynth fluid-soundfont-gm

.PHONY: setup debs demo test test-fast bench clean

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

setup: debs $(VENV)/.installed

# Debian packages: abc2midi (independent ABC check), FluidSynth and a General MIDI soundfont.
debs:
	@if ! command -v abc2midi >/dev/null || ! command -v fluidsynth >/dev/null; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEBS) >/dev/null; \
	  else echo "note: install the Debian packages $(DEBS) for the audio and abc2midi checks"; fi; \
	fi

demo: setup
	$(PY) -m aitunes_lib demo --out out

test: setup
	$(PY) -m pytest -m "slow or not slow" -q

test-fast: setup
	$(PY) -m pytest -q

bench: setup
	$(PY) benchmarks/bench_prep.py

clean:
	rm -rf $(VENV) out .pytest_cache
