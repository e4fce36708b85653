"""Fine-tuning tasks: what a task is, how its files are read, how its examples
become model inputs, and how its predictions become metrics.

    file / list ─ read_* ─ load_examples ─ featurize ─ Features ─ collate ─ batch arrays
                                                          └── model outputs ─ task_metrics

A `Task` names the head (sequence, token, qa, multiple_choice), the columns it
reads, its labels and its metric. Presets cover the data in shared/data:

    sst2, cola, mrpc, stsb, rte   GLUE TSVs: one sentence or a pair -> a class (or a score)
    wnut17                         CoNLL token tagging (BIO tags), seqeval-style entity F1
    squad                          SQuAD v1.1 JSON: answer spans, EM / F1
    cosmosqa                       multiple choice CSV (context, question, answer0..3, label)

Dimension legend: B batch, T tokens, C choices, N features (windows for SQuAD).

Examples in memory are plain dicts with the task's column names, e.g.
{"sentence": "a fine film", "label": 1} for sst2, so a list and a file read
the same way. Sequence tasks also take tuples (text, label) or
(text_a, text_b, label); wnut17 takes (tokens, tags).
"""
import csv
import dataclasses
import json
import logging
import math
import os
from typing import Optional

import numpy as np

from . import metrics as M

logger = logging.getLogger(__name__)

__all__ = [
    "Task", "TASKS", "WNUT17_TAGS", "get_task", "default_data_file",
    "read_table", "read_conll", "read_squad", "split_squad_by_article",
    "load_examples", "Features", "featurize", "align_word_labels", "answer_token_span", "collate",
    "length_grouped_batches", "shuffled_batches", "sorted_batches",
    "postprocess_qa", "token_predictions", "task_metrics",
]

IGNORE_INDEX = -100
HEADS = ("sequence", "token", "qa", "multiple_choice")
DATA_ENV = "ALBERT_NP_DATA"


# --------------------------------------------------------------------------- tasks

@dataclasses.dataclass(frozen=True)
class Task:
    """A fine-tuning task: head, columns, labels and metric.

    Attributes:
        name: preset name ("sst2", ...).
        head: "sequence", "token", "qa" or "multiple_choice" (the model class).
        format: file format, "tsv", "csv", "jsonl", "conll" or "squad".
        text_columns: columns holding the text; one or two for sequence tasks,
            (context, question) for multiple choice.
        label_column: column holding the label (or the tags for token tasks).
        labels: label names in id order; None for regression (one float output).
        choice_columns: multiple choice: the columns of the candidate answers.
        column_names: names for a file without a header row (CoLA); None if it has one.
        main_metric: the key of the metric dict used to pick the best checkpoint.
        files: default (train, dev) paths relative to the data folder.
    """
    name: str
    head: str
    format: str
    text_columns: tuple = ()
    label_column: Optional[str] = "label"
    labels: Optional[tuple] = ("0", "1")
    choice_columns: tuple = ()
    column_names: Optional[tuple] = None
    main_metric: str = "accuracy"
    files: tuple = (None, None)

    @property
    def num_labels(self):
        """Outputs of the head: classes, 1 for regression, 2 (start, end) for QA, 1 per choice."""
        if self.head == "qa":
            return 2
        if self.head == "multiple_choice":
            return 1
        return 1 if self.labels is None else len(self.labels)

    @property
    def is_regression(self):
        return self.head == "sequence" and self.labels is None


WNUT17_TAGS = ("O", "B-corporation", "I-corporation", "B-creative-work", "I-creative-work",
               "B-group", "I-group", "B-location", "I-location", "B-person", "I-person",
               "B-product", "I-product")

