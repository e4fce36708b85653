"""The task functions against transformers' own pipelines, and their handling of bad input.

References: tests/fixtures/tasks/<case>/expected.json, written by tests/fixtures/make_task_fixtures.py
(transformers 5.23 pipelines; question answering from transformers 4.57, whose pipeline 5.x
removed). Scores and vectors must agree within 1e-5; labels, tokens, words, spans and the
nesting of the output exactly. Inputs were chosen where transformers' fast ALBERT tokenizer and
albert_np's agree (see the fixture script). Deliberate differences are tested as such:
entity words keep their spaces ("jane fairfax", not "janefairfax").
"""
import json
import logging
import os

import numpy as np
import pytest

from albert_np import tasks
from albert_np.tasks import loading
from albert_np.modeling import AlbertForQuestionAnswering, AlbertForSequenceClassification
from albert_np.ops import softmax
from albert_np.tokenization import AlbertTokenizerFast

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "tasks")
MLM = os.path.join(FIXTURES, "mlm")              # model + tokenizer: the self-contained folder
TOKENIZER = MLM                                  # the other cases use its tokenizer
TOL = 1e-5


def case(name):
    return os.path.join(FIXTURES, name)


def expected(name):
    with open(os.path.join(case(name), "expected.json"), encoding="utf-8") as f:
        return json.load(f)["calls"]


def assert_like(ours, ref, tol=TOL, path="out"):
    """Same nesting, keys, strings and ints; floats within tol. Returns the largest float difference."""
    if isinstance(ref, dict):
        assert isinstance(ours, dict) and list(ours) == list(ref), f"{path}: keys {ours!r:.300} vs {ref!r:.300}"
        return max([assert_like(ours[k], ref[k], tol, f"{path}.{k}") for k in ref] or [0.0])
    if isinstance(ref, list):
        assert isinstance(ours, list) and len(ours) == len(ref), f"{path}: {ours!r:.300} vs {ref!r:.300}"
        return max([assert_like(o, r, tol, f"{path}[{i}]") for i, (o, r) in enumerate(zip(ours, ref))] or [0.0])
    if isinstance(ref, float):
        assert isinstance(ours, float), f"{path}: {type(ours).__name__} {ours!r}, expected a float"
        assert abs(ours - ref) <= tol, f"{path}: {ours} vs {ref} (diff {abs(ours - ref):.2e})"
        return abs(ours - ref)
    assert type(ours) is type(ref) and ours == ref, f"{path}: {ours!r} vs {ref!r}"
    return 0.0


def ids(calls):
    return [f"call{i}" for i in range(len(calls))]


# %% fill-mask -------------------------------------------------------------------------------------

FILL_MASK = [c for c in expected("mlm") if "kwargs" in c]


BARE_WORD_START = 13            # the piece "▁" alone in the fixture vocabulary


def like_transformers_but_bare_word_start(ours, ref):
    """Deliberate difference: for a target word that is not a piece ("team" -> "▁", "te", "am"),
    transformers scores its first piece, the bare "▁"; albert_np scores the first piece that
    carries letters ("te"). Every other filler must agree with transformers."""
    ref = [e for e in ref if e["token"] != BARE_WORD_START]
    assert BARE_WORD_START not in [e["token"] for e in ours]
    assert_like([e for e in ours if e["token"] in {r["token"] for r in ref}], ref)


@pytest.mark.parametrize("call", FILL_MASK, ids=ids(FILL_MASK))
def test_fill_mask_matches_transformers(call):
    kwargs = dict(call["kwargs"])
    ours = tasks.fill_mask(kwargs.pop("inputs"), model=MLM, **kwargs)
    if "team" in (kwargs.get("targets") or ()):
        like_transformers_but_bare_word_start(ours, call["output"])
    else:
        assert_like(ours, call["output"])


