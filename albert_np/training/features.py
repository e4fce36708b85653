"""Fine-tuning examples -> model inputs, and model outputs -> the task's metrics.

    examples (datasets.py) ─ featurize ─ Features ─ collate ─ batch arrays
                                            └── model outputs ─ task_metrics

featurize tokenises without padding (one feature per example, several windows per
long SQuAD context); collate pads the features of one batch; the batch orders group
similar lengths. postprocess_qa and token_predictions turn logits back into answers
and tags for the metrics.

Shapes: the legend at the top of ops.py (here N counts features: one per example, or one
per window of a long SQuAD context).
"""
import dataclasses
import hashlib
from typing import Optional

import numpy as np

from . import metrics as M
from .datasets import Task, get_task

__all__ = [
    "Features", "featurize", "align_word_labels", "answer_token_span", "collate",
    "length_grouped_batches", "shuffled_batches", "sorted_batches",
    "postprocess_qa", "token_predictions", "task_metrics", "fingerprint",
]

IGNORE_INDEX = -100


# --------------------------------------------------------------------------- features

@dataclasses.dataclass
class Features:
    """Tokenised examples, unpadded, ready for `collate`.

    Attributes:
        task: the Task.
        examples: the examples they came from.
        input_ids, token_type_ids: one list of ints per feature
            (multiple choice: one list of C lists per feature).
        labels: per feature: int class / float score (sequence), list of ints
            with -100 on ignored positions (token), (start, end) (qa), int (choice).
        lengths: (N,) tokens of each feature (multiple choice: the longest choice).
        example_index: (N,) which example a feature came from (several for a
            long SQuAD context).
        offsets: qa only: per feature, per token, (start, end) character span in
            the context, or None for tokens outside the context.
    """
    task: Task
    examples: list
    input_ids: list
    token_type_ids: list
    labels: list
    lengths: np.ndarray
    example_index: np.ndarray
    offsets: Optional[list] = None

    def __len__(self):
        return len(self.input_ids)


def _encode(tokenizer, first, second=None, **kwargs):
    """Tokenise without padding: a BatchEncoding of lists, one row per sequence (or window)."""
    return tokenizer(first, second, padding=False, **kwargs)


def _type_ids(enc, n):
    if "token_type_ids" in enc:
        return [list(map(int, t)) for t in enc["token_type_ids"]]
    return [[0] * len(ids) for ids in enc["input_ids"][:n]]


def featurize(task, examples, tokenizer, max_length=128, doc_stride=128):
    """Tokenise examples for `task` (no padding: `collate` pads each batch).

    sequence: tokenizer(text_a[, text_b], truncation=True, max_length).
    token: words tokenised with is_split_into_words; the tag goes to the first
        sub-token of each word, -100 to the others and to special tokens
        (so the loss and the metric see one prediction per word).
    qa: tokenizer(question, context, truncation="only_second", stride=doc_stride,
        return_overflowing_tokens=True, return_offsets_mapping=True): long
        contexts become several windows overlapping by doc_stride tokens. A window
        that does not contain the whole answer is labelled (0, 0), the [CLS] slot.
    multiple_choice: tokenizer(context, question + " " + choice) for each choice.
    """
    task = get_task(task)
    if not isinstance(max_length, (int, np.integer)) or max_length < 8:
        raise ValueError(f"max_length must be an int >= 8, got {max_length!r}")
    build = {"sequence": _sequence_features, "token": _token_features,
             "qa": _qa_features, "multiple_choice": _choice_features}[task.head]
    return build(task, examples, tokenizer, int(max_length), int(doc_stride))


def _sequence_features(task, examples, tokenizer, max_length, doc_stride):
    first = [e["text_a"] for e in examples]
    pairs = [e["text_b"] is not None for e in examples]
    if any(pairs) and not all(pairs):
        raise ValueError(f"task {task.name}: some examples have a second text and some do not")
    second = [e["text_b"] for e in examples] if all(pairs) else None
    enc = _encode(tokenizer, first, second, truncation=True, max_length=max_length)
    ids = [list(map(int, x)) for x in enc["input_ids"]]
    return Features(task, examples, ids, _type_ids(enc, len(ids)), [e["label"] for e in examples],
                    np.array([len(x) for x in ids], dtype=np.int64),
                    np.arange(len(ids), dtype=np.int64))