TASKS = {t.name: t for t in (
    Task("sst2", "sequence", "tsv", ("sentence",), "label", ("0", "1"),
         main_metric="accuracy", files=("glue/SST-2/train.tsv", "glue/SST-2/dev.tsv")),
    Task("cola", "sequence", "tsv", ("sentence",), "label", ("0", "1"),
         column_names=("source", "label", "original_label", "sentence"),
         main_metric="matthews_corrcoef", files=("glue/CoLA/train.tsv", "glue/CoLA/dev.tsv")),
    Task("mrpc", "sequence", "tsv", ("#1 String", "#2 String"), "Quality", ("0", "1"),
         main_metric="f1", files=("glue/MRPC/train.tsv", "glue/MRPC/dev.tsv")),
    Task("stsb", "sequence", "tsv", ("sentence1", "sentence2"), "score", None,
         main_metric="spearman", files=("glue/STS-B/train.tsv", "glue/STS-B/dev.tsv")),
    Task("rte", "sequence", "tsv", ("sentence1", "sentence2"), "label",
         ("entailment", "not_entailment"),
         main_metric="accuracy", files=("glue/RTE/train.tsv", "glue/RTE/dev.tsv")),
    Task("wnut17", "token", "conll", ("tokens",), "tags", WNUT17_TAGS,
         main_metric="f1",
         files=("ner/wnut17/wnut17train.conll", "ner/wnut17/emerging.dev.conll")),
    Task("squad", "qa", "squad", ("question", "context"), "answers", None,
         main_metric="f1", files=(None, "squad/dev-v1.1.json")),
    Task("cosmosqa", "multiple_choice", "csv", ("context", "question"), "label",
         ("0", "1", "2", "3"), choice_columns=("answer0", "answer1", "answer2", "answer3"),
         main_metric="accuracy", files=(None, "multiple_choice/cosmosqa/valid.csv")),
)}


def get_task(task, **overrides):
    """A preset by name (or a Task), with fields replaced by `overrides`.

    get_task("sst2", text_columns=("text",), label_column="sentiment",
             labels=("neg", "pos"), format="csv") reads your own CSV as SST-2.
    None values in overrides are ignored, so CLI defaults pass straight through.
    """
    if isinstance(task, Task):
        base = task
    elif task in TASKS:
        base = TASKS[task]
    else:
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TASKS)} "
                         f"(or pass a data.Task)")
    overrides = {k: v for k, v in overrides.items() if v is not None}
    for key in ("text_columns", "labels", "choice_columns", "column_names"):
        if isinstance(overrides.get(key), str):
            overrides[key] = tuple(s.strip() for s in overrides[key].split(","))
        elif key in overrides:
            overrides[key] = tuple(overrides[key])
    fields = {f.name for f in dataclasses.fields(Task)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"unknown Task fields {unknown}; the fields are {sorted(fields)}")
    task = dataclasses.replace(base, **overrides)
    if task.head not in HEADS:
        raise ValueError(f"task head must be one of {HEADS}, got {task.head!r}")
    return task


def default_data_file(task, split, data_dir=None):
    """Path of a preset's default train/dev file under the data folder, or None.

    The data folder is `data_dir`, else $ALBERT_NP_DATA, else ../shared/data
    relative to the current directory (the repository layout).
    """
    task = get_task(task)
    rel = task.files[{"train": 0, "dev": 1}[split]]
    if rel is None:
        return None
    root = data_dir or os.environ.get(DATA_ENV) or os.path.join("..", "shared", "data")
    path = os.path.join(root, rel)
    return path if os.path.exists(path) else None


# --------------------------------------------------------------------------- readers

def _guess_format(path):
    name = os.fspath(path).lower()
    for suffix, fmt in ((".tsv", "tsv"), (".csv", "csv"), (".jsonl", "jsonl"), (".json", "json"),
                        (".conll", "conll"), (".annotated", "conll")):
        if name.endswith(suffix):
            return fmt
    return None


