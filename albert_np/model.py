"""The whole ALBERT forward pass, in the order the data flows.

    input_ids ─ embeddings (word + position + type, LayerNorm, all of size E)
              ─ embedding_hidden_mapping_in (E -> H: the factorised embedding)
              ─ L applications of shared layers (group int(i / (L / G)), each
                group = inner_group_num ALBERT layers: attention + FFN, post-LN)
              ─ last_hidden_state (B, T, H) ─ pooler: tanh(W h[:, 0] + b)
    heads: MLM (H -> E -> V, decoder tied to the word embeddings), and a linear
           classifier for SOP, sequence / token classification, question
           answering and multiple choice.

Dimension legend: B batch, T tokens, C choices, E embedding_size, H hidden_size,
A heads, D = H / A, F intermediate_size, V vocab, L layer applications, G groups,
P gathered positions per sequence.

Parameters are nested dicts whose paths are Hugging Face's state-dict names:
"albert.encoder.albert_layer_groups.0.albert_layers.0.ffn.weight" is
params["albert"]["encoder"]["albert_layer_groups"][0]["albert_layers"][0]["ffn"]["weight"],
and each function takes its sub-dict as keyword arguments, so
`linear(x, **layer["ffn"])` needs no glue. Weights keep PyTorch's (out, in) layout.

Training runs these same functions (see ops.py): `rng` switches dropout on
where transformers applies it in train mode, and `cache`, a dict, receives what
backprop.py's `<name>_backward` needs. Inference passes neither.
"""
import numpy as np

from .ops import (activation, attention_bias, child, dropout, layer_norm, linear, merge_heads,
                  packed_attention, scaled_dot_product_attention, split_heads, tanh)


# ---------------------------------------------------------------- embeddings
def embeddings(input_ids, token_type_ids, position_ids, word_embeddings, position_embeddings,
               token_type_embeddings, LayerNorm, eps, inputs_embeds=None, dropout_p=0.0, rng=None,
               cache=None):
    """Sum of word, position and token-type embeddings, then LayerNorm.   -> (B, T, E)

    e = dropout(LayerNorm(W_word[input_ids] + W_pos[position_ids] + W_type[token_type_ids]))
    input_ids, token_type_ids: (B, T) ints (token_type_ids may be (1, T));
    position_ids: (B, T) or (1, T) ints; inputs_embeds: (B, T, E), used instead
    of the word lookup when given. dropout_p: hidden_dropout_prob (training only).
    Keeps: the ids (the lookups' backward scatters into the tables).
    Matches: transformers AlbertEmbeddings.forward.
    """
    from_ids = inputs_embeds is None
    if from_ids:
        inputs_embeds = word_embeddings["weight"][input_ids]           # (B, T, E)
    x = inputs_embeds + token_type_embeddings["weight"][token_type_ids]  # (B, T, E)
    x += position_embeddings["weight"][position_ids]                   # broadcast over B
    x = layer_norm(x, LayerNorm["weight"], LayerNorm["bias"], eps, out=x, cache=child(cache, "LayerNorm"))
    if cache is not None:
        cache.update(input_ids=input_ids if from_ids else None, token_type_ids=token_type_ids,
                     position_ids=position_ids)
    return dropout(x, dropout_p, rng, cache=child(cache, "dropout"))


def embedding_hidden_mapping_in(x, weight, bias, cache=None):   # (B, T, E) -> (B, T, H)
    """Project the small embeddings up to the hidden size: ALBERT's factorisation.

    V x E + E x H parameters instead of BERT's V x H.
    """
    return linear(x, weight, bias, cache=cache)


# --------------------------------------------------------------- the layer
def stack_qkv(query, key, value):                  # -> (3H, H), (3H,)
    """W_q, W_k, W_v (and their biases) stacked: one (N, H) x (H, 3H) product instead of three.

    One product is faster than three on few rows (1 x 128 tokens: 2.0 vs 3.1 ms
    for the base shape, 2 cores); albert_transformer stacks them once per forward,
    since the L layer applications share them.
    """
    return (np.concatenate([query["weight"], key["weight"], value["weight"]]),
            np.concatenate([query["bias"], key["bias"], value["bias"]]))


