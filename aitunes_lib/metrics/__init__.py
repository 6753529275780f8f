"""Tonality features (Tymoczko), the article's NDM ranking, and the checks it lacked.

One concern a module; every name is also here, as `metrics.rank`, `metrics.FEATURES`, …:

- `notes`: note arrays (`note_array`, `NoteEvents`, `note_events`, `grid`, `pc_mask`), `VARIANTS`;
- `tonality`: the five tonality features CMM, LM, CENT, CONS and HC, one song or many at once
  (`features`, `features_batch`, `FEATURES`, …); its docstring states the article's quirks;
- `distance`: NDM (`ndm`) and the training statistics it needs (`training_stats`,
  `save_stats`, `load_stats`, the checked tables `stats_table` and `realism_table`, `ARTICLE_STATS`);
- `rhythm`: whether the bars add up to the meter (`rhythm_validity`);
- `novelty`: copies of the training songs and repeats of its own bars (`TrainingBars`,
  `repetition`);
- `fit`: the melody against its chords and its prefix (`chord_fit`, `continuation`,
  `key_profile`, `best_key`);
- `song_level`: what a listener hears of a whole song, and how typical it is of real songs
  (`song_features`, `song_form`, `form_of_bars`, `realism`, `realism_reference`);
- `distributions`: kernel densities and their overlap (`kde`, `overlap_area`,
  `compare_distributions`);
- `sequences`: what a musician hears in order: music-theory rates of the harmony and the
  phrases (`theory_rates`, `RATES`, `coherence`) and the bags a sequence judge classifies
  (`sequence_tokens`);
- `ranking`: every feature and check of a candidate (`evaluate`), and candidates best first
  (`rank`, by `listener` when the model's likelihood is known).

Functions take note arrays, a `NoteEvents`, a `Song` or ABC text and return floats; a feature
that is undefined for a song (no notes, one note, no chord symbols) is NaN, by design.
"""

from aitunes_lib.metrics.notes import VARIANTS, NoteEvents, grid, note_array, note_events, pc_mask
from aitunes_lib.metrics.notes import _score  # noqa: F401 - tests/test_metrics.py parses with it
from aitunes_lib.metrics.tonality import (
    ARTICLE_FEATURES, FEATURES, HOP, INTERVAL_CLASS_CONSONANCE, LM_HIGH, LM_LOW, SPAN, acoustic_consonance,
    acoustic_consonance_batch, centricity, centricity_batch, conjunct_melodic_motion, conjunct_melodic_motion_batch,
    features, features_batch, harmonic_consistency, harmonic_consistency_batch, limited_macroharmony,
    limited_macroharmony_batch, set_class,
)
from aitunes_lib.metrics.tonality import _set_classes  # noqa: F401 - benchmarks/bench_metrics.py warms it up
from aitunes_lib.metrics.distance import (
    ARTICLE_STATS, StatsError, format_stats, load_stats, ndm, realism_table, save_stats, stats_table, training_stats,
)
from aitunes_lib.metrics.rhythm import rhythm_validity
from aitunes_lib.metrics.novelty import TrainingBars, repetition
from aitunes_lib.metrics.fit import KK_MAJOR, KK_MINOR, best_key, chord_fit, continuation, key_profile
from aitunes_lib.metrics.song_level import (
    BINARY_FEATURES, MAJOR_SCALE, SONG_FEATURES, form_of_bars, realism, realism_reference, song_features, song_form,
)
from aitunes_lib.metrics.distributions import compare_distributions, kde, overlap_area
from aitunes_lib.metrics.sequences import RATES, coherence, sequence_tokens, theory_rates
from aitunes_lib.metrics.ranking import evaluate, listener, rank
