"""vocab_transfer: word coverage, the new-piece -> old-pieces map, and a model moved onto a new vocabulary.

References: hand-written vocabularies whose segmentations are worked out by hand; for trained
vocabularies, sentencepiece's own encode (word-start pieces) and an exhaustive search over all
segmentations by piece scores (continuation pieces); the old model's own MLM logits.
"""
import itertools
import os

import numpy as np
import pytest
import sentencepiece as spm

from albert_np import AlbertConfig, AlbertForMaskedLM, AlbertForPreTraining
from albert_np.tokenization import AlbertTokenizer, AlbertTokenizerFast, sentencepiece_model_proto, train_tokenizer
from albert_np.training import vocab_transfer as vt

SPECIAL = [("<pad>", 0.0, "CONTROL"), ("<unk>", 0.0, "UNKNOWN"), ("[CLS]", 0.0, "CONTROL"),
           ("[SEP]", 0.0, "CONTROL"), ("[MASK]", 0.0, "CONTROL")]
LETTERS = [(c, -5.0, "NORMAL") for c in "acdgot"]


def hand_sp(pieces):
    """A SentencePiece model of the given (piece, score, type), no normaliser."""
    return spm.SentencePieceProcessor(model_proto=sentencepiece_model_proto(SPECIAL + pieces))


# Old: "cats" = "▁cat" + "s" (-1 - 2 = -3 beats "▁" + letters); "og" = "o" + "g" (letters only).
OLD = hand_sp([("▁cat", -1.0, "NORMAL"), ("▁dog", -1.0, "NORMAL"), ("s", -2.0, "NORMAL"),
               ("▁", -3.0, "NORMAL")] + LETTERS)
# New: keeps "▁dog", adds "▁cats", "og", "▁go"; has no "▁cat".
NEW = hand_sp([("▁dog", -1.0, "NORMAL"), ("▁cats", -1.0, "NORMAL"), ("og", -2.0, "NORMAL"),
               ("▁go", -2.0, "NORMAL"), ("▁", -3.0, "NORMAL")] + LETTERS)


def test_word_counts_and_split_words_by_hand():
    counts = vt.word_counts(["Don't, Mom! DON'T.", "café 42 mom"])
    assert counts == {"don": 2, "t": 2, "mom": 2, "caf": 1}
    assert vt.most_frequent({"b": 2, "a": 2, "c": 5, "d": 1}, 3) == ["c", "a", "b"]
    tok = AlbertTokenizer(model_proto=OLD.serialized_model_proto())
    # cat -> ▁cat; dog -> ▁dog; cats -> ▁cat s; do -> ▁ d o (no "▁do")
    assert vt.split_words(tok, ["cat", "cats", "dog", "do"]) == ["cats", "do"]


def test_piece_map_by_hand():
    mapping = vt.piece_map(OLD, NEW)
    old = {OLD.id_to_piece(i): i for i in range(len(OLD))}
    by_piece = {NEW.id_to_piece(i): [OLD.id_to_piece(j) for j in ids] for i, ids in enumerate(mapping)}
    assert by_piece["[MASK]"] == ["[MASK]"] and by_piece["<pad>"] == ["<pad>"] and by_piece["<unk>"] == ["<unk>"]
    assert by_piece["▁dog"] == ["▁dog"]                 # shared: copied
    assert by_piece["▁cats"] == ["▁cat", "s"]           # the old tokenizer's pieces for "cats"
    assert by_piece["og"] == ["o", "g"]                 # a continuation: no "▁" in front
    assert by_piece["▁go"] == ["▁", "g", "o"]
    assert mapping[NEW.piece_to_id("▁dog")] == [old["▁dog"]]
    counts = vt.mapping_counts(mapping, OLD, NEW)
    assert counts == {"copied": len(NEW) - 3, "built": {2: 2, 3: 1}, "no_source": 0, "with_unk": 0}


def test_piece_map_needs_the_special_pieces():
    old = spm.SentencePieceProcessor(model_proto=sentencepiece_model_proto(
        [p for p in SPECIAL if p[0] != "[MASK]"] + [("▁dog", -1.0, "NORMAL")] + LETTERS))
    with pytest.raises(ValueError, match=r"\[MASK\]"):
        vt.piece_map(old, NEW)


