"""Tests of albert_np.tokenization against transformers 4.x (recorded) and the model's own normaliser.

The reference outputs in fixtures/tokenizer/oracle_transformers4.json were produced by
transformers 4.57's AlbertTokenizer (and, where noted, its fast tokenizer) by
tests/fixtures/make_tokenizer_fixtures.py; the full >= 100k-line parity run is that script's --parity mode.
"""
import hashlib
import json
import os
import pickle
import unicodedata
from pathlib import Path

import numpy as np
import pytest
import sentencepiece

from albert_np import tokenization
from albert_np.tokenization import AlbertTokenizer, AlbertTokenizerFast, BatchEncoding

FIXTURES = Path(__file__).parent / "fixtures" / "tokenizer"
ORACLE = json.loads((FIXTURES / "oracle_transformers4.json").read_text(encoding="utf-8"))
SPIECE = str(FIXTURES / "spiece.model")
UNDERLINE = "\u2581"


@pytest.fixture(scope="module")
def slow():
    return AlbertTokenizer.from_pretrained(FIXTURES)


@pytest.fixture(scope="module")
def fast():
    return AlbertTokenizerFast.from_pretrained(FIXTURES)


def rows(value):
    return value.tolist() if isinstance(value, np.ndarray) else value


SAME_SENTENCEPIECE = ORACLE["sentencepiece"] == sentencepiece.__version__


def assert_same_ids(tok, got, want):
    """Rows of ids are equal. Under another sentencepiece version than the oracle's, a row may
    differ only by a tie: another segmentation of the same text with the same total score
    (versions break Viterbi ties differently, e.g. "000" = "00" + "0" or "0" + "00")."""
    got, want = rows(got), rows(want)
    if got == want:
        return
    assert len(got) == len(want)
    for g, w in zip(got, want):
        if g != w:
            assert not SAME_SENTENCEPIECE, (tok.convert_ids_to_tokens(g), tok.convert_ids_to_tokens(w))
            assert "".join(tok.convert_ids_to_tokens(g)) == "".join(tok.convert_ids_to_tokens(w))
            score = [sum(tok.sp_model.get_score(i) for i in ids) for ids in (g, w)]
            assert abs(score[0] - score[1]) < 1e-3, (tok.convert_ids_to_tokens(g), tok.convert_ids_to_tokens(w))


# %% Offsets: every span must normalise back to its token ------------------------------------------

def reference_normalise(sp, text):
    """What the model sees of `text`, written from the spec (not the library's code): per-char
    lowercase, collapse spaces, `` '' -> ", NFKD without combining marks, lowercase, then the
    SentencePiece model's own normaliser; "▁" removed."""
    text = " ".join("".join(c.lower() for c in text).split()).replace("``", '"').replace("''", '"')
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).lower()
    return sp.normalize(text).replace(UNDERLINE, "")


def check_offsets(tok, text, ids, offsets):
    """[(token index, problem)] for tokens whose (start, end) does not map back to `text`.

    * the normalised original[start:end] equals the piece without "▁" (contains it, when one
      original character expands to several tokens, e.g. "ﬁ" -> "f", "i");
    * a bare "▁" gets an empty span; special tokens typed in the text span their text;
    * spans never go backwards, and the text between spans normalises to nothing.
    """
    sp, problems = tok.sp_model, []
    added = {tok.cls_token_id, tok.sep_token_id, tok.pad_token_id}
    tokens = [(i, t, s, e) for i, (t, (s, e)) in enumerate(zip(rows(ids), rows(offsets)))
              if not (t in added and s == e == 0)]
    previous_start = previous_end = 0
    for k, (i, token_id, start, end) in enumerate(tokens):
        piece = sp.id_to_piece(token_id)
        if start < previous_start or end < previous_end or not 0 <= start <= end <= len(text):
            problems.append((i, f"span {start, end} goes backwards or out of the text"))
        if start > previous_end and reference_normalise(sp, text[previous_end:start]):
            problems.append((i, f"text {text[previous_end:start]!r} before the token is skipped"))
        got = reference_normalise(sp, text[start:end])
        want = piece.replace(UNDERLINE, "")
        shares = any(tokens[j][2] < end and start < tokens[j][3] for j in (k - 1, k + 1)
                     if 0 <= j < len(tokens) and j != k)
        if token_id in tok.all_special_ids and token_id != tok.unk_token_id:
            ok = text[start:end].lower() == piece.lower()
        elif token_id == tok.unk_token_id:
            ok = start < end and got != ""
        elif not want:
            ok = start == end
        else:
            ok = want in got if shares else want == got
        if not ok:
            problems.append((i, f"{piece!r} spans {text[start:end]!r} (normalised {got!r})"))
        previous_start, previous_end = start, max(previous_end, end)
    if reference_normalise(sp, text[previous_end:]):
        problems.append((len(ids), f"text {text[previous_end:]!r} after the last token is skipped"))
    return problems


