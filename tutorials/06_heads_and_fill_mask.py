# %% [markdown]
# # Chapter 6: The heads, and how fill_mask picks a word
#
# The encoder turns T tokens into T vectors of size H. A *head* is the small
# network on top that turns those vectors into the numbers a task needs. ALBERT
# was pretrained with two heads (masked-language-model and sentence-order
# prediction), and fine-tuning adds others. In this chapter you will:
#
# 1. see a few sentences whose masked word the model gets right, with the
#    five guesses `albert_np.fill_mask` ranks highest and their scores;
# 2. see that the masked-LM head's output layer *is* the word-embedding table
#    (weight tying), compute the MLM logits by hand, and break the tie to see
#    what it is worth;
# 3. turn logits into the ranked guesses of `fill_mask`, check the scores it
#    prints, then look at a sentence the model gets wrong, and list the
#    sentences of a 75-sentence probe that it gets right;
# 4. see why the scores come out as they do: a softmax over the whole
#    vocabulary, the scale ("temperature") of the logits, and a per-word bias that
#    tracks how common each word is;
# 5. compute the four fine-tuning heads by hand: sequence classification (through
#    the pooler), token classification, question-answering spans and multiple
#    choice, each checked against its `AlbertFor...` class.
#
# We only compute the heads here; the encoder below them is the loop of
# chapter 4, and we take its output from the classes themselves.

# %% [markdown]
# **Which model.** This chapter runs on the bundled `albert-tiny-en`. To use another checkpoint, set `ALBERT_NP_MODEL` before `tutorial_utils` is imported: in a shell `ALBERT_NP_MODEL=/path/to/checkpoint python tutorials/06_heads_and_fill_mask.py`; in Jupyter run `%env ALBERT_NP_MODEL=/path/to/checkpoint` in a cell above the imports (the variable is read once, at import; changing it later has no effect until the kernel restarts).

# %%
from tutorial_utils import *

import albert_np
from albert_np import (AlbertForMaskedLM, AlbertForMultipleChoice, AlbertForQuestionAnswering,
                       AlbertForSequenceClassification, AlbertForTokenClassification, AlbertTokenizer)
from albert_np.ops import activation, softmax

model = AlbertForMaskedLM.from_pretrained(MODEL)
tokenizer = AlbertTokenizer.from_pretrained(MODEL)
config = model.config
V, E, H = config.vocab_size, config.embedding_size, config.hidden_size
print(model)

# %% [markdown]
# ## What the model gets right
#
# `albert_np.fill_mask` takes a sentence with a `[MASK]` and returns the pieces
# of the vocabulary that the model finds most likely there, each with a score (a
# probability). Below are some candidate sentences, Wikipedia-style and
# everyday ones, each with the word that belongs in the gap. The cell asks for
# the top 5 of each and keeps the sentences where the **first** guess is that
# word. It prints what it kept, so the list is always this checkpoint's own;
# on the bundled model it must keep at least four (asserted). An untrained
# checkpoint may keep none.

# %%
candidates = [                                                   # (sentence, the word in the gap)
    ("The church was built in the 12th [MASK].", "century"),
    ("Abraham Lincoln was elected President of the United [MASK] in 1860.", "states"),
    ("The Roman [MASK] fell in 476.", "empire"),
    ("The town has a population of about 5,000 [MASK].", "people"),
    ("The children are playing [MASK] the garden.", "in"),
    ("He wanted to [MASK] a doctor when he grew up.", "be"),
    ("She won a gold [MASK] at the Olympic Games.", "medal"),
    ("I drink a cup of [MASK] every morning.", "coffee"),
]
candidates = [(s.replace("[MASK]", tokenizer.mask_token), w) for s, w in candidates]
guesses = albert_np.fill_mask([s for s, _ in candidates], model=MODEL, top_k=5, progress=False)
kept = []                                                        # (sentence, word, top 5)
for (sentence, word), top5 in zip(candidates, guesses):
    if top5[0]["token_str"] == word:
        kept.append((sentence, word, top5))
print(f"top-1 right for {len(kept)} of {len(candidates)} candidate sentences:")
for sentence, word, top5 in kept:
    print(f"  {sentence}\n     " + "  ".join(f"{g['token_str']} {g['score']:.3f}" for g in top5))
if str(MODEL) == str(bundled_model()):
    assert len(kept) >= 4, f"the bundled model should get at least 4 of these right, got {len(kept)}"