def _token_features(task, examples, tokenizer, max_length, doc_stride):
    enc = _encode(tokenizer, [e["tokens"] for e in examples], is_split_into_words=True,
                  truncation=True, max_length=max_length)
    ids = [list(map(int, x)) for x in enc["input_ids"]]
    labels = []
    for i, e in enumerate(examples):
        labels.append(align_word_labels(enc.word_ids(i), e["labels"]))
    return Features(task, examples, ids, _type_ids(enc, len(ids)), labels,
                    np.array([len(x) for x in ids], dtype=np.int64),
                    np.arange(len(ids), dtype=np.int64))


def align_word_labels(word_ids, word_labels):
    """Token labels from word labels: the first sub-token of a word gets its label.

    word_ids: per token, the index of its word, or None for special tokens.
    Returns a list with word_labels[w] at each word's first token and -100 elsewhere.
    Example: word_ids [None, 0, 0, 1, None], labels [3, 5] -> [-100, 3, -100, 5, -100].
    """
    out, previous = [], None
    for w in word_ids:
        if w is None or w == previous:
            out.append(IGNORE_INDEX)
        else:
            out.append(int(word_labels[w]))
        previous = w
    return out


def _qa_features(task, examples, tokenizer, max_length, doc_stride):
    questions = [e["question"].lstrip() for e in examples]     # leading spaces only waste tokens
    contexts = [e["context"] for e in examples]
    enc = _encode(tokenizer, questions, contexts, truncation="only_second", max_length=max_length,
                  stride=doc_stride, return_overflowing_tokens=True, return_offsets_mapping=True)
    ids = [list(map(int, x)) for x in enc["input_ids"]]
    n = len(ids)
    if "overflow_to_sample_mapping" in enc:
        sample = np.asarray(enc["overflow_to_sample_mapping"], dtype=np.int64)
    else:
        sample = np.arange(n, dtype=np.int64)
    labels, offsets = [], []
    for i in range(n):
        seq = enc.sequence_ids(i)
        spans = [tuple(map(int, o)) if s == 1 else None for o, s in zip(enc["offset_mapping"][i], seq)]
        offsets.append(spans)
        labels.append(answer_token_span(spans, examples[sample[i]]["answers"]))
    return Features(task, examples, ids, _type_ids(enc, n), labels,
                    np.array([len(x) for x in ids], dtype=np.int64), sample, offsets)


def answer_token_span(offsets, answers):
    """(start, end) token indices of the first answer in a window, or (0, 0).

    offsets: per token, (char start, char end) in the context or None outside it.
    (0, 0) points at [CLS]: the answer is not (wholly) inside this window.
    """
    start_char = answers["answer_start"][0]
    end_char = start_char + len(answers["text"][0])
    inside = [t for t, o in enumerate(offsets) if o is not None]
    if not inside:
        return (0, 0)
    first, last = inside[0], inside[-1]
    if not (offsets[first][0] <= start_char and offsets[last][1] >= end_char):
        return (0, 0)
    start = first
    while start + 1 <= last and offsets[start + 1] is not None and offsets[start + 1][0] <= start_char:
        start += 1
    end = last
    while end - 1 >= start and offsets[end - 1] is not None and offsets[end - 1][1] >= end_char:
        end -= 1
    return (start, end)


def _choice_features(task, examples, tokenizer, max_length, doc_stride):
    C = len(examples[0]["choices"])
    if any(len(e["choices"]) != C for e in examples):
        raise ValueError(f"task {task.name}: every example needs the same number of choices ({C})")
    first = [e["context"] for e in examples for _ in range(C)]
    second = [f"{e['question']} {c}" for e in examples for c in e["choices"]]
    enc = _encode(tokenizer, first, second, truncation=True, max_length=max_length)
    flat_ids = [list(map(int, x)) for x in enc["input_ids"]]
    flat_types = _type_ids(enc, len(flat_ids))
    ids = [flat_ids[k * C:(k + 1) * C] for k in range(len(examples))]
    types = [flat_types[k * C:(k + 1) * C] for k in range(len(examples))]
    return Features(task, examples, ids, types, [e["label"] for e in examples],
                    np.array([max(len(c) for c in x) for x in ids], dtype=np.int64),
                    np.arange(len(ids), dtype=np.int64))