# %% Ids against transformers 4.x ------------------------------------------------------------------

def test_hostile_tokens_and_ids_match_transformers4(slow, fast):
    texts, want = ORACLE["hostile"]["texts"], ORACLE["hostile"]["ids"]
    if SAME_SENTENCEPIECE:
        assert [slow.tokenize(t) for t in texts] == ORACLE["hostile"]["tokens"]
    assert_same_ids(slow, [slow.encode(t) for t in texts], want)
    assert_same_ids(slow, fast(texts)["input_ids"], want)
    assert_same_ids(slow, [fast.encode(t) for t in texts], want)
    assert_same_ids(slow, fast(texts, return_offsets_mapping=True)["input_ids"], want)


def test_real_lines_ids_match_transformers4(slow, fast):
    texts, want = ORACLE["real"]["texts"], ORACLE["real"]["ids"]
    assert len(texts) >= 2000
    assert_same_ids(slow, [slow.encode(t) for t in texts], want)
    assert_same_ids(slow, fast(texts)["input_ids"], want)
    assert_same_ids(slow, fast(texts, return_offsets_mapping=True)["input_ids"], want)


def test_special_tokens_and_vocabulary_match_transformers4(slow, fast):
    want = ORACLE["attributes"]
    for tok in (slow, fast):
        assert tok.all_special_tokens == want["all_special_tokens"]
        assert tok.all_special_ids == want["all_special_ids"]
        assert (tok.vocab_size, len(tok)) == (want["vocab_size"], want["len"])
        assert [tok.mask_token_id, tok.cls_token_id, tok.sep_token_id, tok.pad_token_id, tok.unk_token_id] == [
            want["mask_token_id"], want["cls_token_id"], want["sep_token_id"], want["pad_token_id"],
            want["unk_token_id"]]
        vocab = json.dumps(tok.get_vocab(), sort_keys=True).encode()
        assert hashlib.sha256(vocab).hexdigest() == ORACLE["vocab_sha256"]
        assert tok.get_special_tokens_mask([2, 5, 3, 4, 1, 0, 9], already_has_special_tokens=True) == \
            want["special_mask_existing"]


def test_decode_matches_transformers4(slow, fast):
    d = ORACLE["decode"]
    for tok in (slow, fast):
        assert [tok.decode(ids) for ids in d["ids"]] == d["plain"]
        assert tok.batch_decode(d["ids"], skip_special_tokens=True) == d["skip_special_tokens"]
        assert [tok.decode(np.array(ids), clean_up_tokenization_spaces=True) for ids in d["ids"]] == d["clean_up"]


def test_subword_sampling_draws_like_transformers4():
    """sp_model_kwargs sampling: same segmentations, drawn as often as transformers 4.x draws them."""
    s = ORACLE["sampling"]
    for cls in (AlbertTokenizer, AlbertTokenizerFast):
        tok = cls.from_pretrained(FIXTURES, sp_model_kwargs=s["sp_model_kwargs"])
        for text, want in zip(s["texts"], s["counts"]):
            seen = {}
            for _ in range(s["n"]):
                ids = tok(text, add_special_tokens=False)["input_ids"]
                key = " ".join(tok.convert_ids_to_tokens(ids))
                seen[key] = seen.get(key, 0) + 1
            assert len(seen) > 5                                       # it does sample
            n = s["n"]
            for segmentation, count in want.items():                   # two-sample test, 4 sigma
                p = count / n
                if p >= 0.02:
                    sigma = (2 * p * (1 - p) / n) ** 0.5
                    assert abs(seen.get(segmentation, 0) / n - p) < 4 * sigma, (cls.__name__, segmentation)
            assert all("".join(k.split()) == "".join(slow_pieces(text)) for k in seen)


