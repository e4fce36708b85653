"""Pretraining sources: the weighted mixture, the everyday hold-out, sentence lists without SOP,
exact resume, the epochs guard, the user's own files and the command line.

References: the toy vocabulary of test_pretraining_data (word k is the id 5 + k, so an example
tells which words, hence which source and block, it came from), SHA-256 from hashlib applied by
hand, binomial bounds of about 5 standard deviations, log-softmax written out in NumPy, and the
fixture tokenizer for the runs of the loop.
"""
import gzip
import hashlib
import json
import lzma
import os

import numpy as np
import pytest

import albert_np
from albert_np import step
from albert_np.config import AlbertConfig
from albert_np.training import pretraining as pt
from albert_np.training import pretraining_data as pd
from albert_np.training import pretraining_sources as ps
from albert_np.training.checkpoints import latest_checkpoint

HERE = os.path.dirname(os.path.abspath(__file__))
TOKENIZER = os.path.join(HERE, "fixtures", "tokenizer", "spiece.model")
SHARED = os.path.join(HERE, "..", "..", "shared", "data")
SHARED = SHARED if os.path.isdir(os.path.join(SHARED, "everyday")) else "/work/shared/data"

SPECIAL = ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]
PIECES = SPECIAL + [f"▁w{k}" for k in range(300)]
CLS, SEP, MASK = 2, 3, 4


def encode(sentences):
    return [[5 + int(w[1:].rstrip(".")) for w in s.split()] for s in sentences]


def toy_stream(source, seed=0, **kw):
    return pd.PretrainingStream(lambda: ps.source_documents(source), encode, pieces=PIECES, cls_id=CLS,
                                sep_id=SEP, mask_id=MASK, special_ids=range(5), seed=seed, max_seq_length=24,
                                block_docs=4, sop=source.sop, key=(ps.name_key(source.name),), **kw)


def toy_mixture(sources, seed=0):
    return ps.MixtureStream({s.name: toy_stream(s, seed) for s in sources}, ps.shares(sources), seed)


def held_by_hand(block):
    """The hold-out rule, written again: sha256 -> first 8 hex digits -> mod 20 == 0."""
    return int(hashlib.sha256(block.encode("utf-8")).hexdigest()[:8], 16) % 20 == 0


def write_blocks(path, blocks):
    text = "\n\n".join(blocks) + "\n"
    opener = lzma.open if path.endswith(".xz") else gzip.open if path.endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8") as f:
        f.write(text)
    return path


def sentences_of(words, rng, n):
    """n sentences of 3-6 words drawn from `words`, each ending in '.'."""
    return [" ".join(f"w{k}" for k in rng.choice(words, size=rng.integers(3, 7))) + "." for _ in range(n)]


def word_ids(example):
    """The word ids of an example's text (the masked positions restored)."""
    ids = example["input_ids"].copy()
    ids[example["positions"]] = example["labels"]
    return set(ids[ids >= 5].tolist())


# ------------------------------------------------------------------ spec and files
def test_parse_source_spec():
    s = ps.parse_source("stories=a.txt,b.txt.xz:2.5:nosop")
    assert (s.name, s.paths, s.weight, s.sop, s.format, s.holdout) == \
        ("stories", ("a.txt", "b.txt.xz"), 2.5, False, "blocks", True)
    s = ps.parse_source("wiki=C:/data/w1.txt.xz:68:wikiextractor")        # a ':' inside a path
    assert (s.paths, s.weight, s.format, s.holdout) == (("C:/data/w1.txt.xz",), 68.0, "wikiextractor", False)
    s = ps.parse_source("mine=notes.txt")
    assert (s.weight, s.sop, s.holdout) == (1.0, True, True)
    assert ps.parse_source("b=x.txt:paragraphs:noholdout:3").to_dict() == {
        "name": "b", "paths": ["x.txt"], "weight": 3.0, "sop": True, "format": "paragraphs", "holdout": False}
    for spec, message in [("notes.txt", "NAME=PATH"), ("a=x.txt:0", "weight must be a number > 0"),
                          ("a=x.txt:1:2", "two weights"), ("a=x.txt:sop:nosop", "conflicting"),
                          ("a=x.txt,,y.txt", "empty path"), ("a b=x.txt", "source name"),
                          ("a=x.txt:gutenberg:holdout", "hold-out is a rule on blank-line-separated blocks")]:
        with pytest.raises(ValueError, match=message):
            ps.parse_source(spec)


