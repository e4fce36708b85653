"""Where the pretraining text comes from: sources, their weighted mixture, and the everyday hold-out.

A source is a named list of text files of one format, with a weight and a sentence-order flag:

    --source stories=tinystories.txt.xz,my_book.txt.gz:9          blocks, SOP, hold-out (the defaults)
    --source queries=clinc150.txt.xz:3:nosop                      a list of queries: no SOP label
    --source wiki=enwiki_1.txt.xz,enwiki_2.txt.xz:68:wikiextractor
    --mixture mixture.json                                        the same, as a file (read_mixture)

    NAME=PATH[,PATH...][:WEIGHT][:OPTION...]; OPTION: sop | nosop, holdout | noholdout, and a format.

Formats (how a file becomes documents, each a list of sentences):
    blocks          plain text (.txt, .xz or .gz), one document per blank-line-separated block (a
                    story, a dialogue, ten sentences); each line of a block is split into sentences
    paragraphs      plain text whose blocks are the paragraphs of longer texts (books): up to 64
                    consecutive paragraphs of a file make one document, so that examples fill
                    the sequence and sentence-order pairs can span paragraphs
    wikiextractor   WikiExtractor's <doc ...> ... </doc> articles (the two WikiText-103 test articles
                    left out: pretraining_data.wikipedia_documents)
    gutenberg       NLTK's Gutenberg books, documents of 64 paragraphs (pretraining_data.gutenberg_documents)
A source of several files reads them in turn, one document of each (pretraining_data.interleave).

The mixture. Example i of a run (counted over the whole run, resumes included) comes from source
s with probability p_s = w_s / sum(w): the sources of examples [4096 c, 4096 (c + 1)) are drawn
at once from default_rng([seed, MIX_KEY, c]). Each source is its own PretrainingStream over its
own documents (its own blocks, shuffles and epochs, its random numbers keyed by its name), so the
weights are shares of the training examples (and, as nearly every example fills the sequence,
of the tokens), a source wraps around on its own when it ends, and the state
{"examples": i, "sources": {name: (epoch, block, offset)}} continues exactly.

Sentence order (SOP): sop=True for coherent documents (stories, articles, books, dialogues);
sop=False for lists of unrelated sentences or queries, whose order means nothing: they are
packed the same way, in order, with sentence_order_label -100, which the SOP loss, its accuracy
and its item count (heads.labelled_rows) skip.

The hold-out: with holdout=True (the default of the blocks format), every block that
pretraining_data.is_heldout_block marks (HOLDOUT_RULE, about 5 %) is never trained on;
data_manifest counts the documents and held-out blocks of each file, and the run writes it down.
"""
import dataclasses
import glob
import hashlib
import json
import math
import os
import re
from typing import Optional

import numpy as np

from . import pretraining_data as pdata
from .datasets import DATA_ENV

__all__ = ["Source", "FORMATS", "HOLDOUT_RULE", "DEFAULT_MIXTURE", "parse_source", "read_mixture",
           "default_mixture", "default_data_dir", "check_sources", "source_documents", "data_manifest",
           "mixture_differences", "MixtureStream", "name_key", "source_epochs", "check_source_epochs"]

FORMATS = ("blocks", "paragraphs", "wikiextractor", "gutenberg")
BLOCK_FORMATS = ("blocks", "paragraphs")       # read as blank-line-separated blocks: the hold-out applies
PARAGRAPHS_PER_DOCUMENT = 64                   # as pretraining_data.gutenberg_documents
TEXT_SUFFIXES = (".txt", ".xz", ".gz")
HOLDOUT_RULE = ("a blank-line-separated block (stripped) is held out when the first 8 hex digits of the "
                "SHA-256 of its UTF-8 bytes, read as an integer, are 0 modulo 20 (about 5 %; "
                "pretraining_data.is_heldout_block)")
MIX_KEY = 0x6D6978                     # "mix": the draws of the mixture, apart from every source's own
MIX_CHUNK = 4096                       # examples whose sources are drawn at once
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_OPTIONS = {"sop": ("sop", True), "nosop": ("sop", False), "holdout": ("holdout", True),
            "noholdout": ("holdout", False), **{f: ("format", f) for f in FORMATS}}

