"""Fine-tune the bundled model for chapters 12 and 13: a SQuAD reader and a WNUT-17 tagger.

    PYTHONPATH=. OPENBLAS_NUM_THREADS=1 python tutorials/assets/make_heads.py            # both
    PYTHONPATH=. OPENBLAS_NUM_THREADS=1 python tutorials/assets/make_heads.py --only squad
    (the data: $ALBERT_NP_DATA, else ../shared/data beside the repository)

Each head is trained with albert_np's own `finetune` (the loop of `python -m albert_np finetune`),
then its best checkpoint (by the dev metric) is stored as a small float16 model folder beside this
script, with the tokenizer files, a README.md that records how it was made and its dev scores, and the same
facts as JSON (make_heads.json: the sha256 of the base model's weights, scores, settings, the SQuAD
article split) for the tutorials to read; a chapter refuses a head made from other weights than the
bundled model's (tutorial_utils.fine_tuned_asset), so a new bundled model needs this script rerun:

    tutorials/assets/albert-tiny-en-squad/     AlbertForQuestionAnswering
    tutorials/assets/albert-tiny-en-wnut17/    AlbertForTokenClassification (WNUT-17's 13 BIO tags)

The dev scores in the card are measured on the float16 folder as written (reloaded), so they are
the scores of the files the tutorials open. The assets are for the tutorials only: tutorials/ is
not part of the package (setup.cfg packages albert_np.* only; MANIFEST.in prunes tutorials).

SQuAD: only the v1.1 dev set is in the shared data (the train file is too large for it), so it is
split BY ARTICLE: the articles are ordered by the SHA-256 of their title, and the first
DEV_ARTICLES of that order are held out for dev, the rest are for training. No dev paragraph is
seen in training. The split does not depend on the model, so a rerun with a new bundled model
uses the same articles.
"""
import argparse
import hashlib
import json
import logging
import os
import platform
import resource
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, ROOT)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import albert_np  # noqa: E402
from albert_np import AlbertForQuestionAnswering, AlbertForTokenClassification, AlbertTokenizerFast  # noqa: E402
from albert_np.io import file_sha256, read_json  # noqa: E402
from albert_np.pretrained import bundled_model  # noqa: E402
from albert_np.training import datasets, features  # noqa: E402
from albert_np.training.finetuning import evaluate, finetune  # noqa: E402

DEV_ARTICLES = 10          # of SQuAD v1.1 dev's 48 articles: 38 (79 %) train, 10 dev
SEED = 42

# The settings of each run (FinetuneSettings fields), chosen for CPU time: a SQuAD step (32 windows of
# up to 256 tokens, forward + backward + AdamW) takes about 5 CPU seconds of the tiny model, a WNUT-17
# step about 1. Runs tried (December 2026, on 2 cores shared with ~10 other processes):
#   squad  max_length 384, doc_stride 128, 1 epoch (291 steps), lr 2e-4: stopped at step 3, ~20 s wall a step;
#   squad  max_length 256, doc_stride 128, 0.4 epoch (136 steps), lr 3e-4: stopped at step 4, ~70 s wall a step;
#   squad  as below (0.2 epoch, 68 steps, lr 5e-4): the asset;
#   wnut17 as below (3 epochs, lr 3e-4): the asset, dev entity F1 0.0 / 1.6 / 14.0 % after epochs 1 / 2 / 3
#          (a first start was stopped after a minute to change this script's output);
#   wnut17 2 epochs, lr 1e-3: dev entity F1 0.0 after both epochs (it tags every word O).
# A longer SQuAD run would do better: raise "epochs" (each 0.1 epoch is about 34 steps, 3 CPU minutes).
SETTINGS = {
    "squad": dict(epochs=0.2, batch_size=32, learning_rate=5e-4, warmup=0.1, max_length=256,
                  doc_stride=128, weight_decay=0.01, seed=SEED),
    "wnut17": dict(epochs=3.0, batch_size=32, learning_rate=3e-4, warmup=0.1, max_length=128,
                   weight_decay=0.01, seed=SEED),
}
ASSET = {"squad": "albert-tiny-en-squad", "wnut17": "albert-tiny-en-wnut17"}
TOKENIZER_FILES = ("spiece.model", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def data_dir():
    """$ALBERT_NP_DATA, else shared/data beside the repository (its usual layout)."""
    return os.environ.get(datasets.DATA_ENV) or os.path.join(ROOT, "..", "shared", "data")


def article_split(squad_file, n_dev=DEV_ARTICLES):
    """(train titles, dev titles): the n_dev articles with the smallest SHA-256 of the title are dev."""
    titles = [doc["title"] for doc in read_json(squad_file)["data"]]
    ranked = sorted(titles, key=lambda t: hashlib.sha256(t.encode("utf-8")).hexdigest())
    dev = set(ranked[:n_dev])
    return [t for t in titles if t not in dev], [t for t in titles if t in dev]


def write_squad_subset(squad_file, titles, out):
    data = read_json(squad_file)
    keep = [doc for doc in data["data"] if doc["title"] in set(titles)]
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"version": data.get("version", "1.1"), "data": keep}, f)
    return sum(len(p["qas"]) for d in keep for p in d["paragraphs"])