def fingerprint(features):
    """A sha256 hex digest of features' input_ids, token_type_ids and labels, in order.

    Two runs with the same digest train on the same token ids with the same label ids: checked
    when a run resumes (another file, another label order, another tokenizer or max_length would
    silently train on other targets) and across MPI ranks.
    """
    h = hashlib.sha256(features.task.head.encode())
    for name in ("input_ids", "token_type_ids", "labels"):
        flat = [_ravel(r) for r in getattr(features, name)]
        h.update(name.encode())
        h.update(np.array([len(r) for r in flat], dtype=np.int64).tobytes())
        h.update(np.concatenate(flat).tobytes() if flat else b"")
    return h.hexdigest()


def _ravel(row):
    """The numbers of a feature's row as one float64 array; a list of lists (multiple choice)
    as each list's length followed by its numbers, so that the split is hashed too."""
    if isinstance(row, (list, tuple)) and row and isinstance(row[0], (list, tuple)):
        return np.concatenate([np.concatenate([[len(r)], np.asarray(r, dtype=np.float64)]) for r in row])  # float64 ok
    return np.asarray(row, dtype=np.float64).ravel()        # float64 ok: bytes to hash; ids and labels exact


# --------------------------------------------------------------------------- batches

def _pad(rows, length, value):
    out = np.full((len(rows), length), value, dtype=np.int64)
    for r, row in enumerate(rows):
        out[r, :len(row)] = row
    return out


def collate(features, indices, pad_token_id=0):
    """Pad the features at `indices` into one batch of arrays.

    Returns (inputs, labels):
        inputs: input_ids, attention_mask, token_type_ids, int64, (B, T)
            ((B, C, T) for multiple choice), T = the longest feature in the batch.
        labels: {"labels": (B,) int64 / (B,) float32 (regression) / (B, T) int64
            (token, -100 on padding)}, or {"start_positions", "end_positions"} (B,) for qa.
    """
    task = features.task
    idx = [int(i) for i in indices]
    if not idx:
        raise ValueError("collate needs at least one index")
    T = int(features.lengths[idx].max())
    if task.head == "multiple_choice":
        ids = [c for i in idx for c in features.input_ids[i]]
        types = [c for i in idx for c in features.token_type_ids[i]]
        C = len(features.input_ids[idx[0]])
        shape = (len(idx), C, T)
    else:
        ids = [features.input_ids[i] for i in idx]
        types = [features.token_type_ids[i] for i in idx]
        shape = (len(idx), T)
    input_ids = _pad(ids, T, pad_token_id).reshape(shape)
    mask = _pad([[1] * len(r) for r in ids], T, 0).reshape(shape)
    inputs = {"input_ids": input_ids, "attention_mask": mask,
              "token_type_ids": _pad(types, T, 0).reshape(shape)}
    lab = [features.labels[i] for i in idx]
    if task.head == "qa":
        pos = np.array(lab, dtype=np.int64).reshape(len(idx), 2)
        return inputs, {"start_positions": pos[:, 0].copy(), "end_positions": pos[:, 1].copy()}
    if task.head == "token":
        return inputs, {"labels": _pad(lab, T, IGNORE_INDEX)}
    if task.is_regression:
        return inputs, {"labels": np.array(lab, dtype=np.float32)}
    return inputs, {"labels": np.array(lab, dtype=np.int64)}


def length_grouped_batches(lengths, batch_size, rng, bucket_batches=50):
    """A shuffled epoch of batches in which similar lengths share a batch.

    Shuffle all indices; cut them into buckets of batch_size * bucket_batches;
    sort each bucket by length (longest first); cut it into batches; shuffle
    the batches. Padding shrinks while the order stays random.
    Returns a list of int64 index arrays.
    """
    lengths = np.asarray(lengths)
    order = rng.permutation(len(lengths))
    bucket = batch_size * max(1, int(bucket_batches))
    batches = []
    for start in range(0, len(order), bucket):
        idx = order[start:start + bucket]
        idx = idx[np.argsort(-lengths[idx], kind="stable")]
        batches += [idx[i:i + batch_size] for i in range(0, len(idx), batch_size)]
    return [batches[i].astype(np.int64) for i in rng.permutation(len(batches))]


def shuffled_batches(n, batch_size, rng):
    """A shuffled epoch of batches without length grouping."""
    order = rng.permutation(n)
    return [order[i:i + batch_size].astype(np.int64) for i in range(0, n, batch_size)]