@pytest.mark.parametrize("k", [1, 3, 7, 19, 20, 25])
def test_top_k_rows_is_the_head_of_a_stable_argsort(k):
    """fill_mask's and explain's top k (a partition, then a sort of k) equals the first k columns of
    NumPy's stable argsort of -probs, ties broken by the lower id: many ties (values from a small set),
    ties across the k-th place, -inf, a NaN row, and no rows at all."""
    from albert_np.tasks.fill_mask import top_k_rows
    rng = np.random.default_rng(k)
    for probs in (rng.integers(0, 4, size=(50, 20)).astype(np.float32) / 4,
                  np.where(rng.random((30, 20)) < 0.3, -np.inf, rng.random((30, 20))).astype(np.float32),
                  np.vstack([np.full((1, 20), 0.05, np.float32), rng.random((5, 20), dtype=np.float32)]),
                  np.vstack([rng.random((3, 20), dtype=np.float32), np.full((1, 20), np.nan, np.float32)]),
                  np.zeros((0, 20), np.float32)):
        ids, values = top_k_rows(probs, k)
        reference = np.argsort(-probs, axis=-1, kind="stable")[:, :k]
        assert ids.shape == values.shape == reference.shape
        np.testing.assert_array_equal(ids, reference)
        np.testing.assert_array_equal(values, np.take_along_axis(probs, reference, axis=-1))
        assert ids.base is None or ids.base.size == ids.size      # a copy, not a view of a (M, V) array


def test_fill_mask_pipeline_object_and_loaded_model():
    model = tasks.load_model(MLM, "fill-mask")
    pipe = tasks.FillMaskPipeline(model, AlbertTokenizerFast.from_pretrained(MLM))
    call = FILL_MASK[3]
    kwargs = dict(call["kwargs"])
    assert_like(pipe(kwargs.pop("inputs"), **kwargs), call["output"])


def test_fill_mask_multi_piece_target_warns(caplog):
    call = FILL_MASK[-1]                      # targets "released" (4 pieces) and "team"
    with caplog.at_level(logging.WARNING, logger="albert_np.tasks"):
        out = tasks.fill_mask(call["kwargs"]["inputs"], model=MLM, targets=call["kwargs"]["targets"])
    assert "'released' is not a vocabulary piece: using its first piece '\u2581re' (it has 4 pieces)" in caplog.text
    assert "'team' is not a vocabulary piece: using its first piece 'te'" in caplog.text
    like_transformers_but_bare_word_start(out, call["output"])
    assert "te" in [e["token_str"] for e in out]


def test_fill_mask_default_model_is_announced(monkeypatch, caplog):
    monkeypatch.setattr(loading, "DEFAULT_MODEL", MLM)
    monkeypatch.setattr(loading, "_default_announced", False)
    with caplog.at_level(logging.WARNING, logger="albert_np.tasks"):
        out = tasks.fill_mask("john and emma lived in [MASK] before the war", top_k=2)
    assert "No model given: using the default" in caplog.text
    assert os.path.basename(MLM) in caplog.text and "albert/albert-base-v2" in caplog.text
    assert len(out) == 2


def test_the_hub_default_is_announced_by_name(monkeypatch, caplog):
    monkeypatch.setattr(loading, "DEFAULT_MODEL", tasks.HUB_DEFAULT)
    monkeypatch.setattr(loading, "_default_announced", False)
    with caplog.at_level(logging.WARNING, logger="albert_np.tasks"):
        assert loading._default_model() == "albert/albert-base-v2"
    assert "No model given: using the default albert/albert-base-v2" in caplog.text


def test_models_and_tokenizers_are_cached():
    tasks.fill_mask("the film was [MASK] in may.", model=MLM)
    model, tok = tasks.load_model(MLM, "fill-mask"), tasks.load_tokenizer(MLM)
    pipe = tasks.FillMaskPipeline(MLM)
    assert pipe.model is model and pipe.tokenizer is tok
    assert tasks.FillMaskPipeline(os.path.relpath(MLM)).model is model     # same folder, other spelling


# %% text-classification ---------------------------------------------------------------------------

