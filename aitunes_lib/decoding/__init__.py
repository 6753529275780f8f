"""Decoding: what the local model may write next, and what it is nudged toward.

Read it in this order:

- `vocab`: what each token is (`TokenKind`), read once from the tokenizer;
- `tables` (+ `tables.json`): the real songs' figures, measured by `python -m aitunes_lib tables`;
- `plan`: `SongShape`, the user's settings, and `SongPlan`, one candidate's drawn choices (`draw_plans`);
- `settings`: `GenerateConfig`, how to sample, with one `song: SongShape`;
- `masks/`: the hard rules, one a file (`bars` first: every bar adds up);
- `state`: a candidate's `SongState`, kept up to date once per token by `Tracker`;
- `levers/`: the soft preferences, one a file, each with its formula;
- `processor`: `SongRules` (masks AND-ed, levers summed) and the one `LogitsProcessor`;
- `constraints`: what a task asks for (`WholeBars`, `FollowChart`, `SongForm`) and how it is built.
"""
