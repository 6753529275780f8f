"""The tasks one model learns, one object each, in a registry.

Every record starts with the article's header; a marker says which task follows:

```
song:   X: 1 $ T: … $ C: … $ <song>                               →  the whole song
phrase: X: 1 $ T: … $ C: … $ <phrase> `C`c2 e2 | … |              →  the bars after the first k
chords: X: 1 $ T: … $ C: … $ <chords> `C`x2 `G7`x2 | … | $ <song>  →  a melody over those chords
```

A task knows its marker, builds its training records from a song's record, builds a
`Prompt` from checked user input (with the decoding constraint it needs), and checks a
candidate for violations. Front ends (CLI, studio) list `names()`; the tokenizer makes every
`markers()` entry one token. Adding a task is one `Task` subclass and one `register` call.

The chord chart uses ABC's invisible rest `x` to place each chord symbol at its onset.
"""

# base: the registry and what every task shares; charts: the user's input as data; inputs: its
# checks; song, phrase, chords: one task each, registered here in this order.

from aitunes_lib.tasks.base import (  # noqa: F401
    BAR, CHART_BARS, METERS, PHRASE_BARS, PHRASE_MIN_BARS, REGISTRY, Prompt, Request, Task, TaskInputError, bar_ends, get,
    markers, names, own_meter, register, task_of, training_records, unregister,
)
from aitunes_lib.tasks.charts import ChordChart, Phrase  # noqa: F401
from aitunes_lib.tasks.chords import ChordsTask
from aitunes_lib.tasks.inputs import chart_input, chart_violations, known_chord, phrase_input  # noqa: F401
from aitunes_lib.tasks.phrase import PhraseTask
from aitunes_lib.tasks.song import SongTask

SONG, PHRASE, CHORDS = register(SongTask()), register(PhraseTask()), register(ChordsTask())
