"""The whole ALBERT forward pass, in the order the data flows.

    input_ids ─ embeddings (word + position + type, LayerNorm, all of size E)
              ─ embedding_hidden_mapping_in (E -> H: the factorised embedding)
              ─ L applications of shared layers (group int(i / (L / G)), each
                group = inner_group_num ALBERT layers: attention + FFN, post-LN)
              ─ last_hidden_state (B, T, H) ─ pooler: tanh(W h[:, 0] + b)
    heads: MLM (H -> E -> V, decoder tied to the word embeddings), and a linear
           classifier for SOP, sequence / token classification, question
           answering and multiple choice.

Shapes: the package's one dimension legend is at the top of ops.py (B batch,
T tokens, E embedding_size, H hidden_size, A heads, D = H / A, F intermediate_size,
V vocab, L layer applications, G groups, N packed rows, P gathered positions).

Parameters are nested dicts whose paths are Hugging Face's state-dict names:
"albert.encoder.albert_layer_groups.0.albert_layers.0.ffn.weight" is
`params["albert"]["encoder"]["albert_layer_groups"][0]["albert_layers"][0]["ffn"]["weight"]`,
and each function takes its sub-dict as keyword arguments, so
`linear(x, **layer["ffn"])` needs no glue. Weights keep PyTorch's (out, in) layout.

Training runs these same functions (see ops.py): `rng` switches dropout on
where transformers applies it in train mode, and `cache`, a dict, receives what
backprop.py's `<name>_backward` needs. Inference passes neither. A block keeps
each part's cache under the name of the parameters it ran with ("dense",
"LayerNorm", "ffn", ...), or under the function's own name where the part has
no parameters of its own ("scaled_dot_product_attention", "dropout") or runs
on the block's own weight and bias ("linear").
"""
import dataclasses

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


def albert_attention(x, mask, query, key, value, dense, LayerNorm, config, head_mask=None,
                     output_attentions=False, rng=None, qkv=None, cache=None):
    """Multi-head self-attention block with its residual and post-LayerNorm.

    out = LayerNorm(x + dropout(Dense(Attention(x W_q, x W_k, x W_v))))
    x: (B, T, H). mask: who attends to whom: None (everyone), the additive bias
    (B, 1, 1, T) of ops.attention_bias, or a Packing (x is (1, N, H), the real
    tokens of several sequences one after another; attention stays within each
    sequence, see pack_rows). config: num_attention_heads, layer_norm_eps and,
    when training (rng given), attention_probs_dropout_prob on the probabilities
    and hidden_dropout_prob on the dense output. head_mask: (A,) or None.
    qkv: stack_qkv(query, key, value), when the caller has it already.
    Returns (out (B, T, H), probs (B, A, T, T) or None).
    Keeps: "query_key_value" (the stacked linear), "scaled_dot_product_attention",
    "dense", "dropout", "LayerNorm".
    Matches: transformers AlbertAttention.forward.
    """
    A = config.num_attention_heads
    W, b = stack_qkv(query, key, value) if qkv is None else qkv
    q, k, v = np.split(linear(x, W, b, cache=child(cache, "query_key_value")), 3, axis=-1)   # 3 x (B, T, H)
    if isinstance(mask, Packing):
        ctx, probs = packed_attention(q[0], k[0], v[0], mask.groups, A)[None], None   # (1, N, H)
    else:
        ctx, probs = scaled_dot_product_attention(
            split_heads(q, A), split_heads(k, A), split_heads(v, A),   # (B, A, T, D)
            mask, head_mask, config.attention_probs_dropout_prob, rng, output_attentions,
            cache=child(cache, "scaled_dot_product_attention"))
        ctx = merge_heads(ctx)                         # (B, A, T, D) -> (B, T, H)
    y = linear(ctx, **dense, cache=child(cache, "dense"))
    y = dropout(y, config.hidden_dropout_prob, rng, cache=child(cache, "dropout"))
    y += x                                             # y is a fresh array: safe in place
    out = layer_norm(y, LayerNorm["weight"], LayerNorm["bias"], config.layer_norm_eps, out=y,
                     cache=child(cache, "LayerNorm"))
    if cache is not None:
        cache["num_heads"] = A
    return out, probs


FFN_BLOCK = 1024      # rows of the inference FFN at a time (feed_forward)


