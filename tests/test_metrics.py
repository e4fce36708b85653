"""Metrics against scipy.stats and against examples worked out by hand."""
import numpy as np
import pytest

from albert_np.training import metrics as M

SCIPY_REASON = "scipy not installed; it is only a test oracle for pearson/spearman"


# ----------------------------------------------------------------------------- classification

def test_accuracy_and_binary_f1_by_hand():
    preds = [1, 1, 0, 0, 1]
    labels = [1, 0, 0, 1, 1]
    assert M.accuracy(preds, labels) == 3 / 5
    # class 1: TP = 2 (items 0, 4), FP = 1 (item 1), FN = 1 (item 3) -> 2*2 / (4 + 1 + 1)
    assert M.f1(preds, labels) == pytest.approx(4 / 6, abs=1e-15)
    # class 0 as positive: TP = 1 (item 2), FP = 1 (item 3), FN = 1 (item 1) -> 2 / 4
    assert M.f1(preds, labels, pos_label=0) == 0.5
    assert M.f1([0, 0], [0, 0]) == 0.0                        # no positives at all: 0, as sklearn


def test_macro_f1_by_hand():
    labels = [0, 0, 1, 1, 2, 2]
    preds = [0, 1, 1, 1, 2, 0]
    # class 0: TP 1, FP 1, FN 1 -> 2/4 ; class 1: TP 2, FP 1, FN 0 -> 4/5 ; class 2: TP 1, FP 0, FN 1 -> 2/3
    assert M.f1(preds, labels, average="macro") == pytest.approx((0.5 + 0.8 + 2 / 3) / 3, abs=1e-15)
    # classes come from preds AND labels: class 2 is only predicted.
    # class 0: F1 1 ; class 1: TP 0, FN 1 -> 0 ; class 2: TP 0, FP 1 -> 0  => 1/3
    assert M.f1([0, 2], [0, 1], average="macro") == pytest.approx(1 / 3, abs=1e-15)
    with pytest.raises(ValueError, match="average"):
        M.f1(preds, labels, average="micro")


def test_matthews_corrcoef_by_hand():
    # binary: preds [1,1,0,0,1] vs labels [1,0,0,1,1]: TP 2, TN 1, FP 1, FN 1
    # (TP TN - FP FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)) = (2 - 1) / sqrt(3 * 3 * 2 * 2) = 1/6
    assert M.matthews_corrcoef([1, 1, 0, 0, 1], [1, 0, 0, 1, 1]) == pytest.approx(1 / 6, abs=1e-15)
    # three classes: t = (2, 2, 2), p = (2, 3, 1), correct 4 of 6
    # (4*6 - 12) / sqrt((36 - 12)(36 - 14)) = 12 / sqrt(528)
    assert M.matthews_corrcoef([0, 1, 1, 1, 2, 0], [0, 0, 1, 1, 2, 2]) == \
        pytest.approx(12 / np.sqrt(528), abs=1e-15)
    assert M.matthews_corrcoef([1, 1, 1], [0, 1, 0]) == 0.0     # constant predictions: undefined -> 0
    assert M.matthews_corrcoef([0, 1, 0, 1], [1, 0, 1, 0]) == -1.0
    with pytest.raises(ValueError, match="3 items but labels has 2"):
        M.matthews_corrcoef([0, 1, 0], [0, 1])


# ----------------------------------------------------------------------------- correlation

def test_pearson_and_spearman_match_scipy_with_ties():
    stats = pytest.importorskip("scipy.stats", reason=SCIPY_REASON)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(50)
    y = 0.6 * x + rng.standard_normal(50)
    xt = np.round(x * 2) / 2                                  # many ties
    yt = np.round(y)
    for a, b in [(x, y), (xt, yt), (x.astype(np.float32), y.astype(np.float32))]:
        a64, b64 = a.astype(np.float64), b.astype(np.float64)   # ours always works in float64
        assert M.pearson(a, b) == pytest.approx(stats.pearsonr(a64, b64)[0], abs=1e-12)
        assert M.spearman(a, b) == pytest.approx(stats.spearmanr(a64, b64)[0], abs=1e-12)


def test_spearman_average_ranks_by_hand():
    # x ranks: 1, 2.5, 2.5, 4 ; y = reversed order -> perfectly anti-monotone with a tie
    assert M.spearman([1, 2, 2, 3], [4, 3, 3, 1]) == pytest.approx(-1.0, abs=1e-15)
    assert M.pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0, abs=1e-15)
    assert np.isnan(M.pearson([1, 1, 1], [1, 2, 3]))           # constant input, as scipy
    with pytest.raises(ValueError, match="nan"):
        M.spearman([1.0, np.nan, 2.0], [1, 2, 3])


# ----------------------------------------------------------------------------- SQuAD

