"""The albert_np command line: run a task on texts, or describe a model.

    python -m albert_np fill-mask "The capital of France is [MASK]." [--model M] [--top-k 5] [--json]
    python -m albert_np classify "a great film" --model path/to/sst2-albert
    python -m albert_np tag "Ada Lovelace lived in London" --model path/to/ner-albert
    python -m albert_np qa --question "Where did Ada live?" --context-file story.txt --model path/to/squad
    python -m albert_np embed "first text" "second text" --pooling mean --json
    python -m albert_np info --model path/to/albert-folder
    python -m albert_np explain "The capital of France is [MASK]." --out capital.html   # an interactive page
    python -m albert_np convert albert_base/ albert-base-hf/     # an original TF1 release -> an HF folder
    python -m albert_np finetune --help      # also: pretrain, pretrain-vocab, pretrain-eval, pretrain-export

`albert-np` (the console command pip installs) is the same as `python -m albert_np`.
--model takes a Hub id or a local folder. A TEXT of "-" reads one text per line
from standard input. Errors (model not found, Hub unreachable, bad input, a bad
option) print one message starting "albert_np: error: " and exit with status 2;
--debug shows the traceback instead. When the reader of the output goes away
(`... | head -1`), the command ends silently with status 141, as Unix tools killed
by SIGPIPE do.
"""
import argparse
import contextlib
import json
import logging
import os
import sys

from . import __version__
from .training import finetuning, model_card, pretraining
from .explain import explain
from .auto import TASK_OF_CLASS, check_model_type, read_json
from .formats.errors import CheckpointError
from .hub import HubUnreachableError, resolve_file
from .io import describe_os_error, read_text
from .modeling import MODEL_CLASSES, AlbertForPreTraining
from .formats.tf_release import find_tf_release
from .tasks import TextClassificationPipeline, answer_question, embed, fill_mask, tag_tokens
from .tasks.loading import _default_model
from .tokenization import AlbertTokenizer

EXIT_ERROR = 2
ERROR_PREFIX = "albert_np: error: "      # every command's errors start with it
EXIT_CLOSED_PIPE = 141                     # 128 + SIGPIPE: the status of a Unix tool whose reader has gone


def program_name():
    """How the command was run, for usage lines: the `albert-np` console command or `python -m albert_np`."""
    return "albert-np" if os.path.basename(sys.argv[0]) == "albert-np" else "python -m albert_np"


class ArgumentParser(argparse.ArgumentParser):
    """argparse with this command line's error prefix; its subparsers are of the same class."""

    def error(self, message):
        self.print_usage(sys.stderr)
        command = self.prog[len(program_name()):].strip()          # "" for the top-level parser
        self.exit(EXIT_ERROR, f"{ERROR_PREFIX}{command + ': ' if command else ''}{message}\n")


# %% Shared options and output ---------------------------------------------------------------------

def add_loading_options(p, has_default=True):
    """--model, --revision, --offline."""
    p.add_argument("--model", help="Hub id, local folder, or albert-tiny-en (the bundled model)" + (
        " (default: the library's default model)" if has_default else " (required)"))
    p.add_argument("--revision", help="Hub revision (branch, tag or commit)")
    p.add_argument("--offline", action="store_true", help="use only local files and the Hub cache")


def add_model_options(p, has_default=True):
    """The task commands' options: --model, --revision, --offline, --tokenizer, --batch-size, --json."""
    add_loading_options(p, has_default)
    p.add_argument("--tokenizer", help="Hub id or folder of the tokenizer (default: the model's)")
    p.add_argument("--batch-size", type=int, default=8, help="inputs per forward pass (default 8)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def task_kwargs(args):
    """The loading options of the task functions, from the shared command-line options."""
    return dict(tokenizer=args.tokenizer, revision=args.revision, local_files_only=args.offline,
                batch_size=args.batch_size)


def read_texts(texts):
    """The TEXT arguments, with "-" replaced by the non-empty lines of standard input."""
    out = []
    for i, t in enumerate(texts):
        try:
            t.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"TEXT argument {i + 1} is not valid UTF-8 (bytes {os.fsencode(t)[:40]!r}): "
                             f"pass UTF-8 text (e.g. convert it with iconv -t UTF-8)") from None
        out += [line for line in read_stdin().split("\n") if line.strip()] if t == "-" else [t]
    if not out:
        raise ValueError("no text given (pass TEXT arguments, or - to read lines from standard input)")
    return out