# %% [markdown]
# For each kept sentence the model ranks the right word first, among all the
# pieces of its vocabulary, from the context alone. The score beside each guess
# is the softmax probability that `fill_mask` reports. How the model gets there,
# and where it fails, is the rest of the chapter.
#
# ## The masked-LM head, and its tied decoder
#
# The MLM head maps each H-vector back to a score for every one of the V
# vocabulary pieces, in four steps:
#
#     z = W_dense h + b_dense                   H -> E   (a dense layer)
#     z = act(z)                                E -> E   (the config's hidden_act)
#     z = LayerNorm(z)                          E -> E
#     logits = W_word z + b_vocab               E -> V   (the decoder)
#
# The last matrix has shape (V, E), the same shape as the word-embedding table
# that the input side uses to look tokens up. ALBERT (like BERT) uses *the same
# array* for both: the score of word w is the dot product of z with w's own
# input embedding, plus a per-word bias. This is called weight tying. In
# albert_np it is literally the same NumPy object:

# %%
pred = model.params["predictions"]
word_table = model.params["albert"]["embeddings"]["word_embeddings"]["weight"]
print("decoder.weight is word_embeddings.weight:", pred["decoder"]["weight"] is word_table)
print("decoder.bias   is predictions.bias:      ", pred["decoder"]["bias"] is pred["bias"])
assert pred["decoder"]["weight"] is word_table and pred["decoder"]["bias"] is pred["bias"]
print(f"shapes: dense {pred['dense']['weight'].shape}, decoder {word_table.shape}; "
      f"tying saves V*E = {V * E:,} numbers")

# %% [markdown]
# The picture shows the two uses of the table. On the left, the input side
# looks up one row per token; on the right, the head's decoder multiplies by
# the whole table to score every piece. The dashed link is not a copy: both are
# the array `word_table` above.

# %%
if plt is not None:
    fig, ax = plt.subplots(figsize=(9, 4.8))
    ax.set(xlim=(0, 1), ylim=(0, 1))
    ax.axis("off")

    def box(x, y, text, color):
        ax.text(x, y, text, ha="center", va="center", fontsize=8.5,
                bbox=dict(boxstyle="round,pad=0.45", fc=color, ec="black", lw=0.8))

    def half_height(text):                       # of a box, in axes units (about)
        return 0.025 + 0.028 * (text.count("\n") + 1)

    def arrow(xy_from, xy_to):
        ax.annotate("", xy=xy_to, xytext=xy_from, arrowprops=dict(arrowstyle="->"))

    table = "#f4c27a"
    left = [(0.88, "token ids  (T,)", "white"),
            (0.67, f"word_embeddings.weight  W  ({V}, {E})\nlookup: W[ids]  -> (T, {E})", table),
            (0.43, f"+ position and type vectors, LayerNorm,\nmapping {E} -> {H}, "
                   f"{config.num_hidden_layers} applications\nof the shared layer (chapters 2-4)", "#dde6f5"),
            (0.18, f"h: encoder output  (T, {H})", "white")]
    right = [(0.10, f"dense  {H} -> {E}\n(predictions.dense)", "#d9ecd0"),
             (0.28, f"act = {config.hidden_act}", "#d9ecd0"),
             (0.46, f"LayerNorm over {E}\n(predictions.LayerNorm)", "#d9ecd0"),
             (0.67, f"decoder  {E} -> {V}\nlogits = z W^T + predictions.bias", table),
             (0.88, f"logits  (T, {V}): a score per piece", "white")]
    for x, column, down in ((0.24, left, True), (0.76, right, False)):
        for (y0, t0, _), (y1, t1, _) in zip(column, column[1:]):
            sign = -1 if down else 1
            arrow((x, y0 + sign * half_height(t0)), (x, y1 - sign * half_height(t1)))
    arrow((0.37, 0.18), (0.63, 0.10))                # h goes into the head
    for y, text, color in left:
        box(0.24, y, text, color)
    for y, text, color in right:
        box(0.76, y, text, color)
    ax.annotate("", xy=(0.60, 0.67), xytext=(0.455, 0.67),
                arrowprops=dict(arrowstyle="<->", ls="--", color="tab:red", lw=1.5))
    ax.text(0.527, 0.71, "the same array\n(tied)", ha="center", va="bottom", fontsize=8, color="tab:red")
    ax.text(0.24, 0.99, "input side", ha="center", fontsize=10, weight="bold")
    ax.text(0.76, 0.99, "masked-LM head", ha="center", fontsize=10, weight="bold")
    show(fig, "06_tied_mlm_head.png")

# %% [markdown]
# Now the head by hand, on the first candidate sentence. We ask the model for its
# hidden states and take the last one (the encoder output), then write out the
# four steps. The activation is the config's `hidden_act` (ALBERT v2 uses the
# tanh form of GELU); the LayerNorm we write out in full.

