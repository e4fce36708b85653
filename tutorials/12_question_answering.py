# %% [markdown]
# # Chapter 12: Question answering end to end
#
# Extractive question answering (QA) answers a question with a piece of a
# given text, the *context*: "Where was Super Bowl 50 held?" is answered by
# pointing at "Santa Clara, California" inside a paragraph. Chapter 6 showed the
# head: one linear layer giving every token a *start* score and an *end* score.
# This chapter does everything around the head, the way `albert_np.answer_question`
# (and transformers' question-answering pipeline) does it:
#
# 1. tokenise question and context as a pair, and cut a context that is too
#    long into overlapping *windows*;
# 2. map tokens back to characters of the context (the *offset mapping*);
# 3. search every window for the best span, with the "no answer" option, turn
#    the scores into probabilities, and merge the windows into one answer.
#
# Each step is checked against the library's own pipeline on the same inputs,
# and at the end we count how often the model answers right.
#
# **Which head.** The bundled model was only pretrained: it has no QA head. On
# it, this chapter loads `tutorials/assets/albert-tiny-en-squad`, the same model
# fine-tuned on SQuAD by `tutorials/assets/make_heads.py` (its README says how,
# and what it scores). Its training used only part of the SQuAD articles; the
# questions here come from an article it never saw. On any other checkpoint
# the chapter uses that checkpoint's own QA head, which is new and random unless
# the checkpoint was fine-tuned for QA: the code is the same, but the answers are
# then meaningless, and the chapter says so when it loads it.

# %% [markdown]
# **Which model.** This chapter runs on the bundled `albert-tiny-en`. To use another checkpoint, set `ALBERT_NP_MODEL` before `tutorial_utils` is imported: in a shell `ALBERT_NP_MODEL=/path/to/checkpoint python tutorials/12_question_answering.py`; in Jupyter run `%env ALBERT_NP_MODEL=/path/to/checkpoint` in a cell above the imports (the variable is read once, at import; changing it later has no effect until the kernel restarts).

# %%
from tutorial_utils import *

import os

import albert_np
from albert_np import AlbertForQuestionAnswering, AlbertTokenizerFast
from albert_np.training import datasets, features, metrics
from albert_np.tasks.base import split_rows
from albert_np.tasks.question_answering import QuestionAnsweringPipeline

HERE = os.path.dirname(os.path.abspath(__file__)) if "__file__" in globals() else os.getcwd()
ASSET, made, trained = fine_tuned_asset("albert-tiny-en-squad")   # assets/make_heads.py; made: its dev scores and article split
tok = AlbertTokenizerFast.from_pretrained(MODEL)
if trained:
    qa_model = AlbertForQuestionAnswering.from_pretrained(ASSET)
    print(f"QA head: {os.path.basename(ASSET)}, fine-tuned on {made['train_questions']} questions of "
          f"{len(made['train_articles'])} SQuAD articles; on the {made['dev_questions']} questions of the "
          f"{len(made['dev_articles'])} held-out articles: exact match {made['dev_scores']['exact_match']:.1f} %, "
          f"F1 {made['dev_scores']['f1']:.1f} %")
else:
    qa_model = AlbertForQuestionAnswering.from_pretrained(MODEL)  # a new qa_outputs layer is logged
    print(f"QA head: this checkpoint's own ({MODEL}). If the line above says qa_outputs was newly "
          f"initialised, the head is UNTRAINED (random) and its answers below mean nothing.")
pipe = QuestionAnsweringPipeline(qa_model, tok)                   # the library's pipeline: our reference

# %% [markdown]
# ## The data
#
# We take questions from the SQuAD v1.1 dev set in the shared data folder (or
# `ALBERT_NP_DATA`): the article "Warsaw", one of those `make_heads.py` held
# out of training. Each question comes with its paragraph and the gold
# answers, as text plus the character where they start. If the file is
# missing, a paragraph written for this tutorial takes its place.

