"""Tokenized example sets and their collation into padded batches.

An `ExampleSet` keeps, per item, the token ids and a loss mask (1 on tokens whose
log-probability counts: every token of a document, only the answer of a prompt/answer pair).
Batches carry the items' indices so precomputed per-item reference values can be looked up.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class ExampleSet:
    input_ids: list[list[int]]
    loss_mask: list[list[int]]

    def __len__(self) -> int:
        return len(self.input_ids)


@dataclass
class Batch:
    input_ids: torch.Tensor       # (B, T)
    attention_mask: torch.Tensor  # (B, T)
    loss_mask: torch.Tensor       # (B, T) 1 where the token's log-prob counts
    idx: torch.Tensor             # (B,) item indices in the ExampleSet

    def to(self, device) -> "Batch":
        return Batch(*(t.to(device) for t in (self.input_ids, self.attention_mask,
                                              self.loss_mask)), self.idx)


MAX_DOC_TOKENS = 256     # training documents are cut to this many tokens (BOS and EOS included)


_MEMO: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()   # tokenizer -> (size, memo)
_MEMO_LIMIT = 500_000        # strings remembered per tokenizer before the memo starts over


def encode(tokenizer, texts: list[str]) -> list[list[int]]:
    """Each text's token ids (no special tokens), as `tokenizer.encode` gives them.

    Evaluation tokenizes the same prompts and answers for every model of a run (and each
    prompt once per candidate answer), so ids are remembered per tokenizer and strings not
    seen before are encoded in one batched call. The memo starts over if the tokenizer's
    vocabulary changes (added tokens)."""
    if not texts:
        return []
    try:
        held = _MEMO.get(tokenizer)
    except TypeError:                          # not weak-referenceable: encode without a memo
        return [list(x) for x in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    size = len(tokenizer)
    if held is None or held[0] != size or len(held[1]) > _MEMO_LIMIT:
        held = _MEMO[tokenizer] = (size, {})
    memo = held[1]
    new = list(dict.fromkeys(t for t in texts if t not in memo))
    if new:
        for text, ids in zip(new, tokenizer(new, add_special_tokens=False)["input_ids"]):
            memo[text] = tuple(ids)
    return [list(memo[t]) for t in texts]


def documents(tokenizer, texts: list[str], max_len: int = MAX_DOC_TOKENS) -> ExampleSet:
    """Each text as BOS + tokens + EOS (truncated to `max_len`), every token counted."""
    ids = [[tokenizer.bos_token_id] + x[: max_len - 2] + [tokenizer.eos_token_id]
           for x in encode(tokenizer, texts)]
    return ExampleSet(ids, [[0] + [1] * (len(x) - 1) for x in ids])


def prompt_answers(tokenizer, prompts: list[str], answers: list[str], max_len: int,
                   eos: bool = True, mask: str = "prefix") -> ExampleSet:
    """BOS + prompt + answer (+ EOS); only the answer tokens (and EOS) are counted.

    The answer is tokenized in context (`prompt + answer`), so a byte-level BPE merges the
    leading space exactly as it would in running text. mask "prefix": the answer is what
    follows the common prefix with the prompt's own tokens; "length": what follows as many
    positions as the prompt alone has tokens (open-unlearning's convention, which also
    masks an answer token that a trailing prompt space merged into).
    """
    ids, masks = [], []
    encoded = encode(tokenizer, [*prompts, *(p + a for p, a in zip(prompts, answers))])
    for p, full in zip(encoded[:len(prompts)], encoded[len(prompts):]):
        n_prompt = len(p) if mask == "length" else _common_prefix(p, full)
        seq = [tokenizer.bos_token_id] + full + ([tokenizer.eos_token_id] if eos else [])
        seq = seq[-max_len:]
        n_answer = len(full) - n_prompt + int(eos)
        ids.append(seq)
        masks.append([0] * (len(seq) - n_answer) + [1] * n_answer)
    return ExampleSet(ids, masks)


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def collate(examples: ExampleSet, idx: list[int], pad_id: int, left_pad: bool = False) -> Batch:
    rows = [examples.input_ids[i] for i in idx]
    masks = [examples.loss_mask[i] for i in idx]
    width = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    loss_mask = torch.zeros((len(rows), width), dtype=torch.float32)
    for b, (row, mask) in enumerate(zip(rows, masks)):
        sl = slice(width - len(row), width) if left_pad else slice(0, len(row))
        input_ids[b, sl] = torch.tensor(row)
        attention[b, sl] = 1
        loss_mask[b, sl] = torch.tensor(mask, dtype=torch.float32)
    return Batch(input_ids, attention, loss_mask, torch.tensor(idx, dtype=torch.long))
