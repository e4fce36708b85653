"""Ready-made tasks: fill_mask, classify, tag_tokens, answer_question, choose, embed.

Each task is a plain function for one-off calls, backed by a reusable object
(the `*Pipeline` classes, which `albert_np.pipeline(task, ...)` returns) for
batches and repeated calls:

    fill_mask("Plants create [MASK] through photosynthesis.")         # default model
    classify(["good", "bad"], model="path/to/sst2-albert")
    answer_question("Who?", long_text, model="path/to/squad-albert")

`model` is a Hub id, a local folder, or a loaded model (then pass `tokenizer=`
too, unless the model was loaded from a folder that holds one). Models and
tokenizers are loaded once and kept in a small cache, so a second call costs
only the forward pass.

How a list is run (`run_batched`): every input is tokenised on its own, the
inputs are sorted by length and cut into batches of `batch_size`, each batch is
padded only to its own longest row, and the results are put back in input
order. Lists longer than PROGRESS_MIN_ITEMS show a tqdm progress bar.

Outputs have the keys, nesting and order of transformers' pipelines, so code
written for `transformers.pipeline` reads them unchanged; each docstring lists
where albert_np deliberately differs.
"""
import collections
import inspect
import json
import logging
import os
import struct

import numpy as np

from .inputs import check_inputs
from .model import albert_model, mlm_head
from .modeling import (AlbertForMaskedLM, AlbertForMultipleChoice, AlbertForPreTraining,
                       AlbertForQuestionAnswering, AlbertForSequenceClassification,
                       AlbertForTokenClassification, AlbertModel, AlbertPreTrainedModel)
from .ops import activation, softmax
from .pretrained import bundled_model

logger = logging.getLogger(__name__)

HUB_DEFAULT = "albert/albert-base-v2"
# Used when no model is given (fill-mask, feature-extraction): the model shipped in the
# package when there is one (it works offline), else Hugging Face's albert-base-v2.
DEFAULT_MODEL = bundled_model() or HUB_DEFAULT
CACHE_SIZE = 4                            # models kept loaded (tokenizers are kept alongside)
PROGRESS_MIN_ITEMS = 64                   # lists at least this long show a progress bar
DEFAULT_BATCH_SIZE = 8


# %% Loading, with a small cache ----------------------------------------------------------------

_cache = collections.OrderedDict()
_default_announced = False


def clear_cache():
    """Forget every model and tokenizer loaded by the task functions."""
    _cache.clear()


def _cached(key, load):
    """Return _cache[key], calling load() on a miss; keeps the CACHE_SIZE most recent models."""
    if key in _cache:
        _cache.move_to_end(key)
        return _cache[key]
    value = load()
    _cache[key] = value
    models = [k for k in _cache if k[0] != "tokenizer"]
    while len(models) > CACHE_SIZE:
        del _cache[models.pop(0)]
    return value


def _cache_name(name_or_path):
    """A folder by its absolute path (so "./m" and "m" share an entry); a Hub id as given."""
    name = os.fspath(name_or_path)
    return os.path.abspath(name) if os.path.isdir(name) else name


def _default_model():
    global _default_announced
    if not _default_announced:
        if DEFAULT_MODEL == HUB_DEFAULT:
            logger.warning("No model given: using the default %s", DEFAULT_MODEL)
        else:
            logger.warning("No model given: using the default, albert_np's bundled %s "
                           "(pass model=%r for Hugging Face's)", os.path.basename(DEFAULT_MODEL),
                           HUB_DEFAULT)
        _default_announced = True
    return DEFAULT_MODEL


def load_tokenizer(name_or_path, *, revision=None, local_files_only=False):
    """AlbertTokenizerFast of a folder or Hub repo, loaded once per process (cached)."""
    from .tokenization import AlbertTokenizerFast

    key = ("tokenizer", _cache_name(name_or_path), revision)
    return _cached(key, lambda: AlbertTokenizerFast.from_pretrained(
        name_or_path, revision=revision, local_files_only=local_files_only))


def checkpoint_tensors(name_or_path, *, revision=None, local_files_only=False):
    """{tensor name: shape or None} of a checkpoint, read from the file headers only.

    A sharded checkpoint lists its names from model.safetensors.index.json (shapes None).
    Used to say early and clearly that a checkpoint lacks the head a task needs.
    """
    from .hub import resolve_file
    kw = dict(revision=revision, local_files_only=local_files_only, required=False)
    try:
        path = resolve_file(name_or_path, "model.safetensors", **kw)
        if path is not None:
            with open(path, "rb") as f:
                (n,) = struct.unpack("<Q", f.read(8))
                header = json.loads(f.read(n))
            header.pop("__metadata__", None)
            return {name: tuple(info["shape"]) for name, info in header.items()}
        index = resolve_file(name_or_path, "model.safetensors.index.json", **kw)
        if index is not None:
            with open(index, encoding="utf-8") as f:
                return {name: None for name in json.load(f)["weight_map"]}
    except (struct.error, ValueError, KeyError, TypeError, AttributeError):
        pass          # a damaged file: from_pretrained says precisely what is wrong
    return {}         # no safetensors either: from_pretrained will say so


class TaskSpec:
    """What a task needs from a model: the classes that fit, the one to load, the head weights."""

    def __init__(self, accepts, load_as, head_keys, head_name, has_default=False):
        self.accepts = accepts          # model classes the task can run
        self.load_as = load_as          # class used to load a name (unless config.architectures says better)
        self.head_keys = head_keys      # checkpoint tensors the head needs
        self.head_name = head_name      # words for error messages
        self.has_default = has_default  # model=None means DEFAULT_MODEL


TASK_SPECS = {
    "fill-mask": TaskSpec((AlbertForMaskedLM, AlbertForPreTraining), AlbertForMaskedLM,
                          ("predictions.dense.weight",), "masked-LM head", has_default=True),
    "text-classification": TaskSpec((AlbertForSequenceClassification,), AlbertForSequenceClassification,
                                    ("classifier.weight", "albert.pooler.weight"),
                                    "sequence-classification head"),
    "token-classification": TaskSpec((AlbertForTokenClassification,), AlbertForTokenClassification,
                                     ("classifier.weight",), "token-classification head"),
    "question-answering": TaskSpec((AlbertForQuestionAnswering,), AlbertForQuestionAnswering,
                                   ("qa_outputs.weight",), "question-answering head"),
    "multiple-choice": TaskSpec((AlbertForMultipleChoice,), AlbertForMultipleChoice,
                                ("classifier.weight", "albert.pooler.weight"), "multiple-choice head"),
    "feature-extraction": TaskSpec((AlbertPreTrainedModel,), AlbertModel, (), "encoder", has_default=True),
}