CLASSIFY = [(name, c) for name in ("seq_single_label", "seq_multi_label", "seq_regression")
            for c in expected(name)]


@pytest.mark.parametrize("name,call", CLASSIFY, ids=[f"{n}-{i % 8}" for i, (n, _) in enumerate(CLASSIFY)])
def test_classification_pipeline_matches_transformers(name, call):
    pipe = tasks.TextClassificationPipeline(case(name), TOKENIZER)
    kwargs = dict(call["kwargs"])
    assert_like(pipe(kwargs.pop("inputs"), **kwargs), call["output"])


def test_classify_function_default_is_transformers_default():
    calls = expected("seq_single_label")
    for call in calls[:2]:                          # no top_k: one dict per text
        assert_like(tasks.classify(call["kwargs"]["inputs"], case("seq_single_label"), tokenizer=TOKENIZER),
                    call["output"])
    call = calls[2]                                 # top_k=None: every label, ranked
    assert_like(tasks.classify(call["kwargs"]["inputs"], case("seq_single_label"), top_k=None,
                               tokenizer=TOKENIZER), call["output"])


def test_classify_text_pair_argument_equals_dict_form():
    call = expected("seq_single_label")[4]          # {"text", "text_pair"}
    pair = call["kwargs"]["inputs"]
    out = tasks.classify(pair["text"], case("seq_single_label"), text_pair=pair["text_pair"],
                         tokenizer=TOKENIZER)
    assert_like(out, [call["output"]])


def test_classify_score_functions():
    pipe = tasks.TextClassificationPipeline(case("seq_single_label"), TOKENIZER)
    assert pipe.function(None) == "softmax"
    assert tasks.TextClassificationPipeline(case("seq_multi_label"), TOKENIZER).function(None) == "sigmoid"
    assert tasks.TextClassificationPipeline(case("seq_regression"), TOKENIZER).function(None) == "none"
    with pytest.raises(ValueError, match="function_to_apply must be one of"):
        pipe("a text", function_to_apply="tanh")


# %% token-classification ----------------------------------------------------------------------------

TAG = expected("token_cls")


@pytest.mark.parametrize("call", TAG, ids=[c["kwargs"]["aggregation_strategy"] + str(i) for i, c in enumerate(TAG)])
def test_token_classification_matches_transformers(call):
    kwargs = dict(call["kwargs"])
    inputs = kwargs.pop("inputs")
    ours = tasks.TokenClassificationPipeline(case("token_cls"), TOKENIZER)(inputs, **kwargs)
    ref = call["output"]
    texts = [inputs] if isinstance(inputs, str) else inputs
    per_text = [(ours, ref)] if isinstance(inputs, str) else list(zip(ours, ref))
    for text, (o_entities, r_entities) in zip(texts, per_text):
        for o, r in zip(o_entities, r_entities):
            if kwargs["aggregation_strategy"] in ("first", "average", "max"):
                # transformers glues the words of an entity ("janefairfax"); ours keeps the spaces
                assert o["word"].replace(" ", "") == r["word"]
                assert o["word"] == text[o["start"]:o["end"]]
                o = dict(o, word=r["word"])
            assert_like(o, r)
        assert len(o_entities) == len(r_entities)


def test_tag_tokens_spans_index_the_original_text():
    text = "  John and  Emma lived in ALASKA before the war"
    for strategy in tasks.AGGREGATION_STRATEGIES:
        for e in tasks.tag_tokens(text, case("token_cls"), strategy, tokenizer=TOKENIZER, ignore_labels=()):
            piece = text[e["start"]:e["end"]]
            assert piece == piece.strip() and piece, (strategy, e)
            if strategy != "none":
                assert " ".join(piece.lower().split()) == e["word"], (strategy, e)


def test_tag_tokens_multi_word_entity_keeps_spaces():
    entities = tasks.tag_tokens(TAG[0]["kwargs"]["inputs"], case("token_cls"), "first", tokenizer=TOKENIZER)
    assert any(" " in e["word"] for text in entities for e in text)


