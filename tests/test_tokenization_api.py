"""The tokenizers' everyday API: add_tokens / add_special_tokens (ids, splitting, decoding, files),
pad(), a call's padding_side, and text_target.

Each behaviour is checked on values worked out here by hand, and live against transformers 5's
AlbertTokenizer(Fast) (marker `parity`, skipped without transformers). Where transformers 5
differs on purpose (README's table), the test says so.
"""
import json
import os
import pickle
import sys

import numpy as np
import pytest

import albert_np
from albert_np.tokenization import AddedToken, AlbertTokenizer, AlbertTokenizerFast

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_tokenization import FIXTURES, ORACLE, UNDERLINE  # noqa: E402

HF5_FOLDER = FIXTURES / "transformers5_saved"         # the same vocabulary, as transformers 5 saves it
WORDS = ["newword", "NewCap", "foo bar", "the"]        # new, new (lowercased), with a space, already a piece


@pytest.fixture(params=[AlbertTokenizer, AlbertTokenizerFast], ids=["slow", "fast"])
def tok(request):
    return request.param.from_pretrained(FIXTURES)


def pieces(tok, text):
    return tok.convert_ids_to_tokens(tok(text)["input_ids"])


# %% add_tokens --------------------------------------------------------------------------------------------

def test_added_tokens_follow_the_vocabulary_and_are_never_split(tok):
    V = tok.vocab_size
    the = tok.sp_model.piece_to_id("the")
    assert tok.sp_model.id_to_piece(the) == "the"
    assert tok.add_tokens(WORDS) == 3 and len(tok) == V + 3 and tok.vocab_size == V
    assert tok.convert_tokens_to_ids(["newword", "newcap", "foo bar", "the"]) == [V, V + 1, V + 2, the]
    assert tok.convert_ids_to_tokens([V, V + 1, V + 2]) == ["newword", "newcap", "foo bar"]
    assert tok.add_tokens(["newword", "[MASK]", "-"]) == 0 and len(tok) == V + 3   # added, special, user-defined
    assert pieces(tok, "I like newword.") == ["[CLS]", "▁i", "▁like", "newword", UNDERLINE, ".", "[SEP]"]
    # the text between added tokens is tokenised on its own
    assert pieces(tok, "NEWCAP xnewwordy") == ["[CLS]", "newcap", *tok.tokenize("x"), "newword", *tok.tokenize("y"),
                                                "[SEP]"]
    assert tok.tokenize("x") == [UNDERLINE, "x"]
    assert pieces(tok, "say foo bar now") == ["[CLS]", "▁say", "foo bar", "▁now", "[SEP]"]
    assert pieces(tok, "then") == ["[CLS]", "the", UNDERLINE, "n", "[SEP]"]      # "the" is cut out, even there
    assert tok.get_vocab()["newcap"] == V + 1 and tok.get_added_vocab()["the"] == the
    enc = tok(["I like newword.", "foo bar"], padding=True, return_tensors="np")
    assert enc["input_ids"].max() == V + 2 and enc.word_ids(0) == [None, 0, 1, 2, 3, 3, None]


def test_decode_writes_added_tokens_apart(tok):
    V = tok.vocab_size
    tok.add_tokens(WORDS)
    tok.add_special_tokens({"additional_special_tokens": ["<E1>"]})
    ids = tok("I like newword. <E1> ok")["input_ids"]
    # transformers 4: the pieces between added tokens are decoded, then the parts joined by " "
    assert tok.decode(ids) == "[CLS]i like newword . <E1> ok[SEP]"
    assert tok.decode(ids, skip_special_tokens=True) == "i like newword . ok"
    assert tok.decode([V]) == "newword" and tok.decode([V, V + 2]) == "newword foo bar"
    assert tok.batch_decode(np.array([[V, 5], [V + 1, V]])) == [tok.decode([V, 5]), "newcap newword"]
    with pytest.raises(ValueError, match=rf"outside the vocabulary \[0, {V + 4}\)"):
        tok.decode([V + 4])


