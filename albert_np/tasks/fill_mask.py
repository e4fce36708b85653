"""fill-mask: the likeliest tokens for each [MASK] of a text (masked-LM head)."""
import logging
from typing import Any, Sequence, Union

import numpy as np

from ..model import mlm_head
from ..ops import activation, softmax
from ..tokenization.encoding import check_str
from ..tokenization.normalization import SPIECE_UNDERLINE
from .base import (DEFAULT_BATCH_SIZE, Pipeline, as_text_list, central_window, check_flag, check_top_k, encode,
                   max_input_length, split_rows, windows_of_row)
from ..hints import Texts
from .loading import ModelArg, TokenizerArg

logger = logging.getLogger(__name__)


def mlm_probs(model, h):                            # (..., H) -> (..., V)
    """softmax(mlm_head(h)): the masked-LM head's probabilities over the vocabulary.

    model: an AlbertForMaskedLM or AlbertForPreTraining (its "predictions" weights);
    h: hidden states (..., H). fill_mask applies it to the last hidden state at the
    masks; explain's logit lens to the hidden state after every layer application.
    """
    c = model.config
    logits = mlm_head(h, **model.params["predictions"], act=activation(c.hidden_act), eps=c.layer_norm_eps)
    return softmax(logits, axis=-1)


def top_k_rows(probs, k):                                          # (M, V) -> (M, k) ids, (M, k) values
    """The k largest entries of each row, largest first, ties in id order: the first k columns of a
    stable argsort of -probs, found with a partition (linear in V) instead of a full sort."""
    k = min(k, probs.shape[-1])
    if k == probs.shape[-1] or np.isnan(probs).any():                # NaN has no place in the counting below
        order = np.argsort(-probs, axis=-1, kind="stable")[:, :k].copy()   # not a view of the (M, V) order
        return order, np.take_along_axis(probs, order, axis=-1)
    kth = -np.partition(-probs, k - 1, axis=-1)[:, k - 1:k]          # (M, 1) each row's k-th largest value
    above, tied = probs > kth, probs == kth                          # (M, V) x 2
    room = k - above.sum(axis=-1, keepdims=True)                     # (M, 1) places left for the ties
    take = above | (tied & (np.cumsum(tied, axis=-1) <= room))       # exactly k per row, lowest tied ids
    ids = np.nonzero(take)[1].reshape(-1, k)                         # (M, k) in id order
    values = np.take_along_axis(probs, ids, axis=-1)
    order = np.lexsort((ids, -values), axis=-1)                      # by value, then id
    return np.take_along_axis(ids, order, axis=-1), np.take_along_axis(values, order, axis=-1)


def top_k_fillers(probs, top_k, target_ids=None):                 # (M, V) -> M x ((k,), (k,))
    """[(token ids (k,), scores (k,))] of each row of probs (M, V): its top_k, best first (ties: lower id).

    target_ids: only these ids compete (their probabilities over the whole vocabulary).
    The results are copies: the (M, V) array can be freed at once.
    """
    if target_ids is not None:
        probs = probs[:, target_ids]                                  # (M, targets)
    order, scores = top_k_rows(probs, top_k)                          # (M, k) x 2
    ids = order if target_ids is None else target_ids[order]
    return list(zip(ids, scores))


