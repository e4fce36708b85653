# %% [markdown]
# # Chapter 5: Groups, and what changes from one application to the next
#
# Chapter 4 wrote ALBERT's encoder as a loop that applies one shared layer L
# times. This chapter looks at that loop from two sides.
#
# First the configuration: ALBERT's config allows more than one set of layer
# weights (*groups*, `num_hidden_groups`) and more than one layer inside a set
# (`inner_group_num`). We work out which set each application uses, and check a
# hand-written loop on a small two-group model.
#
# Then the data: what does each application *do* to the hidden state? We
#
# 1. measure how far and in which direction each application moves every
#    token's vector (the L2 distance and the cosine similarity of Figure 2 of
#    the ALBERT paper), against randomly initialised models as a baseline;
# 2. apply the masked-LM head after every application (a "logit lens"), to see
#    the model's guess for a masked word take shape;
# 3. follow one word used in two senses ("bank" of a river, "bank" for money),
#    and watch its two vectors part as the context flows in.

# %% [markdown]
# **Which model.** This chapter runs on the bundled `albert-tiny-en`. To use another
# checkpoint, set `ALBERT_NP_MODEL` before `tutorial_utils` is imported: in a shell
# `ALBERT_NP_MODEL=/path/to/checkpoint python tutorials/05_layer_by_layer.py`; in Jupyter run
# `%env ALBERT_NP_MODEL=/path/to/checkpoint` in a cell above the imports (the variable
# is read once, at import; changing it later has no effect until the kernel restarts).

# %%
from tutorial_utils import *

import albert_np
from albert_np import AlbertConfig, AlbertForMaskedLM, AlbertModel, AlbertTokenizer
from albert_np.model import albert_layer, mlm_head
from albert_np.ops import activation, layer_norm, linear

mlm = AlbertForMaskedLM.from_pretrained(MODEL)       # the encoder and the masked-LM head
tokenizer = AlbertTokenizer.from_pretrained(MODEL)
config = mlm.config
params = mlm.params["albert"]                        # the encoder's parameters (embeddings, encoder)
L, G = config.num_hidden_layers, config.num_hidden_groups
print(mlm)
print(f"L = {L} layer applications, num_hidden_groups G = {G}, inner_group_num = {config.inner_group_num}")

# %% [markdown]
# ## Groups and inner groups
#
# The configuration allows more than one set of weights. `num_hidden_groups` (G)
# says how many distinct sets exist; the L applications are cut into G runs of
# (about) equal length, and run k uses set k. The rule is
# `group = int(i / (L / G))`, which `AlbertConfig.group_of_layer` implements.
# First for this model, then for a few (L, G) pairs, each checked against our
# own one-liner.

# %%
print(f"this model: group of each application = {[config.group_of_layer(i) for i in range(L)]}")
for L_, G_ in [(12, 1), (12, 2), (12, 3), (12, 4), (12, 12), (6, 4), (24, 5)]:
    cfg = AlbertConfig(num_hidden_layers=L_, num_hidden_groups=G_, hidden_size=64,
                       num_attention_heads=4, intermediate_size=128)
    rule = [cfg.group_of_layer(i) for i in range(L_)]
    assert rule == [int(i / (L_ / G_)) for i in range(L_)]
    print(f"L={L_:2d} G={G_:2d}: {rule}")

# %% [markdown]
# When G divides L every group runs L/G times in a row. When it does not (L=6,
# G=4, or L=24, G=5) the runs are uneven, but every group is still used, in
# order. G = 1 is ALBERT as released; G = L is BERT's arrangement, one set of
# weights per position.
#
# `inner_group_num` is the other knob: each group holds that many *different*
# layers, run one after another every time the group is applied. So one
# "application" is really `inner_group_num` layers, and `hidden_states` records
# the state only after the whole group has run, while `attentions` gets one entry
# per layer actually run (L * inner_group_num).
#
# Here is chapter 4's hand loop again, reading both knobs. To check it on a case
# that released checkpoints do not cover, we build a small random model with
# L = 6 applications, G = 2 groups and two layers in each group, and compare
# every hidden state with the library's.

