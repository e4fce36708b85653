"""Hugging Face-named classes over the plain functions of model.py.

`AlbertModel`, `AlbertForMaskedLM`, ... load and save HF checkpoints and take
HF's call signature (input_ids, attention_mask, token_type_ids, position_ids,
inputs_embeds, head_mask, labels, output_attentions, output_hidden_states), so
code written for transformers runs with `return_tensors="np"`. Outputs are
dataclasses with HF's field names. The classes hold only config and params:
all the maths is in model.py, and what differs between them (the head's
weights, outputs, labels and loss) is one row of heads.HEADS.
"""
import dataclasses
import logging
import os
from typing import Any, Dict, List, Optional, Tuple, Type, TypeVar, Union

import numpy as np

from .formats import checkpoint, tf_checkpoint, tf_release
from .config import AlbertConfig
from .hub import check_variant, is_local, loading_options
from .heads import HEADS, expected_shapes
from .inputs import check_labels
from .hints import ArrayLike, NameOrPath, PathLike
from .io import staged_folder
from .model import albert_model
from .params import flatten, init_weights, nest, resized_rows, tie_decoder
from .step import prepare_inputs

logger = logging.getLogger(__name__)


# ------------------------------------------------------------------ outputs
class ModelOutput:
    """Dataclass base with HF ModelOutput's access styles.

    out.logits, out["logits"], out[0] (the non-None fields in order, as HF),
    `"logits" in out`, out.keys(), out.to_tuple().
    """

    def to_tuple(self) -> tuple:
        return tuple(getattr(self, f.name) for f in dataclasses.fields(self)
                     if getattr(self, f.name) is not None)

    def keys(self) -> List[str]:
        return [f.name for f in dataclasses.fields(self) if getattr(self, f.name) is not None]

    def items(self) -> List[Tuple[str, Any]]:
        return [(k, getattr(self, k)) for k in self.keys()]

    def __getitem__(self, key):
        if isinstance(key, str):
            if key not in self.keys():
                raise KeyError(key)
            return getattr(self, key)
        return self.to_tuple()[key]

    def __contains__(self, key):
        return key in self.keys()

    def __iter__(self):
        return iter(self.keys())

    def __len__(self):
        return len(self.keys())


@dataclasses.dataclass
class BaseModelOutputWithPooling(ModelOutput):
    last_hidden_state: np.ndarray = None
    pooler_output: Optional[np.ndarray] = None
    hidden_states: Optional[tuple] = None
    attentions: Optional[tuple] = None


@dataclasses.dataclass
class AlbertForPreTrainingOutput(ModelOutput):
    loss: Optional[np.ndarray] = None
    prediction_logits: np.ndarray = None
    sop_logits: np.ndarray = None
    hidden_states: Optional[tuple] = None
    attentions: Optional[tuple] = None


@dataclasses.dataclass
class MaskedLMOutput(ModelOutput):
    loss: Optional[np.ndarray] = None
    logits: np.ndarray = None
    hidden_states: Optional[tuple] = None
    attentions: Optional[tuple] = None


@dataclasses.dataclass
class SequenceClassifierOutput(MaskedLMOutput):
    pass


@dataclasses.dataclass
class TokenClassifierOutput(MaskedLMOutput):
    pass


@dataclasses.dataclass
class MultipleChoiceModelOutput(MaskedLMOutput):
    pass


@dataclasses.dataclass
class QuestionAnsweringModelOutput(ModelOutput):
    loss: Optional[np.ndarray] = None
    start_logits: np.ndarray = None
    end_logits: np.ndarray = None
    hidden_states: Optional[tuple] = None
    attentions: Optional[tuple] = None


# -------------------------------------------------------------- base class
M = TypeVar("M", bound="AlbertPreTrainedModel")