def cpu_seconds():
    """CPU time of this process and its children (user + system)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def save_asset(model, tokenizer_dir, out):
    """model -> out as float16 safetensors + config + the tokenizer files (any README.md is kept)."""
    model.save_pretrained(out, storage_dtype="float16")
    for name in TOKENIZER_FILES:
        if os.path.isfile(os.path.join(tokenizer_dir, name)):
            shutil.copyfile(os.path.join(tokenizer_dir, name), os.path.join(out, name))


def train_one(task_name, base, work, out, settings, data):
    task = datasets.get_task(task_name)
    if task_name == "squad":
        squad = os.path.join(data, task.files[1])
        train_titles, dev_titles = article_split(squad)
        train_file, dev_file = os.path.join(work, "squad-train.json"), os.path.join(work, "squad-dev.json")
        n_train, n_dev = write_squad_subset(squad, train_titles, train_file), write_squad_subset(squad, dev_titles,
                                                                                                  dev_file)
        split = {"train_articles": train_titles, "dev_articles": dev_titles,
                 "train_questions": n_train, "dev_questions": n_dev}
        data_note = (f"SQuAD v1.1 **dev** set (shared/data/{task.files[1]}; the train set is not in the shared "
                     f"data), split by article: the {len(dev_titles)} of {len(dev_titles) + len(train_titles)} "
                     f"articles with the smallest SHA-256 of their title are held out for dev ({n_dev} questions), "
                     f"the other {len(train_titles)} are for training ({n_train} questions). "
                     f"Dev articles: {', '.join(dev_titles)}.")
    else:
        split = {}
        train_file, dev_file = (os.path.join(data, f) for f in task.files)
        data_note = (f"WNUT-17: train shared/data/{task.files[0]} "
                     f"({len(datasets.load_examples(task, train_file))} texts), dev shared/data/{task.files[1]} "
                     f"({len(datasets.load_examples(task, dev_file))} texts).")
    print(f"[{task_name}] {data_note}", flush=True)
    cpu0, wall0 = cpu_seconds(), time.time()
    # a run of more than one epoch keeps its best epoch (scored on dev); a shorter one keeps its end, and
    # skips the evaluation during training (the asset is scored below anyway)
    select = dev_file if settings["epochs"] > 1 else None
    result = finetune(task, base, train_file, select, os.path.join(work, task_name), overwrite_output_dir=True,
                      progress=False, plot=False, keep_checkpoints=1, **settings)
    cpu, wall = cpu_seconds() - cpu0, time.time() - wall0
    print(f"[{task_name}] {result.global_step} steps, best step {result.best_step}, "
          f"{cpu / 60:.1f} CPU minutes ({wall / 60:.1f} wall)", flush=True)

    save_asset(result.model, base, out)
    # the scores of the files as written: reload the float16 folder and score the dev set
    cls = AlbertForQuestionAnswering if task.head == "qa" else AlbertForTokenClassification
    model, tok = cls.from_pretrained(out), AlbertTokenizerFast.from_pretrained(out)
    dev_feats = features.featurize(task, datasets.load_examples(task, dev_file), tok, settings["max_length"],
                                   settings.get("doc_stride", 128))
    scores = evaluate(model, dev_feats, 64, tok.pad_token_id)
    print(f"[{task_name}] dev scores of {out}: {json.dumps(scores)}", flush=True)
    evals = [e for e in result.log if e.get("type") == "eval"]
    write_card(task_name, out, base, settings, data_note, scores, cpu, wall, result, evals)
    # which model it was fine-tuned from: tutorial_utils.fine_tuned_asset refuses the head for another one
    weights = os.path.join(base, "model.safetensors")
    record = {"task": task_name, "base_weights_sha256": file_sha256(weights) if os.path.isfile(weights) else None,
              "dev_scores": scores, "settings": settings, "steps": result.global_step,
              "best_step": result.best_step, "cpu_minutes": round(cpu / 60, 1), "wall_minutes": round(wall / 60, 1),
              **split}
    with open(os.path.join(out, "make_heads.json"), "w", encoding="utf-8") as f:
        json.dump(record, f, indent=1)
        f.write("\n")
    return scores


def write_card(task_name, out, base, settings, data_note, scores, cpu, wall, result, evals):
    if task_name == "squad":
        what = "extractive question answering (SQuAD v1.1 style)"
        score_text = (f"exact match **{scores['exact_match']:.1f} %**, F1 **{scores['f1']:.1f} %** "
                      f"(SQuAD's official normalisation: `albert_np.training.metrics.squad_scores`)")
        cls = "AlbertForQuestionAnswering"
    else:
        what = "named-entity recognition (WNUT-17, 6 entity types, BIO tags)"
        score_text = (f"entity-level F1 **{100 * scores['f1']:.1f} %** (precision {100 * scores['precision']:.1f} %, "
                      f"recall {100 * scores['recall']:.1f} %; seqeval-style exact entity match, "
                      f"`albert_np.training.metrics.entity_scores`)")
        cls = "AlbertForTokenClassification"
    kept = (f"the checkpoint with the best dev {'F1' if task_name == 'squad' else 'entity F1'} "
            f"(step {result.best_step}, scored at each epoch's end)" if evals else "the last step's model")
    flags = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in settings.items())
    curve = "\n".join(f"| {e.get('step')} | {e.get('epoch', '')} | "
                      + ", ".join(f"{k} {v:.4f}" for k, v in e.items()
                                  if k in ("exact_match", "f1", "precision", "recall"))
                      + " |" for e in evals)
    text = f"""# {os.path.basename(out)}