# The default mixture over the project's data folder (../shared/data): (name, weight, sop, format,
# files under the folder). Weights are percentages of the training examples. Everyday text is 27 %
# of the examples, its groups weighted by their size, so that each is read about 7 to 10 times in
# a run of 200M token slots (1.56M sequences of 128) and a higher everyday share still fits the
# 16-epoch bound in a decay phase; SGD (3.3M pieces of narrow task dialogues) about once.
DEFAULT_MIXTURE = (
    ("wikipedia", 68, True, "wikiextractor", ("pretrain/enwiki_2015_part1_of_2.txt.xz",
                                              "pretrain/enwiki_2015_part2_of_2.txt.xz")),
    ("gutenberg", 5, True, "gutenberg", ("pretrain/gutenberg_nltk_13_books.txt.xz",)),
    ("stories", 4, True, "blocks", ("everyday/tinystories.txt.xz",)),
    ("books", 4, True, "paragraphs", ("everyday/book_*.txt.xz",)),
    ("news", 1.5, True, "blocks", ("everyday/onestopenglish_ele_int.txt.xz",)),
    ("dialogue", 7.5, True, "blocks", ("everyday/synthetic_persona_chat_dialogues.txt.xz",
                                       "everyday/casino_campsite_negotiation_dialogues.txt.xz",
                                       "everyday/taskmaster4_coffee_dialogues.txt.xz")),
    ("sgd", 3, True, "blocks", ("everyday/sgd_dialogues.txt.xz",)),
    ("sentences", 4, False, "blocks", ("everyday/commonvoice_en_sentences.txt.xz",
                                       "everyday/tatoeba_eng_sentences.txt.xz")),
    ("queries", 3, False, "blocks", ("everyday/clinc150_assistant_queries.txt.xz",
                                     "everyday/snips_assistant_queries.txt.xz",
                                     "everyday/hwu64_home_assistant_utterances.txt.xz")),
)


@dataclasses.dataclass(frozen=True)
class Source:
    """One source of a mixture: `name`, its files, its weight (any positive number; the shares are
    weight / sum of weights), sop (False: no sentence-order labels), its format (FORMATS) and
    holdout (keep the held-out blocks out; None: True for the block formats, else False)."""
    name: str
    paths: tuple
    weight: float = 1.0
    sop: bool = True
    format: str = "blocks"
    holdout: Optional[bool] = None

    def __post_init__(self):
        paths = (self.paths,) if isinstance(self.paths, (str, os.PathLike)) else tuple(self.paths)
        object.__setattr__(self, "paths", tuple(os.fspath(p) for p in paths))
        if self.holdout is None:
            object.__setattr__(self, "holdout", self.format in BLOCK_FORMATS)
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise ValueError(f"a source name must be letters, digits, _ . - (starting with a letter or digit), "
                             f"got {self.name!r}")
        if not self.paths or not all(self.paths):
            raise ValueError(f"source {self.name!r} has no files: give one or more paths")
        w = self.weight
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not (0 < w < math.inf):
            raise ValueError(f"source {self.name!r}: the weight must be a number > 0, got {w!r}")
        if self.format not in FORMATS:
            raise ValueError(f"source {self.name!r}: format must be one of {FORMATS}, got {self.format!r}")
        if not isinstance(self.sop, bool) or not isinstance(self.holdout, bool):
            raise TypeError(f"source {self.name!r}: sop and holdout must be True or False, got "
                            f"{self.sop!r}, {self.holdout!r}")
        if self.holdout and self.format not in BLOCK_FORMATS:
            raise ValueError(f"source {self.name!r}: the hold-out is a rule on blank-line-separated blocks; "
                             f"format {self.format!r} has none (use noholdout, or the blocks format)")

    def to_dict(self):
        """The source as JSON values (read_mixture reads it back)."""
        return {"name": self.name, "paths": list(self.paths), "weight": self.weight, "sop": self.sop,
                "format": self.format, "holdout": self.holdout}


def _number(text):
    try:
        return float(text)
    except ValueError:
        return None


