"""data.py: readers (against the sizes in shared/data/SOURCES.md), example checks
with clear errors, featurisation (label alignment, SQuAD windows), batching, and
the metric wiring of every task (against the metric functions applied to
predictions computed independently, through the tokenizer's own padding).
"""
import json
import os

import numpy as np
import pytest

from albert_np import data
from albert_np import metrics as M
from albert_np.config import AlbertConfig
from albert_np.finetune import evaluate, model_class

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, "..", "..", "shared", "data")
FIXTURE_TOKENIZER = os.path.join(HERE, "fixtures", "tokenizer")

WORDS = ("the a film movie was is good great bad awful fine plot actor actors story dull "
         "funny boring brilliant terrible cast script music director scene scenes paris city "
         "river london france capital people new york london team won lost game season "
         "player played question answer who what where when why how many first year").split()


def make_tokenizer(folder):
    """The fixture tokenizer when present, else a tiny one trained on generated text."""
    from albert_np.tokenization import AlbertTokenizerFast, train_tokenizer
    if os.path.isfile(os.path.join(FIXTURE_TOKENIZER, "spiece.model")):
        return AlbertTokenizerFast.from_pretrained(FIXTURE_TOKENIZER)
    rng = np.random.default_rng(0)
    corpus = os.path.join(folder, "corpus.txt")
    with open(corpus, "w", encoding="utf-8") as f:
        for _ in range(2000):
            f.write(" ".join(rng.choice(WORDS, size=12)) + " , . ? 1 2 3 1984 - ( )\n")
    path = train_tokenizer([corpus], 200, os.path.join(folder, "sp"), seed=0, num_threads=1,
                           hard_vocab_limit=False)
    return AlbertTokenizerFast(path)


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    return make_tokenizer(str(tmp_path_factory.mktemp("tok")))


def tiny_model(task, tok, seed=0):
    task = data.get_task(task)
    config = AlbertConfig(vocab_size=tok.vocab_size, embedding_size=16, hidden_size=32,
                          num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                          max_position_embeddings=128,
                          num_labels=task.num_labels if task.head in ("sequence", "token") else 2)
    return model_class(task.head)(config, seed=seed)


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
    path = data.default_data_file(task, split, SHARED)
    if path is None:
        pytest.skip("shared data absent")
    examples = data.load_examples(task, path)
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
    train = data.load_examples("wnut17", shared("ner", "wnut17", "wnut17train.conll"))
    dev = data.load_examples("wnut17", shared("ner", "wnut17", "emerging.dev.conll"))
    assert len(train) == 3394 and sum(len(e["tokens"]) for e in train) == 62730
    assert len(dev) == 1009 and sum(len(e["tokens"]) for e in dev) == 15733
    tags = data.TASKS["wnut17"].labels
    assert train[0]["tokens"][14:17] == ["Empire", "State", "Building"]
    assert [tags[i] for i in train[0]["labels"][14:17]] == ["B-location", "I-location", "I-location"]


def test_squad_reader_and_article_split(tmp_path):
    path = shared("squad", "dev-v1.1.json")
    assert len(data.load_examples("squad", path)) == 10570
    counts = data.split_squad_by_article(path, 2, tmp_path / "tr.json", tmp_path / "dev.json")
    assert counts == (810 + 247, 10570 - 810 - 247)
    tr = data.read_squad(tmp_path / "tr.json")
    dv = data.read_squad(tmp_path / "dev.json")
    assert {e["title"] for e in tr} == {"Super_Bowl_50", "Warsaw"}
    assert not {e["context"] for e in tr} & {e["context"] for e in dv}
    first = tr[0]
    a, s = first["answers"]["text"][0], first["answers"]["answer_start"][0]
    assert first["context"][s:s + len(a)] == a == "Denver Broncos"


def test_table_formats_and_column_overrides(tmp_path):
    (tmp_path / "a.csv").write_text('text,sentiment\n"a fine, quoted film",pos\nawful,neg\n')
    (tmp_path / "a.jsonl").write_text('{"text": "a fine film", "sentiment": "pos"}\n\n'
                                      '{"text": "awful", "sentiment": "neg"}\n')
    task = data.get_task("sst2", text_columns="text", label_column="sentiment", labels="neg,pos")
    for name in ("a.csv", "a.jsonl"):
        ex = data.load_examples(task, tmp_path / name)
        assert [e["label"] for e in ex] == [1, 0]
    assert data.load_examples(task, tmp_path / "a.csv")[0]["text_a"] == "a fine, quoted film"
    # GLUE TSVs have no quoting: a quote is text
    (tmp_path / "q.tsv").write_text('sentence\tlabel\n"quoted" start\t1\n')
    assert data.load_examples("sst2", tmp_path / "q.tsv")[0]["text_a"] == '"quoted" start'