def test_read_mixture_file(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "mix.json").write_text(json.dumps({"sources": [
        {"name": "a", "paths": ["d/a.txt"], "weight": 3},
        {"name": "q", "paths": "d/q.txt.gz", "sop": False}]}), encoding="utf-8")
    a, q = ps.read_mixture(tmp_path / "mix.json")
    assert a.paths == (str(tmp_path / "d" / "a.txt"),) and a.weight == 3 and a.sop
    assert q.paths == (str(tmp_path / "d" / "q.txt.gz"),) and not q.sop and q.weight == 1.0
    assert ps.shares([a, q]) == {"a": 0.75, "q": 0.25}
    for bad, message in [({"sources": []}, "at least one source"),
                         ({"sources": [{"name": "a"}]}, "name and paths"),
                         ({"sources": [{"name": "a", "paths": ["x"], "colour": 1}]}, "name and paths"),
                         ({"sources": [{"name": "a", "paths": ["x"]}, {"name": "a", "paths": ["y"]}]}, "repeated")]:
        (tmp_path / "bad.json").write_text(json.dumps(bad), encoding="utf-8")
        with pytest.raises(ValueError, match=message):
            ps.read_mixture(tmp_path / "bad.json")
    with pytest.raises(FileNotFoundError, match="a.txt"):
        ps.check_sources([a])
    (tmp_path / "d" / "a.pdf").write_text("x", encoding="utf-8")
    with pytest.raises(ValueError, match="must be text"):
        ps.check_sources([ps.Source("p", (str(tmp_path / "d" / "a.pdf"),))])


def test_user_files_txt_gz_xz_and_the_holdout(tmp_path):
    """Blocks of .txt, .gz and .xz files are read alike; a held-out block is never a document, the
    manifest counts what the rule (applied here by hand) holds out."""
    blocks = [f"Line one of block {k}.\nLine two. It ends here." for k in range(300)]
    held = [b for b in blocks if held_by_hand(b)]
    assert 5 <= len(held) <= 30                  # about 5 % of 300
    paths = [write_blocks(str(tmp_path / f"part{i}{ext}"), blocks[100 * i:100 * (i + 1)])
             for i, ext in enumerate((".txt", ".txt.gz", ".txt.xz"))]
    src = ps.Source("mine", tuple(paths))
    docs = list(ps.source_documents(src))
    expected = [b for b in blocks if not held_by_hand(b)]
    # the three files in turn, one document of each: part0[0], part1[0], part2[0], part0[1], ...
    by_file = [[b for b in blocks[100 * i:100 * (i + 1)] if not held_by_hand(b)] for i in range(3)]
    order = [f[j] for j in range(max(map(len, by_file))) for f in by_file if j < len(f)]
    assert docs == [pd.block_sentences(b) for b in order] and len(docs) == len(expected)
    assert docs[0] == ["Line one of block 0.", "Line two.", "It ends here."]
    m = ps.data_manifest([src])["sources"]["mine"]
    assert (m["documents"], m["blocks"], m["heldout_blocks"]) == (len(expected), 300, len(held))
    assert [f["heldout_blocks"] for f in m["files"]] == [sum(map(held_by_hand, blocks[100 * i:100 * (i + 1)]))
                                                         for i in range(3)]
    everything = ps.Source("all", tuple(paths), holdout=False)
    assert len(list(ps.source_documents(everything))) == 300
    assert ps.data_manifest([everything])["sources"]["all"]["heldout_blocks"] == 0
    # paragraphs: 64 consecutive kept blocks of a file make one document
    para = ps.Source("book", (paths[0],), format="paragraphs")
    pdocs = list(ps.source_documents(para))
    kept0 = [b for b in blocks[:100] if not held_by_hand(b)]
    assert pdocs == [sum((pd.block_sentences(b) for b in kept0[:64]), []),
                     sum((pd.block_sentences(b) for b in kept0[64:]), [])]
    assert ps.data_manifest([para])["sources"]["book"]["documents"] == 2