@pytest.mark.parametrize("raw,normalised", [
    ("The  Quick, brown fox!", "quick brown fox"),   # lowercase, punctuation, article, spaces
    ("an apple a day", "apple day"),
    ("Theatre then", "theatre then"),                # articles only as whole words
    ("the cat's", "cats"),                           # punctuation goes before articles
    ("A.B.C.", "abc"),
    ("a-the", "athe"),                               # hyphen removed first: no article left
    ("  \tThe\n", ""),
])
def test_normalize_answer_examples(raw, normalised):
    assert M.normalize_answer(raw) == normalised


def test_squad_exact_match_and_f1_by_hand():
    assert M.exact_match("the Eiffel Tower", ["Paris", "Eiffel Tower."]) == 1.0
    assert M.exact_match("Eiffel", ["Eiffel Tower"]) == 0.0
    # pred tokens [in, paris, france] vs gold [paris]: overlap 1, P = 1/3, R = 1 -> F1 = 0.5
    assert M.squad_f1("in Paris, France", ["Paris"]) == pytest.approx(0.5, abs=1e-15)
    # max over golds: "paris france" overlaps 2 -> P = 2/3, R = 1 -> 0.8
    assert M.squad_f1("in Paris, France", ["Paris", "Paris France"]) == pytest.approx(0.8, abs=1e-15)
    # repeated tokens: [x, x, y] vs [x, y, y]: overlap min counts = 1 + 1 -> P = R = 2/3
    assert M.squad_f1("x x y", "x y y") == pytest.approx(2 / 3, abs=1e-15)
    assert M.squad_f1("the", "a") == 0.0                     # both normalise to empty: v1.1 gives 0
    scores = M.squad_scores({"q1": "Eiffel Tower", "q2": "in Paris, France"},
                            {"q1": ["the Eiffel Tower"], "q2": ["Paris"]})
    assert scores == pytest.approx({"exact_match": 50.0, "f1": 75.0})
    with pytest.raises(ValueError, match="no prediction"):
        M.squad_scores({}, {"q1": ["x"]})


# ----------------------------------------------------------------------------- entities

@pytest.mark.parametrize("tags,chunks", [
    # B opens, I continues, O closes; single B is a one-token chunk
    (["B-PER", "I-PER", "O", "B-LOC"], [("PER", 0, 1), ("LOC", 3, 3)]),
    # I after O opens a chunk (lenient IOB2, as conlleval and seqeval's default)
    (["O", "I-PER", "I-PER", "B-LOC"], [("PER", 1, 2), ("LOC", 3, 3)]),
    # a type change closes the PER chunk and the I-LOC opens a LOC chunk
    (["B-PER", "I-LOC", "I-LOC"], [("PER", 0, 0), ("LOC", 1, 2)]),
    # B after B: two chunks of the same type
    (["B-PER", "B-PER", "I-PER"], [("PER", 0, 0), ("PER", 1, 2)]),
    # a chunk running to the end of the sentence is closed
    (["O", "O", "I-MISC"], [("MISC", 2, 2)]),
    # IOBES tags: E closes, S is a one-token chunk
    (["B-ORG", "E-ORG", "S-PER", "O"], [("ORG", 0, 1), ("PER", 2, 2)]),
    (["O", "O"], []),
    # untyped tags: I after O still opens a chunk (here only the O/E/S rule can open it)
    (["O", "I", "I", "O", "B", "B"], [("_", 1, 2), ("_", 4, 4), ("_", 5, 5)]),
])
def test_bio_chunks_by_hand(tags, chunks):
    assert M.bio_chunks(tags) == chunks


def test_entity_scores_seqeval_readme_example():
    # gold: MISC (3..5), PER (0..1) in sentence 2; predicted MISC is (2..5): a miss
    y_true = [["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]
    y_pred = [["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]
    s = M.entity_scores(y_pred, y_true)
    assert (s["precision"], s["recall"], s["f1"]) == (0.5, 0.5, 0.5)
    assert s["per_type"]["PER"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "number": 1}
    assert s["per_type"]["MISC"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "number": 1}


def test_entity_scores_by_hand_with_i_after_o():
    # gold:  (s0 PER 0-1), (s0 LOC 3-3), (s1 ORG 0-0)
    # pred:  (s0 PER 0-1), (s0 LOC 3-3) [I-LOC after O opens a chunk], (s1 ORG 0-1)
    # hits 2 of 3 predicted and 3 gold -> P = R = F1 = 2/3
    y_true = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    y_pred = [["B-PER", "I-PER", "O", "I-LOC"], ["B-ORG", "I-ORG"]]
    s = M.entity_scores(y_pred, y_true)
    assert s["precision"] == pytest.approx(2 / 3) and s["recall"] == pytest.approx(2 / 3)
    assert s["f1"] == pytest.approx(2 / 3)
    # entities in different sentences never match each other, even at the same offsets
    assert M.entity_scores([["O"], ["B-X"]], [["B-X"], ["O"]])["f1"] == 0.0
    with pytest.raises(ValueError, match="sentence 1: 1 predicted tags but 2 gold"):
        M.entity_scores([["O"], ["O"]], [["O"], ["O", "O"]])
    with pytest.raises(ValueError, match="'X-PER'"):
        M.bio_chunks(["X-PER"])
