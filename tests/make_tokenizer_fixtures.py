"""Make the tokenizer test fixtures, and run the full parity check against the oracles.

    python tests/make_tokenizer_fixtures.py            # train the fixture vocabulary, record oracle outputs
    python tests/make_tokenizer_fixtures.py --parity   # >= 100,000 real lines: print mismatch counts

What it writes under tests/fixtures/tokenizer/:
  spiece.model                   a 1,000-piece vocabulary trained with ALBERT's recipe (train_tokenizer)
                                 on ~3.5 MB of ../shared/data text; it stands in for albert-base-v2's
  oracle_transformers4.json      what transformers 4.x's slow AlbertTokenizer (the oracle) returns on a
                                 hostile set and ~2,500 real lines: tokens, ids, pairs with truncation,
                                 padding, decode, split words, subword-sampling frequencies; and what its fast
                                 tokenizer returns for word_ids and overflowing windows where its ids agree
  transformers5_saved/           tokenizer.json + tokenizer_config.json written by transformers 5.x
                                 (which saves no spiece.model), to test loading such a folder

Oracles:
  * transformers 4.x (newest 4.57.6), in its own virtualenv because the project uses 5.x:
        python -m venv /tmp/tf4venv
        /tmp/tf4venv/bin/pip install "transformers==4.57.6" sentencepiece protobuf
    Set ALBERT_NP_TF4_PYTHON to use another interpreter. This file is also that oracle's worker
    (run as `python make_tokenizer_fixtures.py --oracle-worker` under the 4.x interpreter); the
    worker imports only transformers, never albert_np.
  * google-research/albert tokenization.py (FullTokenizer with an spm model, after the
    preprocess_text its run_* scripts apply), re-implemented below in ORIGINAL_ALBERT_ORACLE.
"""
import argparse
import csv
import hashlib
import json
import lzma
import os
import subprocess
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
FIXTURES = ROOT / "tests" / "fixtures" / "tokenizer"
ORACLE_FILE = FIXTURES / "oracle_transformers4.json"
TF4_PYTHON = os.environ.get("ALBERT_NP_TF4_PYTHON", "/tmp/tf4venv/bin/python")
SAMPLING = {"enable_sampling": True, "nbest_size": -1, "alpha": 0.1}
SAMPLED_TEXTS = ["Café 12,345,", "Hello world", "naive facade"]   # subword regularisation: short texts
SAMPLES = 3000                                                       # draws per text


# %% Inputs ----------------------------------------------------------------------------------------

