"""The albert_np command line: run a task on texts, or describe a model.

    python -m albert_np fill-mask "The capital of France is [MASK]." [--model M] [--top-k 5] [--json]
    python -m albert_np classify "a great film" --model path/to/sst2-albert
    python -m albert_np tag "Ada Lovelace lived in London" --model path/to/ner-albert
    python -m albert_np qa --question "Where did Ada live?" --context-file story.txt --model path/to/squad
    python -m albert_np embed "first text" "second text" --pooling mean --json
    python -m albert_np info --model path/to/albert-folder

--model takes a Hub id or a local folder. A TEXT of "-" reads one text per line
from standard input. Errors (model not found, Hub unreachable, bad input) print
one message and exit with status 2; --debug shows the traceback instead.
"""
import argparse
import json
import logging
import os
import sys
from typing import Callable, NamedTuple

if __name__ == "__main__":      # let `import albert_np.__main__` find this module (see register)
    sys.modules.setdefault("albert_np.__main__", sys.modules[__name__])

EXIT_ERROR = 2


class Subcommand(NamedTuple):
    """One subcommand: its --help line, a function adding its options, and its main(args) -> exit code."""
    help: str
    add_arguments: Callable
    main: Callable


SUBCOMMANDS = {}     # name -> Subcommand, in --help order


def register(name, help, add_arguments, main):
    """Add a subcommand (also usable from other modules listed in EXTENSION_MODULES)."""
    SUBCOMMANDS[name] = Subcommand(help, add_arguments, main)


# %% Shared options and output ---------------------------------------------------------------------

def add_model_options(p, has_default=True):
    """--model, --tokenizer, --revision, --offline, --batch-size, --json."""
    p.add_argument("--model", help="Hub id or local folder" + (
        " (default: the library's default model)" if has_default else " (required)"))
    p.add_argument("--tokenizer", help="Hub id or folder of the tokenizer (default: the model's)")
    p.add_argument("--revision", help="Hub revision (branch, tag or commit)")
    p.add_argument("--offline", action="store_true", help="use only local files and the Hub cache")
    p.add_argument("--batch-size", type=int, default=8, help="inputs per forward pass (default 8)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def task_kwargs(args):
    """The loading options of the task functions, from the shared command-line options."""
    return dict(tokenizer=args.tokenizer, revision=args.revision, local_files_only=args.offline,
                batch_size=args.batch_size)


def read_texts(texts):
    """The TEXT arguments, with "-" replaced by the non-empty lines of standard input."""
    out = []
    for t in texts:
        out += [line.rstrip("\n") for line in sys.stdin if line.strip()] if t == "-" else [t]
    if not out:
        raise ValueError("no text given (pass TEXT arguments, or - to read lines from standard input)")
    return out


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
    from .tasks import fill_mask
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
    from .tasks import TextClassificationPipeline
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
    from .tasks import tag_tokens
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
    from .tasks import answer_question
    if args.context_file:
        f = sys.stdin if args.context_file == "-" else open(args.context_file, encoding="utf-8")
        with f:
            context = f.read()
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
    from .tasks import embed
    texts = read_texts(args.texts)
    vectors = embed(texts, model=args.model, pooling=args.pooling, **task_kwargs(args))

    def human(rows):
        for row in rows:
            print(" ".join(f"{v:.6g}" for v in row))
    emit(args, vectors.tolist(), human)


def _info_arguments(p):
    add_model_options(p)


def _info_main(args):
    from . import tasks
    from .auto import TASK_OF_CLASS, check_model_type, read_json
    from .hub import resolve_file
    from .modeling import MODEL_CLASSES
    name = args.model or tasks._default_model()
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


def _required_model(args):
    if args.model is None:
        raise ValueError(f"{args.command} needs --model (a Hub id or a folder of an ALBERT fine-tuned for it): "
                         f"there is no default model for this task")
    return args.model


register("fill-mask", "predict the [MASK] tokens of texts", _fill_mask_arguments, _fill_mask_main)
register("classify", "label texts (or text pairs)", _classify_arguments, _classify_main)
register("tag", "tag tokens / find named entities", _tag_arguments, _tag_main)
register("qa", "answer a question from a context", _qa_arguments, _qa_main)
register("embed", "one vector per text", _embed_arguments, _embed_main)
register("info", "a model's config, parameter count and files", _info_arguments, _info_main)


# %% Other subcommands: register them here --------------------------------------------------------
# Add training subcommands (finetune, pretrain, ...) below with
#     register("finetune", "fine-tune a model on a task", add_arguments, main)
# where add_arguments(parser) declares the options and main(args) runs and returns an exit code
# (None = 0). Import heavy modules inside main, so that `python -m albert_np --help` stays fast.
# A module can also register its own subcommands at import time: list it in EXTENSION_MODULES,
# and call `from albert_np.__main__ import register` in it.
EXTENSION_MODULES = ()


def _lazy(module, function):
    """main(args) that imports its module only when the command runs."""
    def run(args):
        import importlib
        return getattr(importlib.import_module(module, __package__), function)(args)
    return run


def _pretraining_arguments(name):
    def add(parser):
        from . import pretrain
        getattr(pretrain, name)(parser)
    return add


def _finetune_arguments(parser):
    from .finetune import add_finetune_arguments
    add_finetune_arguments(parser)


register("finetune", "fine-tune a model on a task (sst2, cola, mrpc, stsb, rte, wnut17, squad, cosmosqa)",
         _finetune_arguments, _lazy(".finetune", "finetune_from_namespace"))
register("pretrain", "pretrain ALBERT (MLM + SOP) on the shared corpus; resumes from --out",
         _pretraining_arguments("add_pretrain_arguments"), _lazy(".pretrain", "pretrain_main"))
register("pretrain-vocab", "train the SentencePiece vocabulary of the pretraining corpus",
         _pretraining_arguments("add_vocab_arguments"), _lazy(".pretrain", "vocab_main"))
register("pretrain-export", "ship a pretraining checkpoint: fp16 weights, tokenizer, model card",
         _pretraining_arguments("add_export_arguments"), _lazy(".pretrain", "export_main"))
register("pretrain-eval", "masked-token and sentence-order accuracy on held-out text",
         _pretraining_arguments("add_eval_arguments"), _lazy(".pretrain", "eval_main"))


# %% Entry point -----------------------------------------------------------------------------------

def build_parser():
    import importlib
    for module in EXTENSION_MODULES:
        importlib.import_module(module)
    from . import __version__
    parser = argparse.ArgumentParser(prog="python -m albert_np", description=__doc__.split("\n\n")[0],
                                     epilog="Run `python -m albert_np COMMAND --help` for a command's options.")
    parser.add_argument("--version", action="version", version=f"albert_np {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what is loaded")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, command in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=command.help, description=command.help)
        command.add_arguments(p)
    return parser


def main(argv=None):
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_ERROR
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="albert_np: %(message)s")
    from .checkpoint import CheckpointError
    from .hub import HubUnreachableError
    try:
        return SUBCOMMANDS[args.command].main(args) or 0
    except (HubUnreachableError, FileNotFoundError, CheckpointError, ValueError, TypeError) as e:
        if args.debug:
            raise
        print(f"albert_np: error: {e}", file=sys.stderr)
        if isinstance(e, HubUnreachableError):
            print("albert_np: on the command line, pass that folder as --model /path/to/folder", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:                    # e.g. `python -m albert_np info | head`
        sys.stdout = open(os.devnull, "w")
        return 0


if __name__ == "__main__":
    sys.exit(main())
