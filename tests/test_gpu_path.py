"""The GPU path with open pretrained models, run here on CPU with small models the tests build
and save (no hub access): full fine-tuning and LoRA (peft) from a foreign base, GPT-2 and
Llama (SmolLM-class) architectures, then generation from the saved folder."""

from __future__ import annotations

import json

import pytest
import torch

from aitunes_lib.backends import local
from aitunes_lib.generate import GenerateConfig, Request, SongShape, generate
from safetensors.torch import load_file

QUICK = dict(block_size=64, batch_size=2, max_steps=6, warmup_steps=1, eval_every=3, save_every=1000, learning_rate=5e-3)


def hub_like(kind: str, folder):
    """A small random model saved as a hub model is (config + safetensors, no tokenizer of ours)."""
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    if kind == "gpt2":
        model = GPT2LMHeadModel(GPT2Config(vocab_size=300, n_layer=2, n_head=2, n_embd=32, n_positions=128))
    else:
        model = LlamaForCausalLM(LlamaConfig(vocab_size=300, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
                                             hidden_size=32, intermediate_size=64, max_position_embeddings=128))
    model.save_pretrained(folder)
    return folder


@pytest.mark.parametrize("kind, attention, mlp", [("gpt2", "transformer.h.0.attn.c_attn.weight", "transformer.h.0.mlp.c_fc.weight"),
                                                  ("llama", "model.layers.0.self_attn.q_proj.weight", "model.layers.0.mlp.up_proj.weight")])
def test_lora_trains_adapters_and_the_token_table_then_saves_a_plain_model(kind, attention, mlp, few_texts, tmp_path):
    base = hub_like(kind, tmp_path / "base")
    before = load_file(base / "model.safetensors")
    result = local.train(few_texts[:6], tmp_path / "lora", local.TrainConfig(base=str(base), lora_rank=4, **QUICK), progress=False)
    handle = json.loads((tmp_path / "lora" / "handle.json").read_text())["details"]
    assert handle["lora_rank"] == 4 and 0 < handle["trained_parameters"] < handle["parameters"]
    after = load_file(tmp_path / "lora" / "model.safetensors")
    assert not any("lora" in name for name in after), "adapters are merged, the folder holds a plain model"
    assert not torch.equal(before[attention], after[attention])  # the adapted layer moved
    assert torch.equal(before[mlp], after[mlp])  # what LoRA leaves alone stays exactly as the base had it
    assert result.history["val_loss"].notna().any()
    songs = generate(local.LocalBackend(tmp_path / "lora"), "song", Request("Harbour Lights", "The Lanterns"),
                     GenerateConfig(n=2, seed=0, max_tokens=120, song=SongShape(planned=False)))
    assert len(songs) == 2


def test_full_fine_tuning_of_a_small_hub_model_moves_every_layer(few_texts, tmp_path):
    base = hub_like("gpt2", tmp_path / "base")
    before = load_file(base / "model.safetensors")
    local.train(few_texts[:6], tmp_path / "full", local.TrainConfig(base=str(base), **QUICK), progress=False)
    after = load_file(tmp_path / "full" / "model.safetensors")
    assert not torch.equal(before["transformer.h.0.mlp.c_fc.weight"], after["transformer.h.0.mlp.c_fc.weight"])


def test_lora_and_hardware_settings_are_checked():
    with pytest.raises(ValueError, match="lora_rank needs a pretrained base"):
        local.TrainConfig(lora_rank=8)
    with pytest.raises(ValueError, match="lora_rank=-1"):
        local.TrainConfig(base="gpt2", lora_rank=-1)
    assert local.hardware_settings("cpu") == {"device": "cpu", "batch_size": 8}
    assert local.hardware_settings("auto")["device"] == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="choose auto, cpu, gpu"):
        local.hardware_settings("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(local.LocalBackendError, match="sees no GPU"):
            local.hardware_settings("gpu")


def test_the_cli_refuses_lora_without_a_base(tmp_path, capsys):
    from aitunes_lib import cli

    data = tmp_path / "songs.jsonl"
    data.write_text('{"prompt": "X: 1 $ T: a $ C: b $ <song>", "completion": " c4 | $ <end>"}\n')
    assert cli.main(["train", "--data", str(data), "--out", str(tmp_path / "m"), "--base", "none", "--lora", "4"]) == 2
    assert "--lora needs --base" in capsys.readouterr().err
