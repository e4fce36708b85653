"""Shipping a pretraining checkpoint: float16 weights, tokenizer files and a model card (README.md).

    python -m albert_np pretrain-export --checkpoint runs/pretrain/checkpoint-6300 \
        --tokenizer runs/vocab/spiece.model --out albert_np/pretrained/albert-tiny-en
"""
import json
import os
import shutil

from ..io import make_temp_dir
from ..modeling import AlbertForPreTraining
from .pretraining import (SHARED_DATA, evaluate_pretraining, fixed_batches, load_spiece_tokenizer,
                          wikitext_documents)
from .train import read_checkpoint_state

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


def export_bundled(checkpoint, out_dir, *, tokenizer, data_dir=SHARED_DATA, examples=4000, note="",
                   overwrite=False):
    """Ship a pretraining checkpoint: float16 weights, tokenizer files and a model card.

    Measures masked-token and SOP accuracy on WikiText-103 test (raw) with fixed
    masks and writes them, with the run's data, config, steps and compute, into
    README.md. The files are built aside, then moved into out_dir one by one (each
    replace is atomic). out_dir must be new or empty unless overwrite=True; even then only
    the files the export writes are replaced, nothing else in the folder is touched.
    Returns the evaluation results.
    """
    check_export_target(out_dir, overwrite)                        # before minutes of evaluation
    state, model_dir, log = read_checkpoint_state(checkpoint)      # older layouts too
    model = AlbertForPreTraining.from_pretrained(model_dir)
    test = os.path.join(data_dir, "wikitext-103", "wiki.test.raw")
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
        card = model_card(model, state, results, train, evals, note)
        with open(os.path.join(tmp, "README.md"), "w", encoding="utf-8") as f:
            f.write(card)
        check_export_target(out_dir, overwrite)                    # again: it may have changed meanwhile
        move_files_into(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return results


def model_card(model, state, results, train, evals, note=""):
    """The README.md of an exported model: what it is, how it was made, how good it is."""
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
    return f"""# albert-tiny-en

A small English ALBERT pretrained from scratch by albert_np, in NumPy, on CPU.
It makes `albert_np.fill_mask(...)` work offline. It is a teaching model, far
weaker than Hugging Face's `albert/albert-base-v2` (pass `model="albert/albert-base-v2"`
for that one).

{note}

## Model

| field | value |
|---|---|
| architecture | AlbertForPreTraining (MLM + SOP heads) |
| vocab_size (SentencePiece unigram, ALBERT recipe) | {c.vocab_size} |
| embedding_size E / hidden_size H | {c.embedding_size} / {c.hidden_size} |
| layers L (one shared group) / heads / intermediate | {c.num_hidden_layers} / {c.num_attention_heads} / {c.intermediate_size} |
| hidden_act / dropout | {c.hidden_act} / {c.hidden_dropout_prob} |
| parameters | {model.num_parameters():,} |
| weights | float16 safetensors (loaded as float32) |

## Data

`../shared/data/pretrain/`: the Wikipedia extract (2015, 30,729 articles) and
13 Project Gutenberg books, streamed in blocks of {a['block_docs']} documents. The
two Wikipedia articles that are also in WikiText-103 test (Nero; American
Beauty) were left out. Examples follow the ALBERT recipe: sentence-order pairs,
whole-word n-gram masking (n <= {a.get('max_ngram', 3)}), {a.get('masked_lm_prob', 0.15) * 100:g} % of tokens, max {a['max_predictions']}
predictions, sequences of {a['max_seq_length']} tokens.

## Training

| field | value |
|---|---|
| steps | {state['global_step']:,} of a planned {state['total_steps']:,} |
| batch | {a['batch_size']} x {a['grad_accum']} accumulation |
| tokens seen | {tokens:,} |
| optimiser | {a['optimizer'].upper()}, lr {a['learning_rate']}, {schedule}, weight decay {a['weight_decay']}, clip {a['max_grad_norm']} |
| compute | CPU only, NumPy (albert_np's own backprop), on a 2-core machine; {procs}; last measured {speed:,.0f} tokens/s |
| CPU time (process time of all threads and worker processes) | {cpu} |
| seed | {a['seed']} |

Held-out during training (WikiText-103 validation, fixed masks):

| step | masked-token top-1 | SOP accuracy | MLM loss |
|---|---|---|---|
{rows}

## Quality (WikiText-103 test, raw; {results['masked_tokens']:,} masked tokens, {results['pairs']:,} pairs)

| metric | value |
|---|---|
| masked-token top-1 accuracy | {results['mlm_accuracy']:.3f} |
| the same, only where the input token was replaced ([MASK] or random; {results['replaced_tokens']:,} tokens) | {results['replaced_accuracy']:.3f} |
| sentence-order accuracy | {results['sop_accuracy']:.3f} |
| MLM loss (nats / masked token) | {results['mlm_loss']:.3f} |

Reproduce: `python -m albert_np pretrain-eval --model <this folder>`.
"""


def add_export_arguments(p):
    p.add_argument("--checkpoint", required=True, help="a pretraining checkpoint-<step> folder")
    p.add_argument("--tokenizer", required=True, help="spiece.model or a tokenizer folder")
    p.add_argument("--out", required=True, help="folder to write (e.g. albert_np/pretrained/albert-tiny-en)")
    p.add_argument("--data-dir", default=SHARED_DATA)
    p.add_argument("--examples", type=int, default=4000)
    p.add_argument("--note", default="", help="Markdown put under the card's title")
    p.add_argument("--note-file", default=None, help="read the note from this Markdown file instead")
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
                             examples=args.examples, note=note, overwrite=args.overwrite)
    print(json.dumps(results, indent=1))

