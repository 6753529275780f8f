"""The package as pip installs it: every import declared, and a wheel that works on its own.

A wheel used to leave out `aitunes_lib/backends/` and the base model, so `pip install .` (and
Colab's `pip install git+…`) gave a library whose local backend could not be imported.
"""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
OPTIONAL = {"google"}  # google.colab: there only in Colab, imported only there


def declared() -> dict[str, set[str]]:
    """Distribution names (normalised) → the extras that declare them ("" for the core)."""
    names: dict[str, set[str]] = {}
    for extra, requirements in [("", PROJECT["dependencies"]), *PROJECT["optional-dependencies"].items()]:
        for requirement in requirements:
            name = re.split(r"[<>=!~ \[;@]", requirement, maxsplit=1)[0]
            names.setdefault(re.sub(r"[-_.]+", "-", name).lower(), set()).add(extra)
    return names


def imported_modules() -> dict[str, set[str]]:
    """Top-level third-party modules the library imports → the files that import them."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / "aitunes_lib").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else [])
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "aitunes_lib" and top not in OPTIONAL:
                    found.setdefault(top, set()).add(path.name)
    return found


def test_every_import_is_declared_in_the_package():
    distributions = importlib.metadata.packages_distributions()
    names = declared()
    missing = {}
    for module, where in imported_modules().items():
        dists = {re.sub(r"[-_.]+", "-", d).lower() for d in distributions.get(module, [module])}
        if not dists & set(names):
            missing[module] = sorted(where)
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"
    assert {"torch", "transformers", "tokenizers"} <= {n for n, extras in names.items() if "local" in extras}
    assert "openai" in names and "openai" in names["openai"]
    assert {"aitunes-lib"} <= set(names)  # `all` names the others


def test_requirements_txt_agrees_with_the_package():
    """`make setup` installs requirements.txt; it must hold what `pip install .[all]` would."""
    listed = {re.sub(r"[-_.]+", "-", re.split(r"[<>=!~ \[;#]", line.strip(), maxsplit=1)[0]).lower()
              for line in (ROOT / "requirements.txt").read_text().splitlines() if line.strip() and not line.startswith("#")}
    names = declared()
    wanted = {n for n, extras in names.items() if extras & {"", "local", "openai", "notebooks"}}
    assert wanted <= listed | {"ipython", "nbclient", "nbformat", "ipykernel"} - {"aitunes-lib"}, wanted - listed


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    import shutil

    out, source = tmp_path_factory.mktemp("wheel"), tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):  # a clean copy: the build leaves nothing in the checkout
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "aitunes_lib", source / "aitunes_lib", ignore=shutil.ignore_patterns("__pycache__", "checkpoint.pt"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(out), str(source)],
                   check=True, cwd=out)
    (found,) = out.glob("aitunes_lib-*.whl")
    return found


@pytest.mark.slow
def test_the_wheel_holds_the_backends_and_the_base_model(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for member in ("aitunes_lib/backends/local/__init__.py", "aitunes_lib/backends/local/training.py",
                   "aitunes_lib/backends/openai_backend/__init__.py", "aitunes_lib/cli/__init__.py",
                   "aitunes_lib/models/folk-tiny/model.safetensors", "aitunes_lib/models/folk-tiny/tokenizer.json",
                   "aitunes_lib/models/folk-tiny/config.json"):
        assert member in names, member
    assert not any(n.endswith(("checkpoint.pt", ".pyc")) for n in names)
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert 'Provides-Extra: local' in metadata and re.search(r"Requires-Dist: torch.*extra == \"local\"", metadata)


@pytest.mark.slow
def test_the_wheel_installed_in_a_fresh_environment_generates(wheel, tmp_path):
    """A fresh virtual environment gets the wheel alone; its dependencies come from this one's
    site-packages (a path entry, so this checkout's editable install is not seen). Run from
    elsewhere, it imports the installed copy and samples from the packaged base model."""
    env = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    python = env / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(wheel)], check=True)
    script = (
        "import aitunes_lib, sys\n"
        "from aitunes_lib.backends.local import BASE_CHECKPOINT, LocalBackend\n"
        "from aitunes_lib.generate import GenerateConfig, Request, generate\n"
        "assert BASE_CHECKPOINT.is_dir(), BASE_CHECKPOINT\n"
        "songs = generate(LocalBackend(BASE_CHECKPOINT), 'song', Request('Harbour Lights', 'The Lanterns'), GenerateConfig(n=2, seed=1))\n"
        "from aitunes_lib import workbook\n"
        "print(aitunes_lib.__file__, len(songs), sum(not s.violations and bool(s.body.strip()) for s in songs), workbook.out_dir())\n"
    )
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "AITUNES_OUT")}
    done = subprocess.run([str(python), "-c", script], capture_output=True, text=True, cwd=tmp_path, env=clean)
    assert done.returncode == 0, done.stderr[-2000:]
    where, count, valid, out = done.stdout.split()
    assert Path(where).is_relative_to(site) and int(count) == 2 and int(valid) >= 1, done.stdout
    assert Path(out) == tmp_path / "out"  # not inside site-packages: the working directory (Colab's /content)
