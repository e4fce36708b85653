"""What a user passes to a model, checked before any maths runs.

Bad input raises a ValueError / TypeError that says what is wrong and what to
do, never an IndexError from deep inside NumPy.
"""
import numpy as np

INPUT_KEYS = ("input_ids", "attention_mask", "token_type_ids", "position_ids", "inputs_embeds", "head_mask")


def check_inputs(config, input_ids=None, attention_mask=None, token_type_ids=None,
                 position_ids=None, inputs_embeds=None, head_mask=None):
    """Validate a model's inputs; return them as a dict of NumPy arrays (INPUT_KEYS)."""
    if (input_ids is None) == (inputs_embeds is None):
        raise ValueError("pass exactly one of input_ids or inputs_embeds "
                         f"(got {'both' if input_ids is not None else 'neither'})")
    if input_ids is not None:
        input_ids = _int_array("input_ids", input_ids)
        if input_ids.ndim == 1:
            raise ValueError(f"input_ids must be 2-D (batch, tokens), got shape {input_ids.shape}; "
                             f"for one sequence use input_ids[None] or return_tensors='np'")
        if input_ids.ndim != 2:
            raise ValueError(f"input_ids must be 2-D (batch, tokens), got shape {input_ids.shape}")
        shape = input_ids.shape
        if input_ids.size and (input_ids.min() < 0 or input_ids.max() >= config.vocab_size):
            bad = input_ids[(input_ids < 0) | (input_ids >= config.vocab_size)][0]
            raise ValueError(f"input_ids holds id {bad}, outside the vocabulary [0, {config.vocab_size}); "
                             f"was the text tokenized with this model's tokenizer?")
    else:
        inputs_embeds = np.asarray(inputs_embeds)
        if not np.issubdtype(inputs_embeds.dtype, np.floating):
            raise TypeError(f"inputs_embeds must be floating point, got dtype {inputs_embeds.dtype}")
        if inputs_embeds.ndim != 3 or inputs_embeds.shape[-1] != config.embedding_size:
            raise ValueError(f"inputs_embeds must have shape (batch, tokens, embedding_size="
                             f"{config.embedding_size}), got {inputs_embeds.shape}")
        shape = inputs_embeds.shape[:2]
        if not np.all(np.isfinite(inputs_embeds)):
            raise ValueError("inputs_embeds holds nan or inf values: every embedding must be a finite number")
    B, T = shape
    if T == 0:
        raise ValueError("the input has no tokens (sequence length 0)")
    if T > config.max_position_embeddings and position_ids is None:
        raise ValueError(f"sequence length {T} exceeds max_position_embeddings="
                         f"{config.max_position_embeddings}; truncate the input "
                         f"(tokenizer(..., truncation=True, max_length={config.max_position_embeddings}))")
    if attention_mask is not None:
        attention_mask = _int_array("attention_mask", attention_mask, allow_bool=True, allow_float=True)
        if attention_mask.shape != shape:
            raise ValueError(f"attention_mask has shape {attention_mask.shape} but the input is {shape}; "
                             f"it needs one 0/1 entry per token")
        if attention_mask.size and not np.all((attention_mask == 0) | (attention_mask == 1)):
            raise ValueError(f"attention_mask must hold only 0 (padding) and 1 (a token), got values "
                             f"{np.unique(attention_mask).tolist()[:10]}")
    if token_type_ids is not None:
        token_type_ids = _int_array("token_type_ids", token_type_ids)
        if token_type_ids.shape != shape:
            raise ValueError(f"token_type_ids has shape {token_type_ids.shape} but the input is {shape}")
        if token_type_ids.size and (token_type_ids.min() < 0 or token_type_ids.max() >= config.type_vocab_size):
            raise ValueError(f"token_type_ids must lie in [0, {config.type_vocab_size}), "
                             f"got values {np.unique(token_type_ids).tolist()}")
    if position_ids is not None:
        position_ids = _int_array("position_ids", position_ids)
        if position_ids.ndim == 1:
            position_ids = position_ids[None]
        if position_ids.shape[-1] != T or position_ids.shape[0] not in (1, B):
            raise ValueError(f"position_ids has shape {position_ids.shape}; expected ({B}, {T}) or (1, {T})")
        if position_ids.size and (position_ids.min() < 0 or position_ids.max() >= config.max_position_embeddings):
            raise ValueError(f"position_ids must lie in [0, {config.max_position_embeddings}), "
                             f"got max {position_ids.max()} / min {position_ids.min()}")
    if head_mask is not None:
        head_mask = np.asarray(head_mask)
        A, L = config.num_attention_heads, config.num_hidden_layers
        if head_mask.shape not in ((A,), (L, A)):
            raise ValueError(f"head_mask must have shape ({A},) or ({L}, {A}), got {head_mask.shape}")
    return {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids,
            "position_ids": position_ids, "inputs_embeds": inputs_embeds, "head_mask": head_mask}


def _int_array(name, value, allow_bool=False, allow_float=False):
    arr = np.asarray(value)
    if arr.dtype == object:
        raise TypeError(f"{name} must be a rectangular array of ints; got ragged or mixed data "
                        f"(pad the batch: tokenizer(..., padding=True))")
    if np.issubdtype(arr.dtype, np.integer):
        return arr
    if allow_bool and arr.dtype == np.bool_:
        return arr.astype(np.int64)
    if allow_float and np.issubdtype(arr.dtype, np.floating):
        if not np.all((arr == 0) | (arr == 1)):
            raise ValueError(f"{name} must hold only 0 and 1, got other values")
        return arr.astype(np.int64)
    raise TypeError(f"{name} must hold integers, got dtype {arr.dtype}")


def flatten_choices(input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                    inputs_embeds=None, head_mask=None):
    """Multiple-choice inputs (B, C, T) -> (B*C, T): every choice is one sequence.

    Returns (inputs dict, C). position_ids may stay (T,) / (1, T), shared by all rows.
    """
    ref = input_ids if input_ids is not None else inputs_embeds
    if (input_ids is None) == (inputs_embeds is None):
        raise ValueError("pass exactly one of input_ids or inputs_embeds "
                         f"(got {'both' if input_ids is not None else 'neither'})")
    ref = np.asarray(ref)
    want = 3 if input_ids is not None else 4
    if ref.ndim != want:
        raise ValueError(f"multiple choice inputs must be (batch, choices, tokens"
                         f"{', embedding_size' if want == 4 else ''}), got shape {ref.shape}")
    B, C = ref.shape[:2]
    out = {"position_ids": position_ids, "head_mask": head_mask}
    for k, v in (("input_ids", input_ids), ("attention_mask", attention_mask),
                 ("token_type_ids", token_type_ids), ("inputs_embeds", inputs_embeds)):
        if v is not None:
            v = np.asarray(v)
            if v.shape[:2] != (B, C):
                raise ValueError(f"{k} has shape {v.shape}; expected ({B}, {C}, ...) like the inputs")
            v = v.reshape(B * C, *v.shape[2:])
        out[k] = v
    if position_ids is not None and np.ndim(position_ids) == 3:
        out["position_ids"] = np.asarray(position_ids).reshape(B * C, -1)
    return out, C