def albert_attention(x, bias, query, key, value, dense, LayerNorm, num_heads, eps, head_mask=None,
                     output_attentions=False, attention_dropout=0.0, hidden_dropout=0.0, rng=None,
                     groups=None, qkv=None, cache=None):
    """Multi-head self-attention block with its residual and post-LayerNorm.

    out = LayerNorm(x + dropout(Dense(Attention(x W_q, x W_k, x W_v))))
    x: (B, T, H); bias: additive mask (B, 1, 1, T) or None; head_mask: (A,) or None.
    Dropout when training: attention_dropout on the probabilities, hidden_dropout
    on the dense output. Returns (out (B, T, H), probs (B, A, T, T) or None).
    groups: x holds packed sequences (1, N, H) (see packed_tokens); attention then
    runs within each sequence, see packed_attention. qkv: stack_qkv(query, key,
    value), when the caller has it already.
    Matches: transformers AlbertAttention.forward.
    """
    W, b = stack_qkv(query, key, value) if qkv is None else qkv
    q, k, v = np.split(linear(x, W, b, cache=child(cache, "qkv")), 3, axis=-1)   # 3 x (B, T, H) views
    if groups is None:
        ctx, probs = scaled_dot_product_attention(
            split_heads(q, num_heads), split_heads(k, num_heads), split_heads(v, num_heads),   # (B, A, T, D)
            bias, head_mask, attention_dropout, rng, output_attentions, cache=child(cache, "attention"))
        ctx = merge_heads(ctx)                         # (B, A, T, D) -> (B, T, H)
    else:
        ctx, probs = packed_attention(q[0], k[0], v[0], groups, num_heads)[None], None
    y = linear(ctx, **dense, cache=child(cache, "dense"))
    y = dropout(y, hidden_dropout, rng, cache=child(cache, "dropout"))
    y += x                                             # y is a fresh array: safe in place
    out = layer_norm(y, LayerNorm["weight"], LayerNorm["bias"], eps, out=y, cache=child(cache, "LayerNorm"))
    if cache is not None:
        cache["num_heads"] = num_heads
    return out, probs


def albert_layer(x, bias, attention, ffn, ffn_output, full_layer_layer_norm, num_heads, act, eps,
                 head_mask=None, output_attentions=False, attention_dropout=0.0, hidden_dropout=0.0,
                 rng=None, groups=None, qkv=None, cache=None):
    """One ALBERT layer: attention block, then feed-forward block, both post-LN.

    a = AttentionBlock(x)
    out = LayerNorm(a + W_2 act(W_1 a + b_1) + b_2)
    x: (B, T, H) -> out (B, T, H); act: the activation function (ops.ACTIVATIONS).
    No dropout on the feed-forward output: transformers' AlbertLayer defines it
    but never applies it. Returns (out, attention probs or None).
    Matches: transformers AlbertLayer.forward.
    """
    a, probs = albert_attention(x, bias, **attention, num_heads=num_heads, eps=eps,
                                head_mask=head_mask, output_attentions=output_attentions,
                                attention_dropout=attention_dropout, hidden_dropout=hidden_dropout,
                                rng=rng, groups=groups, qkv=qkv, cache=child(cache, "attention"))
    y = feed_forward(a, ffn, ffn_output, act, cache=cache)   # (B, T, H)
    y += a
    out = layer_norm(y, full_layer_layer_norm["weight"], full_layer_layer_norm["bias"], eps, out=y,
                     cache=child(cache, "full_layer_layer_norm"))
    if cache is not None:
        cache["act"] = act
    return out, probs


FFN_BLOCK = 1024      # rows of the inference FFN at a time (feed_forward)


def feed_forward(a, ffn, ffn_output, act, cache=None):   # (..., H) -> (..., F) -> (..., H)
    """W_2 act(W_1 a + b_1) + b_2, the layer's position-wise feed-forward network.

    Keeps (in the layer's cache): "ffn", "activation", "ffn_output".
    At inference, more than FFN_BLOCK rows run FFN_BLOCK at a time: the
    (N, F) intermediate is the forward's largest array (4 x the hidden state,
    twice over while the activation runs), and blocks of 1,024 rows hold at
    most 1,024 x F of it while the matrix products stay as fast (measured).
    """
    if cache is None and a.size > FFN_BLOCK * a.shape[-1]:
        a2 = a.reshape(-1, a.shape[-1])                # (N, H)
        y = np.empty_like(a2)
        for s in range(0, len(a2), FFN_BLOCK):
            y[s:s + FFN_BLOCK] = feed_forward(a2[s:s + FFN_BLOCK], ffn, ffn_output, act)
        return y.reshape(a.shape)
    h = linear(a, **ffn, cache=child(cache, "ffn"))    # (..., H) -> (..., F)
    h = act(h, cache=child(cache, "activation"))
    return linear(h, **ffn_output, cache=child(cache, "ffn_output"))   # (..., F) -> (..., H)


