"""ABC text: written from music21 streams, encoded for training, decoded, and compared back.

One concern a module; every name is also here, as `abc.parse_abc`, `abc.END`, …:

- `grammar`: the one ABC event grammar (`EVENT`, `NOTE`, `CHORD`, the token kinds, `classify`,
  `note_length`, `pitch_class`, …) and the article's markers (`SONG`, `END`, `LINE_BREAK`);
  `AbcError`;
- `bars`: reading bars from text (`iter_bars`, `read_bars`, `bar_lengths`, `opens_with_pickup`);
- `headers`: ABC headers (`abc_header`, `split_header`, `complete_header`, `key_problem`) and `clean_text`;
- `encoding`: the article's encoding of the training text (`seed_prompt`, `encode_body`,
  `decode_body`, `Completion` (a sampler's text with its bar ends), `decode_seed`, `split_prompt`, …);
- `writer`: music21 → ABC (`part_body`, `score_to_abc`, `measures`, `transposition`, …);
- `parsing`: ABC → music21 (`parse_abc`, `limits_problem`, `unknown_chords`);
- `compare`: what must survive a conversion (`timeline`, `signature`, `differences`,
  `abc2midi_check`);
- `harmony`: a chord symbol's pitch classes (`chord_pitch_classes`).

The writer replaces the article's external `xml2abc -u -d 4` call: repeats unfolded,
`L:1/4`, chord symbols in quotes at their exact onsets, lyrics and annotations dropped.
"""

from aitunes_lib.abc.grammar import (
    BAR, BARLINE, CHORD, CHORD_KIND, END, END_KIND, EVENT, FORBIDDEN, GRACE_CLOSE, GRACE_OPEN, LINE_BREAK, LINEBREAK, NOTE,
    NOTE_KIND, SONG, SPACE, TIE, TUPLET, TUPLET_KIND, AbcError, classify, note_length, pitch_class, pitch_number,
    tuplet_ratio,
)
from aitunes_lib.abc.bars import bar_lengths, bar_onsets, iter_bars, opens_with_pickup, read_bars
from aitunes_lib.abc.headers import (
    FIELD, KEY_EXAMPLES, MAX_NAME_CHARS, abc_header, clean_text, complete_header, key_problem, split_header,
)
from aitunes_lib.abc.encoding import (
    PROMPT, Completion, decode_body, decode_seed, encode_body, header_prompt, parse_prompt, seed_prompt, split_prompt,
)
from aitunes_lib.abc.writer import (
    BARS_PER_LINE, DEFAULT_UNIT, SEMITONES_TO_C, chord_symbol_text, duration_text, key_text, measures, part_body,
    pitch_text, score_to_abc, transposition,
)
from aitunes_lib.abc.keys import KEYS, in_key
from aitunes_lib.abc.parsing import (
    CHUNK_BARS, LOW_MELODY_MIDI, MAX_ABC_CHARS, MAX_BARS, MAX_NOTE_QUARTERS, METER_DENOMINATORS, METER_NUMERATORS,
    UNIT_DENOMINATORS, WHOLE_PARSE_BARS, limits_problem, parse_abc, unknown_chords,
)
from aitunes_lib.abc.parsing import _parse_whole  # noqa: F401 - tests/test_bad_input.py's reference parse
from aitunes_lib.abc.compare import Abc2MidiResult, Signature, abc2midi_check, differences, signature, song_length, timeline
from aitunes_lib.abc.harmony import chord_pitch_classes
