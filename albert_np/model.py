"""The whole ALBERT forward pass, in the order the data flows.

    input_ids ─ embeddings (word + position + type, LayerNorm, all of size E)
              ─ embedding_hidden_mapping_in (E -> H: the factorised embedding)
              ─ L applications of shared layers (group int(i / (L / G)), each
                group = inner_group_num ALBERT layers: attention + FFN, post-LN)
              ─ last_hidden_state (B, T, H) ─ pooler: tanh(W h[:, 0] + b)
    heads: MLM (H -> E -> V, decoder tied to the word embeddings), SOP,
           sequence / token classification, question answering, multiple choice.

Dimension legend: B batch, T tokens, C choices, E embedding_size, H hidden_size,
A heads, D = H / A, F intermediate_size, V vocab, L layer applications, G groups.

Parameters are nested dicts whose paths are Hugging Face's state-dict names:
"albert.encoder.albert_layer_groups.0.albert_layers.0.ffn.weight" is
params["albert"]["encoder"]["albert_layer_groups"][0]["albert_layers"][0]["ffn"]["weight"],
and each function takes its sub-dict as keyword arguments, so
`linear(x, **layer["ffn"])` needs no glue. Weights keep PyTorch's (out, in) layout.
"""
import numpy as np

from .ops import (activation, attention_bias, layer_norm, linear, merge_heads,
                  scaled_dot_product_attention, split_heads)


# ---------------------------------------------------------------- embeddings
def embeddings(input_ids, token_type_ids, position_ids, word_embeddings, position_embeddings,
               token_type_embeddings, LayerNorm, eps, inputs_embeds=None):
    """Sum of word, position and token-type embeddings, then LayerNorm.   -> (B, T, E)

    e = LayerNorm(W_word[input_ids] + W_pos[position_ids] + W_type[token_type_ids])
    input_ids, token_type_ids: (B, T) ints; position_ids: (B, T) or (1, T) ints;
    inputs_embeds: (B, T, E), used instead of the word lookup when given.
    Matches: transformers AlbertEmbeddings.forward (eval mode).
    """
    if inputs_embeds is None:
        inputs_embeds = word_embeddings["weight"][input_ids]           # (B, T, E)
    x = inputs_embeds + token_type_embeddings["weight"][token_type_ids]  # (B, T, E)
    x += position_embeddings["weight"][position_ids]                   # broadcast over B
    return layer_norm(x, LayerNorm["weight"], LayerNorm["bias"], eps)


def embedding_hidden_mapping_in(x, weight, bias):  # (B, T, E) -> (B, T, H)
    """Project the small embeddings up to the hidden size: ALBERT's factorisation.

    V x E + E x H parameters instead of BERT's V x H.
    """
    return linear(x, weight, bias)


# --------------------------------------------------------------- the layer
def albert_attention(x, bias, query, key, value, dense, LayerNorm, num_heads, eps,
                     head_mask=None, output_attentions=False):
    """Multi-head self-attention block with its residual and post-LayerNorm.

    out = LayerNorm(x + Dense(Attention(x W_q, x W_k, x W_v)))
    x: (B, T, H); bias: additive mask (B, 1, 1, T) or None; head_mask: (A,) or None.
    Returns (out (B, T, H), probs (B, A, T, T) or None).
    Matches: transformers AlbertAttention.forward.
    """
    q = split_heads(linear(x, **query), num_heads)     # (B, T, H) -> (B, A, T, D)
    k = split_heads(linear(x, **key), num_heads)       # (B, A, T, D)
    v = split_heads(linear(x, **value), num_heads)     # (B, A, T, D)
    ctx, probs = scaled_dot_product_attention(q, k, v, bias, head_mask,
                                              return_probs=output_attentions)
    y = linear(merge_heads(ctx), **dense)              # (B, A, T, D) -> (B, T, H)
    y += x
    return layer_norm(y, LayerNorm["weight"], LayerNorm["bias"], eps), probs


