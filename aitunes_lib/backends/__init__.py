"""Model backends: one protocol (`base.Backend`), a local PyTorch backend and an OpenAI one."""
