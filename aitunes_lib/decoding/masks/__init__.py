"""The hard rules: what may come next. Each narrows the mask the one before it left.

- `bars`: every bar adds up (the pickup may be short); `chart`: a chord chart followed exactly;
- for a planned song (`processor.SongRules`, in this order): `form` (returning sections copied,
  the ending after the last bar), `pickup`, `chords` (one chord symbol per onset, a few a bar),
  `ties` (a tie joins two notes of one pitch), `cadence` (the last bar lands on its note) and
  `budget` (the rest of the form still fits the tokens left).
"""
