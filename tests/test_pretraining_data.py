"""The pretraining recipe: statistics of SOP pairs and n-gram masking, streaming, resume.

A toy vocabulary keeps these fast and exact: word w_k is one piece "▁w_k" or,
for every third word, two pieces "▁w_k" + "x" (a continuation), so whole-word
spans are visible. Bounds are about 5 standard deviations of the binomial
counts, so a correct implementation fails with probability < 1e-5.
"""
import os
import shutil
import subprocess
import tracemalloc

import numpy as np
import pytest

from albert_np.training import pretraining_data as pd

SPECIAL = ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]
WORDS = [f"▁w{k}" for k in range(200)]
PIECES = SPECIAL + WORDS + ["x"]
PAD, UNK, CLS, SEP, MASK = range(5)
CONT = len(PIECES) - 1
IS_START = pd.word_starts(PIECES, special_ids=range(5))
SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")


def encode(sentences):
    """'w3 w4' -> [id(▁w3), id(x), id(▁w4)]: every word k % 3 == 0 has a continuation piece."""
    out = []
    for s in sentences:
        ids = []
        for w in s.split():
            k = int(w[1:])
            ids.append(5 + k)
            if k % 3 == 0:
                ids.append(CONT)
        out.append(ids)
    return out


def toy_documents(n_docs=40, seed=0):
    rng = np.random.default_rng(seed)
    return [[" ".join(f"w{k}" for k in rng.integers(0, 200, size=rng.integers(3, 15)))
             for _ in range(rng.integers(1, 30))] for _ in range(n_docs)]


def stream(docs, **kw):
    return pd.PretrainingStream(lambda: iter(docs), encode, pieces=PIECES, cls_id=CLS, sep_id=SEP,
                                mask_id=MASK, special_ids=[PAD, UNK, CLS, SEP, MASK],
                                block_docs=8, **kw)


def take(it, n):
    return [next(it) for _ in range(n)]


def test_word_starts():
    assert IS_START[5] and not IS_START[CONT] and IS_START[CLS]
    starts = pd.word_starts(["▁the", "ing", ",", "é", "<unk>", "abc"])
    assert starts.tolist() == [True, False, True, True, True, False]


def test_ngram_length_distribution():
    rng = np.random.default_rng(0)
    n = 60000
    counts = np.bincount([pd.ngram_length(rng, 3) for _ in range(n)], minlength=4)[1:]
    for c, p in zip(counts, (6 / 11, 3 / 11, 2 / 11)):
        assert abs(c - n * p) < 5 * np.sqrt(n * p * (1 - p)), counts
    assert {pd.ngram_length(rng, 1) for _ in range(100)} == {1}


def test_masking_ratios_specials_and_whole_words():
    rng = np.random.default_rng(1)
    total = mask = rand = keep = 0
    for _ in range(3000):
        ids = np.array([CLS] + sum(encode([" ".join(f"w{k}" for k in rng.integers(0, 200, 60))]), [])
                       + [SEP, PAD, PAD])
        special = np.isin(ids, [CLS, SEP, PAD])
        out, pos, lab = pd.ngram_mask(ids, special, IS_START, rng, masked_lm_prob=0.15,
                                      max_predictions=20, mask_id=MASK,
                                      replacement_ids=np.arange(5, len(PIECES)))
        assert not special[pos].any(), "a special token was chosen for prediction"
        assert (lab == ids[pos]).all() and (np.diff(pos) > 0).all()
        assert len(pos) == min(20, max(1, round(len(ids) * 0.15)))
        chosen = np.zeros(len(ids), bool)
        chosen[pos] = True
        for w in pd.whole_words(ids, IS_START, special):      # a word is all in or all out
            assert chosen[w].all() or not chosen[w].any()
        unchanged = out[pos] == ids[pos]
        total += len(pos)
        mask += int((out[pos] == MASK).sum())
        keep += int(unchanged.sum())
        rand += int(((out[pos] != MASK) & ~unchanged).sum())
        assert (out[~chosen] == ids[~chosen]).all()
    # a random replacement equal to the original counts as "keep": expected 0.1 * 1/201
    p_keep = 0.1 + 0.1 / 201
    for count, p in ((mask, 0.8), (keep, p_keep), (rand, 0.1 - 0.1 / 201)):
        assert abs(count - total * p) < 5 * np.sqrt(total * p * (1 - p)), (mask, rand, keep, total)


