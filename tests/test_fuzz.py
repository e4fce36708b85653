"""Property-based fuzzing (hypothesis): random input never gets a traceback from deep inside.

    tokenizers   random unicode: no crash; the slow (reference) and fast tokenizers give the
                 same ids; every offset lies inside the text
    config       random JSON objects: a valid config that round-trips, or a ValueError / TypeError
                 naming one of the fields given
    tasks        random strings (surrogates and [MASK] included) to every task function: a result,
                 or a ValueError / TypeError that names the argument

Derandomised (the same examples on every run) with a small budget, so the file runs in seconds.
Show how many examples each target tried: pytest tests/test_fuzz.py --hypothesis-show-statistics
"""
import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from albert_np import tasks
from albert_np.config import AlbertConfig
from albert_np.tokenization import AlbertTokenizer, AlbertTokenizerFast

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "tasks")
MLM = os.path.join(FIXTURES, "mlm")

FUZZ = settings(derandomize=True, max_examples=200, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

# Text that hits the tokenizers' special paths: special tokens, digit commas, quotes, accents,
# odd spaces, combining marks, emoji, control characters; then any unicode at all.
PIECES = ["[MASK]", "[CLS]", "[SEP]", "<unk>", "<pad>", " ", "  ", "\t", "\n", "\u3000", "\u00a0", "1,000",
          "12,3", "``", "''", "\u00e9", "e\u0301", "\u00c5", "\u0130", "\ufb01", "\U0001f600", "\x00", "\u200b",
          "\u2581", ".", "n't", "'s", "\u00df", "\u0345"]
TEXT = st.lists(st.one_of(st.text(max_size=12), st.sampled_from(PIECES)), max_size=12).map("".join)
SURROGATES = st.sampled_from(["\ud800", "\udfff", "\udce9"])
ANY_TEXT = st.one_of(TEXT, st.tuples(TEXT, SURROGATES, TEXT).map("".join))


@pytest.fixture(scope="module")
def tokenizers():
    return AlbertTokenizer.from_pretrained(MLM), AlbertTokenizerFast.from_pretrained(MLM)


# %% Tokenizers ---------------------------------------------------------------------------------------

@FUZZ
@given(text=TEXT)
def test_fuzz_tokenizers_agree_and_offsets_lie_inside(tokenizers, text):
    slow, fast = tokenizers
    ids = slow(text)["input_ids"]
    enc = fast(text, return_offsets_mapping=True)
    assert enc["input_ids"] == ids
    for start, end in enc["offset_mapping"]:
        assert 0 <= start <= end <= len(text)
    assert fast.convert_ids_to_tokens(ids) == slow.convert_ids_to_tokens(ids)
    assert isinstance(fast.decode(ids), str)


@FUZZ
@given(text=TEXT, pair=TEXT, max_length=st.integers(3, 40), stride=st.integers(0, 10))
def test_fuzz_truncation_and_windows(tokenizers, text, pair, max_length, stride):
    _, fast = tokenizers
    try:
        enc = fast(pair, text, truncation="only_second", max_length=max_length, stride=stride,
                   return_overflowing_tokens=True, return_offsets_mapping=True)
    except ValueError as e:                  # the question leaves no room, or stride >= window
        assert "max_length" in str(e) or "stride" in str(e)
        return
    for ids, offsets in zip(enc["input_ids"], enc["offset_mapping"]):
        assert len(ids) <= max_length
        assert all(0 <= a <= b <= max(len(text), len(pair)) for a, b in offsets)


@FUZZ
@given(text=ANY_TEXT)
def test_fuzz_surrogates_are_refused_by_name(tokenizers, text):
    _, fast = tokenizers
    try:
        fast(text)
    except ValueError as e:
        assert "lone surrogate" in str(e) and "text" in str(e)
        assert any(0xD800 <= ord(c) <= 0xDFFF for c in text)


# %% Config -------------------------------------------------------------------------------------------

JSON = st.recursive(st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=False) |
                    st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
                    max_leaves=6)
FIELD_VALUES = {
    "vocab_size": st.integers(-2, 10**13), "hidden_size": st.sampled_from([0, 8, 12, 16, 1.5, "16"]),
    "num_attention_heads": st.sampled_from([0, 1, 2, 3, 4, -1]), "num_hidden_layers": st.integers(-1, 10**10),
    "num_hidden_groups": st.integers(-1, 5), "inner_group_num": st.integers(-1, 5000),
    "intermediate_size": st.integers(-1, 10**12), "embedding_size": st.integers(-1, 64),
    "layer_norm_eps": st.one_of(st.floats(), st.text(max_size=3)), "hidden_act": st.text(max_size=6) | st.just("relu"),
    "hidden_dropout_prob": st.one_of(st.floats(), st.text(max_size=3)),
    "num_labels": st.one_of(st.integers(-1, 10**10), st.text(max_size=2)),
    "id2label": st.dictionaries(st.one_of(st.text(max_size=2), st.integers(-1, 3).map(str)), JSON, max_size=4),
    "label2id": st.dictionaries(st.text(max_size=3), JSON, max_size=3),
    "problem_type": st.one_of(st.none(), st.text(max_size=4), st.just("regression")),
    "tie_word_embeddings": JSON, "pad_token_id": JSON, "model_type": st.sampled_from(["albert", "bert"]),
    "max_position_embeddings": st.integers(-1, 10**9), "type_vocab_size": st.integers(-1, 4),
}
CONFIG = st.fixed_dictionaries({}, optional={**{k: v | JSON for k, v in FIELD_VALUES.items()}})