def test_added_token_options_and_bad_tokens():
    tok = AlbertTokenizer(str(FIXTURES / "spiece.model"), remove_space=False)
    tok.add_tokens([AddedToken("<l>", lstrip=True, normalized=False), AddedToken("<r>", rstrip=True, normalized=False)])
    assert tok.tokenize("a  <l>  b") == tok.tokenize("a") + ["<l>"] + tok.tokenize("  b")
    assert tok.tokenize("a  <r>  b") == tok.tokenize("a  ") + ["<r>"] + tok.tokenize("b")
    assert tok.add_tokens(AddedToken("KeepCase", normalized=False)) == 1
    assert tok.tokenize("keepcase KeepCase")[-1] == "KeepCase"
    assert "keepcase" not in tok.get_vocab()
    fast = AlbertTokenizerFast.from_pretrained(FIXTURES)                 # (its shortcut for plain text too)
    fast.add_tokens(AddedToken("KeepCase", normalized=False))
    for text in ("KeepCase", "a KeepCase b"):
        for offsets in (False, True):
            enc = fast(text, return_offsets_mapping=offsets)
            assert fast.convert_ids_to_tokens(enc["input_ids"]).count("KeepCase") == 1
    assert "KeepCase" not in fast.convert_ids_to_tokens(fast("keepcase")["input_ids"])
    for bad, error, pattern in [("", ValueError, "non-empty str"), ("  ", ValueError, "whitespace only"),
                                (3, TypeError, "must be a str"),
                                ({"content": "x", "single_word": True}, ValueError, r"single_word=True\) is not")]:
        with pytest.raises(error, match=pattern):
            tok.add_tokens([bad])
    with pytest.raises(ValueError, match="unknown key 'sep'"):
        tok.add_special_tokens({"sep": "x"})
    with pytest.raises(TypeError, match="must be a list of tokens"):
        tok.add_special_tokens({"additional_special_tokens": "<e>"})


def test_add_special_tokens_sets_and_replaces(tok):
    V = tok.vocab_size
    assert tok.add_special_tokens({"pad_token": "[PAD]", "additional_special_tokens": ["<E1>", "<E2>"]}) == 3
    assert (tok.pad_token, tok.pad_token_id) == ("[PAD]", V) and tok.additional_special_tokens == ["<E1>", "<E2>"]
    assert tok.all_special_tokens == ["[CLS]", "[SEP]", "<unk>", "[PAD]", "[MASK]", "<E1>", "<E2>"]
    assert tok.additional_special_tokens_ids == [V + 1, V + 2]
    assert tok(["a", "a b c"], padding=True)["input_ids"][0][-1] == V            # pads with the new [PAD]
    assert pieces(tok, "x <e1> y <E1>")[-2] == "<E1>" and "<e1>" not in pieces(tok, "x <e1> y")   # case kept
    assert tok.add_special_tokens({"additional_special_tokens": ["<E3>"]}) == 1              # replaces the list
    assert tok.additional_special_tokens == ["<E3>"] and "<E1>" in tok.get_added_vocab()    # <E1> stays a token
    tok.add_special_tokens({"extra_special_tokens": ["<E1>"]}, replace_additional_special_tokens=False)
    assert tok.additional_special_tokens == ["<E3>", "<E1>"]
    mask = tok.get_special_tokens_mask(tok("<E1> hi")["input_ids"], already_has_special_tokens=True)
    assert mask[:2] == [1, 1] and mask[-1] == 1


def test_added_tokens_survive_save_load_and_pickle(tok, tmp_path):
    tok.add_tokens(WORDS + [AddedToken("<r>", rstrip=True)])
    tok.add_special_tokens({"pad_token": "[PAD]", "additional_special_tokens": ["<E1>"]})
    tok.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    V = tok.vocab_size
    assert config["added_tokens_decoder"][str(V)] == {"content": "newword", "single_word": False, "lstrip": False,
                                                      "rstrip": False, "normalized": True, "special": False}
    assert config["additional_special_tokens"] == ["<E1>"] and config["pad_token"] == "[PAD]"
    text = "x <E1> NewCap then foo bar <r>  y [PAD]"
    for again in (type(tok).from_pretrained(tmp_path), pickle.loads(pickle.dumps(tok))):
        assert len(again) == len(tok) and again.get_added_vocab() == tok.get_added_vocab()
        assert again(text)["input_ids"] == tok(text)["input_ids"]
        assert again.all_special_tokens == tok.all_special_tokens and again.pad_token_id == tok.pad_token_id
    fresh = type(tok).from_pretrained(FIXTURES)                        # a pickle from before add_tokens existed
    state = fresh.__getstate__()
    del state["_added_tokens"], state["_additional_special_tokens"]
    old = type(tok).__new__(type(tok))
    old.__setstate__(state)
    assert old(text)["input_ids"] == fresh(text)["input_ids"] and len(old) == fresh.vocab_size
    os.remove(tmp_path / "spiece.model")                               # tokenizer.json alone (transformers 5's way)
    os.remove(tmp_path / "tokenizer_config.json")
    alone = type(tok).from_pretrained(tmp_path)
    assert alone(text)["input_ids"] == tok(text)["input_ids"] and len(alone) == len(tok)
    broken = json.loads(json.dumps(config))
    broken["added_tokens_decoder"][str(V + 9)] = broken["added_tokens_decoder"].pop(str(V + 1))
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(broken))
    with pytest.raises(ValueError, match="without gaps"):
        type(tok).from_pretrained(tmp_path)