def test_transfer_embeddings_mean_rows_min_bias_and_errors():
    old_w = np.arange(12, dtype=np.float32).reshape(4, 3)
    old_b = np.array([4, 2, 3, 10], dtype=np.float32)
    new_w, new_b = vt.transfer_embeddings(old_w, old_b, [[2], [0, 1], [3, 3, 0], []])
    np.testing.assert_array_equal(new_w, [[6, 7, 8], [1.5, 2.5, 3.5], [6, 7, 8], [4.5, 5.5, 6.5]])
    np.testing.assert_array_equal(new_b, [3, 2, 4, 2])       # min of the old biases; [] -> the lowest
    assert new_w.dtype == new_b.dtype == np.float32
    with pytest.raises(ValueError, match="outside 0..3"):
        vt.transfer_embeddings(old_w, old_b, [[4]])
    with pytest.raises(ValueError, match=r"\(V, E\)"):
        vt.transfer_embeddings(old_w, old_b[:3], [[0]])


# ----------------------------------------------------------------- trained vocabularies, a model
OLD_WORDS = ("the a cat dog house garden river city king queen film story game team player played "
             "walked talked station railway history century north south").split()
NEW_WORDS = OLD_WORDS[:12] + ("please thank hungry fridge sofa kitchen mom dad okay yes "
                              "breakfast cooked cooking").split()


def _train(folder, name, words, size, seed):
    rng = np.random.default_rng(seed)
    corpus = os.path.join(folder, name + ".txt")
    with open(corpus, "w", encoding="utf-8") as f:
        for _ in range(1500):
            f.write(" ".join(rng.choice(words, size=10)) + " . ( ) -\n")
    return train_tokenizer([corpus], size, os.path.join(folder, name), seed=0, num_threads=1, hard_vocab_limit=False)


def best_continuation(text, sp):
    """Highest-scoring split of `text` into pieces of sp without "▁" (exhaustive; sentencepiece's unigram rule).

    A character that is no piece of sp is read as <unk>, scored below every piece (as sentencepiece
    does); returned as "<unk>". (Two unknown characters in a row do not occur in these texts.)
    """
    score = {sp.id_to_piece(i): sp.get_score(i) for i in range(len(sp))
             if not (sp.is_control(i) or sp.is_unknown(i)) and "▁" not in sp.id_to_piece(i)}
    unk = min(score.values()) - 10
    score.update({c: unk for c in text if c not in score})
    best = None
    for cuts in itertools.product([0, 1], repeat=len(text) - 1):
        parts, start = [], 0
        for k, cut in enumerate(cuts, 1):
            if cut:
                parts.append(text[start:k])
                start = k
        parts.append(text[start:])
        if all(p in score for p in parts):
            s = sum(score[p] for p in parts)
            if best is None or s > best[0]:
                best = (s, parts)
    return ["<unk>" if sp.piece_to_id(p) == sp.unk_id() else p for p in best[1]]


@pytest.fixture(scope="module")
def moved(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("vocab"))
    old_tok = AlbertTokenizerFast(_train(folder, "old", OLD_WORDS, 90, 0))
    new_path = _train(folder, "new", NEW_WORDS, 110, 1)
    config = AlbertConfig(vocab_size=old_tok.vocab_size, embedding_size=8, hidden_size=16, num_hidden_layers=2,
                          num_attention_heads=2, intermediate_size=32, max_position_embeddings=64)
    old = AlbertForPreTraining(config, seed=3)
    bias = old.params["predictions"]["bias"]                      # tied to the decoder bias: fill in place
    bias[...] = np.random.default_rng(4).normal(0, 1, bias.shape)
    old_dir, new_dir = os.path.join(folder, "old_model"), os.path.join(folder, "new_model")
    old.save_pretrained(old_dir)
    old_tok.save_pretrained(old_dir)
    counts = vt.transfer_model(old_dir, new_path, new_dir)
    return dict(old=old, old_tok=old_tok, old_dir=old_dir, new_dir=new_dir, counts=counts,
                new=AlbertForPreTraining.from_pretrained(new_dir), new_tok=AlbertTokenizerFast.from_pretrained(new_dir))


