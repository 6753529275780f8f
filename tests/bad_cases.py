"""The project's own table of bad inputs, run through the real CLI: the tests check each outcome
(`test_bad_input*.py`) and `benchmarks/bench_bad_input.py` prints them as a table with times.

A `Case` names what a user tried, how to set it up in an empty folder, the command line, and
what the one-line answer must say. Each area's cases live beside its tests, in a module-level
`CASES` list; `ALL_CASES` gathers them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Case:
    """One bad input: `argv` after `python -m aitunes_lib`, with `{tmp}` standing for the case's folder."""

    name: str
    argv: tuple[str, ...]
    says: str  # a piece of the one-line answer (case-insensitive)
    setup: Callable[[Path], None] | None = None  # writes the files the case needs into its folder
    env: dict[str, str] = field(default_factory=dict)  # environment variables for the run ({tmp} allowed)
    exit_code: int | None = 2  # None: any code; 0 when the input is accepted with a warning
    stdin: str = ""


@dataclass(frozen=True)
class Outcome:
    case: Case
    code: int
    output: str
    seconds: float

    @property
    def ok(self) -> bool:
        lines = [line for line in self.output.splitlines() if line.strip()]
        traceback = any(line.startswith("Traceback") for line in lines)
        code_ok = self.case.exit_code is None or self.code == self.case.exit_code
        return code_ok and not traceback and self.case.says.lower() in self.output.lower()

    @property
    def answer(self) -> str:
        """The last non-empty line: what the user reads."""
        lines = [line for line in self.output.splitlines() if line.strip()]
        return lines[-1] if lines else ""


def run_case(case: Case, folder: Path, timeout: float = 300) -> Outcome:
    """Run one case through `python -m aitunes_lib` in a fresh process, in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    if case.setup is not None:
        case.setup(folder)
    argv = [arg.replace("{tmp}", str(folder)) for arg in case.argv]
    env = {**os.environ, "PYTHONPATH": str(ROOT), **{k: v.replace("{tmp}", str(folder)) for k, v in case.env.items()}}
    env.pop("OPENAI_API_KEY", None) if "OPENAI_API_KEY" not in case.env else None
    started = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "aitunes_lib", *argv], capture_output=True, text=True, cwd=folder,
                         env=env, input=case.stdin, timeout=timeout)
    return Outcome(case, run.returncode, run.stdout + run.stderr, time.perf_counter() - started)


def all_cases() -> list[Case]:
    """Every area's `CASES`, in a stable order."""
    import importlib

    gathered: list[Case] = []
    for path in sorted(Path(__file__).parent.glob("test_bad_input*.py")):
        module = importlib.import_module(path.stem)
        gathered += getattr(module, "CASES", [])
    return gathered
