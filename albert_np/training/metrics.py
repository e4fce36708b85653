"""Evaluation metrics for the GLUE, SQuAD and token-tagging tasks, in plain NumPy.

Argument order is always (predictions, references), as in HF's
glue_compute_metrics(preds, labels) and the SQuAD script's
metric(prediction, ground_truth). Scores are Python floats in [0, 1]
(squad_scores reports percentages, as the official script does).

    GLUE         accuracy, f1 (binary / macro), matthews_corrcoef (CoLA),
                 pearson, spearman (STS-B)
    SQuAD v1.1   normalize_answer, exact_match, squad_f1, squad_scores
    tagging      bio_chunks, entity_scores (seqeval's default, conlleval chunking)
"""
import re
import string
from collections import Counter

import numpy as np

__all__ = [
    "accuracy", "f1", "matthews_corrcoef", "pearson", "spearman",
    "normalize_answer", "exact_match", "squad_f1", "squad_scores",
    "bio_chunks", "entity_scores",
]


# --------------------------------------------------------------------------- classification

def _pair(preds, labels):
    preds, labels = np.asarray(preds).ravel(), np.asarray(labels).ravel()
    if preds.shape != labels.shape:
        raise ValueError(f"preds has {preds.size} items but labels has {labels.size}; "
                         f"pass one prediction per reference")
    if preds.size == 0:
        raise ValueError("preds and labels are empty; a metric needs at least one item")
    return preds, labels


def _ratio(num, den):
    """num / den, or 0.0 when den == 0 (sklearn's zero_division behaviour, without the warning)."""
    return float(num) / float(den) if den else 0.0


def accuracy(preds, labels):
    """Fraction of predictions equal to their label: mean(preds == labels)."""
    preds, labels = _pair(preds, labels)
    return float(np.mean(preds == labels))


def f1(preds, labels, average="binary", pos_label=1):
    """F1 = 2 TP / (2 TP + FP + FN), 0 when the denominator is 0.

    average="binary": F1 of the class pos_label (MRPC, QQP).
    average="macro":  unweighted mean of per-class F1 over every class seen in
                      preds or labels.
    Matches: sklearn.metrics.f1_score(labels, preds, average=...).
    """
    preds, labels = _pair(preds, labels)

    def f1_of(c):
        tp = np.sum((preds == c) & (labels == c))
        fp = np.sum((preds == c) & (labels != c))
        fn = np.sum((preds != c) & (labels == c))
        return _ratio(2 * tp, 2 * tp + fp + fn)

    if average == "binary":
        return f1_of(pos_label)
    if average == "macro":
        classes = np.union1d(preds, labels)
        return float(np.mean([f1_of(c) for c in classes]))
    raise ValueError(f"average must be 'binary' or 'macro', got {average!r}")


def matthews_corrcoef(preds, labels):
    """Matthews correlation, multiclass form (Gorodkin's R_K); 0 when undefined.

    With confusion counts C, t = per-class label counts, p = per-class
    prediction counts, c = correct, s = samples:
        MCC = (c s - t.p) / sqrt((s^2 - p.p)(s^2 - t.t))
    which for two classes is (TP TN - FP FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)).
    Matches: sklearn.metrics.matthews_corrcoef (the CoLA metric).
    """
    preds, labels = _pair(preds, labels)
    classes = np.union1d(preds, labels)
    t = np.array([np.sum(labels == c) for c in classes], dtype=np.float64)   # float64 ok: counts
    p = np.array([np.sum(preds == c) for c in classes], dtype=np.float64)   # float64 ok: counts
    c = float(np.sum(preds == labels))
    s = float(preds.size)
    cov_tp = c * s - t @ p
    cov_pp = s * s - p @ p
    cov_tt = s * s - t @ t
    if cov_pp * cov_tt == 0:
        return 0.0
    return float(cov_tp / np.sqrt(cov_tt * cov_pp))


# --------------------------------------------------------------------------- correlation

