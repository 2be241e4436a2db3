"""Loading and saving any Hugging Face causal LM from a local folder."""

from __future__ import annotations

from pathlib import Path

import torch

from unlearnlab.errors import UserError


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("device: 'cuda' was asked for but no CUDA device is available; valid: auto, cpu")
    return torch.device(name)


def load_causal_lm(path: str | Path, device: torch.device):
    """Model and tokenizer from a local folder; a folder that does not load is a `UserError`."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()      # a per-tensor "Loading weights" bar is only noise here
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"model: {path} is not a folder; give 'builtin' or a local Hugging Face model folder")
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    except (OSError, ValueError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"model: {path} does not load as a Hugging Face causal LM ({first})") from None
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if tokenizer.bos_token_id is None:
        tokenizer.bos_token = tokenizer.eos_token
    return model.to(device).eval(), tokenizer


def save_causal_lm(model, tokenizer, folder: Path) -> None:
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def autocast(device: torch.device, precision: str):
    """bf16 autocast when asked (CUDA, or CPU, where torch runs matmuls in bfloat16 too);
    a no-op context for fp32."""
    enabled = precision == "bf16"
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=enabled)