def test_heldout_blocks_never_reach_the_stream(tmp_path):
    """Held-out blocks use words 200-299, kept blocks words 0-199: over several epochs of the
    stream no example holds a word of a held-out block."""
    rng = np.random.default_rng(0)
    kept, held = [], []
    while len(held) < 8:
        block = "\n".join(sentences_of(range(200, 300), rng, int(rng.integers(2, 6))))
        if held_by_hand(block):
            held.append(block)
    while len(kept) < 60:
        block = "\n".join(sentences_of(range(200), rng, int(rng.integers(2, 6))))
        if not held_by_hand(block):
            kept.append(block)
    blocks = kept + held
    np.random.default_rng(1).shuffle(blocks)
    src = ps.Source("s", (write_blocks(str(tmp_path / "s.txt"), blocks),))
    stream = toy_stream(src)
    it = iter(stream)
    seen = set()
    for _ in range(600):
        seen |= word_ids(next(it))
    assert stream.epoch >= 2
    assert seen and max(seen) < 5 + 200 and min(seen) >= 5, "a held-out word was trained on"


# ------------------------------------------------------------------ mixture
def _three_sources(tmp_path, weights=(6, 3, 1), sop=(True, True, False)):
    """Sources a, b, c whose words come from 0-99, 100-199, 200-299."""
    rng = np.random.default_rng(2)
    out = []
    for i, name in enumerate("abc"):
        blocks = ["\n".join(sentences_of(range(100 * i, 100 * (i + 1)), rng, int(rng.integers(2, 8))))
                  for _ in range(40)]
        out.append(ps.Source(name, (write_blocks(str(tmp_path / f"{name}.txt"), blocks),), weights[i], sop[i],
                             holdout=False))
    return out


def test_mixture_proportions_and_the_source_of_each_example(tmp_path):
    sources = _three_sources(tmp_path)
    mix = toy_mixture(sources, seed=5)
    it = iter(mix)
    n = 12000
    counts = np.zeros(3, int)
    for i in range(n):
        k = mix.source_of(i)
        words = word_ids(next(it))
        assert all(100 * k <= w - 5 < 100 * (k + 1) for w in words), (i, k)   # from the source drawn
        counts[k] += 1
    for c, p in zip(counts, (0.6, 0.3, 0.1)):
        assert abs(c - n * p) < 5 * np.sqrt(n * p * (1 - p)), counts
    # the draws depend on the seed and the weights only: a chunk is one default_rng call
    expected = np.random.default_rng([5, ps.MIX_KEY, 0]).choice(3, size=ps.MIX_CHUNK, p=[0.6, 0.3, 0.1])
    assert [mix.source_of(i) for i in range(ps.MIX_CHUNK)] == expected.tolist()


def test_nosop_source_is_labelled_minus_100_and_packed_in_order(tmp_path):
    sources = _three_sources(tmp_path, weights=(1, 1, 1))
    mix = toy_mixture(sources, seed=1)
    it = iter(mix)
    labels = {0: [], 1: [], 2: []}
    for i in range(900):
        k = mix.source_of(i)
        e = next(it)
        labels[k].append(e["sentence_order_label"])
        if k == 2:                                          # in order: B follows A in the block
            ids = e["input_ids"]
            assert ids[0] == CLS and ids[-1] == SEP and (ids == SEP).sum() == 2
    assert set(labels[2]) == {-100}
    for k in (0, 1):
        y = np.array(labels[k])
        assert set(y) == {0, 1} and abs(y.mean() - 0.5) < 5 * 0.5 / np.sqrt(len(y))