# %%
text = candidates[0][0]                                          # "The church was built in the 12th [MASK]."
enc = tokenizer(text, return_tensors="np")
ids = enc["input_ids"]                                           # (1, T)
mask_pos = int(np.flatnonzero(ids[0] == tokenizer.mask_token_id)[0])
print(tokenizer.convert_ids_to_tokens(ids[0]), "| mask at", mask_pos)

out = model(**enc, output_hidden_states=True)
h = out.hidden_states[-1]                                        # (1, T, H)
act = activation(config.hidden_act)

z = h @ pred["dense"]["weight"].T + pred["dense"]["bias"]        # (1, T, H) -> (1, T, E)
z = act(z)
mu = z.mean(-1, keepdims=True)                                   # (1, T, 1)
var = ((z - mu) ** 2).mean(-1, keepdims=True)                    # (1, T, 1), biased, as torch
z = (z - mu) / np.sqrt(var + config.layer_norm_eps)              # zero mean, unit variance
z = z * pred["LayerNorm"]["weight"] + pred["LayerNorm"]["bias"]  # learned scale and shift
logits = z @ word_table.T + pred["bias"]                         # (1, T, E) -> (1, T, V)
check("MLM logits by hand", logits, out.logits, atol=1e-4, rtol=1e-4)

# %% [markdown]
# ### Break it: untie the decoder
#
# What is the tie worth? Give the decoder a matrix of its own: a copy of the
# model whose decoder weight is a fresh random (V, E) matrix, drawn with the
# same standard deviation as the word table, and everything else unchanged (the
# encoder, the head's dense layer and LayerNorm, the per-word bias). We compare
# the two on the candidate sentences: the top 5 at the first one's mask, and the
# MLM loss, the mean over the masks of -log(probability of the right word).
#
# **Predict before you run:** only the last matrix changes, and its numbers have
# the same size as before. Will the untied model guess a little worse, or no
# better than a model that has read nothing?

# %%
untied = AlbertForMaskedLM.from_pretrained(MODEL)
untied.params["predictions"]["decoder"]["weight"] = np.random.default_rng(0).normal(
    0, word_table.std(), word_table.shape).astype(word_table.dtype)      # (V, E), not tied to anything
assert untied.params["predictions"]["decoder"]["weight"] is not untied.params["albert"]["embeddings"][
    "word_embeddings"]["weight"]

answers_1 = [(s, tokenizer(w, add_special_tokens=False)["input_ids"]) for s, w in candidates]
answers_1 = [(s, i[0]) for s, i in answers_1 if len(i) == 1]      # one piece: can fill one mask
batch = tokenizer([s for s, _ in answers_1], padding=True, return_tensors="np")
mlm_labels = np.full_like(batch["input_ids"], -100)              # (B, T): -100 = no loss here
for row, (_, answer) in enumerate(answers_1):
    mlm_labels[row, batch["input_ids"][row] == tokenizer.mask_token_id] = answer
loss_tied = float(model(**batch, labels=mlm_labels).loss)
loss_untied = float(untied(**batch, labels=mlm_labels).loss)
for name, m in (("tied  ", model), ("untied", untied)):
    print(f"{name} top 5: " + "  ".join(f"{g['token_str']} {g['score']:.3f}"
                                        for g in albert_np.fill_mask(text, model=m, top_k=5)))
print(f"MLM loss on {len(answers_1)} masks: tied {loss_tied:.2f} nats, untied {loss_untied:.2f} "
      f"(a uniform guess: log V = {np.log(V):.2f})")
print(f"parameters: tied {model.num_parameters():,}, untied {untied.num_parameters():,} (V*E = {V * E:,} more)")
if str(MODEL) == str(bundled_model()):
    assert loss_untied > loss_tied + 2, (loss_tied, loss_untied)
    assert np.log(V) - loss_untied < loss_untied - loss_tied, "untied should be nearer a uniform guess"

# %% [markdown]
# On the bundled model the untied loss is more than 2 nats higher, closer to a
# uniform guess than to the tied model (both asserted), and the top 5 turns
# into unrelated pieces. The head was trained to turn h into a vector z that
# points towards the *input embedding* of the right word: z means something
# only in the coordinates of the word table. A random matrix scores each word
# by z · (a random vector), noise as large as the trained scores, and only the
# per-word bias still carries a little (how common each word is). An untied
# decoder is not worse in itself, once trained, but it is V*E more numbers to
# learn, and all of them learn from the output side alone.