def slow_pieces(text):
    return AlbertTokenizer(SPIECE).tokenize(text)


@pytest.mark.parametrize("call", range(3))
def test_pairs_with_truncation_match_transformers4(slow, fast, call):
    case = ORACLE["pairs"][call]
    assert len(case["texts"]) >= 50
    for tok in (slow, fast):
        got = tok(case["texts"], case["text_pairs"], **case["kwargs"])
        assert_same_ids(tok, got["input_ids"], case["output"]["input_ids"])
        for key, value in case["output"].items():
            assert key == "input_ids" or got[key] == value, key


def test_single_text_truncation_matches_transformers4(slow, fast):
    case = ORACLE["single_truncation"]
    for tok in (slow, fast):
        got = tok(case["texts"], **case["kwargs"])
        assert {k: got[k] for k in case["output"]} == case["output"]


@pytest.mark.parametrize("case", range(4))
def test_padding_matches_transformers4(slow, fast, case):
    c = ORACLE["padding"][case]
    for tok in (slow, fast):
        got = tok(c["text"], c.get("text_pair"), **c["kwargs"])
        for key, value in c["output"].items():
            if c["kwargs"].get("return_tensors") == "np":
                assert got[key].dtype == np.int64 and got[key].shape == np.array(value).shape
            assert rows(got[key]) == value, key


def test_flag_variants_match_transformers4():
    texts = ORACLE["hostile"]["texts"]
    for variant in ORACLE["variants"]:
        slow = AlbertTokenizer(SPIECE, **variant["init"])
        fast = AlbertTokenizerFast(SPIECE, **variant["init"])
        assert_same_ids(slow, [slow.encode(t) for t in texts], variant["ids"])
        assert_same_ids(slow, fast(texts)["input_ids"], variant["ids"])
        assert_same_ids(slow, fast(texts, return_offsets_mapping=True)["input_ids"], variant["ids"])


def test_split_into_words_ids_and_word_ids(slow, fast):
    s = ORACLE["split_words"]
    for tok in (slow, fast):
        got = tok(s["words"], is_split_into_words=True)
        assert_same_ids(tok, got["input_ids"], s["output"]["input_ids"])
        assert got["token_type_ids"] == s["output"]["token_type_ids"]
    # where transformers 4.x's fast tokenizer has the same ids, its word_ids are the reference
    got = fast(s["words"], is_split_into_words=True)
    assert len(s["fast_word_ids"]) >= 40
    for i, want in s["fast_word_ids"].items():
        assert got.word_ids(int(i)) == want
    # and every token's piece comes from the word it is assigned to
    for i, words in enumerate(s["words"]):
        for token_id, w in zip(got["input_ids"][i], got.word_ids(i)):
            if w is not None and token_id not in fast.all_special_ids:
                piece = fast.convert_ids_to_tokens(token_id).replace(UNDERLINE, "")
                assert piece in reference_normalise(fast.sp_model, words[w]) or piece in words[w].lower()


def test_overflowing_windows_match_transformers4_fast(fast):
    o = ORACLE["overflow"]                     # examples where 4.x's fast ids equal its slow ids
    assert len(o["questions"]) >= 15
    got = fast(o["questions"], o["contexts"], return_offsets_mapping=True, **o["kwargs"])
    want = o["fast_rows"]
    assert len(got["input_ids"]) > len(o["questions"])                 # some contexts need several windows
    assert_same_ids(fast, got["input_ids"], want["input_ids"])
    for key in ("token_type_ids", "attention_mask", "overflow_to_sample_mapping"):
        assert got[key] == want[key], key
    # transformers 4.x puts a piece's leading space in its span; ours starts after it
    compared = 0
    for r, hf_offsets in enumerate(want["offset_mapping"]):
        sample = got["overflow_to_sample_mapping"][r]
        seq = got.sequence_ids(r)
        for t, ((s, e), (hs, he)) in enumerate(zip(got["offset_mapping"][r], hf_offsets)):
            if seq[t] is None or got["input_ids"][r][t] == fast.convert_tokens_to_ids(UNDERLINE):
                continue
            text = o["questions"][sample] if seq[t] == 0 else o["contexts"][sample]
            while hs < he and text[hs].isspace():
                hs += 1
            assert (s, e) == (hs, he), (r, t, text[s:e], text[hs:he])
            compared += 1
    assert compared > 1000