def albert_transformer(x, bias, embedding_hidden_mapping_in, albert_layer_groups, config,
                       head_mask=None, output_hidden_states=False, output_attentions=False,
                       rng=None, groups=None, cache=None):
    """Map E -> H, then apply the shared layers L times.

    for i in 0..L-1:  g = int(i / (L / G));  for each of the group's
    inner_group_num layers:  x = albert_layer(x, params of that layer)
    With G = 1 (every released ALBERT) one set of layer weights runs L times.
    x: (B, T, E); head_mask: None, (A,) or (L, A) - row i applies to every
    attention of application i.
    Returns (last (B, T, H), hidden_states, attentions): hidden_states holds the
    mapped-in input and the output of each of the L applications (L + 1 entries,
    as transformers 4.x); attentions one (B, A, T, T) per layer run
    (L * inner_group_num). Both are () unless asked for. groups: packed
    sequences (see albert_attention).
    Keeps: one cache per layer application ("runs": (group, layer, cache)); the
    weights are shared, the activations of each application are not.
    Matches: transformers AlbertTransformer.forward.
    """
    act = activation(config.hidden_act)
    stacked = [[stack_qkv(layer["attention"]["query"], layer["attention"]["key"], layer["attention"]["value"])
                for layer in group["albert_layers"]] for group in albert_layer_groups]   # once, not L times
    x = linear(x, **embedding_hidden_mapping_in, cache=child(cache, "mapping_in"))   # (B, T, E) -> (B, T, H)
    hidden_states = [x] if output_hidden_states else []
    attentions = []
    runs = []
    for i in range(config.num_hidden_layers):
        g = config.group_of_layer(i)
        hm = None if head_mask is None else (head_mask if head_mask.ndim == 1 else head_mask[i])
        for j, layer in enumerate(albert_layer_groups[g]["albert_layers"]):
            layer_cache = None if cache is None else {}
            x, probs = albert_layer(x, bias, **layer, num_heads=config.num_attention_heads, act=act,
                                    eps=config.layer_norm_eps, head_mask=hm,
                                    output_attentions=output_attentions,
                                    attention_dropout=config.attention_probs_dropout_prob,
                                    hidden_dropout=config.hidden_dropout_prob, rng=rng,
                                    groups=groups, qkv=stacked[g][j], cache=layer_cache)
            runs.append((g, j, layer_cache))
            if output_attentions:
                attentions.append(probs)
        if output_hidden_states:
            hidden_states.append(x)
    if cache is not None:
        cache["runs"] = runs
    return x, tuple(hidden_states), tuple(attentions)


def pooler(h, weight, bias, cache=None):           # (B, T, H) -> (B, H)
    """tanh(W h_[CLS] + b): the summary vector the sentence-level heads read."""
    if cache is not None:
        cache["shape"] = h.shape
    return tanh(linear(h[:, 0], weight, bias, cache=child(cache, "linear")), cache=child(cache, "tanh"))


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


def packed_tokens(attention_mask):                 # (B, T) -> (N,), [(b, t), ...]
    """Where the real tokens of a padded batch are, for a forward that skips the padding.

    Returns (rows, groups): rows (N,) the flat indices (into B*T) of the tokens
    whose mask is 1, in order; groups one (b, t) index array per distinct length
    t, the rows (into the N packed tokens) of the b sequences that have t tokens.
    """
    m = attention_mask != 0
    lengths = m.sum(1)                                 # (B,)
    starts = np.cumsum(lengths) - lengths              # each sequence's first packed row
    groups = [starts[lengths == t][:, None] + np.arange(t) for t in np.unique(lengths)]
    return np.flatnonzero(m.reshape(-1)), groups