def hostile_texts():
    """Inputs that break tokenizers: accents, CJK, emoji, odd spaces, controls, digit-commas, specials."""
    texts = [
        # accents, compatibility forms, case rules
        "Café Déjà vu, naïve façade", "Ångström Zoë Øresund", "cafe\u0301 (decomposed)", "e\u0301\u0301\u0301",
        "İstanbul İİ", "Straße STRASSE ß", "ΟΔΟΣ ΣΟΦΟΣ σοφός", "𝚺𝛀 𝚺", "Ⅻ ⅻ ① ② ½ ™ x² H₂O",
        "ﬁne ﬂow ﬃ", "ｆｕｌｌｗｉｄｔｈ Ｈｅｌｌｏ！", "ǅungla ǈ", "Å (angstrom sign)", "Tiếng Việt có dấu",
        # scripts
        "東京は日本の首都です。", "中文，标点。", "한국어 텍스트", "ｶﾀｶﾅ ﾊﾟﾝ", "Москва — столица России",
        "العربية لغة", "עברית", "हिन्दी भाषा", "ไทย ภาษา", "Ελληνικά",
        # emoji and symbols
        "I ❤️ NY 😀👍🏽", "👨‍👩‍👧 family", "∑ ∫ √ ≈ ≠", "© ® § ¶ † ‡", "£5 €10 $20 ¥30",
        # whitespace, invisible and control characters
        "", " ", "   ", "\t\n ", "a  b", "  leading", "trailing   ", "a\u00a0b\u00a0\u00a0c", "a\u200bb",
        "\u200b", "a\u200db\u200cc", "\ufeffbom", "tab\there", "new\nline\r\nwin", "\x00null\x00",
        "\x07bell\x1b[0m", "soft\u00adhyphen", "line\u2028sep\u2029para", "ideo\u3000space",
        "\x1c\x1d\x1e\x1f", "\x85next", "a \u0301b", "´acute ¨diaeresis", "\u0301lead",
        # digit-commas
        "12,345,", "1,000,000", "In 1990, 1991, and 1992, it rained.", "3,", "x3,", "12,", "$1,234.56,",
        "2,3,4,5,", " 7,", "٣,٤,", "²,", "No. 10, Downing", "1,2", "99,,", "0,", "a1b2,",
        # quotes
        "``quoted''", "```", "''''", "'single'", "`tick`", "“curly” ‘x’", "he said ``hi'' and left",
        "don't won't it's", "''", "``",
        # ALBERT's user-defined symbols
        "(a)", "a-b-c", "x.y.z", "1990–1995", '"q"', "--", "...", "e.g. i.e.", "((nested))", "-5.5",
        # special tokens in text
        "word[MASK]word", "[MASK][MASK]", "a [MASK]", "a   [MASK] b", "[MASK]", "[mask]", "[Mask]",
        "<UNK>", "<unk>", "<pad>x", "[CLS] a [SEP] b", "[SEP]", "[[MASK]]", "<<unk>>", "[MASK ]",
        "Plants create [MASK] through a process known as photosynthesis.", "\t[MASK]\n", "[MASK]   ,",
        # assorted
        "3.14159 10:30 1st 2nd U.S.A.", "http://example.com/a_b?c=d&e=f#g", "x@y.org", "#hashtag @user",
        "ab " * 40, "a" * 300, "Supercalifragilisticexpialidocious", "C++ C# F#", "ALL CAPS SENTENCE",
        "MiXeD CaSe WoRdS", "snake_case camelCase", "~!@#$%^&*()_+{}|:<>?",
    ]
    return texts


def _lines(path, limit=None):
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            if limit is not None and i >= limit:
                return
            yield line.rstrip("\n").rstrip("\r")


def sst2_sentences():
    return [line.split("\t")[0] for line in list(_lines(DATA / "glue/SST-2/train.tsv"))[1:]]


def wikitext_lines():
    out = [line for line in _lines(DATA / "wikitext-103/wiki.test.raw") if line.strip()]
    return out + [line for line in _lines(DATA / "wikitext-103/wiki.valid.tokens") if line.strip()]