def albert_layer(x, bias, attention, ffn, ffn_output, full_layer_layer_norm, num_heads, act, eps,
                 head_mask=None, output_attentions=False):
    """One ALBERT layer: attention block, then feed-forward block, both post-LN.

    a = AttentionBlock(x)
    out = LayerNorm(a + W_2 act(W_1 a + b_1) + b_2)
    x: (B, T, H) -> out (B, T, H); act: the activation function.
    Returns (out, attention probs or None).
    Matches: transformers AlbertLayer.forward.
    """
    a, probs = albert_attention(x, bias, **attention, num_heads=num_heads, eps=eps,
                                head_mask=head_mask, output_attentions=output_attentions)
    h = act(linear(a, **ffn))                          # (B, T, H) -> (B, T, F)
    y = linear(h, **ffn_output)                        # (B, T, F) -> (B, T, H)
    y += a
    return layer_norm(y, full_layer_layer_norm["weight"], full_layer_layer_norm["bias"], eps), probs


def albert_transformer(x, bias, embedding_hidden_mapping_in, albert_layer_groups, config,
                       head_mask=None, output_hidden_states=False, output_attentions=False):
    """Map E -> H, then apply the shared layers L times.

    for i in 0..L-1:  g = int(i / (L / G));  for each of the group's
    inner_group_num layers:  x = albert_layer(x, params of that layer)
    With G = 1 (every released ALBERT) one set of layer weights runs L times.
    x: (B, T, E); head_mask: None, (A,) or (L, A) - row i applies to every
    attention of application i.
    Returns (last (B, T, H), hidden_states, attentions): hidden_states holds the
    mapped-in input and the output of each of the L applications (L + 1 entries,
    as transformers 4.x); attentions one (B, A, T, T) per layer run
    (L * inner_group_num). Both are () unless asked for.
    Matches: transformers AlbertTransformer.forward.
    """
    act = activation(config.hidden_act)
    x = linear(x, **embedding_hidden_mapping_in)       # (B, T, E) -> (B, T, H)
    hidden_states = [x] if output_hidden_states else []
    attentions = []
    for i in range(config.num_hidden_layers):
        group = albert_layer_groups[config.group_of_layer(i)]
        hm = None if head_mask is None else (head_mask if head_mask.ndim == 1 else head_mask[i])
        for layer in group["albert_layers"]:
            x, probs = albert_layer(x, bias, **layer, num_heads=config.num_attention_heads,
                                    act=act, eps=config.layer_norm_eps, head_mask=hm,
                                    output_attentions=output_attentions)
            if output_attentions:
                attentions.append(probs)
        if output_hidden_states:
            hidden_states.append(x)
    return x, tuple(hidden_states), tuple(attentions)


def pooler(h, weight, bias):                       # (B, T, H) -> (B, H)
    """tanh(W h_[CLS] + b): the summary vector the sentence-level heads read."""
    return np.tanh(linear(h[:, 0], weight, bias))


def default_inputs(params, input_ids, token_type_ids, position_ids, inputs_embeds):
    """transformers' defaults: positions 0..T-1 and token type 0, shared by the batch (1, T);
    inputs_embeds cast to the parameters' dtype. Returns them and that dtype."""
    T = input_ids.shape[1] if input_ids is not None else inputs_embeds.shape[1]
    if position_ids is None:
        position_ids = np.arange(T)[None, :]           # (1, T)
    if token_type_ids is None:
        token_type_ids = np.zeros((1, T), dtype=np.int64)
    dtype = params["embeddings"]["word_embeddings"]["weight"].dtype
    if inputs_embeds is not None:
        inputs_embeds = inputs_embeds.astype(dtype, copy=False)
    return token_type_ids, position_ids, inputs_embeds, dtype


def albert_model(params, config, input_ids=None, attention_mask=None, token_type_ids=None,
                 position_ids=None, inputs_embeds=None, head_mask=None,
                 output_hidden_states=False, output_attentions=False):
    """The ALBERT encoder: ids -> contextual vectors, and the pooled [CLS] vector.

    params: the "albert" sub-dict (embeddings, encoder, optional pooler).
    input_ids, attention_mask, token_type_ids, position_ids: (B, T) ints, or
    inputs_embeds (B, T, E) instead of input_ids. Inputs are assumed valid
    (see check_inputs). Returns a dict with last_hidden_state (B, T, H),
    pooler_output (B, H) or None, hidden_states, attentions.
    Matches: transformers AlbertModel.forward.
    """
    token_type_ids, position_ids, inputs_embeds, dtype = default_inputs(
        params, input_ids, token_type_ids, position_ids, inputs_embeds)
    x = embeddings(input_ids, token_type_ids, position_ids, **params["embeddings"],
                   eps=config.layer_norm_eps, inputs_embeds=inputs_embeds)   # (B, T, E)
    bias = None
    if attention_mask is not None and not np.all(attention_mask):
        bias = attention_bias(attention_mask, dtype)   # (B, 1, 1, T)
    hm = None if head_mask is None else np.asarray(head_mask, dtype=dtype)
    h, hidden_states, attentions = albert_transformer(
        x, bias, **params["encoder"], config=config, head_mask=hm,
        output_hidden_states=output_hidden_states, output_attentions=output_attentions)
    pooled = pooler(h, **params["pooler"]) if "pooler" in params else None
    return {"last_hidden_state": h, "pooler_output": pooled,
            "hidden_states": hidden_states or None, "attentions": attentions or None}