def load_model(name_or_path, task, *, revision=None, dtype="auto", local_files_only=False):
    """The model a task needs, loaded once per process (cached by task, name, revision, dtype).

    Checks the checkpoint's tensor names first, so that a checkpoint without the
    task's head fails with a clear ValueError instead of running a random head.
    """
    from .config import AlbertConfig

    spec = TASK_SPECS[task]
    key = (task, _cache_name(name_or_path), revision, str(dtype))
    if key in _cache:
        return _cached(key, None)
    kw = dict(revision=revision, local_files_only=local_files_only)
    config = AlbertConfig.from_pretrained(name_or_path, **kw)
    cls = _class_for(spec, config)
    tensors = checkpoint_tensors(name_or_path, **kw)
    missing = [k for k in spec.head_keys if k not in tensors]
    if tensors and missing:
        archs = config.extra.get("architectures") or ["(not recorded)"]
        raise ValueError(
            f"{name_or_path!r} has no {spec.head_name} (its checkpoint lacks {', '.join(missing)}; "
            f"architectures: {', '.join(archs)}), so it cannot run {task!r}. Use a checkpoint "
            f"trained for this task" + (f", e.g. {DEFAULT_MODEL}" if spec.has_default else
                                        ", or fine-tune one first") + ".")
    shape = tensors.get("classifier.weight")
    if task == "multiple-choice" and shape and shape[0] != 1:
        raise ValueError(f"{name_or_path!r} has a classifier of {shape[0]} labels, not the single score "
                         f"per choice of a multiple-choice head")
    return _cached(key, lambda: cls.from_pretrained(name_or_path, dtype=dtype, **kw))


def _class_for(spec, config):
    """The class named in config.architectures when the task accepts it, else spec.load_as."""
    from .modeling import MODEL_CLASSES
    for name in config.extra.get("architectures") or ():
        cls = MODEL_CLASSES.get(name)
        if cls is not None and issubclass(cls, spec.accepts):
            return cls          # the checkpoint's own class: every weight is used, none made up
    return spec.load_as


def resolve(task, model=None, tokenizer=None, *, revision=None, dtype="auto", local_files_only=False):
    """(model, tokenizer) for a task from names, folders or loaded objects.

    model: None (the task's default), a Hub id / folder, or a loaded model.
    tokenizer: None (the model's own), a Hub id / folder, or a loaded tokenizer.
    Raises TypeError for a loaded model of the wrong class, ValueError for a
    checkpoint without the task's head or a task without a default model.
    """
    spec = TASK_SPECS[task]
    if model is None:
        if not spec.has_default:
            raise ValueError(f"{task!r} has no default model: pass model= (a Hub id or a folder of an "
                             f"ALBERT fine-tuned for {task}, or a loaded {spec.load_as.__name__})")
        model = _default_model()
    kw = dict(revision=revision, local_files_only=local_files_only)
    if isinstance(model, AlbertPreTrainedModel):
        if not isinstance(model, spec.accepts):
            raise TypeError(f"{task} needs {' or '.join(c.__name__ for c in spec.accepts)}; got "
                            f"{type(model).__name__}, which has no {spec.head_name}. Load the model with "
                            f"{spec.load_as.__name__}.from_pretrained(...)")
        loaded = model
    elif isinstance(model, (str, os.PathLike)):
        loaded = load_model(model, task, dtype=dtype, **kw)
    else:
        raise TypeError(f"model must be a Hub id, a folder or a loaded albert_np model, "
                        f"got {type(model).__name__}")
    if tokenizer is None:
        source = model if isinstance(model, (str, os.PathLike)) else getattr(model, "name_or_path", None)
        if source is None:
            raise ValueError(f"the {type(model).__name__} given was not loaded from a folder, so its tokenizer "
                             f"is unknown: pass tokenizer= (a folder, a Hub id or an AlbertTokenizerFast)")
        try:
            tokenizer = load_tokenizer(source, **kw)
        except FileNotFoundError as e:
            raise FileNotFoundError(f"{e}\nThe model's folder has no tokenizer: pass tokenizer= (the folder "
                                    f"or Hub id of the tokenizer it was trained with)") from e
    elif isinstance(tokenizer, (str, os.PathLike)):
        tokenizer = load_tokenizer(tokenizer, **kw)
    return loaded, tokenizer


# %% Batches -------------------------------------------------------------------------------------