class FillMaskPipeline(Pipeline):
    """Predict the [MASK] tokens of texts. Matches: transformers FillMaskPipeline (5.x)."""

    task = "fill-mask"

    def run(self, inputs, top_k=5, targets=None, batch_size=None, windows=True):
        """Top-k fillers for every [MASK] of one text or a list of texts.

        Args:
            inputs: str or list of str; each holds one or more [MASK] (tokenizer.mask_token).
            top_k: fillers per mask (at most the vocabulary, or the number of targets when given).
            targets: str or list of str restricting the candidates. A target that is
                not a vocabulary piece is tokenised and its first piece used, with a warning.
            windows: a text longer than the model's limit (max_position_embeddings tokens) is
                read in overlapping windows, each mask predicted from the window where it has
                the most context on both sides (True, the default); False raises a ValueError instead.
        Returns (as transformers):
            one text, one mask:   [{"score", "token", "token_str", "sequence"}, ...] best first
            one text, n masks:    a list per mask (sequences then keep the special tokens, as HF)
            list of texts:        a list of the above; a list of one text is returned unwrapped.
        """
        texts, single = as_text_list(inputs, "inputs")
        check_top_k(top_k)
        windows = check_flag("windows", windows)
        tok = self.tokenizer
        target_ids = None if targets is None else self.target_ids(targets)
        max_length = max_input_length(self.model, tok)
        rows = split_rows(tok(texts), len(texts))
        pieces = []                                   # (row index, window row)
        for r, (text, row) in enumerate(zip(texts, rows)):
            row["masks"] = [i for i, t in enumerate(row["input_ids"]) if t == tok.mask_token_id]
            where = "inputs" if single else f"inputs[{r}]"
            if not row["masks"]:
                raise ValueError(f"no {tok.mask_token} in {text!r:.100} ({where}): put the mask token "
                                 f"{tok.mask_token!r} where the missing word goes")
            if len(row["input_ids"]) <= max_length:
                pieces.append((r, dict(row, start=0, local=row["masks"])))
                continue
            if not windows:
                raise ValueError(f"{where} has {len(row['input_ids'])} tokens, more than the {max_length} "
                                 f"this model takes (max_position_embeddings): shorten it, or pass "
                                 f"windows=True to read it in overlapping windows")
            parts, starts, size = windows_of_row(row, max_length, tok.cls_token_id, tok.sep_token_id)
            chosen = {}
            for m in row["masks"]:                   # m counts [CLS]; window positions do not
                chosen.setdefault(central_window(m - 1, starts, size), []).append(m)
            for w, masks in sorted(chosen.items()):
                pieces.append((r, dict(parts[w], local=[m - parts[w]["start"] for m in masks])))
        if target_ids is not None:
            top_k = min(top_k, len(target_ids))
        found = self._run([p for _, p in pieces], lambda batch: self._mask_top_k(batch, top_k, target_ids),
                          batch_size=batch_size)
        best = [{} for _ in rows]                     # row -> {position in the row: (token ids, scores)}
        for (r, piece), p in zip(pieces, found):
            for m, pm in zip(piece["local"], p):
                best[r][m + piece["start"]] = pm
        results = [self._postprocess(row, [b[m] for m in row["masks"]]) for row, b in zip(rows, best)]
        return results[0] if single or len(results) == 1 else results

    def _mask_top_k(self, rows, top_k, target_ids):
        """The top_k fillers of each mask position: per row, a list of (token ids (k,), scores (k,)).

        The MLM head runs on the mask positions only (the other positions are never read); its
        (masks, V) probabilities live for one batch: only the k best of each mask are kept.
        target_ids: restrict the candidates to these ids (scores are still over the vocabulary).
        """
        batch = self._batch(rows)
        h = encode(self.model, batch)                                     # (B, T, H)
        b_idx = np.concatenate([[b] * len(r["local"]) for b, r in enumerate(rows)]).astype(np.int64)
        t_idx = np.concatenate([r["local"] for r in rows]).astype(np.int64)
        top = top_k_fillers(mlm_probs(self.model, h[b_idx, t_idx]), top_k, target_ids)   # (M, H) -> M x (k,)
        starts = np.cumsum([0] + [len(r["local"]) for r in rows])
        return [top[a:b] for a, b in zip(starts[:-1], starts[1:])]

    def _postprocess(self, row, best):
        """The fills of each mask of a row, from its (token ids, scores); the sequences decoded with
        tokenizer.decode_fills (only the text near each mask is decoded for each filler)."""
        tok = self.tokenizer
        single_mask = len(row["masks"]) == 1
        tokens = [[int(t) for t in ids] for ids, _ in best]
        sequences = tok.decode_fills(row["input_ids"], list(zip(row["masks"], tokens)),
                                     skip_special_tokens=single_mask)
        out = [[{"score": float(p), "token": t, "token_str": tok.decode([t]), "sequence": seq}
                for t, p, seq in zip(ts, scores, seqs)]
               for ts, (_, scores), seqs in zip(tokens, best, sequences)]
        return out[0] if single_mask else out

    def target_ids(self, targets):
        """Vocabulary ids of the targets (duplicates dropped), as transformers resolves them."""
        targets = [targets] if isinstance(targets, str) else targets
        if not isinstance(targets, (list, tuple)):
            raise TypeError(f"targets must be a str or a list of str, got {type(targets).__name__}: {targets!r:.100}")
        for i, t in enumerate(targets):
            check_str(t, f"targets[{i}]")
        tok = self.tokenizer
        vocab = tok.get_vocab()
        ids = []
        for target in targets:
            if target in vocab:
                ids.append(vocab[target])
                continue
            pieces = tok(target, add_special_tokens=False)["input_ids"]
            if len(pieces) > 1 and tok.convert_ids_to_tokens(pieces[0]) == SPIECE_UNDERLINE:
                pieces = pieces[1:]          # the bare word-start piece says nothing about the word
            if not pieces:
                logger.warning("target %r is empty after tokenisation: ignored", target)
                continue
            logger.warning("target %r is not a vocabulary piece: using its first piece %r%s", target,
                           tok.convert_ids_to_tokens(pieces[0]),
                           f" (it has {len(pieces)} pieces)" if len(pieces) > 1 else "")
            ids.append(pieces[0])
        ids = list(dict.fromkeys(ids))
        if not ids:
            raise ValueError(f"none of the targets {targets!r} gives a vocabulary piece: pass at least one word")
        return np.asarray(ids, dtype=np.int64)


def fill_mask(text: Texts, model: ModelArg = None, top_k: int = 5, targets: Union[str, Sequence[str], None] = None,
              *, tokenizer: TokenizerArg = None, batch_size: int = DEFAULT_BATCH_SIZE, windows: bool = True,
              **load_kwargs: Any) -> list:
    """Fill the [MASK] tokens of `text` (str or list of str): transformers' fill-mask pipeline.

        fill_mask("Paris is the [MASK] of France.")
        [{'score': 0.9, 'token': 1057, 'token_str': 'capital', 'sequence': 'paris is the capital of france.'}, ...]

    model: Hub id, folder or loaded AlbertForMaskedLM / AlbertForPreTraining; None
    uses DEFAULT_MODEL. See `FillMaskPipeline.__call__` for targets and the output nesting.
    """
    return FillMaskPipeline(model, tokenizer, batch_size=batch_size, **load_kwargs).run(text, top_k, targets,
                                                                                        windows=windows)
