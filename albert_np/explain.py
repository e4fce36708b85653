"""explain: one self-contained, interactive HTML page of a forward pass ("see inside ALBERT").

    page = albert_np.explain("The capital of France is [MASK].")   # the bundled model
    page.save("capital.html")       # one file: opens from file:// offline; or show `page` in a notebook
    python -m albert_np explain "The capital of France is [MASK]." --out capital.html

The page has six parts: a header (model, config, parameter count), the tokens,
the attention (head view and model view), the shared layer at work (how much
each application changes each token), the logit lens and the predictions.

Where the numbers come from: one call of the library's forward,
model.albert_model(..., output_attentions=True, output_hidden_states=True), and
the model's own masked-LM head, tasks.fill_mask.mlm_probs (model.mlm_head, then
a softmax). The logit lens applies that head to the hidden state after every
layer application; the predictions are the last hidden state at the masks put
through fill_mask's own post-processing, so they equal `fill_mask(text)`.

The page is a template (explain_page.html, .css, .js beside this file: vanilla
JavaScript drawing on canvas, no network, no build step) with the data embedded
as JSON. Attention weights are stored in 8 bits; when all of them would not fit
in ATTENTION_BYTES (long texts on big models), each row keeps its K largest
weights and the model view gets block-averaged thumbnails. The page says what
was kept and how precise each number is.

Dimension legend: T tokens, H hidden_size, A heads, L layer applications,
R attention runs (L * inner_group_num), V vocab, K weights kept per row,
S thumbnail size, k top pieces per depth.
"""
import base64
import errno
import html
import itertools
import json
import logging
import os
import re
from typing import Optional

import numpy as np

from .inputs import check_inputs
from .io import atomic_write_text
from .model import albert_model
from .tasks.base import check_flag, check_top_k, encoder_params, max_input_length, split_rows
from .tasks.fill_mask import FillMaskPipeline, mlm_probs, top_k_fillers, top_k_rows
from .tasks.loading import DEFAULT_MODEL, TASK_SPECS, ModelArg, TokenizerArg, checkpoint_tensors, resolve
from .tokenization.encoding import check_str

logger = logging.getLogger(__name__)

FORMAT = "albert_np.explain/1"
ATTENTION_BYTES = 6_000_000   # 8-bit attention weights kept in full up to this many; above, top-K per row
THUMBNAIL_SIZE = 64           # the model view's thumbnails, S x S blocks, when rows are cut to top-K
LENS_TOP_K = 5                # pieces per depth in the logit lens
STATIC_MAX_TOKENS = 64        # tokens drawn in the static preview's head view
PAGE_DIR = os.path.dirname(os.path.abspath(__file__))
PAGE_FILES = {"HTML": "explain_page.html", "CSS": "explain_page.css", "JS": "explain_page.js"}
MLM_CLASSES = TASK_SPECS["fill-mask"].accepts          # the models with a masked-LM head
MLM_WEIGHT = TASK_SPECS["fill-mask"].head_keys[0]      # "predictions.dense.weight"


# %% The result ----------------------------------------------------------------------------------

class Explanation:
    """The page of one forward pass: `.save(path)`, `.html`, `.data`; a notebook shows it inline.

    data: the JSON-able dict embedded in the page (see explain); html: the page itself.
    In a notebook, `_repr_html_` gives a static preview (the default head view and the
    predictions, drawn without scripts) that a script replaces with the interactive page.
    """

    _ids = itertools.count(1)

    def __init__(self, data):
        self.data = data
        self._html = None

    @property
    def html(self):
        """The self-contained HTML page (str)."""
        if self._html is None:
            self._html = render_page(self.data)
        return self._html

    @property
    def predictions(self):
        """fill_mask's result for the text shown (None without masks or without an MLM head)."""
        p = self.data["predictions"]
        if p is None:
            return None
        return p[0]["fills"] if len(p) == 1 else [m["fills"] for m in p]

    def save(self, path):
        """Write the page to `path` (atomically) and return the path."""
        path = os.fspath(path)
        if os.path.isdir(path):
            raise IsADirectoryError(errno.EISDIR, "is a folder: give a file name such as explain.html in it", path)
        atomic_write_text(path, self.html)
        return path

    def _repr_html_(self):
        return notebook_html(self.data, self.html, f"albert-np-explain-{next(self._ids)}")

    def __repr__(self):
        d = self.data
        return (f"Explanation({d['text']!r:.60}, model={d['model']['name']!r}, tokens={len(d['tokens']['ids'])}, "
                f"{len(self.html) / 1e6:.2f} MB)")