# %%
DATA = os.environ.get("ALBERT_NP_DATA") or os.path.join(HERE, "..", "..", "shared", "data")
squad_file = os.path.join(DATA, "squad", "dev-v1.1.json")
ARTICLE = "Warsaw"
assert made is None or ARTICLE in made["dev_articles"], "the article must be one the QA head never trained on"
if os.path.isfile(squad_file):
    article = [e for e in datasets.read_squad(squad_file) if e["title"] == ARTICLE]
    examples = [article[i] for i in (16, 24, 120, 152)]           # questions on four paragraphs
else:
    ctx = ("The lighthouse on Gull Rock was built in 1871 by the harbour board. Its lamp burned "
           "whale oil until 1902, when a paraffin burner replaced it, and an electric lamp followed in "
           "1938. The keepers lived in two cottages behind the tower; the last of them left in 1989, "
           "when the light was automated and the cottages were sold to a walking club. Since then the "
           "club has opened the tower to visitors on summer weekends; the climb takes 112 steps, and on a "
           "clear day the view reaches the cliffs of the mainland, eleven miles to the east. A storm in "
           "2011 broke the lantern glass, which was replaced the following spring with help from a local "
           "glassworks.")
    article = examples = [
        {"id": str(k), "question": q, "context": ctx, "answers": {"text": [a], "answer_start": [ctx.index(a)]}}
        for k, (q, a) in enumerate((("When was the lighthouse built?", "1871"),
                                    ("What did the lamp burn first?", "whale oil"),
                                    ("Who bought the cottages?", "a walking club"),
                                    ("How many steps does the climb take?", "112")))]
    print("SQuAD not found: using the built-in paragraph")
ex = examples[0]
question, context = ex["question"], ex["context"]
print("Q:", question)
print("C:", context[:300], "...")
print("gold:", ex["answers"]["text"][0], "at character", ex["answers"]["answer_start"][0])

# %% [markdown]
# ## Question and context as a pair
#
# The model reads one sequence: `[CLS] question [SEP] context [SEP]`. The
# `token_type_ids` say which part each token belongs to: 0 for `[CLS]`, the
# question and the first `[SEP]`, 1 for the context and the last `[SEP]`. We
# tokenise the two texts separately and glue them by hand, then compare with
# the tokenizer's own pair encoding.

# %%
q_ids = tok(question, add_special_tokens=False)["input_ids"]
c_enc = tok(context, add_special_tokens=False, return_offsets_mapping=True)
c_ids, c_offsets, c_words = c_enc["input_ids"], c_enc["offset_mapping"], c_enc.word_ids()
CLS, SEP = tok.cls_token_id, tok.sep_token_id

ids = [CLS] + q_ids + [SEP] + c_ids + [SEP]
types = [0] * (len(q_ids) + 2) + [1] * (len(c_ids) + 1)
pair = tok(question, context)
check_all("pair by hand", {"input_ids": (ids, pair["input_ids"]),
                           "token_type_ids": (types, pair["token_type_ids"])})
max_seq_len = 96
print(f"question {len(q_ids)} tokens, context {len(c_ids)} tokens: {len(ids)} in all "
      f"({'more' if len(ids) > max_seq_len else 'no more'} than max_seq_len = {max_seq_len})")

# %% [markdown]
# ## Windows over a long context
#
# A real model takes up to 512 tokens (and the pipeline's default window is
# 384), but a SQuAD paragraph can be longer, so the pipeline never truncates the
# context: it cuts it into **windows**. Every window repeats the whole question;
# the context part of each holds at most
#
#     room = max_seq_len - len(question) - 3        (the 3 special tokens)
#
# tokens, and neighbouring windows share `doc_stride` tokens, so a window starts
# `room - doc_stride` tokens after the previous one. The overlap means that an
# answer cut in two by one window's edge lies whole inside the next (if it is
# shorter than the overlap). The default stride is max_seq_len // 2, at most
# 128, and always less than `room`.
# We use max_seq_len = 96 so that this paragraph needs several short windows.