# %% question-answering --------------------------------------------------------------------------------

QA = expected("qa")


@pytest.mark.parametrize("call", QA, ids=ids(QA))
def test_question_answering_matches_transformers_4(call):
    ours = tasks.answer_question(model=case("qa"), tokenizer=TOKENIZER, **call["kwargs"])
    assert_like(ours, call["output"])


def brute_force_best_span(question, context, max_seq_len, doc_stride, max_answer_len):
    """The best single span over all windows, by trying every (start, end), each window run alone."""
    tok = AlbertTokenizerFast.from_pretrained(TOKENIZER)
    model = AlbertForQuestionAnswering.from_pretrained(case("qa"))
    enc = tok(question, context, truncation="only_second", max_length=max_seq_len, stride=doc_stride,
              return_overflowing_tokens=True, return_offsets_mapping=True)
    best = (-1.0, None)
    for w in range(len(enc["input_ids"])):
        out = model(input_ids=np.array([enc["input_ids"][w]]), token_type_ids=np.array([enc["token_type_ids"][w]]))
        seq = enc.sequence_ids(w)
        allowed = [i == 0 or s == 1 for i, s in enumerate(seq)]
        p_start = softmax(np.where(allowed, out.start_logits[0], -10000.0))
        p_end = softmax(np.where(allowed, out.end_logits[0], -10000.0))
        for s in range(1, len(seq)):
            for e in range(s, min(s + max_answer_len, len(seq))):
                if seq[s] == 1 and seq[e] == 1 and p_start[s] * p_end[e] > best[0]:
                    offsets = enc["offset_mapping"][w]
                    best = (float(p_start[s] * p_end[e]), (offsets[s][0], offsets[e][1]))
    return best


@pytest.mark.parametrize("call", [QA[0], QA[2]], ids=["call0", "call2"])
def test_question_answering_against_brute_force(call):
    kw = call["kwargs"]
    score, (start, end) = brute_force_best_span(kw["question"], kw["context"], kw["max_seq_len"],
                                                kw["doc_stride"], kw.get("max_answer_len", 15))
    ours = tasks.answer_question(kw["question"], kw["context"], case("qa"), tokenizer=TOKENIZER,
                                 max_seq_len=kw["max_seq_len"], doc_stride=kw["doc_stride"],
                                 max_answer_len=kw.get("max_answer_len", 15))
    # ours widens the span to whole words, and sums equal answers of overlapping windows
    assert ours["start"] <= start and ours["end"] >= end
    assert ours["answer"].split() == kw["context"][ours["start"]:ours["end"]].split()
    assert ours["score"] >= score - TOL


def test_question_answering_whole_words_across_window_edges():
    """A window that starts inside a word still answers with the whole word (transformers 4.x cuts it)."""
    context = QA[0]["kwargs"]["context"]
    pipe = tasks.QuestionAnsweringPipeline(case("qa"), TOKENIZER)
    for stride in range(4, 20, 3):
        for answer in pipe("who visited russia?", context, top_k=5, max_seq_len=32, doc_stride=stride):
            s, e = answer["start"], answer["end"]
            assert (s == 0 or context[s - 1] == " ") and (e == len(context) or context[e] == " "), answer


def test_question_answering_dict_and_list_inputs():
    kw = QA[-1]["kwargs"]
    pipe = tasks.QuestionAnsweringPipeline(case("qa"), TOKENIZER)
    params = dict(max_seq_len=kw["max_seq_len"], doc_stride=kw["doc_stride"], top_k=kw["top_k"])
    as_dicts = pipe([{"question": q, "context": kw["context"]} for q in kw["question"]], **params)
    assert_like(as_dicts, QA[-1]["output"])
    assert_like(pipe(kw["question"], [kw["context"]] * 2, **params), QA[-1]["output"])


# %% multiple-choice and feature-extraction ------------------------------------------------------------------

MC = expected("multiple_choice")