def test_lists_and_tuples():
    ex = data.load_examples("sst2", [("a fine film", 1), {"sentence": "awful", "label": "0"}])
    assert [(e["text_a"], e["label"]) for e in ex] == [("a fine film", 1), ("awful", 0)]
    ex = data.load_examples("rte", [("a man sleeps", "a man is awake", "not_entailment")])
    assert ex[0]["text_b"] == "a man is awake" and ex[0]["label"] == 1
    ex = data.load_examples("wnut17", [(["Paris", "rocks"], ["B-location", "O"])])
    assert ex[0]["labels"] == [7, 0]


# --------------------------------------------------------------------------- clear errors

def test_missing_column_names_it_and_the_columns_present(tmp_path):
    (tmp_path / "train.tsv").write_text("text\tlabel\na fine film\t1\n")
    with pytest.raises(ValueError, match=r"column 'sentence' is missing.*\['label', 'text'\]"):
        data.load_examples("sst2", tmp_path / "train.tsv")


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
        data.load_examples("sst2", [example])


def test_bad_regression_and_token_labels():
    with pytest.raises(ValueError, match="regression and needs a number"):
        data.load_examples("stsb", [("a", "b", "high")])
    with pytest.raises(ValueError, match="2 words but 1 tags"):
        data.load_examples("wnut17", [(["a", "b"], ["O"])])
    with pytest.raises(ValueError, match="'B-city', which is not one of"):
        data.load_examples("wnut17", [(["a"], ["B-city"])])
    with pytest.raises(ValueError, match="pass \\(text_a, text_b, label\\)"):
        data.load_examples("mrpc", [("only one text", 1)])


def test_unknown_task_and_field():
    with pytest.raises(ValueError, match="unknown task 'sst3'.*sst2"):
        data.get_task("sst3")
    with pytest.raises(ValueError, match=r"unknown Task fields \['colour'\]"):
        data.get_task("sst2", colour="red")


# --------------------------------------------------------------------------- features

def test_align_word_labels_first_subtoken_only():
    assert data.align_word_labels([None, 0, 0, 1, 2, 2, 2, None], [3, 5, 7]) == \
        [-100, 3, -100, 5, 7, -100, -100, -100]


def test_token_features_one_label_per_word(tok):
    words = [["Paris", "is", "brilliant"], ["the", "director", "of", "London", "films"]]
    tags = [["B-location", "O", "O"], ["O", "O", "O", "B-location", "O"]]
    feats = data.featurize("wnut17", data.load_examples("wnut17", list(zip(words, tags))), tok)
    for f, (w, t) in enumerate(zip(words, tags)):
        lab = np.array(feats.labels[f])
        assert len(lab) == len(feats.input_ids[f])
        kept = lab[lab != -100]
        assert [data.WNUT17_TAGS[i] for i in kept] == t          # every word once, in order
        assert lab[0] == -100 and lab[-1] == -100                  # [CLS], [SEP]


def test_squad_windows_and_answer_spans(tok):
    context = " ".join(f"the team played game {i} in london ." for i in range(30))
    start = context.index("game 17")
    ex = {"id": "q1", "question": "what game ?", "context": context,
          "answers": {"text": ["game 17"], "answer_start": [start]}}
    feats = data.featurize("squad", data.load_examples("squad", [ex]), tok, max_length=48, doc_stride=16)
    assert len(feats) > 3 and set(feats.example_index) == {0}
    found = 0
    for f in range(len(feats)):
        off = feats.offsets[f]
        assert feats.lengths[f] <= 48
        s, e = feats.labels[f]
        if (s, e) == (0, 0):
            covered = [o for o in off if o is not None]
            assert not (covered[0][0] <= start and covered[-1][1] >= start + 7)
            continue
        found += 1
        assert context[off[s][0]:off[e][1]] == "game 17"
    assert found >= 1
    # consecutive windows overlap by doc_stride tokens of context
    ctx0 = [o for o in feats.offsets[0] if o is not None]
    ctx1 = [o for o in feats.offsets[1] if o is not None]
    assert ctx0[-16:] == ctx1[:16]