# %%
def make_windows(q_ids, c_ids, max_seq_len, doc_stride=None):
    """(room, doc_stride, starts): where each window's context part begins, in context tokens."""
    room = max_seq_len - len(q_ids) - 3
    if doc_stride is None:
        doc_stride = min(max_seq_len // 2, 128, room - 1)
    starts = [0]
    while starts[-1] + room < len(c_ids):          # the last window reaches the end of the context
        starts.append(starts[-1] + room - doc_stride)
    return room, doc_stride, starts

room, stride, starts = make_windows(q_ids, c_ids, max_seq_len)
for w, s in enumerate(starts):
    stop = min(s + room, len(c_ids))
    print(f"window {w}: context tokens {s:3d}..{stop - 1:3d} = characters "
          f"{c_offsets[s][0]:4d}..{c_offsets[stop - 1][1]:4d}")
assert all(b - a == room - stride for a, b in zip(starts, starts[1:]))   # neighbours share `stride` tokens
assert starts[-1] + room >= len(c_ids)                                   # every token is in a window

# %% [markdown]
# The reference: the pipeline picks the stride in `_fit_question` (which also
# cuts questions longer than `max_question_len`), then asks the tokenizer for the
# windows (`return_overflowing_tokens`) with offsets, and splits the encoding
# into one dict per window with `split_rows`. We run exactly that and compare
# every window with ours. The window's input is our pair recipe applied to the
# window's slice of the context.

# %%
q_used, ref_stride = pipe._fit_question(question, 64, max_seq_len, None)
assert q_used == question and ref_stride == stride
enc = tok(question, context, truncation="only_second", max_length=max_seq_len, stride=stride,
          return_overflowing_tokens=True, return_offsets_mapping=True)
windows = split_rows(enc, len(enc["input_ids"]))
assert len(windows) == len(starts)
pairs = {}
for w, (s, window) in enumerate(zip(starts, windows)):
    piece = c_ids[s:s + room]
    pairs[f"window {w} input_ids"] = ([CLS] + q_ids + [SEP] + piece + [SEP], window["input_ids"])
    seq = [-1] + [0] * len(q_ids) + [-1] + [1] * len(piece) + [-1]           # -1: a special token
    pairs[f"window {w} sequence_ids"] = (seq, [-1 if x is None else x for x in window["sequence_ids"]])
check_all(f"{len(windows)} windows by hand", pairs)

# %% [markdown]
# ## Offsets: from tokens back to characters
#
# The model answers in token positions; the user wants characters of the
# context. The tokenizer records, for every token, the span `(a, b)` of the
# original text it came from, so `context[a:b]` is the token's text. Three
# things to notice:
#
# * the pieces are lowercased (ALBERT's tokenizer lowercases its input), but the
#   offsets point into the original text, so an answer keeps its capitals;
# * a lone `▁` piece (a word boundary before a symbol the vocabulary
#   spells separately) has an empty span, `a == b`;
# * inside a window, the offsets of context tokens still count from the start
#   of the *context*: window w's offsets are the context's offsets from token
#   `starts[w]` on.

# %%
for t in range(30, 38):
    a, b = c_offsets[t]
    print(f"token {t:3d} {tok.convert_ids_to_tokens(c_ids[t])!r:14} chars ({a:3d}, {b:3d}) -> {context[a:b]!r}")
check_all("context offsets of every window", {
    f"window {w}": ([tuple(o) for o in c_offsets[s:s + room]],
                    [o for o, q in zip(window["offsets"], window["sequence_ids"]) if q == 1])
    for w, (s, window) in enumerate(zip(starts, windows))})

# %% [markdown]
# Training needs the opposite direction: the gold answer is given in
# characters, and the labels are the token positions of its first and last
# token, in every window that holds the whole answer; windows that do not get
# the `[CLS]` position (0, 0), "no answer here". We find them from the offsets
# and compare with `albert_np.training.features.answer_token_span`, the function that
# labels SQuAD windows for fine-tuning.

# %%
a0 = ex["answers"]["answer_start"][0]
a1 = a0 + len(ex["answers"]["text"][0])
first = max(t for t, (a, b) in enumerate(c_offsets) if a <= a0)        # the token the answer starts in
last = min(t for t, (a, b) in enumerate(c_offsets) if b >= a1)         # the token it ends in
print(f"gold answer = context tokens {first}..{last}: {tok.decode(c_ids[first:last + 1])!r}")
shift = len(q_ids) + 2                                                 # [CLS] question [SEP]
for w, (s, window) in enumerate(zip(starts, windows)):
    inside = s <= first and last < s + room
    ours = (first - s + shift, last - s + shift) if inside else (0, 0)
    spans = [tuple(o) if q == 1 else None for o, q in zip(window["offsets"], window["sequence_ids"])]
    assert ours == features.answer_token_span(spans, ex["answers"]), (w, ours)
    print(f"window {w}: answer label {ours}")

# %%
if plt is not None:
    fig, ax = plt.subplots(figsize=(8, 2.2))
    for w, s in enumerate(starts):
        ax.barh(w, min(room, len(c_ids) - s), left=s, height=0.6, alpha=0.7)
    ax.axvspan(first - 0.5, last + 0.5, color="k", alpha=0.25, label="gold answer")
    ax.set(xlabel="context token", ylabel="window", yticks=range(len(starts)),
           title=f"{len(starts)} windows of {room} context tokens, stride {stride}")
    ax.invert_yaxis()
    ax.legend(loc="lower right", fontsize=8)
    show(fig, "12_windows.png")

# %% [markdown]
# ## Start and end scores
#
# Each window is one input of shape (1, T) and gives two score vectors,
# `start_logits` and `end_logits`, of shape (1, T). We run the windows one by
# one; the pipeline runs them as one padded batch, which must not change them.

# %%
def window_logits(window):
    out = qa_model(input_ids=np.array([window["input_ids"]]),
                   token_type_ids=np.array([window["token_type_ids"]]))
    return out.start_logits[0], out.end_logits[0]                 # (T,) and (T,)

logits = [window_logits(window) for window in windows]
check("start/end logits, all windows", np.concatenate([np.concatenate(l) for l in logits]),
      np.concatenate([np.concatenate(l) for l in pipe._span_logits(windows)]), atol=1e-4)

# %% [markdown]
# ## The best span in one window
#
# A span (s, e) may only use context tokens, with s <= e and at most
# `max_answer_len` tokens (15 by default). The score of a span is a product of
# two probabilities, as in transformers' pipeline:
#
# 1. every token that cannot be an answer (question, `[SEP]`, padding) gets the
#    logit -10000, so it ends up with probability 0; `[CLS]` stays in, as the
#    "no answer" slot;
# 2. a softmax over the window turns start logits into p_start and end logits
#    into p_end, of shape (T,) each;
# 3. the *null score* is p_start[CLS] * p_end[CLS]; then `[CLS]` is set to 0;
# 4. span (s, e) scores p_start[s] * p_end[e].
#
# The pipeline keeps each window's `2 * top_k + 10` best spans as candidates
# (12 for one answer): widening to whole words, below, can make different
# token spans into the same answer, so it keeps a few spare.

# %%
def softmax(x):
    z = np.exp(x - x.max())
    return z / z.sum()

def span_candidates(window, start_logits, end_logits, n_keep, max_answer_len=15):
    """Best spans of one window by hand: (starts, ends, scores, null score)."""
    context_tok = np.array([q == 1 for q in window["sequence_ids"]])   # (T,)
    allowed = context_tok.copy()
    allowed[0] = True                                                   # [CLS]: "no answer"
    p_start = softmax(np.where(allowed, start_logits, np.float32(-10000.0)))   # (T,)
    p_end = softmax(np.where(allowed, end_logits, np.float32(-10000.0)))       # (T,)
    null = float(p_start[0] * p_end[0])
    p_start[0] = p_end[0] = 0.0
    spans = [(p_start[s] * p_end[e], s, e) for s in np.flatnonzero(context_tok)
             for e in range(s, min(s + max_answer_len, len(allowed))) if context_tok[e]]
    spans.sort(key=lambda x: (-x[0], x[1], x[2]))            # best first; ties: earlier first
    best = spans[:n_keep]
    return (np.array([s for _, s, _ in best]), np.array([e for _, _, e in best]),
            np.array([p for p, _, _ in best]), null)

pairs = {}
for w, (window, (sl, el)) in enumerate(zip(windows, logits)):
    ours = span_candidates(window, sl, el, n_keep=12)
    ref = QuestionAnsweringPipeline.decode_spans(window, sl, el, 12, 15)
    pairs[f"window {w} candidate starts, ends"] = (np.stack(ours[:2]), np.stack(ref[:2]))
    pairs[f"window {w} candidate scores"] = (ours[2], ref[2])
    pairs[f"window {w} null score"] = (ours[3], ref[3])
check_all("span search by hand", pairs, atol=1e-7)

# %% [markdown]
# Here are the two distributions for the window that holds the whole gold
# answer, with the best span and the gold span marked.
#
# **Predict before you run:** with a trained head, how many tokens would you
# expect to get most of the start probability? With a random one?

# %%
w = next(k for k, s0 in enumerate(starts) if s0 <= first and last < s0 + room)   # holds the gold answer
sl, el = logits[w]
s_best, e_best = span_candidates(windows[w], sl, el, 1)[:2]
keep = np.array([q == 1 or i == 0 for i, q in enumerate(windows[w]["sequence_ids"])])
ps = softmax(np.where(keep, sl, np.float32(-10000.0)))                # (T,)
pe = softmax(np.where(keep, el, np.float32(-10000.0)))                # (T,)
gold_s, gold_e = first - starts[w] + shift, last - starts[w] + shift   # gold, as positions in the window
best_text = tok.decode(windows[w]["input_ids"][s_best[0]:e_best[0] + 1])
print(f"window {w}: best span {s_best[0]}..{e_best[0]} {best_text!r}; gold span {gold_s}..{gold_e} "
      f"{tok.decode(windows[w]['input_ids'][gold_s:gold_e + 1])!r}")
print(f"largest p_start {ps.max():.3f}, largest p_end {pe.max():.3f}; spread evenly over the "
      f"{keep.sum()} allowed tokens each would be {1 / keep.sum():.3f}; "
      f"the 3 most likely starts hold {np.sort(ps)[-3:].sum():.0%} of p_start")
if plt is not None:
    fig, ax = plt.subplots(figsize=(9, 2.8))
    x = np.arange(len(sl))
    ax.bar(x - 0.2, ps, width=0.4, label="p_start")
    ax.bar(x + 0.2, pe, width=0.4, label="p_end")
    ax.axvspan(s_best[0] - 0.5, e_best[0] + 0.5, color="k", alpha=0.15, label="best span")
    ax.axvspan(gold_s - 0.5, gold_e + 0.5, color="g", alpha=0.25, label="gold span")
    ax.axvspan(0.5, len(q_ids) + 1.5, color="r", alpha=0.08, label="question: excluded")
    ax.set(xlabel=f"token position in window {w}", ylabel="probability",
           title="Start and end probabilities " + ("(fine-tuned head)" if trained else "(this checkpoint's head)"))
    ax.set_ylim(0, 1.3 * max(ps.max(), pe.max()))
    ax.legend(fontsize=8, ncol=4, loc="upper left")
    show(fig, "12_start_end_scores.png")

# %% [markdown]
# The printed line says how peaked the two distributions are. A random head has
# no preference, so its probabilities stay near the even share; a trained head
# puts most of each on a few tokens, ideally the first and last token of the
# answer, and the picture shows whether they are the gold ones here.
#
# ## From spans to one answer
#
# What remains turns token spans into text, and the windows into one list:
#
# * **word alignment**: a span is widened to whole words of the context
#   (the tokenizer's `word_ids`: whitespace-separated words), from the first
#   character of its first word to the last character of its last word;
# * **merging**: the same answer text found again (in another window, or as
#   another token span; compared without case) adds its score to the first one;
# * **the null answer**: with `handle_impossible_answer=True`, the empty answer
#   "" joins the list, scored with the smallest null score over the windows;
# * the list is sorted by score and cut to `top_k`.
#
# The words are the same in every window, so we compute their spans once,
# from the tokenised context.

# %%
def word_char_spans(offsets, words):
    """{word index: (first character, last character + 1)}, from its pieces' offsets."""
    spans = {}
    for (a, b), word in zip(offsets, words):
        lo, hi = spans.get(word, (a, b))
        spans[word] = (min(lo, a), max(hi, b))
    return spans

word_spans = word_char_spans(c_offsets, c_words)
assert word_spans == QuestionAnsweringPipeline.word_spans([(window, None, None) for window in windows])

def answer_by_hand(question, context, max_seq_len, top_k=1, handle_impossible_answer=False):
    q_ids = tok(question, add_special_tokens=False)["input_ids"]
    c = tok(context, add_special_tokens=False, return_offsets_mapping=True)
    words = c.word_ids()
    spans = word_char_spans(c["offset_mapping"], words)
    room, _, starts = make_windows(q_ids, c["input_ids"], max_seq_len)
    shift = len(q_ids) + 2
    answers, null = [], np.inf
    for s0 in starts:
        piece = c["input_ids"][s0:s0 + room]
        window = {"input_ids": [CLS] + q_ids + [SEP] + piece + [SEP],
                  "token_type_ids": [0] * shift + [1] * (len(piece) + 1),
                  "sequence_ids": [None] + [0] * len(q_ids) + [None] + [1] * len(piece) + [None]}
        st, en, sc, window_null = span_candidates(window, *window_logits(window), n_keep=2 * top_k + 10)
        null = min(null, window_null)
        for s, e, score in zip(st, en, sc):
            begin, end = spans[words[s0 + s - shift]][0], spans[words[s0 + e - shift]][1]
            text = context[begin:end]
            same = [a for a in answers if a["answer"].lower() == text.lower()]
            if same:
                same[0]["score"] += float(score)
            else:
                answers.append({"score": float(score), "start": begin, "end": end, "answer": text})
    if handle_impossible_answer:
        answers.append({"score": null, "start": 0, "end": 0, "answer": ""})
    return sorted(answers, key=lambda a: a["score"], reverse=True)[:top_k]

# %% [markdown]
# Now the whole chain against `albert_np.answer_question`, for several SQuAD
# questions and three window sizes (64 gives many windows, 384 one).

# %%
def compare(ours, theirs):
    """The same answers, starts and ends (asserted); returns (our scores, theirs) for check_all."""
    theirs = theirs if isinstance(theirs, list) else [theirs]
    assert [(a["answer"], a["start"], a["end"]) for a in ours] == \
        [(a["answer"], a["start"], a["end"]) for a in theirs], (ours, theirs)
    return [a["score"] for a in ours], [a["score"] for a in theirs]

pairs = {}
for i, ex_i in enumerate(examples):
    for msl in (64, 96, 384):
        n_windows = len(make_windows(tok(ex_i["question"], add_special_tokens=False)["input_ids"],
                                     tok(ex_i["context"], add_special_tokens=False)["input_ids"], msl)[2])
        ours = answer_by_hand(ex_i["question"], ex_i["context"], msl)
        theirs = albert_np.answer_question(ex_i["question"], ex_i["context"], model=qa_model,
                                           tokenizer=tok, max_seq_len=msl)
        pairs[f"q{i}, max_seq_len {msl}: {n_windows} window(s)"] = compare(ours, theirs)
        assert ex_i["context"][theirs["start"]:theirs["end"]] == theirs["answer"]
    print(f"Q: {ex_i['question']}\n   answer {theirs['answer']!r} "
          f"(score {theirs['score']:.4f}); gold {ex_i['answers']['text'][0]!r}")
check_all(f"answers by hand, {len(examples)} questions x 3 window sizes", pairs, atol=1e-6)

# %% [markdown]
# The null answer is scored p_start[CLS] * p_end[CLS]: about 1/T^2 for a flat
# head, and whatever the training made of `[CLS]` for a fine-tuned one (here it
# was the label of windows that do not hold the answer). To see where it ranks,
# we ask for every answer to the last question (a `top_k` larger than the number
# of spans), with the null answer offered, and compare the two lists answer by
# answer.
#
# One thing shows up at the end of the library's list: once `top_k` asks for
# more candidates than there are valid spans, the rest are filled with spans
# of score 0 (the search sorts all T x T pairs, and zeroed pairs can still
# pass its context test), some reversed or cut mid-word. transformers 4.x's
# pipeline does the same when `top_k` is that large. They carry no information,
# so we compare the answers with a positive score.

# %%
q_last, c_last = examples[-1]["question"], examples[-1]["context"]
everything = dict(top_k=5000, handle_impossible_answer=True)
ours = [a for a in answer_by_hand(q_last, c_last, 96, **everything) if a["score"] > 0]
theirs = albert_np.answer_question(q_last, c_last, model=qa_model, tokenizer=tok, max_seq_len=96, **everything)
positive = [a for a in theirs if a["score"] > 0]
by_text = {a["answer"]: a for a in positive}
assert sorted(a["answer"] for a in ours) == sorted(by_text), "not the same answers"
check_all(f"every answer with a positive score ({len(positive)})",
          {"top 3": compare(ours[:3], positive[:3]),
           "all, matched by text": compare(ours, [by_text[a["answer"]] for a in ours])}, atol=1e-6)
rank = [a["answer"] for a in positive].index("")
print(f"the null answer ranks {rank + 1} of {len(positive)}, score {positive[rank]['score']:.2e}; "
      f"{len(theirs) - len(positive)} score-0 fillers follow")
print("the top 3:", [(a["answer"], round(a["score"], 4)) for a in positive[:3]])

# %% [markdown]
# The answers match the library's to the character and the scores to float32
# rounding. The top three printed above show what the scores look like after
# merging: a span's own p_start * p_end, plus that of every other token span
# that widens to the same text.
#
# ## Right and wrong answers
#
# Is the reader any good? We ask it every second question of the held-out
# article (only three on a checkpoint whose head is not the fine-tuned one:
# their answers carry no information), in windows of the size it was trained
# with (256 tokens; 384, the pipeline's default, otherwise), and score each
# answer the way SQuAD does (`albert_np.training.metrics`): *exact match* after
# normalising (lower case, no punctuation, no "a"/"an"/"the"), and *F1*, the
# overlap of answer and gold words; a question has several gold answers and
# counts its best match.
#
# **Predict before you run:** how many of these questions will a model of this
# size, fine-tuned briefly on a few thousand questions (its README says how),
# answer exactly right? One in ten? Half?

# %%
graded = []
msl = made["settings"]["max_length"] if trained else 384                # the training window
for q in (article[::2] if trained else article[:3]):                 # an untrained head: a few suffice
    got = albert_np.answer_question(q["question"], q["context"], model=qa_model, tokenizer=tok, max_seq_len=msl)
    graded.append({"q": q["question"], "answer": got["answer"], "score": got["score"],
                   "gold": q["answers"]["text"], "em": metrics.exact_match(got["answer"], q["answers"]["text"]),
                   "f1": metrics.squad_f1(got["answer"], q["answers"]["text"])})
right = [g for g in graded if g["em"]]
wrong = sorted((g for g in graded if not g["em"]), key=lambda g: -g["score"])
print(f"{len(graded)} questions, max_seq_len {msl}: {len(right)} exactly right, "
      f"mean F1 {100 * np.mean([g['f1'] for g in graded]):.1f} %")
if trained:
    print(f"(make_heads.py on all {made['dev_questions']} questions of the {len(made['dev_articles'])} held-out "
          f"articles: exact match {made['dev_scores']['exact_match']:.1f} %, "
          f"F1 {made['dev_scores']['f1']:.1f} %)")
print("\nRight:" if right else "\nRight: none")
for g in right[:4]:
    print(f"  {g['q']}\n     -> {g['answer']!r} (score {g['score']:.3f})")
print("Wrong, the most confident first:")
for g in wrong[:5]:
    print(f"  {g['q']}\n     -> {g['answer']!r} (score {g['score']:.3f}, F1 {g['f1']:.2f}); gold {g['gold'][0]!r}")
if not trained:
    print("(this checkpoint's QA head may be untrained: then any right answer is luck)")

# %%
if plt is not None:
    fig, ax = plt.subplots(figsize=(6, 2.6))
    sc = np.array([g["score"] for g in graded])
    ok = np.array([bool(g["em"]) for g in graded])
    bins = np.linspace(0, max(sc.max(), 1e-6), 11)
    ax.hist([sc[ok], sc[~ok]], bins=bins, stacked=True, label=["exactly right", "wrong"], color=["g", "r"])
    ax.set(xlabel="score of the best answer", ylabel="questions",
           title="Does the score tell right from wrong?")
    ax.legend(fontsize=8)
    show(fig, "12_right_and_wrong.png")
mean_sc = lambda gs: np.mean([g["score"] for g in gs]) if gs else float("nan")
print(f"mean score: right answers {mean_sc(right):.3f}, wrong ones {mean_sc(wrong):.3f}; "
      f"{sum(g['f1'] > 0 for g in wrong)} of the {len(wrong)} wrong answers share a word with a gold answer")

# %% [markdown]
# The picture stacks the questions by the score of their best answer, green for
# exactly right and red for wrong; the line under it gives the mean score of
# each group. Where the green bars sit to the right of the red ones, the score is
# a usable confidence: an application could answer only above some score and
# say "I don't know" below it. A wrong answer with a partial F1 (counted in
# the same line) overlaps a gold answer but starts or ends a word or more off:
# exact match counts it as wrong, F1 gives it part credit.
#
# ## Summary
#
# * A question and its context are one pair input; a long context becomes
#   windows of `room` context tokens, `doc_stride` of them shared by neighbours.
# * Offsets map every token to characters of the original context, in every
#   window; word ids widen an answer to whole words.
# * A window's score of span (s, e) is p_start(s) * p_end(e), the softmaxes taken
#   over the context tokens and `[CLS]`; `[CLS]` gives the null score.
# * Windows are merged by text: repeated answers add their scores, and the best
#   `top_k` win.
# * Exact match and F1 grade a reader against the gold answers; the tiny head,
#   fine-tuned briefly, gets a few held-out questions exactly right and a few
#   more in part (the counts are printed above).

# %% [markdown]
# ## Exercises
#
# 1. ★ How many 128-token windows does a context of 60 short sentences (about
#    600 tokens) need with strides (shared tokens) of 16, 64 and 100? Run
#    `answer_question` on it.
# 2. ★★ Ask the fine-tuned reader (`tutorials/assets/albert-tiny-en-squad`) a
#    question that its context cannot answer, with `handle_impossible_answer=True`
#    and `top_k=3`. Does the empty answer win, and how do the scores compare with
#    those for a question the context does answer?
# 3. ★★ Score the fine-tuned reader on every fourth question of the held-out
#    article "Warsaw" with `max_seq_len` 128, 256 and 384. How do exact match and
#    F1 change, and why might they?
