"""features.py: featurisation (label alignment, SQuAD windows), batching, and the metric
wiring of every task (against the metric functions applied to predictions computed
independently, through the tokenizer's own padding).
"""
import os

import numpy as np
import pytest

from albert_np.training import datasets
from albert_np.training import features as F
from albert_np.training import metrics as M
from albert_np.config import AlbertConfig
from albert_np.tokenization import AlbertTokenizerFast, train_tokenizer
from albert_np.training.finetuning import evaluate
from albert_np.modeling import model_class

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE_TOKENIZER = os.path.join(HERE, "fixtures", "tokenizer")

WORDS = ("the a film movie was is good great bad awful fine plot actor actors story dull "
         "funny boring brilliant terrible cast script music director scene scenes paris city "
         "river london france capital people new york london team won lost game season "
         "player played question answer who what where when why how many first year").split()


def make_tokenizer(folder):
    """The fixture tokenizer when present, else a tiny one trained on generated text."""
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
    task = datasets.get_task(task)
    config = AlbertConfig(vocab_size=tok.vocab_size, embedding_size=16, hidden_size=32,
                          num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                          max_position_embeddings=128,
                          num_labels=task.num_labels if task.head in ("sequence", "token") else 2)
    return model_class(task.head)(config, seed=seed)


# --------------------------------------------------------------------------- features

def test_align_word_labels_first_subtoken_only():
    assert F.align_word_labels([None, 0, 0, 1, 2, 2, 2, None], [3, 5, 7]) == \
        [-100, 3, -100, 5, 7, -100, -100, -100]


def test_token_features_one_label_per_word(tok):
    words = [["Paris", "is", "brilliant"], ["the", "director", "of", "London", "films"]]
    tags = [["B-location", "O", "O"], ["O", "O", "O", "B-location", "O"]]
    feats = F.featurize("wnut17", datasets.load_examples("wnut17", list(zip(words, tags))), tok)
    for f, (w, t) in enumerate(zip(words, tags)):
        lab = np.array(feats.labels[f])
        assert len(lab) == len(feats.input_ids[f])
        kept = lab[lab != -100]
        assert [datasets.WNUT17_TAGS[i] for i in kept] == t          # every word once, in order
        assert lab[0] == -100 and lab[-1] == -100                  # [CLS], [SEP]


def test_squad_windows_and_answer_spans(tok):
    context = " ".join(f"the team played game {i} in london ." for i in range(30))
    start = context.index("game 17")
    ex = {"id": "q1", "question": "what game ?", "context": context,
          "answers": {"text": ["game 17"], "answer_start": [start]}}
    feats = F.featurize("squad", datasets.load_examples("squad", [ex]), tok, max_length=48, doc_stride=16)
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
    feats = F.featurize("wnut17", datasets.load_examples(
        "wnut17", [(["Paris"], ["B-location"]), (["the", "great", "director"], ["O", "O", "O"])]), tok)
    inputs, labels = F.collate(feats, [0, 1], pad_token_id=tok.pad_token_id)
    T = max(feats.lengths)
    assert inputs["input_ids"].shape == (2, T) and inputs["input_ids"].dtype == np.int64
    assert inputs["attention_mask"].sum(1).tolist() == feats.lengths.tolist()
    assert (inputs["input_ids"][0, feats.lengths[0]:] == tok.pad_token_id).all()
    assert (labels["labels"][0, feats.lengths[0]:] == -100).all()


def test_length_grouped_batches_cover_everything_and_cut_padding():
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 100, size=1000)
    batches = F.length_grouped_batches(lengths, 16, np.random.default_rng(1), bucket_batches=10)
    assert sorted(np.concatenate(batches).tolist()) == list(range(1000))
    again = F.length_grouped_batches(lengths, 16, np.random.default_rng(1), bucket_batches=10)
    assert all((a == b).all() for a, b in zip(batches, again))
    plain = F.shuffled_batches(1000, 16, np.random.default_rng(1))

    def padding(bs):
        return sum(int(lengths[b].max() * len(b) - lengths[b].sum()) for b in bs)
    assert padding(batches) < 0.25 * padding(plain)
    assert len({len(b) for b in batches[:-1]}) <= 2        # full batches (plus bucket remainders)


# --------------------------------------------------------------------------- metric wiring

def _independent_logits(model, tok, first, second=None, key="logits", **kw):
    """Outputs one example at a time, straight from the tokenizer (no features.collate)."""
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
    task = datasets.get_task(name)
    rng = np.random.default_rng(1)
    rows = []
    for i, s in enumerate(SENTENCES):
        label = float(rng.uniform(0, 5)) if task.is_regression else int(rng.integers(0, 2))
        rows.append((s, label) if len(task.text_columns) == 1 else (s, SENTENCES[-1 - i], label))
    feats = F.featurize(task, datasets.load_examples(task, rows), tok)
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
    tags = [[datasets.WNUT17_TAGS[int(t)] for t in rng.integers(0, 5, size=len(w))] for w in words]
    feats = F.featurize("wnut17", datasets.load_examples("wnut17", list(zip(words, tags))), tok)
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
        pred_tags.append([datasets.WNUT17_TAGS[int(np.argmax(logits[first[i]]))] for i in range(len(w))])
    want = M.entity_scores(pred_tags, tags)
    assert got == pytest.approx({k: want[k] for k in ("precision", "recall", "f1")}, abs=1e-12)


def test_multiple_choice_metric_wiring(tok):
    rows = [{"context": SENTENCES[i], "question": "what ?", "answer0": "good", "answer1": "bad",
             "answer2": "the cast", "answer3": "paris", "label": str(i % 4)} for i in range(6)]
    feats = F.featurize("cosmosqa", datasets.load_examples("cosmosqa", rows), tok)
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
    feats = F.featurize("squad", datasets.load_examples("squad", examples), tok, max_length=64, doc_stride=16)
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
    preds = F.postprocess_qa(feats, start, end)
    assert preds == {"a": "london", "b": "in 1984"}
    got = F.task_metrics(feats, {"start_logits": start, "end_logits": end})
    assert got == M.squad_scores(preds, {"a": ["london"], "b": ["in 1984", "1984"]}) == \
        {"exact_match": 100.0, "f1": 100.0}
    # the real model path: evaluate() gives the metric of its own postprocessed predictions
    model = tiny_model("squad", tok, seed=6)
    scores = evaluate(model, feats, batch_size=2, pad_token_id=tok.pad_token_id)
    assert set(scores) == {"exact_match", "f1"} and 0 <= scores["f1"] <= 100