def read_stdin():
    """All of standard input as text; ValueError saying so when it is not UTF-8."""
    try:
        return sys.stdin.read()
    except UnicodeDecodeError as e:
        raise ValueError(f"standard input is not valid UTF-8 ({e.reason} at byte {e.start}): "
                         f"pass UTF-8 text (e.g. convert it with iconv -t UTF-8)") from None


def emit(args, result, human):
    """Print `result` as JSON with --json, else through human(result)."""
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        human(result)


# %% Task subcommands ------------------------------------------------------------------------------

def _fill_mask_arguments(p):
    p.add_argument("texts", nargs="+", metavar="TEXT", help="text with one or more [MASK]")
    p.add_argument("--top-k", type=int, default=5, help="fillers per mask (default 5)")
    p.add_argument("--targets", nargs="+", help="restrict the candidates to these words")
    add_model_options(p)


def _fill_mask_main(args):
    texts = read_texts(args.texts)
    result = fill_mask(texts, model=args.model, top_k=args.top_k, targets=args.targets, **task_kwargs(args))
    per_text = [result] if len(texts) == 1 else result      # fill_mask unwraps a list of one text

    def human(_):
        for text, fills in zip(texts, per_text):
            print(text)
            masks = fills if fills and isinstance(fills[0], list) else [fills]
            for m, mask_fills in enumerate(masks):
                if len(masks) > 1:
                    print(f"  [MASK] {m + 1}:")
                for f in mask_fills:
                    print(f"  {f['score']:.4f}  {f['token_str']:<15} {f['sequence']}")
    emit(args, result, human)


def _classify_arguments(p):
    p.add_argument("texts", nargs="+", metavar="TEXT")
    p.add_argument("--text-pair", nargs="+", help="second texts (one per TEXT), for pair classification")
    p.add_argument("--top-k", type=int, default=1, help="labels per text (default 1; 0: all)")
    p.add_argument("--function", choices=("softmax", "sigmoid", "none"),
                   help="score function (default: chosen from the model's config)")
    add_model_options(p, has_default=False)


def _classify_main(args):
    texts = read_texts(args.texts)
    pipe = TextClassificationPipeline(_required_model(args), **task_kwargs(args))
    result = pipe(texts, text_pair=args.text_pair, function_to_apply=args.function,
                  top_k=None if args.top_k == 0 else args.top_k)       # a ranked list per text

    def human(results):
        for text, labels in zip(texts, results):
            print(text)
            for lab in labels:
                print(f"  {lab['score']:.4f}  {lab['label']}")
    emit(args, result, human)


def _tag_arguments(p):
    p.add_argument("texts", nargs="+", metavar="TEXT")
    p.add_argument("--aggregation", default="simple", choices=("none", "simple", "first", "average", "max"),
                   help="how tokens are grouped into entities (default simple)")
    add_model_options(p, has_default=False)


def _tag_main(args):
    texts = read_texts(args.texts)
    result = tag_tokens(texts, model=_required_model(args), aggregation_strategy=args.aggregation,
                        **task_kwargs(args))

    def human(results):
        for text, entities in zip(texts, results):
            print(text)
            for e in entities:
                label = e.get("entity_group", e.get("entity"))
                print(f"  {label:<10} {e['score']:.4f}  {e['start']:>4}-{e['end']:<4} {text[e['start']:e['end']]}")
    emit(args, result, human)