def test_windows_cover_the_context_with_the_stride(fast):
    question, context = "Who?", " ".join(f"word{i}" for i in range(150))
    full = fast(question, context)["input_ids"]
    got = fast(question, context, truncation="only_second", max_length=40, stride=10,
               return_overflowing_tokens=True, return_offsets_mapping=True)
    n_question = full.index(fast.sep_token_id) - 1
    contexts = [ids[n_question + 2:-1] for ids in got["input_ids"]]
    whole = full[n_question + 2:-1]
    assert all(len(ids) <= 40 for ids in got["input_ids"])
    assert got["overflow_to_sample_mapping"] == [0] * len(contexts) and len(contexts) > 3
    start = 0
    for k, window in enumerate(contexts):
        assert window == whole[start:start + len(window)]
        if k + 1 < len(contexts):
            assert len(window) == 40 - n_question - 3
            start += len(window) - 10                              # 10 tokens shared with the next
    assert start + len(contexts[-1]) == len(whole)


def test_single_text_windows_and_split_word_offsets(slow, fast):
    text = " ".join(f"w{i}" for i in range(60))
    for tok in (slow, fast):                   # the same windows from both classes
        got = tok(text, truncation=True, max_length=20, stride=5, return_overflowing_tokens=True)
        assert got["overflow_to_sample_mapping"] == [0] * len(got["input_ids"]) and len(got["input_ids"]) > 3
        assert all(len(r) <= 20 and r[0] == tok.cls_token_id and r[-1] == tok.sep_token_id
                   for r in got["input_ids"])
        assert got["input_ids"][1][1:6] == got["input_ids"][0][-6:-1]          # 5 tokens of overlap
        assert got.word_ids(1)[1] == got.word_ids(0)[-6]                       # words count from the text
    words = ["Zoë", "lives", "in", "Zürich,", "(CH)"]
    enc = fast(words, is_split_into_words=True, return_offsets_mapping=True)
    for t, w in enumerate(enc.word_ids()):
        if w is not None:                      # offsets point into each word, as transformers' fast
            s, e = enc["offset_mapping"][t]
            piece = fast.convert_ids_to_tokens(enc["input_ids"][t]).replace(UNDERLINE, "")
            assert reference_normalise(fast.sp_model, words[w][s:e]) == piece


# %% Offsets ---------------------------------------------------------------------------------------

def test_offsets_map_back_to_the_original_text(fast):
    texts = ORACLE["hostile"]["texts"] + ORACLE["real"]["texts"]
    enc = fast(texts, return_offsets_mapping=True)
    problems = {i: check_offsets(fast, t, enc["input_ids"][i], enc["offset_mapping"][i])
                for i, t in enumerate(texts)}
    assert {texts[i]: p for i, p in problems.items() if p} == {}
    assert enc["offset_mapping"][0][0] == (0, 0) and enc["offset_mapping"][0][-1] == (0, 0)


def test_offsets_examples(fast):
    text = "  Hello  wörld, ``quoted''\u00a0ﬁne [MASK] 12,345,"
    enc = fast(text, return_offsets_mapping=True)
    spans = [text[s:e] for s, e in enc["offset_mapping"]]
    tokens = fast.convert_ids_to_tokens(enc["input_ids"])
    assert spans[0] == spans[-1] == ""                                  # [CLS], [SEP]
    assert spans[tokens.index("[MASK]")] == "[MASK]"                    # without the space it absorbed
    assert "``" in spans and "''" in spans                              # each became one '"'
    assert spans[-2] == ","                                             # the digit-comma rule's comma
    assert spans[tokens.index("ine")] == "ﬁne"                          # "ﬁ" -> "f" + "i": both cover "ﬁ"
    covered = {k for s, e in enc["offset_mapping"] for k in range(s, e)}
    assert covered == {k for k, c in enumerate(text) if not c.isspace()}


def test_pair_offsets_point_into_each_text(fast):
    a, b = "Where is Zoë?", "Zoë lives in Zürich, near the lake."
    enc = fast(a, b, return_offsets_mapping=True)
    seq = enc.sequence_ids()
    for which, text in enumerate((a, b)):
        tokens = [t for t in range(len(seq)) if seq[t] == which]
        assert check_offsets(fast, text, [enc["input_ids"][t] for t in tokens],
                             [enc["offset_mapping"][t] for t in tokens]) == []
    assert [seq[0], seq[-1]] == [None, None] and set(seq) == {None, 0, 1}
    assert enc.word_ids()[seq.index(1)] == 0                             # each sequence counts from 0