def test_collate_pads_and_masks(tok):
    feats = data.featurize("wnut17", data.load_examples(
        "wnut17", [(["Paris"], ["B-location"]), (["the", "great", "director"], ["O", "O", "O"])]), tok)
    inputs, labels = data.collate(feats, [0, 1], pad_token_id=tok.pad_token_id)
    T = max(feats.lengths)
    assert inputs["input_ids"].shape == (2, T) and inputs["input_ids"].dtype == np.int64
    assert inputs["attention_mask"].sum(1).tolist() == feats.lengths.tolist()
    assert (inputs["input_ids"][0, feats.lengths[0]:] == tok.pad_token_id).all()
    assert (labels["labels"][0, feats.lengths[0]:] == -100).all()


def test_length_grouped_batches_cover_everything_and_cut_padding():
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 100, size=1000)
    batches = data.length_grouped_batches(lengths, 16, np.random.default_rng(1), bucket_batches=10)
    assert sorted(np.concatenate(batches).tolist()) == list(range(1000))
    again = data.length_grouped_batches(lengths, 16, np.random.default_rng(1), bucket_batches=10)
    assert all((a == b).all() for a, b in zip(batches, again))
    plain = data.shuffled_batches(1000, 16, np.random.default_rng(1))

    def padding(bs):
        return sum(int(lengths[b].max() * len(b) - lengths[b].sum()) for b in bs)
    assert padding(batches) < 0.25 * padding(plain)
    assert len({len(b) for b in batches[:-1]}) <= 2        # full batches (plus bucket remainders)


# --------------------------------------------------------------------------- metric wiring

def _independent_logits(model, tok, first, second=None, key="logits", **kw):
    """Outputs one example at a time, straight from the tokenizer (no data.collate)."""
    out = []
    for i in range(len(first)):
        enc = tok(first[i], None if second is None else second[i], truncation=True, max_length=128,
                  return_tensors="np", **kw)
        out.append(np.asarray(getattr(model(**{k: enc[k] for k in ("input_ids", "attention_mask",
                                                                    "token_type_ids")}), key))[0])
    return out


SENTENCES = ["a good film", "awful plot", "the cast was brilliant", "dull", "a fine story of paris",
             "terrible script and boring music", "funny", "what a great director"]


@pytest.mark.parametrize("name", ["sst2", "cola", "mrpc", "rte", "stsb"])
def test_sequence_metric_wiring(tok, name):
    task = data.get_task(name)
    rng = np.random.default_rng(1)
    rows = []
    for i, s in enumerate(SENTENCES):
        label = float(rng.uniform(0, 5)) if task.is_regression else int(rng.integers(0, 2))
        rows.append((s, label) if len(task.text_columns) == 1 else (s, SENTENCES[-1 - i], label))
    feats = data.featurize(task, data.load_examples(task, rows), tok)
    model = tiny_model(task, tok, seed=3)
    got = evaluate(model, feats, batch_size=3, pad_token_id=tok.pad_token_id)
    logits = _independent_logits(model, tok, [r[0] for r in rows],
                                 None if len(rows[0]) == 2 else [r[1] for r in rows])
    gold = [r[-1] for r in rows]
    if task.is_regression:
        x = [lg[0] for lg in logits]
        want = {"pearson": M.pearson(x, gold), "spearman": M.spearman(x, gold)}
    else:
        p = np.argmax(logits, axis=1)
        want = {"accuracy": M.accuracy(p, gold)}
        if name == "mrpc":
            want["f1"] = M.f1(p, gold)
        if name == "cola":
            want["matthews_corrcoef"] = M.matthews_corrcoef(p, gold)
    assert got.keys() == want.keys() and task.main_metric in got
    for k in want:
        assert got[k] == pytest.approx(want[k], abs=1e-5)


