"""The cloze probe (tests/benchmarks/cloze_probe.py and its cloze_probe.tsv).

References: the tokenizer itself (every answer one '▁word' piece), hit rates counted by hand on
a fake predictor, fill_mask called directly one sentence at a time (for the CLI), and a tiny
corpus written here (for --check-corpus).
"""
import importlib.util
import json
import lzma
import os

import pytest

from albert_np.pretrained import bundled_model
from albert_np.tasks import fill_mask, load_tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "benchmarks", "cloze_probe.py")
spec = importlib.util.spec_from_file_location("cloze_probe", SCRIPT)
cloze_probe = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cloze_probe)

MODEL = bundled_model()
needs_model = pytest.mark.skipif(MODEL is None, reason="no bundled model in this installation")


def rows_of(path):
    """(line number, [columns]) of the data rows of a probe file, read without the script."""
    with open(path, encoding="utf-8") as f:
        return [(n, line.rstrip("\n").split("\t")) for n, line in enumerate(f, 1)
                if line.strip() and not line.startswith("#")]


@needs_model
def test_committed_probe_is_valid():
    tok = load_tokenizer(MODEL)
    rows = rows_of(cloze_probe.PROBE)
    assert len(rows) >= 50
    assert {c: sum(r[0] == c for _, r in rows) for c in ("grammar", "everyday", "fact")} == \
        {"grammar": 25, "everyday": 25, "fact": 25}
    sentences = [" ".join(r[1].lower().split()) for _, r in rows]
    assert len(set(sentences)) == len(sentences), "duplicate sentences"
    unsayable = []
    for n, (category, sentence, answers) in rows:
        assert sentence.count("[MASK]") == 1, n
        for a in answers.split("|"):
            pieces = tok.tokenize(a)
            if not (len(pieces) == 1 and pieces[0].startswith("▁") and len(pieces[0]) > 1):
                unsayable.append((n, a))
            else:
                assert pieces[0] in tok.get_vocab(), (n, a)
    # The probe was written for version 1's vocabulary, where every answer is one piece; version 2's
    # cannot say "celsius" (the only answer of line 56: that sentence counts as a miss) or "vertices"
    # (one of two answers), as its model card says. Any other answer must be one piece.
    assert {a for _, a in unsayable} <= {"celsius", "vertices"}, unsayable
    items = cloze_probe.load_probe(cloze_probe.PROBE, tok, strict=False)     # the script agrees
    assert [it["line"] for it in items] == [n for n, _ in rows]
    assert [(it["line"], a) for it in items for a in it["unscorable"]] == unsayable
    if not unsayable:
        cloze_probe.load_probe(cloze_probe.PROBE, tok)                       # strict: no error


def test_hit_rates_by_hand(monkeypatch):
    predictions = {"a [MASK].": [10, 11, 12], "b [MASK] b": [5, 21, 7],     # hit at 1; hit at 2
                   "c [MASK] c": [1, 2, 30], "d [MASK] d": [1, 2, 3]}      # hit only at 3; never

    def fake_fill_mask(texts, model, top_k, batch_size, progress):                 # transformers' nesting
        out = [[{"token": t, "token_str": "x"} for t in predictions[s][:top_k]] for s in texts]
        return out[0] if len(out) == 1 else out
    monkeypatch.setattr(cloze_probe, "fill_mask", fake_fill_mask)
    assert cloze_probe.fill_mask_top_k(["d [MASK] d"], None, 3) == [[1, 2, 3]]   # a list of one, unwrapped
    items = [{"line": i + 1, "category": c, "sentence": s, "answers": ["w"], "answer_ids": ids}
             for i, (c, s, ids) in enumerate([("grammar", "a [MASK].", [10]), ("grammar", "b [MASK] b", [20, 21]),
                                              ("fact", "c [MASK] c", [30]), ("fact", "d [MASK] d", [40])])]
    predicted = cloze_probe.fill_mask_top_k([it["sentence"] for it in items], None, 3)
    r = cloze_probe.hit_rates(items, predicted, top_k=2)
    assert r["overall"] == {"n": 4, "top1": 0.25, "topk": 0.5}
    assert r["categories"] == {"grammar": {"n": 2, "top1": 0.5, "topk": 1.0},
                               "fact": {"n": 2, "top1": 0.0, "topk": 0.0}}
    assert r["mask_before_punctuation"] == {"n": 1, "top1": 1.0, "topk": 1.0}
    assert r["mask_inside"] == {"n": 3, "top1": 0.0, "topk": pytest.approx(1 / 3)}
    assert [(s["hit1"], s["hitk"]) for s in r["sentences"]] == [(True, True), (False, True),
                                                               (False, False), (False, False)]
    r3 = cloze_probe.hit_rates(items, predicted, top_k=3)
    assert r3["overall"] == {"n": 4, "top1": 0.25, "topk": 0.75}