def _qa_arguments(p):
    p.add_argument("--question", required=True, nargs="+", help="one or more questions")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--context", help="the text to answer from")
    source.add_argument("--context-file", help="read the context from this file (- for standard input)")
    p.add_argument("--top-k", type=int, default=1)
    p.add_argument("--doc-stride", type=int, help="tokens shared by neighbouring windows "
                   "(default: min(max-seq-len / 2, 128))")
    p.add_argument("--max-answer-len", type=int, default=15)
    p.add_argument("--max-seq-len", type=int, default=384, help="tokens per window")
    p.add_argument("--max-question-len", type=int, default=64)
    p.add_argument("--handle-impossible-answer", action="store_true", help="allow the empty answer")
    add_model_options(p, has_default=False)


def _qa_main(args):
    if args.context_file == "-":
        context = read_stdin()
    elif args.context_file:
        context = read_text(args.context_file)        # ValueError naming the file when it is not UTF-8
    else:
        context = args.context
    questions = args.question
    result = answer_question(questions if len(questions) > 1 else questions[0], context,
                             model=_required_model(args), top_k=args.top_k, doc_stride=args.doc_stride,
                             max_answer_len=args.max_answer_len, max_seq_len=args.max_seq_len,
                             max_question_len=args.max_question_len,
                             handle_impossible_answer=args.handle_impossible_answer, **task_kwargs(args))

    def human(result):
        per_question = result if len(questions) > 1 else [result]
        for q, answers in zip(questions, per_question):
            print(q)
            for a in answers if isinstance(answers, list) else [answers]:
                print(f"  {a['score']:.4f}  [{a['start']}:{a['end']}]  {a['answer'] or '(no answer)'}")
    emit(args, result, human)


def _embed_arguments(p):
    p.add_argument("texts", nargs="+", metavar="TEXT")
    p.add_argument("--pooling", default="cls", choices=("cls", "mean"),
                   help="[CLS] vector or mean over the tokens (default cls)")
    add_model_options(p)


def _embed_main(args):
    texts = read_texts(args.texts)
    vectors = embed(texts, model=args.model, pooling=args.pooling, **task_kwargs(args))

    def human(rows):
        for row in rows:
            print(" ".join(f"{v:.6g}" for v in row))
    emit(args, vectors.tolist(), human)


