"""SentencePiece model files without the protobuf library, and their tokenizer.json counterpart.

A spiece.model is a serialised ModelProto (sentencepiece_model.proto): pieces with scores and types,
a TrainerSpec and a NormalizerSpec. The few fields ALBERT needs are written and read here by hand
(protobuf's wire format: varints, length-delimited bytes, fixed32 floats).

transformers 5 describes the same tokenizer in the `tokenizers` library's tokenizer.json:
sentencepiece_model_from_tokenizer_json rebuilds a spiece.model from one, tokenizer_json writes one.
"""
import base64
import binascii
import math

from ..io import read_json
from ..formats.protobuf_wire import field_bytes, field_float, field_varint, read_fields
from .normalization import SPIECE_UNDERLINE


# SentencePiece ModelProto field numbers (sentencepiece_model.proto).
_PIECE_TYPES = {"NORMAL": 1, "UNKNOWN": 2, "CONTROL": 3, "USER_DEFINED": 4, "UNUSED": 5, "BYTE": 6}


def sentencepiece_model_proto(pieces, *, precompiled_charsmap=b"", normalizer_name="nmt_nfkc",
                              add_dummy_prefix=True):
    """Serialise a unigram SentencePiece ModelProto by hand (no protobuf library needed).

    Args:
        pieces: list of (piece, score, type) with type a key of _PIECE_TYPES.
        precompiled_charsmap: the model's normaliser table (bytes); empty for no normalisation.
    Returns:
        bytes that SentencePieceProcessor(model_proto=...) loads.
    """
    types = [t for _, _, t in pieces]
    if types.count("UNKNOWN") != 1:
        raise ValueError(f"a SentencePiece model needs exactly one UNKNOWN piece, got {types.count('UNKNOWN')}")
    ids = {t: i for i, (_, _, t) in reversed(list(enumerate(pieces)))}
    pad_id = next((i for i, (p, _, t) in enumerate(pieces) if p == "<pad>" and t == "CONTROL"), -1)
    out = bytearray()
    for piece, score, kind in pieces:                 # ModelProto.pieces = 1
        out += field_bytes(1, field_bytes(1, piece) + field_float(2, score)
                            + field_varint(3, _PIECE_TYPES[kind]))
    trainer = (field_varint(3, 1) + field_varint(4, len(pieces))      # model_type UNIGRAM, vocab_size
               + field_varint(40, ids["UNKNOWN"]) + field_varint(41, -1)  # unk_id, bos_id
               + field_varint(42, -1) + field_varint(43, pad_id))       # eos_id, pad_id
    out += field_bytes(2, trainer)                   # ModelProto.trainer_spec = 2
    normalizer = (field_bytes(1, normalizer_name if precompiled_charsmap else "identity")
                  + field_bytes(2, precompiled_charsmap) + field_varint(3, add_dummy_prefix)
                  + field_varint(4, True) + field_varint(5, True))
    out += field_bytes(3, normalizer)                # ModelProto.normalizer_spec = 3
    return bytes(out)


def model_proto_problem(model_proto):
    """What makes a serialised SentencePiece model incomplete, in words; None when it is whole.

    A ModelProto holds its pieces (field 1), then its TrainerSpec (2) and NormalizerSpec (3).
    A file cut between two pieces is still a valid protobuf message, and sentencepiece loads it:
    with fewer pieces and no normaliser (the ids of everything else change, silently). So a
    model must have pieces and a NormalizerSpec, and when its TrainerSpec gives the vocabulary
    size with a hard limit (as training writes it), exactly that many pieces.
    """
    pieces, trainer, normalizer = 0, None, None
    try:
        for number, value in read_fields(memoryview(model_proto)):
            if number == 1:
                pieces += 1
            elif number == 2:
                trainer = value
            elif number == 3:
                normalizer = value
    except (IndexError, ValueError):
        return "its bytes are not a protobuf message (the file is damaged or cut short)"
    if pieces == 0:
        return "it has no pieces"
    if normalizer is None:
        return (f"it ends after piece {pieces - 1} without its normaliser settings (NormalizerSpec): "
                f"the file was cut short")
    if trainer is not None:
        fields = dict(read_fields(trainer))
        size, hard = fields.get(4), fields.get(33, 1)      # vocab_size, hard_vocab_limit (default true)
        if size is not None and hard and size != pieces:
            return f"it has {pieces} pieces, but its TrainerSpec says vocab_size {size}"
    return None


