"""Hugging Face-named classes over the plain functions of model.py.

`AlbertModel`, `AlbertForMaskedLM`, ... load and save HF checkpoints and take
HF's call signature (input_ids, attention_mask, token_type_ids, position_ids,
inputs_embeds, head_mask, labels, output_attentions, output_hidden_states), so
code written for transformers runs with `return_tensors="np"`. Outputs are
dataclasses with HF's field names. The classes hold only config and params:
all the maths is in model.py.
"""
import dataclasses
import logging
import os
from typing import Optional

import numpy as np

from . import checkpoint
from .config import AlbertConfig
from .model import (albert_model, check_inputs, flatten, mlm_head, multiple_choice_head, nest,
                    question_answering_head, sequence_classification_head, sop_head,
                    token_classification_head)
from .ops import activation

logger = logging.getLogger(__name__)


# ------------------------------------------------------------------ outputs
class ModelOutput:
    """Dataclass base with HF ModelOutput's access styles.

    out.logits, out["logits"], out[0] (the non-None fields in order, as HF),
    `"logits" in out`, out.keys(), out.to_tuple().
    """

    def to_tuple(self):
        return tuple(getattr(self, f.name) for f in dataclasses.fields(self)
                     if getattr(self, f.name) is not None)

    def keys(self):
        return [f.name for f in dataclasses.fields(self) if getattr(self, f.name) is not None]

    def items(self):
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
class AlbertPreTrainedModel:
    """Config + nested params, loading/saving, and the shared encoder call.

    Subclasses set `head` (see checkpoint.expected_shapes) and define `forward`.
    """

    head = None

    def __init__(self, config, params=None, seed=0, dtype=np.float32):
        if not isinstance(config, AlbertConfig):
            raise TypeError(f"config must be an AlbertConfig, got {type(config).__name__}")
        self.config = config
        self.dtype = np.dtype(dtype)
        if params is None:
            params = nest(init_weights(config, self.head, seed, self.dtype))
        self.params = params
        self.loaded_files = []
        self.training = False

    # -- parameters ----------------------------------------------------------
    def state_dict(self):
        """Flat {HF name: array} (the arrays themselves, not copies)."""
        return flatten(self.params)

    def load_state_dict(self, state, strict=True):
        """Load a flat HF state dict; returns (missing, unexpected) key lists.

        Weights absent from `state` keep their current values (strict=False) or
        raise (strict=True).
        """
        flat, missing, unexpected = _assemble(state, self.config, self.head, self.dtype,
                                              fallback=flatten(self.params))
        if strict and (missing or unexpected):
            raise checkpoint.CheckpointError(_key_report(missing, unexpected))
        self.params = nest(flat)
        return missing, unexpected

    def num_parameters(self):
        """Distinct parameters (tied arrays counted once)."""
        seen = {}
        for v in self.state_dict().values():
            seen[id(v)] = v.size
        return int(sum(seen.values()))

    def eval(self):
        """Inference mode (the only mode of these classes; training uses backprop.py)."""
        self.training = False
        return self

    # -- files ---------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, name_or_path, *, revision=None, cache_dir=None, local_files_only=False,
                        dtype=np.float32, config=None, **config_overrides):
        """Load config.json + safetensors weights from a folder or a Hub repo id.

        dtype: float32 (default; fp16 / bf16 checkpoints are converted), "auto"
        (= float32, NumPy's fast path), or float64 for numerical checks.
        config_overrides: e.g. num_labels=3 for a fresh classification head.
        Weights the file lacks (a new head, the SOP head of the released
        checkpoints) are initialised as HF does and reported in a log line.
        """
        if dtype is None or (isinstance(dtype, str) and dtype == "auto"):
            dtype = np.float32
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):   # float64 ok: gradient checks
            raise ValueError(f"dtype must be float32 or float64 (NumPy computes in these), got {dtype}")
        kw = dict(revision=revision, cache_dir=cache_dir, local_files_only=local_files_only)
        if config is None:
            config = AlbertConfig.from_pretrained(name_or_path, **kw, **config_overrides)
        state, paths = checkpoint.load_state_dict(name_or_path, dtype=dtype, **kw)
        flat, missing, unexpected = _assemble(state, config, cls.head, dtype)
        model = cls(config, params=nest(flat), dtype=dtype)
        if missing:          # newly initialised weights: worth a warning, as in transformers
            logger.warning("%s from %s: %s", cls.__name__, name_or_path, _key_report(missing, unexpected))
        elif unexpected:     # e.g. a pretraining checkpoint's SOP head, unused by an MLM model
            logger.info("%s from %s: %s", cls.__name__, name_or_path, _key_report(missing, unexpected))
        model.loaded_files = paths
        model.name_or_path = str(name_or_path)
        return model

    def save_pretrained(self, folder, storage_dtype=None):
        """Write config.json and model.safetensors (atomically) in HF's format.

        storage_dtype: None (as computed, float32), "float16" or "bfloat16".
        transformers' from_pretrained loads the folder back.
        """
        os.makedirs(folder, exist_ok=True)
        d = self.config.to_dict()
        d["architectures"] = [type(self).__name__]
        AlbertConfig.from_dict(d).save_pretrained(folder)
        checkpoint.save_state_dict(self.state_dict(), folder, storage_dtype=storage_dtype)

    # -- the shared encoder call ------------------------------------------------
    def _encode(self, input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds,
                head_mask, output_attentions, output_hidden_states):
        args = check_inputs(self.config, input_ids, attention_mask, token_type_ids, position_ids,
                            inputs_embeds, head_mask)
        return albert_model(self.params["albert"] if self.head else self.params, self.config, *args,
                            output_hidden_states=output_hidden_states,
                            output_attentions=output_attentions)

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def __repr__(self):
        c = self.config
        return (f"{type(self).__name__}(V={c.vocab_size}, E={c.embedding_size}, H={c.hidden_size}, "
                f"L={c.num_hidden_layers}, G={c.num_hidden_groups}, A={c.num_attention_heads}, "
                f"params={self.num_parameters():,})")


