"""What every pipeline shares: the Pipeline base class, batching, input checks, the bare encoder.

How a list is run (`run_batched`): every input is tokenised on its own, the
inputs are sorted by length and cut into batches of `batch_size`, each batch is
padded only to its own longest row, and the results are put back in input
order. Lists of PROGRESS_MIN_ITEMS or more show a progress bar.
"""
import bisect
import inspect
import logging

import numpy as np

from ..step import prepare_inputs, run_model
from ..inputs import check_inputs
from ..model import albert_model
from ..progress import progress_bar
from ..tokenization.encoding import check_str
from .loading import resolve

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 8


# %% Batches -------------------------------------------------------------------------------------

def pad_batch(rows, pad_id):
    """Stack feature dicts into padded arrays: input_ids, attention_mask, token_type_ids  (B, T).

    rows: dicts with "input_ids" and "token_type_ids" lists. Pads on the right.
    """
    T = max(len(r["input_ids"]) for r in rows)
    ids = np.full((len(rows), T), pad_id, dtype=np.int64)
    types = np.zeros((len(rows), T), dtype=np.int64)
    mask = np.zeros((len(rows), T), dtype=np.int64)
    for b, r in enumerate(rows):
        n = len(r["input_ids"])
        ids[b, :n] = r["input_ids"]
        types[b, :n] = r["token_type_ids"]
        mask[b, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def run_batched(items, step, *, size, group=None, batch_size=DEFAULT_BATCH_SIZE, progress=None,
                desc="albert_np"):
    """Apply `step` to length-sorted batches of `items`; return its results in input order.

    step(list of items) -> list of results, one per item (same order).
    size(item) -> int: the padded length an item needs; items are sorted by it so
    that each batch pads little. group(item) -> key: items with different keys
    never share a batch (e.g. a different number of choices).
    progress: None shows a tqdm bar for PROGRESS_MIN_ITEMS items or more; True/False force it.
    """
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    key = (lambda i: (group(items[i]), size(items[i]))) if group else (lambda i: size(items[i]))
    order = sorted(range(len(items)), key=key)
    batches, current = [], []
    for i in order:
        if current and (len(current) == batch_size or group and group(items[i]) != group(items[current[0]])):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    bar = progress_bar(len(items), desc, enabled=progress)
    results = [None] * len(items)
    for batch in batches:
        for i, result in zip(batch, step([items[i] for i in batch])):
            results[i] = result
        bar.update(len(batch))
    bar.close()
    return results


def split_rows(encoding, n_rows):
    """Split a (list-valued) BatchEncoding into one dict per row, with word and sequence ids."""
    rows = []
    for i in range(n_rows):
        row = {"input_ids": encoding["input_ids"][i], "token_type_ids": encoding["token_type_ids"][i],
               "word_ids": encoding.word_ids(i), "sequence_ids": encoding.sequence_ids(i)}
        if "offset_mapping" in encoding:
            row["offsets"] = [tuple(o) for o in encoding["offset_mapping"][i]]
        if "overflow_to_sample_mapping" in encoding:
            row["sample"] = encoding["overflow_to_sample_mapping"][i]
        rows.append(row)
    return rows


# %% The bare encoder ----------------------------------------------------------------------------

def encoder_params(model):
    """The encoder's parameter sub-dict of any albert_np model (AlbertModel or a head model)."""
    return model.params["albert"] if model.head else model.params


def encode(model, batch):
    """last_hidden_state (B, T, H) of a padded batch, through the bare encoder of any model.

    The padding is not computed (albert_model's skip_padding): its rows are 0.
    """
    args = check_inputs(model.config, batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
    return albert_model(encoder_params(model), model.config, **args, skip_padding=True)["last_hidden_state"]


def head_outputs(model, batch):
    """The head's outputs (a dict: "logits", or "start_logits" / "end_logits") for a
    padded batch ((B, C, T) for multiple choice), the padding not computed."""
    args, C = prepare_inputs(model.config, model.head, batch)
    return run_model(model.params, model.config, model.head, args, C, skip_padding=True)


# %% Input checks --------------------------------------------------------------------------------

def as_text_list(texts, name="texts"):
    """(list of str, was_single) from one str or a non-empty list of str."""
    if isinstance(texts, str):
        return [check_str(texts, name)], True
    if isinstance(texts, (list, tuple)):
        if not texts:
            raise ValueError(f"{name} is an empty list: give at least one text")
        for i, t in enumerate(texts):
            check_str(t, f"{name}[{i}]")
        return list(texts), False
    raise TypeError(f"{name} must be a str or a list of str, got {type(texts).__name__}: {texts!r:.80}")


def check_flag(name, value):
    """TypeError unless value is True or False (numpy bools too)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r:.80}")
    return bool(value)


def check_top_k(top_k, allow_none=False):
    """ValueError unless top_k is an int >= 1 (or None, when allowed)."""
    if top_k is None and allow_none:
        return
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
        raise ValueError(f"top_k must be an int >= 1, got {top_k!r:.80}")


def max_input_length(model, tokenizer):
    """The most tokens one input may have: the smaller of the model's and the tokenizer's limits."""
    return min(model.config.max_position_embeddings, tokenizer.model_max_length)


def encode_or_truncate(tok, texts, pairs, max_length, truncation, single=False, name="inputs"):
    """Tokenise texts (and pairs) for a one-window task; inputs over max_length are cut or refused.

    truncation=True: longer inputs are cut to max_length tokens, with a logged warning saying
    how many tokens were dropped; False: ValueError naming the input and the limit.
    """
    check_flag("truncation", truncation)
    enc = tok(texts, pairs)
    lengths = [len(ids) for ids in enc["input_ids"]]
    over = [(i, n) for i, n in enumerate(lengths) if n > max_length]
    if not over:
        return enc
    i, n = over[0]
    what = name if single else f"{name}[{i}]"
    more = f" (and {len(over) - 1} more input(s))" if len(over) > 1 else ""
    if not truncation:
        raise ValueError(f"{what} has {n} tokens{more}, more than the {max_length} this model takes "
                         f"(max_position_embeddings): shorten or split the text, or pass truncation=True "
                         f"to use its first {max_length} tokens")
    logger.warning("%s has %d tokens%s: only the first %d were used, %d cut (the model's limit, "
                   "max_position_embeddings). Split the text to use all of it, or pass truncation=False "
                   "to get an error instead", what, n, more, max_length, n - max_length)
    return tok(texts, pairs, truncation=True, max_length=max_length)


# %% Windows over long texts ---------------------------------------------------------------------

def window_starts(n, size):
    """Starts of windows of `size` tokens over n tokens, neighbours overlapping by half a window."""
    if n <= size:
        return [0]
    step = max(1, size // 2)
    starts = list(range(0, n - size, step))
    return starts + [n - size]


def central_window(position, starts, size):
    """Index of the window in which `position` has the most context on its shorter side (the first
    such window on a tie). starts: sorted window starts; only the windows that hold `position`
    can win (elsewhere the shorter side is negative), and they end just before it: a few look-ups,
    not one per window (which made a text with many masks quadratic)."""
    last = max(0, bisect.bisect_right(starts, position) - 1)          # the last window starting at or before it
    first = bisect.bisect_right(starts, position - size)              # the first one still holding it
    return max(range(min(first, last), last + 1),
               key=lambda w: (min(position - starts[w], starts[w] + size - 1 - position), -w))


def windows_of_row(row, max_length, cls_id, sep_id):
    """Split one "[CLS] text [SEP]" row into overlapping rows of at most max_length tokens.

    Returns (windows, starts, size): each window a row dict "[CLS] text[s:s+size] [SEP]"
    (input_ids, token_type_ids, start = s), where size = max_length - 2 and positions count
    in the text's tokens (without [CLS]).
    """
    if max_length < 3:
        raise ValueError(f"this model takes at most {max_length} tokens (max_position_embeddings, or the "
                         f"tokenizer's model_max_length): too few for [CLS], one token and [SEP]")
    content = row["input_ids"][1:-1]
    size = max_length - 2
    starts = window_starts(len(content), size)
    windows = [{"input_ids": [cls_id] + list(content[s:s + size]) + [sep_id],
                "token_type_ids": [0] * (len(content[s:s + size]) + 2), "start": s} for s in starts]
    return windows, starts, size


# %% The base class ------------------------------------------------------------------------------

class Pipeline:
    """A task bound to a model and tokenizer; call it like a transformers pipeline.

    Args:
        model: Hub id, folder, or loaded albert_np model (None: the task's default model).
        tokenizer: None (the model's own), a Hub id / folder, or a loaded tokenizer.
        revision, local_files_only: passed to the loaders.
        dtype: "auto" (float32) or float32 / float64.
        batch_size: inputs run together (after sorting by length).
        progress: None (a progress bar for long lists), True or False.
        call_defaults: default options of every call, e.g. top_k=3 (keywords of `run`).
    """

    task = None

    def __init__(self, model=None, tokenizer=None, *, revision=None, dtype="auto", local_files_only=False,
                 batch_size=DEFAULT_BATCH_SIZE, progress=None, **call_defaults):
        takes = inspect.signature(self.run).parameters
        unknown = sorted(set(call_defaults) - set(takes))
        if unknown:
            raise TypeError(f"{type(self).__name__} has no option {', '.join(unknown)}; "
                            f"its calls take {', '.join(takes)}")
        self.model, self.tokenizer = resolve(self.task, model, tokenizer, revision=revision, dtype=dtype,
                                             local_files_only=local_files_only)
        self.batch_size = batch_size
        self.progress = progress
        self.call_defaults = call_defaults

    def __call__(self, *args, **kwargs):
        """Run the task (see `run` for the arguments); options given at construction are the defaults."""
        return self.run(*args, **{**self.call_defaults, **kwargs})

    def _run(self, items, step, size=None, group=None, batch_size=None):
        return run_batched(items, step, size=size or (lambda r: len(r["input_ids"])), group=group,
                           batch_size=batch_size or self.batch_size, progress=self.progress, desc=self.task)

    def _batch(self, rows):
        return pad_batch(rows, self.tokenizer.pad_token_id)

    def __repr__(self):
        return f"{type(self).__name__}(model={self.model!r}, tokenizer={type(self.tokenizer).__name__})"