def read_normalizer_spec(model_proto):
    """The NormalizerSpec of a serialised SentencePiece model, as a dict of the fields we use."""
    spec = {"name": "", "precompiled_charsmap": b"", "add_dummy_prefix": True}
    for number, value in read_fields(model_proto):
        if number == 3:
            for field, v in read_fields(value):
                if field == 1:
                    spec["name"] = bytes(v).decode("utf-8")
                elif field == 2:
                    spec["precompiled_charsmap"] = bytes(v)
                elif field == 3:
                    spec["add_dummy_prefix"] = bool(v)
    return spec


def read_piece_types(model_proto):
    """Type name ("NORMAL", "CONTROL", "USER_DEFINED", ...) of every piece of a serialised model.

    sentencepiece's Python API has is_control / is_unknown but no is_user_defined, so read the proto.
    """
    names = {number: name for name, number in _PIECE_TYPES.items()}
    types = []
    for number, value in read_fields(model_proto):
        if number == 1:                                   # ModelProto.pieces
            kind = 1                                      # NORMAL when the field is absent
            for field, v in read_fields(value):
                if field == 3:
                    kind = v
            types.append(names.get(kind, "NORMAL"))
    return types


def _find_in_tree(node, type_name):
    """Depth-first search of a tokenizer.json component tree for dicts with "type" == type_name."""
    if isinstance(node, dict):
        if node.get("type") == type_name:
            yield node
        for value in node.values():
            yield from _find_in_tree(value, type_name)
    elif isinstance(node, list):
        for value in node:
            yield from _find_in_tree(value, type_name)


def sentencepiece_model_from_tokenizer_json(path):
    """Rebuild a SentencePiece model from a transformers tokenizer.json with a Unigram model.

    The vocabulary and scores come from model.vocab, the normaliser table from the Precompiled
    normaliser, piece types from added_tokens (special -> CONTROL, normalized=False -> USER_DEFINED;
    a normalized one is a piece protected from splitting by add_tokens: it stays NORMAL).
    Returns:
        (model_proto bytes, settings dict with do_lower_case / keep_accents read from the normaliser
        and added_tokens, the file's list)
    """
    spec = read_json(path)          # ValueError naming the file: not UTF-8, not JSON, nested too deeply
    if not isinstance(spec, dict) or not isinstance(spec.get("model") or {}, dict):
        raise ValueError(f"{path} is not a tokenizer.json (no 'model' object): download or save the tokenizer again")
    try:
        return _model_from_spec(spec, path)
    except (KeyError, TypeError, IndexError, AttributeError, binascii.Error) as e:
        raise ValueError(f"{path} is not a complete tokenizer.json ({type(e).__name__}: {e}): download or "
                         f"save the tokenizer again") from e


def _model_from_spec(spec, path):
    """sentencepiece_model_from_tokenizer_json's work on the parsed file."""
    model = spec.get("model") or {}
    if model.get("type") != "Unigram":
        raise ValueError(f"{path} holds a {model.get('type')!r} model; an ALBERT tokenizer needs a "
                         f"SentencePiece Unigram model (spiece.model, or tokenizer.json with type Unigram)")
    vocab = model["vocab"]
    unk_id = model.get("unk_id")
    if unk_id is None:
        raise ValueError(f"{path}: the Unigram model has no unk_id, so no <unk> piece can be defined")
    check_unigram_vocab(vocab, unk_id, path)
    kinds = ["NORMAL"] * len(vocab)
    for token in spec.get("added_tokens") or []:
        if token["id"] < len(vocab) and vocab[token["id"]][0] == token["content"]:
            if token.get("special"):
                kinds[token["id"]] = "CONTROL"
            elif not token.get("normalized", False):
                kinds[token["id"]] = "USER_DEFINED"
    kinds[unk_id] = "UNKNOWN"
    charsmaps = [n["precompiled_charsmap"] for n in _find_in_tree(spec.get("normalizer"), "Precompiled")]
    charsmap = base64.b64decode(charsmaps[0]) if charsmaps and charsmaps[0] else b""
    metaspaces = list(_find_in_tree(spec.get("pre_tokenizer"), "Metaspace"))
    prepend = (metaspaces[0].get("prepend_scheme", "always") != "never"
               and metaspaces[0].get("add_prefix_space", True)) if metaspaces else True
    proto = sentencepiece_model_proto([(p, s, k) for (p, s), k in zip(vocab, kinds)],
                                      precompiled_charsmap=charsmap, add_dummy_prefix=prepend)
    normalizer = spec.get("normalizer")
    settings = {"do_lower_case": any(True for _ in _find_in_tree(normalizer, "Lowercase")),
                "keep_accents": not any(True for _ in _find_in_tree(normalizer, "StripAccents")),
                "added_tokens": list(spec.get("added_tokens") or [])}
    return proto, settings


