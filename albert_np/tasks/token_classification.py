"""token-classification: a tag for each token, word or entity of a text (e.g. named entities)."""
from typing import Any, Sequence

import numpy as np

from ..ops import softmax
from .base import DEFAULT_BATCH_SIZE, Pipeline, as_text_list, head_outputs, check_flag, max_input_length, split_rows, windows_of_row
from ..hints import Texts
from .loading import ModelArg, TokenizerArg

AGGREGATION_STRATEGIES = ("none", "simple", "first", "average", "max")


class TokenClassificationPipeline(Pipeline):
    """Tag the tokens (or words, or entities) of texts.

    Matches: transformers TokenClassificationPipeline (5.x), with two deliberate differences:
    * words are whitespace-separated words of the text (the tokenizer's word_ids), where
      transformers guesses them for ALBERT from the characters around each piece;
    * an entity of several words keeps its spaces ("new york"), where transformers' first /
      average / max strategies glue them ("newyork").
    """

    task = "token-classification"

    def run(self, inputs, aggregation_strategy="none", ignore_labels=("O",), batch_size=None, windows=True):
        """Entities of one text or a list of texts.

        Args:
            aggregation_strategy: "none" (every token, with its index; transformers' default, which
                tag_tokens changes to "simple"), "simple" (adjacent tokens
                with the same tag grouped, B-/I- prefixes respected), "first" / "average" / "max"
                (each word takes one tag: its first token's, the mean scores', or its most
                confident token's; then grouped as "simple").
            ignore_labels: labels (or entity groups) left out of the result.
            windows: a text longer than the model's limit (max_position_embeddings tokens) is read
                in overlapping windows, each token tagged from the window where it has the most
                context, and the entities grouped once over the whole text (True, the default);
                False raises a ValueError instead.
        Returns:
            per text, a list of {"entity", "score", "index", "word", "start", "end"} ("none") or
            {"entity_group", "score", "word", "start", "end"}; start/end index the original text.
        """
        strategy = self.strategy(aggregation_strategy)
        texts, single = as_text_list(inputs, "inputs")
        windows = check_flag("windows", windows)
        ignore = self.ignored(ignore_labels)
        tok = self.tokenizer
        max_length = max_input_length(self.model, tok)
        rows = split_rows(tok(texts, return_offsets_mapping=True), len(texts))
        pieces = []                                   # (row index, window row)
        for r, row in enumerate(rows):
            if len(row["input_ids"]) <= max_length:
                pieces.append((r, dict(row, start=0)))
                continue
            if not windows:
                where = "inputs" if single else f"inputs[{r}]"
                raise ValueError(f"{where} has {len(row['input_ids'])} tokens, more than the {max_length} "
                                 f"this model takes (max_position_embeddings): shorten it, or pass "
                                 f"windows=True to read it in overlapping windows")
            parts, _, _ = windows_of_row(row, max_length, tok.cls_token_id, tok.sep_token_id)
            pieces += [(r, part) for part in parts]
        found = self._run([p for _, p in pieces], self._token_probs, batch_size=batch_size)
        probs = self.merge_windows(rows, pieces, found, max_length)
        results = []
        for text, row, p in zip(texts, rows, probs):
            entities = self.aggregate(self.pre_entities(text, row, p), strategy)
            results.append([e for e in entities if e.get("entity", e.get("entity_group")) not in ignore])
        return results[0] if single else results

    @staticmethod
    def ignored(ignore_labels):
        """The set of labels to leave out, from None, a str or a list of str."""
        if ignore_labels is None:
            return set()
        if isinstance(ignore_labels, str):
            return {ignore_labels}
        if not isinstance(ignore_labels, (list, tuple, set, frozenset)):
            raise TypeError(f"ignore_labels must be a list of labels (str), got {type(ignore_labels).__name__}")
        return set(ignore_labels)

    @staticmethod
    def merge_windows(rows, pieces, found, max_length):
        """Per text, one (T, num_labels) probability array over all its tokens.

        A token seen by several windows takes the probabilities of the window where it has
        the most context on its shorter side ([CLS] and [SEP] rows come from the first window).
        """
        size = max_length - 2
        merged = [None] * len(rows)
        best = [None] * len(rows)
        for (r, piece), p in zip(pieces, found):
            n = len(rows[r]["input_ids"])
            if merged[r] is None:
                merged[r] = np.zeros((n, p.shape[-1]), dtype=p.dtype)
                best[r] = np.full(n, -1, dtype=np.int64)
                merged[r][0], merged[r][-1] = p[0], p[-1]
            s = piece["start"]
            for i in range(1, len(piece["input_ids"]) - 1):
                context = min(i - 1, size - i) if n > max_length else 0   # tokens on its shorter side
                if context > best[r][s + i]:
                    best[r][s + i] = context
                    merged[r][s + i] = p[i]
        return merged

    @staticmethod
    def strategy(aggregation_strategy):
        name = "none" if aggregation_strategy is None else str(
            getattr(aggregation_strategy, "value", aggregation_strategy)).lower()
        if name not in AGGREGATION_STRATEGIES:
            raise ValueError(f"aggregation_strategy must be one of {AGGREGATION_STRATEGIES}, "
                             f"got {aggregation_strategy!r}")
        return name

    def _token_probs(self, rows):
        logits = head_outputs(self.model, self._batch(rows))["logits"]   # (B, T, num_labels)
        probs = softmax(logits, axis=-1)
        return [probs[b, :len(r["input_ids"])] for b, r in enumerate(rows)]

    def pre_entities(self, text, row, probs):
        """One record per non-special token: piece, label probabilities, span, word index."""
        tok = self.tokenizer
        out = []
        for idx, (token_id, seq, word, (start, end)) in enumerate(
                zip(row["input_ids"], row["sequence_ids"], row["word_ids"], row["offsets"])):
            if seq is None:
                continue
            piece = tok.convert_ids_to_tokens(int(token_id))
            if token_id == tok.unk_token_id:
                piece = text[start:end]          # as transformers: show the original characters
            out.append({"word": piece, "pieces": [piece], "scores": probs[idx], "start": int(start),
                        "end": int(end), "index": idx, "word_id": word})
        return out

    def aggregate(self, pre, strategy):
        id2label = self.model.config.id2label
        if strategy in ("none", "simple"):
            entities = []
            for p in pre:
                best = int(p["scores"].argmax())
                entities.append({"entity": id2label[best], "score": float(p["scores"][best]),
                                 "index": p["index"], "word": p["word"], "start": p["start"],
                                 "end": p["end"], "pieces": p["pieces"]})
            if strategy == "none":
                for e in entities:
                    del e["pieces"]
                return entities
        else:
            words = []
            for p in pre:
                if words and p["word_id"] == words[-1][-1]["word_id"]:
                    words[-1].append(p)
                else:
                    words.append([p])
            entities = [self.aggregate_word(w, strategy) for w in words]
        return self.group_entities(entities)

    def aggregate_word(self, tokens, strategy):
        """One entity for the tokens of one word (transformers' aggregate_word)."""
        id2label = self.model.config.id2label
        if strategy == "first":
            scores = tokens[0]["scores"]
        elif strategy == "max":
            scores = max(tokens, key=lambda t: t["scores"].max())["scores"]
        else:                                                      # average
            scores = np.nanmean(np.stack([t["scores"] for t in tokens]), axis=0)
        best = int(scores.argmax())
        pieces = [piece for t in tokens for piece in t["pieces"]]
        return {"entity": id2label[best], "score": float(scores[best]),
                "word": self.tokenizer.convert_tokens_to_string(pieces), "start": tokens[0]["start"],
                "end": tokens[-1]["end"], "pieces": pieces}

    @staticmethod
    def split_tag(label):
        """("B" | "I", tag): "B-PER" -> ("B", "PER"); a label without prefix counts as "I"."""
        if label.startswith("B-"):
            return "B", label[2:]
        if label.startswith("I-"):
            return "I", label[2:]
        return "I", label

    def group_entities(self, entities):
        """Merge adjacent entities with the same tag; a "B-" tag starts a new group."""
        groups, current = [], []
        for e in entities:
            if current:
                bi, tag = self.split_tag(e["entity"])
                _, last_tag = self.split_tag(current[-1]["entity"])
                if tag != last_tag or bi == "B":
                    groups.append(self.group(current))
                    current = []
            current.append(e)
        if current:
            groups.append(self.group(current))
        return groups

    def group(self, entities):
        pieces = [piece for e in entities for piece in e["pieces"]]
        return {"entity_group": entities[0]["entity"].split("-", 1)[-1],
                "score": float(np.nanmean([e["score"] for e in entities])),
                "word": self.tokenizer.convert_tokens_to_string(pieces),
                "start": entities[0]["start"], "end": entities[-1]["end"]}


def tag_tokens(texts: Texts, model: ModelArg, aggregation_strategy: str = "simple", *,
               ignore_labels: Sequence[str] = ("O",), tokenizer: TokenizerArg = None,
               batch_size: int = DEFAULT_BATCH_SIZE, windows: bool = True, **load_kwargs: Any) -> list:
    """Named entities (or per-token tags) of texts: transformers' token-classification pipeline.

        tag_tokens("Ada Lovelace lived in London", model="path/to/ner-albert")
        [{'entity_group': 'PER', 'score': 0.99, 'word': 'ada lovelace', 'start': 0, 'end': 12}, ...]

    start / end are character positions in the original text (text[start:end]).
    See TokenClassificationPipeline for the strategies and the differences from transformers.
    """
    pipe = TokenClassificationPipeline(model, tokenizer, batch_size=batch_size, **load_kwargs)
    return pipe.run(texts, aggregation_strategy=aggregation_strategy, ignore_labels=ignore_labels, windows=windows)
