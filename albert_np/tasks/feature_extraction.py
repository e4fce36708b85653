"""feature-extraction: contextual vectors of texts, per token or pooled to one per text."""
from typing import Any

import numpy as np

from .base import (DEFAULT_BATCH_SIZE, Pipeline, as_text_list, encode, encode_or_truncate, max_input_length,
                   split_rows)
from ..hints import Texts
from .loading import ModelArg, TokenizerArg

POOLINGS = ("cls", "mean")


class FeatureExtractionPipeline(Pipeline):
    """Contextual vectors of texts from the encoder of any ALBERT checkpoint.

    Matches: transformers FeatureExtractionPipeline when called without pooling.
    """

    task = "feature-extraction"

    def run(self, inputs, pooling=None, return_tensors=False, batch_size=None, truncation=True):
        """Vectors of one text or a list of texts.

        Args:
            pooling: None -> every token's vector, as transformers: nested lists of shape
                (1, T, H) per text (np.ndarray with return_tensors=True);
                "cls" -> the [CLS] token's last hidden state; "mean" -> the mean over the
                text's tokens ([CLS] and [SEP] included, padding excluded).
            truncation: True -> a text over the model's limit (max_position_embeddings tokens) is
                cut to it, with a logged warning saying how much was cut; False -> ValueError.
        Returns:
            with pooling: float32 array (H,) for a str, (N, H) for a list of N texts.
        """
        if pooling is not None and (not isinstance(pooling, str) or pooling not in POOLINGS):
            raise ValueError(f"pooling must be one of {POOLINGS} or None, got {pooling!r}")
        texts, single = as_text_list(inputs, "inputs")
        tok = self.tokenizer
        enc = encode_or_truncate(tok, texts, None, max_input_length(self.model, tok), truncation, single)
        rows = split_rows(enc, len(texts))
        states = self._run(rows, lambda batch: self._vectors(batch, pooling), batch_size=batch_size)
        if pooling is not None:
            vectors = np.stack(states)
            return vectors[0] if single else vectors
        out = [s[None] if return_tensors else s[None].tolist() for s in states]
        return out[0] if single else out

    def _vectors(self, rows, pooling):
        batch = self._batch(rows)
        h = encode(self.model, batch)                                     # (B, T, H)
        if pooling == "cls":
            return list(h[:, 0])
        if pooling == "mean":
            mask = batch["attention_mask"][..., None].astype(h.dtype)     # (B, T, 1)
            return list((h * mask).sum(1) / mask.sum(1))                  # (B, H)
        return [h[b, :len(r["input_ids"])] for b, r in enumerate(rows)]


def embed(texts: Texts, model: ModelArg = None, pooling: str = "cls", *, tokenizer: TokenizerArg = None,
          batch_size: int = DEFAULT_BATCH_SIZE, truncation: bool = True, **load_kwargs: Any) -> np.ndarray:
    """One vector per text: (H,) for a str, (N, H) float32 for a list of N texts.

    pooling: "cls" (the [CLS] token's last hidden state) or "mean" (over the text's tokens).
    Any ALBERT checkpoint works (only its encoder is used); None uses DEFAULT_MODEL.
    """
    if not isinstance(pooling, str) or pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    return FeatureExtractionPipeline(model, tokenizer, batch_size=batch_size, **load_kwargs).run(
        texts, pooling=pooling, truncation=truncation)
