"""Evaluation speed: our records layer vs a straightforward evaluator, same model and items.

The suite is TOFU-shaped, on the built-in world and its clean model (trained or taken from
the cache): per fact, the gold answer and 5 perturbed answers scored under the question, the
gold answer under a paraphrased question, and a greedy answer (for ROUGE). The
straightforward evaluator runs one forward pass per candidate (batch 1) with a full-vocabulary
log-softmax, and generates one item at a time. The script checks that both give the same
numbers (log-probs to 1e-4, identical greedy answers) and prints items/s and the ratio.
Target (issue: evaluation suite): >= 3x on a 2-core CPU machine.

    python benchmarks/eval_speed.py [N_ITEMS]      # default 200
"""

from __future__ import annotations

import random
import sys
import time

import torch

from unlearnlab import tasks
from unlearnlab.config import load_config
from unlearnlab.eval.items import candidates
from unlearnlab.eval.records import make_records
from unlearnlab.models.loading import load_causal_lm
from unlearnlab.stages import pretrain
from unlearnlab.tasks.facts_items import fact_items
from unlearnlab.world.corpora import qa_prompt
from unlearnlab.world.facts import value_pools
from unlearnlab.world.generator import generate_world


@torch.no_grad()
def naive_records(model, tok, items, max_new_tokens: int) -> list[dict]:
    out = []
    for item in items:
        def score(prompt: str, answer: str) -> list[float]:
            p = tok.encode(prompt, add_special_tokens=False)
            full = tok.encode(prompt + " " + answer, add_special_tokens=False)
            n_prompt = next((k for k, (a, b) in enumerate(zip(p, full)) if a != b), len(p))
            ids = torch.tensor([[tok.bos_token_id] + full])
            logprobs = torch.log_softmax(model(ids).logits[0, :-1].float(), dim=-1)   # (T-1, V)
            targets = ids[0, 1:]
            answer_positions = range(n_prompt, len(full))                              # in targets
            return [sum(logprobs[t, targets[t]].item() for t in answer_positions),
                    len(answer_positions)]

        prompt = qa_prompt(item.question)
        scores = {c: score(prompt, c) for c in candidates(item)}
        para = {item.answers[0]: score(qa_prompt(item.paraphrased_question), item.answers[0])}
        ids = torch.tensor([[tok.bos_token_id] + tok.encode(prompt, add_special_tokens=False)])
        gen = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                             do_sample=False, pad_token_id=tok.pad_token_id,
                             eos_token_id=tok.eos_token_id)
        text = tok.decode(gen[0, ids.shape[1]:], skip_special_tokens=True).split("\n")[0].strip()
        out.append({"prediction": text, "scores": scores, "paraphrase_scores": para})
    return out


def main(n_items: int) -> int:
    cfg = load_config(None, ["progress=false"])
    task = tasks.build(cfg)
    clean = pretrain.run(cfg, task, torch.device("cpu"))
    cached = clean.cached
    model, tok = load_causal_lm(clean.path, torch.device("cpu"))
    world = generate_world(cfg.world.seed, cfg.world.n_entities, cfg.world.relations)
    facts = world.facts()
    items = fact_items(facts, list(world.entities), "utility", value_pools(facts), None, 0,
                       probe=False, paraphrases=world.paraphrased_questions())
    items = random.Random(0).sample(items, min(n_items, len(items)))
    n_seq = sum(len(candidates(i)) + 1 for i in items)
    print(f"{len(items)} items, {n_seq} scored sequences + {len(items)} greedy answers; "
          f"model {sum(p.numel() for p in model.parameters()):,} params ({'cached' if cached else 'trained'}); "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    max_new = task.fmt.max_new_tokens
    make_records(model, tok, items[:8], task.fmt, 64, max_new)                          # warm-up
    start = time.perf_counter()
    ours = make_records(model, tok, items, task.fmt, cfg.eval.batch_size, max_new)
    t_ours = time.perf_counter() - start
    start = time.perf_counter()
    naive = naive_records(model, tok, items, max_new)
    t_naive = time.perf_counter() - start
    worst = 0.0
    for a, b in zip(ours, naive):
        assert a["prediction"] == b["prediction"], (a["prediction"], b["prediction"])
        for key in ("scores", "paraphrase_scores"):
            for cand, (lp, n) in b[key].items():
                assert a[key][cand][1] == n
                worst = max(worst, abs(a[key][cand][0] - lp))
    assert worst < 1e-4, worst
    ratio = t_naive / t_ours
    print(f"numbers agree: identical greedy answers, max |log-prob difference| = {worst:.2e}")
    print(f"records layer:  {len(items) / t_ours:8.1f} items/s  ({t_ours:.2f} s)")
    print(f"straightforward:{len(items) / t_naive:8.1f} items/s  ({t_naive:.2f} s)")
    print(f"speed-up: {ratio:.1f}x (target >= 3x: {'met' if ratio >= 3 else 'MISSED'})")
    return 0 if ratio >= 3 else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200))
