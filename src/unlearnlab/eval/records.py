"""The one place evaluation runs the model: per-item records for the metrics.

For each question item (eval/items.py) the record holds the item itself (gold answers, the
injected wrong value, alternatives, perturbed and paraphrased answers) and the model's outputs,
with prompts made by the task's `PromptFormat`:
  - `prediction`: the greedy answer (batched generation, left padding, cut at a stop string);
  - `scores`: for each candidate answer, [summed log-prob, number of tokens] of the answer
    tokens given the prompt (teacher-forced, batched, sequences grouped by length);
  - `gold_hits`: per token of the gold answer, whether it is the model's argmax there.
`text_records` does the same for whole texts (forget, held-out, retain documents or pairs):
token log-probs and the statistics perplexity and membership-inference scores need.
Metrics (eval/metrics.py, eval/mia.py) are pure functions of these records.
"""

from __future__ import annotations

import zlib
from dataclasses import asdict

import torch

from unlearnlab.eval.items import EvalItem, candidates
from unlearnlab.eval.kv_cache import filled_cache
from unlearnlab.eval.shared_prefix import score_groups, shared_length, tree_ok
from unlearnlab.models.loading import autocast
from unlearnlab.texts import PromptFormat, Text, tokenize
from unlearnlab.train.batches import collate, prompt_answers
from unlearnlab.train.forward import forward, takes


@torch.no_grad()
def make_records(model, tokenizer, items: list[EvalItem], fmt: PromptFormat, batch_size: int,
                 max_new_tokens: int, precision: str = "fp32", scored: bool = True,
                 generate_batch_size: int = 0) -> list[dict]:
    """Per item: the item, the greedy answer, every candidate's [summed log-prob, n tokens]
    under the question (and the gold answer's under the paraphrased question), and
    `gold_hits`: per gold-answer token, 1 where the model's argmax is that token.
    `scored=False`: the greedy answers only (scores and hits left empty), for curves of
    metrics that read nothing else. Generation runs `generate_batch_size` prompts at a time
    (0: `batch_size`): long generations gain from wide batches, scoring from narrow ones."""
    model.eval()
    prompts = [fmt.prompt(item.question, tokenizer, item.context) for item in items]
    with autocast(model.device, precision):
        predictions = greedy_answers(model, tokenizer, prompts, generate_batch_size or batch_size,
                                     max_new_tokens, list(fmt.stop))
        pairs = [(i, prompts[i], cand) for i, item in enumerate(items)
                 for cand in candidates(item)] if scored else []
        para = [(i, fmt.prompt(item.paraphrased_question, tokenizer, item.context), item.answers[0])
                for i, item in enumerate(items) if item.paraphrased_question] if scored else []
        scores = answer_logprobs(model, tokenizer, [p for _, p, _ in pairs + para],
                                 [fmt.answer_sep + c for _, _, c in pairs + para], batch_size,
                                 eos=fmt.score_eos, mask=fmt.mask)
    per_item: list[dict] = [{} for _ in items]
    per_para: list[dict] = [{} for _ in items]
    hits: list[list[int]] = [[] for _ in items]
    for (i, _, cand), (lp, n, ok) in zip(pairs, scores):
        per_item[i][cand] = [lp, n]
        if cand == items[i].answers[0]:
            hits[i] = ok
    for (i, _, cand), (lp, n, _) in zip(para, scores[len(pairs):]):
        per_para[i][cand] = [lp, n]
    return [{**asdict(item), "prediction": pred, "scores": sc, "paraphrase_scores": ps,
             "gold_hits": h, "eos_scored": fmt.score_eos}
            for item, pred, sc, ps, h in zip(items, predictions, per_item, per_para, hits)]


def _by_length(lengths: list[int], batch_size: int) -> list[list[int]]:
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[s:s + batch_size] for s in range(0, len(order), batch_size)]


def answer_logprobs(model, tokenizer, prompts: list[str], answers: list[str],
                    batch_size: int, eos: bool = False,
                    mask: str = "prefix") -> list[tuple[float, int, list[int]]]:
    """(summed log-prob, n tokens, argmax hits) of each answer after its prompt
    (teacher-forced; the answer string is appended as given, then EOS if `eos`). Answers of
    one prompt share its encoding (eval/shared_prefix.py: one row per prompt, at most
    `batch_size` prompts and 4 x `batch_size` answers a batch) where the model allows; the
    rest run whole, batched by length."""
    examples = prompt_answers(tokenizer, prompts, answers, max_len=1024, eos=eos, mask=mask)
    out: list = [(0.0, 0, [])] * len(prompts)
    by_prompt: dict[str, list[int]] = {}
    for i, prompt in enumerate(prompts):
        by_prompt.setdefault(prompt, []).append(i)
    shared, whole = [], []
    tree = len(by_prompt) < len(prompts) and tree_ok(model)
    for members in by_prompt.values():
        length = shared_length(examples, members) if tree and len(members) > 1 else 0
        if length > 0:
            shared.append((length, members))
        else:
            whole += members
    # similar row lengths together: less padding
    shared.sort(key=lambda g: g[0] + sum(len(examples.input_ids[m]) - g[0] for m in g[1]))
    batch: list = []
    for group in shared:
        if batch and (len(batch) >= batch_size or
                      sum(len(m) for _, m in batch) + len(group[1]) > 4 * batch_size):
            score_groups(model, examples, batch, tokenizer.pad_token_id, out)
            batch = []
        batch.append(group)
    if batch:
        score_groups(model, examples, batch, tokenizer.pad_token_id, out)
    for chunk in _by_length([len(examples.input_ids[i]) for i in whole], batch_size):
        idx = [whole[k] for k in chunk]
        fw = forward(model, collate(examples, idx, tokenizer.pad_token_id).to(model.device),
                     argmax=True, counted_only=True)
        for row, (i, lp, n) in enumerate(zip(idx, fw.seq_logps.tolist(), fw.n_tokens.tolist())):
            keep = fw.mask[row].bool()
            out[i] = (lp, int(n), fw.hits[row][keep].int().tolist())
    return out