@needs_model
@pytest.mark.parametrize("row, message", [
    ("grammar\tNo mask here.\tis", "exactly one"),
    ("grammar\tTwo [MASK] and [MASK].\tis", "exactly one"),
    ("grammar\tAn [MASK] answer.\tis||was", "empty answer"),
    ("everyday\tDirty plates go in the [MASK].\tdishwasher", "not one '▁word' piece"),
    ("everyday\tThe [MASK] is here.\tice cream", "not one '▁word' piece"),
    ("colour\tThe sky is [MASK].\tblue", "category"),
    ("fact\tThe sky is [MASK].", "3 tab-separated columns"),
    ("fact\tThe first sentence [MASK] here.\tis", "duplicate of the sentence on line 2"),
])
def test_bad_rows_name_their_line(tmp_path, row, message):
    path = tmp_path / "probe.tsv"
    path.write_text("# header\nfact\tThe first sentence [MASK] here.\tis\n\n" + row + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=f"probe.tsv:4: .*{message}"):
        cloze_probe.load_probe(path, load_tokenizer(MODEL))


@needs_model
def test_cli_json_matches_direct_fill_mask(tmp_path):
    tok = load_tokenizer(MODEL)
    rows = [next(r for _, r in rows_of(cloze_probe.PROBE) if r[0] == c) for c in ("grammar", "everyday", "fact")]
    direct = [[f["token"] for f in fill_mask(s, model=MODEL, top_k=5)] for _, s, _ in rows]   # one at a time
    # The first sentence also accepts the model's likeliest word piece, so that at least one hit is counted.
    words = [p[1:] for p in tok.convert_ids_to_tokens(direct[0]) if p.startswith("▁") and len(p) > 1
             and tok.tokenize(p[1:]) == [p]]
    assert words, f"no word piece among the top 5 of {rows[0][1]!r}: pick another sentence"
    rows[0][2] += "|" + words[0]
    probe = tmp_path / "probe.tsv"
    probe.write_text("".join("\t".join(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "out" / "result.json"
    os.makedirs(out.parent)
    assert cloze_probe.main(["--model", MODEL, "--probe", str(probe), "--json", str(out)]) == 0
    result = json.loads(out.read_text(encoding="utf-8"))

    accepted = [set(tok.convert_tokens_to_ids(["▁" + a for a in r[2].split("|")])) for r in rows]
    hit1 = [ids[0] in ok for ids, ok in zip(direct, accepted)]
    hitk = [any(i in ok for i in ids) for ids, ok in zip(direct, accepted)]
    assert any(hitk)
    assert [s["predicted"] for s in result["sentences"]] == direct
    assert [(s["hit1"], s["hitk"]) for s in result["sentences"]] == list(zip(hit1, hitk))
    assert result["overall"] == {"n": 3, "top1": sum(hit1) / 3, "topk": sum(hitk) / 3}
    for c, h1, hk in zip(("grammar", "everyday", "fact"), hit1, hitk):
        assert result["categories"][c] == {"n": 1, "top1": float(h1), "topk": float(hk)}
    assert os.listdir(out.parent) == ["result.json"]                      # no temp file left behind


def test_check_corpus_finds_verbatim_sentences(tmp_path):
    pretrain = tmp_path / "pretrain"
    pretrain.mkdir()
    wiki = ('<doc id="1" url="u" title="Cats">\nCats\n'
            'Once upon a time THE CAT  sat on the rug by the door! It slept.\n</doc>\n')
    books = "[Dogs by Someone 1900]\nDogs barked loudly. She is\nhere now.\n"
    for name, text in [("enwiki_2015_part1_of_2.txt.xz", wiki), ("enwiki_2015_part2_of_2.txt.xz", ""),
                       ("gutenberg_nltk_13_books.txt.xz", books)]:
        with lzma.open(pretrain / name, "wt", encoding="utf-8") as f:
            f.write(text)
    items = [{"line": 5, "sentence": "The cat sat on the [MASK] by the door.", "answers": ["mat", "rug"]},
             {"line": 6, "sentence": "Dogs [MASK] loudly.", "answers": ["bark"]},     # 'barked' is another word
             {"line": 7, "sentence": "[MASK] is here now.", "answers": ["he"]},       # inside 'she is here now'
             {"line": 8, "sentence": "She is [MASK] now.", "answers": ["here"]}]     # across a line break
    found, n_docs, n_chars, cpu = cloze_probe.check_corpus(items, str(tmp_path))
    assert found == [(5, "the cat sat on the rug by the door"), (8, "she is here now")]
    assert n_docs == 2 and cpu >= 0


@needs_model
def test_another_vocabulary_drops_unsayable_answers_and_counts_the_scorable(tmp_path, monkeypatch):
    tok = load_tokenizer(MODEL)
    assert tok.tokenize("dishwasher") != ["▁dishwasher"]               # not one piece in this vocabulary
    probe = tmp_path / "probe.tsv"
    probe.write_text("fact\tThe sky is [MASK] today.\tblue|dishwasher\n"
                     "everyday\tDirty plates go in the [MASK] at home.\tdishwasher\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not one '▁word' piece"):
        cloze_probe.load_probe(probe, tok)
    items = cloze_probe.load_probe(probe, tok, strict=False)
    assert [it["unscorable"] for it in items] == [["dishwasher"], ["dishwasher"]]
    assert [it["answer_ids"] for it in items] == [tok.convert_tokens_to_ids(["▁blue"]), []]

    def fake_fill_mask(texts, model, top_k, batch_size, progress):       # the unscorable row predicts nothing
        out = [[{"token": t, "token_str": "x"} for t in tok.convert_tokens_to_ids(["▁blue", "▁red"])]
               for _ in texts]
        return out[0] if len(out) == 1 else out
    monkeypatch.setattr(cloze_probe, "fill_mask", fake_fill_mask)
    r = cloze_probe.run_probe(MODEL, top_k=2, path=probe)
    assert r["scorable"] == 1 and r["dropped"] == {1: ["dishwasher"], 2: ["dishwasher"]}
    assert r["overall"] == {"n": 2, "top1": 0.5, "topk": 0.5}
    assert "scorable 1 of 2 sentences" in cloze_probe.report(r)


def test_near_window():
    item = {"sentence": "Yesterday the old cat sat on the [MASK] by the door."}
    assert cloze_probe.near_window(item, "mat") == "cat sat on the mat"
    short = {"sentence": "The [MASK] sat on the warm mat today."}
    assert cloze_probe.near_window(short, "Cat") == "the cat sat on the"
    assert cloze_probe.near_window({"sentence": "[MASK] is here, isn't it?"}, "he") == "he is here isn't it"


def test_check_corpora_finds_near_matches_in_everyday_too(tmp_path):
    (tmp_path / "pretrain").mkdir()
    (tmp_path / "everyday").mkdir()
    wiki = '<doc id="1" url="u" title="Cats">\nCats\nA cat sat on the rug. Then the old cat sat on the mat!\n</doc>\n'
    for name, text in [("enwiki_2015_part1_of_2.txt.xz", wiki), ("enwiki_2015_part2_of_2.txt.xz", ""),
                       ("gutenberg_nltk_13_books.txt.xz", "")]:
        with lzma.open(tmp_path / "pretrain" / name, "wt", encoding="utf-8") as f:
            f.write(text)
    kept = "I put the milk in the fridge.\nOk."
    held = next(f"Block {k}: I put the milk in the fridge." for k in range(200)
                if cloze_probe_heldout(f"Block {k}: I put the milk in the fridge."))
    assert not cloze_probe_heldout(kept)
    with lzma.open(tmp_path / "everyday" / "talk.txt.xz", "wt", encoding="utf-8") as f:
        f.write(kept + "\n\n" + held + "\n\n" + kept + "\n")
    items = [{"line": 3, "sentence": "Yesterday the old cat sat on the [MASK] by the door.", "answers": ["mat", "rug"]},
             {"line": 4, "sentence": "She keeps the milk in the [MASK].", "answers": ["fridge"]}]
    r = cloze_probe.check_corpora(items, str(tmp_path))
    assert r["pretrain"]["verbatim"] == []            # "the old cat sat on the mat by the door" is not there
    assert r["pretrain"]["near"] == [(3, "cat sat on the mat", 1), (3, "cat sat on the rug", 1)]
    assert r["everyday"]["documents"] == 2 and r["everyday"]["near"] == [(4, "the milk in the fridge", 2)]
    assert r["everyday_heldout"]["documents"] == 1 and r["everyday_heldout"]["near"] == [
        (4, "the milk in the fridge", 1)]


def cloze_probe_heldout(block):
    """The hold-out rule written again (sha256, first 8 hex digits, mod 20 == 0)."""
    import hashlib
    return int(hashlib.sha256(block.encode("utf-8")).hexdigest()[:8], 16) % 20 == 0
