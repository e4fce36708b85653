"""The everyday evaluation (tests/benchmarks/everyday_eval.py and its everyday_eval.tsv).

References: the content-word rule and the hold-out rule written again here, the items made again
from ../shared/data (when present) and compared with the committed file byte for byte, hits
counted by hand on a fake tokenizer and a fake fill_mask, and fill_mask called one sentence at a
time on the bundled model.
"""
import hashlib
import importlib.util
import os
import re

import pytest

from albert_np.pretrained import bundled_model
from albert_np.tasks import fill_mask, load_tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("everyday_eval", os.path.join(HERE, "benchmarks", "everyday_eval.py"))
ev = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ev)
SHARED = os.path.join(HERE, "..", "..", "shared", "data")
SHARED = SHARED if os.path.isdir(os.path.join(SHARED, "everyday")) else "/work/shared/data"
has_data = pytest.mark.skipif(not os.path.isdir(os.path.join(SHARED, "everyday")), reason="no shared data folder")
MODEL = bundled_model()


def test_the_committed_items_follow_the_rules():
    items = ev.read_items()
    assert len(items) >= 2000
    by_source = {}
    for it in items:
        tokens = it["sentence"].split(" ")
        assert ev.MIN_WORDS <= len(tokens) <= ev.MAX_WORDS and "\t" not in it["sentence"]
        assert re.fullmatch(r"[a-z]{3,}", it["word"]) and it["word"] not in ev.STOP_WORDS
        assert it["sentence"][it["start"]:it["start"] + len(it["word"])] == it["word"]
        before, after = it["sentence"][:it["start"]], it["sentence"][it["start"] + len(it["word"]):]
        assert (before == "" or before.endswith(" ")) and after.startswith(" ")    # a whole word, not the last
        by_source[it["source"]] = by_source.get(it["source"], 0) + 1
    assert len(by_source) == 27 and by_source[ev.SGD] <= ev.SGD_CAP
    assert max(by_source.values()) <= ev.SGD_CAP
    pairs = [(it["source"], it["block"]) for it in items]
    assert len(set(pairs)) == len(pairs)                                  # at most one item per block
    assert os.path.getsize(ev.ITEMS) < 400_000


@has_data
def test_the_items_are_made_again_identically_from_held_out_blocks():
    import glob
    from albert_np.training import pretraining_data as pdata
    text = ev.items_tsv(ev.make_items(SHARED))
    with open(ev.ITEMS, encoding="utf-8") as f:
        assert f.read() == text
    held = set()
    for path in glob.glob(os.path.join(SHARED, "everyday", "*.txt.xz")):
        for b in pdata.everyday_blocks(path):
            digest = hashlib.sha256(b.encode("utf-8")).hexdigest()
            if int(digest[:8], 16) % 20 == 0:                             # the hold-out rule, by hand
                held.add((os.path.basename(path)[:-len(".txt.xz")], digest[:12]))
    assert {(it["source"], it["block"]) for it in ev.read_items()} <= held


