"""Figures for bad input (issue: bad input never hurts): the project's table of bad inputs run
through the real CLI (case, outcome, time), scoring time against song length, and the peak
memory of training on the largest accepted record.

    python benchmarks/bench_bad_input.py            # all three
    python benchmarks/bench_bad_input.py --table    # the table only (no prep needed)

- table: every `Case` of `tests/test_bad_input*.py` (`tests/bad_cases.py`), each in a fresh
  `python -m aitunes_lib` process in an empty folder: whether the answer is the expected one
  line (no traceback, the right exit code), the line itself, and the seconds it took.

- scoring: `metrics.evaluate` on songs of 32 to 1,000 bars (real OpenEWLD bars laid end to
  end), seconds and seconds per bar; the ratio per bar against the 32-bar song says whether
  the cost is linear (about 1) or grows with length (music21's whole-part parse grew with the
  square: 23 s for 1,000 bars before; then 8.0 s, linear, when music21 still built every chord
  symbol anew and beamed every part it read).
- memory: the peak resident memory of a 5-step training on one record of
  `local.MAX_RECORD_CHARS` characters, against one of a typical song, each in a fresh process.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aitunes_lib import abc, dataset, metrics  # noqa: E402
from aitunes_lib.backends import local  # noqa: E402


def real_bars(count: int) -> list[str]:
    bars: list[str] = []
    for line in (ROOT / "out" / "songs.jsonl").read_text().splitlines():
        bars += [b.strip() for b in abc.decode_body(json.loads(line)["completion"]).replace("\n", " ").split("|") if b.strip()]
        if len(bars) >= count:
            return bars[:count]
    raise SystemExit("out/songs.jsonl is too short: run `python -m aitunes_lib prep --out out`")


def song_of(bars: list[str]) -> str:
    lines = [" | ".join(bars[i:i + 4]) + " |" for i in range(0, len(bars), 4)]
    return abc.abc_header("long", "bench") + "\n".join(lines) + "\n"


TRAIN = """
import resource, sys, warnings
from aitunes_lib.backends import local
texts = local.training_texts(sys.argv[1])
local.train(texts, sys.argv[2], local.TrainConfig(max_steps=5, block_size=128, batch_size=4, eval_every=5, resume=False), progress=False)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_training_mb(completion: str, folder: Path) -> float:
    path = dataset.write_jsonl([{"prompt": abc.seed_prompt(f"Song {i}", "Bench"), "completion": completion} for i in range(2)],
                               folder / "one.jsonl")
    run = subprocess.run([sys.executable, "-c", TRAIN, str(path), str(folder / "model")], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    return int(run.stdout.strip().splitlines()[-1]) / 1024


def table() -> bool:
    """The bad-input table, printed as Markdown; True when every case gives its expected answer."""
    import tempfile

    sys.path.insert(0, str(ROOT / "tests"))
    from bad_cases import all_cases, run_case

    cases = all_cases()
    print(f"bad inputs through the CLI ({len(cases)} cases, a fresh process each)\n")
    print("| case | outcome | exit | seconds | the answer (last line) |\n|---|---|---|---|---|")
    good = 0
    with tempfile.TemporaryDirectory() as tmp:
        for number, case in enumerate(cases):
            try:
                outcome = run_case(case, Path(tmp) / f"case{number}")
            except subprocess.TimeoutExpired:
                print(f"| {case.name} | HANG | – | >300 | |")
                continue
            good += outcome.ok
            answer = outcome.answer.replace("|", "\\|")[:150]
            print(f"| {case.name} | {'as expected' if outcome.ok else 'WRONG'} | {outcome.code} | {outcome.seconds:.1f} | {answer} |")
    print(f"\n{good} of {len(cases)} cases answered as expected")
    return good == len(cases)


def main() -> None:
    answered = table()
    if "--table" not in sys.argv:
        lengths_and_memory()
    raise SystemExit(0 if answered else 1)


def lengths_and_memory() -> None:
    bars = real_bars(1000)
    base = None
    metrics.evaluate(song_of(bars[:32]))  # warm: imports, and each chord name's music21 symbol built once
    print("scoring time against length (metrics.evaluate, one process, warm)")
    for count in (32, 128, 250, 500, 1000):
        text = song_of(bars[:count])
        started = time.perf_counter()
        row = metrics.evaluate(text)
        seconds = time.perf_counter() - started
        per_bar = seconds / count
        base = base or per_bar
        print(f"  {count:5d} bars: {seconds:6.2f} s  {1000 * per_bar:5.1f} ms/bar  ×{per_bar / base:4.2f} per bar vs 32 bars"
              f"  valid={row['valid']}")
    import tempfile

    typical = " " + " | ".join(bars[:32]) + " | $ <end>"
    largest = " " + (" | ".join(bars) + " |")[: local.MAX_RECORD_CHARS - 200] + " $ <end>"
    with tempfile.TemporaryDirectory() as tmp:
        small = peak_training_mb(typical, Path(tmp) / "a")
        big = peak_training_mb(largest, Path(tmp) / "b")
    print(f"peak memory of 5 training steps: a {len(typical):,}-character record {small:,.0f} MB; "
          f"the largest accepted ({len(largest):,} characters) {big:,.0f} MB (×{big / small:.2f})")


if __name__ == "__main__":
    main()