def _info_arguments(p):
    add_loading_options(p)
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def _info_main(args):
    name = args.model or _default_model()
    hub = dict(revision=args.revision, local_files_only=args.offline)
    config_dict = read_json(name, "config.json", **hub)
    check_model_type(config_dict, name, "info")
    arch = next((a for a in config_dict.get("architectures") or () if a in MODEL_CLASSES), "AlbertModel")
    model = MODEL_CLASSES[arch].from_pretrained(name, **hub)
    files = [resolve_file(name, "config.json", **hub)] + list(model.loaded_files)
    tokenizer_files = [p for p in (resolve_file(name, f, required=False, **hub) for f in (
        "spiece.model", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")) if p]
    info = {"model": str(name), "class": arch, "task": TASK_OF_CLASS.get(arch),
            "parameters": model.num_parameters(), "files": files, "tokenizer_files": tokenizer_files,
            "config": model.config.to_dict()}

    def human(info):
        print(f"model       {info['model']}")
        print(f"class       {info['class']}  (task: {info['task']})")
        print(f"parameters  {info['parameters']:,}")
        print("files       " + "\n            ".join(info["files"]))
        print("tokenizer   " + ("\n            ".join(info["tokenizer_files"]) or "(none in this folder)"))
        print("config")
        for key, value in sorted(info["config"].items()):
            print(f"  {key:<30} {value}")
    emit(args, info, human)


def _explain_arguments(p):
    p.add_argument("text", metavar="TEXT", help="the text to look inside ([MASK] where a word goes gives "
                                                "predictions; - reads standard input)")
    p.add_argument("--pair", metavar="SECOND_TEXT", help="a second text (token type 1)")
    p.add_argument("--out", required=True, metavar="FILE.html", help="the page to write (one self-contained file)")
    p.add_argument("--top-k", type=int, default=5, help="predictions per [MASK] (default 5)")
    p.add_argument("--no-truncation", action="store_true",
                   help="refuse a text longer than the model reads, instead of cutting it")
    p.add_argument("--model", help="Hub id, local folder, or albert-tiny-en (default: the library's default model)")
    p.add_argument("--tokenizer", help="Hub id or folder of the tokenizer (default: the model's)")
    p.add_argument("--revision", help="Hub revision (branch, tag or commit)")
    p.add_argument("--offline", action="store_true", help="use only local files and the Hub cache")


def _explain_main(args):
    text = " ".join(read_texts([args.text]))                  # "-": standard input, its lines joined
    pair = None if args.pair is None else " ".join(read_texts([args.pair]))
    page = explain(text, model=args.model, pair=pair, tokenizer=args.tokenizer, top_k=args.top_k,
                   truncation=not args.no_truncation, revision=args.revision, local_files_only=args.offline)
    path = page.save(args.out)
    d = page.data
    print(f"{path}: {os.path.getsize(path) / 1e6:.2f} MB, {len(d['tokens']['ids'])} tokens, "
          f"{d['model']['name']} ({d['model']['class']}); open it in a browser (no network needed)")


def _convert_arguments(p):
    p.add_argument("src", help="an original ALBERT release folder (albert_config.json, model.ckpt-*.index/.data-*, "
                               "30k-clean.model), or a checkpoint prefix such as albert_base/model.ckpt-best")
    p.add_argument("dst", help="the folder to write: config.json, model.safetensors, tokenizer files")
    p.add_argument("--cased", action="store_true", help="the vocabulary is cased (do_lower_case=False)")
    p.add_argument("--storage-dtype", choices=("float16", "bfloat16"), help="store the weights in half precision")


def _convert_main(args):
    release = find_tf_release(args.src)
    if release is None:
        raise FileNotFoundError(f"{args.src!r} is not an original TF release: expected a folder with "
                                f"albert_config.json and model.ckpt-*.index, or a checkpoint prefix")
    model = AlbertForPreTraining.from_pretrained(args.src)
    model.save_pretrained(args.dst, storage_dtype=args.storage_dtype)
    written = ["config.json", "model.safetensors"]
    if release.vocab_file is not None:
        AlbertTokenizer(vocab_file=release.vocab_file, do_lower_case=not args.cased).save_pretrained(args.dst)
        written.append(f"tokenizer ({os.path.basename(release.vocab_file)})")
    else:
        print(f"albert_np: no SentencePiece *.model beside {release.prefix}: no tokenizer written", file=sys.stderr)
    print(f"{args.dst}: " + ", ".join(written) + f" from {release.prefix} ({model.num_parameters():,} parameters)")


def _required_model(args):
    if args.model is None:
        raise ValueError(f"{args.command} needs --model (a Hub id or a folder of an ALBERT fine-tuned for it): "
                         f"there is no default model for this task")
    return args.model


# %% Entry point -----------------------------------------------------------------------------------

def build_parser():
    """The argument parser: one subparser per command, its main function set as args.func.

    A command is a pair of functions: one adding its options to its subparser, and
    main(args) returning the exit status (None means 0).
    """
    prog = program_name()
    parser = ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0],
                            epilog=f"Run `{prog} COMMAND --help` for a command's options.")
    parser.add_argument("--version", action="version", version=f"albert_np {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what is loaded")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name, help):
        return sub.add_parser(name, help=help, description=help)

    p = command("fill-mask", "predict the [MASK] tokens of texts")
    _fill_mask_arguments(p)
    p.set_defaults(func=_fill_mask_main)

    p = command("classify", "label texts (or text pairs)")
    _classify_arguments(p)
    p.set_defaults(func=_classify_main)

    p = command("tag", "tag tokens / find named entities")
    _tag_arguments(p)
    p.set_defaults(func=_tag_main)

    p = command("qa", "answer a question from a context")
    _qa_arguments(p)
    p.set_defaults(func=_qa_main)

    p = command("embed", "one vector per text")
    _embed_arguments(p)
    p.set_defaults(func=_embed_main)

    p = command("info", "a model's config, parameter count and files")
    _info_arguments(p)
    p.set_defaults(func=_info_main)

    p = command("explain", "one self-contained interactive HTML page of a forward pass (attention, lens, ...)")
    _explain_arguments(p)
    p.set_defaults(func=_explain_main)

    p = command("convert", "an original TF1 ALBERT release (Google's checkpoints) -> an HF folder")
    _convert_arguments(p)
    p.set_defaults(func=_convert_main)

    p = command("finetune", "fine-tune a model on a task (sst2, cola, mrpc, stsb, rte, wnut17, squad, cosmosqa)")
    finetuning.add_finetune_arguments(p)
    p.set_defaults(func=finetuning.finetune_from_namespace)

    p = command("pretrain", "pretrain ALBERT (MLM + SOP) on a mixture of text sources (the data folder's default "
                            "mixture, or your files with --source); prints its plan first; resumes from --out")
    pretraining.add_pretrain_arguments(p)
    p.set_defaults(func=pretraining.pretrain_main)

    p = command("pretrain-vocab", "train the SentencePiece vocabulary of the pretraining text (the same sources)")
    pretraining.add_vocab_arguments(p)
    p.set_defaults(func=pretraining.vocab_main)

    p = command("pretrain-export", "ship a pretraining checkpoint: fp16 weights, tokenizer, model card")
    model_card.add_export_arguments(p)
    p.set_defaults(func=model_card.export_main)

    p = command("pretrain-eval", "masked-token and sentence-order accuracy on held-out text")
    pretraining.add_eval_arguments(p)
    p.set_defaults(func=pretraining.eval_main)
    return parser