def _key_report(missing, unexpected):
    parts = []
    if missing:
        parts.append(f"{len(missing)} weights not in the checkpoint, newly initialised: "
                     + ", ".join(missing[:8]) + (" ..." if len(missing) > 8 else ""))
    if unexpected:
        parts.append(f"{len(unexpected)} checkpoint weights not used by this model: "
                     + ", ".join(unexpected[:8]) + (" ..." if len(unexpected) > 8 else ""))
    return "; ".join(parts)


def _assemble(state, config, head, dtype, fallback=None):
    """Loaded weights + (fallback or fresh) weights for what is missing, tied as HF ties them.

    Returns (flat params, missing names, unexpected names).
    """
    state, missing, unexpected = checkpoint.adapt_state_dict(dict(state), config, head)
    flat = {k: np.asarray(v, dtype=dtype) for k, v in state.items()}
    if missing:
        fresh = fallback if fallback is not None else init_weights(config, head, 0, dtype, only=missing)
        flat.update({k: fresh[k] for k in missing})
    word = ("albert." if head else "") + "embeddings.word_embeddings.weight"
    if "predictions.decoder.weight" in flat and config.tie_word_embeddings:
        flat["predictions.decoder.weight"] = flat[word]
        flat["predictions.decoder.bias"] = flat["predictions.bias"]
    return flat, missing, unexpected


def init_weights(config, head, seed=0, dtype=np.float32, only=None):
    """Fresh weights as transformers initialises them.

    Linear / embedding weights ~ N(0, initializer_range), biases 0, LayerNorm
    (1, 0), the padding row of the word embeddings 0, the MLM bias 0.
    only: restrict to these names (e.g. a new head on a loaded encoder).
    """
    rng = np.random.default_rng(seed)
    state = {}
    for name, shape in checkpoint.expected_shapes(config, head).items():
        if only is not None and name not in only:
            continue
        if "LayerNorm" in name or "layer_norm" in name:
            value = np.ones(shape) if name.endswith("weight") else np.zeros(shape)
        elif name.endswith("bias"):
            value = np.zeros(shape)
        else:
            value = rng.normal(0.0, config.initializer_range, size=shape)
        state[name] = value.astype(dtype)
    word = ("albert." if head else "") + "embeddings.word_embeddings.weight"
    if word in state and config.pad_token_id is not None and 0 <= config.pad_token_id < config.vocab_size:
        state[word][config.pad_token_id] = 0
    if "predictions.decoder.weight" in state and word in state:
        state["predictions.decoder.weight"] = state[word]
        state["predictions.decoder.bias"] = state["predictions.bias"]
    return state