def wikipedia_lines(n, part=2):
    """The first n paragraph lines of the xz Wikipedia extract (document markup skipped)."""
    out = []
    with lzma.open(DATA / f"pretrain/enwiki_2015_part{part}_of_2.txt.xz", "rt", encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.strip() and not line.startswith(("<doc ", "</doc>")):
                out.append(line)
                if len(out) >= n:
                    break
    return out


def squad():
    """[(question, context)] of SQuAD v1.1 dev."""
    with open(DATA / "squad/dev-v1.1.json", encoding="utf-8") as f:
        articles = json.load(f)["data"]
    return [(qa["question"], p["context"]) for a in articles for p in a["paragraphs"] for qa in p["qas"]]


def cosmosqa_texts():
    with open(DATA / "multiple_choice/cosmosqa/valid.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return [r[k] for r in rows for k in ("context", "question", "answer0", "answer1", "answer2", "answer3")]


def glue_pairs():
    """[(sentence 1, sentence 2)] of MRPC, RTE and STS-B train."""
    pairs = []
    for name, a, b in (("MRPC", 3, 4), ("RTE", 1, 2), ("STS-B", 7, 8)):
        with open(DATA / f"glue/{name}/train.tsv", encoding="utf-8-sig", newline="") as f:
            rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
        pairs += [(r[a], r[b]) for r in rows if len(r) > max(a, b)]
    return pairs


def wnut17_sentences():
    """Word lists of WNUT-17 train (for is_split_into_words)."""
    sentences, words = [], []
    for line in _lines(DATA / "ner/wnut17/wnut17train.conll"):
        if not line.strip():
            if words:
                sentences.append(words)
            words = []
        else:
            words.append(line.split("\t")[0])
    return sentences + ([words] if words else [])


def fixture_real_lines():
    """~2,500 real lines from every source, fixed by position (no randomness)."""
    def short(lines):
        return [line for line in lines if len(line) <= 400]
    sst, wt, wiki = sst2_sentences(), short(wikitext_lines()), short(wikipedia_lines(8000))
    contexts = short(sorted({c for _, c in squad()}))
    return (sst[::67][:1000] + wt[::6][:400] + wiki[::8][:500] + contexts[::4][:100]
            + short(cosmosqa_texts())[::60][:200])


def parity_lines():
    """>= 100,000 real lines: all of SST-2 train, WikiText, SQuAD, CosmosQA, then Wikipedia."""
    lines = sst2_sentences() + wikitext_lines()
    pairs = squad()
    lines += sorted({c for _, c in pairs}) + [q for q, _ in pairs] + cosmosqa_texts()
    with lzma.open(DATA / "pretrain/gutenberg_nltk_13_books.txt.xz", "rt", encoding="utf-8",
                   errors="replace") as f:                # a few stray Latin-1 bytes
        lines += [line.rstrip("\n") for line in f if line.strip()][:5000]
    lines += wikipedia_lines(max(0, 120_000 - len(lines)), part=2)
    return lines


# %% ORIGINAL_ALBERT_ORACLE -------------------------------------------------------------------------
# An independent re-implementation of google-research/albert tokenization.py as its fine-tuning
# scripts use it with an spm model: classifier_utils/squad_utils call
# preprocess_text(text, lower=do_lower_case), then FullTokenizer.tokenize -> encode_pieces, then
# PieceToId. Written here from a reading of that file; it shares no code with albert_np.

def original_albert_preprocess(text, lower=True):
    """Original: strip + collapse spaces, NFKD, drop combining marks, lowercase the whole string."""
    text = " ".join(text.strip().split())
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return text.lower() if lower else text


def original_albert_pieces(sp, text):
    """Original encode_pieces: re-split pieces that end in a comma after a digit."""
    result = []
    for piece in sp.EncodeAsPieces(text):
        if len(piece) > 1 and piece.endswith(",") and piece[-2].isdigit():
            again = sp.EncodeAsPieces(piece[:-1].replace("\u2581", ""))
            if not piece.startswith("\u2581") and again[0].startswith("\u2581"):
                again = again[1:] if again[0] == "\u2581" else [again[0][1:]] + again[1:]
            result += again + [","]
        else:
            result.append(piece)
    return result


def original_albert_ids(sp, text, pair=None):
    """[CLS] A [SEP] (B [SEP]) ids, as run_classifier builds them."""
    def ids(t):
        return [sp.PieceToId(p) for p in original_albert_pieces(sp, original_albert_preprocess(t))]
    out = [sp.PieceToId("[CLS]")] + ids(text) + [sp.PieceToId("[SEP]")]
    return out if pair is None else out + ids(pair) + [sp.PieceToId("[SEP]")]


def original_difference_reason(text):
    """Which known, documented difference of transformers (and albert_np) from the original code
    could explain a mismatch on `text`, or None."""
    if "``" in text or "''" in text:
        return "`` '' -> \" (transformers' quote rule)"
    if "\u03a3" in unicodedata.normalize("NFKD", text):
        return "final sigma (transformers lowercases char by char)"
    if any(t in text.lower() for t in ("[cls]", "[sep]", "[mask]", "<unk>", "<pad>")):
        return "special-token text (transformers splits it out)"
    return None


def original_difference_explained(text):
    return original_difference_reason(text) is not None


# %% The transformers 4.x oracle worker (runs under TF4_PYTHON) ------------------------------------

def oracle_worker():
    """Read jobs (JSON) on stdin, answer with transformers 4.x on stdout. Imports no albert_np."""
    import transformers
    from transformers import AlbertTokenizer, AlbertTokenizerFast

    request = json.load(sys.stdin)
    assert transformers.__version__.startswith("4."), transformers.__version__
    cache = {}

    def tokenizer(job):
        key = (job.get("cls", "slow"), job.get("folder", request["folder"]), json.dumps(job.get("init", {})))
        if key not in cache:
            cls = AlbertTokenizerFast if key[0] == "fast" else AlbertTokenizer
            cache[key] = cls.from_pretrained(key[1], **job.get("init", {}))
        return cache[key]

    def plain(encoding, fast):
        out = {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in encoding.items()}
        if fast:
            rows = len(out["input_ids"]) if out["input_ids"] and isinstance(out["input_ids"][0], list) else None
            out["word_ids"] = ([encoding.word_ids(i) for i in range(rows)] if rows is not None
                               else encoding.word_ids())
        return out

    answers = []
    for job in request["jobs"]:
        tok = tokenizer(job)
        kind = job["kind"]
        if kind == "tokenize":
            answers.append({"tokens": [tok.tokenize(t) for t in job["texts"]],
                            "ids": [tok(t)["input_ids"] for t in job["texts"]]})
        elif kind == "ids":                      # one call per text (or pair), as a user would
            pairs = job.get("pairs")
            kwargs = job.get("kwargs", {})
            answers.append([tok(t, p, **kwargs)["input_ids"] for t, p in
                            zip(job["texts"], pairs if pairs else [None] * len(job["texts"]))])
        elif kind == "call":
            answers.append(plain(tok(job["text"], job.get("text_pair"), **job.get("kwargs", {})),
                                 job.get("cls") == "fast"))
        elif kind == "decode":
            answers.append([tok.decode(ids, **job.get("kwargs", {})) for ids in job["ids"]])
        elif kind == "sample_counts":            # how often each segmentation is drawn
            counts = []
            for text in job["texts"]:
                seen = {}
                for _ in range(job["n"]):
                    key = " ".join(tok.tokenize(text))
                    seen[key] = seen.get(key, 0) + 1
                counts.append(seen)
            answers.append(counts)
        elif kind == "sentencepiece_version":    # ties between equal-score segmentations vary by version
            import sentencepiece
            answers.append(sentencepiece.__version__)
        elif kind == "attributes":
            answers.append({"all_special_tokens": tok.all_special_tokens,
                            "all_special_ids": tok.all_special_ids, "vocab_size": tok.vocab_size,
                            "len": len(tok), "mask_token_id": tok.mask_token_id,
                            "cls_token_id": tok.cls_token_id, "sep_token_id": tok.sep_token_id,
                            "pad_token_id": tok.pad_token_id, "unk_token_id": tok.unk_token_id,
                            "vocab": tok.get_vocab(),
                            "special_mask_existing": tok.get_special_tokens_mask(
                                job["ids"], already_has_special_tokens=True)})
        else:
            raise ValueError(f"unknown job kind {kind!r}")
    json.dump({"transformers": transformers.__version__, "answers": answers}, sys.stdout)


def run_oracle(folder, jobs):
    """Run jobs in the transformers 4.x worker; returns (version, answers)."""
    if not os.path.exists(TF4_PYTHON):
        sys.exit(f"the transformers 4.x oracle interpreter {TF4_PYTHON} does not exist; create it with\n"
                 f"  python -m venv /tmp/tf4venv && /tmp/tf4venv/bin/pip install 'transformers==4.57.6' "
                 f"sentencepiece protobuf\nor set ALBERT_NP_TF4_PYTHON")
    request = json.dumps({"folder": str(folder), "jobs": jobs})
    done = subprocess.run([TF4_PYTHON, __file__, "--oracle-worker"], input=request, capture_output=True,
                          text=True, env={**os.environ, "TRANSFORMERS_VERBOSITY": "error",
                                          "HF_HUB_OFFLINE": "1"})
    if done.returncode:
        sys.exit(f"oracle worker failed:\n{done.stderr[-4000:]}")
    result = json.loads(done.stdout)
    return result["transformers"], result["answers"]


# %% Fixtures --------------------------------------------------------------------------------------

def train_fixture_vocabulary():
    from albert_np.tokenization import train_tokenizer
    with tempfile.TemporaryDirectory() as tmp:
        model = train_tokenizer(
            [DATA / "pretrain/enwiki_2015_part1_of_2.txt.xz", DATA / "pretrain/gutenberg_nltk_13_books.txt.xz"],
            vocab_size=1000, model_prefix=os.path.join(tmp, "spiece"),
            max_chars_per_file=[3_000_000, 600_000], seed=0, num_threads=1)
        data = Path(model).read_bytes()
    (FIXTURES / "spiece.model").write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def truncatable(tokenizer, pairs, setting):
    """The pairs that `setting` can truncate: with only_first / only_second the other text must fit.

    transformers' slow tokenizer logs an error and returns such a pair untruncated (its fast one
    raises, as albert_np does), so they are left out of the comparison.
    """
    if setting["truncation"] not in ("only_first", "only_second"):
        return list(pairs)
    other = 1 if setting["truncation"] == "only_first" else 0
    return [p for p in pairs if len(tokenizer.tokenize(p[other])) + 3 < setting["max_length"]]


def make_fixtures(retrain):
    FIXTURES.mkdir(parents=True, exist_ok=True)
    if retrain or not (FIXTURES / "spiece.model").exists():
        print("training the fixture vocabulary ...")
        train_fixture_vocabulary()
    model_sha = hashlib.sha256((FIXTURES / "spiece.model").read_bytes()).hexdigest()
    hostile, real = hostile_texts(), fixture_real_lines()
    squad_pairs = squad()
    from albert_np.tokenization import AlbertTokenizer          # only to pick inputs that can be truncated
    ours = AlbertTokenizer(str(FIXTURES / "spiece.model"))
    qa = [squad_pairs[i] for i in range(0, len(squad_pairs), 40) if len(ours.tokenize(squad_pairs[i][0])) <= 50]
    pairs = glue_pairs()[::150] + [(a, b) for a, b in zip(hostile[::2], hostile[1::2])]
    words = wnut17_sentences()[::15] + [["Hello", "wörld", "[MASK]", "", "12,345,", "a b", "``x''"]]
    batch = hostile[:12]
    truncations = [{"truncation": "longest_first", "max_length": 24},
                   {"truncation": "only_second", "max_length": 40},
                   {"truncation": "only_first", "max_length": 40},
                   {"truncation": True, "max_length": 16}]
    variants = [{"do_lower_case": False}, {"keep_accents": True}, {"remove_space": False},
                {"do_lower_case": False, "keep_accents": True, "remove_space": False}]

    jobs = [{"kind": "tokenize", "texts": hostile},
            {"kind": "ids", "texts": real},
            {"kind": "attributes", "ids": [2, 5, 3, 4, 1, 0, 9]},
            {"kind": "decode", "ids": [], "kwargs": {}},                 # filled below
            {"kind": "decode", "ids": [], "kwargs": {"skip_special_tokens": True}},
            {"kind": "decode", "ids": [], "kwargs": {"clean_up_tokenization_spaces": True}},
            {"kind": "sample_counts", "texts": SAMPLED_TEXTS, "n": SAMPLES, "init": {"sp_model_kwargs": SAMPLING}}]
    last_job = {"kind": "sentencepiece_version"}
    pair_sets = [truncatable(ours, pairs, t) for t in truncations[:3]]
    jobs += [{"kind": "call", "text": [a for a, _ in ps], "text_pair": [b for _, b in ps],
              "kwargs": {**t, "return_special_tokens_mask": True}} for ps, t in zip(pair_sets, truncations[:3])]
    jobs += [{"kind": "call", "text": hostile, "kwargs": {**truncations[3], "return_special_tokens_mask": True}}]
    jobs += [{"kind": "call", "text": batch, "kwargs": {"padding": True, "return_length": True}},
             {"kind": "call", "text": batch, "kwargs": {"padding": "max_length", "max_length": 20,
                                                         "truncation": True, "return_tensors": "np"}},
             {"kind": "call", "text": batch[:4], "text_pair": batch[4:8], "kwargs": {
                 "padding": "longest", "pad_to_multiple_of": 8, "return_tensors": "np",
                 "return_special_tokens_mask": True}},
             {"kind": "call", "text": words, "kwargs": {"is_split_into_words": True}},
             {"kind": "call", "text": batch, "kwargs": {"add_special_tokens": False}}]
    jobs += [{"kind": "ids", "texts": hostile, "init": v} for v in variants]
    # fast tokenizer (ids can differ from slow): word_ids, overflowing windows, offsets
    jobs += [{"kind": "call", "cls": "fast", "text": words, "kwargs": {"is_split_into_words": True}},
             {"kind": "call", "cls": "fast", "text": [q for q, _ in qa], "text_pair": [c for _, c in qa],
              "kwargs": {"truncation": "only_second", "max_length": 128, "stride": 32,
                         "return_overflowing_tokens": True, "return_offsets_mapping": True}},
             {"kind": "call", "cls": "fast", "text": [q for q, _ in qa], "text_pair": [c for _, c in qa]},
             {"kind": "call", "text": [q for q, _ in qa], "text_pair": [c for _, c in qa]}]
    jobs.append(last_job)
    decode_ids = [[2, 13, 5, 4, 1, 3, 0, 0], [2, 4, 4, 3], list(range(0, 60)), [16, 13, 16, 9, 9]]
    for j in jobs[3:6]:
        j["ids"] = decode_ids

    version, answers = run_oracle(FIXTURES, jobs)
    sentencepiece_version = answers.pop()
    tokenize_hostile, ids_real, attributes, dec, dec_skip, dec_clean, sampled = answers[:7]
    pair_calls, single_trunc = answers[7:10], answers[10]
    padded, padded_np, pair_np, split_words, no_special = answers[11:16]
    variant_ids = answers[16:16 + len(variants)]
    fast_words, fast_overflow, fast_full, slow_full = answers[16 + len(variants):]

    # The fast oracle's windows and word ids are only a reference where its ids equal the slow one's.
    qa_agree = [i for i in range(len(qa)) if fast_full["input_ids"][i] == slow_full["input_ids"][i]]
    words_agree = [i for i in range(len(words)) if fast_words["input_ids"][i] == split_words["input_ids"][i]]
    mapping = fast_overflow["overflow_to_sample_mapping"]
    overflow_rows = [r for r, s in enumerate(mapping) if s in set(qa_agree)]
    fast_overflow["overflow_to_sample_mapping"] = [qa_agree.index(s) if s in qa_agree else None for s in mapping]

    fixture = {
        "about": "Made by tests/make_tokenizer_fixtures.py with the oracle transformers " + version +
                 " (slow AlbertTokenizer unless a key says fast). Do not edit by hand.",
        "transformers": version, "sentencepiece": sentencepiece_version, "spiece_sha256": model_sha,
        "hostile": {"texts": hostile, "tokens": tokenize_hostile["tokens"], "ids": tokenize_hostile["ids"]},
        "real": {"texts": real, "ids": ids_real},
        "attributes": {k: v for k, v in attributes.items() if k != "vocab"},
        "vocab_sha256": hashlib.sha256(json.dumps(attributes["vocab"], sort_keys=True).encode()).hexdigest(),
        "decode": {"ids": decode_ids, "plain": dec, "skip_special_tokens": dec_skip, "clean_up": dec_clean},
        "sampling": {"texts": SAMPLED_TEXTS, "n": SAMPLES, "sp_model_kwargs": SAMPLING, "counts": sampled},
        "pairs": [{"texts": [a for a, _ in ps], "text_pairs": [b for _, b in ps],
                   "kwargs": {**t, "return_special_tokens_mask": True}, "output": o}
                  for ps, t, o in zip(pair_sets, truncations[:3], pair_calls)],
        "single_truncation": {"texts": hostile, "kwargs": {**truncations[3], "return_special_tokens_mask": True},
                              "output": single_trunc},
        "padding": [{"text": batch, "kwargs": {"padding": True, "return_length": True}, "output": padded},
                    {"text": batch, "kwargs": {"padding": "max_length", "max_length": 20, "truncation": True,
                                               "return_tensors": "np"}, "output": padded_np},
                    {"text": batch[:4], "text_pair": batch[4:8], "kwargs": {
                        "padding": "longest", "pad_to_multiple_of": 8, "return_tensors": "np",
                        "return_special_tokens_mask": True}, "output": pair_np},
                    {"text": batch, "kwargs": {"add_special_tokens": False}, "output": no_special}],
        "split_words": {"words": words, "output": split_words,
                        "fast_word_ids": {str(i): fast_words["word_ids"][i] for i in words_agree}},
        "variants": [{"init": v, "ids": ids} for v, ids in zip(variants, variant_ids)],
        "overflow": {"questions": [qa[i][0] for i in qa_agree], "contexts": [qa[i][1] for i in qa_agree],
                     "kwargs": {"truncation": "only_second", "max_length": 128, "stride": 32,
                                "return_overflowing_tokens": True},
                     "fast_rows": {key: [fast_overflow[key][r] for r in overflow_rows] for key in
                                   ("input_ids", "token_type_ids", "attention_mask",
                                    "overflow_to_sample_mapping", "offset_mapping")}},
    }
    ORACLE_FILE.write_text(json.dumps(fixture, ensure_ascii=False, separators=(",", ":")) + "\n",
                           encoding="utf-8")
    print(f"wrote {ORACLE_FILE.relative_to(ROOT)} ({ORACLE_FILE.stat().st_size / 1e6:.2f} MB): "
          f"{len(hostile)} hostile texts, {len(real)} real lines, {len(qa_agree)}/{len(qa)} QA examples and "
          f"{len(words_agree)}/{len(words)} word lists where the 4.x fast tokenizer agrees with the slow one")
    make_transformers5_folder()


def make_transformers5_folder():
    """Let transformers 5.x load our saved folder and save it its own way (tokenizer.json only)."""
    try:
        import transformers
        from transformers import AutoTokenizer
    except ImportError:
        print("transformers is not importable here: transformers5_saved/ not refreshed")
        return
    from albert_np.tokenization import AlbertTokenizer
    out = FIXTURES / "transformers5_saved"
    with tempfile.TemporaryDirectory() as tmp:
        AlbertTokenizer(str(FIXTURES / "spiece.model")).save_pretrained(tmp)
        os.remove(os.path.join(tmp, "spiece.model"))        # make 5.x build from tokenizer.json
        hf = AutoTokenizer.from_pretrained(tmp)
        out.mkdir(exist_ok=True)
        for old in out.iterdir():
            old.unlink()
        hf.save_pretrained(str(out))
    for name in sorted(os.listdir(out)):
        if name not in ("tokenizer.json", "tokenizer_config.json"):
            os.remove(out / name)
    print(f"wrote {out.relative_to(ROOT)} with transformers {transformers.__version__}: {sorted(os.listdir(out))}")


# %% Parity over >= 100,000 lines ------------------------------------------------------------------

def parity():
    from albert_np.tokenization import AlbertTokenizer, AlbertTokenizerFast
    import sentencepiece as spm
    sys.path.insert(0, str(ROOT))
    from tests.test_tokenization import check_offsets

    lines = parity_lines() + hostile_texts()
    pairs = glue_pairs() + squad()
    print(f"{len(lines):,} lines, {len(pairs):,} pairs from {DATA}")
    slow = AlbertTokenizer.from_pretrained(FIXTURES)
    fast = AlbertTokenizerFast.from_pretrained(FIXTURES)
    with tempfile.TemporaryDirectory() as saved:
        slow.save_pretrained(saved)
        pair_settings = [{"truncation": "longest_first", "max_length": 64},
                         {"truncation": "only_second", "max_length": 128},
                         {"truncation": "only_first", "max_length": 200}]
        jobs = [{"kind": "ids", "texts": lines}, {"kind": "ids", "texts": lines, "folder": saved}]
        pair_sets = [truncatable(slow, pairs, setting) for setting in pair_settings]
        jobs += [{"kind": "ids", "texts": [a for a, _ in ps], "pairs": [b for _, b in ps], "kwargs": setting}
                 for ps, setting in zip(pair_sets, pair_settings)]
        t0 = time.time()
        version, answers = run_oracle(FIXTURES, jobs)
        print(f"oracle transformers {version}: {time.time() - t0:.0f} s")
    oracle_ids, oracle_from_saved = answers[0], answers[1]

    t0 = time.time()
    slow_ids = [slow.encode(t) for t in lines]
    t1 = time.time()
    fast_ids = fast(lines)["input_ids"]
    t2 = time.time()
    print(f"albert_np slow: {t1 - t0:.1f} s, fast (one batch call): {t2 - t1:.1f} s")
    sp = spm.SentencePieceProcessor(model_file=str(FIXTURES / "spiece.model"))
    original = [original_albert_ids(sp, t) for t in lines]

    def mismatches(ours, reference):
        return [i for i, (a, b) in enumerate(zip(ours, reference)) if a != b]

    report = {}
    report["slow vs transformers 4.x slow"] = len(mismatches(slow_ids, oracle_ids))
    report["fast vs transformers 4.x slow"] = len(mismatches(fast_ids, oracle_ids))
    report["transformers 4.x loading our save_pretrained folder vs its own"] = len(
        mismatches(oracle_from_saved, oracle_ids))
    bad_original = mismatches(slow_ids, original)
    unexplained = [i for i in bad_original if not original_difference_explained(lines[i])]
    report["slow vs original google-research/albert (all)"] = len(bad_original)
    report["  of which explained (`` '' rule, final sigma, special-token text)"] = len(bad_original) - len(unexplained)
    report["  unexplained"] = len(unexplained)
    for i in bad_original:
        reason = original_difference_reason(lines[i])
        if reason:
            report[f"    {reason}"] = report.get(f"    {reason}", 0) + 1
    for setting, ps, oracle_pairs in zip(pair_settings, pair_sets, answers[2:]):
        ours_slow = [slow.encode(a, b, **setting) for a, b in ps]
        ours_fast = fast([a for a, _ in ps], [b for _, b in ps], **setting)["input_ids"]
        name = f"pairs {setting['truncation']} max_length={setting['max_length']} ({len(ps):,} pairs)"
        report[f"{name}: slow vs 4.x"] = len(mismatches(ours_slow, oracle_pairs))
        report[f"{name}: fast vs 4.x"] = len(mismatches(ours_fast, oracle_pairs))
    originals_pairs = [original_albert_ids(sp, a, b) for a, b in pairs]
    untruncated = fast([a for a, _ in pairs], [b for _, b in pairs])["input_ids"]
    bad = [i for i in mismatches(untruncated, originals_pairs)
           if not original_difference_explained(pairs[i][0] + " " + pairs[i][1])]
    report["pairs untruncated: fast vs original, unexplained"] = len(bad)

    enc = fast(lines, return_offsets_mapping=True)
    failures = tokens = 0
    for text, ids, offsets in zip(lines, enc["input_ids"], enc["offset_mapping"]):
        failures += len(check_offsets(fast, text, ids, offsets))
        tokens += len(ids)
    report[f"offset spans that do not normalise back to their piece (of {tokens:,} tokens)"] = failures
    print(json.dumps(report, indent=1))
    for i in (mismatches(fast_ids, oracle_ids) + unexplained)[:5]:
        print("example mismatch:", repr(lines[i][:200]))
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parity", action="store_true", help="run the >= 100k-line parity check")
    parser.add_argument("--retrain", action="store_true", help="train the fixture vocabulary again")
    parser.add_argument("--oracle-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.oracle_worker:
        return oracle_worker()
    sys.path.insert(0, str(ROOT))
    if args.parity:
        parity()
    else:
        make_fixtures(args.retrain)


if __name__ == "__main__":
    main()