def sorted_batches(lengths, batch_size):
    """Evaluation batches: indices sorted by length, so little padding; no randomness."""
    order = np.argsort(np.asarray(lengths), kind="stable")
    return [order[i:i + batch_size].astype(np.int64) for i in range(0, len(order), batch_size)]


# --------------------------------------------------------------------------- metrics

def postprocess_qa(features, start_logits, end_logits, n_best=20, max_answer_length=30):
    """Answer text per question id from window start/end scores.

    For every window of a question, take the n_best highest start and end
    tokens; keep pairs inside the context with start <= end and at most
    max_answer_length tokens; score = start_logit + end_logit. The best pair
    over all windows gives the answer: context[char start of start : char end of end].
    start_logits, end_logits: one (T_i,) array per feature (or a padded (N, T) array).
    Returns {question id: answer text} ("" when no valid span).
    """
    best = {}
    for f in range(len(features)):
        offsets = features.offsets[f]
        s_log = np.asarray(start_logits[f])[:len(offsets)]
        e_log = np.asarray(end_logits[f])[:len(offsets)]
        ex = int(features.example_index[f])
        starts = np.argsort(s_log, kind="stable")[::-1][:n_best]
        ends = np.argsort(e_log, kind="stable")[::-1][:n_best]
        for s in starts:
            for e in ends:
                if offsets[s] is None or offsets[e] is None or e < s or e - s + 1 > max_answer_length:
                    continue
                score = float(s_log[s]) + float(e_log[e])
                if ex not in best or score > best[ex][0]:
                    best[ex] = (score, offsets[s][0], offsets[e][1])
    answers = {}
    for k, example in enumerate(features.examples):
        if k in best:
            _, a, b = best[k]
            answers[example["id"]] = example["context"][a:b].strip()
        else:
            answers[example["id"]] = ""
    return answers


def task_metrics(features, outputs):
    """The task's metrics from model outputs on `features`.

    outputs: {"logits": one array per feature} ((num_labels,) sequence,
    (T_i, num_labels) token, (C,) multiple choice) or, for qa,
    {"start_logits", "end_logits"} with one (T_i,) array per feature.
    Returns a dict of floats, including task.main_metric:
        accuracy (sst2, rte, cosmosqa); accuracy, f1 (mrpc);
        matthews_corrcoef, accuracy (cola); pearson, spearman (stsb);
        precision, recall, f1 (wnut17, entity level); exact_match, f1 (squad, percent).
    """
    task = features.task
    if task.head == "qa":
        preds = postprocess_qa(features, outputs["start_logits"], outputs["end_logits"])
        refs = {e["id"]: e["answers"]["text"] for e in features.examples}
        return M.squad_scores(preds, refs)
    logits = outputs["logits"]
    if task.head == "token":
        pred_tags, gold_tags = token_predictions(features, logits)
        scores = M.entity_scores(pred_tags, gold_tags)
        return {"precision": scores["precision"], "recall": scores["recall"], "f1": scores["f1"]}
    if task.is_regression:
        x = np.array([float(np.ravel(l)[0]) for l in logits])
        y = np.array(features.labels, dtype=np.float64)      # float64 ok: metric statistics, not the model
        return {"pearson": M.pearson(x, y), "spearman": M.spearman(x, y)}
    preds = np.array([int(np.argmax(l)) for l in logits])
    gold = np.array(features.labels, dtype=np.int64)
    out = {"accuracy": M.accuracy(preds, gold)}
    if task.main_metric == "f1":
        out["f1"] = M.f1(preds, gold)
    if task.main_metric == "matthews_corrcoef":
        out["matthews_corrcoef"] = M.matthews_corrcoef(preds, gold)
    return out


def token_predictions(features, logits):
    """Predicted and gold tag sequences, one tag per labelled (first) sub-token.

    Positions labelled -100 (continuation sub-tokens, specials, padding) are
    dropped from both, so a word cut off by truncation is dropped from both.
    """
    names = features.task.labels
    pred_tags, gold_tags = [], []
    for f, lab in enumerate(features.labels):
        lab = np.asarray(lab)
        keep = np.flatnonzero(lab != IGNORE_INDEX)
        pred = np.argmax(np.asarray(logits[f])[keep], axis=-1)
        pred_tags.append([names[int(p)] for p in pred])
        gold_tags.append([names[int(g)] for g in lab[keep]])
    return pred_tags, gold_tags