def read_table(path, format=None, column_names=None):
    """Rows of a TSV, CSV or JSONL file as a list of dicts column -> string/value.

    TSV is read as GLUE's reader does: tab-separated, no quoting (quotes are
    text). CSV uses standard quoting. A UTF-8 byte-order mark is dropped.
    column_names: names for a file without a header row (the first line is
    then data); None reads them from the first line. JSONL: one JSON object a line.
    """
    format = format or _guess_format(path)
    if format not in ("tsv", "csv", "jsonl"):
        raise ValueError(f"{path}: cannot read format {format!r}; use tsv, csv or jsonl")
    with open(path, encoding="utf-8-sig", newline="") as f:
        if format == "jsonl":
            return _read_jsonl(f, path)
        if format == "tsv":
            reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        else:
            reader = csv.reader(f)
        lines = list(reader)
    if column_names is None:
        if not lines:
            raise ValueError(f"{path} is empty; expected a header row of column names")
        column_names, lines = lines[0], lines[1:]
    column_names = list(column_names)
    rows = []
    for n, line in enumerate(lines, start=1):
        if not line or (len(line) == 1 and not line[0].strip()):
            continue                                     # blank line
        if len(line) != len(column_names):
            raise ValueError(f"{path}: data row {n} has {len(line)} fields but there are "
                             f"{len(column_names)} columns {column_names}; is the format "
                             f"({format}) right?")
        rows.append(dict(zip(column_names, line)))
    return rows