def parse_source(spec):
    """A Source from NAME=PATH[,PATH...][:WEIGHT][:OPTION...] (the --source option).

    WEIGHT defaults to 1; OPTION: sop / nosop, holdout / noholdout, and a format (FORMATS).
    The weight and options are read from the right, so a path may hold a ':'.
    """
    name, sep, rest = spec.partition("=")
    if not sep or not name or not rest:
        raise ValueError(f"--source {spec!r}: write NAME=PATH[,PATH...][:WEIGHT][:nosop][:FORMAT], "
                         f"e.g. mytext=notes.txt,more.txt.gz:2")
    parts, weight, fields = rest.split(":"), None, {}
    while len(parts) > 1 and (parts[-1] in _OPTIONS or _number(parts[-1]) is not None):
        last = parts.pop()
        if last in _OPTIONS:
            key, value = _OPTIONS[last]
            if key in fields and fields[key] != value:
                raise ValueError(f"--source {spec!r}: conflicting options for {key}")
            fields[key] = value
        elif weight is None:
            weight = _number(last)
        else:
            raise ValueError(f"--source {spec!r}: two weights ({last} and {weight:g}); give one")
    paths = [p for p in ":".join(parts).split(",")]
    if not all(paths):
        raise ValueError(f"--source {spec!r}: an empty path (paths are separated by ',')")
    return Source(name, tuple(paths), 1.0 if weight is None else weight, **fields)


def read_mixture(path):
    """The sources of a mixture file: JSON {"sources": [{"name", "paths", "weight", "sop", "format",
    "holdout"}, ...]} (only name and paths are required); relative paths are read from the
    file's folder."""
    with open(path, encoding="utf-8") as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path} is not valid JSON ({e})") from e
    if not isinstance(data, dict) or not isinstance(data.get("sources"), list) or not data["sources"]:
        raise ValueError(f"{path}: expected {{\"sources\": [{{\"name\": ..., \"paths\": [...], \"weight\": ...}}, "
                         f"...]}} with at least one source")
    here = os.path.dirname(os.path.abspath(path))
    keys = {f.name for f in dataclasses.fields(Source)}
    sources = []
    for i, item in enumerate(data["sources"]):
        if not isinstance(item, dict) or not {"name", "paths"} <= set(item) or set(item) - keys:
            raise ValueError(f"{path}: source {i} must be an object with name and paths, and optionally "
                             f"weight, sop, format, holdout; got {item!r}")
        paths = [item["paths"]] if isinstance(item["paths"], str) else item["paths"]
        sources.append(Source(**{**item, "paths": tuple(os.path.join(here, p) for p in paths)}))
    return check_names(sources)


def check_names(sources):
    """ValueError when two sources share a name; returns the list."""
    names = [s.name for s in sources]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"source names must differ; repeated: {twice}")
    return list(sources)


def default_data_dir():
    """The project's data folder: $ALBERT_NP_DATA, else ../shared/data beside the repository checkout
    that holds this albert_np (a folder with setup.cfg); None when neither exists (an installed wheel)."""
    env = os.environ.get(DATA_ENV)
    if env:
        return env
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if os.path.isfile(os.path.join(root, "setup.cfg")):
        candidate = os.path.normpath(os.path.join(root, "..", "shared", "data"))
        if os.path.isdir(candidate):
            return candidate
    return None


def default_mixture(data_dir):
    """The sources of DEFAULT_MIXTURE under data_dir; FileNotFoundError naming what is missing."""
    sources, missing = [], []
    for name, weight, sop, fmt, patterns in DEFAULT_MIXTURE:
        paths = []
        for pattern in patterns:
            found = sorted(glob.glob(os.path.join(data_dir, pattern)))
            paths += found
            if not found:
                missing.append(pattern)
        if paths:
            sources.append(Source(name, tuple(paths), weight, sop, fmt))
    if missing:
        raise FileNotFoundError(f"the default mixture needs {missing} under --data-dir {data_dir!r}: pass the "
                                f"folder that holds pretrain/ and everyday/, or your own text with --source / "
                                f"--mixture")
    return sources