def test_bad_item_files_name_their_line(tmp_path):
    path = tmp_path / "items.tsv"
    path.write_text("\t".join(ev.COLUMNS) + "\nsrc\tabc\t4\tcat\tThe dog sat here now.\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"items.tsv:2: the sentence has no 'cat' at offset 4"):
        ev.read_items(path)
    path.write_text("source\tword\n", encoding="utf-8")
    with pytest.raises(ValueError, match="header"):
        ev.read_items(path)


class FakeTokenizer:
    """'▁cat' 10, '▁mat' 11, '▁dog' 12, '▁fr' 13, 'idge' 14; other words are unknown pieces."""
    vocab = {"[MASK]": 4, "<unk>": 1, "▁cat": 10, "▁mat": 11, "▁dog": 12, "▁fr": 13, "idge": 14}
    mask_token, unk_token_id = "[MASK]", 1

    def tokenize(self, word):
        return ["▁fr", "idge"] if word == "fridge" else ["▁" + word]

    def convert_tokens_to_ids(self, pieces):
        return [self.vocab.get(p, 1) for p in pieces]

    def convert_ids_to_tokens(self, ids):
        inverse = {v: k for k, v in self.vocab.items()}
        return [inverse[i] for i in ids]


def test_scoring_by_hand_on_a_fake_model(monkeypatch):
    items = [{"source": "a", "start": 4, "word": "cat", "sentence": "The cat sat on it."},     # top-1 hit
             {"source": "a", "start": 11, "word": "mat", "sentence": "Sit on the mat now."},   # top-3 only
             {"source": "b", "start": 4, "word": "dog", "sentence": "The dog ran off."},       # miss
             {"source": "b", "start": 11, "word": "fridge", "sentence": "Put it the fridge now."},  # 2 pieces
             {"source": "b", "start": 4, "word": "owl", "sentence": "The owl is here."}]       # <unk>: miss
    answers = {"The [MASK] sat on it.": [10, 12], "Sit on the [MASK] now.": [12, 14, 11],
               "The [MASK] ran off.": [10, 11], "Put it the [MASK][MASK] now.": [13, 14],
               "The [MASK] is here.": [1]}
    seen = []

    def fake_fill_mask(texts, model, top_k, batch_size, progress):
        seen.append((tuple(texts), top_k))
        out = []
        for t in texts:
            ids = answers[t]
            if t.count("[MASK]") == 1:
                out.append([{"token": i, "token_str": "x"} for i in ids[:top_k]])
            else:                                    # one list per mask, as transformers nests it
                out.append([[{"token": i, "token_str": "x"}] for i in ids])
        return out[0] if len(out) == 1 else out
    monkeypatch.setattr(ev, "fill_mask", fake_fill_mask)
    monkeypatch.setattr(ev, "load_tokenizer", lambda model: FakeTokenizer())
    r = ev.score(items, "fake", top_k=3)
    # one-mask texts for the 3 one-piece items (owl is <unk>, fridge two pieces); k-mask texts for all 5
    assert seen[0] == (("The [MASK] sat on it.", "Sit on the [MASK] now.", "The [MASK] ran off."), 3)
    assert seen[1][0][3] == "Put it the [MASK][MASK] now." and seen[1][1] == 1
    assert (r["items"], r["one_piece"], r["not_one_piece"]) == (5, 3, 2)
    assert (r["top1"], r["top3"]) == (1 / 5, 2 / 5)
    assert (r["top1_of_one_piece"], r["top3_of_one_piece"]) == (1 / 3, 2 / 3)
    assert r["whole_word_top1"] == 2 / 5                 # cat, and fridge's two pieces both right
    assert r["pieces_per_word"] == 6 / 5
    assert r["by_source"]["b"] == {"items": 3, "one_piece": 1, "not_one_piece": 2, "top1": 0.0, "top3": 0.0,
                                   "top1_of_one_piece": 0.0, "top3_of_one_piece": 0.0,
                                   "whole_word_top1": 1 / 3, "pieces_per_word": 4 / 3}


@pytest.mark.skipif(MODEL is None, reason="no bundled model")
def test_batched_scoring_equals_fill_mask_one_sentence_at_a_time():
    tok = load_tokenizer(MODEL)
    items = [it for it in ev.read_items() if len(tok.tokenize(it["word"])) == 1][:12]
    r = ev.score(items, MODEL, top_k=5, batch_size=5)
    for it, row in zip(items, r["rows"]):
        direct = [f["token"] for f in fill_mask(ev.masked(it, 1, tok.mask_token), model=MODEL, top_k=5)]
        word_id = tok.convert_tokens_to_ids(tok.tokenize(it["word"]))[0]
        assert row["predicted"] == tok.convert_ids_to_tokens(direct)
        assert (row["hit1"], row["hitk"]) == (direct[0] == word_id, word_id in direct)