def test_sop_pairs_balanced_and_well_formed():
    examples = take(iter(stream(toy_documents(200), seed=3, max_seq_length=32)), 3000)
    labels = np.array([e["sentence_order_label"] for e in examples])
    n = len(labels)
    assert abs(labels.sum() - n / 2) < 5 * np.sqrt(n / 4)
    for e in examples:
        ids, types = e["input_ids"], e["token_type_ids"]
        assert len(ids) <= 32 and ids[0] == CLS and ids[-1] == SEP
        a_end = int((types == 0).sum()) - 1          # index of the first [SEP]
        assert ids[a_end] == SEP or a_end in e["positions"]
        assert types[0] == 0 and types[-1] == 1 and (np.diff(types) >= 0).all()
        assert not np.isin(e["positions"], [0, len(ids) - 1]).any()
        a_len = int((types == 0).sum()) - 2
        assert a_len >= 1 and int((types == 1).sum()) - 1 >= 1


def test_short_sequences_appear_about_ten_percent_of_the_time():
    examples = take(iter(stream(toy_documents(300, seed=5), seed=4, max_seq_length=64)), 2000)
    lengths = np.array([len(e["input_ids"]) for e in examples])
    assert 0.02 < np.mean(lengths < 40) < 0.6      # long docs fill 64; short targets are rarer


def test_stream_is_reproducible_and_resumes_exactly():
    docs = toy_documents(50)
    a = take(iter(stream(docs, seed=9)), 120)
    b = take(iter(stream(docs, seed=9)), 120)
    assert all((x["input_ids"] == y["input_ids"]).all() for x, y in zip(a, b))
    c = take(iter(stream(docs, seed=10)), 120)
    assert any(len(x["input_ids"]) != len(y["input_ids"]) or (x["input_ids"] != y["input_ids"]).any()
               for x, y in zip(a, c))
    # "kill" after 47 examples, resume from the saved state in a new stream
    s1 = stream(docs, seed=9)
    it = iter(s1)
    take(it, 47)
    state = s1.state()
    s2 = stream(docs, seed=9)
    s2.restore(state)
    rest = take(iter(s2), 73)
    for x, y in zip(rest, a[47:]):
        for k in ("input_ids", "token_type_ids", "positions", "labels"):
            np.testing.assert_array_equal(x[k], y[k])
        assert x["sentence_order_label"] == y["sentence_order_label"]


def test_epochs_wrap_around():
    s = stream(toy_documents(5), seed=0)
    it = iter(s)
    take(it, 200)
    assert s.epoch >= 1


def test_memory_is_flat_while_streaming():
    """Peak memory after 40 blocks is no larger than after 10: nothing accumulates."""
    def peak(n_examples):
        docs = (d for d in toy_documents(2000, seed=11))
        s = pd.PretrainingStream(lambda: docs, encode, pieces=PIECES, cls_id=CLS, sep_id=SEP,
                                 mask_id=MASK, special_ids=[0, 1, 2, 3, 4], block_docs=16, seed=0)
        tracemalloc.start()
        it = iter(s)
        for _ in range(n_examples):
            next(it)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top
    small, large = peak(500), peak(2500)
    assert large < 1.5 * small, (small, large)


def test_sentence_splitting():
    assert pd.split_sentences("He left. She stayed! Was it 3 p.m. then? Yes.") == [
        "He left.", "She stayed!", "Was it 3 p.m. then?", "Yes."]


def test_wikipedia_reader_format_and_exclusions(tmp_path):
    path = tmp_path / "wiki.txt"
    path.write_text(
        '<doc id="1" url="u" title="Apple">\nApple\n\nAn apple is a fruit. It grows on trees.\n'
        'History.\n</doc>\n<doc id="21632" url="u" title="Nero">\nNero\n\nNero was an emperor.\n</doc>\n'
        '<doc id="3" url="u" title="Pear">\nPear\n\nA pear is sweet.\n</doc>\n', encoding="utf-8")
    docs = list(pd.wikipedia_documents(path))
    assert docs == [["An apple is a fruit.", "It grows on trees.", "History."], ["A pear is sweet."]]


@pytest.mark.skipif(not os.path.isdir(SHARED), reason="../shared/data is not beside the repo")
def test_real_corpora_read():
    wiki = pd.wikipedia_documents(os.path.join(SHARED, "pretrain", "enwiki_2015_part1_of_2.txt.xz"))
    docs = [next(wiki) for _ in range(20)]
    assert sum(len(d) for d in docs) > 100 and all(isinstance(s, str) and s for d in docs for s in d)
    books = pd.gutenberg_documents(os.path.join(SHARED, "pretrain", "gutenberg_nltk_13_books.txt.xz"))
    first = next(books)
    assert len(first) > 20 and "[" not in first[0][:1]