def test_nosop_rows_are_ignored_by_loss_items_metrics_and_weights():
    tok = albert_np.AlbertTokenizerFast(vocab_file=TOKENIZER)
    docs = [pd.split_sentences("The cat sat on the mat. It was warm. The dog slept. A bird sang.")] * 16
    batches = pt.fixed_batches(lambda: iter(docs), tok, 6, 6, max_seq_length=32, max_predictions=5, block_docs=16)
    inputs, labels = batches[0]
    labels = dict(labels, sentence_order_label=np.array([1, -100, 0, -100, -100, 1]))
    cfg = AlbertConfig(vocab_size=tok.vocab_size, embedding_size=8, hidden_size=16, num_hidden_layers=1,
                       num_attention_heads=2, intermediate_size=16, max_position_embeddings=64)
    model = albert_np.AlbertForPreTraining(cfg, seed=0)
    items = step.loss_items("pretraining", labels)
    assert items == {"prediction_logits": int(labels["mlm_weights"].sum()), "sop_logits": 3}
    # the SOP term = the mean cross-entropy over the three labelled rows, by hand
    loss, out, _ = step.loss_and_grads(model.params, cfg, "pretraining", inputs, labels,
                                       weights={"prediction_logits": 0.0, "sop_logits": 1.0})
    sop = out["sop_logits"].astype(np.float64)
    logp = sop - np.log(np.exp(sop - sop.max(1, keepdims=True)).sum(1, keepdims=True)) - sop.max(1, keepdims=True)
    rows = [0, 2, 5]
    assert loss == pytest.approx(-np.mean(logp[rows, [1, 0, 1]]), rel=1e-5)
    # a shard whose rows are all -100 has weight 0 for SOP: no nan, and the shards add up
    shard = {k: v[[1, 3]] for k, v in labels.items()}
    assert step.loss_items("pretraining", shard)["sop_logits"] == 0
    l1, _, _ = step.loss_and_grads(model.params, cfg, "pretraining", {k: v[[1, 3]] for k, v in inputs.items()},
                                   shard, weights={"prediction_logits": 0.0, "sop_logits": 0.0})
    assert l1 == 0.0
    # the metrics count the labelled pairs only
    argmax = {"prediction_logits": out["prediction_logits"].argmax(-1), "sop_logits": sop.argmax(-1)}
    acc = pt.training_accuracy([(labels, argmax)])
    assert acc["sop_accuracy"] == pytest.approx(np.mean(sop.argmax(-1)[rows] == [1, 0, 1]))
    ev = pt.evaluate_pretraining(model, [(inputs, labels)])
    assert ev["pairs"] == 3 and ev["sop_loss"] == pytest.approx(-np.mean(logp[rows, [1, 0, 1]]), rel=1e-5)
    assert ev["sop_accuracy"] == acc["sop_accuracy"]


def test_mixture_stream_resumes_exactly(tmp_path):
    sources = _three_sources(tmp_path)
    a = toy_mixture(sources, seed=3)
    it = iter(a)
    straight = [next(it) for _ in range(500)]
    b = toy_mixture(sources, seed=3)
    it = iter(b)
    for _ in range(237):
        next(it)
    state = json.loads(json.dumps(b.state()))            # as a checkpoint stores it
    c = toy_mixture(sources, seed=3)
    c.restore(state)
    it = iter(c)
    for x in straight[237:]:
        y = next(it)
        for k in ("input_ids", "token_type_ids", "positions", "labels"):
            np.testing.assert_array_equal(x[k], y[k])
        assert x["sentence_order_label"] == y["sentence_order_label"]
    with pytest.raises(ValueError, match="seed"):
        toy_mixture(sources, seed=4).restore(state)
    with pytest.raises(ValueError, match="no position for the sources"):
        toy_mixture(sources + [ps.Source("d", sources[0].paths, holdout=False)], seed=3).restore(state)