def test_added_tokens_with_the_model(tmp_path):
    tok = AlbertTokenizerFast.from_pretrained(FIXTURES)
    model = albert_np.AlbertForMaskedLM(albert_np.AlbertConfig(
        vocab_size=tok.vocab_size, embedding_size=8, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=20, max_position_embeddings=32))
    tok.add_tokens(["newword"])
    model.resize_token_embeddings(len(tok))
    enc = tok("a newword [MASK]", return_tensors="np")
    assert model(**enc).logits.shape == (1, enc["input_ids"].shape[1], len(tok))


def test_offsets_of_added_tokens():
    fast = AlbertTokenizerFast.from_pretrained(FIXTURES)
    fast.add_tokens(["newword", "NewCap"])
    text = "I like NEWCAP and  newword!"
    enc = fast(text, return_offsets_mapping=True)
    tokens = fast.convert_ids_to_tokens(enc["input_ids"])
    spans = dict(zip(tokens, enc["offset_mapping"]))
    assert text[slice(*spans["newcap"])] == "NEWCAP" and text[slice(*spans["newword"])] == "newword"


# %% pad() --------------------------------------------------------------------------------------------------

def test_pad_by_hand(tok):
    enc = tok(["hello world", "a much longer text than that"])
    a, b = enc["input_ids"]
    out = tok.pad(enc)
    n = len(b)
    assert out["input_ids"] == [a + [0] * (n - len(a)), b]
    assert out["attention_mask"] == [[1] * len(a) + [0] * (n - len(a)), [1] * n]
    assert out["token_type_ids"] == [[0] * n, [0] * n]
    left = tok.pad(enc, padding="max_length", max_length=12, padding_side="left", return_tensors="np")
    assert left["input_ids"].tolist() == [[0] * (12 - len(a)) + a, [0] * (12 - n) + b]
    assert left["attention_mask"].dtype == np.int64 and left["attention_mask"][0, :12 - len(a)].sum() == 0
    rows = [{"input_ids": [2, 5, 3], "label": 1}, {"input_ids": [2, 5, 6, 7, 3], "label": 0}]
    out = tok.pad(rows, return_tensors="np")
    assert out["input_ids"].tolist() == [[2, 5, 3, 0, 0], [2, 5, 6, 7, 3]] and out["label"].tolist() == [1, 0]
    assert tok.pad({"input_ids": [2, 5, 3]}, padding="max_length", max_length=5) == \
        {"input_ids": [2, 5, 3, 0, 0], "attention_mask": [1, 1, 1, 0, 0]}
    masks = tok.pad(tok(["a b", "c"], return_special_tokens_mask=True), pad_to_multiple_of=8)
    assert [len(r) for r in masks["input_ids"]] == [8, 8] and masks["special_tokens_mask"][1][-1] == 1
    assert "attention_mask" not in tok.pad(enc, return_attention_mask=False)
    assert tok.pad(enc, padding=False)["input_ids"] == enc["input_ids"]
    with pytest.raises(ValueError, match="example 1 has the keys"):
        tok.pad([{"input_ids": [1], "attention_mask": [1]}, {"input_ids": [2]}])
    with pytest.raises(ValueError, match="cannot make an array of 'input_ids'"):
        tok.pad(enc, padding=False, return_tensors="np")
    with pytest.raises(ValueError, match="padding_side must be 'right' or 'left'"):
        tok.pad(enc, padding_side="up")


def test_padding_side_per_call(tok):
    texts = ["hi", "hello there friend"]
    right, left = tok(texts, padding=True), tok(texts, padding=True, padding_side="left")
    for r, l_, m in zip(right["input_ids"], left["input_ids"], right["attention_mask"]):
        n = sum(m)
        assert l_ == [0] * (len(r) - n) + r[:n]
    assert tok.padding_side == "right"
    assert tok(texts, padding=True, padding_side="left", return_tensors="np")["input_ids"].tolist() == left["input_ids"]


def test_text_target_by_hand(tok):
    enc = tok("hello world", text_target="bonjour le monde")
    assert enc["labels"] == tok("bonjour le monde")["input_ids"]
    assert enc["input_ids"] == tok("hello world")["input_ids"]
    batch = tok(["hello", "hi there"], text_target=["x", "y z w"], padding=True)
    assert batch["labels"] == tok(["x", "y z w"], padding=True)["input_ids"]      # padded on their own
    assert tok(text_target="bonjour")["input_ids"] == tok("bonjour")["input_ids"]
    pair = tok("q", "c", text_target="t", text_pair_target="u")
    assert pair["labels"] == tok("t", "u")["input_ids"]
    with pytest.raises(ValueError, match="give text"):
        tok()