# %% [markdown]
# ## From logits to fill_mask's answers
#
# `fill_mask` takes the logits at the mask position, applies a softmax over all V
# pieces, and reports the k most probable. By hand (subtracting the maximum
# before `exp` changes nothing mathematically but keeps `exp` from overflowing):

# %%
k = 5
l = logits[0, mask_pos]                                          # (V,)
p = np.exp(l - l.max())
p /= p.sum()                                                     # softmax over the vocabulary
top = np.argsort(-p)[:k]
for j in top:
    print(f"{p[j]:.6f}  {tokenizer.convert_ids_to_tokens(int(j))!r}")

answers = albert_np.fill_mask(text, model=MODEL, top_k=k)
print([(a["token_str"], round(a["score"], 6)) for a in answers])
check_all("softmax at the mask vs fill_mask", {
    "top-k scores": (np.sort(p)[::-1][:k], [a["score"] for a in answers]),
    "our p at fill_mask's tokens": (p[[a["token"] for a in answers]], [a["score"] for a in answers])},
    atol=1e-6)

# %% [markdown]
# The same guesses, and how they form: `albert_np.explain` applies this very
# MLM head to the hidden state after *every* layer application (a "logit lens"),
# so its table shows the answer forming application by application; its
# predictions are `fill_mask`'s own. In a notebook the page shows inline
# (`page.save("fill_mask.html")` writes it for a browser); click a token to
# follow it in the lens.

# %%
page = albert_np.explain(text, model=MODEL)
assert page.predictions == answers, "the page's predictions are fill_mask's"
print("the page's top-5:", [(a["token_str"], round(a["score"], 4)) for a in page.predictions])
page

# %% [markdown]
# ## What it gets wrong
#
# Now a sentence that a well-read model finds easy: "The capital of France is
# [MASK]." "Paris" is one piece of the vocabulary (the tokenizer lowercases it),
# so its rank is one plus the number of pieces the model scores higher. We
# count that from the logits, and confirm it with `fill_mask` itself: asked for
# exactly that many answers, its last one must be "paris".

# %%
failure = f"The capital of France is {tokenizer.mask_token}."
enc_f = tokenizer(failure, return_tensors="np")
pos_f = int(np.flatnonzero(enc_f["input_ids"][0] == tokenizer.mask_token_id)[0])
l_f = model(**enc_f).logits[0, pos_f]                            # (V,)
p_f = softmax(l_f)
print("top 5:", "  ".join(f"{g['token_str']} {g['score']:.3f}"
                          for g in albert_np.fill_mask(failure, model=MODEL, top_k=k)))
answer_ids = tokenizer("Paris", add_special_tokens=False)["input_ids"]
print("'Paris' is the piece(s):", tokenizer.convert_ids_to_tokens(answer_ids))
pid = answer_ids[0]                                              # its first (here only) piece
rank = 1 + int((p_f > p_f[pid]).sum())                           # pieces with a higher probability, + 1
print(f"{tokenizer.convert_ids_to_tokens(pid)!r} ranks {rank} of {V} with probability {p_f[pid]:.2e} "
      f"({p_f[pid] * V:.1f} x uniform; top-1 has {p_f.max():.2e})")
deep = albert_np.fill_mask(failure, model=MODEL, top_k=rank)
assert len(deep) == rank and deep[-1]["token"] == pid, "fill_mask's answer number `rank` should be it"
check("fill_mask's score for it", deep[-1]["score"], p_f[pid], atol=1e-6)
print(f"in fill_mask's top {k}: {'yes' if rank <= k else 'no'}; "
      f"{'above' if p_f[pid] > 1 / V else 'not above'} the uniform 1/V")
print(f"this model has {model.num_parameters():,} parameters")

# %% [markdown]
# The last lines say whether this checkpoint knows the answer, and how big it
# is. The sentences the bundled model got right at the start need a pattern
# that occurs again and again in its training text ("in the 12th century",
# "the United States"), or grammar. This one needs a *fact*: which city goes
# with which country. The bundled `albert-tiny-en` has about 3 million
# parameters (the count above, when it runs on it) and, at the time of writing,
# was pretrained on an extract of about 30,000 Wikipedia articles and 13 books
# (its model card, `albert_np/pretrained/albert-tiny-en/README.md`, lists the
# data). A model of
# that size, with that little reading, learns frequent patterns first and
# stores few facts; where it knows nothing specific it falls back on pieces that
# are frequent in such a slot. Facts come with many more parameters and much
# more text: run this cell with `ALBERT_NP_MODEL=albert/albert-base-v2` (12
# million parameters, trained on all of English Wikipedia and a large book
# corpus) to compare.

