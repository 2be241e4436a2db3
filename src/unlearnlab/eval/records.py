"""The one place evaluation runs the model: per-item records for the metrics.

For each question item the record holds the item itself (gold answers, the injected wrong
value, a random alternative, the candidate pool) and the model's outputs:
  - `prediction`: the greedy answer (batched generation, left padding, cut at a newline);
  - `scores`: for each candidate answer, [summed log-prob, number of tokens] of the answer
    tokens given the prompt (teacher-forced, batched, sequences grouped by length).
`text_records` does the same for whole documents (forget, held-out, retain texts): token
log-probs and the statistics perplexity and membership-inference scores need.
Metrics (eval/metrics.py, eval/mia.py) are pure functions of these records.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import asdict, dataclass

import torch

from unlearnlab.models.loading import autocast
from unlearnlab.train.batches import collate, documents, prompt_answers
from unlearnlab.train.forward import forward
from unlearnlab.world.corpora import qa_prompt


@dataclass(frozen=True)
class EvalItem:
    entity: str
    relation: str
    question: str
    answers: tuple[str, ...]
    group: str                        # "target" or "utility"
    corrupted: str | None = None      # the injected wrong value (target items)
    random_alt: str | None = None     # an alternative that is neither the truth nor the wrong value
    pool: tuple[str, ...] = ()        # candidates ranked by the probe (empty: no probe)
    perturbed: tuple[str, ...] = ()   # wrong answers for the truth ratio (TOFU's perturbed answers)
    paraphrased_question: str | None = None   # the question in other words, when known


N_PERTURBED = 5
STOP_STRINGS = ["\n"]


def make_items(facts: dict, entities: list[str], group: str, pools: dict[str, list[str]],
               wrong: dict[str, dict[str, str]] | None, seed: int, probe: bool,
               paraphrases: dict[str, dict[str, str]] | None = None) -> list[EvalItem]:
    """Question items for `entities`. Target items carry the injected value; with `probe`,
    a random alternative and the relation's pool; every item gets up to 5 perturbed answers
    (other pool values, neither the truth nor the injected value)."""
    rng = random.Random(seed)
    items = []
    for entity in entities:
        for relation, fact in facts[entity].items():
            answers = tuple(fact["answers"])
            corrupted = wrong[entity][relation] if wrong else None
            others = [v for v in pools[relation] if v not in answers and v != corrupted]
            alt = rng.choice(others) if probe and others else None
            perturbed = tuple(rng.sample(others, min(N_PERTURBED, len(others))))
            para = (paraphrases or {}).get(entity, {}).get(relation)
            items.append(EvalItem(entity, relation, fact["question"], answers, group, corrupted,
                                  alt, tuple(pools[relation]) if probe else (), perturbed, para))
    return items


def candidates(item: EvalItem) -> list[str]:
    extra = [item.corrupted, item.random_alt] if item.pool else []
    return list(dict.fromkeys([item.answers[0], *item.pool, *item.perturbed,
                               *[c for c in extra if c]]))


@torch.no_grad()
def make_records(model, tokenizer, items: list[EvalItem], batch_size: int, max_new_tokens: int,
                 precision: str = "fp32") -> list[dict]:
    model.eval()
    prompts = [qa_prompt(item.question) for item in items]
    with autocast(model.device, precision):
        predictions = greedy_answers(model, tokenizer, prompts, batch_size, max_new_tokens)
        pairs = [(i, prompts[i], cand) for i, item in enumerate(items) for cand in candidates(item)]
        para = [(i, qa_prompt(item.paraphrased_question), item.answers[0])
                for i, item in enumerate(items) if item.paraphrased_question]
        scores = answer_logprobs(model, tokenizer, [p for _, p, _ in pairs + para],
                                 [c for _, _, c in pairs + para], batch_size)
    per_item: list[dict] = [{} for _ in items]
    per_para: list[dict] = [{} for _ in items]
    for (i, _, cand), score in zip(pairs, scores):
        per_item[i][cand] = score
    for (i, _, cand), score in zip(para, scores[len(pairs):]):
        per_para[i][cand] = score
    return [{**asdict(item), "prediction": pred, "scores": sc, "paraphrase_scores": ps}
            for item, pred, sc, ps in zip(items, predictions, per_item, per_para)]


def _by_length(lengths: list[int], batch_size: int) -> list[list[int]]:
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[s:s + batch_size] for s in range(0, len(order), batch_size)]


def answer_logprobs(model, tokenizer, prompts: list[str], answers: list[str],
                    batch_size: int) -> list[list[float]]:
    """[summed log-prob, n tokens] of ' ' + answer after each prompt (teacher-forced)."""
    examples = prompt_answers(tokenizer, prompts, [" " + a for a in answers], max_len=1024, eos=False)
    out: list[list[float]] = [[0.0, 0]] * len(prompts)
    for idx in _by_length([len(x) for x in examples.input_ids], batch_size):
        fw = forward(model, collate(examples, idx, tokenizer.pad_token_id).to(model.device))
        for i, lp, n in zip(idx, fw.seq_logps.tolist(), fw.n_tokens.tolist()):
            out[i] = [lp, int(n)]
    return out


def greedy_answers(model, tokenizer, prompts: list[str], batch_size: int,
                   max_new_tokens: int) -> list[str]:
    """Greedy continuation of each prompt (stopping at EOS or a newline), cut at the first
    newline and stripped."""
    examples = prompt_answers(tokenizer, prompts, [""] * len(prompts), max_len=1024, eos=False)
    out = [""] * len(prompts)
    for idx in _by_length([len(x) for x in examples.input_ids], batch_size):
        batch = collate(examples, idx, tokenizer.pad_token_id, left_pad=True).to(model.device)
        generated = model.generate(
            input_ids=batch.input_ids, attention_mask=batch.attention_mask,
            max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
            pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
            stop_strings=STOP_STRINGS, tokenizer=tokenizer)   # each row stops at a newline
        new = generated[:, batch.input_ids.shape[1]:]
        for i, row in zip(idx, new):
            text = tokenizer.decode(row, skip_special_tokens=True)
            out[i] = text.split("\n")[0].strip()
    return out


@torch.no_grad()
def text_records(model, tokenizer, texts: list[str], group: str, batch_size: int,
                 precision: str = "fp32") -> list[dict]:
    """Per text (scored as a document: BOS + text + EOS, every token after BOS counted):
      - `token_logps`: log p(x_t | x_<t) of each token;
      - `mu`, `sigma`: mean and standard deviation of log p(v | x_<t) under the model's own
        next-token distribution at each position (Min-K%++ normalises by them);
      - `zlib_bytes`: size of the zlib-compressed UTF-8 text (the zlib MIA reference);
      - `argmax_ok`: 1 where the model's most likely next token is the actual one.
    """
    model.eval()
    examples = documents(tokenizer, texts, max_len=1024)
    out: list[dict] = [{} for _ in texts]
    with autocast(model.device, precision):
        for idx in _by_length([len(x) for x in examples.input_ids], batch_size):
            fw = forward(model, collate(examples, idx, tokenizer.pad_token_id).to(model.device),
                         keep_logits=True)
            logp = torch.log_softmax(fw.logits, dim=-1)                     # (B, T-1, V)
            mu = (logp.exp() * logp).sum(-1)                                # (B, T-1)
            var = (logp.exp() * logp.pow(2)).sum(-1) - mu.pow(2)
            sigma = var.clamp(min=0).sqrt()
            hits = (fw.logits.argmax(-1) == fw.labels).int()                # (B, T-1)
            for row, i in enumerate(idx):
                keep = fw.mask[row].bool()
                out[i] = {"group": group, "index": i,
                          "token_logps": fw.token_logps[row][keep].tolist(),
                          "mu": mu[row][keep].tolist(), "sigma": sigma[row][keep].tolist(),
                          "argmax_ok": hits[row][keep].tolist(),
                          "zlib_bytes": len(zlib.compress(texts[i].encode("utf-8")))}
    return out