def main(argv=None):
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_ERROR
    if getattr(args, "workers", None) is not None:          # the old worker pool's option
        print(f"{ERROR_PREFIX}--workers is gone: run `mpiexec -n {args.workers} python -m albert_np "
              f"{args.command} ...` (pip install 'albert_np[mpi]'; --batch-size is the global batch)",
              file=sys.stderr)
        return EXIT_ERROR
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="albert_np: %(message)s")
    try:
        status = args.func(args) or 0
        sys.stdout.flush()                     # a closed pipe shows here, not at exit
        return status
    except BrokenPipeError:                    # `python -m albert_np ... | head -1`: the reader has gone
        return closed_pipe()
    except (HubUnreachableError, FileNotFoundError, CheckpointError, ValueError, TypeError) as e:
        if args.debug:
            raise
        print(f"{ERROR_PREFIX}{e}", file=sys.stderr)
        if isinstance(e, HubUnreachableError):
            print("albert_np: on the command line, pass that folder as --model /path/to/folder", file=sys.stderr)
        return EXIT_ERROR
    except OSError as e:                       # read-only folder, disk full, a folder given for a file
        if args.debug:
            raise
        print(f"{ERROR_PREFIX}{describe_os_error(e)}", file=sys.stderr)
        return EXIT_ERROR
    except MemoryError:
        if args.debug:
            raise
        print(f"{ERROR_PREFIX}out of memory: use a smaller model, fewer texts or --batch-size 1",
              file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


def closed_pipe():
    """End quietly, as Unix tools do when the reader of their output has gone: no message, and
    status EXIT_CLOSED_PIPE (141 = 128 + SIGPIPE, what a shell reports for `yes | head -1`'s yes).
    Standard output is pointed at /dev/null first, so that Python's flush at exit cannot fail again.
    """
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return EXIT_CLOSED_PIPE


if __name__ == "__main__":
    sys.exit(main())