# %% [markdown]
# ## The cloze probe: which sentences does it get right?
#
# One sentence says little. The project's cloze probe
# (`tests/benchmarks/cloze_probe.tsv`) holds 75 plain English sentences written
# for it: 25 about grammar, 25 about everyday words and 25 facts. Each has its
# accepted answers, and none of them occurs in the pretraining corpus. We ask
# `fill_mask` for the top 5 of each. A sentence counts as a hit when an accepted
# answer is among them (compared as token ids). Answers that are not a single
# piece of this checkpoint's vocabulary cannot fill one mask, so we drop them;
# a sentence left with no answer stays in the probe as a miss. The benchmark
# script `cloze_probe.py` computes the same rates with its own code, and we
# check that the two counts agree.

# %%
HERE = os.path.dirname(os.path.abspath(__file__)) if "__file__" in globals() else os.getcwd()
PROBE = os.path.join(HERE, "..", "tests", "benchmarks", "cloze_probe.tsv")
probe = []                                                       # (category, sentence, {answer ids})
dropped = 0                                                      # answers that are not one piece here
with open(PROBE, encoding="utf-8") as f:
    for line in f:
        if line.strip() and not line.startswith("#"):
            category, sentence, answers = line.rstrip("\n").split("\t")
            ids = [tokenizer(a, add_special_tokens=False)["input_ids"] for a in answers.split("|")]
            single = {i[0] for i in ids if len(i) == 1}           # one piece: can fill one mask
            dropped += len(ids) - len(single)
            probe.append((category, sentence, single))           # no answer left: a miss
guesses = albert_np.fill_mask([s for _, s, _ in probe], model=MODEL, top_k=5, progress=False)
hits1, hits5 = [], []
for (category, sentence, answers), top5 in zip(probe, guesses):
    ranks = [r for r, g in enumerate(top5, 1) if g["token"] in answers]
    if ranks:
        hits5.append((category, sentence, ranks[0], [g["token_str"] for g in top5]))
    if ranks[:1] == [1]:
        hits1.append(sentence)
print(f"{len(probe)} sentences, {dropped} answers dropped; top-1 hits {len(hits1)} ({len(hits1) / len(probe):.1%}), "
      f"top-5 hits {len(hits5)} ({len(hits5) / len(probe):.1%})")
for category, sentence, rank, words in hits5:
    print(f"  [{category:8s}] {sentence:58s} rank {rank}: {' '.join(words)}")

# %% [markdown]
# The same hit counts from the benchmark script's own implementation. It drops
# the same answers (it accepts one piece that starts a word) and counts a
# sentence with none left as a miss, so the counts must agree on any vocabulary.

# %%
sys.path.insert(0, os.path.join(HERE, "..", "tests", "benchmarks"))
import cloze_probe                                               # noqa: E402

reference = cloze_probe.run_probe(MODEL, top_k=5)
check_all("hit counts vs cloze_probe.py", {
    "sentences": (len(probe), reference["overall"]["n"]),
    "answers dropped": (dropped, sum(len(words) for words in reference["dropped"].values())),
    "top-1 hits": (len(hits1), round(reference["overall"]["top1"] * reference["overall"]["n"])),
    "top-5 hits": (len(hits5), round(reference["overall"]["topk"] * reference["overall"]["n"]))},
    atol=0, rtol=0)

# %% [markdown]
# The list above is what this checkpoint knows. Look at which categories its
# hits come from: a model close to the early plateau of masked-LM training
# (chapter 11) gets grammar sentences whose answer is a frequent word ("to",
# "was", "of") before it gets everyday words or facts. The project's goal for
# its bundled model is a top-5 rate of 60 %; the model card
# (`albert_np/pretrained/albert-tiny-en/README.md`) says how far it is.

# %% [markdown]
# ## Why the scores look as they do
#
# **A softmax over V pieces.** Every one of the V vocabulary pieces gets some
# probability, so even a confident model spreads mass over thousands of
# alternatives. Useful yardsticks are the uniform value 1/V, and the *entropy*
# of the distribution compared with its largest possible value log V. The
# exponential of the entropy is an "effective number of candidates". We
# measure them at the two masks of this chapter: the first candidate sentence
# and the France sentence.

# %%
print(f"V = {V}; uniform probability 1/V = {1 / V:.2e}; log V = {np.log(V):.2f} nats")
for sentence, q in ((text, p), (failure, p_f)):
    entropy = float(-(q * np.log(q + 1e-30)).sum())
    print(f"{sentence}\n    top-1 probability {q.max():.2e} = {q.max() * V:,.1f} x uniform; "
          f"mass in the top {k} {np.sort(q)[::-1][:k].sum():.4f}; entropy {entropy:.2f} nats; "
          f"effective number of candidates exp(entropy) = {np.exp(entropy):,.0f}")