def check_sources(sources):
    """FileNotFoundError naming the files that are absent; ValueError for a file that is not text
    (.txt, .xz, .gz) or for repeated names. Returns the list."""
    check_names(sources)
    missing = [p for s in sources for p in s.paths if not os.path.isfile(p)]
    if missing:
        raise FileNotFoundError(f"pretraining text not found: {missing}")
    odd = [p for s in sources for p in s.paths if not p.endswith(TEXT_SUFFIXES)]
    if odd:
        raise ValueError(f"pretraining files must be text: .txt, .txt.xz or .txt.gz (UTF-8), got {odd}")
    return sources


# ------------------------------------------------------------------ documents
def file_documents(path, source):
    """The training documents (lists of sentences) of one file of `source`."""
    if source.format == "wikiextractor":
        yield from pdata.wikipedia_documents(path)
    elif source.format == "gutenberg":
        yield from pdata.gutenberg_documents(path)
    else:
        doc, n = [], 0
        for block in pdata.everyday_blocks(path):
            if source.holdout and pdata.is_heldout_block(block):
                continue
            doc.extend(pdata.block_sentences(block))
            n += 1
            if source.format == "blocks" or n == PARAGRAPHS_PER_DOCUMENT:
                yield doc
                doc, n = [], 0
        if doc:
            yield doc


def source_documents(source):
    """A fresh iterator over the training documents of `source`, its files in turn (held-out blocks left out)."""
    return pdata.interleave(*(file_documents(p, source) for p in source.paths))


