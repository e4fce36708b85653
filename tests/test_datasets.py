"""datasets.py: readers (against the sizes in shared/data/SOURCES.md), the task presets, and
example checks with clear errors.
"""
import json
import os

import numpy as np
import pytest

from albert_np.training import datasets

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, "..", "..", "shared", "data")


def shared(*parts):
    path = os.path.join(SHARED, *parts)
    if not os.path.exists(path):
        pytest.skip(f"{path} not found (shared data absent)")
    return path


# --------------------------------------------------------------------------- readers

@pytest.mark.parametrize("task, split, n, label_counts", [
    ("sst2", "dev", 872, {1: 444, 0: 428}),
    ("sst2", "train", 67349, {1: 37569, 0: 29780}),
    ("cola", "train", 8551, {1: 6023, 0: 2528}),
    ("cola", "dev", 1043, {1: 721, 0: 322}),
    ("mrpc", "train", 3668, {1: 2474, 0: 1194}),
    ("mrpc", "dev", 408, {1: 279, 0: 129}),
    ("rte", "train", 2490, {0: 1249, 1: 1241}),
    ("rte", "dev", 277, {0: 146, 1: 131}),
    ("stsb", "dev", 1500, None),
    ("cosmosqa", "dev", 2985, {0: 744, 1: 729, 2: 761, 3: 751}),
])
def test_readers_match_official_sizes(task, split, n, label_counts):
    path = datasets.default_data_file(task, split, SHARED)
    if path is None:
        pytest.skip("shared data absent")
    examples = datasets.load_examples(task, path)
    assert len(examples) == n
    labels = [e["label"] for e in examples]
    if label_counts is None:
        assert min(labels) == 0.0 and max(labels) == 5.0 and all(isinstance(x, float) for x in labels)
    else:
        assert dict(zip(*np.unique(labels, return_counts=True))) == label_counts
    if task == "mrpc" and split == "train":     # the BOM is gone, the text is untokenized
        assert examples[0]["text_a"].startswith("Amrozi accused his brother, whom")
    if task == "cosmosqa":
        assert len(examples[0]["choices"]) == 4


def test_conll_reader_wnut17():
    train = datasets.load_examples("wnut17", shared("ner", "wnut17", "wnut17train.conll"))
    dev = datasets.load_examples("wnut17", shared("ner", "wnut17", "emerging.dev.conll"))
    assert len(train) == 3394 and sum(len(e["tokens"]) for e in train) == 62730
    assert len(dev) == 1009 and sum(len(e["tokens"]) for e in dev) == 15733
    tags = datasets.TASKS["wnut17"].labels
    assert train[0]["tokens"][14:17] == ["Empire", "State", "Building"]
    assert [tags[i] for i in train[0]["labels"][14:17]] == ["B-location", "I-location", "I-location"]


def test_squad_reader_and_article_split(tmp_path):
    path = shared("squad", "dev-v1.1.json")
    assert len(datasets.load_examples("squad", path)) == 10570
    counts = datasets.split_squad_by_article(path, 2, tmp_path / "tr.json", tmp_path / "dev.json")
    assert counts == (810 + 247, 10570 - 810 - 247)
    tr = datasets.read_squad(tmp_path / "tr.json")
    dv = datasets.read_squad(tmp_path / "dev.json")
    assert {e["title"] for e in tr} == {"Super_Bowl_50", "Warsaw"}
    assert not {e["context"] for e in tr} & {e["context"] for e in dv}
    first = tr[0]
    a, s = first["answers"]["text"][0], first["answers"]["answer_start"][0]
    assert first["context"][s:s + len(a)] == a == "Denver Broncos"


