"""Shipping a pretraining checkpoint: float16 weights, tokenizer files and a model card (README.md).

    python -m albert_np pretrain-export --checkpoint runs/pretrain/checkpoint-6300 \
        --tokenizer runs/vocab/spiece.model --out albert_np/pretrained/albert-tiny-en --note-file study.md

The card is built from the run itself: its config, settings, log, the sources of its text (the
mixture, their documents and held-out blocks, the epochs read of each, from the checkpoint) and a
fresh evaluation, with the Hub's YAML metadata (license, language, datasets, ...) written and read
by huggingface_hub.ModelCard. The run's author adds what the run cannot know (the study, the ledger)
as a free-form Markdown note (--note-file), put under the title.
"""
import json
import os
import re
import shutil

from . import pretraining_sources as psources
from ..io import file_sha256, make_temp_dir
from ..modeling import AlbertForPreTraining
from .pretraining import (data_dir_or_default, evaluate_pretraining, fixed_batches, load_spiece_tokenizer,
                          wikitext_documents)
from .checkpoints import read_checkpoint_state

__all__ = ["export_bundled", "model_card", "add_export_arguments", "export_main"]


def check_export_target(out_dir, overwrite=False):
    """ValueError when out_dir is a file, or a folder holding anything, unless overwrite is asked."""
    out_dir = os.fspath(out_dir)
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise ValueError(f"--out {out_dir!r} is a file, not a folder: give a new or empty folder")
    if os.path.isdir(out_dir) and os.listdir(out_dir) and not overwrite:
        raise ValueError(f"--out {out_dir!r} is not empty ({len(os.listdir(out_dir))} entries): give a new or "
                         f"empty folder, or pass --overwrite (overwrite=True) to replace the files the export "
                         f"writes there (other files are left alone)")


def move_files_into(tmp, out_dir):
    """Move every file of the finished folder tmp into out_dir (os.replace, one file at a time).

    Only the files the export wrote are replaced; whatever else out_dir holds stays.
    Returns the names moved.
    """
    os.makedirs(out_dir, exist_ok=True)
    names = sorted(os.listdir(tmp))
    for name in names:
        os.replace(os.path.join(tmp, name), os.path.join(out_dir, name))
    shutil.rmtree(tmp, ignore_errors=True)
    return names


def stamp_version(folder, version):
    """Write the model's version and the sha256 of its model.safetensors into its config.json
    (fields `albert_np_model_version` and `weights_sha256`, kept by AlbertConfig as extra keys).
    Returns the sha256."""
    digest = file_sha256(os.path.join(folder, "model.safetensors"))
    path = os.path.join(folder, "config.json")
    with open(path, encoding="utf-8") as f:
        config = json.load(f)
    config.update(albert_np_model_version=version, weights_sha256=digest)
    with open(path, "w", encoding="utf-8") as f:          # a file of the staging folder: moved in atomically
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")
    return digest


def sources_tables(data_dir):
    """{file name: licence as stated} from the data folder's SOURCES.md files (its own and one level
    below, e.g. everyday/SOURCES.md): every Markdown table with a licence column, keyed by each
    file named in the row's first cell (with and without .xz). {} when there is none."""
    found = {}
    paths = [os.path.join(data_dir, "SOURCES.md")] + sorted(
        os.path.join(data_dir, d, "SOURCES.md") for d in (os.listdir(data_dir) if os.path.isdir(data_dir) else ()))
    for path in paths:
        if not os.path.isfile(path):
            continue
        column = None
        with open(path, encoding="utf-8") as f:
            for line in f:
                if not line.startswith("|"):
                    column = None
                    continue
                cells = [c.strip() for c in line.strip().strip("|").split("|")]
                if column is None:
                    hits = [i for i, c in enumerate(cells) if re.search(r"licen[cs]e", c, re.I)]
                    column = hits[0] if hits else -1
                    continue
                if column < 0 or len(cells) <= column or set(cells[0]) <= set("-: "):
                    continue
                for name in re.findall(r"[\w.-]+\.(?:txt|raw|tokens|json|tsv|csv)(?:\.xz)?", cells[0]):
                    base = re.sub(r"\.xz$", "", os.path.basename(name))     # files are stored .xz or not
                    found[base] = found[base + ".xz"] = cells[column]
    return found