# %% Loading and tokenising ----------------------------------------------------------------------

def load(model=None, tokenizer=None, *, revision=None, local_files_only=False):
    """(model, tokenizer): the checkpoint with its masked-LM head when it has one, else its own class.

    model: None (the bundled model, as fill_mask), a Hub id, a folder or a loaded model. A
    checkpoint whose tensors lack the MLM head (e.g. a fine-tuned classifier) loads as the
    class its config.json names, and the page shows everything but the lens and predictions.
    """
    kw = dict(revision=revision, local_files_only=local_files_only)
    task = "feature-extraction"                 # any ALBERT: the class config.architectures names
    if model is None or isinstance(model, MLM_CLASSES):
        task = "fill-mask"
    elif isinstance(model, (str, os.PathLike)):
        tensors = checkpoint_tensors(model, **kw)
        if not tensors or MLM_WEIGHT in tensors:   # unreadable headers: let fill-mask's loader decide
            task = "fill-mask"
    return resolve(task, model, tokenizer, **kw)


def tokenize(tok, text, pair, max_length, truncation):
    """(row, cut): the row dict the forward reads, and what was cut (None when nothing was).

    row: input_ids, token_type_ids, offsets, sequence_ids, word_ids lists (T,).
    A text longer than max_length tokens is cut to max_length (the tokenizer's
    longest-first rule for a pair) with a logged warning, or refused (truncation=False).
    """
    row = split_rows(tok([text], None if pair is None else [pair], return_offsets_mapping=True), 1)[0]
    for s, (name, value) in enumerate((("text", text), ("pair", pair))):
        if value is not None and s not in row["sequence_ids"]:
            raise ValueError(f"{name} {value!r:.80} gives no token (it holds only characters the tokenizer "
                             f"drops): give a text with words in it")
    n = len(row["input_ids"])
    if n <= max_length:
        return row, None
    if not truncation:
        raise ValueError(f"the text has {n} tokens, more than the {max_length} this model reads "
                         f"(max_position_embeddings): shorten it, or pass truncation=True to cut it "
                         f"(the page then says what was cut)")
    cut_row = split_rows(tok([text], None if pair is None else [pair], truncation=True, max_length=max_length,
                             return_offsets_mapping=True), 1)[0]
    return cut_row, describe_cut(row, cut_row, text, pair, max_length, tok.mask_token_id)


def describe_cut(row, cut_row, text, pair, max_length, mask_id):
    """What truncation removed: per text the tokens cut and the character where the cut starts,
    and how many masks went with them."""
    parts, cuts = [], []
    for s, (name, value) in enumerate((("text", text), ("second text", pair))):
        if value is None:
            continue
        full = [o for o, q in zip(row["offsets"], row["sequence_ids"]) if q == s]
        kept = sum(q == s for q in cut_row["sequence_ids"])
        if kept < len(full):
            start = full[kept][0]
            cuts.append({"sequence": s, "tokens": len(full) - kept, "kept": kept, "from_char": int(start)})
            parts.append(f"the last {len(full) - kept} tokens of the {name} (from character {start}: "
                         f"{value[start:start + 40]!r}...)")
    masks_cut = list(row["input_ids"]).count(mask_id) - list(cut_row["input_ids"]).count(mask_id)
    message = (f"The input has {len(row['input_ids'])} tokens, more than the {max_length} this model reads "
               f"(max_position_embeddings), so this page shows the first {max_length}: "
               + " and ".join(parts) + " were cut" + (f", with {masks_cut} mask(s)" if masks_cut else "")
               + ". Every view, the predictions included, is of the cut input.")
    logger.warning("explain: %s", message)
    return {"tokens": len(row["input_ids"]), "kept": max_length, "cuts": cuts, "masks_cut": masks_cut,
            "message": message}