def test_word_ids_follow_whitespace_words(fast, slow):
    text = "Plants create [MASK] through photosynthesis, (mostly) 12,345, times."
    enc = fast(text, return_offsets_mapping=True)
    words = text.split()
    for t, w in enumerate(enc.word_ids()):
        if w is not None:
            s, e = enc["offset_mapping"][t]
            assert text[s:e] in words[w], (text[s:e], words[w])
    assert enc.word_ids() == slow(text).word_ids()


# %% The example, outputs and BatchEncoding ------------------------------------------------

def test_mask_example_with_numpy_arrays(fast, slow):
    for tok in (slow, fast):
        inputs = tok("Plants create [MASK] through a process known as photosynthesis.", return_tensors="np")
        assert isinstance(inputs, BatchEncoding)
        assert inputs.input_ids.dtype == np.int64 and inputs.input_ids.shape[0] == 1
        assert (inputs.input_ids == tok.mask_token_id).sum() == 1
        assert set(inputs) == {"input_ids", "token_type_ids", "attention_mask"}
        assert inputs.input_ids[0, 0] == tok.cls_token_id and inputs.input_ids[0, -1] == tok.sep_token_id
        with pytest.raises(AttributeError, match="holds"):
            inputs.labels


def test_optional_outputs(fast):
    enc = fast(["a b c", "d"], ["e", "f g"], padding=True, return_tensors="np", return_length=True,
               return_special_tokens_mask=True, return_token_type_ids=False, return_attention_mask=False)
    assert set(enc) == {"input_ids", "special_tokens_mask", "length"}
    assert enc.length.tolist() == [int((row != fast.pad_token_id).sum()) for row in enc.input_ids]
    left = AlbertTokenizerFast(SPIECE, padding_side="left")(["a b c", "d"], padding=True)
    unpadded = fast("d")["input_ids"]
    n_pad = len(fast("a b c")["input_ids"]) - len(unpadded)
    assert n_pad > 0
    assert left["input_ids"][1] == [fast.pad_token_id] * n_pad + unpadded
    assert left["attention_mask"][1] == [0] * n_pad + [1] * len(unpadded)
    assert left.word_ids(1)[:n_pad] == [None] * n_pad


def test_token_and_string_conversions(slow):
    tokens = slow.tokenize("Hello world, 1,000,")
    ids = slow.convert_tokens_to_ids(tokens)
    assert slow.convert_ids_to_tokens(ids) == tokens
    assert slow.convert_tokens_to_string(tokens) == "hello world, 1,000,"
    assert slow.convert_tokens_to_ids("no-such-piece-anywhere") == slow.unk_token_id
    assert slow.build_inputs_with_special_tokens([7], [8]) == [slow.cls_token_id, 7, slow.sep_token_id, 8,
                                                               slow.sep_token_id]
    assert slow.create_token_type_ids_from_sequences([7, 7], [8]) == [0, 0, 0, 0, 1, 1]
    assert slow.get_special_tokens_mask([7, 7], [8]) == [1, 0, 0, 1, 0, 1]
    with pytest.raises(ValueError, match="outside the vocabulary"):
        slow.convert_ids_to_tokens([slow.vocab_size])


def test_pickling_keeps_settings(fast):
    tok = AlbertTokenizerFast(SPIECE, keep_accents=True, model_max_length=128)
    again = pickle.loads(pickle.dumps(tok))
    text = "Café 12,345, [MASK]"
    assert again(text, return_offsets_mapping=True) == tok(text, return_offsets_mapping=True)
    assert (again.keep_accents, again.model_max_length, again.is_fast) == (True, 128, True)
    enc = fast([text, "x"], padding=True)
    assert pickle.loads(pickle.dumps(enc)).word_ids(1) == enc.word_ids(1)


# %% Errors ----------------------------------------------------------------------------------------

