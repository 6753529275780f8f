"""The hard rules: what may come next. Each narrows the mask the one before it left.

- `bars`: every bar adds up (the pickup may be short); `chart`: a chord chart followed exactly;
- for a planned song (`processor.SongRules`, in this order): `form` (returning sections copied,
  the ending after the last bar), `pickup`, `chords` (one chord symbol per onset, a few a bar),
  `ties` (a tie joins two notes of one pitch; inside a bar only toward a length the real songs
  tie there, `Tables.tied_lengths`), `tuplets` (three notes of one length, quarters or
  eighths, as real triplets), `breath` (a bar that closes a phrase strikes its last
  note as real ones do, `Tables.breaths`), `cadence` (the last bar lands on its note) and
  `budget` (the rest of the form still fits the tokens left). Each is built from
  `(rules, tracker, shape)`, as the levers are.
"""