def licence_section(state, data_dir, weights_license):
    """The card's "Licences and attribution" section: each file of the run's mixture with its licence as
    stated in the data folder's SOURCES.md files, and the licence of the weights."""
    mixture = state.get("mixture") or ()
    stated = sources_tables(data_dir) if data_dir else {}
    rows = []
    for m in mixture:
        for p in m["paths"]:
            base = os.path.basename(p)
            rows.append(f"| {m['name']} | `{base}` | {stated.get(base, 'not found in SOURCES.md')} |")
    table = ("| source | file | licence as stated in the data folder's SOURCES.md |\n|---|---|---|\n" + "\n".join(rows)
             if rows else "The checkpoint does not record its files (a run before mixtures of sources).")
    return (f"The weights are released under `{weights_license}`. The text they were trained on comes with these "
            f"licences; the attribution each asks for is to the authors and projects that SOURCES.md of the data "
            f"folder names for that file:"
            f"\n\n{table}\n")


def export_bundled(checkpoint, out_dir, *, tokenizer, data_dir=None, examples=4000, note="",
                   overwrite=False, name=None, license="apache-2.0", language="en", text=None, version=None):
    """Ship a pretraining checkpoint: float16 weights, tokenizer files and a model card.

    Measures masked-token and SOP accuracy on `text` (default: WikiText-103 test, raw, of the
    data folder) with fixed masks and writes them, with the run's data, config, steps and
    compute, into README.md (model_card: name, default the folder's name; license, language:
    the card's metadata). The files are built aside, then moved into out_dir one by one (each
    replace is atomic). out_dir must be new or empty unless overwrite=True; even then only
    the files the export writes are replaced, nothing else in the folder is touched.
    version: a version string written, with the sha256 of the weights file, into config.json
    (`albert_np_model_version`, `weights_sha256`) and the card. Returns the evaluation results.
    """
    check_export_target(out_dir, overwrite)                        # before minutes of evaluation
    state, model_dir, log = read_checkpoint_state(checkpoint)      # older layouts too
    model = AlbertForPreTraining.from_pretrained(model_dir)
    test = text or os.path.join(data_dir_or_default(data_dir), "wikitext-103", "wiki.test.raw")
    batches = fixed_batches(lambda: wikitext_documents(test), tokenizer, examples, 32,
                            max_seq_length=state["args"]["max_seq_length"],
                            max_predictions=state["args"]["max_predictions"])
    results = evaluate_pretraining(model, batches)
    train = [e for e in log if e["type"] == "train"]
    evals = [e for e in log if e["type"] == "eval"]
    os.makedirs(os.path.dirname(os.path.abspath(out_dir)), exist_ok=True)
    tmp = make_temp_dir(os.path.dirname(os.path.abspath(out_dir)), ".tmp-export-")
    try:
        model.save_pretrained(tmp, storage_dtype="float16")
        tokenizer.save_pretrained(tmp)
        stamp = (version, stamp_version(tmp, version)) if version else None
        card = model_card(model, state, results, train, evals, note, name=name or os.path.basename(
            os.path.normpath(out_dir)), license=license, language=language, eval_text=None if text is None else test,
            version=stamp, data_dir=data_dir_or_default(data_dir))
        with open(os.path.join(tmp, "README.md"), "w", encoding="utf-8") as f:
            f.write(card)
        check_export_target(out_dir, overwrite)                    # again: it may have changed meanwhile
        move_files_into(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return results


def data_section(state):
    """The card's "Data" section: the sources of the run's text, from the checkpoint."""
    a = state["args"]
    recipe = (f"Examples follow the ALBERT recipe: sentence-order pairs, whole-word n-gram masking (n <= "
              f"{a.get('max_ngram', 3)}), {a.get('masked_lm_prob', 0.15) * 100:g} % of tokens, max "
              f"{a['max_predictions']} predictions, sequences of {a['max_seq_length']} tokens; each source is "
              f"streamed in blocks of {a['block_docs']} documents.")
    mixture = state.get("mixture")
    if not mixture:
        return ("The checkpoint does not record its text: it is a run over one document stream (before "
                "mixtures of sources, whose only corpus on the command line was `pretrain/` of the data folder: "
                "the Wikipedia extract and 13 Project Gutenberg books; or the library's `make_trainer` with a "
                "function of documents).\n\n" + recipe)
    manifest = state.get("data_manifest") or {"sources": {}}
    docs = {n: m["documents"] for n, m in manifest["sources"].items()}
    read = psources.source_epochs(state["data_state"], docs, a["block_docs"]) if docs else {}
    total = sum(m["weight"] for m in mixture)
    rows = []
    for m in mixture:
        info = manifest["sources"].get(m["name"], {})
        files = [os.path.basename(p) for p in m["paths"]]
        shown = ", ".join(f"`{f}`" for f in files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
        held = (f"{info.get('heldout_blocks', 0):,} of {info['blocks']:,} blocks" if info.get("blocks") is not None
                else "none")
        rows.append(f"| {m['name']} | {shown} | {m['format']} | {'yes' if m['sop'] else 'no (-100)'} | "
                    f"{100 * m['weight'] / total:.1f} % | {info.get('documents', 0):,} | {held} | "
                    f"{read.get(m['name'], float('nan')):.2f} |")
    holdout = [m["name"] for m in mixture if m["holdout"]]
    return (f"{len(mixture)} sources, each training example drawn from one with the probability of its share "
            f"(`albert_np/training/pretraining_sources.py`):\n\n"
            f"| source | files | format | sentence order | share | documents | held out | epochs read |\n"
            f"|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n\n" +
            (f"Held out, never trained on ({', '.join(holdout)}): {manifest.get('rule', psources.HOLDOUT_RULE)}.\n\n"
             if holdout else "") + recipe)


def card_metadata(state, license, language):
    """The card's YAML metadata (huggingface_hub.ModelCardData): license, language, datasets (the names
    of the run's sources), library, pipeline and tags."""
    from huggingface_hub import ModelCardData
    names = [m["name"] for m in state.get("mixture") or ()] or None
    return ModelCardData(license=license, language=language, datasets=names, library_name="albert_np",
                         pipeline_tag="fill-mask", tags=["albert", "fill-mask", "pretraining", "albert_np"])


def model_card(model, state, results, train, evals, note="", *, name, license="apache-2.0", language="en",
               eval_text=None, version=None, data_dir=None):
    """The README.md of an exported model (YAML metadata, then Markdown): what it is, how it was made,
    from which text and under which licences, how good it is. Everything comes from the run (state:
    read_checkpoint_state's trainer_state; train / evals: its log) except `note`, the author's Markdown.
    version: None or (version, sha256 of model.safetensors); data_dir: where the SOURCES.md files are."""
    from huggingface_hub import ModelCard
    c, a = model.config, state["args"]
    tokens = state["global_step"] * a["batch_size"] * a["grad_accum"] * a["max_seq_length"]
    rows = "\n".join(f"| {e['step']} | {e['mlm_accuracy']:.3f} | {e['sop_accuracy']:.3f} | "
                     f"{e['mlm_loss']:.3f} |" for e in evals) or "| - | - | - | - |"
    if not train:
        speed = float("nan")
    else:       # logs of the loop before train.py have tokens_per_second; train.py's examples_per_second
        last = train[-1]
        speed = last.get("tokens_per_second", last.get("examples_per_second", 0.0) * a["max_seq_length"])
    timed = [e for e in train if "cpu_seconds" in e]    # logs before this field existed have none
    if timed:
        cpu = f"{timed[-1]['cpu_seconds'] / 3600:.2f} CPU-hours for steps {timed[0]['step']:,}-{timed[-1]['step']:,}"
        if timed[0]["step"] > 1:
            cpu += f" (steps before {timed[0]['step']:,} were not timed)"
    else:
        cpu = "not recorded"
    decay = a.get("decay_steps", 0)        # checkpoints before --decay-steps have none
    if decay:
        schedule = (f"warm-up {state['warmup_steps']} steps, constant, then linear decay to 0 over the last "
                    f"{decay:,} steps")
    else:
        schedule = f"warm-up {state['warmup_steps']} steps, linear decay"
    ranks = state.get("mpi_ranks", 1)
    workers = a.get("workers", 1)           # checkpoints of the worker pool that MPI replaced
    procs = (f"at the end {ranks} single-threaded MPI ranks (mpiexec -n {ranks})" if ranks > 1 else
             f"at the end {workers} single-threaded data-parallel worker processes" if workers > 1
             else "one process with BLAS threads")
    where = "WikiText-103 test, raw" if eval_text is None else f"`{os.path.basename(eval_text)}`"
    again = "" if eval_text is None else f" --text {os.path.basename(eval_text)}"
    body = f"""# {name}

An ALBERT (masked-LM and sentence-order heads) pretrained by albert_np, in NumPy, on CPU:
{model.num_parameters():,} parameters, {state['global_step']:,} steps. It loads as a model folder:
`albert_np.fill_mask("The cat sat on the [MASK].", model="<this folder>")`.

{note.strip() + chr(10) + chr(10) if note.strip() else ""}## Model

| field | value |
|---|---|
| architecture | AlbertForPreTraining (MLM + SOP heads) |
| vocab_size (SentencePiece unigram, ALBERT recipe) | {c.vocab_size} |
| embedding_size E / hidden_size H | {c.embedding_size} / {c.hidden_size} |
| layers L (one shared group) / heads / intermediate | {c.num_hidden_layers} / {c.num_attention_heads} / {c.intermediate_size} |
| hidden_act / dropout | {c.hidden_act} / {c.hidden_dropout_prob} |
| parameters | {model.num_parameters():,} |
| weights | float16 safetensors (loaded as float32) |
{f"| version | {version[0]} |{chr(10)}| sha256 of model.safetensors | `{version[1]}` |{chr(10)}" if version else ""}
## Data

{data_section(state)}

## Licences and attribution

{licence_section(state, data_dir, license)}
## Training

| field | value |
|---|---|
| steps | {state['global_step']:,} of a planned {state['total_steps']:,} |
| batch | {a['batch_size']} x {a['grad_accum']} accumulation |
| tokens seen | {tokens:,} |
| optimiser | {a['optimizer'].upper()}, lr {a['learning_rate']}, {schedule}, weight decay {a['weight_decay']}, clip {a['max_grad_norm']} |
| compute | CPU only, NumPy (albert_np's own backprop); {procs}; last measured {speed:,.0f} tokens/s |
| CPU time (process time of all threads and worker processes) | {cpu} |
| seed | {a['seed']} |

Held-out during training (fixed masks):

| step | masked-token top-1 | SOP accuracy | MLM loss |
|---|---|---|---|
{rows}

## Quality ({where}; {results['masked_tokens']:,} masked tokens, {results['pairs']:,} pairs)

| metric | value |
|---|---|
| masked-token top-1 accuracy | {results['mlm_accuracy']:.3f} |
| the same, only where the input token was replaced ([MASK] or random; {results['replaced_tokens']:,} tokens) | {results['replaced_accuracy']:.3f} |
| sentence-order accuracy | {results['sop_accuracy']:.3f} |
| MLM loss (nats / masked token) | {results['mlm_loss']:.3f} |

Reproduce: `python -m albert_np pretrain-eval --model <this folder>{again}`.
"""
    return str(ModelCard("---\n" + card_metadata(state, license, language).to_yaml() + "\n---\n\n" + body))


def add_export_arguments(p):
    p.add_argument("--checkpoint", required=True, help="a pretraining checkpoint-<step> folder")
    p.add_argument("--tokenizer", required=True, help="spiece.model or a tokenizer folder")
    p.add_argument("--out", required=True, help="folder to write (e.g. albert_np/pretrained/albert-tiny-en)")
    p.add_argument("--data-dir", default=None, help=f"the project's data folder, for its WikiText-103 test (default: "
                                                    f"${psources.DATA_ENV}, else ../shared/data beside the checkout)")
    p.add_argument("--text", default=None, help="evaluation text, read as WikiText (default: "
                                                "wikitext-103/wiki.test.raw of --data-dir)")
    p.add_argument("--examples", type=int, default=4000, help="sequences evaluated (default: %(default)s)")
    p.add_argument("--name", default=None, help="the card's title (default: the name of --out)")
    p.add_argument("--license", default="apache-2.0",
                   help="the card's license metadata, a Hub license id (default: %(default)s, albert_np's)")
    p.add_argument("--language", default="en", help="the card's language metadata (default: %(default)s)")
    p.add_argument("--version", default=None,
                   help="the model's version, written with the sha256 of its weights into config.json and the card")
    p.add_argument("--note", default="", help="Markdown put under the card's title (default: none)")
    p.add_argument("--note-file", default=None,
                   help="read the note from this Markdown file instead: the author's own section (a study, "
                        "a ledger), kept as written")
    p.add_argument("--overwrite", action="store_true",
                   help="write into a non-empty --out, replacing only the files the export writes")


def export_main(args):
    """`python -m albert_np pretrain-export`."""
    check_export_target(args.out, args.overwrite)
    note = args.note
    if args.note_file:
        if args.note:
            raise ValueError("give --note or --note-file, not both")
        with open(args.note_file, encoding="utf-8") as f:
            note = f.read()
    tok = load_spiece_tokenizer(args.tokenizer)
    results = export_bundled(args.checkpoint, args.out, tokenizer=tok, data_dir=args.data_dir,
                             examples=args.examples, note=note, overwrite=args.overwrite, name=args.name,
                             license=args.license, language=args.language, text=args.text, version=args.version)
    print(json.dumps(results, indent=1))