def test_bad_inputs_raise_clear_errors(fast, slow, tmp_path):
    for tok in (slow, fast):
        with pytest.raises(TypeError, match="text must be a str.*int"):
            tok(12)
        with pytest.raises(TypeError, match=r"text at index 1 must be a str, got NoneType"):
            tok(["ok", None])
        with pytest.raises(ValueError, match="text has 2 .* text_pair 3"):
            tok(["a", "b"], ["c", "d", "e"])
        with pytest.raises(ValueError, match="max_length=2 leaves no room.*3 special"):
            tok("a", "b", truncation=True, max_length=2)
        with pytest.raises(ValueError, match="max_length=1 leaves no room.*2 special"):
            tok("a b c", max_length=1)
        with pytest.raises(ValueError, match="return_tensors='pt'.*'np'.*no torch"):
            tok("a", return_tensors="pt")
        with pytest.raises(ValueError, match="different lengths.*padding=True"):
            tok(["a", "b c d"], return_tensors="np")
        with pytest.raises(ValueError, match="only_second.*needs a text_pair"):
            tok("a", truncation="only_second", max_length=5)
        with pytest.raises(ValueError, match="first sequence would have to lose"):
            tok("a b c d e f g h", "z", truncation="only_first", max_length=4)
    with pytest.raises(NotImplementedError, match="AlbertTokenizerFast"):
        slow("a", return_offsets_mapping=True)
    with pytest.raises(ValueError, match="stride=30 must be smaller"):
        fast("q", "a " * 100, truncation="only_second", max_length=20, stride=30, return_overflowing_tokens=True)
    with pytest.raises(FileNotFoundError, match="neither spiece.model nor tokenizer.json"):
        AlbertTokenizer.from_pretrained(tmp_path)
    from albert_np import hub                  # a Hub id that cannot be fetched says why, not "no file"
    with pytest.raises(hub.HubUnreachableError, match="local_files_only"):
        AlbertTokenizer.from_pretrained("someone/no-such-albert", local_files_only=True,
                                        cache_dir=str(tmp_path / "cache"))
    with pytest.raises(FileNotFoundError, match="not found"):
        AlbertTokenizer(str(tmp_path / "spiece.model"))
    (tmp_path / "bad.model").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a valid SentencePiece model"):
        AlbertTokenizer(str(tmp_path / "bad.model"))
    with pytest.raises(ValueError, match=r"mask_token '<mask>' is not a piece"):
        AlbertTokenizer(SPIECE, mask_token="<mask>")


# %% Files -----------------------------------------------------------------------------------------