# %% [markdown]
# These numbers measure how peaked this checkpoint's guesses are: the closer the
# entropy is to log V, the closer the guess is to uniform. A model that knows the
# answer puts most of the mass on a few pieces; where it does not, the mass
# spreads out. Run the chapter with
# `ALBERT_NP_MODEL=albert/albert-base-v2` to set them beside a fully trained
# full-size model.
#
# **The scale of the logits.** Softmax only sees differences between logits, and
# it exaggerates them exponentially: a gap of d between two logits is a ratio of
# e^d between their probabilities. Dividing the logits by a *temperature* tau
# before the softmax shows how much the answer depends on that scale: tau < 1
# sharpens, tau > 1 flattens, and the ranking never changes.

# %%
def softmax_t(l, tau):
    q = np.exp((l - l.max()) / tau)
    return q / q.sum()

print(f"logits at the mask: std {l.std():.2f}, max - median {l.max() - np.median(l):.2f}")
entropies = []
for tau in (0.25, 0.5, 1.0, 2.0):
    q = softmax_t(l, tau)
    entropies.append(-(q * np.log(q + 1e-30)).sum())
    print(f"tau = {tau:4}: top-1 probability {q.max():.2e}, entropy {entropies[-1]:.2f} nats")

# %% [markdown]
# Two checks of what the temperature does. First, dividing the logits by tau is
# the same as raising the tau = 1 probabilities to the power 1/tau and
# renormalising (e^(l/tau) = (e^l)^(1/tau)): we compute it that way from `p` (in
# float64) and compare with `softmax_t`, and with the library's `ops.softmax`
# applied to `l / tau`. Second, a hotter softmax is flatter: the entropy must
# grow with tau (unless all logits were equal).

# %%
p64 = p.astype(np.float64)
pairs = {}
for tau in (0.5, 2.0):
    powered = p64 ** (1 / tau)
    pairs[f"tau = {tau}: p^(1/tau), renormalised"] = (softmax_t(l, tau), powered / powered.sum())
    pairs[f"tau = {tau}: ops.softmax(l / tau)"] = (softmax_t(l, tau), softmax(l / np.float32(tau)))
check_all("temperature", pairs, atol=1e-7)
assert np.all(np.diff(entropies) > 0), f"entropy should grow with the temperature: {entropies}"

if plt is not None:
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for tau in (0.25, 0.5, 1.0, 2.0):
        ax.plot(np.arange(1, 201), np.sort(softmax_t(l, tau))[::-1][:200], label=f"tau = {tau}")
    ax.axhline(1 / V, color="gray", ls=":", label="uniform 1/V")
    ax.set(xlabel="rank", ylabel="probability", yscale="log",
           title="Top 200 probabilities at the mask, by temperature")
    ax.legend(fontsize=8)
    show(fig, "06_temperature.png")

# %% [markdown]
# **A bias that tracks word frequency.** The decoder adds `predictions.bias`,
# one number per vocabulary piece, whatever the context. During pretraining the
# cheapest way to lower the loss before understanding anything is to guess
# common pieces more often, and this bias is where such a prior can live. We can
# test that on the checkpoint: the SentencePiece model stores, for every piece, a
# log-probability it estimated from raw text when the vocabulary was built. If
# the bias tracks frequency, the two should be rank-correlated.

# %%
bias = pred["bias"]
# (a constant bias, e.g. in an untrained model, has no ranking to compare)
has_scores = hasattr(tokenizer, "sp_model") and bias.std() > 0
if not has_scores:
    print("no piece scores, or a constant predictions.bias: nothing to correlate")
else:
    sp = tokenizer.sp_model
    piece_logp = np.array([sp.get_score(i) for i in range(V)])
    normal = piece_logp < 0                      # control / user-defined pieces have score 0
    def ranks(a):
        r = np.empty(len(a))
        r[np.argsort(a, kind="stable")] = np.arange(len(a))
        return r
    rho = np.corrcoef(ranks(bias[normal]), ranks(piece_logp[normal]))[0, 1]
    print(f"Spearman rank correlation of predictions.bias with the piece log-probability: {rho:.3f} "
          f"(over {normal.sum()} ordinary pieces)")

order = np.argsort(-bias)
print("largest bias: ", [tokenizer.convert_ids_to_tokens(int(j)) for j in order[:12]])
print("smallest bias:", [tokenizer.convert_ids_to_tokens(int(j)) for j in order[-6:]])