# %% live against transformers 5 ----------------------------------------------------------------------------

def plain_lines(n):
    lines = [t for t in ORACLE["real"]["texts"] if all(c.isalpha() or c == " " for c in t) and len(t.split()) > 2]
    return lines[:n]


def texts_with_added_tokens(n=150):
    """Real lines with the added tokens put in: alone, glued to a word, uppercase, special."""
    out = []
    for i, line in enumerate(plain_lines(n)):
        words = line.split()
        k = i % len(words)
        insert = ["newword", "NEWCAP", "foo bar", "<E1>", "xnewwordy", "the"][i % 6]
        out.append(" ".join(words[:k] + [insert] + words[k:]))
    return out


def lowered(vocab):
    return {k.lower() if k == "NewCap" else k: v for k, v in vocab.items()}


@pytest.fixture(scope="module")
def transformers():
    return pytest.importorskip("transformers", reason="live parity needs transformers (pip install -e .[parity])")


@pytest.mark.parity
@pytest.mark.parametrize("cls", [AlbertTokenizer, AlbertTokenizerFast], ids=["slow", "fast"])
def test_added_tokens_encode_as_transformers5(cls, transformers):
    hf = transformers.AlbertTokenizerFast.from_pretrained(str(HF5_FOLDER))
    ours = cls.from_pretrained(FIXTURES)
    assert hf.add_tokens(["newword", "NewCap", "foo bar"]) == ours.add_tokens(["newword", "NewCap", "foo bar"]) == 3
    assert hf.add_special_tokens({"pad_token": "[PAD]", "additional_special_tokens": ["<E1>"]}) == \
        ours.add_special_tokens({"pad_token": "[PAD]", "additional_special_tokens": ["<E1>"]}) == 2
    # transformers 5 lists a normalized token as given ("NewCap") but matches it lowercased, as we store it
    assert len(hf) == len(ours) and lowered(hf.get_added_vocab()) == ours.get_added_vocab()
    assert hf.all_special_tokens == ours.all_special_tokens and hf.all_special_ids == ours.all_special_ids
    texts = texts_with_added_tokens() + ["a <pad> b [PAD]"]           # <pad>, no longer special, stays whole
    assert len(texts) >= 100
    assert ours(texts)["input_ids"] == hf(texts)["input_ids"]
    # decoding: transformers 5 joins an added token to its neighbours, transformers 4 (and we) put a space
    for ids in hf(texts[:30])["input_ids"]:
        assert ours.decode(ids).replace(" ", "") == hf.decode(ids).replace(" ", "")
        assert ours.decode(ids, skip_special_tokens=True).replace(" ", "") == \
            hf.decode(ids, skip_special_tokens=True).replace(" ", "")


@pytest.mark.parity
def test_added_tokens_files_load_both_ways(tmp_path, transformers):
    texts = texts_with_added_tokens(60) + ["[PAD] <E1> then", "a <pad> b"]
    ours = AlbertTokenizerFast.from_pretrained(FIXTURES)
    ours.add_tokens(WORDS)
    ours.add_special_tokens({"pad_token": "[PAD]", "additional_special_tokens": ["<E1>"]})
    ours.save_pretrained(tmp_path / "ours")
    for loader in (transformers.AlbertTokenizerFast, transformers.AutoTokenizer):
        hf = loader.from_pretrained(str(tmp_path / "ours"))
        assert len(hf) == len(ours) and hf.get_added_vocab() == ours.get_added_vocab()
        assert hf.all_special_tokens == ours.all_special_tokens and hf.pad_token_id == ours.pad_token_id
        assert hf(texts)["input_ids"] == ours(texts)["input_ids"]
    hf = transformers.AlbertTokenizerFast.from_pretrained(str(HF5_FOLDER))
    hf.add_tokens(WORDS)
    hf.add_special_tokens({"pad_token": "[PAD]", "additional_special_tokens": ["<E1>"]})
    hf.save_pretrained(str(tmp_path / "theirs"))
    for cls in (AlbertTokenizer, AlbertTokenizerFast):
        back = cls.from_pretrained(tmp_path / "theirs")
        assert len(back) == len(hf) and back.get_added_vocab() == lowered(hf.get_added_vocab())
        assert back.all_special_tokens == hf.all_special_tokens and back.pad_token_id == hf.pad_token_id
        assert back(texts)["input_ids"] == hf(texts)["input_ids"]