class AlbertPreTrainedModel:
    """Config + nested params, loading/saving, and the forward every class shares.

    Subclasses set `head` (a key of heads.HEADS), `output_type` (the dataclass
    they return) and `label_names` (the forward arguments that, all given,
    make it compute the loss), and define `forward` with HF's signature.
    """

    head = None
    output_type = None
    label_names = ()

    def __init__(self, config: AlbertConfig, params: Optional[dict] = None, seed: int = 0,
                 dtype: Any = np.float32) -> None:
        if not isinstance(config, AlbertConfig):
            raise TypeError(f"config must be an AlbertConfig, got {type(config).__name__}")
        self.config = config
        self.dtype = compute_dtype(dtype)
        if params is None:
            params = nest(init_weights(expected_shapes(config, self.head), config, seed, self.dtype))
        self.params = params
        self.loaded_files = []
        self.training = False

    # -- parameters ----------------------------------------------------------
    def state_dict(self) -> Dict[str, np.ndarray]:
        """Flat {HF name: array} (the arrays themselves, not copies)."""
        return flatten(self.params)

    def load_state_dict(self, state: Dict[str, np.ndarray], strict: bool = True) -> Tuple[List[str], List[str]]:
        """Load a flat HF state dict; returns (missing, unexpected) key lists.

        Weights absent from `state` keep their current values (strict=False) or
        raise (strict=True).
        """
        flat, missing, unexpected, _ = _assemble(state, self.config, self.head, self.dtype,
                                                 fallback=flatten(self.params), source="the state dict")
        if strict and (missing or unexpected):
            raise checkpoint.CheckpointError(_key_report(missing, unexpected))
        self.params = nest(flat)
        return missing, unexpected

    def num_parameters(self) -> int:
        """Distinct parameters (tied arrays counted once)."""
        seen = {}
        for v in self.state_dict().values():
            seen[id(v)] = v.size
        return int(sum(seen.values()))

    def eval(self: M) -> M:
        """Inference mode (the only mode of these classes; training uses step.loss_and_grads)."""
        self.training = False
        return self

    # -- the vocabulary's tables ---------------------------------------------
    def _encoder_params(self):
        return self.params["albert"] if self.head else self.params

    def get_input_embeddings(self) -> np.ndarray:
        """The word-embedding table (V, E): the model's own array, so editing it edits the model.

        Matches: transformers get_input_embeddings().weight (transformers returns the nn.Embedding).
        """
        return self._encoder_params()["embeddings"]["word_embeddings"]["weight"]

    def set_input_embeddings(self, value: ArrayLike) -> None:
        """Use `value` (V, E) as the word-embedding table (the tied MLM decoder follows; config.vocab_size too)."""
        table = np.asarray(value)
        E = self.config.embedding_size
        if table.ndim != 2 or table.shape[1] != E:
            raise ValueError(f"the word-embedding table must have shape (V, embedding_size={E}), "
                             f"got {table.shape}; to change V use resize_token_embeddings(V)")
        if table.shape[0] != self.config.vocab_size:
            raise ValueError(f"the table has {table.shape[0]} rows but config.vocab_size is "
                             f"{self.config.vocab_size}: use resize_token_embeddings({table.shape[0]}) first")
        self._encoder_params()["embeddings"]["word_embeddings"]["weight"] = table.astype(self.dtype, copy=False)
        if self.config.tie_word_embeddings and "predictions" in self.params:
            self.params["predictions"]["decoder"]["weight"] = self.get_input_embeddings()

    def get_output_embeddings(self) -> Optional[np.ndarray]:
        """The MLM decoder weight (V, E) (tied: the word-embedding table itself); None without an MLM head."""
        if "predictions" not in self.params:
            return None
        return self.params["predictions"]["decoder"]["weight"]

    def resize_token_embeddings(self, new_num_tokens: Optional[int] = None, pad_to_multiple_of: Optional[int] = None,
                                mean_resizing: bool = True) -> np.ndarray:
        """Give the vocabulary `new_num_tokens` rows (after tokenizer.add_tokens: len(tokenizer)).

        Rows 0..min(V, V')-1 are kept; rows are dropped from the end when shrinking. New rows of the
        word embeddings (and of an untied MLM decoder) are the mean of the old rows
        (mean_resizing=True, as transformers 5, whose draw from N(mean, 1e-9 cov) is the mean to
        ~1e-5 of a row's spread) or drawn from N(0, initializer_range) (mean_resizing=False).
        predictions.bias gets zeros for the new tokens (transformers pads it so when it re-ties the
        decoder); an untied decoder's bias gets the mean of its old entries (zeros with
        mean_resizing=False), as transformers resizes an output layer. The tied decoder stays
        tied; config.vocab_size becomes the new size.
        pad_to_multiple_of: round the size up to a multiple of this.
        Returns the new word-embedding table (V', E).  Matches: transformers resize_token_embeddings.
        """
        V = self.config.vocab_size
        if new_num_tokens is None:
            new_num_tokens = V
        if isinstance(new_num_tokens, bool) or not isinstance(new_num_tokens, (int, np.integer)) or new_num_tokens < 1:
            raise ValueError(f"new_num_tokens must be an int >= 1 (e.g. len(tokenizer)), got {new_num_tokens!r}")
        if pad_to_multiple_of is not None:
            if isinstance(pad_to_multiple_of, bool) or not isinstance(pad_to_multiple_of, (int, np.integer)) \
                    or pad_to_multiple_of < 1:
                raise ValueError(f"pad_to_multiple_of must be an int >= 1, got {pad_to_multiple_of!r}")
            new_num_tokens = -(-int(new_num_tokens) // pad_to_multiple_of) * pad_to_multiple_of
        new_num_tokens = int(new_num_tokens)
        if new_num_tokens != V:
            rng = np.random.default_rng(0)
            flat = flatten(self.params)
            word = ("albert." if self.head else "") + "embeddings.word_embeddings.weight"
            flat[word] = resized_rows(flat[word], new_num_tokens, mean_resizing, rng, self.config.initializer_range)
            if "predictions.bias" in flat and self.config.tie_word_embeddings:
                flat["predictions.bias"] = resized_rows(flat["predictions.bias"], new_num_tokens, fill=0.0)
                flat["predictions.decoder.bias"] = flat["predictions.bias"]
                tie_decoder(flat, word)
            elif "predictions.bias" in flat:      # an untied decoder is resized as a layer of its own
                flat["predictions.decoder.weight"] = resized_rows(
                    flat["predictions.decoder.weight"], new_num_tokens, mean_resizing, rng,
                    self.config.initializer_range)
                flat["predictions.bias"] = resized_rows(flat["predictions.bias"], new_num_tokens,
                                                        fill=None if mean_resizing else 0.0)
                flat["predictions.decoder.bias"] = flat["predictions.bias"]
            self.params = nest(flat)
            self.config.vocab_size = new_num_tokens
            logger.info("vocabulary resized from %d to %d tokens", V, new_num_tokens)
        return self.get_input_embeddings()

    # -- files ---------------------------------------------------------------
    @classmethod
    def from_pretrained(cls: Type[M], name_or_path: NameOrPath, *, dtype: Any = np.float32,
                        config: Optional[AlbertConfig] = None, variant: Optional[str] = None,
                        ignore_mismatched_sizes: bool = False, **kwargs: Any) -> M:
        """Load config.json + safetensors weights from a folder or a Hub repo id.

        name_or_path: a folder, a Hub repo id, or "albert-tiny-en" (the bundled model, offline).
        An original TF1 release (a folder with albert_config.json and model.ckpt-*.index, or a
        checkpoint prefix such as ".../model.ckpt-best") loads too: see tf_release and tf_checkpoint.

        dtype: float32 (default; fp16 / bf16 checkpoints are converted), "auto"
        (= float32, NumPy's fast path), or float64 for numerical checks. "float16" /
        "bfloat16" (or torch's dtypes) load float32 with a warning: see compute_dtype.
        variant: load model.<variant>.safetensors (e.g. "fp16"; pytorch_model.<variant>.bin and
            sharded indexes too), as transformers names them.
        ignore_mismatched_sizes: a checkpoint tensor whose shape disagrees with the config (a
        classifier of 2 labels loaded with num_labels=5) is initialised afresh and reported,
        instead of raising CheckpointError.
        Other keywords: the loading options (hub.LOADING_OPTIONS: revision, cache_dir,
        local_files_only, force_download, token, subfolder), which go to huggingface_hub and
        never into the config or a saved file; and config fields to override, e.g. num_labels=3
        for a fresh classification head, output_hidden_states=True (the default of forward's
        argument). Anything else is a TypeError naming it.
        Weights the file lacks (a new head, the SOP head of the released
        checkpoints) are initialised as HF does and reported in a log line.
        """
        dtype = compute_dtype(dtype)
        kw = loading_options(kwargs)
        variant = check_variant(variant)
        AlbertConfig.check_overrides(kwargs, f"{cls.__name__}.from_pretrained",
                                     takes=("variant", "dtype", "config", "ignore_mismatched_sizes"))
        if config is None:
            config = AlbertConfig.from_pretrained(name_or_path, **kw, **kwargs)
        elif not isinstance(config, AlbertConfig):
            raise TypeError(f"config must be an AlbertConfig, got {type(config).__name__}")
        elif kwargs:
            raise TypeError(f"{cls.__name__}.from_pretrained got config= and config overrides "
                            f"{sorted(kwargs)}: set those fields on the config instead")
        subfolder = kw.get("subfolder")
        if subfolder is not None and is_local(name_or_path):   # a folder inside a local folder: read it as the folder
            name_or_path, kw = os.path.join(os.fspath(name_or_path), subfolder), dict(kw, subfolder=None)
        release = tf_release.find_tf_release(name_or_path) if subfolder is None else None
        if release is not None:                                 # an original TF1 release
            if variant is not None:
                raise ValueError(f"variant={variant!r}: {name_or_path} is an original TF release, which has no "
                                 f"variants; leave variant unset")
            state, paths = tf_checkpoint.read_tf_state_dict(release.prefix, dtype=dtype)
        else:
            state, paths = checkpoint.load_state_dict(name_or_path, dtype=dtype, variant=variant, **kw)
        flat, missing, unexpected, mismatched = _assemble(state, config, cls.head, dtype, source=paths,
                                                          ignore_mismatched_sizes=ignore_mismatched_sizes)
        model = cls(config, params=nest(flat), dtype=dtype)
        if missing:          # newly initialised weights: worth a warning, as in transformers
            logger.warning("%s from %s: %s", cls.__name__, name_or_path,
                           _key_report(missing, unexpected, mismatched))
        elif unexpected:     # e.g. a pretraining checkpoint's SOP head, unused by an MLM model
            logger.info("%s from %s: %s", cls.__name__, name_or_path, _key_report(missing, unexpected))
        model.loaded_files = paths
        model.name_or_path = str(name_or_path)
        return model

    def save_pretrained(self, folder: PathLike, storage_dtype: Optional[str] = None,
                        max_shard_size: Optional[Union[int, str]] = None) -> None:
        """Write config.json and model.safetensors in HF's format, as one unit.

        The files are written into a staging folder that then replaces
        `folder` in one step (io.staged_folder): killed, out of disk or racing
        another save, the folder holds the old save or the new one, never a
        new config beside old weights. Other files in `folder` are kept, except
        the weights of an earlier save (model.safetensors, its shards and index).
        storage_dtype: None (as computed, float32), "float16" or "bfloat16".
        max_shard_size: None (one file), or the most bytes per file, an int or
            "5GB" / "500MB" / "100KB" (powers of 1000, as transformers): the weights are then
            split into model-00001-of-0000N.safetensors + model.safetensors.index.json
            (a tensor larger than the limit gets a file of its own).
        transformers' from_pretrained loads the folder back.
        """
        d = self.config.to_dict()
        d["architectures"] = [type(self).__name__]
        config = AlbertConfig.from_dict(d)
        with staged_folder(folder, replaces=checkpoint.SAFETENSORS_WEIGHT_FILES) as tmp:
            config.save_pretrained(tmp)
            checkpoint.save_state_dict(self.state_dict(), tmp, storage_dtype=storage_dtype,
                                       max_shard_size=max_shard_size)

    # -- the forward every class shares ----------------------------------------
    def _forward(self, inputs, labels, output_attentions, output_hidden_states, return_dict):
        """Encoder (model.albert_model), the head's row of heads.HEADS, and the loss when
        every one of label_names is given (HF's labels.view(...) shapes accepted).

        output_attentions / output_hidden_states None: the config's (as transformers).
        """
        if output_attentions is None:
            output_attentions = self.config.output_attentions
        if output_hidden_states is None:
            output_hidden_states = self.config.output_hidden_states
        args, C = prepare_inputs(self.config, self.head, inputs)
        enc = albert_model(self.params["albert"] if self.head else self.params, self.config, **args,
                           output_hidden_states=output_hidden_states, output_attentions=output_attentions)
        outputs = HEADS[self.head].forward(self.params, self.config, enc, num_choices=C)
        fields = dict(outputs, hidden_states=enc["hidden_states"], attentions=enc["attentions"])
        if self.label_names:
            fields["loss"] = None
            if all(labels.get(k) is not None for k in self.label_names):
                B, T = enc["last_hidden_state"].shape[:2]
                lab = check_labels(HEADS[self.head], self.config, labels, B // (C or 1), T, self.dtype, hf_view=True)
                fields["loss"] = HEADS[self.head].loss(self.config, outputs, lab)[0]
        out = self.output_type(**fields)
        return out if return_dict else out.to_tuple()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def __repr__(self):
        c = self.config
        return (f"{type(self).__name__}(V={c.vocab_size}, E={c.embedding_size}, H={c.hidden_size}, "
                f"L={c.num_hidden_layers}, G={c.num_hidden_groups}, A={c.num_attention_heads}, "
                f"params={self.num_parameters():,})")


def _key_report(missing, unexpected, mismatched=()):
    parts = []
    if mismatched:
        parts.append(f"{len(mismatched)} weights of another shape in the checkpoint, newly initialised "
                     f"(ignore_mismatched_sizes=True): " + "; ".join(mismatched[:8])
                     + (" ..." if len(mismatched) > 8 else ""))
        mismatched_names = {m.split(":")[0] for m in mismatched}
        missing = [k for k in missing if k not in mismatched_names]
    if missing:
        parts.append(f"{len(missing)} weights not in the checkpoint, newly initialised: "
                     + ", ".join(missing[:8]) + (" ..." if len(missing) > 8 else ""))
    if unexpected:
        parts.append(f"{len(unexpected)} checkpoint weights not used by this model: "
                     + ", ".join(unexpected[:8]) + (" ..." if len(unexpected) > 8 else ""))
    return "; ".join(parts)


def adapt_state_dict(state, config, head, ignore_mismatched_sizes=False):
    """Fit a loaded state dict to a model class: prefixes, buffers, tied weights.

    Returns (state, missing, unexpected, mismatched): `missing` are expected keys absent
    from the file (left for the caller to initialise), `unexpected` keys the model
    does not use. A tensor whose shape disagrees with the config raises CheckpointError,
    or, with ignore_mismatched_sizes, is dropped: its key joins `missing`, and
    `mismatched` says "name: file shape vs config shape".
    """
    state = {k: v for k, v in state.items() if k not in checkpoint.BUFFERS and not k.endswith(".position_ids")}
    expected = expected_shapes(config, head)
    has_prefix = any(k.startswith("albert.") for k in state)
    if head is not None and not has_prefix:         # a bare AlbertModel checkpoint under a head
        state = {(k if k.split(".")[0] in _HEAD_ROOTS else "albert." + k): v for k, v in state.items()}
    elif head is None and has_prefix:               # a head checkpoint loaded as AlbertModel
        state = {k[len("albert."):]: v for k, v in state.items() if k.startswith("albert.")}
    if head in ("pretraining", "mlm"):
        word = state.get("albert.embeddings.word_embeddings.weight")
        if config.tie_word_embeddings and word is not None:
            state["predictions.decoder.weight"] = word          # tied: the same array
        if "predictions.bias" in state:
            state["predictions.decoder.bias"] = state["predictions.bias"]
        elif "predictions.decoder.bias" in state:
            state["predictions.bias"] = state["predictions.decoder.bias"]
    bad = [f"{k}: file {tuple(v.shape)} vs config {expected[k]}"
           for k, v in state.items() if k in expected and tuple(v.shape) != expected[k]]
    if bad and not ignore_mismatched_sizes:
        raise checkpoint.CheckpointError("the weights do not match the config (is config.json from the same "
                              "model? To load the rest and initialise these afresh, e.g. a classifier "
                              "with another num_labels, pass ignore_mismatched_sizes=True):\n  "
                              + "\n  ".join(bad[:10])
                              + (f"\n  ... and {len(bad) - 10} more" if len(bad) > 10 else ""))
    for k in {b.split(":")[0] for b in bad}:
        del state[k]
    missing = sorted(k for k in expected if k not in state)
    unexpected = sorted(k for k in state if k not in expected)
    return {k: v for k, v in state.items() if k in expected}, missing, unexpected, bad


def check_weights(state, source):
    """CheckpointError unless every weight the model uses is a float tensor of finite numbers.

    The dtype is the file's (the readers keep integer and bool tensors as they are, and give
    bfloat16's raw 16-bit words as float32): an integer or bool tensor where a weight goes is a
    wrong file, and casting it to float gives a model that runs and answers nonsense. A nan or
    inf makes every answer nan. Both are named, with the file.
    """
    where = ", ".join(map(str, source)) if isinstance(source, (list, tuple)) else str(source)
    wrong = [f"{k} ({np.asarray(v).dtype})" for k, v in state.items()
             if not np.issubdtype(np.asarray(v).dtype, np.floating)]
    if wrong:
        raise checkpoint.CheckpointError(
            f"{where}: {len(wrong)} weight(s) are stored as integers or booleans, not floats: "
            + ", ".join(wrong[:8]) + (" ..." if len(wrong) > 8 else "")
            + ". A weight must be a float tensor (float32, float16, bfloat16 or float64): the file is "
              "damaged or was not written as a model checkpoint")
    bad = [k for k, v in state.items() if not np.isfinite(v).all()]
    if bad:
        counts = [f"{k} ({int(np.size(state[k]) - np.isfinite(state[k]).sum())} of {np.size(state[k])} values)"
                  for k in bad[:8]]
        raise checkpoint.CheckpointError(
            f"{where}: {len(bad)} weight(s) hold nan or inf: " + ", ".join(counts)
            + (" ..." if len(bad) > 8 else "") + ". Every answer of this model would be nan: load an earlier "
              "checkpoint (a training run that diverged) or download the file again")


_HEAD_ROOTS = ("predictions", "sop_classifier", "classifier", "qa_outputs")

COMPUTE_DTYPES = {"float32": np.float32, "float64": np.float64}      # float64 ok: numerical checks
HALF_DTYPES = ("float16", "bfloat16", "half")


def compute_dtype(dtype):
    """The NumPy dtype a model computes in, from from_pretrained's `dtype`.

    None / "auto" / float32 -> float32; float64 -> float64. "float16" / "bfloat16" (as a
    string, a NumPy dtype, or torch.float16 / torch.bfloat16, read by name without torch)
    give float32 with a warning: NumPy has no bfloat16 arithmetic and its float16 matmuls
    are slow, so albert_np computes in float32 (half-precision checkpoints load either way,
    and save_pretrained(storage_dtype="bfloat16") stores half-precision weights).
    Anything else raises ValueError listing what is supported.
    """
    if dtype is None or (isinstance(dtype, str) and dtype == "auto"):
        return np.dtype(np.float32)
    name = str(dtype).replace("torch.", "") if isinstance(dtype, str) or type(dtype).__module__ == "torch" \
        else None
    if name is None:
        try:
            name = np.dtype(dtype).name
        except TypeError:
            name = repr(dtype)
    if name in COMPUTE_DTYPES:
        return np.dtype(COMPUTE_DTYPES[name])
    if name in HALF_DTYPES:
        logger.warning("dtype=%r: albert_np computes in float32 (NumPy has no bfloat16 arithmetic, and its "
                       "float16 matmuls are slow), so the weights are held as float32; half-precision "
                       "checkpoints load either way. To store bfloat16 / float16 weights, use "
                       "save_pretrained(folder, storage_dtype=%r)", name,
                       "float16" if name == "half" else name)
        return np.dtype(np.float32)
    raise ValueError(f"dtype={dtype!r} is not supported: albert_np computes in float32 ('auto', the default) "
                     f"or float64 (for numerical checks); 'float16' and 'bfloat16' are accepted and give "
                     f"float32, and checkpoints stored in either load as float32")


def _assemble(state, config, head, dtype, fallback=None, ignore_mismatched_sizes=False, source="the checkpoint"):
    """Loaded weights + (fallback or fresh) weights for what is missing, tied as HF ties them.

    The weights used are checked first (check_weights: float, finite; `source` names the file).
    Returns (flat params, missing names, unexpected names, mismatched shapes as text).
    """
    state, missing, unexpected, mismatched = adapt_state_dict(dict(state), config, head, ignore_mismatched_sizes)
    check_weights(state, source)
    flat = {k: np.asarray(v, dtype=dtype) for k, v in state.items()}
    if missing:
        if fallback is None:
            shapes = expected_shapes(config, head)
            fallback = init_weights({k: s for k, s in shapes.items() if k in missing}, config, 0, dtype)
        flat.update({k: fallback[k] for k in missing})
    if config.tie_word_embeddings:
        tie_decoder(flat, ("albert." if head else "") + "embeddings.word_embeddings.weight")
    return flat, missing, unexpected, mismatched


# ------------------------------------------------------------------ classes
class AlbertModel(AlbertPreTrainedModel):
    """The bare encoder: last_hidden_state (B, T, H) and pooler_output (B, H)."""

    head = None
    output_type = BaseModelOutputWithPooling

    def forward(self, input_ids: Optional[ArrayLike] = None, attention_mask: Optional[ArrayLike] = None,
                token_type_ids: Optional[ArrayLike] = None, position_ids: Optional[ArrayLike] = None,
                inputs_embeds: Optional[ArrayLike] = None, head_mask: Optional[ArrayLike] = None,
                output_attentions: Optional[bool] = None,
                output_hidden_states: Optional[bool] = None,
                return_dict: bool = True) -> Union[BaseModelOutputWithPooling, tuple]:
        inputs = dict(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                      position_ids=position_ids, inputs_embeds=inputs_embeds, head_mask=head_mask)
        return self._forward(inputs, {}, output_attentions, output_hidden_states, return_dict)


class AlbertForPreTraining(AlbertPreTrainedModel):
    """MLM + sentence-order prediction heads; loss = MLM CE + SOP CE when both labels given."""

    head = "pretraining"
    output_type = AlbertForPreTrainingOutput
    label_names = ("labels", "sentence_order_label")

    def forward(self, input_ids: Optional[ArrayLike] = None, attention_mask: Optional[ArrayLike] = None,
                token_type_ids: Optional[ArrayLike] = None, position_ids: Optional[ArrayLike] = None,
                inputs_embeds: Optional[ArrayLike] = None, head_mask: Optional[ArrayLike] = None,
                labels: Optional[ArrayLike] = None, sentence_order_label: Optional[ArrayLike] = None,
                output_attentions: Optional[bool] = None,
                output_hidden_states: Optional[bool] = None,
                return_dict: bool = True) -> Union[AlbertForPreTrainingOutput, tuple]:
        inputs = dict(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                      position_ids=position_ids, inputs_embeds=inputs_embeds, head_mask=head_mask)
        return self._forward(inputs, {"labels": labels, "sentence_order_label": sentence_order_label},
                             output_attentions, output_hidden_states, return_dict)


class AlbertForMaskedLM(AlbertPreTrainedModel):
    """Masked-token prediction: logits (B, T, V); decoder tied to the word embeddings."""

    head = "mlm"
    output_type = MaskedLMOutput
    label_names = ("labels",)

    def forward(self, input_ids: Optional[ArrayLike] = None, attention_mask: Optional[ArrayLike] = None,
                token_type_ids: Optional[ArrayLike] = None, position_ids: Optional[ArrayLike] = None,
                inputs_embeds: Optional[ArrayLike] = None, head_mask: Optional[ArrayLike] = None,
                labels: Optional[ArrayLike] = None, output_attentions: Optional[bool] = None,
                output_hidden_states: Optional[bool] = None,
                return_dict: bool = True) -> Union[MaskedLMOutput, tuple]:
        inputs = dict(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                      position_ids=position_ids, inputs_embeds=inputs_embeds, head_mask=head_mask)
        return self._forward(inputs, {"labels": labels}, output_attentions, output_hidden_states, return_dict)


class AlbertForSequenceClassification(AlbertPreTrainedModel):
    """Linear on the pooled [CLS] vector: logits (B, num_labels).

    The loss follows config.problem_type, inferred when unset exactly as HF:
    num_labels == 1 -> regression (MSE); integer labels -> single-label (CE);
    otherwise multi-label (BCE with logits). Unlike HF, the inferred type is not
    written back into the config.
    """

    head = "sequence"
    output_type = SequenceClassifierOutput
    label_names = ("labels",)

    def forward(self, input_ids: Optional[ArrayLike] = None, attention_mask: Optional[ArrayLike] = None,
                token_type_ids: Optional[ArrayLike] = None, position_ids: Optional[ArrayLike] = None,
                inputs_embeds: Optional[ArrayLike] = None, head_mask: Optional[ArrayLike] = None,
                labels: Optional[ArrayLike] = None, output_attentions: Optional[bool] = None,
                output_hidden_states: Optional[bool] = None,
                return_dict: bool = True) -> Union[SequenceClassifierOutput, tuple]:
        inputs = dict(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                      position_ids=position_ids, inputs_embeds=inputs_embeds, head_mask=head_mask)
        return self._forward(inputs, {"labels": labels}, output_attentions, output_hidden_states, return_dict)


class AlbertForTokenClassification(AlbertPreTrainedModel):
    """Linear on every token's vector: logits (B, T, num_labels); labels -100 ignored."""

    head = "token"
    output_type = TokenClassifierOutput
    label_names = ("labels",)

    def forward(self, input_ids: Optional[ArrayLike] = None, attention_mask: Optional[ArrayLike] = None,
                token_type_ids: Optional[ArrayLike] = None, position_ids: Optional[ArrayLike] = None,
                inputs_embeds: Optional[ArrayLike] = None, head_mask: Optional[ArrayLike] = None,
                labels: Optional[ArrayLike] = None, output_attentions: Optional[bool] = None,
                output_hidden_states: Optional[bool] = None,
                return_dict: bool = True) -> Union[TokenClassifierOutput, tuple]:
        inputs = dict(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                      position_ids=position_ids, inputs_embeds=inputs_embeds, head_mask=head_mask)
        return self._forward(inputs, {"labels": labels}, output_attentions, output_hidden_states, return_dict)


class AlbertForQuestionAnswering(AlbertPreTrainedModel):
    """Span scores: start_logits, end_logits (B, T).

    Loss as HF: positions clamped to [0, T]; T itself is ignored; mean of the
    start and end cross-entropies.
    """

    head = "qa"
    output_type = QuestionAnsweringModelOutput
    label_names = ("start_positions", "end_positions")

    def forward(self, input_ids: Optional[ArrayLike] = None, attention_mask: Optional[ArrayLike] = None,
                token_type_ids: Optional[ArrayLike] = None, position_ids: Optional[ArrayLike] = None,
                inputs_embeds: Optional[ArrayLike] = None, head_mask: Optional[ArrayLike] = None,
                start_positions: Optional[ArrayLike] = None, end_positions: Optional[ArrayLike] = None,
                output_attentions: Optional[bool] = None,
                output_hidden_states: Optional[bool] = None,
                return_dict: bool = True) -> Union[QuestionAnsweringModelOutput, tuple]:
        if self.config.num_labels != 2:
            raise ValueError(f"question answering needs num_labels=2 (start, end), "
                             f"the config has {self.config.num_labels}")
        inputs = dict(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                      position_ids=position_ids, inputs_embeds=inputs_embeds, head_mask=head_mask)
        return self._forward(inputs, {"start_positions": start_positions, "end_positions": end_positions},
                             output_attentions, output_hidden_states, return_dict)


class AlbertForMultipleChoice(AlbertPreTrainedModel):
    """Inputs (B, C, T): each choice scored from its pooled vector; logits (B, C)."""

    head = "multiple_choice"
    output_type = MultipleChoiceModelOutput
    label_names = ("labels",)

    def forward(self, input_ids: Optional[ArrayLike] = None, attention_mask: Optional[ArrayLike] = None,
                token_type_ids: Optional[ArrayLike] = None, position_ids: Optional[ArrayLike] = None,
                inputs_embeds: Optional[ArrayLike] = None, head_mask: Optional[ArrayLike] = None,
                labels: Optional[ArrayLike] = None, output_attentions: Optional[bool] = None,
                output_hidden_states: Optional[bool] = None,
                return_dict: bool = True) -> Union[MultipleChoiceModelOutput, tuple]:
        inputs = dict(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                      position_ids=position_ids, inputs_embeds=inputs_embeds, head_mask=head_mask)
        return self._forward(inputs, {"labels": labels}, output_attentions, output_hidden_states, return_dict)


MODEL_CLASSES = {c.__name__: c for c in (
    AlbertModel, AlbertForPreTraining, AlbertForMaskedLM, AlbertForSequenceClassification,
    AlbertForTokenClassification, AlbertForQuestionAnswering, AlbertForMultipleChoice)}


def model_class(head):
    """The class of a head (a key of heads.HEADS), as the table names it."""
    return MODEL_CLASSES[HEADS[head].model_class]