if plt is not None and has_scores:
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.scatter(piece_logp[normal], bias[normal], s=2, alpha=0.3)
    ax.set(xlabel="SentencePiece log-probability of the piece", ylabel="predictions.bias",
           title=f"MLM output bias vs piece frequency (Spearman {rho:.2f})")
    show(fig, "06_bias_vs_frequency.png")

# %% [markdown]
# How much of the decision at our mask comes from this context-free bias, and how
# much from the context (the dot product of z with each word's embedding)? Split
# the logits into the two parts and see what each alone would rank first.

# %%
context_part = l - bias                                          # z . word_embedding, per word
print(f"spread over the vocabulary: context part std {context_part.std():.2f}, bias std {bias.std():.2f}")
top_bias = set(np.argsort(-bias)[:k].tolist())
top_ctx = set(np.argsort(-context_part)[:k].tolist())
print(f"of the final top {k}: {len(top_bias & set(top.tolist()))} are in the bias-only top {k}, "
      f"{len(top_ctx & set(top.tolist()))} in the context-only top {k}")

# %% [markdown]
# The two standard deviations say which part moves the logits more in this
# checkpoint, and the overlaps say which part decided this particular answer.
# Without the context part, every mask in every sentence would get the same
# guesses: the pieces at the top of the bias list.
#
# ## The fine-tuning heads
#
# The other heads are single linear layers, on different inputs. A checkpoint
# from pretraining has none of them, so `from_pretrained(MODEL, num_labels=...)`
# creates them with fresh random weights (normal with standard deviation
# `initializer_range`, biases zero) and logs, as a warning, which weights it had
# to create and which checkpoint weights this class does not use.
# **These heads are untrained**: their outputs are noise until the model is
# fine-tuned. What we check here is only the arithmetic.
#
# A sentence pair is the input of the first two; question answering and
# multiple choice build inputs of their own shape.

# %%
first, second = "The cat sat on the mat.", "It was warm there."
pair = tokenizer(first, second, return_tensors="np")
print(tokenizer.convert_ids_to_tokens(pair["input_ids"][0]))
print("token_type_ids:", pair["token_type_ids"][0])

# %% [markdown]
# ### Sequence classification: the pooler
#
# One label for the whole input. ALBERT summarises the input by the vector of its
# first token, `[CLS]`, passed through the *pooler*, a linear layer with tanh:
# `pooled = tanh(W_p h_CLS + b_p)`, of size H. The pooler was trained with the
# sentence-order head during pretraining (if the checkpoint includes it). The
# classifier is then `logits = W_c pooled + b_c`, with num_labels outputs.
# (Dropout before the classifier is only active in training.)

# %%
clf = AlbertForSequenceClassification.from_pretrained(MODEL, num_labels=3)
W_c = clf.params["classifier"]["weight"]
print(f"classifier weight {W_c.shape}: std {W_c.std():.4f} (initializer_range "
      f"{config.initializer_range}), bias all zero: {not clf.params['classifier']['bias'].any()}")

res = clf(**pair, output_hidden_states=True)
h = res.hidden_states[-1]                                        # (1, T, H)
pooler = clf.params["albert"]["pooler"]
pooled = np.tanh(h[:, 0] @ pooler["weight"].T + pooler["bias"])  # (1, H): the [CLS] row only
seq_logits = pooled @ W_c.T + clf.params["classifier"]["bias"]   # (1, H) -> (1, 3)
check("sequence classification logits", seq_logits, res.logits)

# %% [markdown]
# ### Token classification
#
# One label per token (for example named-entity tags): the same linear layer
# applied to every token's vector, no pooler.

# %%
tagger = AlbertForTokenClassification.from_pretrained(MODEL, num_labels=5)
res = tagger(**pair, output_hidden_states=True)
h = res.hidden_states[-1]                                        # (1, T, H)
tok_logits = h @ tagger.params["classifier"]["weight"].T + tagger.params["classifier"]["bias"]  # (1, T, 5)
check("token classification logits", tok_logits, res.logits)

# %% [markdown]
# ### Question answering: a span
#
# Extractive QA marks the answer as a span of the context. The head is a linear
# layer with two outputs per token: a *start* score and an *end* score. The
# predicted span is the pair (s, e) with s <= e, both inside the context, that
# maximises start[s] + end[e] (adding logits is multiplying the two softmax
# probabilities, up to a constant). Usually e - s is also capped.
#
# Here the first text plays the question and the second the context.