def test_save_pretrained_round_trip(tmp_path):
    tok = AlbertTokenizer(SPIECE, do_lower_case=False, model_max_length=256)
    paths = tok.save_pretrained(tmp_path)
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["spiece.model", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json"])
    assert {os.path.basename(p) for p in paths} == set(os.listdir(tmp_path))
    assert (tmp_path / "spiece.model").read_bytes() == Path(SPIECE).read_bytes()
    again = AlbertTokenizerFast.from_pretrained(tmp_path)
    assert (again.do_lower_case, again.model_max_length) == (False, 256)
    texts = ORACLE["hostile"]["texts"]
    assert again(texts)["input_ids"] == tok(texts)["input_ids"]
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "AlbertTokenizer" and config["added_tokens_decoder"]["4"]["lstrip"]
    assert AlbertTokenizer.from_pretrained(tmp_path, do_lower_case=True).do_lower_case


def test_tokenizer_json_only_folders_rebuild_the_model(tmp_path, slow):
    texts = ORACLE["hostile"]["texts"] + ORACLE["real"]["texts"][:500]
    want = [slow.encode(t) for t in texts]
    # written by transformers 5.x (which saves no spiece.model)
    from_hf5 = AlbertTokenizerFast.from_pretrained(FIXTURES / "transformers5_saved")
    assert from_hf5(texts)["input_ids"] == want
    # written by us, spiece.model removed
    slow.save_pretrained(tmp_path)
    os.remove(tmp_path / "spiece.model")
    rebuilt = AlbertTokenizer.from_pretrained(tmp_path)
    assert [rebuilt.encode(t) for t in texts] == want
    sp, sp2 = slow.sp_model, rebuilt.sp_model
    for i in range(len(sp)):
        assert (sp2.id_to_piece(i), sp2.get_score(i)) == (sp.id_to_piece(i), sp.get_score(i))
    assert tokenization.read_piece_types(rebuilt._model_proto) == tokenization.read_piece_types(slow._model_proto)


def test_handwritten_model_proto_loads_in_sentencepiece():
    pieces = [("<pad>", 0.0, "CONTROL"), ("<unk>", 0.0, "UNKNOWN"), ("[CLS]", 0.0, "CONTROL"),
              ("-", 0.0, "USER_DEFINED"), ("\u2581", -1.0, "NORMAL"), ("\u2581ab", -2.0, "NORMAL"),
              ("a", -3.0, "NORMAL"), ("b", -3.5, "NORMAL"), ("\u2581a", -2.5, "NORMAL")]
    sp = sentencepiece.SentencePieceProcessor(model_proto=tokenization.sentencepiece_model_proto(pieces))
    assert [sp.id_to_piece(i) for i in range(len(sp))] == [p for p, _, _ in pieces]
    assert [sp.get_score(i) for i in range(len(sp))] == [s for _, s, _ in pieces]
    assert (sp.unk_id(), sp.pad_id(), sp.bos_id(), sp.eos_id()) == (1, 0, -1, -1)
    assert [sp.is_control(0), sp.is_unknown(1)] == [True, True]
    assert tokenization.read_piece_types(sp.serialized_model_proto()) == [t for _, _, t in pieces]
    assert sp.encode("ab a-b c", out_type=str) == ["\u2581ab", "\u2581a", "-", "b", "\u2581", "c"]
    with pytest.raises(ValueError, match="exactly one UNKNOWN"):
        tokenization.sentencepiece_model_proto([("a", 0.0, "NORMAL")])


def test_train_tokenizer_follows_albert_recipe(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(f"The Quick brown fox {i} jumps over the lazy dog (again) - £{i}." for i in range(300)))
    path = tokenization.train_tokenizer(corpus, vocab_size=80, model_prefix=tmp_path / "tiny", num_threads=1)
    tok = AlbertTokenizer(path)
    sp = tok.sp_model
    assert [sp.id_to_piece(i) for i in range(13)] == ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]", "(", ")",
                                                      '"', "-", ".", "\u2013", "\u00a3", "\u20ac"]
    assert tokenization.read_piece_types(tok._model_proto)[:13] == ["CONTROL", "UNKNOWN"] + ["CONTROL"] * 3 + [
        "USER_DEFINED"] * 8
    assert (sp.bos_id(), sp.eos_id()) == (-1, -1)
    assert not any(any(c.isupper() for c in sp.id_to_piece(i)) for i in range(13, len(sp)))  # lowercased
    with pytest.raises(FileNotFoundError, match="training file"):
        tokenization.train_tokenizer(tmp_path / "missing.txt", 80, tmp_path / "x")


# %% Live check against transformers 5.x -----------------------------------------------------------

@pytest.mark.parity
def test_transformers5_loads_our_saved_folder(tmp_path, fast):
    transformers = pytest.importorskip("transformers", reason="transformers is not installed (parity extra)")
    fast.save_pretrained(tmp_path)
    for loader in (transformers.AutoTokenizer, transformers.AlbertTokenizer):
        hf = loader.from_pretrained(str(tmp_path))
        assert hf.get_vocab() == fast.get_vocab()
        assert [hf.cls_token_id, hf.sep_token_id, hf.mask_token_id, hf.pad_token_id, hf.unk_token_id] == [
            fast.cls_token_id, fast.sep_token_id, fast.mask_token_id, fast.pad_token_id, fast.unk_token_id]
    # transformers' tokenizers-based ALBERT splits user-defined symbols and digit-commas its own way,
    # so compare on plain words, where both must agree on ids and on offsets
    plain = [t for t in ORACLE["real"]["texts"] if all(c.isalpha() or c == " " for c in t)][:300]
    assert len(plain) >= 100
    ours = fast(plain, return_offsets_mapping=True)
    theirs = hf(plain, return_offsets_mapping=True)
    assert ours["input_ids"] == theirs["input_ids"]
    for i in range(len(plain)):
        bare = [t == fast.convert_tokens_to_ids(UNDERLINE) for t in ours["input_ids"][i]]
        assert [o for o, b in zip(ours["offset_mapping"][i], bare) if not b] == \
            [tuple(o) for o, b in zip(theirs["offset_mapping"][i], bare) if not b]
    assert ours.word_ids(3) == theirs.word_ids(3)
