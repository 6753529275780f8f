# Two commands: `make demo` (set up, then run the main job) and `make test` (set up, then every test).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEBS := abcmidi fluidsynth fluid-soundfont-gm
TEST_DEBS := chromium  # the browser test (Playwright drives it)
# The CPU build of PyTorch (a file on this kind of machine; an unpinned torch pulls a multi-GB CUDA build).
# Elsewhere on Linux: make TORCH="torch --index-url https://download.pytorch.org/whl/cpu"
TORCH ?= torch==2.13.0

.PHONY: setup setup-test debs test-debs demo test test-fast bench pretrain vendor clean

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed requirements-test.txt
	$(PY) -m pip install --quiet -r requirements-test.txt
	touch $@

setup: debs $(VENV)/.installed

setup-test: setup test-debs $(VENV)/.installed-test

# Debian packages: abc2midi (independent ABC check), FluidSynth and a General MIDI soundfont.
debs:
	@if ! command -v abc2midi >/dev/null || ! command -v fluidsynth >/dev/null; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEBS) >/dev/null; \
	  else echo "note: install the Debian packages $(DEBS) for the audio and abc2midi checks"; fi; \
	fi

test-debs:
	@if ! command -v chromium >/dev/null; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(TEST_DEBS) >/dev/null; \
	  else echo "note: install Debian's $(TEST_DEBS) for the browser test"; fi; \
	fi

# The interactive sheet's JavaScript, bundled (no CDN): abcjs from npm, checked against the committed digest.
ABCJS := 6.7.2
ABCJS_SHA256 := 3290ef44c918d5e882029d3a47ad3dd63c16c8819da5abe921f3d1e642b4f4f0
vendor:
	cd $$(mktemp -d) && npm pack --silent abcjs@$(ABCJS) >/dev/null && tar xzf abcjs-$(ABCJS).tgz && \
	  echo "$(ABCJS_SHA256)  package/dist/abcjs-basic-min.js" | sha256sum -c - && \
	  cp package/dist/abcjs-basic-min.js $(CURDIR)/aitunes_lib/static/ && cp package/LICENSE.md $(CURDIR)/aitunes_lib/static/abcjs-LICENSE.md

demo: setup
	$(PY) -m aitunes_lib demo --out out

test: setup-test
	$(PY) -m pytest -m "slow or not slow" -q

test-fast: setup-test
	$(PY) -m pytest -q

bench: setup-test
	$(PY) -m aitunes_lib prep --out out --quiet
	$(PY) benchmarks/bench_prep.py
	$(PY) benchmarks/bench_metrics.py
	$(PY) benchmarks/bench_local.py
	$(PY) -m aitunes_lib train --data out/songs.jsonl --out out/local_model --restart --quiet
	$(PY) benchmarks/bench_realism.py
	$(PY) benchmarks/bench_studio.py
	$(PY) benchmarks/bench_notebooks.py

# Reproduce the committed base model (on 2 CPU cores: about 15 minutes to prepare music21's 12,279
# tunes, then about an hour for 2,200 steps); `benchmarks/bench_pretrain.py` chose its size
pretrain: setup
	$(PY) -m aitunes_lib prep --out out --quiet
	$(PY) -m aitunes_lib pretrain --openewld out/songs.jsonl --out aitunes_lib/models/folk-tiny --restart

clean:
	rm -rf $(VENV) out .pytest_cache
