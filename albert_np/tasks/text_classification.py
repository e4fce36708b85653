"""text-classification: a label (or scores of every label) for each text or text pair."""
from typing import Any, Optional

from ..ops import sigmoid, softmax
from .base import (DEFAULT_BATCH_SIZE, Pipeline, as_text_list, check_top_k, encode_or_truncate, head_outputs,
                   max_input_length, split_rows)
from ..hints import Texts
from .loading import ModelArg, TokenizerArg

FUNCTIONS = ("softmax", "sigmoid", "none")
_LEGACY = object()     # "top_k not given": transformers' one-dict-per-text output


class TextClassificationPipeline(Pipeline):
    """Label texts or text pairs. Matches: transformers TextClassificationPipeline (5.x)."""

    task = "text-classification"

    def run(self, inputs, top_k=_LEGACY, function_to_apply=None, text_pair=None, batch_size=None, truncation=True):
        """Scores of the labels of each text (or pair).

        Args:
            inputs: str, list of str, {"text", "text_pair"} dict or a list of such dicts.
            top_k: not given -> the best label only, one dict per text (transformers' default);
                an int -> that many labels, best first, a list per text; None -> all labels.
            function_to_apply: None (chosen from the config as transformers does: regression ->
                "none"; multi-label or a single label -> "sigmoid"; else "softmax"), or one of FUNCTIONS.
            text_pair: second texts (str or list), instead of dicts.
            truncation: True -> an input over the model's limit (max_position_embeddings tokens)
                is cut to it, with a logged warning saying how much was cut; False -> ValueError.
        Returns:
            one str without top_k: [{"label", "score"}]; a list without top_k: [{"label", "score"}, ...];
            with top_k: a list of dicts for one str, a list of such lists for a list.
            One dict input gives one result, not wrapped in a list (as transformers).
        """
        texts, pairs, single = self._split_inputs(inputs, text_pair)
        legacy = top_k is _LEGACY
        if not legacy:
            check_top_k(top_k, allow_none=True)
        fn = self.function(function_to_apply)
        tok = self.tokenizer
        max_length = max_input_length(self.model, tok)
        enc = encode_or_truncate(tok, texts, pairs, max_length, truncation, single=bool(single))
        rows = split_rows(enc, len(texts))
        logits = self._run(rows, self._logits, batch_size=batch_size)
        id2label = self.model.config.id2label
        results = []
        for row_logits in logits:
            scores = {"sigmoid": sigmoid, "softmax": softmax, "none": lambda x: x}[fn](row_logits)
            if legacy:
                best = int(scores.argmax())
                results.append({"label": id2label[best], "score": float(scores[best])})
                continue
            ranked = sorted(({"label": id2label[i], "score": float(s)} for i, s in enumerate(scores)),
                            key=lambda d: d["score"], reverse=True)
            results.append(ranked if top_k is None else ranked[:top_k])
        if single == "dict":                 # one {"text", "text_pair"} dict: one result, unwrapped
            return results[0]
        if single:
            return [results[0]] if legacy else results[0]
        return results

    @staticmethod
    def _split_inputs(inputs, text_pair):
        """(texts, pairs or None, single) from the accepted input forms."""
        if isinstance(inputs, dict) or (isinstance(inputs, (list, tuple)) and inputs
                                        and all(isinstance(x, dict) for x in inputs)):
            if text_pair is not None:
                raise ValueError("give pairs either as dicts {'text', 'text_pair'} or with text_pair=, not both")
            dicts = [inputs] if isinstance(inputs, dict) else list(inputs)
            for i, d in enumerate(dicts):
                if "text" not in d:
                    raise ValueError(f"input dict {i} has no 'text' key (keys: {sorted(d)})")
            texts, _ = as_text_list([d["text"] for d in dicts])
            pairs = [d.get("text_pair") for d in dicts]
            if any(p is None for p in pairs):
                if not all(p is None for p in pairs):
                    raise ValueError("some input dicts have a 'text_pair' and some do not: run them separately")
                pairs = None
            else:
                pairs, _ = as_text_list(pairs, "text_pair")
            return texts, pairs, "dict" if isinstance(inputs, dict) else False
        texts, single = as_text_list(inputs, "inputs")
        if text_pair is None:
            return texts, None, single
        pairs, pair_single = as_text_list(text_pair, "text_pair")
        if pair_single != single or len(pairs) != len(texts):
            raise ValueError(f"{len(texts)} text(s) but {len(pairs)} text_pair(s): give one pair per text")
        return texts, pairs, single

    def function(self, function_to_apply):
        """The score function: the one asked for, or transformers' choice from the config."""
        if function_to_apply is not None and str(function_to_apply).lower() != "default":
            name = str(getattr(function_to_apply, "value", function_to_apply)).lower()
            if name not in FUNCTIONS:
                raise ValueError(f"function_to_apply must be one of {FUNCTIONS} (or None), "
                                 f"got {function_to_apply!r}")
            return name
        c = self.model.config
        if c.problem_type == "regression":
            return "none"
        if c.problem_type == "multi_label_classification" or c.num_labels == 1:
            return "sigmoid"
        return "softmax"

    def _logits(self, rows):
        return list(head_outputs(self.model, self._batch(rows))["logits"])


def classify(texts: Texts, model: ModelArg, text_pair: Optional[Texts] = None,
             function_to_apply: Optional[str] = None, top_k: Optional[int] = 1, *, tokenizer: TokenizerArg = None,
             batch_size: int = DEFAULT_BATCH_SIZE, truncation: bool = True, **load_kwargs: Any) -> list:
    """Classify texts (or pairs): transformers' text-classification pipeline.

        classify("a great film", model="path/to/sst2")      -> [{'label': 'positive', 'score': 0.98}]

    top_k=1 gives transformers' default output (one dict per text: a one-element
    list for a single str); another int or None gives ranked lists (see
    `TextClassificationPipeline.__call__`). Scores: softmax, sigmoid or the raw
    logits, chosen from config.problem_type and num_labels unless function_to_apply says.
    """
    pipe = TextClassificationPipeline(model, tokenizer, batch_size=batch_size, **load_kwargs)
    return pipe.run(texts, top_k=_LEGACY if top_k == 1 and not isinstance(top_k, bool) else top_k,
                    function_to_apply=function_to_apply, text_pair=text_pair, truncation=truncation)
