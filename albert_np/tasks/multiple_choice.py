"""multiple-choice: rank the choices that answer or continue a prompt."""
from typing import Any, Sequence

import numpy as np

from ..ops import softmax
from .base import DEFAULT_BATCH_SIZE, Pipeline, as_text_list, head_outputs, max_input_length, split_rows
from ..hints import Texts
from .loading import ModelArg, TokenizerArg


class MultipleChoicePipeline(Pipeline):
    """Pick the best continuation or answer among choices (no transformers pipeline exists).

    Each choice is encoded with the prompt as a pair "[CLS] prompt [SEP] choice [SEP]"
    (SWAG's convention, as AlbertForMultipleChoice is trained); the scores are the
    softmax of the model's logits over the choices.
    """

    task = "multiple-choice"

    def run(self, prompt, choices, batch_size=None):
        """Choices ranked by probability.

        Args:
            prompt: str, or a list of prompts.
            choices: list of str (for one prompt), or a list of lists (one per prompt).
            batch_size: (prompt, choice) rows per forward pass (default: the pipeline's).
        Returns:
            [{"choice", "index", "score"}, ...] best first (index: position in `choices`);
            a list of these for a list of prompts.
        """
        if isinstance(prompt, str):
            as_text_list(prompt, "prompt")
            prompts, choice_lists, single = [prompt], [choices], True
        else:
            prompts, _ = as_text_list(prompt, "prompt")
            choice_lists, single = choices, False
            if not isinstance(choice_lists, (list, tuple)) or len(choice_lists) != len(prompts):
                raise ValueError(f"{len(prompts)} prompts need {len(prompts)} lists of choices, "
                                 f"got {choices!r:.100}")
        for i, options in enumerate(choice_lists):
            if isinstance(options, str) or not isinstance(options, (list, tuple)):
                raise TypeError(f"choices must be a list of str per prompt, got {options!r:.80}")
            as_text_list(list(options), "choices" if single else f"choices[{i}]")
            if len(options) < 2:
                raise ValueError(f"prompt {i} has {len(options)} choice(s): give at least two")
        tok = self.tokenizer
        max_length = max_input_length(self.model, tok)
        rows, owner = [], []                       # one row per (prompt, choice); owner: its prompt
        for i, (p, options) in enumerate(zip(prompts, choice_lists)):
            self._check_choice_lengths(i, options, max_length, single)
            enc = tok([p] * len(options), list(options), truncation="only_first", max_length=max_length)
            rows += split_rows(enc, len(options))
            owner += [i] * len(options)
        # each choice's score depends on its own row alone: batch_size rows a forward pass, whatever
        # prompt they belong to (a prompt with many choices is split over several passes)
        scores = self._run(rows, self._choice_logits, batch_size=batch_size)
        per_prompt = [[] for _ in prompts]
        for i, score in zip(owner, scores):
            per_prompt[i].append(score)
        results = []
        for options, row in zip(choice_lists, per_prompt):
            probs = softmax(np.array(row))
            order = np.argsort(-probs, kind="stable")
            results.append([{"choice": options[i], "index": int(i), "score": float(probs[i])} for i in order])
        return results[0] if single else results

    def _check_choice_lengths(self, i, options, max_length, single):
        """ValueError naming a choice too long to fit with at least one prompt token."""
        room = max_length - 4                      # [CLS] >= 1 prompt token [SEP] choice [SEP]
        lengths = [len(ids) for ids in self.tokenizer(list(options), add_special_tokens=False)["input_ids"]]
        for j, n in enumerate(lengths):
            if n > room:
                where = f"choices[{j}]" if single else f"choices[{i}][{j}]"
                raise ValueError(f"{where} has {n} tokens, but this model takes {max_length} tokens in all "
                                 f"(max_position_embeddings), so a choice may have at most {room} (the prompt is "
                                 f"cut to make room, never a choice): shorten that choice")

    def _choice_logits(self, rows):
        """The score of each (prompt, choice) row: the multiple-choice head on (B, 1, T), one choice each."""
        batch = self._batch(rows)                                        # (B, T)
        shaped = {k: v[:, None, :] for k, v in batch.items()}            # (B, 1, T)
        return list(head_outputs(self.model, shaped)["logits"][:, 0])    # (B, 1) -> B scores


def choose(prompt: Texts, choices: Sequence, model: ModelArg, *, tokenizer: TokenizerArg = None,
           batch_size: int = DEFAULT_BATCH_SIZE, **load_kwargs: Any) -> list:
    """Rank `choices` as answers to / continuations of `prompt` with a multiple-choice model.

        choose("The man lit the match.", ["The room got brighter.", "The room got colder."], model=...)
        [{'choice': 'The room got brighter.', 'index': 0, 'score': 0.8}, {...}]
    """
    return MultipleChoicePipeline(model, tokenizer, batch_size=batch_size, **load_kwargs).run(prompt, choices)