# %% The forward and what is read from it --------------------------------------------------------

def forward(model, row):
    """The library's one forward on one row, with every attention and hidden state.

    Returns model.albert_model's dict: attentions R x (1, A, T, T), hidden_states
    (L + 1) x (1, T, H) (the mapped-in embeddings, then each application's output).
    """
    ids = np.asarray([row["input_ids"]], dtype=np.int64)                  # (1, T)
    types = np.asarray([row["token_type_ids"]], dtype=np.int64)
    args = check_inputs(model.config, ids, np.ones_like(ids), types)
    return albert_model(encoder_params(model), model.config, **args, output_attentions=True,
                        output_hidden_states=True)


def layer_changes(hidden):                          # (L + 1, T, H) -> (L, T), (L, T), (L + 1, T)
    """How much each application of the shared layer changes each token's vector.

    update_norm[i, t] = ||h_{i+1}[t] - h_i[t]||, cosine[i, t] = cos(h_{i+1}[t], h_i[t]),
    norm[i, t] = ||h_i[t]||, in float64; h_0 is the mapped-in embedding.
    """
    h = np.asarray(hidden, dtype=np.float64)                             # float64 ok: (L+1, T) norms for the page
    norm = np.linalg.norm(h, axis=-1)                                    # (L + 1, T)
    update_norm = np.linalg.norm(h[1:] - h[:-1], axis=-1)                # (L, T)
    denominator = norm[1:] * norm[:-1]
    cosine = np.einsum("ltd,ltd->lt", h[1:], h[:-1]) / np.where(denominator > 0, denominator, 1.0)
    return update_norm, cosine, norm


def logit_lens(model, hidden, k=LENS_TOP_K):        # (L + 1, T, H) -> (T, L + 1, k) x 2
    """The MLM head on the hidden state after every application: top-k ids and probabilities.

    Depth 0 is the mapped-in embedding, depth L the last hidden state (what fill_mask reads).
    """
    ids, probs = zip(*(top_k_rows(mlm_probs(model, h), k) for h in hidden))  # each (T, k)
    return np.stack(ids, axis=1), np.stack(probs, axis=1)


def predictions(model, tok, row, last, top_k):
    """fill_mask's output for the row's masks, from the forward's last hidden state `last` (T, H).

    The same calls as FillMaskPipeline: mlm_probs on the mask rows, top_k_fillers, then its _postprocess.
    Returns a list of {"position", "fills"} (one per mask) or None when there is no mask.
    """
    masks = [i for i, t in enumerate(row["input_ids"]) if t == tok.mask_token_id]
    if not masks:
        return None
    best = top_k_fillers(mlm_probs(model, last[masks]), top_k)          # (M, H) -> (M, V) -> M x (k,)
    fills = FillMaskPipeline(model, tok)._postprocess(dict(row, masks=masks), best)
    per_mask = [fills] if len(masks) == 1 else fills
    return [{"position": m, "fills": f} for m, f in zip(masks, per_mask)]


# %% Attention storage ---------------------------------------------------------------------------

def quantise(w):
    """Weights in [0, 1] as uint8: round(255 w); each within 1/510 of w."""
    return np.rint(np.clip(w, 0.0, 1.0) * 255.0).astype(np.uint8)


def b64(a, dtype):
    """base64 of an array's little-endian bytes."""
    return base64.b64encode(np.ascontiguousarray(a, dtype=np.dtype(dtype).newbyteorder("<")).tobytes()).decode()


def block_means(a, size):                          # (..., T, T) -> (..., S, S)
    """Thumbnails: the mean weight of each of size x size blocks (rows and columns cut alike)."""
    T = a.shape[-1]
    starts = np.linspace(0, T, size + 1).round().astype(np.int64)[:-1]
    counts = np.diff(np.append(starts, T))                               # (S,)
    summed = np.add.reduceat(np.add.reduceat(a, starts, axis=-1), starts, axis=-2)   # (..., S, S)
    return summed / (counts[:, None] * counts[None, :])