# %%
qa = AlbertForQuestionAnswering.from_pretrained(MODEL)             # num_labels = 2: start, end
question, context = "Where did the cat sit?", "The cat sat on the mat because it was warm."
qa_in = tokenizer(question, context, return_tensors="np")
res = qa(**qa_in, output_hidden_states=True)
h = res.hidden_states[-1]                                        # (1, T, H)
se = h @ qa.params["qa_outputs"]["weight"].T + qa.params["qa_outputs"]["bias"]   # (1, T, 2)
start, end = se[..., 0], se[..., 1]                              # (1, T) each
check_all("question-answering head", {"start_logits": (start, res.start_logits),
                                      "end_logits": (end, res.end_logits)})

# the context tokens: segment 1, except the closing [SEP]
in_context = (qa_in["token_type_ids"][0] == 1) & (qa_in["input_ids"][0] != tokenizer.sep_token_id)
max_len = 10
T = start.shape[1]
score = start[0][:, None] + end[0][None, :]                      # (T, T): score[s, e]
s_idx, e_idx = np.indices((T, T))
allowed = (s_idx <= e_idx) & (e_idx < s_idx + max_len) & in_context[:, None] & in_context[None, :]
best = np.unravel_index(np.argmax(np.where(allowed, score, -np.inf)), score.shape)

# the same search as two plain loops, to check the vectorised version
brute = max(((start[0, s] + end[0, e], s, e) for s in range(T) for e in range(s, min(T, s + max_len))
             if in_context[s] and in_context[e]))
assert (brute[1], brute[2]) == tuple(int(i) for i in best)
s, e = int(best[0]), int(best[1])
print(f"best span: tokens {s}..{e} = {tokenizer.decode(qa_in['input_ids'][0][s:e + 1])!r} "
      f"(score {score[s, e]:.3f}; the head is untrained, so the span means nothing yet)")

# %% [markdown]
# ### Multiple choice: a (B, C, T) batch
#
# A multiple-choice example is a prompt with C candidate continuations. Each
# (prompt, choice) pair is encoded as its own sequence, so the input has shape
# (B, C, T). The model flattens it to B*C sequences, runs the encoder and the
# pooler on all of them, gives each one a *single* score with a linear layer of
# one output, and reshapes the B*C scores back to (B, C): a softmax over the C
# choices of each row then picks the answer.

# %%
mc = AlbertForMultipleChoice.from_pretrained(MODEL)
prompt = "The cat sat on the mat because"
choices = ["it was warm.", "the sky is a number.", "mats are for sitting on."]
C = len(choices)
mc_in = tokenizer([prompt] * C, choices, padding=True, return_tensors="np")   # (C, T) each
mc_in = {name: a[None] for name, a in mc_in.items()}             # (1, C, T): B = 1
print({name: a.shape for name, a in mc_in.items()})

res = mc(**mc_in, output_hidden_states=True)
h = res.hidden_states[-1]                                        # (B*C, T, H): already flattened
print("encoder output for the flattened batch:", h.shape)
pooler = mc.params["albert"]["pooler"]
pooled = np.tanh(h[:, 0] @ pooler["weight"].T + pooler["bias"]) # (B*C, H)
one_score = pooled @ mc.params["classifier"]["weight"].T + mc.params["classifier"]["bias"]   # (B*C, 1)
mc_logits = one_score.reshape(1, C)                              # (B*C, 1) -> (B, C)
check("multiple choice logits", mc_logits, res.logits)
print("choice probabilities (untrained head):", np.round(np.exp(mc_logits - mc_logits.max()) /
                                                        np.exp(mc_logits - mc_logits.max()).sum(), 3))

# %% [markdown]
# ## Summary
#
# * The MLM head is dense -> activation -> LayerNorm -> the word-embedding table
#   (tied) + a per-word bias; fill_mask is a softmax over V of its output at the
#   mask, then a sort.
# * The tie matters: the head learns to point at the input embedding of the
#   right word, and a decoder matrix it was not trained with turns its guesses
#   into noise.
# * A small model trained on little text gets frequent patterns and grammar
#   right before facts. The softmax spreads mass over all V pieces; how peaked
#   the guess is depends on the spread of the logits, and part of that spread
#   is a context-free prior held in `predictions.bias`.
# * The fine-tuning heads are one linear layer each: on the tanh pooler of
#   `[CLS]` (sequence classification, multiple choice with its (B, C, T) reshape),
#   on every token (token classification), or two scores per token (QA spans).

# %% [markdown]
# ## Exercises
#
# 1. ★ Set `predictions.bias` to zero and compare the top 8 of `fill_mask` for
#    two sentences. How much of the ranking came from the context-free bias?
# 2. ★ How many "effective candidates" (exp of the entropy) does the guess at the
#    mask of "The capital of France is [MASK]." have at temperatures 0.5, 1 and 2?