# %%
def encoder_by_hand(params, config, input_ids):
    """ids (B, T) -> list of L + 1 hidden states (B, T, H): chapter 4's loop, with groups."""
    emb = params["embeddings"]
    B, T = input_ids.shape
    x = emb["word_embeddings"]["weight"][input_ids]                  # (B, T) -> (B, T, E)
    x = x + emb["token_type_embeddings"]["weight"][np.zeros((B, T), dtype=int)]
    x = x + emb["position_embeddings"]["weight"][np.arange(T)]
    x = layer_norm(x, emb["LayerNorm"]["weight"], emb["LayerNorm"]["bias"], config.layer_norm_eps)
    h = linear(x, **params["encoder"]["embedding_hidden_mapping_in"])   # (B, T, E) -> (B, T, H)
    states = [h]
    L, G = config.num_hidden_layers, config.num_hidden_groups
    for i in range(L):
        group = params["encoder"]["albert_layer_groups"][int(i / (L / G))]
        for layer in group["albert_layers"]:                          # inner_group_num layers
            h, _ = albert_layer(h, None, **layer, config=config)   # (B, T, H) -> (B, T, H)
        states.append(h)                                              # one state per application
    return states


text = ("The cat sat on the mat because it was warm. Later that day the dog came in "
        "from the garden and lay down beside it.")
ids = tokenizer(text, return_tensors="np")["input_ids"]              # (1, T)
toy_config = AlbertConfig(vocab_size=config.vocab_size, embedding_size=16, hidden_size=32,
                          num_attention_heads=4, intermediate_size=64, num_hidden_layers=6,
                          num_hidden_groups=2, inner_group_num=2, hidden_act=config.hidden_act)
toy = AlbertModel(toy_config, seed=1)                  # fresh random weights, as HF initialises
toy_groups = toy.params["encoder"]["albert_layer_groups"]
print("toy: groups", len(toy_groups), "| layers per group", [len(g["albert_layers"]) for g in toy_groups],
      "| group of each application", [toy_config.group_of_layer(i) for i in range(6)])
toy_ref = toy(input_ids=ids, output_hidden_states=True, output_attentions=True)
toy_ours = encoder_by_hand(toy.params, toy_config, ids)
check_all("toy model, G = 2, two inner layers",
          {f"hidden_states[{i}]": (a, b) for i, (a, b) in enumerate(zip(toy_ours, toy_ref.hidden_states))})
print("attention maps returned:", len(toy_ref.attentions), "= L * inner_group_num =", 6 * 2)
assert len(toy_ref.attentions) == 6 * 2

# and the same loop on this checkpoint
ref = mlm(input_ids=ids, output_hidden_states=True)
ours = encoder_by_hand(params, config, ids)
check_all("this checkpoint", {f"hidden_states[{i}]": (a, b) for i, (a, b) in enumerate(zip(ours, ref.hidden_states))})
groups = params["encoder"]["albert_layer_groups"]


def count(tree):
    """How many numbers a nested dict / list of arrays holds."""
    if isinstance(tree, dict):
        return sum(count(v) for v in tree.values())
    if isinstance(tree, list):
        return sum(count(v) for v in tree)
    return tree.size


one_layer = count(groups[0]["albert_layers"][0])
print(f"one layer holds {one_layer:,} parameters")

# %% [markdown]
# A picture of the loop, with this model's sizes: the data flows down the left
# column, through L applications; each application reads the weights of its
# group on the right. Beside it, the same L with G = 3 (or G = 1 when this model
# already has several groups), so that the rule `int(i / (L / G))` is visible.

# %%
def layer_size(H, F):
    """Parameters of one layer: 4 (H x H + H) attention maps, 2 LayerNorms, W_1, b_1, W_2, b_2."""
    return 4 * (H * H + H) + 2 * 2 * H + (F * H + F) + (H * F + H)