def test_token_metric_wiring(tok):
    words = [s.split() for s in SENTENCES]
    rng = np.random.default_rng(2)
    tags = [[data.WNUT17_TAGS[int(t)] for t in rng.integers(0, 5, size=len(w))] for w in words]
    feats = data.featurize("wnut17", data.load_examples("wnut17", list(zip(words, tags))), tok)
    model = tiny_model("wnut17", tok, seed=4)
    got = evaluate(model, feats, batch_size=3, pad_token_id=tok.pad_token_id)
    pred_tags = []
    for w in words:                                # the first sub-token of each word decides
        enc = tok([w], is_split_into_words=True, return_tensors="np")
        logits = model(**{k: enc[k] for k in ("input_ids", "attention_mask", "token_type_ids")}).logits[0]
        first = {}
        for t, wid in enumerate(enc.word_ids(0)):
            if wid is not None and wid not in first:
                first[wid] = t
        pred_tags.append([data.WNUT17_TAGS[int(np.argmax(logits[first[i]]))] for i in range(len(w))])
    want = M.entity_scores(pred_tags, tags)
    assert got == pytest.approx({k: want[k] for k in ("precision", "recall", "f1")}, abs=1e-12)


def test_multiple_choice_metric_wiring(tok):
    rows = [{"context": SENTENCES[i], "question": "what ?", "answer0": "good", "answer1": "bad",
             "answer2": "the cast", "answer3": "paris", "label": str(i % 4)} for i in range(6)]
    feats = data.featurize("cosmosqa", data.load_examples("cosmosqa", rows), tok)
    model = tiny_model("cosmosqa", tok, seed=5)
    got = evaluate(model, feats, batch_size=4, pad_token_id=tok.pad_token_id)
    preds = []
    for r in rows:
        enc = tok([r["context"]] * 4, [f"what ? {r[f'answer{k}']}" for k in range(4)], padding=True,
                  return_tensors="np")
        logits = model(**{k: enc[k][None] for k in ("input_ids", "attention_mask", "token_type_ids")}).logits
        preds.append(int(np.argmax(logits[0])))
    assert got == pytest.approx({"accuracy": M.accuracy(preds, [i % 4 for i in range(6)])})


def test_qa_postprocessing_picks_the_best_valid_span(tok):
    ctx = "the team won the first game in london in 1984 ."
    examples = [{"id": "a", "question": "where ?", "context": ctx,
                 "answers": {"text": ["london"], "answer_start": [ctx.index("london")]}},
                {"id": "b", "question": "when did the team win ?", "context": ctx,
                 "answers": {"text": ["in 1984", "1984"], "answer_start": [ctx.index("in 1984"), ctx.index("1984")]}}]
    feats = data.featurize("squad", data.load_examples("squad", examples), tok, max_length=64, doc_stride=16)
    start, end = [], []
    for f in range(len(feats)):
        T = feats.lengths[f]
        s, e = np.zeros(T), np.zeros(T)
        gold_s, gold_e = feats.labels[f]
        s[gold_s], e[gold_e] = 5.0, 5.0
        s[0], e[0] = 9.0, 9.0                       # [CLS] scores highest but is not in the context
        q = next(t for t, o in enumerate(feats.offsets[f]) if o is None and t > 0)
        s[q - 1] = e[q - 1] = 8.0                   # a question token: not in the context either
        if f == 1:
            e[gold_s - 1] = 7.0                     # end before start: invalid
        start.append(s)
        end.append(e)
    preds = data.postprocess_qa(feats, start, end)
    assert preds == {"a": "london", "b": "in 1984"}
    got = data.task_metrics(feats, {"start_logits": start, "end_logits": end})
    assert got == M.squad_scores(preds, {"a": ["london"], "b": ["in 1984", "1984"]}) == \
        {"exact_match": 100.0, "f1": 100.0}
    # the real model path: evaluate() gives the metric of its own postprocessed predictions
    model = tiny_model("squad", tok, seed=6)
    scores = evaluate(model, feats, batch_size=2, pad_token_id=tok.pad_token_id)
    assert set(scores) == {"exact_match", "f1"} and 0 <= scores["f1"] <= 100


def test_squad_questions_from_jsonl(tmp_path):
    row = {"id": "x", "question": "where ?", "context": "in paris .",
           "answers": {"text": ["paris"], "answer_start": [3]}}
    (tmp_path / "q.jsonl").write_text(json.dumps(row) + "\n")
    assert data.load_examples("squad", tmp_path / "q.jsonl") == [row]