def _read_jsonl(f, path):
    rows = []
    for n, line in enumerate(f, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: line {n} is not valid JSON ({e})") from e
        if not isinstance(row, dict):
            raise ValueError(f"{path}: line {n} holds a {type(row).__name__}, expected a JSON object")
        rows.append(row)
    return rows


def read_conll(path, token_column=0, tag_column=-1):
    """Sentences of a CoNLL file: [{"tokens": [...], "tags": [...]}, ...].

    One token per line, fields separated by tabs (or spaces when there is no
    tab); a blank or whitespace-only line ends a sentence.
    """
    sentences, tokens, tags = [], [], []
    with open(path, encoding="utf-8-sig") as f:
        for n, line in enumerate(f, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                if tokens:
                    sentences.append({"tokens": tokens, "tags": tags})
                tokens, tags = [], []
                continue
            fields = line.split("\t") if "\t" in line else line.split()
            if len(fields) < 2:
                raise ValueError(f"{path}: line {n} ({line!r}) has no tag; expected 'token<TAB>tag'")
            tokens.append(fields[token_column])
            tags.append(fields[tag_column].strip())
    if tokens:
        sentences.append({"tokens": tokens, "tags": tags})
    return sentences


def read_squad(path, articles=None):
    """Questions of a SQuAD v1.1 JSON file, one dict each.

    {"id", "title", "question", "context", "answers": {"text": [...], "answer_start": [...]}}
    articles: None for all, or a slice / list of article indices (split by article).
    """
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict) or "data" not in data:
        raise ValueError(f"{path} is not a SQuAD file: expected a JSON object with a 'data' list")
    docs = data["data"]
    if isinstance(articles, slice):
        docs = docs[articles]
    elif articles is not None:
        docs = [docs[i] for i in articles]
    out = []
    for doc in docs:
        for para in doc["paragraphs"]:
            for qa in para["qas"]:
                out.append({
                    "id": qa["id"], "title": doc.get("title", ""), "question": qa["question"],
                    "context": para["context"],
                    "answers": {"text": [a["text"] for a in qa["answers"]],
                                "answer_start": [int(a["answer_start"]) for a in qa["answers"]]},
                })
    return out


def split_squad_by_article(path, n_train_articles, train_out, dev_out):
    """Write two SQuAD files: the first n articles (train) and the rest (dev).

    Splitting by article keeps every paragraph of an article on one side, so no
    dev context is seen in training. Returns (train questions, dev questions).
    """
    from .io import atomic_write_text
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    n = len(data["data"])
    if not 0 < n_train_articles < n:
        raise ValueError(f"n_train_articles must be in [1, {n - 1}] ({path} has {n} articles), "
                         f"got {n_train_articles}")
    counts = []
    for out, docs in ((train_out, data["data"][:n_train_articles]),
                      (dev_out, data["data"][n_train_articles:])):
        atomic_write_text(out, json.dumps({"version": data.get("version", "1.1"), "data": docs}))
        counts.append(sum(len(p["qas"]) for d in docs for p in d["paragraphs"]))
    return tuple(counts)


# --------------------------------------------------------------------------- examples

def load_examples(task, source, limit=None):
    """Examples of `task` from a file path or a list, checked and normalised.

    Returns a list of dicts:
        sequence         {"text_a", "text_b" (or None), "label" (int id, or float)}
        token            {"tokens": [str], "labels": [int id]}
        qa               {"id", "question", "context", "answers": {"text", "answer_start"}}
        multiple_choice  {"context", "question", "choices": [str], "label": int}
    limit: keep the first `limit` examples.
    Raises ValueError naming a missing column and the columns present, or a
    label outside the task's labels; TypeError for a label of the wrong kind.
    """
    task = get_task(task)
    where = os.fspath(source) if isinstance(source, (str, os.PathLike)) else "examples"
    rows = _read_rows(task, source)
    if limit is not None:
        if limit < 1:
            raise ValueError(f"limit must be a positive number of examples, got {limit}")
        rows = rows[:limit]
    if not rows:
        raise ValueError(f"{where}: no examples")
    convert = {"sequence": _sequence_example, "token": _token_example,
               "qa": _qa_example, "multiple_choice": _choice_example}[task.head]
    return [convert(task, row, i, where) for i, row in enumerate(rows)]


def _read_rows(task, source):
    if isinstance(source, (str, os.PathLike)):
        fmt = _guess_format(source) or task.format
        if task.format == "squad" and fmt != "jsonl":      # SQuAD JSON (or one question a line)
            return read_squad(source)
        if fmt == "conll":
            return read_conll(source)
        if fmt not in ("tsv", "csv", "jsonl"):
            raise ValueError(f"{source}: cannot read {fmt!r} files for task {task.name}; "
                             f"use tsv, csv, jsonl (or conll for tagging)")
        # a header-less preset (CoLA) names its columns only for files in its own format
        return read_table(source, fmt, task.column_names if fmt == task.format else None)
    if isinstance(source, dict):
        raise TypeError("pass examples as a list of dicts (one per example), not a dict")
    return [_row_from_tuple(task, r) if isinstance(r, (tuple, list)) else r for r in source]


def _row_from_tuple(task, row):
    """(text, label) / (text_a, text_b, label) / (tokens, tags) -> a dict with the task's columns."""
    cols = list(task.text_columns) + [task.label_column]
    if task.head == "sequence" and len(row) == 2 and len(task.text_columns) == 2:
        raise ValueError(f"task {task.name} reads sentence pairs: pass (text_a, text_b, label), "
                         f"got a 2-tuple {tuple(row)!r}")
    if len(row) != len(cols):
        raise ValueError(f"an example tuple for {task.name} must have {len(cols)} items "
                         f"{tuple(cols)}, got {len(row)}: {tuple(row)!r}")
    return dict(zip(cols, row))


def _get(row, column, i, where):
    if not isinstance(row, dict):
        raise TypeError(f"{where}: example {i} is a {type(row).__name__}; pass dicts column -> value")
    if column not in row:
        raise ValueError(f"{where}: column {column!r} is missing (example {i}); the columns "
                         f"present are {sorted(row)}. Name the columns of your file with "
                         f"text_columns= / label_column= (CLI: --text-columns, --label-column).")
    return row[column]


def _class_id(task, value, i, where):
    """A class label (name or int id) -> its int id, with a clear error."""
    names = task.labels
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{where}: example {i} has a boolean label {value!r}; "
                        f"use a class id in 0..{len(names) - 1} or one of {list(names)}")
    if isinstance(value, (int, np.integer)):
        if not 0 <= value < len(names):
            raise ValueError(f"{where}: example {i} has label id {value}, outside 0..{len(names) - 1} "
                             f"(task {task.name} has labels {list(names)})")
        return int(value)
    if isinstance(value, str):
        v = value.strip()
        if v in names:
            return names.index(v)
        raise ValueError(f"{where}: example {i} has label {value!r}, which is not one of "
                         f"{list(names)} (task {task.name}); pass labels= to name your classes")
    kind = "a float" if isinstance(value, (float, np.floating)) else f"a {type(value).__name__}"
    raise TypeError(f"{where}: example {i} has label {value!r}, {kind}; task {task.name} is "
                    f"classification: give a class id (int) or a name in {list(names)}")


