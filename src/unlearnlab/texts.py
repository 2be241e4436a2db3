"""What training and evaluation read: documents, prompt-answer pairs, and the prompt format.

A task's sets (pretraining corpus, forget, retain, holdout) are lists of `Text`: a plain
string is a document (every token counts), a `Pair` is a question and its answer (only the
answer's tokens count, TOFU's convention). `PromptFormat` says how a question becomes a
prompt and how an answer follows it, so training and evaluation format pairs alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from unlearnlab.train.batches import MAX_DOC_TOKENS, ExampleSet, documents, prompt_answers


@dataclass(frozen=True)
class Pair:
    """A question and its answer; `context` (e.g. few-shot lines) goes before the prompt."""

    question: str
    answer: str
    context: str = ""


Text = Union[str, Pair]


@dataclass(frozen=True)
class PromptFormat:
    """How a question is put to the model and how its answer follows the prompt.

    template: the prompt, with {question}; answer_sep: what goes between the prompt and an
    answer (the world's " ", TOFU's "" after a template ending in a space); chat: render the
    question with the tokenizer's chat template instead; stop: strings that end a greedy
    answer; max_new_tokens: the task's default greedy answer length.

    Which tokens are the answer's (the prompt and answer are tokenized together):
    mask "prefix" counts every token after the longest common prefix with the prompt's own
    tokens; mask "length" (open-unlearning's convention) masks as many positions as the
    prompt alone has tokens, so a prompt ending in a space that merges into the first answer
    word also masks that word. score_eos: answer scores include the appended EOS
    (open-unlearning's probabilities do; RESTOR's probe does not).
    """

    template: str = "Question: {question}\nAnswer:"
    answer_sep: str = " "
    chat: bool = False
    stop: tuple[str, ...] = ("\n",)
    max_new_tokens: int = 12
    mask: str = "prefix"
    score_eos: bool = False

    def prompt(self, question: str, tokenizer=None, context: str = "") -> str:
        if not self.chat:
            return context + self.template.format(question=question)
        if getattr(tokenizer, "chat_template", None) is None:
            from unlearnlab.errors import UserError

            raise UserError("prompt: chat was asked for, but the model's tokenizer has no chat "
                            "template; valid: qa, or a model with a chat template")
        text = tokenizer.apply_chat_template([{"role": "user", "content": question}],
                                             tokenize=False, add_generation_prompt=True)
        bos = tokenizer.bos_token or ""
        return context + (text[len(bos):] if bos and text.startswith(bos) else text)  # BOS is added once, by id


def tokenize(tokenizer, texts: list[Text], fmt: PromptFormat,
             max_len: int = MAX_DOC_TOKENS) -> ExampleSet:
    """One `ExampleSet` in the order of `texts`: documents with every token counted, pairs
    with only the answer (and EOS) counted."""
    docs = [i for i, t in enumerate(texts) if isinstance(t, str)]
    pairs = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if not pairs:
        return documents(tokenizer, texts, max_len)
    qa = prompt_answers(tokenizer, [fmt.prompt(texts[i].question, tokenizer, texts[i].context)
                                    for i in pairs],
                        [fmt.answer_sep + texts[i].answer for i in pairs], max_len, mask=fmt.mask)
    if not docs:
        return qa
    plain = documents(tokenizer, [texts[i] for i in docs], max_len)
    ids, masks = [None] * len(texts), [None] * len(texts)
    for src, positions in ((plain, docs), (qa, pairs)):
        for j, i in enumerate(positions):
            ids[i], masks[i] = src.input_ids[j], src.loss_mask[j]
    return ExampleSet(ids, masks)


def with_answer(text: Text, answer: str) -> Text:
    """`text` with another answer (a document is replaced whole): the alternative a method
    such as IdkDPO prefers over a forget item."""
    return answer if isinstance(text, str) else Pair(text.question, answer, text.context)


def as_plain(text: Text, fmt: PromptFormat) -> str:
    """A text as one string (for hashing, similarity search and display)."""
    if isinstance(text, str):
        return text
    return text.context + fmt.template.format(question=text.question) + fmt.answer_sep + text.answer