def pad_batch(rows, pad_id):
    """Stack feature dicts into padded arrays: input_ids, attention_mask, token_type_ids  (B, T).

    rows: dicts with "input_ids" and "token_type_ids" lists. Pads on the right.
    """
    T = max(len(r["input_ids"]) for r in rows)
    ids = np.full((len(rows), T), pad_id, dtype=np.int64)
    types = np.zeros((len(rows), T), dtype=np.int64)
    mask = np.zeros((len(rows), T), dtype=np.int64)
    for b, r in enumerate(rows):
        n = len(r["input_ids"])
        ids[b, :n] = r["input_ids"]
        types[b, :n] = r["token_type_ids"]
        mask[b, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def run_batched(items, step, *, size, group=None, batch_size=DEFAULT_BATCH_SIZE, progress=None,
                desc="albert_np"):
    """Apply `step` to length-sorted batches of `items`; return its results in input order.

    step(list of items) -> list of results, one per item (same order).
    size(item) -> int: the padded length an item needs; items are sorted by it so
    that each batch pads little. group(item) -> key: items with different keys
    never share a batch (e.g. a different number of choices).
    progress: None shows a tqdm bar for PROGRESS_MIN_ITEMS items or more; True/False force it.
    """
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    key = (lambda i: (group(items[i]), size(items[i]))) if group else (lambda i: size(items[i]))
    order = sorted(range(len(items)), key=key)
    batches, current = [], []
    for i in order:
        if current and (len(current) == batch_size or group and group(items[i]) != group(items[current[0]])):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    show = len(items) >= PROGRESS_MIN_ITEMS if progress is None else bool(progress)
    bar = _progress_bar(len(items), desc) if show else None
    results = [None] * len(items)
    for batch in batches:
        for i, result in zip(batch, step([items[i] for i in batch])):
            results[i] = result
        if bar is not None:
            bar.update(len(batch))
    if bar is not None:
        bar.close()
    return results


def _progress_bar(total, desc):
    try:
        from tqdm.auto import tqdm
    except ImportError:                      # tqdm comes with huggingface_hub; be safe anyway
        return None
    return tqdm(total=total, desc=desc, unit="input")


def encoder_params(model):
    """The encoder's parameter sub-dict of any albert_np model (AlbertModel or a head model)."""
    return model.params["albert"] if model.head else model.params


def encode(model, batch):
    """last_hidden_state (B, T, H) of a padded batch, through the bare encoder of any model."""
    args = check_inputs(model.config, batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
    return albert_model(encoder_params(model), model.config, **args)["last_hidden_state"]


def _features(encoding, n_rows):
    """Split a (list-valued) BatchEncoding into one dict per row, with word and sequence ids."""
    rows = []
    for i in range(n_rows):
        row = {"input_ids": encoding["input_ids"][i], "token_type_ids": encoding["token_type_ids"][i],
               "word_ids": encoding.word_ids(i), "sequence_ids": encoding.sequence_ids(i)}
        if "offset_mapping" in encoding:
            row["offsets"] = [tuple(o) for o in encoding["offset_mapping"][i]]
        if "overflow_to_sample_mapping" in encoding:
            row["sample"] = encoding["overflow_to_sample_mapping"][i]
        rows.append(row)
    return rows


def _as_text_list(texts, name="texts"):
    """(list of str, was_single) from one str or a non-empty list of str."""
    if isinstance(texts, str):
        return [texts], True
    if isinstance(texts, (list, tuple)):
        if not texts:
            raise ValueError(f"{name} is an empty list: give at least one text")
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise TypeError(f"{name}[{i}] must be a str, got {type(t).__name__}: {t!r:.80}")
        return list(texts), False
    raise TypeError(f"{name} must be a str or a list of str, got {type(texts).__name__}")


def _check_top_k(top_k, allow_none=False):
    if top_k is None and allow_none:
        return
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
        raise ValueError(f"top_k must be an int >= 1, got {top_k!r}")


def _max_length(model, tokenizer):
    return min(model.config.max_position_embeddings, tokenizer.model_max_length)


# %% The pipelines ------------------------------------------------------------------------------

class Pipeline:
    """A task bound to a model and tokenizer; call it like a transformers pipeline.

    Args:
        model: Hub id, folder, or loaded albert_np model (None: the task's default model).
        tokenizer: None (the model's own), a Hub id / folder, or a loaded tokenizer.
        revision, local_files_only: passed to the loaders.
        dtype: "auto" (float32) or float32 / float64.
        batch_size: inputs run together (after sorting by length).
        progress: None (a progress bar for long lists), True or False.
        call_defaults: default options of every call, e.g. top_k=3 (keywords of `run`).
    """

    task = None

    def __init__(self, model=None, tokenizer=None, *, revision=None, dtype="auto", local_files_only=False,
                 batch_size=DEFAULT_BATCH_SIZE, progress=None, **call_defaults):
        takes = inspect.signature(self.run).parameters
        unknown = sorted(set(call_defaults) - set(takes))
        if unknown:
            raise TypeError(f"{type(self).__name__} has no option {', '.join(unknown)}; "
                            f"its calls take {', '.join(takes)}")
        self.model, self.tokenizer = resolve(self.task, model, tokenizer, revision=revision, dtype=dtype,
                                             local_files_only=local_files_only)
        self.batch_size = batch_size
        self.progress = progress
        self.call_defaults = call_defaults

    def __call__(self, *args, **kwargs):
        """Run the task (see `run` for the arguments); options given at construction are the defaults."""
        return self.run(*args, **{**self.call_defaults, **kwargs})

    def _run(self, items, step, size=None, group=None, batch_size=None):
        return run_batched(items, step, size=size or (lambda r: len(r["input_ids"])), group=group,
                           batch_size=batch_size or self.batch_size, progress=self.progress, desc=self.task)

    def _batch(self, rows):
        return pad_batch(rows, self.tokenizer.pad_token_id)

    def __repr__(self):
        return f"{type(self).__name__}(model={self.model!r}, tokenizer={type(self.tokenizer).__name__})"


# -- fill-mask --------------------------------------------------------------------------------------

class FillMaskPipeline(Pipeline):
    """Predict the [MASK] tokens of texts. Matches: transformers FillMaskPipeline (5.x)."""

    task = "fill-mask"

    def run(self, inputs, top_k=5, targets=None, batch_size=None):
        """Top-k fillers for every [MASK] of one text or a list of texts.

        Args:
            inputs: str or list of str; each holds one or more [MASK] (tokenizer.mask_token).
            top_k: fillers per mask (at most the number of targets, when given).
            targets: str or list of str restricting the candidates. A target that is
                not a vocabulary piece is tokenised and its first piece used, with a warning.
        Returns (as transformers):
            one text, one mask:   [{"score", "token", "token_str", "sequence"}, ...] best first
            one text, n masks:    a list per mask (sequences then keep the special tokens, as HF)
            list of texts:        a list of the above; a list of one text is returned unwrapped.
        """
        texts, single = _as_text_list(inputs, "inputs")
        _check_top_k(top_k)
        tok = self.tokenizer
        target_ids = None if targets is None else self.target_ids(targets)
        enc = tok(texts, truncation=True, max_length=_max_length(self.model, tok))
        rows = _features(enc, len(texts))
        for text, row in zip(texts, rows):
            row["masks"] = [i for i, t in enumerate(row["input_ids"]) if t == tok.mask_token_id]
            if not row["masks"]:
                raise ValueError(f"no {tok.mask_token} in {text!r:.100}: put the mask token "
                                 f"{tok.mask_token!r} where the missing word goes")
        probs = self._run(rows, self._mask_probs, batch_size=batch_size)
        results = [self._postprocess(row, p, top_k, target_ids) for row, p in zip(rows, probs)]
        return results[0] if single or len(results) == 1 else results

    def _mask_probs(self, rows):
        """Softmax over the vocabulary at each mask position: one (masks, V) array per row.

        The MLM head runs on the mask positions only (the other positions are never read).
        """
        batch = self._batch(rows)
        h = encode(self.model, batch)                                     # (B, T, H)
        b_idx = np.concatenate([[b] * len(r["masks"]) for b, r in enumerate(rows)]).astype(np.int64)
        t_idx = np.concatenate([r["masks"] for r in rows]).astype(np.int64)
        c = self.model.config
        logits = mlm_head(h[b_idx, t_idx], **self.model.params["predictions"],
                          act=activation(c.hidden_act), eps=c.layer_norm_eps)   # (M, H) -> (M, V)
        probs = softmax(logits, axis=-1)
        return np.split(probs, np.cumsum([len(r["masks"]) for r in rows])[:-1])

    def _postprocess(self, row, probs, top_k, target_ids):
        tok = self.tokenizer
        if target_ids is not None:
            probs = probs[:, target_ids]                                  # (masks, targets)
            top_k = min(top_k, len(target_ids))
        single_mask = len(row["masks"]) == 1
        out = []
        for position, p in zip(row["masks"], probs):
            best = np.argsort(-p, kind="stable")[:top_k]
            fills = []
            for j in best:
                token = int(target_ids[j]) if target_ids is not None else int(j)
                ids = list(row["input_ids"])
                ids[position] = token
                fills.append({"score": float(p[j]), "token": token, "token_str": tok.decode([token]),
                              "sequence": tok.decode(ids, skip_special_tokens=single_mask)})
            out.append(fills)
        return out[0] if single_mask else out

    def target_ids(self, targets):
        """Vocabulary ids of the targets (duplicates dropped), as transformers resolves them."""
        targets = [targets] if isinstance(targets, str) else targets
        if not isinstance(targets, (list, tuple)) or not all(isinstance(t, str) for t in targets):
            raise TypeError(f"targets must be a str or a list of str, got {targets!r:.100}")
        tok = self.tokenizer
        vocab = tok.get_vocab()
        ids = []
        for target in targets:
            if target in vocab:
                ids.append(vocab[target])
                continue
            pieces = tok(target, add_special_tokens=False)["input_ids"]
            if not pieces:
                logger.warning("target %r is empty after tokenisation: ignored", target)
                continue
            logger.warning("target %r is not a vocabulary piece: using its first piece %r%s", target,
                           tok.convert_ids_to_tokens(pieces[0]),
                           f" (it has {len(pieces)} pieces)" if len(pieces) > 1 else "")
            ids.append(pieces[0])
        ids = list(dict.fromkeys(ids))
        if not ids:
            raise ValueError(f"none of the targets {targets!r} gives a vocabulary piece: pass at least one word")
        return np.asarray(ids, dtype=np.int64)


def fill_mask(text, model=None, top_k=5, targets=None, *, tokenizer=None, batch_size=DEFAULT_BATCH_SIZE,
              **load_kwargs):
    """Fill the [MASK] tokens of `text` (str or list of str): transformers' fill-mask pipeline.

        fill_mask("Paris is the [MASK] of France.")
        [{'score': 0.9, 'token': 1057, 'token_str': 'capital', 'sequence': 'paris is the capital of france.'}, ...]

    model: Hub id, folder or loaded AlbertForMaskedLM / AlbertForPreTraining; None
    uses DEFAULT_MODEL. See FillMaskPipeline.__call__ for targets and the output nesting.
    """
    return FillMaskPipeline(model, tokenizer, batch_size=batch_size, **load_kwargs).run(text, top_k, targets)


# -- text-classification -----------------------------------------------------------------------------

FUNCTIONS = ("softmax", "sigmoid", "none")
_LEGACY = object()     # "top_k not given": transformers' one-dict-per-text output


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


class TextClassificationPipeline(Pipeline):
    """Label texts or text pairs. Matches: transformers TextClassificationPipeline (5.x)."""

    task = "text-classification"

    def run(self, inputs, top_k=_LEGACY, function_to_apply=None, text_pair=None, batch_size=None):
        """Scores of the labels of each text (or pair).

        Args:
            inputs: str, list of str, {"text", "text_pair"} dict or a list of such dicts.
            top_k: not given -> the best label only, one dict per text (transformers' default);
                an int -> that many labels, best first, a list per text; None -> all labels.
            function_to_apply: None (chosen from the config as transformers does: regression ->
                "none"; multi-label or a single label -> "sigmoid"; else "softmax"), or one of FUNCTIONS.
            text_pair: second texts (str or list), instead of dicts.
        Returns:
            one str without top_k: [{"label", "score"}]; a list without top_k: [{"label", "score"}, ...];
            with top_k: a list of dicts for one str, a list of such lists for a list.
            One dict input gives one result, not wrapped in a list (as transformers).
        """
        texts, pairs, single = self._split_inputs(inputs, text_pair)
        legacy = top_k is _LEGACY
        if not legacy:
            _check_top_k(top_k, allow_none=True)
        fn = self.function(function_to_apply)
        tok = self.tokenizer
        max_length = _max_length(self.model, tok)
        enc = tok(texts, pairs, truncation=True, max_length=max_length)
        rows = _features(enc, len(texts))
        logits = self._run(rows, self._logits, batch_size=batch_size)
        id2label = self.model.config.id2label
        results = []
        for row_logits in logits:
            scores = {"sigmoid": _sigmoid, "softmax": softmax, "none": lambda x: x}[fn](row_logits)
            if legacy:
                best = int(scores.argmax())
                results.append({"label": id2label[best], "score": float(scores[best])})
                continue
            ranked = sorted(({"label": id2label[i], "score": float(s)} for i, s in enumerate(scores)),
                            key=lambda d: d["score"], reverse=True)
            results.append(ranked if top_k is None else ranked[:top_k])
        if single == "dict":                 # one {"text", "text_pair"} dict: one result, unwrapped
            return results[0]
        if single:
            return [results[0]] if legacy else results[0]
        return results

    @staticmethod
    def _split_inputs(inputs, text_pair):
        """(texts, pairs or None, single) from the accepted input forms."""
        if isinstance(inputs, dict) or (isinstance(inputs, (list, tuple)) and inputs
                                        and all(isinstance(x, dict) for x in inputs)):
            if text_pair is not None:
                raise ValueError("give pairs either as dicts {'text', 'text_pair'} or with text_pair=, not both")
            dicts = [inputs] if isinstance(inputs, dict) else list(inputs)
            for i, d in enumerate(dicts):
                if "text" not in d:
                    raise ValueError(f"input dict {i} has no 'text' key (keys: {sorted(d)})")
            texts, _ = _as_text_list([d["text"] for d in dicts])
            pairs = [d.get("text_pair") for d in dicts]
            if any(p is None for p in pairs):
                if not all(p is None for p in pairs):
                    raise ValueError("some input dicts have a 'text_pair' and some do not: run them separately")
                pairs = None
            else:
                pairs, _ = _as_text_list(pairs, "text_pair")
            return texts, pairs, "dict" if isinstance(inputs, dict) else False
        texts, single = _as_text_list(inputs, "inputs")
        if text_pair is None:
            return texts, None, single
        pairs, pair_single = _as_text_list(text_pair, "text_pair")
        if pair_single != single or len(pairs) != len(texts):
            raise ValueError(f"{len(texts)} text(s) but {len(pairs)} text_pair(s): give one pair per text")
        return texts, pairs, single

    def function(self, function_to_apply):
        """The score function: the one asked for, or transformers' choice from the config."""
        if function_to_apply is not None and str(function_to_apply).lower() != "default":
            name = str(getattr(function_to_apply, "value", function_to_apply)).lower()
            if name not in FUNCTIONS:
                raise ValueError(f"function_to_apply must be one of {FUNCTIONS} (or None), "
                                 f"got {function_to_apply!r}")
            return name
        c = self.model.config
        if c.problem_type == "regression":
            return "none"
        if c.problem_type == "multi_label_classification" or c.num_labels == 1:
            return "sigmoid"
        return "softmax"

    def _logits(self, rows):
        out = self.model(**self._batch(rows))
        return list(out.logits)


def classify(texts, model, text_pair=None, function_to_apply=None, top_k=1, *, tokenizer=None,
             batch_size=DEFAULT_BATCH_SIZE, **load_kwargs):
    """Classify texts (or pairs): transformers' text-classification pipeline.

        classify("a great film", model="path/to/sst2")      -> [{'label': 'positive', 'score': 0.98}]

    top_k=1 gives transformers' default output (one dict per text: a one-element
    list for a single str); another int or None gives ranked lists (see
    TextClassificationPipeline.__call__). Scores: softmax, sigmoid or the raw
    logits, chosen from config.problem_type and num_labels unless function_to_apply says.
    """
    pipe = TextClassificationPipeline(model, tokenizer, batch_size=batch_size, **load_kwargs)
    return pipe.run(texts, top_k=_LEGACY if top_k == 1 and not isinstance(top_k, bool) else top_k,
                    function_to_apply=function_to_apply, text_pair=text_pair)


# -- token-classification -------------------------------------------------------------------------

AGGREGATION_STRATEGIES = ("none", "simple", "first", "average", "max")


class TokenClassificationPipeline(Pipeline):
    """Tag the tokens (or words, or entities) of texts.

    Matches: transformers TokenClassificationPipeline (5.x), with two deliberate differences:
    * words are whitespace-separated words of the text (the tokenizer's word_ids), where
      transformers guesses them for ALBERT from the characters around each piece;
    * an entity of several words keeps its spaces ("new york"), where transformers' first /
      average / max strategies glue them ("newyork").
    """

    task = "token-classification"

    def run(self, inputs, aggregation_strategy="none", ignore_labels=("O",), batch_size=None):
        """Entities of one text or a list of texts.

        Args:
            aggregation_strategy: "none" (every token, with its index; transformers' default, which
                tag_tokens changes to "simple"), "simple" (adjacent tokens
                with the same tag grouped, B-/I- prefixes respected), "first" / "average" / "max"
                (each word takes one tag: its first token's, the mean scores', or its most
                confident token's; then grouped as "simple").
            ignore_labels: labels (or entity groups) left out of the result.
        Returns:
            per text, a list of {"entity", "score", "index", "word", "start", "end"} ("none") or
            {"entity_group", "score", "word", "start", "end"}; start/end index the original text.
        """
        strategy = self.strategy(aggregation_strategy)
        texts, single = _as_text_list(inputs, "inputs")
        tok = self.tokenizer
        enc = tok(texts, truncation=True, max_length=_max_length(self.model, tok), return_offsets_mapping=True)
        rows = _features(enc, len(texts))
        probs = self._run(rows, self._token_probs, batch_size=batch_size)
        results = []
        for text, row, p in zip(texts, rows, probs):
            entities = self.aggregate(self.pre_entities(text, row, p), strategy)
            results.append([e for e in entities
                            if e.get("entity", e.get("entity_group")) not in set(ignore_labels or ())])
        return results[0] if single else results

    @staticmethod
    def strategy(aggregation_strategy):
        name = "none" if aggregation_strategy is None else str(
            getattr(aggregation_strategy, "value", aggregation_strategy)).lower()
        if name not in AGGREGATION_STRATEGIES:
            raise ValueError(f"aggregation_strategy must be one of {AGGREGATION_STRATEGIES}, "
                             f"got {aggregation_strategy!r}")
        return name

    def _token_probs(self, rows):
        logits = self.model(**self._batch(rows)).logits                # (B, T, num_labels)
        probs = softmax(logits, axis=-1)
        return [probs[b, :len(r["input_ids"])] for b, r in enumerate(rows)]

    def pre_entities(self, text, row, probs):
        """One record per non-special token: piece, label probabilities, span, word index."""
        tok = self.tokenizer
        out = []
        for idx, (token_id, seq, word, (start, end)) in enumerate(
                zip(row["input_ids"], row["sequence_ids"], row["word_ids"], row["offsets"])):
            if seq is None:
                continue
            piece = tok.convert_ids_to_tokens(int(token_id))
            if token_id == tok.unk_token_id:
                piece = text[start:end]          # as transformers: show the original characters
            out.append({"word": piece, "pieces": [piece], "scores": probs[idx], "start": int(start),
                        "end": int(end), "index": idx, "word_id": word})
        return out

    def aggregate(self, pre, strategy):
        id2label = self.model.config.id2label
        if strategy in ("none", "simple"):
            entities = []
            for p in pre:
                best = int(p["scores"].argmax())
                entities.append({"entity": id2label[best], "score": float(p["scores"][best]),
                                 "index": p["index"], "word": p["word"], "start": p["start"],
                                 "end": p["end"], "pieces": p["pieces"]})
            if strategy == "none":
                for e in entities:
                    del e["pieces"]
                return entities
        else:
            words = []
            for p in pre:
                if words and p["word_id"] == words[-1][-1]["word_id"]:
                    words[-1].append(p)
                else:
                    words.append([p])
            entities = [self.aggregate_word(w, strategy) for w in words]
        return self.group_entities(entities)

    def aggregate_word(self, tokens, strategy):
        """One entity for the tokens of one word (transformers' aggregate_word)."""
        id2label = self.model.config.id2label
        if strategy == "first":
            scores = tokens[0]["scores"]
        elif strategy == "max":
            scores = max(tokens, key=lambda t: t["scores"].max())["scores"]
        else:                                                      # average
            scores = np.nanmean(np.stack([t["scores"] for t in tokens]), axis=0)
        best = int(scores.argmax())
        pieces = [piece for t in tokens for piece in t["pieces"]]
        return {"entity": id2label[best], "score": float(scores[best]),
                "word": self.tokenizer.convert_tokens_to_string(pieces), "start": tokens[0]["start"],
                "end": tokens[-1]["end"], "pieces": pieces}

    @staticmethod
    def split_tag(label):
        """("B" | "I", tag): "B-PER" -> ("B", "PER"); a label without prefix counts as "I"."""
        if label.startswith("B-"):
            return "B", label[2:]
        if label.startswith("I-"):
            return "I", label[2:]
        return "I", label

    def group_entities(self, entities):
        """Merge adjacent entities with the same tag; a "B-" tag starts a new group."""
        groups, current = [], []
        for e in entities:
            if current:
                bi, tag = self.split_tag(e["entity"])
                _, last_tag = self.split_tag(current[-1]["entity"])
                if tag != last_tag or bi == "B":
                    groups.append(self.group(current))
                    current = []
            current.append(e)
        if current:
            groups.append(self.group(current))
        return groups

    def group(self, entities):
        pieces = [piece for e in entities for piece in e["pieces"]]
        return {"entity_group": entities[0]["entity"].split("-", 1)[-1],
                "score": float(np.nanmean([e["score"] for e in entities])),
                "word": self.tokenizer.convert_tokens_to_string(pieces),
                "start": entities[0]["start"], "end": entities[-1]["end"]}


def tag_tokens(texts, model, aggregation_strategy="simple", *, ignore_labels=("O",), tokenizer=None,
               batch_size=DEFAULT_BATCH_SIZE, **load_kwargs):
    """Named entities (or per-token tags) of texts: transformers' token-classification pipeline.

        tag_tokens("Ada Lovelace lived in London", model="path/to/ner-albert")
        [{'entity_group': 'PER', 'score': 0.99, 'word': 'ada lovelace', 'start': 0, 'end': 12}, ...]

    start / end are character positions in the original text (text[start:end]).
    See TokenClassificationPipeline for the strategies and the differences from transformers.
    """
    pipe = TokenClassificationPipeline(model, tokenizer, batch_size=batch_size, **load_kwargs)
    return pipe.run(texts, aggregation_strategy=aggregation_strategy, ignore_labels=ignore_labels)


# -- question-answering -----------------------------------------------------------------------------

class QuestionAnsweringPipeline(Pipeline):
    """Extract answer spans from contexts. Matches: transformers 4.x QuestionAnsweringPipeline.

    A context too long for one input is cut into windows of max_seq_len tokens
    (question + context part), neighbours sharing doc_stride tokens; every window
    is scored, and the best spans of all windows compete. Scores are
    p_start(s) * p_end(e), the probabilities taken over the window's context
    tokens and [CLS]; spans are widened to whole words (align_to_words), and
    equal answers found in several windows add their scores, as transformers 4.x does.
    """

    task = "question-answering"

    def run(self, question=None, context=None, top_k=1, doc_stride=None, max_answer_len=15,
                 handle_impossible_answer=False, max_seq_len=384, max_question_len=64, align_to_words=True,
                 batch_size=None):
        """Answers of one question or of a list of questions.

        Args:
            question, context: str each; or a list of questions with one context (str) or
                with a list of contexts (one per question); or, as transformers, one
                {"question", "context"} dict (or a list of them) as the first argument.
            top_k: answers per question (fewer when the context has fewer candidates).
            doc_stride: tokens shared by neighbouring windows of a long context; None:
                min(max_seq_len // 2, 128), i.e. 128 for the default max_seq_len (as transformers 4.x),
                lowered when a long question leaves less room.
            max_answer_len: the longest answer, in tokens.
            handle_impossible_answer: also offer the empty answer {"answer": "", start 0, end 0},
                scored p_start([CLS]) * p_end([CLS]) (the smallest over the windows).
            max_seq_len: tokens per window, question and special tokens included.
            max_question_len: longer questions are cut to this many tokens (None: never).
            align_to_words: widen each span to whole words of the context.
        Returns:
            {"score", "start", "end", "answer"} (context[start:end] == answer), or a list of them
            best first when top_k > 1; a list of such results for a list of questions.
        """
        questions, contexts, single = self._split_inputs(question, context)
        _check_top_k(top_k)
        for name, value, low in (("max_answer_len", max_answer_len, 1), ("max_seq_len", max_seq_len, 4),
                                 ("doc_stride", 0 if doc_stride is None else doc_stride, 0)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
        if doc_stride is not None and doc_stride > max_seq_len:
            raise ValueError(f"doc_stride ({doc_stride}) is larger than max_seq_len ({max_seq_len})")
        limit = self.model.config.max_position_embeddings
        if max_seq_len > limit:
            logger.info("max_seq_len=%d lowered to the model's max_position_embeddings=%d", max_seq_len, limit)
            max_seq_len = limit
        questions, strides = zip(*[self._fit_question(q, max_question_len, max_seq_len, doc_stride)
                                   for q in questions])
        doc_stride = min(strides)
        enc = self.tokenizer(questions, contexts, truncation="only_second", max_length=max_seq_len,
                             stride=doc_stride, return_overflowing_tokens=True, return_offsets_mapping=True)
        windows = _features(enc, len(enc["input_ids"]))
        logits = self._run(windows, self._span_logits, batch_size=batch_size)
        per_sample = [[] for _ in questions]
        for window, (start, end) in zip(windows, logits):
            per_sample[window["sample"]].append((window, start, end))
        results = [self.best_answers(ctx, found, top_k, max_answer_len, handle_impossible_answer, align_to_words)
                   for ctx, found in zip(contexts, per_sample)]
        return results[0] if single else results

    @staticmethod
    def _split_inputs(question, context):
        if context is None and (isinstance(question, dict) or isinstance(question, (list, tuple)) and question
                                and all(isinstance(q, dict) for q in question)):
            items = [question] if isinstance(question, dict) else list(question)   # transformers' dict form
            for i, item in enumerate(items):
                if "question" not in item or "context" not in item:
                    raise ValueError(f"input {i} needs the keys 'question' and 'context', has {sorted(item)}")
            questions, _, _ = QuestionAnsweringPipeline._split_inputs([d["question"] for d in items],
                                                                      [d["context"] for d in items])
            return questions, [d["context"] for d in items], isinstance(question, dict)
        if question is None or context is None:
            raise ValueError("give both question= and context=")
        if isinstance(question, str) and isinstance(context, str):
            questions, contexts, single = [question], [context], True
        elif isinstance(question, (list, tuple)) and isinstance(context, str):
            questions, contexts, single = list(question), [context] * len(question), False
        elif isinstance(question, (list, tuple)) and isinstance(context, (list, tuple)):
            if len(question) != len(context):
                raise ValueError(f"{len(question)} questions but {len(context)} contexts: give one context "
                                 f"per question, or one context for all")
            questions, contexts, single = list(question), list(context), False
        else:
            raise TypeError(f"question and context must be str (or lists of str), got "
                            f"{type(question).__name__} and {type(context).__name__}")
        _as_text_list(questions, "question")
        _as_text_list(contexts, "context")
        for name, items in (("question", questions), ("context", contexts)):
            for i, s in enumerate(items):
                if not s.strip():
                    raise ValueError(f"{name}{'' if single else f'[{i}]'} is empty")
        return questions, contexts, single

    def _fit_question(self, question, max_question_len, max_seq_len, doc_stride):
        """(question cut to max_question_len tokens, doc_stride); ValueError when no context would fit.

        doc_stride None becomes min(max_seq_len // 2, 128), lowered to fit the room the question leaves.
        """
        enc = self.tokenizer(question, add_special_tokens=False, return_offsets_mapping=True)
        n = len(enc["input_ids"])
        if max_question_len is not None and n > max_question_len:
            cut = enc["offset_mapping"][max_question_len - 1][1]
            logger.warning("question of %d tokens cut to max_question_len=%d: %r", n, max_question_len,
                           question[:cut])
            question, n = question[:cut], max_question_len
        room = max_seq_len - n - 3                       # [CLS] question [SEP] context [SEP]
        if room < 1:
            raise ValueError(f"the question has {n} tokens, which leaves no room for the context in "
                             f"max_seq_len={max_seq_len} tokens: shorten the question, or raise max_seq_len "
                             f"(up to {self.model.config.max_position_embeddings}) or lower max_question_len")
        if doc_stride is None:
            return question, min(max_seq_len // 2, 128, room - 1)
        if doc_stride >= room:
            raise ValueError(f"doc_stride={doc_stride} must be smaller than the {room} context tokens each "
                             f"window holds (max_seq_len={max_seq_len} minus the question's {n} tokens and "
                             f"3 special tokens): lower doc_stride or raise max_seq_len")
        return question, doc_stride

    def _span_logits(self, rows):
        out = self.model(**self._batch(rows))
        return [(out.start_logits[b, :len(r["input_ids"])], out.end_logits[b, :len(r["input_ids"])])
                for b, r in enumerate(rows)]

    def best_answers(self, context, windows, top_k, max_answer_len, handle_impossible_answer, align_to_words):
        """Merge the candidate spans of all windows of one context (transformers 4.x postprocess)."""
        word_spans = self.word_spans(windows)
        min_null_score = 1e6
        answers = []
        for window, start, end in windows:
            starts, ends, scores, null = self.decode_spans(window, start, end, top_k * 2 + 10
                                                           if align_to_words else top_k, max_answer_len)
            if handle_impossible_answer:
                min_null_score = min(min_null_score, null)
            for s, e, score in zip(starts, ends, scores):
                begin, finish = self.char_span(window, s, e, word_spans, align_to_words)
                text = context[begin:finish]
                same = next((a for a in answers if a["answer"].lower() == text.lower()), None)
                if same is not None:
                    same["score"] += float(score)
                else:
                    answers.append({"score": float(score), "start": begin, "end": finish, "answer": text})
        if handle_impossible_answer:
            answers.append({"score": float(min_null_score), "start": 0, "end": 0, "answer": ""})
        answers = sorted(answers, key=lambda a: a["score"], reverse=True)[:top_k]
        return answers[0] if len(answers) == 1 else answers

    @staticmethod
    def decode_spans(window, start_logits, end_logits, candidates, max_answer_len):
        """Best spans of one window: (starts, ends, scores, null score).

        p_start, p_end: softmax over the context tokens and [CLS] (others get -10000).
        null score = p_start([CLS]) * p_end([CLS]); then [CLS] is zeroed, and the
        `candidates` best spans s <= e < s + max_answer_len by p_start(s) * p_end(e)
        are kept if both ends are allowed tokens.
        Matches: transformers 4.x select_starts_ends + decode_spans.
        """
        allowed = np.array([s == 1 for s in window["sequence_ids"]])
        allowed[0] = True                                         # [CLS]: the "no answer" slot
        dtype = start_logits.dtype
        p_start = softmax(np.where(allowed, start_logits, dtype.type(-10000.0)))   # (T,)
        p_end = softmax(np.where(allowed, end_logits, dtype.type(-10000.0)))       # (T,)
        null = float(p_start[0] * p_end[0])
        p_start[0] = p_end[0] = 0.0
        scores = np.tril(np.triu(p_start[:, None] * p_end[None, :]), max_answer_len - 1)   # (T, T): s <= e
        flat = scores.ravel()
        best = np.argsort(-flat, kind="stable")[:candidates]
        starts, ends = np.unravel_index(best, scores.shape)
        keep = allowed[starts] & allowed[ends]
        return starts[keep], ends[keep], flat[best][keep], null

    @staticmethod
    def word_spans(windows):
        """{word index: (first char, last char + 1)} of the context words, from every window's tokens."""
        spans = {}
        for window, _, _ in windows:
            for seq, word, (a, b) in zip(window["sequence_ids"], window["word_ids"], window["offsets"]):
                if seq != 1 or word is None:
                    continue
                if word in spans:
                    lo, hi = spans[word]
                    spans[word] = (min(lo, a) if a < b else lo, max(hi, b))
                else:
                    spans[word] = (a, b)
        return spans

    @staticmethod
    def char_span(window, s, e, word_spans, align_to_words):
        """Characters of tokens s..e of a window, widened to whole words when asked."""
        if align_to_words:
            first, last = window["word_ids"][s], window["word_ids"][e]
            if first is not None and last is not None and window["sequence_ids"][s] == 1:
                return word_spans[first][0], word_spans[last][1]
        return int(window["offsets"][s][0]), int(window["offsets"][e][1])


def answer_question(question, context, model, top_k=1, doc_stride=None, max_answer_len=15,
                    handle_impossible_answer=False, max_seq_len=384, max_question_len=64, *,
                    tokenizer=None, batch_size=DEFAULT_BATCH_SIZE, **load_kwargs):
    """Extract the answer to `question` from `context`: transformers 4.x question-answering.

        answer_question("Where does Ada live?", "Ada lives in London.", model="path/to/squad-albert")
        {'score': 0.87, 'start': 13, 'end': 20, 'answer': 'London.'}

    Long contexts are split into overlapping windows (doc_stride tokens shared; None:
    min(max_seq_len // 2, 128) as transformers 4.x) and the best span of all windows
    wins; start / end index the context. See QuestionAnsweringPipeline.
    """
    pipe = QuestionAnsweringPipeline(model, tokenizer, batch_size=batch_size, **load_kwargs)
    return pipe.run(question=question, context=context, top_k=top_k, doc_stride=doc_stride,
                max_answer_len=max_answer_len, handle_impossible_answer=handle_impossible_answer,
                max_seq_len=max_seq_len, max_question_len=max_question_len)


# -- multiple-choice ------------------------------------------------------------------------------

class MultipleChoicePipeline(Pipeline):
    """Pick the best continuation or answer among choices (no transformers pipeline exists).

    Each choice is encoded with the prompt as a pair "[CLS] prompt [SEP] choice [SEP]"
    (SWAG's convention, as AlbertForMultipleChoice is trained); the scores are the
    softmax of the model's logits over the choices.
    """

    task = "multiple-choice"

    def run(self, prompt, choices, batch_size=None):
        """Choices ranked by probability.

        Args:
            prompt: str, or a list of prompts.
            choices: list of str (for one prompt), or a list of lists (one per prompt).
        Returns:
            [{"choice", "index", "score"}, ...] best first (index: position in `choices`);
            a list of these for a list of prompts.
        """
        if isinstance(prompt, str):
            prompts, choice_lists, single = [prompt], [choices], True
        else:
            prompts, _ = _as_text_list(prompt, "prompt")
            choice_lists, single = choices, False
            if not isinstance(choice_lists, (list, tuple)) or len(choice_lists) != len(prompts):
                raise ValueError(f"{len(prompts)} prompts need {len(prompts)} lists of choices, "
                                 f"got {choices!r:.100}")
        for i, options in enumerate(choice_lists):
            if isinstance(options, str) or not isinstance(options, (list, tuple)):
                raise TypeError(f"choices must be a list of str per prompt, got {options!r:.80}")
            _as_text_list(list(options), "choices")
            if len(options) < 2:
                raise ValueError(f"prompt {i} has {len(options)} choice(s): give at least two")
        tok = self.tokenizer
        max_length = _max_length(self.model, tok)
        items = []
        for p, options in zip(prompts, choice_lists):
            enc = tok([p] * len(options), list(options), truncation="only_first", max_length=max_length)
            items.append(_features(enc, len(options)))
        logits = self._run(items, self._choice_logits, size=lambda it: max(len(r["input_ids"]) for r in it),
                           group=len, batch_size=batch_size)
        results = []
        for options, row in zip(choice_lists, logits):
            probs = softmax(row)
            order = np.argsort(-probs, kind="stable")
            results.append([{"choice": options[i], "index": int(i), "score": float(probs[i])} for i in order])
        return results[0] if single else results

    def _choice_logits(self, items):
        C = len(items[0])
        batch = self._batch([row for item in items for row in item])       # (B*C, T)
        shaped = {k: v.reshape(len(items), C, -1) for k, v in batch.items()}   # (B, C, T)
        return list(self.model(**shaped).logits)                          # (B, C)


def choose(prompt, choices, model, *, tokenizer=None, batch_size=DEFAULT_BATCH_SIZE, **load_kwargs):
    """Rank `choices` as answers to / continuations of `prompt` with a multiple-choice model.

        choose("The man lit the match.", ["The room got brighter.", "The room got colder."], model=...)
        [{'choice': 'The room got brighter.', 'index': 0, 'score': 0.8}, {...}]
    """
    return MultipleChoicePipeline(model, tokenizer, batch_size=batch_size, **load_kwargs).run(prompt, choices)


# -- feature-extraction -----------------------------------------------------------------------------

POOLINGS = ("cls", "mean")


class FeatureExtractionPipeline(Pipeline):
    """Contextual vectors of texts from the encoder of any ALBERT checkpoint.

    Matches: transformers FeatureExtractionPipeline when called without pooling.
    """

    task = "feature-extraction"

    def run(self, inputs, pooling=None, return_tensors=False, batch_size=None):
        """Vectors of one text or a list of texts.

        Args:
            pooling: None -> every token's vector, as transformers: nested lists of shape
                (1, T, H) per text (np.ndarray with return_tensors=True);
                "cls" -> the [CLS] token's last hidden state; "mean" -> the mean over the
                text's tokens ([CLS] and [SEP] included, padding excluded).
        Returns:
            with pooling: float32 array (H,) for a str, (N, H) for a list of N texts.
        """
        if pooling is not None and pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS} or None, got {pooling!r}")
        texts, single = _as_text_list(inputs, "inputs")
        tok = self.tokenizer
        enc = tok(texts, truncation=True, max_length=_max_length(self.model, tok))
        rows = _features(enc, len(texts))
        states = self._run(rows, lambda batch: self._vectors(batch, pooling), batch_size=batch_size)
        if pooling is not None:
            vectors = np.stack(states)
            return vectors[0] if single else vectors
        out = [s[None] if return_tensors else s[None].tolist() for s in states]
        return out[0] if single else out

    def _vectors(self, rows, pooling):
        batch = self._batch(rows)
        h = encode(self.model, batch)                                     # (B, T, H)
        if pooling == "cls":
            return list(h[:, 0])
        if pooling == "mean":
            mask = batch["attention_mask"][..., None].astype(h.dtype)     # (B, T, 1)
            return list((h * mask).sum(1) / mask.sum(1))                  # (B, H)
        return [h[b, :len(r["input_ids"])] for b, r in enumerate(rows)]


def embed(texts, model=None, pooling="cls", *, tokenizer=None, batch_size=DEFAULT_BATCH_SIZE, **load_kwargs):
    """One vector per text: (H,) for a str, (N, H) float32 for a list of N texts.

    pooling: "cls" (the [CLS] token's last hidden state) or "mean" (over the text's tokens).
    Any ALBERT checkpoint works (only its encoder is used); None uses DEFAULT_MODEL.
    """
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    return FeatureExtractionPipeline(model, tokenizer, batch_size=batch_size, **load_kwargs).run(
        texts, pooling=pooling)


PIPELINES = {cls.task: cls for cls in (FillMaskPipeline, TextClassificationPipeline, TokenClassificationPipeline,
                                       QuestionAnsweringPipeline, MultipleChoicePipeline,
                                       FeatureExtractionPipeline)}