@pytest.mark.parity
def test_pad_padding_side_and_text_target_as_transformers5(transformers):
    hf = transformers.AlbertTokenizerFast.from_pretrained(str(HF5_FOLDER))
    ours = AlbertTokenizerFast.from_pretrained(FIXTURES)
    texts = plain_lines(6)
    kw = dict(return_token_type_ids=True)                              # transformers 5 omits them by default

    def same(a, b):
        assert set(a) == set(b), (sorted(a), sorted(b))
        for k in a:
            x, y = a[k], b[k]
            x, y = (v.tolist() if isinstance(v, np.ndarray) else v for v in (x, y))
            assert x == y, k
    enc = ours(texts, **kw)
    for options in (dict(), dict(padding="max_length", max_length=40, padding_side="left", return_tensors="np"),
                    dict(pad_to_multiple_of=8), dict(padding=False)):
        same(ours.pad(enc, **options), hf.pad(hf(texts, **kw), **options))
    rows = [{"input_ids": ids, "label": i % 2} for i, ids in enumerate(enc["input_ids"])]
    same(ours.pad(rows, return_tensors="np"), hf.pad(rows, return_tensors="np"))
    same(ours.pad(ours(texts, return_special_tokens_mask=True, **kw)),
         hf.pad(hf(texts, return_special_tokens_mask=True, **kw)))
    same(ours(texts, padding=True, padding_side="left", **kw), hf(texts, padding=True, padding_side="left", **kw))
    same(ours(texts[:3], text_target=texts[3:], padding=True, truncation=True, max_length=12, **kw),
         hf(texts[:3], text_target=texts[3:], padding=True, truncation=True, max_length=12, **kw))
    same(ours(text_target=texts[0], **kw), hf(text_target=texts[0], **kw))
    same(ours("q", "c", text_target="t", text_pair_target="u", **kw),
         hf("q", "c", text_target="t", text_pair_target="u", **kw))


@pytest.mark.parity
def test_the_differences_from_transformers5_are_the_documented_ones(transformers):
    """Each row of README's table, shown on the bundled vocabulary (16k pieces)."""
    folder = albert_np.pretrained.bundled_model()
    if folder is None:
        pytest.skip("this installation has no bundled model")
    ours, hf = AlbertTokenizerFast.from_pretrained(folder), transformers.AlbertTokenizerFast.from_pretrained(folder)
    assert "token_type_ids" in ours("a", "b") and "token_type_ids" not in hf("a", "b")
    assert ours("a", "b")["token_type_ids"] == [0, 0, 0, 1, 1]
    assert hf("a", "b", return_token_type_ids=True)["token_type_ids"] == [0, 0, 0, 1, 1]
    text = "in 2012,5 more"                            # "▁2012," is a piece of both versions' vocabularies
    assert ours.tokenize(text)[1:4] == ["▁2012", ",", "5"] and hf.tokenize(text)[1:3] == ["▁2012,", "5"]
    # the pieces differ between vocabularies (v2 has no Devanagari: one <unk> piece), the letters they spell do not
    assert "".join(ours.tokenize("हिन्दी")) == "▁हिनदी" and "".join(hf.tokenize("हिन्दी")) == "▁हनद"
    text = 'a well-known (old) "quoted" thing'
    a, b = ours(text, return_offsets_mapping=True), hf(text, return_offsets_mapping=True)
    assert a["input_ids"] == b["input_ids"]
    bare = [i for i, t in enumerate(a["input_ids"]) if t == ours.convert_tokens_to_ids("▁")]
    assert [a["offset_mapping"][i] for i in bare] == [(13, 13), (19, 19)]
    assert [tuple(b["offset_mapping"][i]) for i in bare] == [(13, 14), (19, 20)]
    assert ours.add_tokens(["covid19", "CoVid", "the"]) == 2 and hf.add_tokens(["covid19", "CoVid", "the"]) == 3
    ids = ours("I like covid19 .")["input_ids"]
    assert ids == hf("I like covid19 .")["input_ids"]
    assert ours.decode(ids, skip_special_tokens=True) == "i like covid19 ."
    assert hf.decode(ids, skip_special_tokens=True) == "i likecovid19 ."
    assert "covid" in ours.get_vocab() and "CoVid" in hf.get_vocab()
    assert ours.convert_ids_to_tokens(ours.convert_tokens_to_ids("covid")) == hf.convert_ids_to_tokens(
        hf.get_vocab()["CoVid"]) == "covid"
