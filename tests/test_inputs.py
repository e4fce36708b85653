"""Bad input gives a clear error, never a traceback from inside NumPy."""
import os

import numpy as np
import pytest

import albert_np

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "models")


@pytest.fixture(scope="module")
def mlm():
    return albert_np.AlbertForMaskedLM.from_pretrained(os.path.join(FIXTURES, "mlm_pytorch_tanh"))


def ids(B=2, T=6):
    return np.arange(B * T).reshape(B, T) % 90 + 5


def test_sequence_longer_than_positions(mlm):
    with pytest.raises(ValueError, match="exceeds max_position_embeddings=40; truncate"):
        mlm(input_ids=np.full((1, 41), 7))


def test_token_id_outside_vocab(mlm):
    x = ids()
    x[1, 2] = 99
    with pytest.raises(ValueError, match=r"id 99, outside the vocabulary \[0, 99\)"):
        mlm(input_ids=x)
    x[1, 2] = -1
    with pytest.raises(ValueError, match="outside the vocabulary"):
        mlm(input_ids=x)


def test_wrong_dims_and_dtypes(mlm):
    with pytest.raises(ValueError, match="must be 2-D.*input_ids\\[None\\]"):
        mlm(input_ids=np.array([5, 6, 7]))
    with pytest.raises(TypeError, match="must hold integers, got dtype float"):
        mlm(input_ids=ids().astype(np.float32))
    with pytest.raises(TypeError, match="ragged"):
        mlm(input_ids=np.array([[5, 6], [7]], dtype=object))
    with pytest.raises(ValueError, match="inputs_embeds must have shape"):
        mlm(inputs_embeds=np.zeros((2, 6, 5), np.float32))
    with pytest.raises(TypeError, match="inputs_embeds must be floating"):
        mlm(inputs_embeds=np.zeros((2, 6, 16), np.int64))
    with pytest.raises(ValueError, match="token_type_ids must lie in"):
        mlm(input_ids=ids(), token_type_ids=np.full((2, 6), 2))
    with pytest.raises(ValueError, match="no tokens"):
        mlm(input_ids=np.zeros((1, 0), np.int64))


def test_both_or_neither_inputs(mlm):
    with pytest.raises(ValueError, match="exactly one of input_ids or inputs_embeds \\(got both\\)"):
        mlm(input_ids=ids(), inputs_embeds=np.zeros((2, 6, 16), np.float32))
    with pytest.raises(ValueError, match="got neither"):
        mlm()


def test_attention_mask_shape(mlm):
    with pytest.raises(ValueError, match=r"attention_mask has shape \(2, 5\) but the input is \(2, 6\)"):
        mlm(input_ids=ids(), attention_mask=np.ones((2, 5)))
    with pytest.raises(ValueError, match="only 0 and 1"):
        mlm(input_ids=ids(), attention_mask=np.full((2, 6), 0.5))


def test_head_mask_shape(mlm):
    with pytest.raises(ValueError, match=r"head_mask must have shape \(4,\) or \(3, 4\)"):
        mlm(input_ids=ids(), head_mask=np.ones(3))


def test_labels_shape_and_dtype(mlm):
    with pytest.raises(ValueError, match=r"labels has shape \(2, 5\); expected \(2, 6\)"):
        mlm(input_ids=ids(), labels=np.zeros((2, 5), np.int64))
    with pytest.raises(TypeError, match="labels must hold integers"):
        mlm(input_ids=ids(), labels=np.zeros((2, 6), np.float32))


def test_inputs_embeds_equals_ids(mlm):
    """inputs_embeds = the looked-up word vectors gives the same output as ids."""
    x = ids()
    emb = mlm.params["albert"]["embeddings"]["word_embeddings"]["weight"][x]
    np.testing.assert_allclose(mlm(inputs_embeds=emb).logits, mlm(input_ids=x).logits, atol=1e-6)


def test_mask_of_ones_equals_no_mask_and_bools_work(mlm):
    x = ids()
    a = mlm(input_ids=x).logits
    np.testing.assert_array_equal(a, mlm(input_ids=x, attention_mask=np.ones_like(x)).logits)
    m = np.ones_like(x, dtype=bool)
    m[0, 4:] = False
    np.testing.assert_array_equal(mlm(input_ids=x, attention_mask=m).logits,
                                  mlm(input_ids=x, attention_mask=m.astype(np.int64)).logits)