# ------------------------------------------------------------------ the loop
TEXTS = ["The cat sat on the mat. It was a warm day. The dog slept by the door. A bird sang in the tree.",
         "Paris is the capital of France. It lies on the Seine. Many people visit it every year.",
         "Water boils at one hundred degrees. Ice melts at zero degrees. Steam rises from the pot.",
         "The old ship sailed at dawn. Its crew sang loudly. The harbour grew small behind them."]


def run_sources(tmp_path):
    stories = write_blocks(str(tmp_path / "stories.txt"), TEXTS * 5)
    lists = write_blocks(str(tmp_path / "lists.txt.gz"), ["\n".join(t.split(". ")) for t in TEXTS] * 5)
    return [ps.Source("stories", (stories,), 3, holdout=False), ps.Source("lists", (lists,), 1, sop=False,
                                                                         holdout=False)]


def make(tmp_path, out, steps, sources, change_mixture=False, dropout=0.1, change_masking=False, **kw):
    tok = albert_np.AlbertTokenizerFast(vocab_file=TOKENIZER)
    cfg = AlbertConfig(vocab_size=tok.vocab_size, embedding_size=16, hidden_size=32, num_hidden_layers=2,
                       num_attention_heads=2, intermediate_size=48, max_position_embeddings=64,
                       hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout,
                       classifier_dropout_prob=dropout)
    args = pt.PretrainSettings(**{**dict(max_steps=steps, batch_size=4, learning_rate=3e-3, warmup=2,
                                         max_seq_length=32, max_predictions=5, save_every=3, seed=1,
                                         block_docs=4, progress=False, plot=False), **kw})
    return pt.make_trainer(albert_np.AlbertForPreTraining(cfg, seed=0), tok, sources, str(tmp_path / out), args,
                           change_mixture=change_mixture, change_masking=change_masking)


def test_a_mixture_run_resumes_bit_identically_and_logs_source_epochs(tmp_path):
    sources = run_sources(tmp_path)
    straight = [e for e in make(tmp_path, "a", 6, sources).train() if e["type"] == "train"]
    make(tmp_path, "b", 3, sources).train()
    resumed = make(tmp_path, "b", 6, sources)
    resumed.load_checkpoint(latest_checkpoint(str(tmp_path / "b")))
    log = [e for e in resumed.train() if e["type"] == "train"]
    assert [e["loss"] for e in log] == [e["loss"] for e in straight]
    assert set(straight[-1]["source_epochs"]) == {"stories", "lists"}
    state = json.loads((tmp_path / "b" / "checkpoint-6" / "trainer_state.json").read_text())
    assert [s["name"] for s in state["mixture"]] == ["stories", "lists"]
    assert state["data_manifest"]["sources"]["stories"]["documents"] == 20
    assert state["data_state"]["examples"] == 6 * 4
    # the same checkpoint under another mixture: refused, unless asked for
    other = [sources[0], ps.Source("lists", sources[1].paths, 2, sop=False, holdout=False)]
    with pytest.raises(ValueError, match=r"mixture differs .*'lists': weight 1.0 -> 2.0.*--change-mixture"):
        make(tmp_path, "b", 8, other).load_checkpoint(latest_checkpoint(str(tmp_path / "b")))
    changed = make(tmp_path, "b", 8, other, change_mixture=True)
    changed.load_checkpoint(latest_checkpoint(str(tmp_path / "b")))
    assert changed.step == 6 and len([e for e in changed.train() if e["type"] == "train"]) == 8