check("one layer: formula vs the arrays held", layer_size(config.hidden_size, config.intermediate_size),
      one_layer, 0, 0)


def draw_encoder(ax, cfg, title):
    """The encoder of cfg as boxes: embeddings, E -> H, L applications, each joined to its group."""
    from matplotlib.patches import FancyBboxPatch
    L_, G_, inner = cfg.num_hidden_layers, cfg.num_hidden_groups, cfg.inner_group_num
    E_, H_, F_, A_ = cfg.embedding_size, cfg.hidden_size, cfg.intermediate_size, cfg.num_attention_heads
    per_group = inner * layer_size(H_, F_)
    rows = L_ + 3                                      # embeddings, E -> H, L applications, output
    ax.set_xlim(0, 10)
    ax.set_ylim(rows, -1)
    ax.axis("off")
    ax.set_title(title, fontsize=9)

    def box(x, y, w, h, text, colour, size=7.5):
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.03", fc=colour, ec="black"))
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=size)

    box(0.2, 0.1, 4.2, 0.8, f"embeddings: V x E = {cfg.vocab_size:,} x {E_}", "tab:blue")
    box(0.2, 1.1, 4.2, 0.8, f"E -> H map: {E_} -> {H_}", "tab:orange")
    for i in range(L_):
        g_ = int(i / (L_ / G_))
        rule_text = f"  (g = int({i} / ({L_} / {G_})) = {g_})" if G_ > 1 else ""
        box(0.2, i + 2.15, 4.2, 0.7, f"application {i}: group {g_}{rule_text}", "white", 7)
    box(0.2, L_ + 2.1, 4.2, 0.8, f"last_hidden_state (B, T, {H_}) -> pooler", "tab:green")
    for y in range(L_ + 2):
        ax.annotate("", xy=(2.3, y + 1.1), xytext=(2.3, y + 0.9), arrowprops=dict(arrowstyle="->"))
    for g_ in range(G_):
        apps = [i for i in range(L_) if int(i / (L_ / G_)) == g_]
        top, bottom = apps[0] + 2.15, apps[-1] + 2.85
        box(6.0, top, 3.8, bottom - top, f"layer weights, group {g_}\n{inner} layer(s): attention + FFN\n"
            f"H={H_}, A={A_}, F={F_}\n{per_group:,} parameters", "tab:purple" if G_ > 1 else "plum", 7)
        for i in apps:
            ax.plot([4.4, 6.0], [i + 2.5, (top + bottom) / 2], color="grey", lw=0.8)


other = config.copy()
other.num_hidden_groups = min(3, L) if G == 1 else 1
if plt is not None:
    fig, axes = plt.subplots(1, 2, figsize=(13, 0.42 * (L + 4) + 1))
    draw_encoder(axes[0], config, f"this model: L = {L}, G = {G}")
    draw_encoder(axes[1], other, f"the same with G = {other.num_hidden_groups} (not a released checkpoint)")
    fig.tight_layout()
    show(fig, "05_groups_diagram.png")

# %% [markdown]
# ## How the state moves from layer to layer
#
# If the same function is applied again and again, what happens to the vector of
# each token? The ALBERT paper (Figure 2) looks at two numbers for every layer:
# the **L2 distance** between the layer's input and output, and their **cosine
# similarity** (1 means the same direction). We compute both per token and
# average over the tokens of our sentence. `hidden_states[i]` is the input of
# application i and `hidden_states[i + 1]` its output.

# %%
def transitions(states):
    """Per application i: mean over tokens of |out - in| and of cos(in, out)."""
    dist, cos = [], []
    for a, b in zip(states[:-1], states[1:]):
        a, b = a.reshape(-1, a.shape[-1]), b.reshape(-1, b.shape[-1])   # (B*T, H)
        dist.append(float(np.linalg.norm(b - a, axis=-1).mean()))
        cosine = np.sum(a * b, -1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))   # (B*T,)
        cos.append(float(cosine.mean()))
    return np.array(dist), np.array(cos)

