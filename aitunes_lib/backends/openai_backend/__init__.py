"""The article's workflow on today's OpenAI API: upload, fine-tune, watch, generate.

Written against the v1-style client of the `openai` SDK. The job id goes to a small JSON
state file next to the training file as soon as the job exists, so a restarted notebook
watches the same job instead of paying for a second one. The API key never goes there.

One concern a module; every public name is also here, as `openai_backend.OpenAIBackend`, …:

- `settings`: the model facts (`ModelFacts`, `MODELS`, `FACTS_DATE`, `PRICES`, `CHAT_MODELS`,
  `FINE_TUNING_NOTICE`), the defaults (`DEFAULT_BASE_MODEL`, `DEFAULT_CHAT_MODEL`), `base_of`,
  `replacement_for`, `replacements_for`, and `OpenAIConfig`;
- `transport`: the HTTP client given to the SDK (`bounded_client`): a reply too big or too slow is refused as it arrives;
- `client`: `OpenAIBackendError` and `FineTuneFailed`, `check_base_url`, the job-event reporter,
  and `Client`: every API call's errors in one line (any key hidden, a reply that is not OpenAI's
  named), a model's shutdown date, `use`;
- `fine_tuning`: `state_path` (the job state file) and `FineTuning`: the cost, the upload, the
  job, watching and cancelling it;
- `sampling`: `Sampling`: `sample` (a fine-tuned model, or few-shot from real songs) and `chat`;
- `backend`: `OpenAIBackend`, made of those parts, with its settings, key and client.
"""

from aitunes_lib.backends.openai_backend.settings import (
    CHAT_MODELS, DEFAULT_BASE_MODEL, DEFAULT_CHAT_MODEL, FACTS_DATE, FACTS_SOURCE, FINE_TUNING_NOTICE, MODELS, PRICES,
    ModelFacts, OpenAIConfig, base_of, replacement_for, replacements_for,
)
from aitunes_lib.backends.openai_backend.client import Client, FineTuneFailed, OpenAIBackendError, check_base_url
from aitunes_lib.backends.openai_backend.fine_tuning import FineTuning, state_path
from aitunes_lib.backends.openai_backend.sampling import Sampling
from aitunes_lib.backends.openai_backend.backend import OpenAIBackend