def test_a_resume_may_change_the_masking_only_when_asked(tmp_path, caplog):
    sources = run_sources(tmp_path)
    make(tmp_path, "m", 3, sources).train()                      # 15 %, n-grams up to 3, 5 predictions
    new = dict(masked_lm_prob=0.3, max_ngram=1, max_predictions=8)
    with pytest.raises(ValueError, match=r"masked_lm_prob: checkpoint 0.15, now 0.3"):
        make(tmp_path, "m", 5, sources, **new).load_checkpoint(latest_checkpoint(str(tmp_path / "m")))
    with pytest.raises(ValueError, match=r"block_docs: checkpoint 4, now 8"):     # other data settings: still refused
        make(tmp_path, "m", 5, sources, change_masking=True, block_docs=8).load_checkpoint(
            latest_checkpoint(str(tmp_path / "m")))
    changed = make(tmp_path, "m", 5, sources, change_masking=True, **new)
    with caplog.at_level("WARNING"):
        changed.load_checkpoint(latest_checkpoint(str(tmp_path / "m")))
    assert "masked_lm_prob" in caplog.text and changed.step == 3
    labels = changed.source.next_step(4)[0][1]
    assert labels["mlm_positions"].shape[1] == 8                     # room for the new max_predictions
    assert (labels["mlm_weights"].sum(axis=1) > 5).any()           # more than the old limit allowed
    changed.source.close()


def test_accumulation_with_unlabelled_pairs_computes_the_step_of_the_whole_batch(tmp_path):
    """2 micro-batches of 2 = 1 batch of 4 when some pairs carry no SOP label: each shard's SOP term
    is weighted by its labelled rows over the step's (the term is a mean over labelled pairs)."""
    sources = run_sources(tmp_path)
    whole = make(tmp_path, "w", 4, sources, dropout=0.0)
    accum = make(tmp_path, "a", 4, sources, dropout=0.0, batch_size=2, grad_accum=2)
    unlabelled = []
    for t in (whole, accum):
        source = pt.StreamBatches(sources, t.tokenizer, t.args)
        y = np.concatenate([b[1]["sentence_order_label"] for b in source.next_step(t.args.grad_accum * 4)])
        source.close()
        unlabelled.append(int((y == -100).sum()))
    assert unlabelled[0] == unlabelled[1] > 0                     # the same examples, some without a label
    a = [e for e in whole.train() if e["type"] == "train"]
    b = [e for e in accum.train() if e["type"] == "train"]
    np.testing.assert_allclose([e["loss"] for e in a], [e["loss"] for e in b], rtol=2e-6)
    np.testing.assert_allclose([e["grad_norm"] for e in a], [e["grad_norm"] for e in b], rtol=1e-5)
    assert [e["sop_accuracy"] for e in a] == [e["sop_accuracy"] for e in b]


def test_default_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("ALBERT_NP_DATA", str(tmp_path))
    assert ps.default_data_dir() == str(tmp_path)
    monkeypatch.delenv("ALBERT_NP_DATA")
    found = ps.default_data_dir()           # ../shared/data beside this checkout, when it is there
    checkout = os.path.dirname(HERE)
    expected = os.path.normpath(os.path.join(checkout, "..", "shared", "data"))
    assert found == (expected if os.path.isdir(expected) else None)


def test_the_epochs_guard(tmp_path):
    sources = run_sources(tmp_path)
    tok = albert_np.AlbertTokenizerFast(vocab_file=TOKENIZER)
    args = pt.PretrainSettings(max_steps=40, batch_size=4, max_seq_length=32, max_predictions=5, block_docs=4)
    manifest = ps.data_manifest(sources)
    plan = pt.mixture_plan(sources, manifest, tok, args)
    # 160 examples: 3/4 of them from the 20 stories, 1/4 from the 20 lists
    by_name = {r["name"]: r for r in plan}
    assert by_name["stories"]["examples"] == 120 and by_name["lists"]["examples"] == 40
    for r in plan:
        assert r["documents"] == 20 and r["examples_per_document"] >= 1
        assert r["epochs"] == pytest.approx(r["examples"] / (r["documents"] * r["examples_per_document"]))
    limit = by_name["stories"]["epochs"] / 2
    with pytest.raises(ValueError, match=rf"would repeat stories \(\d+\.\d epochs.*--max-source-epochs {limit:g}"):
        make(tmp_path, "g", 40, sources, max_source_epochs=limit)
    make(tmp_path, "g", 40, sources, max_source_epochs=0)          # 0: no limit
    with pytest.raises(ValueError, match="max_source_epochs must be a number >= 0"):
        pt.PretrainSettings(max_source_epochs=-1).validate()