def greedy_answers(model, tokenizer, prompts: list[str], batch_size: int,
                   max_new_tokens: int, stop: list[str] = ("\n",)) -> list[str]:
    """Greedy continuation of each prompt (stopping at EOS or a stop string), cut at the
    first stop string and stripped."""
    examples = prompt_answers(tokenizer, prompts, [""] * len(prompts), max_len=1024, eos=False)
    out = [""] * len(prompts)
    for idx in _by_length([len(x) for x in examples.input_ids], batch_size):
        batch = collate(examples, idx, tokenizer.pad_token_id, left_pad=True).to(model.device)
        generated = model.generate(
            input_ids=batch.input_ids, attention_mask=batch.attention_mask,
            max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
            pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
            **_cpu_cache(model, batch.input_ids.shape[1] + max_new_tokens),
            **({"stop_strings": list(stop), "tokenizer": tokenizer} if stop else {}))
        new = generated[:, batch.input_ids.shape[1]:]
        for i, row in zip(idx, new):
            text = tokenizer.decode(row, skip_special_tokens=True)
            for s in stop:
                text = text.split(s)[0]
            out[i] = text.strip()
    return out


def _cpu_cache(model, capacity: int) -> dict:
    """On CPU, a preallocated KV cache read only as far as it is filled (eval/kv_cache.py):
    the default cache copies every layer's keys and values at each step, the static one
    reads its whole length at each step. The same greedy tokens up to float near-ties."""
    if model.device.type != "cpu" or not getattr(model, "_can_compile_fullgraph", False):
        return {}
    name = "cache" if takes(type(model), "cache") else "past_key_values"   # renamed in 5.x
    return {name: filled_cache(model, capacity)}


@torch.no_grad()
def text_records(model, tokenizer, texts: list[Text], fmt: PromptFormat, group: str,
                 batch_size: int, precision: str = "fp32") -> list[dict]:
    """Per text (a document: BOS + text + EOS, every token after BOS counted; a pair: only
    its answer and EOS counted, after the formatted prompt):
      - `token_logps`: log p(x_t | x_<t) of each token;
      - `mu`, `sigma`: mean and standard deviation of log p(v | x_<t) under the model's own
        next-token distribution at each position (Min-K%++ normalises by them);
      - `zlib_bytes`: size of the zlib-compressed UTF-8 text (the zlib MIA reference);
      - `argmax_ok`: 1 where the model's most likely next token is the actual one.
    """
    model.eval()
    examples = tokenize(tokenizer, texts, fmt, max_len=1024)
    out: list[dict] = [{} for _ in texts]
    with autocast(model.device, precision):
        for idx in _by_length([len(x) for x in examples.input_ids], batch_size):
            fw = forward(model, collate(examples, idx, tokenizer.pad_token_id).to(model.device),
                         keep_logits=True, argmax=True)
            logp = torch.log_softmax(fw.logits, dim=-1)                     # (B, T-1, V)
            mu = (logp.exp() * logp).sum(-1)                                # (B, T-1)
            var = (logp.exp() * (logp - mu[..., None]).pow(2)).sum(-1)   # stable, >= 0
            sigma = var.sqrt()
            hits = fw.hits.int()                                            # (B, T-1)
            for row, i in enumerate(idx):
                keep = fw.mask[row].bool()
                out[i] = {"group": group, "index": i,
                          "token_logps": fw.token_logps[row][keep].tolist(),
                          "mu": mu[row][keep].tolist(), "sigma": sigma[row][keep].tolist(),
                          "argmax_ok": hits[row][keep].tolist(),
                          "zlib_bytes": _zlib_bytes(texts[i])}
    return out


def _zlib_bytes(text: Text) -> int:
    """zlib-compressed size of the scored text (a pair: its answer), the zlib MIA reference."""
    scored = text if isinstance(text, str) else text.answer
    return len(zlib.compress(scored.encode("utf-8")))