def feed_forward(a, ffn, ffn_output, act, cache=None):   # (..., H) -> (..., F) -> (..., H)
    """W_2 act(W_1 a + b_1) + b_2, the layer's position-wise feed-forward network.

    act: the activation function (ops.activation(config.hidden_act)).
    Keeps: "ffn", "activation", "ffn_output" (HF's names) and the act itself.
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
    if cache is not None:
        cache["act"] = act
    return linear(h, **ffn_output, cache=child(cache, "ffn_output"))   # (..., F) -> (..., H)


def albert_layer(x, mask, attention, ffn, ffn_output, full_layer_layer_norm, config, head_mask=None,
                 output_attentions=False, rng=None, qkv=None, cache=None):
    """One ALBERT layer: attention block, then feed-forward block, both post-LN.

    a = AttentionBlock(x)
    out = LayerNorm(a + W_2 act(W_1 a + b_1) + b_2)
    x: (B, T, H) -> out (B, T, H); mask, config, head_mask, rng, qkv: as
    albert_attention (config.hidden_act names the activation).
    No dropout on the feed-forward output: transformers' AlbertLayer defines it
    but never applies it. Returns (out, attention probs or None).
    Keeps: "attention", "feed_forward", "full_layer_layer_norm".
    Matches: transformers AlbertLayer.forward.
    """
    a, probs = albert_attention(x, mask, **attention, config=config, head_mask=head_mask,
                                output_attentions=output_attentions, rng=rng, qkv=qkv,
                                cache=child(cache, "attention"))
    y = feed_forward(a, ffn, ffn_output, activation(config.hidden_act),
                     cache=child(cache, "feed_forward"))   # (B, T, H)
    y += a
    return layer_norm(y, full_layer_layer_norm["weight"], full_layer_layer_norm["bias"], config.layer_norm_eps,
                      out=y, cache=child(cache, "full_layer_layer_norm")), probs


def albert_transformer(x, mask, encoder, config, head_mask=None, output_hidden_states=False,
                       output_attentions=False, rng=None, cache=None):
    """Map E -> H, then apply the shared layers L times.

    for i in 0..L-1:  g = int(i / (L / G));  for each of the group's
    inner_group_num layers:  x = albert_layer(x, params of that layer)
    With G = 1 (every released ALBERT) one set of layer weights runs L times.
    x: (B, T, E); mask: as albert_attention; encoder: the "encoder" parameters
    (embedding_hidden_mapping_in, albert_layer_groups); head_mask: None, (A,)
    or (L, A) - row i applies to every attention of application i, the meaning
    transformers documents for (num_layers, num_heads). transformers 4.57 gives
    inner layer j of group g row g * int(L / G) + j instead (with G = 1: row j,
    so row 0 in all L applications), and transformers 5 ignores head_mask; the
    two rules agree for (A,), equal rows, or G = L with one inner layer
    (tests/test_head_mask.py).
    Returns (last (B, T, H), hidden_states, attentions): hidden_states holds the
    mapped-in input and the output of each of the L applications (L + 1 entries,
    as transformers 4.x); attentions one (B, A, T, T) per layer run
    (L * inner_group_num). Both are () unless asked for.
    Keeps: "embedding_hidden_mapping_in", and one cache per layer application
    ("runs": (group, layer, cache)); the weights are shared, the activations of
    each application are not.
    Matches: transformers AlbertTransformer.forward.
    """
    groups = encoder["albert_layer_groups"]
    stacked = [[stack_qkv(layer["attention"]["query"], layer["attention"]["key"], layer["attention"]["value"])
                for layer in group["albert_layers"]] for group in groups]   # once, not L times
    x = embedding_hidden_mapping_in(x, **encoder["embedding_hidden_mapping_in"],
                                    cache=child(cache, "embedding_hidden_mapping_in"))   # (B, T, E) -> (B, T, H)
    hidden_states = [x] if output_hidden_states else []
    attentions = []
    runs = []
    for i in range(config.num_hidden_layers):
        g = config.group_of_layer(i)
        hm = None if head_mask is None else (head_mask if head_mask.ndim == 1 else head_mask[i])
        for j, layer in enumerate(groups[g]["albert_layers"]):
            layer_cache = None if cache is None else {}
            x, probs = albert_layer(x, mask, **layer, config=config, head_mask=hm,
                                    output_attentions=output_attentions, rng=rng, qkv=stacked[g][j],
                                    cache=layer_cache)
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


@dataclasses.dataclass
class Packing:
    """Where the real tokens of a padded (B, T) batch are, for a forward that skips the padding.

    rows: (N,) the flat indices (into B*T) of the tokens whose mask is 1, in order;
    groups: one (b, t) index array per distinct length t, the rows (into the N
    packed tokens) of the b sequences that have t tokens; shape: (B, T).
    """
    rows: np.ndarray
    groups: list
    shape: tuple


def packed_tokens(attention_mask):                 # (B, T) -> Packing
    """The Packing of a 0/1 attention mask (B, T): its real tokens, grouped by sequence length."""
    m = attention_mask != 0
    lengths = m.sum(1)                                 # (B,)
    starts = np.cumsum(lengths) - lengths              # each sequence's first packed row
    groups = [starts[lengths == t][:, None] + np.arange(t) for t in np.unique(lengths)]
    return Packing(np.flatnonzero(m.reshape(-1)), groups, m.shape)


def pack_rows(a, packing):                         # (B or 1, T, ...) -> (1, N, ...)
    """The real tokens' rows of a per-token array, one after another; None stays None."""
    if a is None:
        return None
    B, T = packing.shape
    return np.broadcast_to(a, (B, T) + a.shape[2:]).reshape(B * T, *a.shape[2:])[packing.rows][None]