def _float_label(task, value, i, where):
    if isinstance(value, (list, tuple, dict, np.ndarray)):
        raise TypeError(f"{where}: example {i} has label {value!r}; task {task.name} is regression "
                        f"and needs one number per example")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: example {i} has label {value!r}; task {task.name} is regression "
                         f"and needs a number") from None
    if not math.isfinite(x):
        raise ValueError(f"{where}: example {i} has a non-finite label {value!r}")
    return x


def _text(value, column, i, where):
    if not isinstance(value, str):
        raise TypeError(f"{where}: example {i}: column {column!r} must hold text, got "
                        f"{type(value).__name__} {value!r}")
    return value


def _sequence_example(task, row, i, where):
    if not 1 <= len(task.text_columns) <= 2:
        raise ValueError(f"task {task.name}: a sequence task reads one or two text columns, "
                         f"got {task.text_columns}")
    texts = [_text(_get(row, c, i, where), c, i, where) for c in task.text_columns]
    raw = _get(row, task.label_column, i, where)
    if isinstance(raw, (list, tuple, dict, np.ndarray)) and not task.is_regression:
        raise ValueError(f"{where}: example {i} has label {raw!r} of shape {np.shape(raw)}; "
                         f"task {task.name} needs one class per example")
    label = _float_label(task, raw, i, where) if task.is_regression else _class_id(task, raw, i, where)
    return {"text_a": texts[0], "text_b": texts[1] if len(texts) == 2 else None, "label": label}


def _token_example(task, row, i, where):
    tokens = _get(row, task.text_columns[0], i, where)
    tags = _get(row, task.label_column, i, where)
    if isinstance(tokens, str) or not all(isinstance(t, str) for t in tokens):
        raise TypeError(f"{where}: example {i}: {task.text_columns[0]!r} must be a list of words "
                        f"(strings), got {tokens!r}")
    if isinstance(tags, str) or np.ndim(tags) != 1:
        raise ValueError(f"{where}: example {i}: {task.label_column!r} must be a list with one tag "
                         f"per word, got {tags!r}")
    if len(tags) != len(tokens):
        raise ValueError(f"{where}: example {i} has {len(tokens)} words but {len(tags)} tags; "
                         f"give exactly one tag per word")
    return {"tokens": list(tokens), "labels": [_class_id(task, t, i, where) for t in tags]}


def _qa_example(task, row, i, where):
    context = _text(_get(row, "context", i, where), "context", i, where)
    question = _text(_get(row, "question", i, where), "question", i, where)
    answers = _get(row, task.label_column, i, where)
    if not isinstance(answers, dict) or "text" not in answers or "answer_start" not in answers:
        raise ValueError(f"{where}: example {i}: answers must be a dict with 'text' and "
                         f"'answer_start' lists (SQuAD layout), got {answers!r}")
    texts, starts = list(answers["text"]), [int(s) for s in answers["answer_start"]]
    if not texts or len(texts) != len(starts):
        raise ValueError(f"{where}: example {i} needs at least one answer, with one answer_start "
                         f"per text; got {len(texts)} texts and {len(starts)} starts")
    for t, s in zip(texts, starts):
        if context[s:s + len(t)] != t:
            logger.debug("%s: example %s: answer %r not at character %d of the context", where, i, t, s)
    return {"id": str(row.get("id", i)), "question": question, "context": context,
            "answers": {"text": texts, "answer_start": starts}}


def _choice_example(task, row, i, where):
    context_col, question_col = task.text_columns
    context = _text(_get(row, context_col, i, where), context_col, i, where)
    question = _text(_get(row, question_col, i, where), question_col, i, where)
    choices = [_text(_get(row, c, i, where), c, i, where) for c in task.choice_columns]
    if len(choices) < 2:
        raise ValueError(f"task {task.name}: multiple choice needs at least 2 choice_columns, "
                         f"got {task.choice_columns}")
    labels = task.labels or tuple(str(k) for k in range(len(choices)))
    raw = _get(row, task.label_column, i, where)
    label = _class_id(dataclasses.replace(task, labels=labels), raw, i, where)
    return {"context": context, "question": question, "choices": choices, "label": label}


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