The bundled `albert-tiny-en` fine-tuned for {what}, for tutorial chapters
12 and 13. A teaching model: small, quickly trained on a small data set, and far from good.
Load it with `albert_np.{cls}.from_pretrained("tutorials/assets/{os.path.basename(out)}")`.

**Dev scores** (measured on these float16 weights, reloaded): {score_text}.

<!-- scores: {json.dumps(scores, sort_keys=True)} -->

**Made by** `python tutorials/assets/make_heads.py` (it regenerates this folder), which calls
`albert_np.training.finetuning.finetune` with the bundled model and these settings, the same as

    python -m albert_np finetune --task {task_name} --model albert_np/pretrained/albert-tiny-en {flags}

**Data.** {data_note}

**Run.** {result.global_step} optimiser steps; {kept} was kept and stored as float16.
Seed {settings['seed']}. It took {cpu / 60:.1f} CPU minutes ({wall / 60:.1f} minutes wall) on
{platform.machine()} with one BLAS thread (numpy {np.__version__}, albert_np {albert_np.__version__}).

""" + (f"""
| step | epoch | dev metrics during training (float32) |
|---|---|---|
{curve}
""" if evals else "")
    with open(os.path.join(out, "README.md"), "w", encoding="utf-8") as f:
        f.write(text)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", choices=sorted(SETTINGS), action="append", help="train only this head (repeatable)")
    p.add_argument("--model", default=None, help="the base model (default: the bundled one)")
    p.add_argument("--out-dir", default=HERE, help="where the asset folders go (default: beside this script)")
    p.add_argument("--set", action="append", default=[], metavar="TASK:KEY=VALUE",
                   help="override one setting, e.g. squad:learning_rate=1e-4 (for trying settings)")
    args = p.parse_args(argv)
    logging.basicConfig(format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("albert_np").setLevel(logging.INFO)
    base = args.model or bundled_model()
    settings = {k: dict(v) for k, v in SETTINGS.items()}
    for item in args.set:
        task, kv = item.split(":", 1)
        key, value = kv.split("=", 1)
        settings[task][key] = json.loads(value)
    data = data_dir()
    for task_name in args.only or sorted(SETTINGS):
        out = os.path.join(args.out_dir, ASSET[task_name])
        with tempfile.TemporaryDirectory(prefix=f"make_heads_{task_name}_") as work:
            train_one(task_name, base, work, out, settings[task_name], data)


if __name__ == "__main__":
    main()