# ------------------------------------------------------------------ the command line
def test_cli_dry_run_prints_the_plan_and_bare_pretrain_says_what_it_needs(tmp_path, capsys, monkeypatch):
    from albert_np.__main__ import main
    sources = run_sources(tmp_path)
    out = tmp_path / "run"
    argv = ["pretrain", "--tokenizer", TOKENIZER, "--out", str(out), "--max-steps", "5", "--batch-size", "4",
            "--max-seq-length", "32", "--block-docs", "4", "--dry-run",
            "--source", f"stories={sources[0].paths[0]}:3:noholdout", "--source", f"lists={sources[1].paths[0]}:nosop"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "pretrain: 5 steps of 4 sequences of up to 32 tokens (20 sequences" in text
    assert "2 source(s) given with --source" in text and "a new run" in text
    assert "stories" in text and " 75.0%" in text and "lists" in text and " 25.0%" in text
    assert not out.exists()                                 # a dry run writes nothing
    with pytest.raises(SystemExit) as e:
        main(["pretrain"])
    assert e.value.code == 2 and "--out, --tokenizer" in capsys.readouterr().err
    # no data folder (an installed wheel) and no --source: a clear error
    monkeypatch.setattr(ps, "default_data_dir", lambda: None)
    assert main(["pretrain", "--tokenizer", TOKENIZER, "--out", str(out), "--dry-run"]) == 2
    assert "pass --data-dir" in capsys.readouterr().err
    assert main(["pretrain", "--tokenizer", TOKENIZER, "--out", str(out), "--dry-run", "--mixture", "m.json",
                 "--source", "a=b.txt"]) == 2
    assert "not both" in capsys.readouterr().err


def test_cli_pretrain_vocab_on_user_files(tmp_path, capsys):
    from albert_np.__main__ import main
    rng = np.random.default_rng(0)
    words = ["apple", "river", "stone", "cloud", "green", "quiet", "table", "window", "garden", "yellow"]
    blocks = [" ".join(rng.choice(words, size=8)) + "." for _ in range(400)]
    path = write_blocks(str(tmp_path / "mine.txt.xz"), blocks)
    prefix = tmp_path / "vocab" / "sp"
    assert main(["pretrain-vocab", "--out", str(prefix), "--vocab-size", "34", "--source", f"mine={path}"]) == 0
    assert "pretrain-vocab: 34 pieces from up to 2,000,000 sentences of 1 source(s)" in capsys.readouterr().out
    tok = albert_np.AlbertTokenizerFast(vocab_file=str(prefix) + ".model")
    assert tok.vocab_size == 34 and "".join(tok.tokenize("garden window")) == "▁garden▁window"
    # the held-out blocks were not among its sentences
    kept = [s for b in blocks if not held_by_hand(b) for s in pd.block_sentences(b)]
    assert list(pt.vocabulary_sentences([ps.Source("mine", (path,))], 10 ** 6)) == kept


@pytest.mark.skipif(not os.path.isdir(os.path.join(SHARED, "everyday")), reason="no shared data folder")
def test_the_default_mixture_reads_every_everyday_file_once():
    sources = ps.default_mixture(SHARED)
    files = [os.path.basename(p) for s in sources for p in s.paths]
    everyday = sorted(f for f in os.listdir(os.path.join(SHARED, "everyday")) if f.endswith(".txt.xz"))
    assert sorted(f for f in files if f in everyday) == everyday and len(set(files)) == len(files)
    assert {s.name for s in sources if not s.sop} == {"sentences", "queries"}
    assert all(s.holdout for s in sources if s.format in ps.BLOCK_FORMATS)
    everyday_share = sum(v for k, v in ps.shares(sources).items() if k not in ("wikipedia", "gutenberg"))
    assert 0.25 <= everyday_share <= 1 / 3