def unpack_rows(h, packing):                       # (1, N, H) -> (B, T, H)
    """Packed rows back in their places of the padded batch; padding rows are 0."""
    B, T = packing.shape
    out = np.zeros((B * T, h.shape[-1]), dtype=h.dtype)
    out[packing.rows] = h[0]
    return out.reshape(B, T, -1)


def can_skip_padding(attention_mask, head_mask, output_hidden_states, output_attentions, training):
    """Whether albert_model may pack: a (B, T) mask with some padding and a token in every row,
    at inference (not training), with no head mask, hidden states or attentions asked for."""
    return (attention_mask is not None and attention_mask.ndim == 2 and not np.all(attention_mask)
            and np.all(attention_mask.any(1)) and not training and head_mask is None
            and not output_hidden_states and not output_attentions)


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
    skip_padding (inference): compute only the tokens whose attention_mask is 1
    (see can_skip_padding for when). They are packed into one (1, N, H) row
    (pack_rows): every linear map, the FFN and the LayerNorms run on N rows
    instead of B*T, and attention runs per group of equal-length sequences
    (ops.packed_attention). The real tokens get the same vectors as with
    padding; the padding rows of last_hidden_state are 0 instead of
    transformers' (unused) values.
    Matches: transformers AlbertModel.forward.
    """
    token_type_ids, position_ids, inputs_embeds, dtype = default_inputs(
        params, input_ids, token_type_ids, position_ids, inputs_embeds)
    mask = None
    if skip_padding and can_skip_padding(attention_mask, head_mask, output_hidden_states, output_attentions,
                                         training=cache is not None):
        mask = packed_tokens(attention_mask)
        input_ids, token_type_ids, position_ids, inputs_embeds = (   # (B, T) -> (1, N)
            pack_rows(a, mask) for a in (input_ids, token_type_ids, position_ids, inputs_embeds))
    elif attention_mask is not None and not np.all(attention_mask):
        mask = attention_bias(attention_mask, dtype)   # (B, 1, 1, T)
    x = embeddings(input_ids, token_type_ids, position_ids, **params["embeddings"],
                   eps=config.layer_norm_eps, inputs_embeds=inputs_embeds,
                   dropout_p=config.hidden_dropout_prob, rng=rng,
                   cache=child(cache, "embeddings"))   # (B, T, E), or (1, N, E) packed
    hm = None if head_mask is None else np.asarray(head_mask, dtype=dtype)
    h, hidden_states, attentions = albert_transformer(
        x, mask, params["encoder"], config, head_mask=hm, output_hidden_states=output_hidden_states,
        output_attentions=output_attentions, rng=rng, cache=child(cache, "encoder"))
    if isinstance(mask, Packing):
        h = unpack_rows(h, mask)                       # (1, N, H) -> (B, T, H), padding rows 0
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