def _check_labels(name, labels, shape, integer=True):
    labels = np.asarray(labels)
    if integer and not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"{name} must be integers (class indices), got dtype {labels.dtype}")
    if labels.shape != tuple(shape) and labels.size != int(np.prod(shape)):
        raise ValueError(f"{name} has shape {labels.shape}; expected {tuple(shape)}")
    return labels.reshape(shape)


def _ce(logits, labels, ignore_index=-100):
    from .losses import cross_entropy
    return cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=ignore_index)[0]


# ------------------------------------------------------------------ classes
class AlbertModel(AlbertPreTrainedModel):
    """The bare encoder: last_hidden_state (B, T, H) and pooler_output (B, H)."""

    head = None

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                inputs_embeds=None, head_mask=None, output_attentions=False,
                output_hidden_states=False, return_dict=True):
        out = self._encode(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds,
                           head_mask, output_attentions, output_hidden_states)
        out = BaseModelOutputWithPooling(**out)
        return out if return_dict else out.to_tuple()


class AlbertForPreTraining(AlbertPreTrainedModel):
    """MLM + sentence-order prediction heads; loss = MLM CE + SOP CE when both labels given."""

    head = "pretraining"

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                inputs_embeds=None, head_mask=None, labels=None, sentence_order_label=None,
                output_attentions=False, output_hidden_states=False, return_dict=True):
        enc = self._encode(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds,
                           head_mask, output_attentions, output_hidden_states)
        c = self.config
        logits = mlm_head(enc["last_hidden_state"], **self.params["predictions"],
                          act=activation(c.hidden_act), eps=c.layer_norm_eps)       # (B, T, V)
        sop = sop_head(enc["pooler_output"], **self.params["sop_classifier"])      # (B, 2)
        loss = None
        if labels is not None and sentence_order_label is not None:
            labels = _check_labels("labels", labels, logits.shape[:2])
            sol = _check_labels("sentence_order_label", sentence_order_label, sop.shape[:1])
            loss = _ce(logits, labels) + _ce(sop, sol)
        out = AlbertForPreTrainingOutput(loss, logits, sop, enc["hidden_states"], enc["attentions"])
        return out if return_dict else out.to_tuple()


class AlbertForMaskedLM(AlbertPreTrainedModel):
    """Masked-token prediction: logits (B, T, V); decoder tied to the word embeddings."""

    head = "mlm"

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                inputs_embeds=None, head_mask=None, labels=None, output_attentions=False,
                output_hidden_states=False, return_dict=True):
        enc = self._encode(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds,
                           head_mask, output_attentions, output_hidden_states)
        c = self.config
        logits = mlm_head(enc["last_hidden_state"], **self.params["predictions"],
                          act=activation(c.hidden_act), eps=c.layer_norm_eps)       # (B, T, V)
        loss = None
        if labels is not None:
            loss = _ce(logits, _check_labels("labels", labels, logits.shape[:2]))
        out = MaskedLMOutput(loss, logits, enc["hidden_states"], enc["attentions"])
        return out if return_dict else out.to_tuple()


class AlbertForSequenceClassification(AlbertPreTrainedModel):
    """Linear on the pooled [CLS] vector: logits (B, num_labels).

    The loss follows config.problem_type, inferred when unset exactly as HF:
    num_labels == 1 -> regression (MSE); integer labels -> single-label (CE);
    otherwise multi-label (BCE with logits). Unlike HF, the inferred type is not
    written back into the config.
    """

    head = "sequence"

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                inputs_embeds=None, head_mask=None, labels=None, output_attentions=False,
                output_hidden_states=False, return_dict=True):
        enc = self._encode(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds,
                           head_mask, output_attentions, output_hidden_states)
        logits = sequence_classification_head(enc["pooler_output"], classifier=self.params["classifier"])
        loss = None
        if labels is not None:
            from .losses import sequence_classification_loss
            labels = np.asarray(labels)
            n = self.config.num_labels
            ptype = self.config.problem_type or infer_problem_type(n, labels)
            B = logits.shape[0]
            if ptype == "single_label_classification":
                labels = _check_labels("labels", labels, (B,))
            elif ptype == "multi_label_classification":
                labels = _check_labels("labels", labels, (B, n), integer=False).astype(logits.dtype)
            else:
                labels = _check_labels("labels", labels, (B,) if n == 1 else (B, n), integer=False)
                labels = labels.astype(logits.dtype)
            loss = sequence_classification_loss(logits, labels, n, ptype)[0]
        out = SequenceClassifierOutput(loss, logits, enc["hidden_states"], enc["attentions"])
        return out if return_dict else out.to_tuple()


