"""`LocalBackend`: fine-tune, then sample n candidates in one batch with a task's constraint
enforced token by token; and the held-out loss of whole songs."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import pandas as pd

from aitunes_lib.abc import BARLINE, Completion
from aitunes_lib.backends.base import ModelHandle, as_completion
from aitunes_lib.backends.local.data import training_texts
from aitunes_lib.backends.local.folders import is_model_folder, load_model, load_tokenizer, read_config
from aitunes_lib.backends.local.model import context_length
from aitunes_lib.backends.local.settings import LocalBackendError, TrainConfig, pick_device
from aitunes_lib.backends.local.training import loss_of, train
from aitunes_lib.tokenizer import END, PAD, AbcTokenizer

if TYPE_CHECKING:
    from aitunes_lib.decoding.settings import GenerateConfig


class LocalBackend:
    """Fine-tune and sample with a local model; follows `backends.base.Backend`.

    It enforces every constraint a task names (`decoding.constraints`: `WholeBars`, `FollowChart`, `SongForm`)
    while decoding: each one builds its rules over this model's vocabulary. With `progress`, each
    batch of candidates shows a bar (tqdm: candidates finished, tokens written) while it is written.
    """

    name = "local"

    def __init__(self, model: str | Path | None = None, device: str | None = None, progress: bool = False):
        self.device = device
        self.progress = progress
        self.folder: Path | None = None
        self._model = None
        self._tokenizer: AbcTokenizer | None = None
        self._rules = None
        self.history: pd.DataFrame | None = None
        if model is not None:
            self.use(model)

    def fine_tune(self, train_jsonl: str | Path, config: TrainConfig | None = None, out: str | Path | None = None,
                  progress: bool = True, callback: Callable[[dict[str, Any]], None] | None = None) -> ModelHandle:
        """Train on an article-format JSONL file; the model goes to `out` (default: beside the data)."""
        config = config or TrainConfig()
        out = Path(out) if out is not None else Path(train_jsonl).parent / "local_model"
        result = train(training_texts(train_jsonl), out, config, progress=progress, callback=callback)
        self.use(out)
        self.history = result.history
        return ModelHandle.load(out / "handle.json")

    def use(self, model: str | Path | ModelHandle) -> None:
        """Generate with a trained model folder (or the handle of one)."""
        folder = Path(model.model if isinstance(model, ModelHandle) else model)
        if folder.is_file():
            raise FileNotFoundError(f"{folder} is a file, not a model folder: give the folder that holds config.json")
        if not is_model_folder(folder):
            missing = [name for name in ("config.json", "tokenizer.json") if not (folder / name).is_file()]
            raise FileNotFoundError(f"{folder}: not a local model folder ({' and '.join(missing)} missing); train one first")
        read_config(folder)  # no code, a sane shape: refused now, before any work, not when the weights load
        self.folder, self._model, self._rules = folder, None, None
        self._tokenizer = load_tokenizer(folder)
        history = folder / "history.csv"
        try:
            self.history = pd.read_csv(history) if history.is_file() and history.stat().st_size > 1 else None
        except (ValueError, OSError):  # the loss curve is a nicety: a damaged one is left out
            self.history = None

    @property
    def tasks(self) -> list[str] | None:
        """The tasks its training text held (`song`, `phrase`, `chords`); None when its folder does not say."""
        try:
            learnt = ModelHandle.load(self.folder / "handle.json").details.get("tasks") if self.folder else None
        except (OSError, ValueError, TypeError, AttributeError):
            return None
        return list(learnt) if isinstance(learnt, list) else None

    @property
    def tokenizer(self) -> AbcTokenizer:
        if self._tokenizer is None:
            raise LocalBackendError("no model chosen: call fine_tune(...) or use(folder) first")
        return self._tokenizer

    @property
    def model(self):
        """The torch model, loaded on first use."""
        if self._model is None:
            if self.folder is None:
                raise LocalBackendError("no model chosen: call fine_tune(...) or use(folder) first")
            self._model = load_model(self.folder).to(pick_device(self.device)).eval()
            # rows that finished early are padded while the others go on; they are cut at <end>, so
            # transformers' "input_ids may be padded" warning does not apply (generate gets pad_token_id itself)
            self._model.config.pad_token_id = None
        return self._model

    @property
    def rules(self):
        from aitunes_lib.decoding.masks.bars import MeterRules

        if self._rules is None:
            tokenizer = self.tokenizer
            self._rules = MeterRules([tokenizer.decode([i]) for i in range(tokenizer.vocab_size)])
        return self._rules

    def sample(self, prompt: str, n: int, config: "GenerateConfig", constraint: Any = None) -> list[Completion]:
        """n completions in the article's format (` … $ <end>`), sampled in one batch, with the
        constraint (if any) enforced token by token. A constraint that `slides` (a song form)
        may run past the model's window: the candidates still writing go on with the last half
        of the window in view, their rules' states carried over, up to `config.max_tokens`."""
        import torch
        from transformers import LogitsProcessorList

        from aitunes_lib.decoding.processor import make_processor

        if n < 0:
            raise ValueError("n must be 0 or more")
        if n == 0:
            return []
        model, tokenizer = self.model, self.tokenizer
        prompt_ids = tokenizer.encode(prompt)
        window = context_length(model.config)
        room = window - len(prompt_ids)
        if room < 16:
            raise LocalBackendError(f"the prompt takes {len(prompt_ids)} tokens and this model reads at most {window}: "
                                    "the title or the task's input is too long; shorten it")
        slides = bool(getattr(constraint, "slides", False))  # a song form may run past the window: it slides on
        total = config.max_tokens if slides else min(config.max_tokens, room)
        rules, states = None, None
        if constraint is not None:
            try:
                rules, start = constraint.build(self.rules, tokenizer.encode, total)
            except ValueError as error:
                raise LocalBackendError(f"cannot follow {constraint.describe()} (the model reads {window} tokens): {error}") from error
            states = [copy.deepcopy(start[i % len(start)] if isinstance(start, (list, tuple)) else start) for i in range(n)]
        if config.seed is not None:
            torch.manual_seed(config.seed)
        device = next(model.parameters()).device
        end, pad = tokenizer.token_id(END), tokenizer.token_id(PAD)
        sample = config.temperature > 0
        written: list[list[int]] = [[] for _ in range(n)]  # each candidate's tokens after the prompt
        bar = _writing_bar(n) if self.progress else None
        context = [list(prompt_ids) for _ in range(n)]  # what the model reads next: the prompt, then the last tokens in view
        active = list(range(n))
        while active:
            steps = min(total - len(written[active[0]]), window - len(context[active[0]]))
            inputs = torch.tensor([context[i] for i in active], device=device)  # (rows, L): still writing, all as long
            processors = LogitsProcessorList()
            if rules is not None:
                processors.append(make_processor(rules, inputs.shape[1], [states[i] for i in active]))
            if bar is not None:  # after the rules: `carried` below is the first processor
                processors.append(_progress(bar, n - len(active), len(written[active[0]]), inputs.shape[1], {end, pad}))
            with torch.no_grad():
                output = model.generate(
                    inputs, attention_mask=torch.ones_like(inputs), do_sample=sample, max_new_tokens=steps,
                    logits_processor=processors, eos_token_id=end, pad_token_id=pad,
                    **({"temperature": config.temperature, "top_p": config.top_p, "top_k": 0} if sample else {}),
                )  # (rows, L + new)
            carried = processors[0] if rules is not None else None
            still = []
            for row, i in enumerate(active):
                new = output[row, inputs.shape[1]:].tolist()
                written[i] += new
                if carried is not None:  # the rules' state, past the last token too (the processor never read it)
                    states[i] = carried.states[row] if carried.states else states[i]
                    for token in output[row, carried.seen:].tolist():
                        rules.advance(states[i], token)
                if end not in new and pad not in new and len(written[i]) < total and slides:
                    context[i] = (context[i] + new)[-(window // 2):]  # the window slides: the last half stays in view
                    still.append(i)
            active = still
            if bar is not None:
                bar.update(n - len(active) - bar.n)
        if bar is not None:
            bar.close()
        return [self._completion(ids) for ids in written]

    def _completion(self, ids: list[int]) -> Completion:
        """The text of one candidate's tokens, with where its bars end (from the tokens' kinds)."""
        tokenizer = self.tokenizer
        end, pad = tokenizer.token_id(END), tokenizer.token_id(PAD)
        finished = end in ids
        ids = [t for t in ids[: ids.index(end)] if t != pad] if finished else [t for t in ids if t != pad]
        text = tokenizer.decode(ids)
        if not finished and "|" in text:  # out of tokens: keep whole bars only
            text = text[: text.rindex("|") + 1]
        completion = as_completion(text)
        return Completion(completion, bar_ends=self._bar_ends(ids, text, completion))

    def _bar_ends(self, ids: list[int], text: str, completion: str) -> tuple[int, ...] | None:
        """The offset just after each bar line in `completion`, counted over the tokens (their
        kinds say which is a bar line, their texts how long each is); None when the token texts
        do not add up to the text (a token decoded from bytes), so that readers fall back to the text."""
        vocab, at, ends = self.rules.vocab, 0, []
        for token in ids:
            at += len(vocab.texts[token])
            if vocab.kinds[token] == BARLINE:
                ends.append(at)
        shift = (len(completion) - len(completion.lstrip())) - (len(text) - len(text.lstrip()))
        ends = [e + shift for e in ends if e + shift <= len(completion.rstrip())]
        return tuple(ends) if all(completion[e - 1] == "|" for e in ends) else None

    def loss(self, texts: Sequence[str]) -> dict[str, float]:
        """Held-out loss of whole songs: nats and bits per token, and bits per character."""
        import torch

        model, tokenizer = self.model, self.tokenizer
        device = next(model.parameters()).device
        total, tokens, chars = 0.0, 0, 0
        limit = context_length(model.config)
        with torch.no_grad():
            for text in texts:
                ids = tokenizer.encode(text)[:limit]
                window = torch.tensor([ids], device=device)
                total += loss_of(model, window[:, :-1], window[:, 1:]).item() * (len(ids) - 1)
                tokens += len(ids) - 1
                chars += len(tokenizer.decode(ids[1:]))
        return {"nats_per_token": total / tokens, "bits_per_token": total / tokens / math.log(2),
                "bits_per_char": total / chars / math.log(2), "tokens": tokens, "chars": chars}

    def likelihood(self, prompt: str, completions: Sequence[str]) -> list[float]:
        """Each completion's mean log-probability per token after the prompt, under the model
        alone (nats; no rule or lever): how idiomatic the model finds its own song. A song longer
        than the window is read in windows that overlap by half, every token once."""
        import torch

        model, tokenizer = self.model, self.tokenizer
        device = next(model.parameters()).device
        window = context_length(model.config)
        head = tokenizer.encode(prompt)
        out = []
        with torch.no_grad():
            for completion in completions:
                ids = head + tokenizer.encode(completion)
                total, counted, start = 0.0, 0, len(head)  # score tokens start … len(ids) - 1
                while start < len(ids):
                    lo = max(0, min(start - 1, len(ids) - window))  # a window that reads token start with what precedes it
                    chunk = torch.tensor([ids[lo: lo + window]], device=device)
                    logits = model(chunk).logits[0, :-1].float()  # (L - 1, vocab): token t + 1 given tokens ≤ t
                    logp = torch.log_softmax(logits, -1).gather(1, chunk[0, 1:, None])[:, 0]
                    first = start - lo - 1  # the row that predicts token `start`
                    total += float(logp[first:].sum())
                    counted += len(logp) - first
                    start = lo + window
                out.append(total / counted if counted else math.nan)
        return out


def _writing_bar(n: int):
    """The bar of one batch of candidates (tqdm.auto: a widget in Jupyter, text elsewhere)."""
    from tqdm.auto import tqdm

    return tqdm(total=n, desc=f"writing {n} candidate{'s' if n != 1 else ''}", unit="song")


def _progress(bar, done: int, written: int, start: int, stops: set[int]):
    """A logits processor that changes no score and moves `bar` (at most twice a second): the
    candidates finished (`done` before this window, plus the rows whose last token ends them) and
    the tokens written so far (`written` before this window)."""
    import time

    from transformers import LogitsProcessor

    class Progress(LogitsProcessor):
        shown = 0.0

        def __call__(self, input_ids, scores):  # input_ids: (rows, L), the window so far
            if time.monotonic() - self.shown > 0.5:
                self.shown = time.monotonic()
                finished = sum(t in stops for t in input_ids[:, -1].tolist()) if input_ids.shape[1] > start else 0
                bar.n = done + finished
                bar.set_postfix(tokens=written + input_ids.shape[1] - start)
            return scores

    return Progress()