def check_unigram_vocab(vocab, unk_id, path):
    """ValueError naming what is wrong with a tokenizer.json's Unigram vocabulary: its entries must be
    [piece, score] pairs (a non-empty str, a finite number), each piece once, and unk_id the index
    of one of them (-1 would make the last piece the unknown one)."""
    if not isinstance(vocab, list) or not vocab:
        raise ValueError(f"{path}: model.vocab must be a non-empty list of [piece, score] pairs")
    seen = {}
    for i, entry in enumerate(vocab):
        if not (isinstance(entry, (list, tuple)) and len(entry) == 2 and isinstance(entry[0], str) and entry[0]
                and isinstance(entry[1], (int, float)) and not isinstance(entry[1], bool)
                and math.isfinite(entry[1])):
            raise ValueError(f"{path}: model.vocab[{i}] is {entry!r:.80}, not a [piece, score] pair (a non-empty "
                             f"string and a finite number)")
        if entry[0] in seen:
            raise ValueError(f"{path}: the piece {entry[0]!r} is in model.vocab twice (ids {seen[entry[0]]} and "
                             f"{i}): each piece needs one id")
        seen[entry[0]] = i
    if isinstance(unk_id, bool) or not isinstance(unk_id, int) or not 0 <= unk_id < len(vocab):
        raise ValueError(f"{path}: model.unk_id is {unk_id!r}, not an id of the vocabulary (0..{len(vocab) - 1}): "
                         f"it must name the <unk> piece")


def tokenizer_json(tok):
    """The `tokenizers` library's description of AlbertTokenizer `tok` (what transformers 5 loads).

    The inverse of sentencepiece_model_from_tokenizer_json: the same pieces, scores and normaliser.
    """
    sp = tok.sp_model
    normalizer_spec = read_normalizer_spec(tok._model_proto)
    added = []                         # as transformers' converter: control/unk special, user-defined not
    for i, kind in enumerate(read_piece_types(tok._model_proto)):
        if kind in ("CONTROL", "UNKNOWN", "USER_DEFINED"):
            added.append({"id": i, "content": sp.id_to_piece(i), "single_word": False,
                          "lstrip": sp.id_to_piece(i) == tok.mask_token, "rstrip": False,
                          "normalized": False, "special": kind != "USER_DEFINED"})
    listed = {token["id"] for token in added}
    added += [{"id": i, **token.to_dict()} for i, token in tok._added_tokens.items() if i not in listed]
    added.sort(key=lambda token: token["id"])                # (add_tokens' tokens with the pieces' own)
    steps = [{"type": "Replace", "pattern": {"String": "``"}, "content": '"'},
             {"type": "Replace", "pattern": {"String": "''"}, "content": '"'}]
    if not tok.keep_accents:
        steps += [{"type": "NFKD"}, {"type": "StripAccents"}]
    if tok.do_lower_case:
        steps.append({"type": "Lowercase"})
    if normalizer_spec["precompiled_charsmap"]:
        steps.append({"type": "Precompiled", "precompiled_charsmap":
                      base64.b64encode(normalizer_spec["precompiled_charsmap"]).decode("ascii")})
    prepend = "always" if normalizer_spec["add_dummy_prefix"] else "never"
    metaspace = {"type": "Metaspace", "replacement": SPIECE_UNDERLINE, "prepend_scheme": prepend, "split": True}
    cls_, sep = tok.cls_token, tok.sep_token
    template = {
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": cls_, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                   {"SpecialToken": {"id": sep, "type_id": 0}}],
        "pair": [{"SpecialToken": {"id": cls_, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                 {"SpecialToken": {"id": sep, "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                 {"SpecialToken": {"id": sep, "type_id": 1}}],
        "special_tokens": {t: {"id": t, "ids": [tok._special_ids[t]], "tokens": [t]} for t in (cls_, sep)}}
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
            "normalizer": {"type": "Sequence", "normalizers": steps},
            "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"}, metaspace]},
            "post_processor": template, "decoder": metaspace,
            "model": {"type": "Unigram", "unk_id": tok.unk_token_id, "byte_fallback": False,
                      "vocab": [[sp.id_to_piece(i), float(sp.get_score(i))] for i in range(len(sp))]}}