def attention_payload(attentions, budget=ATTENTION_BYTES):
    """The attention weights as the page stores them: all of them, or each row's top K.

    attentions: (R, A, T, T). Full: 8-bit weights (R*A*T*T bytes). When that exceeds
    `budget`, each row keeps its K = budget // (3 R A T) largest weights (uint16 index +
    8-bit weight), with S x S thumbnails (block_means, 8 bits of each one's maximum).
    """
    R, A, T, _ = attentions.shape
    if attentions.size <= budget:
        return {"mode": "full", "weights": b64(quantise(attentions), np.uint8)}
    if T > np.iinfo(np.uint16).max:
        raise ValueError(f"{T} tokens: too many for the page's 16-bit token indices")
    k = int(np.clip(budget // (3 * R * A * T), 1, T))
    idx = np.argpartition(-attentions, k - 1, axis=-1)[..., :k]          # (R, A, T, K)
    w = np.take_along_axis(attentions, idx, -1)
    order = np.argsort(-w, axis=-1, kind="stable")
    idx, w = np.take_along_axis(idx, order, -1), np.take_along_axis(w, order, -1)
    kept = w.sum(-1, dtype=np.float64)                                   # (R, A, T)  # float64 ok: a sum of many weights, for the page only
    size = min(T, THUMBNAIL_SIZE)
    thumbs = block_means(attentions.astype(np.float64), size)            # (R, A, S, S)  # float64 ok: thumbnail block means, for the page only
    scale = thumbs.max(axis=(-2, -1))                                    # (R, A)
    scale = np.where(scale > 0, scale, 1.0)
    return {"mode": "top_k", "k": k, "index": b64(idx, np.uint16), "weights": b64(quantise(w), np.uint8),
            "kept_mean": round(float(kept.mean()), 4), "kept_min": round(float(kept.min()), 4),
            "thumbnail_size": size, "thumbnails": b64(quantise(thumbs / scale[..., None, None]), np.uint8),
            "thumbnail_scale": [float(s) for s in scale.reshape(-1)]}


def dense_attention(data, run, head):              # -> (T, T) float64  # float64 ok: reads the page back
    """One head's weights as the page holds them (dequantised; rows cut to top-K hold zeros)."""
    att = data["attention"]
    A, T = data["heads"], len(data["tokens"]["ids"])
    start = (run * A + head) * T
    if att["mode"] == "full":
        w = np.frombuffer(base64.b64decode(att["weights"]), np.uint8)[start * T:(start + T) * T]
        return w.reshape(T, T) / 255.0
    k = att["k"]
    idx = np.frombuffer(base64.b64decode(att["index"]), "<u2")[start * k:(start + T) * k].reshape(T, k)
    w = np.frombuffer(base64.b64decode(att["weights"]), np.uint8)[start * k:(start + T) * k].reshape(T, k)
    out = np.zeros((T, T))
    np.put_along_axis(out, idx.astype(np.int64), w / 255.0, -1)
    return out


# %% The page's data -----------------------------------------------------------------------------

def significant(a, digits=4):
    """Nested lists of floats rounded to `digits` significant digits (for the page's JSON)."""
    return [[float(f"{x:.{digits}g}") for x in row] for row in np.asarray(a, dtype=np.float64)]  # float64 ok: Python floats for the page's JSON


def model_name(model):
    """The name the header shows: the Hub id or folder as given; the bundled model by its name."""
    name = getattr(model, "name_or_path", None)
    if name is None:
        return f"an {type(model).__name__} built in memory"
    if os.path.isdir(name) and os.path.abspath(name) == os.path.abspath(DEFAULT_MODEL):
        return f"{os.path.basename(os.path.normpath(name))} (albert_np's bundled model)"
    return name


def token_kinds(tok, ids):
    """"special" ([CLS], [SEP], padding), "mask" or "text" for each id."""
    special = {tok.cls_token_id, tok.sep_token_id, tok.pad_token_id}
    return ["mask" if i == tok.mask_token_id else "special" if i in special else "text" for i in ids]


def precision_notes(att, has_lens):
    """What the page says about how precise its numbers are (one sentence per kind of number)."""
    notes = {"attention": "Attention weights are stored in 8 bits (0-255 for 0-1): every weight shown is "
                          "within 0.002 (1/510) of the model's."}
    if att["mode"] == "top_k":
        notes["attention"] += (
            f" This input is long, so to keep the file small every row keeps only its {att['k']} largest "
            f"weights (they hold {100 * att['kept_mean']:.1f} % of a row's attention on average, "
            f"{100 * att['kept_min']:.1f} % at least); the model view's thumbnails are the full matrices "
            f"averaged over {att['thumbnail_size']} x {att['thumbnail_size']} blocks, each stored in 8 bits of "
            f"its own largest value.")
    notes["layers"] = "Norms and cosines are rounded to 4 significant digits."
    if has_lens:
        notes["lens"] = "Logit-lens probabilities are rounded to 4 decimals."
        notes["predictions"] = ("Predictions are fill_mask's own output; the page prints their probabilities "
                                "to 4 decimals and its data holds them in full.")
    return notes


def explain(text: str, model: ModelArg = None, *, pair: Optional[str] = None, tokenizer: TokenizerArg = None,
            top_k: int = 5, truncation: bool = True, attention_bytes: int = ATTENTION_BYTES,
            revision: Optional[str] = None, local_files_only: bool = False) -> Explanation:
    """One self-contained interactive HTML page of the forward pass on `text`.

        page = explain("The capital of France is [MASK].")
        page.save("capital.html")            # or end a notebook cell with `page`

    Args:
        text: the text (str); [MASK] where a word goes gives predictions and a lens to read.
        model: None (the bundled model, as fill_mask), a Hub id, a folder or a loaded model.
            A model without a masked-LM head (e.g. a fine-tuned classifier) works too: the
            page then says why it has no logit lens and no predictions.
        pair: a second text (token type 1), for models that read pairs.
        tokenizer: None (the model's own), a Hub id / folder or a loaded tokenizer.
        top_k: predictions per [MASK] (as fill_mask's top_k).
        truncation: a text longer than the model's max_position_embeddings is cut, and the
            page and a logged warning say what was cut (True); False raises a ValueError.
        attention_bytes: the most 8-bit attention weights stored in full; beyond it each row
            keeps its largest weights (see attention_payload).
    Returns an Explanation (.save(path), .html, .data, .predictions).
    Raises ValueError for an empty text, a text over the model's limit with truncation=False.
    """
    check_str(text, "text")
    if not text.strip():
        raise ValueError(f"text is empty ({text!r}): give a sentence to explain, e.g. "
                         f"'The capital of France is [MASK].'")
    if pair is not None:
        check_str(pair, "pair")
        if not pair.strip():
            raise ValueError(f"pair is empty ({pair!r}): give a second text, or pair=None for one text")
    check_top_k(top_k)
    truncation = check_flag("truncation", truncation)
    if isinstance(attention_bytes, bool) or not isinstance(attention_bytes, (int, np.integer)) \
            or attention_bytes < 1:
        raise ValueError(f"attention_bytes must be a positive int, got {attention_bytes!r:.80}")
    model, tok = load(model, tokenizer, revision=revision, local_files_only=local_files_only)
    config = model.config
    row, cut = tokenize(tok, text, pair, max_input_length(model, tok), truncation)
    out = forward(model, row)
    attentions = np.concatenate(out["attentions"])                       # R x (1, A, T, T) -> (R, A, T, T)
    hidden = np.concatenate(out["hidden_states"])                        # (L + 1, T, H)
    update_norm, cosine, norm = layer_changes(hidden)
    att = attention_payload(attentions, attention_bytes)
    has_mlm = isinstance(model, MLM_CLASSES)
    ids = [int(i) for i in row["input_ids"]]
    vocab_ids = set(ids)
    lens = found = None
    lens_absent = predictions_absent = None
    if has_mlm:
        lens_ids, lens_probs = logit_lens(model, hidden)                 # (T, L + 1, k)
        lens = {"k": int(lens_ids.shape[-1]), "ids": lens_ids.tolist(),
                "probs": np.round(lens_probs.astype(np.float64), 4).tolist()}  # float64 ok: rounded for the page's JSON
        vocab_ids.update(int(i) for i in np.unique(lens_ids))
        found = predictions(model, tok, row, out["last_hidden_state"][0], top_k)
        if found is None and cut and cut["masks_cut"]:
            predictions_absent = (f"The text's {tok.mask_token} tokens are all in the part that was cut (see the "
                                  f"note at the top): shorten the text or move the mask nearer its start. "
                                  f"fill_mask itself reads long texts in overlapping windows.")
        elif found is None:
            predictions_absent = (f"There is no {tok.mask_token} in the text, so there is nothing to predict: "
                                  f"put {tok.mask_token} where a word goes to see fill_mask's top {top_k}. "
                                  f"The logit lens works on any token.")
    else:
        lens_absent = predictions_absent = (
            f"This model ({type(model).__name__}) has no masked-LM head, so there are no word predictions "
            f"to show: the logit lens and the predictions need that head (load a checkpoint with it, "
            f"such as an AlbertForMaskedLM or AlbertForPreTraining one). The other views need only the "
            f"encoder and are complete.")
    vocab_ids = sorted(vocab_ids)
    from . import __version__          # here: the package's __init__ imports this module before defining it
    data = {
        "format": FORMAT, "library": f"albert_np {__version__}",
        "model": {"name": model_name(model), "class": type(model).__name__,
                  "parameters": model.num_parameters(), "config": config.to_dict(), "has_mlm_head": has_mlm},
        "text": text, "pair": pair,
        "tokens": {"pieces": tok.convert_ids_to_tokens(ids), "ids": ids,
                   "types": [int(t) for t in row["token_type_ids"]], "sequence": row["sequence_ids"],
                   "offsets": [list(map(int, o)) for o in row["offsets"]], "kind": token_kinds(tok, ids)},
        "mask_token": tok.mask_token, "truncation": cut,
        "applications": config.num_hidden_layers, "heads": config.num_attention_heads,
        "runs": [{"application": i + 1, "layer": j + 1, "group": config.group_of_layer(i) + 1}
                 for i in range(config.num_hidden_layers) for j in range(config.inner_group_num)],
        "attention": att,
        "layers": {"update_norm": significant(update_norm), "cosine": significant(cosine),
                   "norm": significant(norm)},
        "lens": lens, "lens_absent": lens_absent,
        "predictions": found, "predictions_absent": predictions_absent, "top_k": top_k,
        "vocab": dict(zip(map(str, vocab_ids), tok.convert_ids_to_tokens(vocab_ids))),
        "precision": precision_notes(att, has_mlm),
    }
    return Explanation(data)


# %% Rendering -----------------------------------------------------------------------------------

def read_asset(name):
    """One of the page's files (explain_page.html / .css / .js), shipped in the package."""
    path = os.path.join(PAGE_DIR, name)
    with open(path, encoding="utf-8") as f:
        return f.read()


def script_json(data):
    """JSON safe inside a <script> element: every "<" escaped, so no "</script>" can end it early."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")


def render_page(data):
    """The self-contained page: the template with its CSS, JS, static preview and data filled in."""
    css, js = read_asset(PAGE_FILES["CSS"]), read_asset(PAGE_FILES["JS"])
    if "</script" in js.lower() or "</style" in css.lower():
        raise ValueError("explain_page.js / .css must not contain a closing </script> or </style> tag")
    values = {"TITLE": html.escape(f"albert_np explain: {data['text'][:80]}"), "CSS": css, "JS": js,
              "STATIC": static_preview(data), "DATA": script_json(data)}
    return re.sub(r"\{\{(TITLE|CSS|JS|STATIC|DATA)\}\}", lambda m: values[m.group(1)],
                  read_asset(PAGE_FILES["HTML"]))


def static_preview(data):
    """The page's content for where scripts do not run: the default head view as an SVG, and the
    predictions (or why there are none) as a table. Plain HTML, inline attributes only."""
    d, e = data, html.escape
    parts = [f'<p><b>albert_np explain</b> of <q>{e(d["text"])}</q>'
             + (f' + <q>{e(d["pair"])}</q>' if d["pair"] else "")
             + f' on {e(d["model"]["name"])} ({e(d["model"]["class"])}, {d["model"]["parameters"]:,} '
               f'parameters).</p>',
             "<p>Static preview (the interactive page needs JavaScript): the attention of layer application 1, "
             "head 1 (line opacity = weight), then the predictions.</p>",
             head_view_svg(d, 0, 0)]
    if d["predictions"]:
        for m in d["predictions"]:
            rows = "".join(f"<tr><td>{f['score']:.4f}</td><td>{e(f['token_str'])}</td><td>{e(f['sequence'])}"
                           f"</td></tr>" for f in m["fills"])
            parts.append(f'<table><caption>{e(d["mask_token"])} at position {m["position"]}</caption>'
                         f"<tr><th>probability</th><th>token</th><th>sequence</th></tr>{rows}</table>")
    else:
        parts.append(f"<p>{e(d['predictions_absent'])}</p>")
    return "\n".join(parts)


def head_view_svg(data, run, head):
    """An SVG of one head: a line from each token (left) to each token it attends to (right)."""
    pieces = data["tokens"]["pieces"]
    T = min(len(pieces), STATIC_MAX_TOKENS)
    w = dense_attention(data, run, head)[:T, :T]
    row_h, left, right, width = 18, 150, 290, 440
    height = 24 + row_h * T + (18 if len(pieces) > T else 0)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="monospace" font-size="12">',
           f'<text x="{left - 8}" y="14" text-anchor="end" fill="#555">from</text>',
           f'<text x="{right + 8}" y="14" fill="#555">to</text>']
    for i, piece in enumerate(pieces[:T]):
        y = 24 + row_h * i + row_h / 2
        label = html.escape(piece if len(piece) <= 16 else piece[:15] + "\u2026")
        out.append(f'<text x="{left - 8}" y="{y + 4:.0f}" text-anchor="end">{label}</text>'
                   f'<text x="{right + 8}" y="{y + 4:.0f}">{label}</text>')
    for i, j in zip(*np.nonzero(w >= 0.02)):
        y1, y2 = 24 + row_h * i + row_h / 2, 24 + row_h * j + row_h / 2
        out.append(f'<line x1="{left}" y1="{y1:.0f}" x2="{right}" y2="{y2:.0f}" stroke="#0072B2" '
                   f'stroke-width="2" stroke-opacity="{w[i, j]:.2f}"/>')
    if len(pieces) > T:
        out.append(f'<text x="8" y="{height - 4}" fill="#555">(the first {T} of {len(pieces)} tokens)</text>')
    out.append("</svg>")
    return "".join(out)


def notebook_html(data, page, element_id):
    """What a notebook cell shows: the static preview, which a script replaces by the interactive
    page in an iframe (srcdoc). Where scripts do not run (GitHub, an untrusted notebook) the
    preview stays."""
    return (f'<div id="{element_id}" class="albert-np-explain">{static_preview(data)}</div>\n'
            f"<script>(function () {{\n"
            f'  var host = document.getElementById("{element_id}");\n'
            f"  if (!host) return;\n"
            f'  var frame = document.createElement("iframe");\n'
            f'  frame.title = "albert_np explain";\n'
            f'  frame.style.cssText = "width: 100%; height: 900px; border: 0;";\n'
            f"  frame.srcdoc = {script_json(page)};\n"
            f"  frame.onload = function () {{\n"
            f"    try {{\n"
            f"      var doc = frame.contentDocument, fit = function () {{\n"
            f'        frame.style.height = (doc.documentElement.scrollHeight + 8) + "px"; }};\n'
            f"      fit();\n"
            f"      if (window.ResizeObserver) new ResizeObserver(fit).observe(doc.body);\n"
            f"    }} catch (e) {{ /* another origin: keep the fixed height */ }}\n"
            f"  }};\n"
            f"  host.replaceChildren(frame);\n"
            f"}})();</script>")