def albert_model(params, config, input_ids=None, attention_mask=None, token_type_ids=None,
                 position_ids=None, inputs_embeds=None, head_mask=None,
                 output_hidden_states=False, output_attentions=False, rng=None, skip_padding=False,
                 cache=None):
    """The ALBERT encoder: ids -> contextual vectors, and the pooled [CLS] vector.

    params: the "albert" sub-dict (embeddings, encoder, optional pooler).
    input_ids, attention_mask, token_type_ids, position_ids: (B, T) ints, or
    inputs_embeds (B, T, E) instead of input_ids. Inputs are assumed valid
    (see inputs.check_inputs). Returns a dict with last_hidden_state (B, T, H),
    pooler_output (B, H) or None, hidden_states, attentions.
    Dropout (rng given): embeddings output, attention probabilities, attention output.
    skip_padding (inference): compute only the tokens whose attention_mask is 1.
    They are packed into one (1, N, H) row: every linear map, the FFN and the
    LayerNorms run on N rows instead of B*T, and attention runs per group of
    equal-length sequences (packed_tokens, ops.packed_attention). The real
    tokens get the same vectors as with padding; the padding rows of
    last_hidden_state are 0 instead of transformers' (unused) values. Used when
    the mask is (B, T) with some padding and every row has a token, without
    cache, head_mask, hidden states or attentions; otherwise the padded forward.
    Matches: transformers AlbertModel.forward.
    """
    token_type_ids, position_ids, inputs_embeds, dtype = default_inputs(
        params, input_ids, token_type_ids, position_ids, inputs_embeds)
    bias = rows = groups = None
    if attention_mask is not None and not np.all(attention_mask):
        if (skip_padding and cache is None and head_mask is None and not output_hidden_states
                and not output_attentions and attention_mask.ndim == 2 and np.all(attention_mask.any(1))):
            rows, groups = packed_tokens(attention_mask)
        else:
            bias = attention_bias(attention_mask, dtype)   # (B, 1, 1, T)
    if rows is not None:                               # keep the real tokens only: (1, N)
        B, T = attention_mask.shape

        def pack(a):
            return None if a is None else np.broadcast_to(a, (B, T) + a.shape[2:]).reshape(
                B * T, *a.shape[2:])[rows][None]
        input_ids, token_type_ids, position_ids, inputs_embeds = (
            pack(input_ids), pack(token_type_ids), pack(position_ids), pack(inputs_embeds))
    x = embeddings(input_ids, token_type_ids, position_ids, **params["embeddings"],
                   eps=config.layer_norm_eps, inputs_embeds=inputs_embeds,
                   dropout_p=config.hidden_dropout_prob, rng=rng,
                   cache=child(cache, "embeddings"))   # (B, T, E), or (1, N, E) packed
    hm = None if head_mask is None else np.asarray(head_mask, dtype=dtype)
    h, hidden_states, attentions = albert_transformer(
        x, bias, **params["encoder"], config=config, head_mask=hm,
        output_hidden_states=output_hidden_states, output_attentions=output_attentions,
        rng=rng, groups=groups, cache=child(cache, "encoder"))
    if rows is not None:                               # back to (B, T, H), padding rows 0
        packed, h = h[0], np.zeros((B * T, h.shape[-1]), dtype=h.dtype)
        h[rows] = packed
        h = h.reshape(B, T, -1)
    pooled = None
    if "pooler" in params:
        pooled = pooler(h, **params["pooler"], cache=child(cache, "pooler"))   # (B, H)
    if cache is not None:
        cache["padding_idx"] = config.pad_token_id
    return {"last_hidden_state": h, "pooler_output": pooled,
            "hidden_states": hidden_states or None, "attentions": attentions or None}


# --------------------------------------------------------------------- heads
def gather_positions(h, positions, cache=None):    # (B, T, H), (B, P) -> (B, P, H)
    """The rows of h at the given token positions (the masked tokens of pretraining).

    Running the MLM head on these rows only computes the big E -> V product
    where the loss needs it.
    """
    if cache is not None:
        cache.update(shape=h.shape, positions=positions)
    return h[np.arange(h.shape[0])[:, None], positions]


def mlm_head(h, dense, LayerNorm, decoder, act, eps, bias=None, cache=None):   # (..., H) -> (..., V)
    """Masked-LM scores: W_dec LayerNorm(act(W h + b)) + b_dec.

    The decoder weight (V, E) is the word-embedding table itself (tied).
    h: (..., H) -> (..., E) -> (..., V); act: the activation function. `bias` is
    HF's predictions.bias, the same array as decoder["bias"].
    Matches: transformers AlbertMLMHead.forward.
    """
    x = act(linear(h, **dense, cache=child(cache, "dense")), cache=child(cache, "activation"))  # (..., E)
    x = layer_norm(x, LayerNorm["weight"], LayerNorm["bias"], eps, cache=child(cache, "LayerNorm"))
    if cache is not None:
        cache["act"] = act
    return linear(x, decoder["weight"], decoder["bias"], cache=child(cache, "decoder"))   # (..., V)


def classifier_head(x, weight, bias, dropout_p=0.0, rng=None, cache=None):   # (..., H) -> (..., K)
    """logits = W dropout(x) + b: the SOP, sequence, token and multiple-choice heads.

    x: the pooled (B, H) vector, or every token (B, T, H) for token classification.
    Dropout (training only): classifier_dropout_prob, as transformers' AlbertFor* heads.
    Matches: transformers AlbertSOPHead, and the classifiers of AlbertFor*Classification
    and AlbertForMultipleChoice.
    """
    x = dropout(x, dropout_p, rng, cache=child(cache, "dropout"))
    return linear(x, weight, bias, cache=child(cache, "linear"))


def question_answering_head(h, weight, bias, cache=None):   # (B, T, H) -> (B, T), (B, T)
    """Start and end scores of the answer span, one per token."""
    logits = linear(h, weight, bias, cache=cache)       # (B, T, 2)
    return np.ascontiguousarray(logits[..., 0]), np.ascontiguousarray(logits[..., 1])
