"""The shape DESIGN.md promises, checked on the code itself: imports point one way, no module
uses another's private names, and only `config` reads the environment."""

from __future__ import annotations

import ast

import pytest

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


GRAPH = {name: set(imports_of(name)) for name in MODULES}


def test_imports_point_one_way():
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 1:
            cycle = path[path.index(name):] + [name]
            pytest.fail("import cycle: " + " → ".join(cycle))
        if state.get(name) == 2:
            return
        state[name] = 1
        for target in sorted(GRAPH[name]):
            visit(target, path + [name])
        state[name] = 2
        order.append(name)

    for name in sorted(GRAPH):
        visit(name, [])
    # the stages as DESIGN.md draws them: an upstream module never reaches a downstream one
    def reaches(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for target in GRAPH[todo.pop()] - seen:
                seen.add(target)
                todo.append(target)
        return seen

    for upstream, downstream in [("config", "data"), ("data", "prep"), ("abc", "tasks"), ("meter", "tasks"),
                                 ("tasks", "generate"), ("backends.local", "generate"), ("generate", "studio"),
                                 ("generate", "cli"), ("metrics", "studio")]:
        assert downstream not in reaches(upstream), f"{upstream} reaches {downstream}"
    for stage in ("data", "prep", "abc", "tasks", "meter", "dataset", "metrics", "generate", "backends.local"):
        assert not reaches(stage) & {"studio", "cli", "workbook"}, f"{stage} reaches a front end"


def test_no_module_uses_another_modules_private_names():
    offenders = []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text())
        aliases = {a.asname or a.name.split(".")[-1] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
                   and n.module.startswith("aitunes_lib") for a in n.names}
        for target, names in imports_of(name).items():
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
