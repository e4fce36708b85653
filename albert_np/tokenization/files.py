"""A tokenizer's folder: the files it holds, reading its settings, writing them.

    spiece.model             the SentencePiece model (what transformers 4 loads)
    tokenizer.json           the same model for the `tokenizers` library (what transformers 5 loads)
    tokenizer_config.json    do_lower_case, keep_accents, model_max_length, special tokens, ...
    special_tokens_map.json  the special tokens again ([MASK] with lstrip=True)

The files are written into a staging folder swapped in as one unit (albert_np.io.staged_folder),
so a folder never holds files of two saves.
"""
import json
import logging
import os

from .. import hub
from ..io import atomic_write_bytes, read_json_object, staged_folder
from ..formats.tf_release import find_tf_release
from .added_tokens import saved_added_tokens
from .sentencepiece_proto import sentencepiece_model_from_tokenizer_json, tokenizer_json

logger = logging.getLogger(__name__)

VOCAB_FILE = "spiece.model"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
SPECIAL_TOKENS_MAP_FILE = "special_tokens_map.json"
TOKENIZER_JSON_FILE = "tokenizer.json"

SPECIAL_TOKEN_NAMES = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token",
                       "mask_token")                  # transformers' order, which all_special_tokens keeps
DEFAULT_MODEL_MAX_LENGTH = 512                        # ALBERT's position table has 512 rows


def pretrained_init_kwargs(name_or_path, *, class_name="AlbertTokenizer", **hub_options):
    """AlbertTokenizer's keyword arguments from a folder or a Hub repo (AlbertTokenizer.from_pretrained).

    vocab_file (spiece.model), or model_proto rebuilt from tokenizer.json, plus the settings of
    special_tokens_map.json and tokenizer_config.json that the tokenizer takes.
    hub_options: the loading options of hub.resolve_file (revision, token, subfolder, ...).
    """
    release = find_tf_release(name_or_path) if not hub_options.get("subfolder") else None
    if release is not None:                     # an original TF release: its 30k-clean.model
        name_or_path = os.path.dirname(os.path.abspath(release.prefix))

    def get(filename):
        return hub.resolve_file(name_or_path, filename, required=False, **hub_options)
    settings = {}
    for filename in (SPECIAL_TOKENS_MAP_FILE, TOKENIZER_CONFIG_FILE):
        path = get(filename)
        if path is not None:
            settings.update(read_json_object(path))        # ValueError naming the file when damaged
    init_kwargs = {}
    vocab_file = release.vocab_file if release is not None and release.vocab_file else get(VOCAB_FILE)
    if vocab_file is not None:
        init_kwargs["vocab_file"] = vocab_file
    else:
        json_file = get(TOKENIZER_JSON_FILE)
        if json_file is None:
            message = (f"{name_or_path!r} has neither {VOCAB_FILE} nor {TOKENIZER_JSON_FILE}: an ALBERT "
                       f"tokenizer needs its SentencePiece model. Point at a folder written by "
                       f"save_pretrained (albert_np or transformers), or train one with train_tokenizer()")
            if not hub.is_local(name_or_path):      # absent, or is the Hub out of reach? ask again
                try:
                    hub.resolve_file(name_or_path, VOCAB_FILE, required=True, **hub_options)
                except FileNotFoundError as e:
                    raise FileNotFoundError(message) from e
            raise FileNotFoundError(message)
        init_kwargs["model_proto"], from_json = sentencepiece_model_from_tokenizer_json(json_file)
        for key, value in from_json.items():
            settings.setdefault(key, value)
        logger.info("built the SentencePiece model of %s from its tokenizer.json", name_or_path)
    known = {"do_lower_case", "remove_space", "keep_accents", "sp_model_kwargs", "model_max_length",
             "clean_up_tokenization_spaces", "padding_side", *SPECIAL_TOKEN_NAMES}
    for key, value in settings.items():
        if key in known and value is not None:
            init_kwargs[key] = value
    try:         # the added tokens: tokenizer_config.json (transformers 4, albert_np), tokenizer.json (5)
        added = saved_added_tokens(settings.get("added_tokens_decoder"), settings.get("added_tokens"))
    except (TypeError, ValueError, KeyError, AttributeError) as e:
        raise ValueError(f"the added tokens of {name_or_path!r} (added_tokens_decoder in {TOKENIZER_CONFIG_FILE}, "
                         f"added_tokens in {TOKENIZER_JSON_FILE}) are damaged: {e}") from e
    if added:
        init_kwargs["added_tokens"] = added
    extra = settings.get("additional_special_tokens") or settings.get("extra_special_tokens")
    if isinstance(extra, list) and extra:      # (transformers 4.5x writes a dict of named tokens there)
        init_kwargs["additional_special_tokens"] = extra
    _check_settings(init_kwargs, name_or_path)
    if init_kwargs.get("model_max_length", 0) > 1e20:   # transformers writes int(1e30) for "none"
        init_kwargs["model_max_length"] = DEFAULT_MODEL_MAX_LENGTH
    ignored = sorted(set(settings) - known - {"added_tokens_decoder", "added_tokens", "additional_special_tokens",
                                              "extra_special_tokens"})
    if ignored:
        logger.debug("tokenizer settings not used by %s: %s", class_name, ignored)
    return init_kwargs