dist, cos = transitions(ours)
# the same numbers for one application, written out directly, as a spot check
a, b = ours[0][0], ours[1][0]                                        # (T, H) input and output of layer 0
check("L2 distance, layer 0", dist[0], np.mean(np.sqrt(((b - a) ** 2).sum(-1))), atol=1e-4)
norms = [float(np.linalg.norm(h, axis=-1).mean()) for h in ours]     # mean |h| of each state
print("application   |input|   |output|   L2 distance   cosine similarity   (this checkpoint)")
for i in range(L):
    print(f"{i:11d}   {norms[i]:7.2f}   {norms[i + 1]:8.2f}   {dist[i]:11.3f}   {cos[i]:17.3f}")

# %% [markdown]
# Look at the lengths first. Every application ends with a LayerNorm, whose
# output has mean 0 and variance 1 over the H features before the learned scale
# and shift: its length *before* scale and shift is exactly sqrt(H) (up to eps),
# and after them roughly sqrt(H) times the typical size of the learned scale (the
# next cell prints that estimate beside the measured lengths). The input of the
# *first* application is different: it is the raw output of the E -> H linear
# map, with no LayerNorm after it, and its length is whatever that map produces.
# So the first L2 distance can hold a change of length as well as a turn
# (compare the `|input|` and `|output|` columns), while the later ones compare
# vectors of similar length. Which of the two dominates is measured below: the
# law of cosines splits each distance exactly into a length part and a turn
# part. The cosine similarity ignores length altogether, which is why the paper
# shows both.

# %%
w_ln = groups[-1]["albert_layers"][-1]["full_layer_layer_norm"]["weight"]
print(f"sqrt(H) = {np.sqrt(config.hidden_size):.2f};  sqrt(H) * rms(LayerNorm scale) = "
      f"{np.sqrt(config.hidden_size) * np.sqrt(np.mean(w_ln ** 2)):.2f}")
print(f"measured |output| of the applications: {np.array2string(np.array(norms[1:]), precision=2)}")
print(f"measured |input| of the first one (after the E -> H map): {norms[0]:.2f}")

# %% [markdown]
# For contrast, build a model of the same sizes in which every application has
# its own weights (G = L, BERT's arrangement), freshly initialised, and one with
# shared weights (G = 1), also freshly initialised. Neither has seen any data, so
# these curves say nothing about what training does; they show what the measures
# look like before any learning, which is the baseline the trained curve should
# be read against.

# %%
def random_model(G):
    cfg = config.copy()
    cfg.num_hidden_groups = G
    return AlbertModel(cfg, seed=0)

contrast, random_states = {}, {}
for G_, name in [(L, f"random, unshared (G={L})"), (1, "random, shared (G=1)")]:
    m = random_model(G_)
    random_states[name] = list(m(input_ids=ids, output_hidden_states=True).hidden_states)
    contrast[name] = transitions(random_states[name])
contrast["this checkpoint"] = (dist, cos)
for name, (d, c) in contrast.items():
    print(f"{name:26s} L2: {np.array2string(d, precision=2)}   cos: {np.array2string(c, precision=3)}")

# %% [markdown]
# How much of each distance is a change of *length*, and how much a change of
# *direction*? For one token with input a and output b, the law of cosines
# splits the squared distance exactly in two:
#
#     |b - a|^2 = (|b| - |a|)^2 + 2 |a| |b| (1 - cos(a, b))
#                 length part     turn part
#
# We compute both parts per token (in float64, so that the identity can be
# checked tightly), average them over the tokens, and print the share of the
# length part in each application's mean squared distance.
#
# For the random models we can say in advance what must come out. Fresh
# LayerNorms have weight 1 and bias 0, so every application's output has length
# sqrt(H) exactly (up to eps); the input of application i > 0 is the output of
# application i - 1, so the length part of every later application is 0, and
# the length part of the first is the mean of (sqrt(H) - |input|)^2 over the
# tokens. We check all three; they hold for any config, trained or not.