def test_stream_masking_options_single_words_and_twenty_percent():
    """max_ngram=1 chooses words independently: the share of chosen words whose next word is
    chosen too is then about the share of all words chosen (they are drawn without
    replacement: a little less); n-grams of up to 3 words make it far higher.
    masked_lm_prob sets the budget; bad values are refused."""
    def adjacent_word_share(**kw):
        adjacent = words = total = 0
        for e in take(iter(stream(toy_documents(200), seed=5, max_seq_length=64,
                                  max_predictions_per_seq=40, **kw)), 1500):
            ids = e["input_ids"].copy()
            ids[e["positions"]] = e["labels"]            # the text before [MASK] / random tokens
            special = np.zeros(len(ids), bool)
            special[ids == CLS] = special[ids == SEP] = True
            chosen = np.zeros(len(ids), bool)
            chosen[e["positions"]] = True
            flags = [bool(chosen[w[0]]) for w in pd.whole_words(ids, IS_START, special)]
            words += sum(flags)
            total += len(flags)
            adjacent += sum(a and b for a, b in zip(flags, flags[1:]))
        return adjacent / words, words / total

    (single, chosen), (spans, _) = adjacent_word_share(max_ngram=1), adjacent_word_share(max_ngram=3)
    assert abs(single - chosen) < 0.03 and spans > chosen + 0.15, (single, chosen, spans)
    for p in (0.15, 0.2):               # the budget; a 2-piece word may not fit its last slot
        got = budget = 0
        for e in take(iter(stream(toy_documents(50), seed=1, max_seq_length=64,
                                  max_predictions_per_seq=40, masked_lm_prob=p, max_ngram=1)), 400):
            b = max(1, round(len(e["input_ids"]) * p))
            assert len(e["positions"]) <= b
            got, budget = got + len(e["positions"]), budget + b
        assert got > 0.95 * budget, (p, got, budget)
    with pytest.raises(ValueError, match="masked_lm_prob"):
        stream(toy_documents(2), masked_lm_prob=1.5)
    with pytest.raises(ValueError, match="max_ngram"):
        stream(toy_documents(2), max_ngram=0)


def _sha256_prefix_by_coreutils(text):
    """The first 8 hex digits of sha256sum's digest of text's UTF-8 bytes (an independent SHA-256)."""
    out = subprocess.run(["sha256sum"], input=text.encode("utf-8"), capture_output=True, check=True).stdout
    return out.decode("ascii")[:8]


def test_is_heldout_block_is_sha256_mod_20():
    # FIPS 180-2 test vectors: sha256("") = e3b0c442..., sha256("abc") = ba7816bf...
    assert 0xE3B0C442 % 20 == 10 and 0xBA7816BF % 20 == 19
    assert not pd.is_heldout_block("") and not pd.is_heldout_block("abc")
    blocks = ["Block 24.", "Block 27.", "Café 6 — thé.", "Café 30 — thé.", "Block 25.", "Café 7 — thé."]
    if shutil.which("sha256sum"):
        expected = [int(_sha256_prefix_by_coreutils(b), 16) % 20 == 0 for b in blocks]
        assert expected == [True, True, True, True, False, False]   # the bytes are UTF-8 (é, —)
        assert [pd.is_heldout_block(b) for b in blocks] == expected
    with pytest.raises(TypeError, match="block must be a str"):
        pd.is_heldout_block(b"Block 24.")


@pytest.mark.skipif(not os.path.isdir(SHARED), reason="../shared/data is not beside the repo")
def test_heldout_share_of_a_real_everyday_file():
    blocks = list(pd.everyday_blocks(os.path.join(SHARED, "everyday", "tinystories.txt.xz")))
    assert len(blocks) > 5000 and all(b == b.strip() and "\n\n" not in b for b in blocks)
    share = sum(map(pd.is_heldout_block, blocks)) / len(blocks)
    assert 0.04 <= share <= 0.06, share


def test_everyday_blocks_split_at_blank_lines(tmp_path):
    path = tmp_path / "e.txt"
    path.write_text("\n\nHi.\nHello!\n\n\n  \nOnce upon a time.  \n\nEnd.", encoding="utf-8")
    assert list(pd.everyday_blocks(path)) == ["Hi.\nHello!", "Once upon a time.", "End."]