# --------------------------------------------------------------------- heads
def mlm_head(h, dense, LayerNorm, decoder, act, eps, bias=None):   # (..., H) -> (..., V)
    """Masked-LM scores: W_dec LayerNorm(act(W h + b)) + b_dec.

    The decoder weight (V, E) is the word-embedding table itself (tied).
    h: (..., H) -> (..., E) -> (..., V). `bias` is HF's predictions.bias, the same
    array as decoder["bias"].  Matches: transformers AlbertMLMHead.forward.
    """
    x = act(linear(h, **dense))                        # (..., H) -> (..., E)
    x = layer_norm(x, LayerNorm["weight"], LayerNorm["bias"], eps)
    return linear(x, decoder["weight"], decoder["bias"])   # (..., E) -> (..., V)


def sop_head(pooled, classifier):                  # (B, H) -> (B, 2)
    """Sentence-order prediction: linear on the pooled vector (0 = in order, 1 = swapped)."""
    return linear(pooled, **classifier)


def sequence_classification_head(pooled, classifier):   # (B, H) -> (B, num_labels)
    return linear(pooled, **classifier)


def token_classification_head(h, classifier):      # (B, T, H) -> (B, T, num_labels)
    return linear(h, **classifier)


def question_answering_head(h, qa_outputs):        # (B, T, H) -> (B, T), (B, T)
    """Start and end scores of the answer span, one per token."""
    logits = linear(h, **qa_outputs)                   # (B, T, 2)
    return np.ascontiguousarray(logits[..., 0]), np.ascontiguousarray(logits[..., 1])


def multiple_choice_head(pooled, classifier, num_choices):   # (B*C, H) -> (B, C)
    """One score per (question, choice) pair; the B*C pairs were run as one batch."""
    return linear(pooled, **classifier).reshape(-1, num_choices)


# -------------------------------------------------------------- parameters
def nest(flat):
    """Flat HF state dict {"a.b.0.c": array} -> nested {"a": {"b": [{"c": array}]}}.

    Numeric path parts become list indices, so layer groups are lists.
    """
    root = {}
    for name, value in flat.items():
        parts = name.split(".")
        node = root
        for part, nxt in zip(parts[:-1], parts[1:]):
            key = int(part) if part.isdigit() else part
            child_is_list = nxt.isdigit()
            if isinstance(node, list):
                while len(node) <= key:
                    node.append(None)
                if node[key] is None:
                    node[key] = [] if child_is_list else {}
                node = node[key]
            else:
                if key not in node:
                    node[key] = [] if child_is_list else {}
                node = node[key]
        last = parts[-1]
        if isinstance(node, list):
            idx = int(last)
            while len(node) <= idx:
                node.append(None)
            node[idx] = value
        else:
            node[last] = value
    return root


def flatten(params, prefix=""):
    """Nested params -> flat {HF name: array}; the inverse of nest."""
    flat = {}
    items = enumerate(params) if isinstance(params, list) else params.items()
    for key, value in items:
        name = f"{prefix}{key}"
        if isinstance(value, (dict, list)):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


# ------------------------------------------------------------ input checks
def check_inputs(config, input_ids=None, attention_mask=None, token_type_ids=None,
                 position_ids=None, inputs_embeds=None, head_mask=None):
    """Validate what a user passes to a model; return them as NumPy arrays.

    Raises ValueError / TypeError that say what is wrong and what to do, so that
    bad input never surfaces as an IndexError from deep inside NumPy.
    """
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
    return input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds, head_mask


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