# %%
def length_and_turn(states):
    """Per application: mean over tokens of |b - a|^2, of (|b| - |a|)^2, of 2 |a||b| (1 - cos)."""
    rows = []
    for a, b in zip(states[:-1], states[1:]):
        a = a.reshape(-1, a.shape[-1]).astype(np.float64)                # (B*T, H)
        b = b.reshape(-1, b.shape[-1]).astype(np.float64)
        na, nb = np.linalg.norm(a, axis=-1), np.linalg.norm(b, axis=-1)   # (B*T,)
        cosine = np.sum(a * b, -1) / (na * nb)
        rows.append((np.mean(np.sum((b - a) ** 2, -1)), np.mean((nb - na) ** 2),
                     np.mean(2 * na * nb * (1 - cosine))))
    return np.array(rows).T                                           # 3 x (L,)


identity, random_facts = {}, {}
for name, states in [("this checkpoint", ours)] + list(random_states.items()):
    sq, length_part, turn_part = length_and_turn(states)
    identity[name] = (sq, length_part + turn_part)
    print(f"{name:26s} share of the length part: {np.array2string(length_part / sq, precision=3)}")
    if name.startswith("random"):
        lengths = np.stack([np.linalg.norm(h, axis=-1) for h in states[1:]])   # (L, B, T)
        random_facts[f"{name}: every output is sqrt(H) long"] = (
            lengths, np.full(lengths.shape, np.sqrt(config.hidden_size)))
        first_in = np.linalg.norm(states[0].astype(np.float64), axis=-1)       # (B, T)
        random_facts[f"{name}: first length part"] = (
            length_part[0], np.mean((np.sqrt(config.hidden_size) - first_in) ** 2))
        assert np.all(length_part[1:] <= 1e-4 * sq[1:]), length_part[1:] / sq[1:]
check_all("|b - a|^2 = length part + turn part", identity, atol=1e-9, rtol=1e-9)
check_all("random models, as predicted", random_facts, atol=1e-3, rtol=1e-4)
print("random models: the later length parts are 0 (to 1e-4 of the distance), as predicted")

# %% [markdown]
# What the rows show. In the random models, the later applications' distances
# are all turn: their input and output have the same length. Their first
# distance, by contrast, is the length change from the E -> H map's output to
# sqrt(H), plus a turn, and its printed length share says how much of it is
# length; that is a property of the architecture, before any training. For the
# checkpoint the same split tells you whether its first jump is mostly length
# (a share near 1) or also direction. With weights drawn with standard deviation
# `initializer_range`, the attention and feed-forward branches add only a little
# to the residual path, so a random layer mostly passes its input through; the
# random models' cosine similarities are the "no learning" baseline. Where the
# checkpoint's cosine similarity lies below that baseline, its layers turn the
# vectors more than random ones do, and that turning was learned. The paper
# reports that with shared weights the transitions are smoother than BERT's
# (trained, unshared) ones; you can look at a full-size model by setting
# `ALBERT_NP_MODEL=albert/albert-base-v2`.

# %%
if plt is not None:
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    x = np.arange(L)
    for name, (d, c) in contrast.items():
        style = "-o" if name == "this checkpoint" else "--."
        axes[0].plot(x, d, style, label=name)
        axes[1].plot(x, c, style, label=name)
    axes[0].set(xlabel="layer application", ylabel="mean L2 distance in -> out", title="L2 distance")
    axes[1].set(xlabel="layer application", ylabel="mean cosine(in, out)", title="Cosine similarity")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    show(fig, "05_layer_transitions.png")

# %% [markdown]
# ## What the model would predict after each application: a "logit lens"
#
# The masked-LM head (chapter 6 takes it apart) turns a final hidden vector into
# a score for every piece of the vocabulary. Nothing stops us from applying it
# to the state after *any* application: since every application maps H-vectors
# to H-vectors, the head can read them all. The head was trained only on the
# last state, so its reading of an earlier one is a rough look, not the model's
# answer; this trick is known as the *logit lens*. We mask one word and print
# the head's top three pieces (with their probabilities) after each
# application. Row 0 is the input of the first application (the E -> H map of
# the embeddings: the head sees only the `[MASK]` piece and its position there).
# The last row must be the model's own prediction, and we check that it is.