def _count_file(path, source):
    """(documents trained on, blocks, held-out blocks) of one file (blocks: None for the other formats)."""
    if source.format in BLOCK_FORMATS:
        kept = held = 0
        for block in pdata.everyday_blocks(path):
            if source.holdout and pdata.is_heldout_block(block):
                held += 1
            else:
                kept += 1
        docs = kept if source.format == "blocks" else -(-kept // PARAGRAPHS_PER_DOCUMENT)
        return docs, kept + held, held
    if source.format == "wikiextractor":       # one document per <doc> line, without reading the text
        docs = 0
        with pdata._open_text(path) as f:
            for line in f:
                if line.startswith("<doc "):
                    m = re.search(r'id="([^"]*)"', line)
                    docs += not (m and m.group(1) in pdata.WIKITEXT_TEST_OVERLAP)
        return docs, None, 0
    return sum(1 for _ in pdata.gutenberg_documents(path)), None, 0


def data_manifest(sources):
    """What each source holds: documents trained on and held-out blocks, per file and in all.

    Returns {"rule": HOLDOUT_RULE, "sources": {name: {"format", "sop", "holdout", "documents",
    "blocks", "heldout_blocks", "files": [{"path", "bytes", "documents", "blocks", "heldout_blocks"}]}}}
    (blocks: all blank-line-separated blocks of the block formats, held out or not, else None;
    wikiextractor's documents are counted from its <doc> lines).
    """
    out = {}
    for s in check_sources(sources):
        files = []
        for p in s.paths:
            docs, blocks, held = _count_file(p, s)
            files.append({"path": p, "bytes": os.path.getsize(p), "documents": docs, "blocks": blocks,
                          "heldout_blocks": held})
        docs, held = sum(f["documents"] for f in files), sum(f["heldout_blocks"] for f in files)
        blocks = sum(f["blocks"] for f in files) if s.format in BLOCK_FORMATS else None
        if docs == 0:
            raise ValueError(f"source {s.name!r} has no documents to train on ({held} held-out blocks): "
                             f"check its files {list(s.paths)}")
        out[s.name] = {"format": s.format, "sop": s.sop, "holdout": s.holdout, "documents": docs,
                       "blocks": blocks, "heldout_blocks": held, "files": files}
    return {"rule": HOLDOUT_RULE, "sources": out}


def mixture_differences(saved, sources):
    """How a checkpoint's mixture (a list of Source.to_dict()) differs from `sources`: a list of
    lines, empty when they agree. Files are compared by name, so that a moved data folder agrees."""
    def key(d):
        return {"weight": float(d["weight"]), "sop": d["sop"], "format": d["format"], "holdout": d["holdout"],
                "files": [os.path.basename(p) for p in d["paths"]]}
    before = {d["name"]: key(d) for d in saved}
    now = {s.name: key(s.to_dict()) for s in sources}
    lines = [f"source {n!r} is gone" for n in before if n not in now]
    lines += [f"source {n!r} is new" for n in now if n not in before]
    for n in before:
        if n in now:
            lines += [f"source {n!r}: {k} {before[n][k]!r} -> {now[n][k]!r}" for k in before[n]
                      if before[n][k] != now[n][k]]
    return lines


# ------------------------------------------------------------------ the stream
def name_key(name):
    """An int from a source's name (its random streams' key): the first 8 hex digits of its SHA-256."""
    return int(hashlib.sha256(name.encode("utf-8")).hexdigest()[:8], 16)


def shares(sources):
    """{name: weight / sum of weights}."""
    total = sum(s.weight for s in sources)
    return {s.name: s.weight / total for s in sources}


class MixtureStream:
    """Examples of several PretrainingStreams, each drawn with its probability; resumable exactly.

    streams: {name: PretrainingStream}, in the mixture's order; probabilities: {name: p} (sum 1).
    Iterating yields the examples of the sources' streams, example i from the source drawn for
    slot i (see the module docstring). state() / restore() give the exact position.
    """

    def __init__(self, streams, probabilities, seed):
        self.names, self.streams, self.seed = list(streams), dict(streams), seed
        p = np.array([probabilities[n] for n in self.names], dtype=np.float64)   # float64 ok: a few shares
        self.p = p / p.sum()
        self.examples = 0
        self._chunk = (None, None)

    def source_of(self, i):
        """The index (in self.names) of the source of example i."""
        c = i // MIX_CHUNK
        if self._chunk[0] != c:
            rng = np.random.default_rng([self.seed, MIX_KEY, c])
            self._chunk = (c, rng.choice(len(self.names), size=MIX_CHUNK, p=self.p))
        return int(self._chunk[1][i % MIX_CHUNK])

    def state(self):
        return {"seed": self.seed, "examples": self.examples,
                "sources": {n: s.state() for n, s in self.streams.items()}}

    def restore(self, state, allow_new_sources=False):
        """Continue from state(). A source the state does not know starts at its beginning only with
        allow_new_sources (a deliberate change of the mixture); otherwise ValueError."""
        if state.get("seed") != self.seed:
            raise ValueError(f"the checkpoint's data seed {state.get('seed')} differs from {self.seed}")
        saved = state.get("sources")
        if not isinstance(saved, dict):
            raise ValueError("the checkpoint's data position is not a mixture's (no per-source state): it was "
                             "written by a run over one document stream")
        new = [n for n in self.names if n not in saved]
        if new and not allow_new_sources:
            raise ValueError(f"the checkpoint has no position for the sources {new}")
        for n in self.names:
            if n in saved:
                self.streams[n].restore(saved[n])
        self.examples = int(state["examples"])

    def __iter__(self):
        iterators = {}
        while True:
            name = self.names[self.source_of(self.examples)]
            if name not in iterators:
                iterators[name] = iter(self.streams[name])
            example = next(iterators[name])
            self.examples += 1
            yield example


def source_epochs(state, documents, block_docs):
    """{name: epochs read} of a MixtureStream state: each source's finished epochs plus the share of
    its documents (documents: {name: documents per epoch}) read in this one, to a block."""
    out = {}
    for name, s in state["sources"].items():
        n = documents.get(name)
        part = min(s["block"] * block_docs / n, 1.0) if n else 0.0
        out[name] = round(s["epoch"] + part, 4)
    return out


def check_source_epochs(plan, max_epochs):
    """ValueError naming each source that the planned run would read more than max_epochs times
    (plan: rows with "name", "share", "epochs"); max_epochs 0 = no limit. Returns the plan."""
    if not max_epochs:
        return plan
    over = [r for r in plan if r["epochs"] > max_epochs]
    if over:
        said = ", ".join(f"{r['name']} ({r['epochs']:.1f} epochs at {100 * r['share']:.1f} % of the examples)"
                         for r in over)
        raise ValueError(f"the planned run would repeat {said}, more than --max-source-epochs {max_epochs:g}: "
                         f"lower their weights, add text to them, train fewer steps, or raise "
                         f"--max-source-epochs (0 = no limit)")
    return plan