def _finite_pair(x, y):
    x, y = _pair(x, y)
    x, y = x.astype(np.float64), y.astype(np.float64)   # float64 ok: correlation statistics
    if x.size < 2:
        raise ValueError(f"a correlation needs at least 2 points, got {x.size}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("inputs contain nan or inf; drop or fix those items first")
    return x, y


def _pearson(x, y):
    dx, dy = x - x.mean(), y - y.mean()
    den = np.sqrt((dx @ dx) * (dy @ dy))
    if den == 0:
        return float("nan")                        # a constant input: undefined, as scipy
    return float(np.clip((dx @ dy) / den, -1.0, 1.0))


def pearson(x, y):
    """Pearson correlation r = sum(dx dy) / sqrt(sum dx^2 sum dy^2), d = deviation from mean.

    nan when either input is constant. Computed in float64.
    Matches: scipy.stats.pearsonr(x, y)[0] (the STS-B metric).
    """
    return _pearson(*_finite_pair(x, y))


def _average_ranks(x):
    """1-based ranks of x; tied values share the mean of the ranks they span."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    first = np.concatenate([[True], xs[1:] != xs[:-1]])       # start of each tie group
    group = np.cumsum(first) - 1                              # group index per sorted item
    starts = np.flatnonzero(first)                            # 0-based first position
    stops = np.append(starts[1:], x.size)                     # one past the last position
    mean_rank = (starts + stops + 1) / 2.0                    # mean of starts+1 .. stops
    ranks = np.empty(x.size, dtype=np.float64)   # float64 ok: ranks
    ranks[order] = mean_rank[group]
    return ranks


def spearman(x, y):
    """Spearman rank correlation: Pearson r of the average ranks (ties share a rank).

    Matches: scipy.stats.spearmanr(x, y)[0].
    """
    x, y = _finite_pair(x, y)
    return _pearson(_average_ranks(x), _average_ranks(y))


# --------------------------------------------------------------------------- SQuAD v1.1

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text):
    """SQuAD answer normalisation: lowercase, drop punctuation, drop a/an/the, squash spaces.

    The steps run in that order, so "The Cat's." -> "cats".
    Matches: normalize_answer of the official SQuAD v1.1 evaluation script.
    """
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def _gold_list(gold_answers):
    if isinstance(gold_answers, str):
        return [gold_answers]
    gold = list(gold_answers)
    if not gold:
        raise ValueError("gold_answers is empty; SQuAD v1.1 questions have at least one answer")
    return gold


def exact_match(prediction, gold_answers):
    """1.0 if the normalised prediction equals any normalised gold answer, else 0.0."""
    pred = normalize_answer(prediction)
    return float(max(pred == normalize_answer(g) for g in _gold_list(gold_answers)))


def _token_f1(prediction, gold):
    pred_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    same = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if same == 0:
        return 0.0
    precision = same / len(pred_tokens)
    recall = same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def squad_f1(prediction, gold_answers):
    """Bag-of-tokens F1 of the normalised answers, max over gold answers.

    Tokens are whitespace-split after normalize_answer; overlap counts each
    token min(count in prediction, count in gold) times. No overlap -> 0
    (also when both are empty: v1.1 has no "no answer" case).
    """
    return max(_token_f1(prediction, g) for g in _gold_list(gold_answers))


def squad_scores(predictions, references):
    """Corpus EM and F1 in percent: {"exact_match": .., "f1": ..}.

    Args:
        predictions: dict question id -> predicted answer text.
        references: dict question id -> list of gold answer texts.
    Every reference id must have a prediction (the official script counts a
    missing one as 0 with a message; here it is an error, so none goes unseen).
    """
    missing = [qid for qid in references if qid not in predictions]
    if missing:
        raise ValueError(f"{len(missing)} question ids have no prediction, e.g. {missing[:3]}")
    if not references:
        raise ValueError("references is empty")
    em = [exact_match(predictions[q], g) for q, g in references.items()]
    f = [squad_f1(predictions[q], g) for q, g in references.items()]
    return {"exact_match": 100.0 * sum(em) / len(em), "f1": 100.0 * sum(f) / len(f)}


# --------------------------------------------------------------------------- entity-level tagging

def _split_tag(tag):
    """"B-PER" -> ("B", "PER");  "O" -> ("O", "_");  "I" -> ("I", "_") (untyped, as seqeval)."""
    if not isinstance(tag, str) or not tag:
        raise ValueError(f"tags must be non-empty strings like 'B-PER', 'I-PER' or 'O', got {tag!r}")
    prefix, _, kind = tag.partition("-")
    if prefix not in ("B", "I", "O", "E", "S") or len(prefix) != 1:
        raise ValueError(f"tag {tag!r} must start with B, I, O (or E, S) followed by '-TYPE'")
    return prefix, kind or "_"


def bio_chunks(tags):
    """Entity spans (type, first, last) of one tag sequence, last inclusive.

    conlleval's chunking, which seqeval uses by default. Between the previous
    tag (p, type tp) and the current one (c, type tc):
      a chunk ENDS   if p is E or S; or p is B/I and c is B, S or O;
                     or p is not O and tp != tc.
      a chunk STARTS if c is B or S; or c is I/E after O, E or S;
                     or c is not O and tp != tc.
    So an I- after O (or after another type) opens a new chunk: lenient IOB2.
    Example: O I-PER I-PER B-LOC -> [("PER", 1, 2), ("LOC", 3, 3)].
    Tags without a type ("B", "I") give chunks of type "_", as seqeval.
    """
    chunks = []
    prev, prev_kind, begin = "O", "_", 0
    for i, tag in enumerate(list(tags) + ["O"]):       # the sentinel O closes the last chunk
        cur, kind = _split_tag(tag)
        ends = (prev in ("E", "S")
                or (prev in ("B", "I") and cur in ("B", "S", "O"))
                or (prev != "O" and prev_kind != kind))
        starts = (cur in ("B", "S")
                  or (cur in ("I", "E") and prev in ("O", "E", "S"))
                  or (cur != "O" and prev_kind != kind))
        if ends:
            chunks.append((prev_kind, begin, i - 1))
        if starts:
            begin = i
        prev, prev_kind = cur, kind
    return chunks


def _sentences(tag_seqs):
    seqs = list(tag_seqs)
    if seqs and isinstance(seqs[0], str):              # one flat sentence
        return [seqs]
    return [list(s) for s in seqs]


def entity_scores(pred_tags, true_tags):
    """Entity-level micro precision, recall and F1 over exactly-matching spans.

    A predicted entity counts only if its type, start and end all equal a gold
    entity's. precision = |pred & gold| / |pred|, recall = |pred & gold| / |gold|,
    f1 = 2 P R / (P + R); each 0 when its denominator is 0.

    Args:
        pred_tags, true_tags: list of sentences, each a list of tags ("B-PER",
            "I-PER", "O", ...), or one flat list for a single sentence.
    Returns:
        {"precision", "recall", "f1", "per_type": {type: {"precision", "recall",
        "f1", "number"}}}, number = gold entities of that type.
    Matches: seqeval.metrics precision_score / recall_score / f1_score
        (default mode) and its classification_report per type.
    """
    preds, golds = _sentences(pred_tags), _sentences(true_tags)
    if len(preds) != len(golds):
        raise ValueError(f"{len(preds)} predicted sentences but {len(golds)} gold sentences")
    pred_set, gold_set = set(), set()
    for s, (p, g) in enumerate(zip(preds, golds)):
        if len(p) != len(g):
            raise ValueError(f"sentence {s}: {len(p)} predicted tags but {len(g)} gold tags")
        pred_set.update((s,) + c for c in bio_chunks(p))
        gold_set.update((s,) + c for c in bio_chunks(g))

    def prf(pred, gold):
        hit = len(pred & gold)
        precision, recall = _ratio(hit, len(pred)), _ratio(hit, len(gold))
        return precision, recall, _ratio(2 * precision * recall, precision + recall)

    precision, recall, f = prf(pred_set, gold_set)
    per_type = {}
    for kind in sorted({c[1] for c in pred_set | gold_set}):
        ps = {c for c in pred_set if c[1] == kind}
        gs = {c for c in gold_set if c[1] == kind}
        tp, tr, tf = prf(ps, gs)
        per_type[kind] = {"precision": tp, "recall": tr, "f1": tf, "number": len(gs)}
    return {"precision": precision, "recall": recall, "f1": f, "per_type": per_type}