def infer_problem_type(num_labels, labels):
    """HF's rule: 1 label -> regression; integer labels -> single-label; else multi-label."""
    if num_labels == 1:
        return "regression"
    if np.issubdtype(np.asarray(labels).dtype, np.integer):
        return "single_label_classification"
    return "multi_label_classification"


class AlbertForTokenClassification(AlbertPreTrainedModel):
    """Linear on every token's vector: logits (B, T, num_labels); labels -100 ignored."""

    head = "token"

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                inputs_embeds=None, head_mask=None, labels=None, output_attentions=False,
                output_hidden_states=False, return_dict=True):
        enc = self._encode(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds,
                           head_mask, output_attentions, output_hidden_states)
        logits = token_classification_head(enc["last_hidden_state"], classifier=self.params["classifier"])
        loss = None
        if labels is not None:
            loss = _ce(logits, _check_labels("labels", labels, logits.shape[:2]))
        out = TokenClassifierOutput(loss, logits, enc["hidden_states"], enc["attentions"])
        return out if return_dict else out.to_tuple()


class AlbertForQuestionAnswering(AlbertPreTrainedModel):
    """Span scores: start_logits, end_logits (B, T).

    Loss as HF: positions clamped to [0, T]; T itself is ignored; mean of the
    start and end cross-entropies.
    """

    head = "qa"

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                inputs_embeds=None, head_mask=None, start_positions=None, end_positions=None,
                output_attentions=False, output_hidden_states=False, return_dict=True):
        if self.config.num_labels != 2:
            raise ValueError(f"question answering needs num_labels=2 (start, end), "
                             f"the config has {self.config.num_labels}")
        enc = self._encode(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds,
                           head_mask, output_attentions, output_hidden_states)
        start, end = question_answering_head(enc["last_hidden_state"], qa_outputs=self.params["qa_outputs"])
        loss = None
        if start_positions is not None and end_positions is not None:
            from .losses import question_answering_loss
            B = start.shape[0]
            sp = _check_labels("start_positions", start_positions, (B,))
            ep = _check_labels("end_positions", end_positions, (B,))
            loss = question_answering_loss(start, end, sp, ep)[0]
        out = QuestionAnsweringModelOutput(loss, start, end, enc["hidden_states"], enc["attentions"])
        return out if return_dict else out.to_tuple()


class AlbertForMultipleChoice(AlbertPreTrainedModel):
    """Inputs (B, C, T): each choice scored from its pooled vector; logits (B, C)."""

    head = "multiple_choice"

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                inputs_embeds=None, head_mask=None, labels=None, output_attentions=False,
                output_hidden_states=False, return_dict=True):
        ref = input_ids if input_ids is not None else inputs_embeds
        if ref is None:
            raise ValueError("pass exactly one of input_ids or inputs_embeds (got neither)")
        ref = np.asarray(ref)
        want = 3 if input_ids is not None else 4
        if ref.ndim != want:
            raise ValueError(f"multiple choice inputs must be (batch, choices, tokens{', E' if want == 4 else ''}),"
                             f" got shape {ref.shape}")
        B, C = ref.shape[:2]

        def flat(x):                                     # (B, C, T, ...) -> (B*C, T, ...)
            return None if x is None else np.asarray(x).reshape(B * C, *np.asarray(x).shape[2:])
        enc = self._encode(flat(input_ids), flat(attention_mask), flat(token_type_ids),
                           flat(position_ids) if position_ids is not None and np.ndim(position_ids) == 3
                           else position_ids, flat(inputs_embeds), head_mask, output_attentions,
                           output_hidden_states)
        logits = multiple_choice_head(enc["pooler_output"], classifier=self.params["classifier"], num_choices=C)
        loss = None
        if labels is not None:
            loss = _ce(logits, _check_labels("labels", labels, (B,)))
        out = MultipleChoiceModelOutput(loss, logits, enc["hidden_states"], enc["attentions"])
        return out if return_dict else out.to_tuple()


MODEL_CLASSES = {c.__name__: c for c in (
    AlbertModel, AlbertForPreTraining, AlbertForMaskedLM, AlbertForSequenceClassification,
    AlbertForTokenClassification, AlbertForQuestionAnswering, AlbertForMultipleChoice)}