# %%
masked = "He drank a cup of [MASK] with milk."
enc = tokenizer(masked, return_tensors="np")
where = int(np.flatnonzero(enc["input_ids"][0] == tokenizer.mask_token_id)[0])
out = mlm(**enc, output_hidden_states=True)
head = mlm.params["predictions"]
act = activation(config.hidden_act)
lens = np.stack([mlm_head(h[0, where], head["dense"], head["LayerNorm"], head["decoder"], act,
                          config.layer_norm_eps) for h in out.hidden_states])   # (L + 1, V)
check("head on the last state vs the model's logits", lens[-1], out.logits[0, where], atol=1e-4)
probs = np.exp(lens - lens.max(-1, keepdims=True))
probs /= probs.sum(-1, keepdims=True)                                  # softmax over V, per application
final_top = int(np.argmax(lens[-1]))
print(f"{masked!r}: the model's answer is {tokenizer.convert_ids_to_tokens(final_top)!r}")
print("after application   top three pieces (probability)                    p(final answer)")
for i, p in enumerate(probs):
    top = np.argsort(-p)[:3]
    words = ", ".join(f"{tokenizer.convert_ids_to_tokens(int(t))} ({p[t]:.3f})" for t in top)
    print(f"{i:17d}   {words:50s}   {p[final_top]:.3f}")
settled = next(i for i in range(L + 1) if all(np.argmax(lens[j]) == final_top for j in range(i, L + 1)))
print(f"the top piece is the final answer from application {settled} on (of {L})")

# %% [markdown]
# Read the table from the top. The first rows cannot know the context yet, so
# their top pieces are whatever the head makes of a lone `[MASK]` at this
# position: common pieces and punctuation. As the applications mix in the
# other words, the guesses change; the last column follows the probability of
# the final answer, and the last line says from which application on the top
# piece no longer changes. On a trained checkpoint that is typically one of
# the later applications: the answer is assembled over the loop, not looked up
# at once. (On a model with random weights, the guesses are meaningless at
# every row.)

# %% [markdown]
# ## The same word in two senses
#
# The embedding table gives a piece one vector, whatever the sentence. After
# the encoder, the vector of that piece depends on its neighbours: it is a
# *contextual* embedding. The classic test is a word with two meanings. We take
# "bank" (of a river, and for money), first checking that the tokenizer keeps it
# as one piece (otherwise there is no single vector to follow), and four
# sentences in which "bank" stands at the same position, so that its input
# vectors (word + position + segment) are identical, and any difference comes
# from the context alone:
#
# * two different senses: river (A) and money (B);
# * two controls, the same sense in two different sentences: river (A, C) and
#   money (B, D).
#
# For each pair we follow the cosine similarity of the two "bank" vectors after
# each application.

# %%
WORD = "bank"
print(f"{WORD!r} tokenizes as {tokenizer.tokenize(WORD)}")
assert len(tokenizer.tokenize(WORD)) == 1, f"{WORD!r} is not one piece in this vocabulary: pick another word"
piece = tokenizer.tokenize(WORD)[0]
sentences = {"A (river)": "He sat on the bank of the river and watched the water.",
             "B (money)": "She went to the bank to deposit her money.",
             "C (river)": "We walked along the bank of the river after lunch.",
             "D (money)": "We borrowed from the bank to buy a house."}
vectors, positions = {}, {}
for name, sentence in sentences.items():
    e = tokenizer(sentence, return_tensors="np")
    pieces = tokenizer.convert_ids_to_tokens(e["input_ids"][0].tolist())
    positions[name] = pieces.index(piece)
    states = mlm(**e, output_hidden_states=True).hidden_states
    vectors[name] = np.stack([h[0, positions[name]] for h in states])   # (L + 1, H)