def _check_settings(kwargs, source):
    """TypeError naming the tokenizer_config.json field whose value has the wrong type."""
    where = f"{TOKENIZER_CONFIG_FILE} of {source}"
    for key in ("do_lower_case", "remove_space", "keep_accents", "clean_up_tokenization_spaces"):
        if key in kwargs and not isinstance(kwargs[key], bool):
            raise TypeError(f"{where}: {key} must be true or false, got {kwargs[key]!r:.80}")
    if "model_max_length" in kwargs:
        value = kwargs["model_max_length"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 1:
            raise ValueError(f"{where}: model_max_length must be a positive int, got {value!r:.80}")
    if "sp_model_kwargs" in kwargs:
        check_sp_model_kwargs(kwargs["sp_model_kwargs"], f"{where}: sp_model_kwargs")
    if "padding_side" in kwargs and kwargs["padding_side"] not in ("right", "left"):
        raise ValueError(f"{where}: padding_side must be 'right' or 'left', got {kwargs['padding_side']!r:.80}")


# The options of sentencepiece.SentencePieceProcessor that make sense for a saved tokenizer: subword
# regularisation (transformers documents these). The others would make the loader do something else:
# model_file opens any path (a pipe hangs, /dev/zero fills the memory), reverse reverses every text,
# add_bos / add_eos / emit_unk_piece / out_type change what encode returns.
SP_MODEL_KWARGS = {"enable_sampling": "true or false", "nbest_size": "an int", "alpha": "a number in [0, 1]"}


def check_sp_model_kwargs(kwargs, where):
    """TypeError / ValueError naming each sp_model_kwargs entry that is not one of SP_MODEL_KWARGS,
    or has the wrong type."""
    if not isinstance(kwargs, dict):
        raise TypeError(f"{where} must be a JSON object (a dict), got {kwargs!r:.80}")
    refused = sorted(str(k) for k in kwargs if k not in SP_MODEL_KWARGS)
    if refused:
        raise ValueError(f"{where} has {', '.join(map(repr, refused))}, which albert_np does not pass to "
                         f"SentencePiece: only {', '.join(SP_MODEL_KWARGS)} (subword regularisation) are "
                         f"allowed. Remove the others (tokenizer_config.json)")
    for key, value in kwargs.items():
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        ok = {"enable_sampling": isinstance(value, bool),
              "nbest_size": number and isinstance(value, int),
              "alpha": number and 0.0 <= value <= 1.0}[key]
        if value is not None and not ok:
            raise ValueError(f"{where}: {key} must be {SP_MODEL_KWARGS[key]}, got {value!r:.80}")


def save_pretrained(tok, save_directory):
    """Write AlbertTokenizer `tok` to a folder (AlbertTokenizer.save_pretrained); returns the paths."""
    added = {str(i): token.to_dict() for i, token in tok.added_tokens_decoder.items()}
    extra = {"additional_special_tokens": tok.additional_special_tokens} if tok.additional_special_tokens else {}
    config = {"added_tokens_decoder": added, **tok.special_tokens_map, **extra,
              "clean_up_tokenization_spaces": tok.clean_up_tokenization_spaces,
              "do_lower_case": tok.do_lower_case, "keep_accents": tok.keep_accents,
              "model_max_length": tok.model_max_length, "padding_side": tok.padding_side,
              "remove_space": tok.remove_space, "sp_model_kwargs": tok.sp_model_kwargs,
              "tokenizer_class": "AlbertTokenizer"}
    special_map = dict(tok.special_tokens_map, **extra)
    special_map["mask_token"] = {"content": tok.mask_token, "lstrip": True, "normalized": False,
                                 "rstrip": False, "single_word": False}
    files = {TOKENIZER_CONFIG_FILE: config, SPECIAL_TOKENS_MAP_FILE: special_map,
             TOKENIZER_JSON_FILE: tokenizer_json(tok)}
    with staged_folder(save_directory) as tmp:      # the four files replace the old ones as one unit
        tok.save_vocabulary(tmp)
        for name, content in files.items():
            atomic_write_bytes(os.path.join(tmp, name),
                               (json.dumps(content, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    return tuple(os.path.join(save_directory, name) for name in (VOCAB_FILE, *files))
