"""Sampling from the OpenAI API: a fine-tuned model in the article's format, or a chat model shown
real songs (few-shot), whose bars are then repaired."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Mapping

from aitunes_lib import dataset
from aitunes_lib.backends.base import STOP, as_completion
from aitunes_lib.backends.openai_backend.client import Client, OpenAIBackendError

if TYPE_CHECKING:
    from aitunes_lib.decoding.settings import GenerateConfig


class Sampling(Client):
    """The part of `OpenAIBackend` that generates: `sample`, its few-shot mode, and `chat`."""

    examples: list[Mapping[str, str]] | None
    repairs: Any
    _live: set[str]

    # ----------------------------------------------------------------------- generation

    def sample(self, prompt: str, n: int, config: "GenerateConfig", constraint: Any = None) -> list[str]:
        """n completions in one request, in the article's format (` … $ <end>`).

        The API cannot constrain decoding: a `constraint` is not enforced, and a warning says so.
        """
        if n < 1:
            return []
        if not self.model:
            raise OpenAIBackendError("no model: fine-tune first, or call use(model_id)")
        asked = " ".join(x for x in (config.song.meter if config.song.meter != "4/4" else "",
                                     "minor" if config.song.mode == "minor" else "") if x)
        if asked:  # before any request: these models learnt the article's 4/4 major songs, and nothing here keeps their bars
            raise OpenAIBackendError(f"the OpenAI models here write the article's 4/4 songs in C major; for {asked}, use the "
                                     "local backend (its base learnt every meter and mode, and its decoder keeps each bar)")
        if self.examples:
            return self._few_shot(prompt, n, config, constraint)
        if constraint is not None:
            warnings.warn(f"the OpenAI API cannot enforce {constraint.describe()}; each candidate is checked instead "
                          "(see Song.violations)", stacklevel=2)
        options: dict[str, Any] = {"model": self.model, "n": n, "temperature": config.temperature, "top_p": config.top_p,
                                   "max_tokens": config.max_tokens, **({"seed": config.seed} if config.seed is not None else {})}
        if self.settings.chat or self.model.startswith("ft:gpt"):
            messages = [{"role": "system", "content": dataset.CHAT_SYSTEM}, {"role": "user", "content": prompt}]
            texts = self.chat(messages, stop=[STOP.strip()], **options)
        else:
            reply = self._call("generate", self.client.completions.create, prompt=prompt, stop=STOP, **options)
            texts = self._texts("generate", reply, chat=False)
        return [as_completion(text) for text in texts]

    def _few_shot(self, prompt: str, n: int, config: "GenerateConfig", constraint: Any) -> list[str]:
        """n songs from a chat model shown `self.examples`: one request per form asked (in words),
        bars that do not add up repaired, unusable replies asked for once more."""
        from aitunes_lib import fewshot, tasks

        if tasks.task_of(prompt) != "song":
            raise OpenAIBackendError(f"few-shot writes whole songs; the {tasks.task_of(prompt)!r} task needs a model "
                                     "trained on it (the local backend, or a fine-tuned model)")
        if self.model not in self._live:
            self.require_live(self.model)  # a shut-down model is refused before the first request
            self._live.add(self.model)
        if constraint is not None:
            warnings.warn(f"the OpenAI API cannot enforce {constraint.describe()}; few-shot asks for it in words, "
                          "repairs bars that do not add up, and checks each candidate (see Song.violations)", stacklevel=3)
        cadence = bool(getattr(getattr(constraint, "shape", None), "cadence", False))
        plans = getattr(constraint, "plans", ())
        wanted = [(plan.sections, plan.tail, plan.volta, plan.ending) if plan is not None else (None, 0, 0, "C:C")
                  for plan in (plans[i % len(plans)] if plans else None for i in range(n))]
        options: dict[str, Any] = {"temperature": config.temperature, "top_p": config.top_p, "stop": [STOP.strip()],
                                   "max_tokens": max(config.max_tokens, 1500), **({"seed": config.seed} if config.seed is not None else {})}
        repairs = fewshot.Repairs(candidates=n)

        def ask(shape: tuple[str | None, int, int, str], count: int) -> list[str]:
            replies = self.chat(fewshot.messages(self.examples or [], prompt, shape[0], cadence, *shape[1:]), n=count, **options)
            return [fewshot.clean_reply(text) for text in replies]

        results: list[str | None] = [None] * n

        def fill(indices: list[int]) -> None:  # one request per distinct form among them, in order
            for shape in dict.fromkeys(wanted[i] for i in indices):
                slots = [i for i in indices if wanted[i] == shape]
                for slot, text in zip(slots, ask(shape, len(slots))):
                    results[slot] = text

        fill(list(range(n)))
        retry = [i for i, text in enumerate(results) if not fewshot.usable(text or "")]
        if retry:
            repairs.resampled = len(retry)
            fill(retry)  # the second answer stands, usable or not: it is checked like any
        completions = []
        for text in results:
            fixed, changed = fewshot.repair_bars(text or STOP)
            repairs.repaired += bool(changed)
            repairs.bars += changed
            repairs.other_meter += tasks.own_meter(fixed)[0] is not None
            completions.append(fixed)
        self.repairs = repairs
        self.report(str(repairs))
        return completions

    def chat(self, messages: list[dict[str, str]], **options: Any) -> list[str]:
        """The replies of a chat model to messages (n of them with `n=`); errors as `OpenAIBackendError`."""
        options.setdefault("model", self.model)
        reply = self._call("chat", self.client.chat.completions.create, messages=messages, **options)
        return self._texts("chat", reply, chat=True)