def test_rows_are_copies_or_means_of_the_old_tokenizers_pieces(moved):
    old_sp, new_sp = moved["old_tok"].sp_model, moved["new_tok"].sp_model
    old_w = moved["old"].params["albert"]["embeddings"]["word_embeddings"]["weight"]
    old_b = moved["old"].params["predictions"]["bias"]
    new_w = moved["new"].params["albert"]["embeddings"]["word_embeddings"]["weight"]
    new_b = moved["new"].params["predictions"]["bias"]
    assert new_w.shape == (len(new_sp), 8) and new_b.shape == (len(new_sp),) and new_w.dtype == np.float32
    seen = {"copied": 0, "word": 0, "continuation": 0, "with_unk": 0}
    for i in range(len(new_sp)):
        piece = new_sp.id_to_piece(i)
        j = old_sp.piece_to_id(piece)
        if old_sp.id_to_piece(j) == piece:                       # shared (special pieces included)
            np.testing.assert_array_equal(new_w[i], old_w[j])
            assert new_b[i] == old_b[j]
            seen["copied"] += 1
            continue
        if piece.startswith("▁"):
            ids = old_sp.encode(piece[1:])
            seen["word"] += len(ids) > 1
        else:
            ids = [old_sp.piece_to_id(p) for p in best_continuation(piece, old_sp)]
            seen["continuation"] += 1
            seen["with_unk"] += old_sp.unk_id() in ids
        want = np.mean(old_w[ids].astype(np.float64), axis=0)
        np.testing.assert_allclose(new_w[i], want, rtol=1e-6, atol=1e-7, err_msg=piece)
        assert new_b[i] == min(old_b[ids]), piece
    assert seen["copied"] > 30 and seen["word"] >= 3 and seen["continuation"] >= 1 and seen["with_unk"] >= 1, seen
    assert moved["counts"]["copied"] == seen["copied"] and moved["counts"]["no_source"] == 0
    for name in ("[CLS]", "[SEP]", "[MASK]", "<pad>", "<unk>"):
        np.testing.assert_array_equal(new_w[new_sp.piece_to_id(name)], old_w[old_sp.piece_to_id(name)])
    new_cfg = moved["new"].config
    assert new_cfg.vocab_size == len(new_sp) and new_cfg.pad_token_id == new_sp.piece_to_id("<pad>")
    assert new_cfg.bos_token_id == new_sp.piece_to_id("[CLS]") and new_cfg.eos_token_id == new_sp.piece_to_id("[SEP]")


def test_every_other_weight_is_bit_identical(moved):
    old, new = moved["old"].state_dict(), moved["new"].state_dict()
    assert old.keys() == new.keys()
    changed = {vt.WORD_EMBEDDINGS, vt.DECODER_BIAS, "predictions.decoder.weight", "predictions.decoder.bias"}
    for name in old.keys() - changed:
        assert new[name].dtype == old[name].dtype and np.array_equal(new[name], old[name]), name
    assert new["predictions.decoder.weight"] is new[vt.WORD_EMBEDDINGS]    # still tied
    assert new["predictions.decoder.bias"] is new[vt.DECODER_BIAS]


def test_shared_text_gives_the_old_models_logits(moved):
    """Nothing lost: for text whose pieces are all shared, MLM logits at shared ids are the old ones."""
    old_tok, new_tok = moved["old_tok"], moved["new_tok"]
    same = [w for w in OLD_WORDS + NEW_WORDS if old_tok.tokenize(w) == new_tok.tokenize(w)]
    assert len(same) >= 3, same
    texts = [" ".join(same), f"{same[0]} [MASK] ( {same[-1]} ) - {same[1]} ."]
    assert all(old_tok.tokenize(t) == new_tok.tokenize(t) for t in texts)
    old_mlm = AlbertForMaskedLM.from_pretrained(moved["old_dir"])
    new_mlm = AlbertForMaskedLM.from_pretrained(moved["new_dir"])
    old_vocab, new_vocab = old_tok.get_vocab(), new_tok.get_vocab()
    shared = sorted(set(old_vocab) & set(new_vocab))
    old_ids = [old_vocab[p] for p in shared]
    new_ids = [new_vocab[p] for p in shared]
    for text in texts:
        old_logits = old_mlm(**old_tok(text, return_tensors="np")).logits          # (1, T, V_old)
        new_logits = new_mlm(**new_tok(text, return_tensors="np")).logits          # (1, T, V_new)
        np.testing.assert_allclose(new_logits[..., new_ids], old_logits[..., old_ids], rtol=0, atol=2e-5)


def test_transformers_loads_the_moved_model(moved):
    """The saved folder is an ordinary HF ALBERT: transformers gives the same ids and MLM logits."""
    torch = pytest.importorskip("torch", reason="the transformers check needs torch (pip install -e .[parity])")
    transformers = pytest.importorskip("transformers", reason="pip install -e .[parity]")
    text = "the cat [MASK] dog ( please ) - a fridge ."
    hf_tok = transformers.AlbertTokenizer.from_pretrained(moved["new_dir"])
    ids = moved["new_tok"](text)["input_ids"]
    assert hf_tok(text)["input_ids"] == ids
    hf = transformers.AlbertForMaskedLM.from_pretrained(moved["new_dir"]).eval()
    with torch.no_grad():
        want = hf(input_ids=torch.tensor([ids])).logits.numpy()
    got = AlbertForMaskedLM.from_pretrained(moved["new_dir"])(input_ids=np.array([ids])).logits
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