@pytest.mark.parametrize("call", MC, ids=ids(MC))
def test_choose_matches_transformers_model(call):
    assert_like(tasks.choose(model=case("multiple_choice"), tokenizer=TOKENIZER, **call["kwargs"]), call["output"])


def test_choose_batches_prompts_with_different_numbers_of_choices():
    pipe = tasks.MultipleChoicePipeline(case("multiple_choice"), TOKENIZER, batch_size=2)
    prompts = [c["kwargs"]["prompt"] for c in MC] * 2
    choices = [c["kwargs"]["choices"] for c in MC] * 2
    for out, call in zip(pipe(prompts, choices), MC * 2):
        assert_like(out, call["output"])


FEATURES = next(c for c in expected("mlm") if "feature_extraction" in c)


def test_feature_extraction_matches_transformers():
    texts, ref = FEATURES["feature_extraction"], FEATURES["output"]
    ours = tasks.FeatureExtractionPipeline(MLM)(texts)
    for o, r in zip(ours, ref):
        np.testing.assert_allclose(np.array(o), np.array(r), rtol=TOL, atol=3 * TOL)   # values up to |3|
    vectors = tasks.embed(texts, MLM, pooling="cls")
    assert vectors.shape == (3, 32) and vectors.dtype == np.float32
    np.testing.assert_allclose(vectors, [np.array(r)[0, 0] for r in ref], rtol=TOL, atol=TOL)
    mean = tasks.embed(texts[1], MLM, pooling="mean")
    np.testing.assert_allclose(mean, np.array(ref[1])[0].mean(0), rtol=TOL, atol=TOL)


# %% batching ------------------------------------------------------------------------------------------

def test_batching_does_not_change_results():
    texts = FILL_MASK[3]["kwargs"]["inputs"] * 3
    one_by_one = [tasks.fill_mask(t, model=MLM) for t in texts]
    assert_like(tasks.fill_mask(texts, model=MLM, batch_size=4), one_by_one)
    assert_like(tasks.fill_mask(texts, model=MLM, batch_size=1), one_by_one)


def test_run_batched_sorts_by_length_and_restores_order():
    items = ["ccc", "a", "bbbb", "dd", "e", "ffffff", "gg"]
    seen = []

    def step(batch):
        seen.append(batch)
        return [s.upper() for s in batch]
    out = tasks.run_batched(items, step, size=len, batch_size=3, progress=False)
    assert out == [s.upper() for s in items]
    assert [len(s) for b in seen for s in b] == sorted(len(s) for s in items)
    grouped = tasks.run_batched(items, lambda b: [len({len(s) % 2 for s in b})] * len(b), size=len,
                                group=lambda s: len(s) % 2, batch_size=10, progress=False)
    assert grouped == [1] * len(items)                        # a batch never mixes groups


def test_long_lists_show_a_progress_bar(capsys):
    texts = ["the film was [MASK] in may."] * (tasks.PROGRESS_MIN_ITEMS + 1)
    out = tasks.fill_mask(texts, model=MLM, top_k=1, batch_size=32)
    assert len(out) == len(texts)
    assert "fill-mask" in capsys.readouterr().err


# %% bad input ---------------------------------------------------------------------------------------

def test_no_mask_token():
    with pytest.raises(ValueError, match=r"no \[MASK\] in 'the film was released'"):
        tasks.fill_mask("the film was released", model=MLM)


def test_model_without_mlm_head():
    with pytest.raises(ValueError, match="has no masked-LM head"):
        tasks.fill_mask("the [MASK] won", model=case("seq_single_label"), tokenizer=TOKENIZER)
    loaded = AlbertForSequenceClassification.from_pretrained(case("seq_single_label"))
    with pytest.raises(TypeError, match="AlbertForSequenceClassification, which has no masked-LM head"):
        tasks.fill_mask("the [MASK] won", model=loaded, tokenizer=TOKENIZER)


