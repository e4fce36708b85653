"""Fine-tuning tasks and their data: what a task is, and how its files become checked examples.

    file / list ─ read_* ─ load_examples ─ examples  (then features.py: featurize, collate, metrics)

A `Task` names the head (sequence, token, qa, multiple_choice), the columns it
reads, its labels and its metric. Presets cover the data in shared/data:

    sst2, cola, mrpc, stsb, rte   GLUE TSVs: one sentence or a pair -> a class (or a score)
    wnut17                         CoNLL token tagging (BIO tags), seqeval-style entity F1
    squad                          SQuAD v1.1 JSON: answer spans, EM / F1
    cosmosqa                       multiple choice CSV (context, question, answer0..3, label)

Examples in memory are plain dicts with the task's column names, e.g.
{"sentence": "a fine film", "label": 1} for sst2, so a list and a file read
the same way. Sequence tasks also take tuples (text, label) or
(text_a, text_b, label); wnut17 takes (tokens, tags).
"""
import csv
import dataclasses
import io
import json
import logging
import math
import os
from typing import Optional

import numpy as np

from ..io import atomic_write_text, parse_json, read_json, read_text

logger = logging.getLogger(__name__)

__all__ = [
    "Task", "TASKS", "WNUT17_TAGS", "get_task", "default_data_file",
    "read_table", "read_conll", "read_squad", "split_squad_by_article", "load_examples", "check_answer_starts",
]

FINETUNING_HEADS = ("sequence", "token", "qa", "multiple_choice")   # the heads a Task can train
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
                         f"(or pass a datasets.Task)")
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
    if task.head not in FINETUNING_HEADS:
        raise ValueError(f"task head must be one of {FINETUNING_HEADS}, got {task.head!r}")
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
    text = read_text(path, "utf-8-sig")             # ValueError naming the file and line if not UTF-8
    if format == "jsonl":
        return _read_jsonl(io.StringIO(text, newline=""), path)
    f = io.StringIO(text, newline="")
    reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE) if format == "tsv" else csv.reader(f)
    try:
        lines = list(reader)
    except csv.Error as e:
        raise ValueError(f"{path}, line {reader.line_num}: {e} (the csv module's limit is "
                         f"{csv.field_size_limit():,} characters a field). A quote that is never closed "
                         f"makes the rest of the file one field: check the quoting there, or shorten "
                         f"that field") from None
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


def _read_jsonl(lines, path):
    rows = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        row = parse_json(line, f"{path}: line {n}")
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
    for n, line in enumerate(io.StringIO(read_text(path, "utf-8-sig"), newline=None), start=1):
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
    A missing key or a value of the wrong kind raises ValueError naming the file and where
    (e.g. data[3].paragraphs[0].qas[7] has no 'question').
    """
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise ValueError(f"{path} is not a SQuAD file: expected a JSON object with a 'data' list")
    indexed = list(enumerate(data["data"]))
    if isinstance(articles, slice):
        indexed = indexed[articles]
    elif articles is not None:
        indexed = [indexed[i] for i in articles]
    out = []
    for a, doc in indexed:
        where = f"{path}: data[{a}]"
        for p, para in enumerate(_squad_field(doc, "paragraphs", list, where)):
            at = f"{where}.paragraphs[{p}]"
            context = _squad_field(para, "context", str, at)
            for q, qa in enumerate(_squad_field(para, "qas", list, at)):
                here = f"{at}.qas[{q}]"
                answers = _squad_field(qa, "answers", list, here)
                starts = []
                for k, ans in enumerate(answers):
                    _squad_field(ans, "text", str, f"{here}.answers[{k}]")
                    start = _squad_field(ans, "answer_start", (int, str), f"{here}.answers[{k}]")
                    try:
                        starts.append(int(start))
                    except ValueError:
                        raise ValueError(f"{here}.answers[{k}]: answer_start {start!r:.40} is not a character "
                                         f"index") from None
                out.append({
                    "id": _squad_field(qa, "id", (str, int), here), "title": doc.get("title", ""),
                    "question": _squad_field(qa, "question", str, here), "context": context,
                    "answers": {"text": [ans["text"] for ans in answers], "answer_start": starts},
                })
    return out


def _squad_field(obj, key, kind, where):
    """obj[key], checked to be of `kind`; ValueError naming where in the file it is missing or wrong."""
    if not isinstance(obj, dict):
        raise ValueError(f"{where} should be a JSON object (SQuAD v1.1 layout), got {type(obj).__name__}")
    if key not in obj:
        raise ValueError(f"{where} has no {key!r} (it has {sorted(obj)[:10]}): a SQuAD v1.1 file has "
                         f"data[].paragraphs[].context and .qas[] with id, question and "
                         f"answers[] of text and answer_start")
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise ValueError(f"{where}: {key!r} should be a {names}, got {type(value).__name__} {value!r:.60}")
    return value


def split_squad_by_article(path, n_train_articles, train_out, dev_out):
    """Write two SQuAD files: the first n articles (train) and the rest (dev).

    Splitting by article keeps every paragraph of an article on one side, so no
    dev context is seen in training. Returns (train questions, dev questions).
    """
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise ValueError(f"{path} is not a SQuAD file: expected a JSON object with a 'data' list")
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
    examples = [convert(task, row, i, where) for i, row in enumerate(rows)]
    if task.head == "qa":
        check_answer_starts(examples, where)
    return examples


MAX_MISPLACED_ANSWERS = 0.05     # share of SQuAD examples whose answer may be elsewhere than answer_start


def check_answer_starts(examples, where):
    """Count the SQuAD examples with an answer that is not at its answer_start in the context.

    Such an example trains every window as "no answer" (features.answer_token_span finds no span).
    A few: a warning naming them; more than MAX_MISPLACED_ANSWERS of the examples: ValueError
    (the file's offsets are wrong, e.g. counted in bytes, or after another normalisation).
    Returns the indices of the misplaced examples.
    """
    bad = [i for i, e in enumerate(examples)
           if any(not 0 <= s <= len(e["context"]) or e["context"][s:s + len(t)] != t
                  for t, s in zip(e["answers"]["text"], e["answers"]["answer_start"]))]
    if not bad:
        return bad
    e = examples[bad[0]]
    t, s = e["answers"]["text"][0], e["answers"]["answer_start"][0]
    first = (f"e.g. example {bad[0]} (id {e['id']}): answer {t!r:.40} at character {s}, where the context has "
             f"{e['context'][s:s + len(t)]!r:.40}")
    share = len(bad) / len(examples)
    message = (f"{where}: {len(bad)} of {len(examples)} examples ({share:.1%}) have an answer that is not at its "
               f"answer_start in the context ({first})")
    if share > MAX_MISPLACED_ANSWERS:
        raise ValueError(f"{message}. Over {MAX_MISPLACED_ANSWERS:.0%}: the offsets are wrong (counted in bytes, "
                         f"or in another version of the contexts?); such examples would train as 'no answer'. "
                         f"Fix answer_start (a character index into context)")
    logger.warning("%s: they train as 'no answer'", message)
    return bad


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
