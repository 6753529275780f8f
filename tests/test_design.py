"""The shape DESIGN.md promises, checked on the code itself: imports point one way (import-linter's
layers contract in pyproject.toml), no module uses another's private names, and only `config`
reads the environment."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "aitunes_lib"
MODULES = {str(p.relative_to(PACKAGE).with_suffix("")).replace("/", ".").removesuffix(".__init__"): p
           for p in PACKAGE.rglob("*.py")}


def _runtime_nodes(tree: ast.AST):
    """Every node outside `if TYPE_CHECKING:` blocks (those imports never run)."""
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for n in ast.walk(node)}
    return [n for n in ast.walk(tree) if id(n) not in skip]


def imports_of(name: str) -> dict[str, set[str]]:
    """The package's modules that `name` imports at run time (lazily too), with the names it takes."""
    found: dict[str, set[str]] = {}
    package = name.rsplit(".", 1)[0] if "." in name else ""
    for node in _runtime_nodes(ast.parse(MODULES[name].read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            module = node.module.removeprefix("aitunes_lib.").removeprefix("aitunes_lib")
            if node.level:
                module = ".".join(filter(None, [package, node.module]))
            elif not node.module.startswith("aitunes_lib"):
                continue
            for alias in node.names:
                target = f"{module}.{alias.name}".strip(".")
                if target in MODULES:
                    found.setdefault(target, set())
                elif module in MODULES:
                    found.setdefault(module, set()).add(alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("aitunes_lib."):
                    found.setdefault(alias.name.removeprefix("aitunes_lib."), set())
    found.pop(name, None)
    found.pop("", None)
    return found


def test_imports_point_one_way():
    """DESIGN.md's layers, written as an import-linter contract in pyproject.toml: `lint-imports`
    sees every import (lazy and TYPE_CHECKING ones too), and a layer never imports one above it,
    so no import cycle crosses layers either."""
    program = Path(sys.executable).with_name("lint-imports")
    assert program.is_file(), f"{program}: missing; `pip install -r requirements-test.txt` installs import-linter"
    run = subprocess.run([str(program), "--no-cache", "--no-logo"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert " 0 broken" in run.stdout, run.stdout[-2000:]


def test_no_module_uses_another_modules_private_names():
    offenders = []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text())
        aliases = {a.asname or a.name.split(".")[-1] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
                   and n.module.startswith("aitunes_lib") for a in n.names}
        # a package's modules share its private names (abc/, metrics/: one concern a module)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for target, names in imports_of(name).items():
            if package and target.startswith(package + "."):
                continue
            offenders += [f"{name} takes {target}.{n}" for n in names if n.startswith("_")]
        for node in ast.walk(tree):  # module.attribute, for a module imported by name
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases \
                    and node.attr.startswith("_") and not node.attr.startswith("__") and node.value.id in MODULES:
                offenders.append(f"{name} uses {node.value.id}.{node.attr}")
    assert offenders == []


def test_only_config_reads_the_environment():
    """In code, not in strings: workbook.py writes the notebooks' setup cell, which reads one variable in Colab."""
    def reads(path) -> bool:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb") \
                    and isinstance(node.value, ast.Name) and node.value.id == "os":
                return True
            if isinstance(node, ast.ImportFrom) and node.module == "os" and {a.name for a in node.names} & {"environ", "getenv"}:
                return True
        return False

    assert [name for name, path in MODULES.items() if name != "config" and reads(path)] == []