def test_table_formats_and_column_overrides(tmp_path):
    (tmp_path / "a.csv").write_text('text,sentiment\n"a fine, quoted film",pos\nawful,neg\n')
    (tmp_path / "a.jsonl").write_text('{"text": "a fine film", "sentiment": "pos"}\n\n'
                                      '{"text": "awful", "sentiment": "neg"}\n')
    task = datasets.get_task("sst2", text_columns="text", label_column="sentiment", labels="neg,pos")
    for name in ("a.csv", "a.jsonl"):
        ex = datasets.load_examples(task, tmp_path / name)
        assert [e["label"] for e in ex] == [1, 0]
    assert datasets.load_examples(task, tmp_path / "a.csv")[0]["text_a"] == "a fine, quoted film"
    # GLUE TSVs have no quoting: a quote is text
    (tmp_path / "q.tsv").write_text('sentence\tlabel\n"quoted" start\t1\n')
    assert datasets.load_examples("sst2", tmp_path / "q.tsv")[0]["text_a"] == '"quoted" start'


def test_lists_and_tuples():
    ex = datasets.load_examples("sst2", [("a fine film", 1), {"sentence": "awful", "label": "0"}])
    assert [(e["text_a"], e["label"]) for e in ex] == [("a fine film", 1), ("awful", 0)]
    ex = datasets.load_examples("rte", [("a man sleeps", "a man is awake", "not_entailment")])
    assert ex[0]["text_b"] == "a man is awake" and ex[0]["label"] == 1
    ex = datasets.load_examples("wnut17", [(["Paris", "rocks"], ["B-location", "O"])])
    assert ex[0]["labels"] == [7, 0]


# --------------------------------------------------------------------------- clear errors

def test_missing_column_names_it_and_the_columns_present(tmp_path):
    (tmp_path / "train.tsv").write_text("text\tlabel\na fine film\t1\n")
    with pytest.raises(ValueError, match=r"column 'sentence' is missing.*\['label', 'text'\]"):
        datasets.load_examples("sst2", tmp_path / "train.tsv")


@pytest.mark.parametrize("example, error, pattern", [
    ({"sentence": "x", "label": 0.5}, TypeError, r"label 0.5, a float.*class id"),
    ({"sentence": "x", "label": "positive"}, ValueError, r"'positive'.*not one of \['0', '1'\]"),
    ({"sentence": "x", "label": 2}, ValueError, r"label id 2, outside 0..1"),
    ({"sentence": "x", "label": [0, 1]}, ValueError, r"shape \(2,\).*one class per example"),
    ({"sentence": "x", "label": True}, TypeError, r"boolean label"),
    ({"sentence": 3, "label": 1}, TypeError, r"'sentence' must hold text"),
])
def test_bad_sequence_labels(example, error, pattern):
    with pytest.raises(error, match=pattern):
        datasets.load_examples("sst2", [example])


def test_bad_regression_and_token_labels():
    with pytest.raises(ValueError, match="regression and needs a number"):
        datasets.load_examples("stsb", [("a", "b", "high")])
    with pytest.raises(ValueError, match="2 words but 1 tags"):
        datasets.load_examples("wnut17", [(["a", "b"], ["O"])])
    with pytest.raises(ValueError, match="'B-city', which is not one of"):
        datasets.load_examples("wnut17", [(["a"], ["B-city"])])
    with pytest.raises(ValueError, match="pass \\(text_a, text_b, label\\)"):
        datasets.load_examples("mrpc", [("only one text", 1)])


def test_unknown_task_and_field():
    with pytest.raises(ValueError, match="unknown task 'sst3'.*sst2"):
        datasets.get_task("sst3")
    with pytest.raises(ValueError, match=r"unknown Task fields \['colour'\]"):
        datasets.get_task("sst2", colour="red")


def test_squad_questions_from_jsonl(tmp_path):
    row = {"id": "x", "question": "where ?", "context": "in paris .",
           "answers": {"text": ["paris"], "answer_start": [3]}}
    (tmp_path / "q.jsonl").write_text(json.dumps(row) + "\n")
    assert datasets.load_examples("squad", tmp_path / "q.jsonl") == [row]