@FUZZ
@given(d=CONFIG)
def test_fuzz_config_parser(d):
    small = {"hidden_size": 16, "num_attention_heads": 4, "intermediate_size": 32, "vocab_size": 100}
    d = {**small, **d}
    try:
        config = AlbertConfig.from_dict(d)
    except (ValueError, TypeError) as e:
        message = str(e)
        assert any(key in message for key in d), f"{message!r} names none of {sorted(d)}"
        assert "Traceback" not in message
        return
    assert AlbertConfig.from_dict(config.to_dict()) == config          # a valid config round-trips
    assert config.num_labels == len(config.id2label) >= 1
    assert math.isfinite(config.layer_norm_eps) and config.layer_norm_eps > 0


# %% Task functions -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pipes():
    return {
        "fill-mask": tasks.FillMaskPipeline(MLM),
        "classify": tasks.TextClassificationPipeline(os.path.join(FIXTURES, "seq_single_label"), MLM),
        "tag": tasks.TokenClassificationPipeline(os.path.join(FIXTURES, "token_cls"), MLM),
        "qa": tasks.QuestionAnsweringPipeline(os.path.join(FIXTURES, "qa"), MLM),
        "choose": tasks.MultipleChoicePipeline(os.path.join(FIXTURES, "multiple_choice"), MLM),
        "embed": tasks.FeatureExtractionPipeline(MLM),
    }


def _clear(error, names):
    """A clear error: ValueError / TypeError whose message names one of the arguments."""
    assert isinstance(error, (ValueError, TypeError)), repr(error)
    assert any(name in str(error) for name in names), f"{error!r} names none of {names}"


@FUZZ
@given(text=ANY_TEXT, top_k=st.one_of(st.integers(-1, 6), st.sampled_from([np.int64(2), 10**9, None, 1.5, True])),
       targets=st.one_of(st.none(), st.lists(TEXT, max_size=3)))
def test_fuzz_fill_mask(pipes, text, top_k, targets):
    try:
        out = pipes["fill-mask"](text, top_k=top_k, targets=targets)
    except (ValueError, TypeError) as e:
        _clear(e, ["[MASK]", "inputs", "top_k", "targets"])
        return
    assert isinstance(out, list) and out


@FUZZ
@given(texts=st.one_of(ANY_TEXT, st.lists(ANY_TEXT, max_size=3)), strategy=st.sampled_from(
    ["none", "simple", "first", "average", "max"]))
def test_fuzz_tag_and_classify_and_embed(pipes, texts, strategy):
    for name, call in (("tag", lambda: pipes["tag"](texts, aggregation_strategy=strategy, ignore_labels=())),
                       ("classify", lambda: pipes["classify"](texts, top_k=None)),
                       ("embed", lambda: pipes["embed"](texts, pooling="mean"))):
        try:
            out = call()
        except (ValueError, TypeError) as e:
            _clear(e, ["inputs"])
            continue
        if name == "tag":
            single = isinstance(texts, str)
            for text, entities in zip([texts] if single else texts, [out] if single else out):
                for e in entities:
                    assert 0 <= e["start"] <= e["end"] <= len(text)
        if name == "embed":
            assert np.all(np.isfinite(out))


@FUZZ
@given(question=ANY_TEXT, context=ANY_TEXT, choices=st.lists(ANY_TEXT, max_size=3),
       max_question_len=st.one_of(st.none(), st.integers(-1, 70), st.just(1.5)))
def test_fuzz_question_answering_and_choose(pipes, question, context, choices, max_question_len):
    try:
        out = pipes["qa"](question=question, context=context, max_question_len=max_question_len)
        assert context[out["start"]:out["end"]] == out["answer"]
    except (ValueError, TypeError) as e:
        _clear(e, ["question", "context", "max_question_len", "max_seq_len"])
    try:
        ranked = pipes["choose"](question, choices)
        assert sorted(r["index"] for r in ranked) == list(range(len(choices)))
    except (ValueError, TypeError) as e:
        _clear(e, ["prompt", "choice"])