def test_model_without_the_task_head():
    with pytest.raises(ValueError, match="has no question-answering head"):
        tasks.answer_question("who?", "emma", model=MLM)
    with pytest.raises(ValueError, match="text-classification' has no default model"):
        tasks.classify("a text", None)


def test_empty_list():
    with pytest.raises(ValueError, match="empty list"):
        tasks.fill_mask([], model=MLM)
    with pytest.raises(ValueError, match="empty list"):
        tasks.classify([], case("seq_single_label"), tokenizer=TOKENIZER)
    with pytest.raises(ValueError, match="empty list"):
        tasks.embed([], MLM)


def test_question_longer_than_max_length():
    question = "who said that " * 20 + "?"
    with pytest.raises(ValueError, match="leaves no room for the context in max_seq_len=32"):
        tasks.answer_question(question, "emma said that", case("qa"), tokenizer=TOKENIZER, max_seq_len=32,
                              max_question_len=None)
    with pytest.raises(ValueError, match="doc_stride=20 must be smaller than the 13 context tokens"):
        tasks.answer_question("who said that?", "emma said that " * 10, case("qa"), tokenizer=TOKENIZER,
                              max_seq_len=20, doc_stride=20)


def test_long_question_is_cut_to_max_question_len(caplog):
    question = "who said that " * 20 + "?"
    with caplog.at_level(logging.WARNING, logger="albert_np.tasks"):
        out = tasks.answer_question(question, "emma said that", case("qa"), tokenizer=TOKENIZER,
                                    max_seq_len=64, max_question_len=8)
    assert "cut to max_question_len=8" in caplog.text and set(out) == {"score", "start", "end", "answer"}


def test_unknown_aggregation_strategy():
    with pytest.raises(ValueError, match=r"aggregation_strategy must be one of .*got 'longest'"):
        tasks.tag_tokens("emma", case("token_cls"), "longest", tokenizer=TOKENIZER)


@pytest.mark.parametrize("top_k", [0, -1, 1.5, True])
def test_top_k_must_be_positive(top_k):
    with pytest.raises(ValueError, match="top_k must be an int >= 1"):
        tasks.fill_mask("the [MASK] won", model=MLM, top_k=top_k)
    with pytest.raises(ValueError, match="top_k must be an int >= 1"):
        tasks.answer_question("who?", "emma said", case("qa"), tokenizer=TOKENIZER, top_k=top_k)
    if top_k is not True:
        with pytest.raises(ValueError, match="top_k must be an int >= 1"):
            tasks.classify("emma", case("seq_single_label"), top_k=top_k, tokenizer=TOKENIZER)


def test_other_bad_inputs():
    with pytest.raises(TypeError, match=r"inputs\[1\] must be a str"):
        tasks.fill_mask(["the [MASK]", 3], model=MLM)
    with pytest.raises(ValueError, match="pooling must be one of"):
        tasks.embed("emma", MLM, pooling="max")
    with pytest.raises(ValueError, match="2 questions but 3 contexts"):
        tasks.answer_question(["a?", "b?"], ["x", "y", "z"], case("qa"), tokenizer=TOKENIZER)
    with pytest.raises(ValueError, match="question is empty"):
        tasks.answer_question(" ", "emma", case("qa"), tokenizer=TOKENIZER)
    with pytest.raises(ValueError, match="give at least two"):
        tasks.choose("emma", ["one"], case("multiple_choice"), tokenizer=TOKENIZER)
    with pytest.raises(ValueError, match="none of the targets"):
        tasks.fill_mask("the [MASK] won", model=MLM, targets=[" "])
    with pytest.raises(TypeError, match="model must be a Hub id, a folder or a loaded albert_np model"):
        tasks.fill_mask("the [MASK] won", model=3)
    with pytest.raises(TypeError, match="has no option colour"):
        tasks.FillMaskPipeline(MLM, colour="red")
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        tasks.fill_mask("the [MASK] won", model=MLM, batch_size=0)
    with pytest.raises(FileNotFoundError, match="pass tokenizer="):
        tasks.classify("emma", case("seq_single_label"))
