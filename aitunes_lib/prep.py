"""Filtering, transposition to C, repeat expansion and ABC writing, as a parallel cached batch.

Each song is handled by `process_file`, which never raises: a song that cannot be used
comes back with `status="skipped"` and its reason, and the batch goes on.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from aitunes_lib import files, prep_cache
from aitunes_lib.abc import transposition
from aitunes_lib.song import Song

CACHE_VERSION = "prep-3"  # bump when the writer's output changes

@dataclasses.dataclass(frozen=True)
class PrepConfig:
    """What to keep and how to write it."""

    meters: tuple[str, ...] = ("4/4", "2/2")
    modes: tuple[str, ...] = ("major",)  # add "minor" to keep minor songs, written in A minor
    transpose: bool = True
    bars_per_line: int = 4
    dedupe: bool = True
    workers: int | None = None  # processes; None = every core, 1 = serial in this process
    cache_dir: Path | None = None  # None = the user cache; use `cache=False` to switch it off
    cache: bool = True
    verify: bool = False  # re-parse each written song and compare it with the source


    def fingerprint(self) -> str:
        """What the cached output depends on: these settings and the code that computes it.

        The code is hashed (the writer, the unfolding, the metrics), so an edit to any of them
        can never leave stale features or ABC in the cache.
        """
        return json.dumps([CACHE_VERSION, code_digest(), self.meters, self.modes, self.transpose, self.bars_per_line, self.verify])


@functools.lru_cache(maxsize=1)
def code_digest() -> str:
    """A digest of the modules whose code shapes a cached record (`CACHED_BY`)."""
    import hashlib

    digest = hashlib.sha256()
    for name in CACHED_BY:
        path = Path(__file__).parent / name
        for module in sorted(path.rglob("*.py")) if path.is_dir() else [path]:  # a package: each of its modules
            digest.update(module.read_bytes())
    return digest.hexdigest()[:16]


CACHED_BY = ("prep.py", "abc", "chords.py", "repeats.py", "data.py", "metrics")


@dataclasses.dataclass
class PrepResult:
    """The batch's outcome: kept songs, an index of every file, and the report's numbers."""

    songs: list[Song]
    index: pd.DataFrame
    report: dict[str, Any]


def tonic_by_the_music(score: "music21.stream.Score") -> "music21.key.Key | None":
    """The major key a song (already moved to C by its key signature) is really in, when the
    music says it is not C: it ends on a major chord and a melody note of the same root, and
    music21's key analysis finds that key's signature (the key or its relative minor). None when
    the music agrees with C.

    About 15 OpenEWLD songs end on F over F after the move to C: their key signature is a
    fourth off the music's key (what the song sounds in).
    """
    import music21 as m21

    from aitunes_lib.abc import chord_pitch_classes

    part = score.parts[0]
    harmonies = [h for h in part.recurse().getElementsByClass(m21.harmony.Harmony) if not isinstance(h, m21.harmony.NoChord)]
    notes = [n for n in part.recurse().notes if n.isNote]
    if not harmonies or not notes:
        return None
    last, tones = harmonies[-1], chord_pitch_classes(harmonies[-1]) or frozenset()
    root = last.root().pitchClass if last.root() is not None else None
    if root in (None, 0) or notes[-1].pitch.pitchClass != root or (root + 4) % 12 not in tones:
        return None
    analysed = score.analyze("key")  # the same signature as that root's major key (it, or its relative minor)
    key = m21.key.Key(last.root().name)
    return key if analysed.sharps == key.sharps else None


def process_file(path: str | Path, prep: PrepConfig = PrepConfig()) -> dict[str, Any]:
    """Parse, filter, transpose, expand and write one lead sheet; returns a JSON-able record."""
    import music21 as m21

    from aitunes_lib import abc, chords, data, metrics, repeats

    record: dict[str, Any] = {"path": str(path), "status": "skipped", "reason": None}
    try:
        if not Path(path).is_file():
            raise FileNotFoundError(f"no such file: {path}")
        score = m21.converter.parse(str(path), forceSource=True)
    except Exception as error:  # noqa: BLE001 - any parser failure is a reason, not a crash
        record["reason"] = f"unreadable: {type(error).__name__}: {_first_line(error)}"
        return record
    if not isinstance(score, m21.stream.Score) or not score.parts:
        record["reason"] = "no parts: the file holds no musical part"
        return record
    record.update(data.song_facts(score, path))
    part = score.parts[0]
    if not part.recurse().notes:
        record["reason"] = "no notes"
        return record
    if record["meter"] not in prep.meters:
        record["reason"] = f"meter {record['meter']} not in {'/'.join(prep.meters)}" if record["meter"] else "no time signature"
        return record
    if record["mode"] not in prep.modes:
        record["reason"] = f"mode {record['mode']} not in {'/'.join(prep.modes)}" if record["mode"] else "no key"
        return record
    try:
        # the note arrays of the source melody, before transposition (as the article took them)
        notes = {v: metrics.note_array(score, v) for v in metrics.VARIANTS}
        keys = list(part.recurse().getElementsByClass(m21.key.Key))
        if prep.transpose:
            interval = transposition(keys[-1])
            record["transposed_by"] = interval.directedName
            score.transpose(interval, inPlace=True)
            part = score.parts[0]
            moved = tonic_by_the_music(score)
            if moved:  # the key signature disagrees with the music: transpose by the music
                record["key_by_music"] = moved.tonic.name
                score.transpose(transposition(moved), inPlace=True)
                part = score.parts[0]
                for signature in list(part.recurse().getElementsByClass(m21.key.KeySignature)):
                    signature.activeSite.replace(signature, m21.key.Key("C"))
        record["respelled_chords"] = chords.respell(score)  # as written, sounded and scored alike
        expanded = repeats.playing_order(part)
        record["expanded_bars"] = len(expanded)
        record["irregular_bars"] = irregular_bars(part)
        # the same, by index in the written (unfolded) song: what abc2midi may warn about
        record["irregular_written"] = [
            i for i, m in enumerate(expanded) if m.duration.quarterLength != m.barDuration.quarterLength
        ]
        new_keys = list(part.recurse().getElementsByClass(m21.key.KeySignature))
        body = abc.part_body(expanded, prep.bars_per_line, key=new_keys[0] if new_keys else None)
        record["abc_key"] = abc.key_text(new_keys[-1] if new_keys else None)
        events = metrics.note_events(expanded)
        record["note_arrays"] = {v: a.tolist() for v, a in notes.items()}
        record["events"] = events.to_json()
        record["features"] = {v: metrics.features(notes[v], events, v) for v in metrics.VARIANTS}
        written = abc.parse_abc(abc.abc_header("", "") + body)  # the song as a candidate is read
        record["song_features"] = metrics.song_features(written)
        record["form"] = metrics.song_form(written)
    except Exception as error:  # noqa: BLE001
        record["reason"] = f"conversion error: {type(error).__name__}: {_first_line(error)}"
        return record
    record.update(status="kept", body=body)
    if prep.verify:
        record["round_trip"] = verify_round_trip(expanded, record)
    return record


def verify_round_trip(expanded: "list[music21.stream.Measure]", record: dict[str, Any]) -> list[str]:  # noqa: F821
    """Differences between the source (transposed, repeats expanded) and music21's parse of
    the written ABC; empty when the conversion is faithful."""
    from aitunes_lib import abc

    try:
        text = abc.abc_header(record["title"], record["composer"], record["meter"], record["abc_key"]) + record["body"]
        parsed = abc.parse_abc(text)
    except Exception as error:  # noqa: BLE001
        return [f"the written ABC does not parse: {type(error).__name__}: {_first_line(error)}"]
    return abc.differences(abc.signature(expanded), abc.signature(parsed))


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else ""


def irregular_bars(part: "music21.stream.Part") -> list[dict[str, Any]]:  # noqa: F821
    """Bars of the source whose length differs from the meter: pickups and lead-sheet errors.

    They are written as they are, never "fixed"; the report lists them.
    """
    import music21 as m21

    measures = list(part.getElementsByClass(m21.stream.Measure))
    found = []
    for i, measure in enumerate(measures):
        length, full = measure.duration.quarterLength, measure.barDuration.quarterLength
        if length != full:
            where = "first" if i == 0 else "last" if i == len(measures) - 1 else "inner"
            found.append({"bar": measure.number, "quarters": float(length), "meter_quarters": float(full), "where": where})
    return found


# --------------------------------------------------------------------------- the batch


def run_batch(paths: Iterable[str | Path], prep: PrepConfig = PrepConfig(), progress: bool = True) -> list[dict[str, Any]]:
    """`process_file` over many files: cached by content hash, spread over a process pool."""
    from tqdm.auto import tqdm

    paths = [Path(p) for p in paths]
    records: list[dict[str, Any] | None] = [None] * len(paths)
    cache = prep_cache.folder(prep.cache_dir) if prep.cache else None
    save = cache is not None and prep_cache.writable(cache)  # known before the parse, not after it
    keys = [prep_cache.key(p, prep.fingerprint()) for p in paths] if cache else []
    todo = []
    for i, path in enumerate(paths):
        hit = cache / f"{keys[i]}.json" if cache else None
        cached = prep_cache.read(hit) if hit is not None else None
        if cached is not None:
            records[i] = {**cached, "path": str(path)}
        else:
            todo.append(i)
    workers = prep.workers or os.cpu_count() or 1
    with tqdm(total=len(paths), initial=len(paths) - len(todo), desc="prep", unit="song", disable=not progress) as bar:
        if workers == 1 or len(todo) <= 1:
            results: Iterable[dict[str, Any]] = (process_file(paths[i], prep) for i in todo)
            pool = None
        else:
            pool = ProcessPoolExecutor(max_workers=min(workers, len(todo)))
            results = pool.map(process_file, [paths[i] for i in todo], [prep] * len(todo), chunksize=2)
        try:
            for i, record in zip(todo, results):
                records[i] = record
                if save and paths[i].is_file():
                    save = prep_cache.save(cache / f"{keys[i]}.json", record)
                bar.update(1)
        finally:
            if pool is not None:
                pool.shutdown()
    return [r for r in records if r is not None]


def prepare(root: str | Path, prep: PrepConfig = PrepConfig(), progress: bool = True) -> PrepResult:
    """Prepare every song under an OpenEWLD folder (or a list of files): songs, index, report."""
    from aitunes_lib import data

    started = time.perf_counter()
    root = Path(root)
    paths = data.song_paths(root) if root.is_dir() else [root]
    records = run_batch(paths, prep, progress)
    songs: list[Song] = []
    seen: dict[str, str] = {}
    for record in records:
        if record["status"] != "kept":
            continue
        if prep.dedupe and record["body"] in seen:
            record.update(status="skipped", reason=f"duplicate of {seen[record['body']]}")
            continue
        seen[record["body"]] = record["path"]
        songs.append(
            Song(
                title=record["title"], composer=record["composer"], body=record["body"],
                meter=record["meter"], key=record["abc_key"], source=record["path"],
                scores=record["features"]["article"],
            )
        )
    index = pd.DataFrame.from_records(records)
    for column in data.INDEX_COLUMNS + ["status", "reason"]:
        if column not in index:
            index[column] = None
    report = batch_report(records, prep, time.perf_counter() - started)
    return PrepResult(songs, index, report)


def prepare_to(out: str | Path, root: str | Path | None = None, prep: PrepConfig = PrepConfig(), progress: bool = True) -> PrepResult:
    """`prepare`, then write what the later stages read into `out`: `songs.jsonl` (the article's
    prompt/completion pairs), `songs_chat.jsonl`, `tasks.jsonl` and `tasks_chat.jsonl` (song,
    phrase and chord records mixed), `index.csv`, `report.json` and `stats.json`."""
    from aitunes_lib import data, dataset, metrics, tasks

    result = prepare(data.find_openewld(root), prep, progress)
    if not result.songs:
        reasons = Counter(str(r).split(":")[0] for r in result.index.get("reason", []) if r)
        common = "; ".join(f"{reason} ({count})" for reason, count in reasons.most_common(3)) or "no files"
        raise data.DatasetError(f"no usable song among {len(result.index)} files (most common reasons: {common}); "
                                "check the folder, or keep more meters and modes (--minor)")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    records = [dataset.seed_record(song) for song in result.songs]
    dataset.write_jsonl(records, out / "songs.jsonl")
    dataset.write_jsonl([dataset.chat_record(song) for song in result.songs], out / "songs_chat.jsonl")
    mixed = tasks.training_records(records)  # song, phrase and chord records, mixed
    dataset.write_jsonl(mixed, out / "tasks.jsonl")
    dataset.write_jsonl([dataset.chat_record(r) for r in mixed], out / "tasks_chat.jsonl")
    files.write_csv(out / "index.csv",  # titles from anyone's MusicXML: a formula in one is written as text
                    result.index.drop(columns=["body", "note_arrays", "events", "features", "song_features"], errors="ignore"))
    result.report["validation"] = dataset.validation_report(records, show=False)
    if prep.verify:
        result.report["round_trip_failures"] = {
            row.path: row.round_trip for row in result.index.itertuples() if isinstance(row.round_trip, list) and row.round_trip
        }
    files.write_json(out / "report.json", result.report)
    kept = result.index[result.index["status"] == "kept"]
    stats: dict[str, Any] = {v: metrics.training_stats(f[v] for f in kept["features"]) for v in metrics.VARIANTS}
    stats["realism"] = metrics.realism_reference(kept["song_features"])  # what real songs sound like, per feature
    stats["forms"] = dict(Counter(kept["form"]).most_common())  # the songs' forms (`decoding/tables.json` keeps the usable ones)
    metrics.save_stats(stats, out / "stats.json")
    return result


def batch_report(records: list[dict[str, Any]], prep: PrepConfig, seconds: float) -> dict[str, Any]:
    """The counts of a batch: songs, in meter, eligible, converted, kept, the reasons and the skipped."""
    in_meter = [r for r in records if r.get("meter") in prep.meters]
    eligible = [r for r in in_meter if r.get("mode") in prep.modes]
    converted = [r for r in eligible if r.get("body")]
    kept = [r for r in records if r["status"] == "kept"]
    reasons = Counter(_category(r["reason"]) for r in records)
    return {
        "songs": len(records),
        "in_meter": len(in_meter),
        "eligible": len(eligible),
        "converted": len(converted),
        "kept": len(kept),
        "meters": list(prep.meters),
        "modes": list(prep.modes),
        "reasons": dict(sorted(reasons.items())),
        "skipped": [{"path": r["path"], "reason": r["reason"]} for r in records if r["status"] != "kept"],
        "irregular_bars": {r["path"]: r["irregular_bars"] for r in kept if r.get("irregular_bars")},
        "key_by_music": {r["path"]: r["key_by_music"] for r in kept if r.get("key_by_music")},
        "seconds": round(seconds, 2),
    }


def _category(reason: str | None) -> str:
    if reason is None:
        return "kept"
    return "duplicate" if reason.startswith("duplicate of") else reason.split(":")[0]


def summary(report: dict[str, Any]) -> str:
    """The report's counts in a few lines, next to the article's figures."""
    inner = sum(1 for bars in report["irregular_bars"].values() for b in bars if b["where"] == "inner")
    lines = [
        f"songs read              {report['songs']:4d}   (article: 502)",
        f"in {'/'.join(report['meters']):<20} {report['in_meter']:4d}   (article: 381)",
        f"of those in {'/'.join(report['modes']):<11} {report['eligible']:4d}   (article: 379)",
        f"converted to ABC        {report['converted']:4d}   (article: 374, xml2abc lost 5)",
        f"training pairs          {report['kept']:4d}",
        f"songs with irregular bars in the source: {len(report['irregular_bars'])} ({inner} inner bars, kept as written)",
        f"songs moved to C by their music, not their key signature: {len(report.get('key_by_music', {}))}",
        "skipped: " + ", ".join(f"{k} {v}" for k, v in report["reasons"].items() if k != "kept"),
        f"time {report['seconds']:.1f} s",
    ]
    return "\n".join(lines)


def build_index(root: str | Path | None = None, **prep_options: Any) -> pd.DataFrame:
    """A `DataFrame` of every song (one row each), from the same cached parse as `prepare`."""
    from aitunes_lib import data

    result = prepare(data.find_openewld(root), PrepConfig(**prep_options))
    return result.index[data.INDEX_COLUMNS + ["status", "reason"]]