print("position of", repr(piece), "in each sentence:", positions)
assert len(set(positions.values())) == 1, "the four sentences must put the word at the same position"


def cosines(u, v):                                                     # (L + 1, H), (L + 1, H) -> (L + 1,)
    return np.sum(u * v, -1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1))


pairs = {"A-B  different senses": cosines(vectors["A (river)"], vectors["B (money)"]),
         "A-C  same sense, river": cosines(vectors["A (river)"], vectors["C (river)"]),
         "B-D  same sense, money": cosines(vectors["B (money)"], vectors["D (money)"])}
assert all(abs(c[0] - 1) < 1e-5 for c in pairs.values())             # the same input vector
print("after application " + "".join(f"{i:7d}" for i in range(L + 1)))
for name, c in pairs.items():
    print(f"{name:22s}   " + "".join(f"{x:7.3f}" for x in c))
last = {name: float(c[-1]) for name, c in pairs.items()}
lowest = min(last, key=last.get)
print(f"after the last application the least similar pair is {lowest!r} ({last[lowest]:.3f})")
if str(MODEL) == str(bundled_model()):                               # what the prose below says of it
    assert lowest.startswith("A-B"), last

# %%
if plt is not None:
    fig, ax = plt.subplots(figsize=(6.5, 3.5))
    for (name, c), style in zip(pairs.items(), ["-o", "--s", "--^"]):
        ax.plot(range(L + 1), c, style, label=name)
    ax.set(xlabel="after layer application (0 = the encoder's input)",
           ylabel=f"cosine of the two {WORD!r} vectors", title=f"Two uses of {WORD!r}, layer by layer")
    ax.legend(fontsize=8)
    fig.tight_layout()
    show(fig, "05_two_senses.png")

# %% [markdown]
# All three pairs start at exactly 1: the same piece at the same position has
# the same input vector. From there, each application mixes in the
# neighbouring words, and the vectors part. The question is whether they part
# *more* when the senses differ; the last printed line names the pair that
# ends up least similar. On the bundled model that is the pair of different
# senses (the chapter asserts it there), while each control pair stays closer
# together: the layers pull "bank" towards the river side or the money side. Two cautions when
# you read this on other checkpoints. A model with random weights also moves
# the vectors apart, since attention mixes neighbours whatever the weights; so
# only the *difference* between the pairs says something about meaning. And
# the controls share more than the sense: A and C both say "bank of the
# river", and shared neighbours alone make vectors alike. Try other sentences
# (the exercises do) before you trust one table.

# %% [markdown]
# ## Summary
#
# * `num_hidden_groups` G cuts the L applications into G runs, with the rule
#   `group = int(i / (L / G))`; `inner_group_num` puts several different layers
#   inside each group. `hidden_states` has one entry per application,
#   `attentions` one per layer run. Released checkpoints use G = 1, one layer.
# * Each application moves every token's vector; the L2 distance and the cosine
#   between its input and output measure by how much, and random models give
#   the baseline that training should be compared with.
# * The masked-LM head can read the state after any application (a logit lens):
#   the final answer is built over the applications.
# * After the encoder, the same piece has a different vector in every sentence:
#   a contextual embedding, whose similarity across two uses says how alike the
#   model finds the contexts.

# %% [markdown]
# ## Exercises
#
# 1. ★ Unroll the loop: build a config with `num_hidden_groups = L` and fill every
#    group with a *copy* of the single shared layer (`copy.deepcopy`). Check that
#    the outputs are unchanged. How many parameters does the unrolled model report
#    (`num_parameters()`)?
# 2. ★★ Apply the shared layer 3L times instead of L (same weights,
#    `num_hidden_layers = 3 * L`). Does the hidden state keep moving after the
#    trained depth, or settle?
# 3. ★★ Repeat the two-senses table for another word that is one piece in the
#    vocabulary and has two meanings, for example "bark" (of a tree, and of a
#    dog). Does the different-sense pair end up less similar than a same-sense
#    pair?
