"""Is pretraining worth it? Fine-tune the bundled model and the same architecture from random init.

    python tests/benchmarks/pretrained_vs_scratch.py --init pretrained --task sst2 --out runs/pvs
    python tests/benchmarks/pretrained_vs_scratch.py --init scratch --task all --out runs/pvs
    python tests/benchmarks/pretrained_vs_scratch.py --table --out runs/pvs

Both sides use the same config, tokenizer, data, hyper-parameters and seed; the only difference
is the starting weights: the pretrained checkpoint (default: the bundled albert-tiny-en), or
the same model class built from that config with fresh random weights (N(0, 0.02), as HF).
Each run writes <out>/<init>-<task>/result.json; --table prints the side-by-side table.

Data (from ../shared/data, see its SOURCES.md):
  sst2     train: the first 20,000 GLUE SST-2 train rows; dev: all 872 dev rows (accuracy)
  wnut17   train: all 3,394 texts; dev: all 1,009 dev texts (entity-level F1)
  squad    SQuAD v1.1 dev split by article (the train file is not available here):
           train on the questions of articles 0-39 (first 3,000), evaluate on articles 40-47
  cosmosqa Cosmos QA dev (the train file is not available here), split by context: the
           questions on the contexts of rows 0-2,399 train (first 1,600), the rest evaluate (accuracy)
Run one BLAS thread per process (OPENBLAS_NUM_THREADS=1) and two processes side by side on a
2-core machine: that is how the figures in the issue were taken.
"""
import argparse
import csv
import io
import json
import os
import sys
import time

TASKS = ("sst2", "wnut17", "squad", "cosmosqa")

# Identical for both inits. Budgets sized for ~5 single-thread CPU-minutes per run.
SETTINGS = {
    "sst2": dict(limit_train=20000, epochs=1, batch_size=32, learning_rate=3e-4, max_length=64),
    "wnut17": dict(epochs=5, batch_size=16, learning_rate=3e-4, max_length=128),
    "squad": dict(limit_train=3000, epochs=1, batch_size=16, learning_rate=3e-4, max_length=192,
                  doc_stride=64),
    "cosmosqa": dict(limit_train=1600, epochs=1, batch_size=16, learning_rate=1e-4, max_length=128),
}
COMMON = dict(warmup=0.1, weight_decay=0.01, seed=42, progress=False, plot=True, keep_checkpoints=1)
SCRATCH_SEED = 0


def data_files(task, data_dir, work_dir):
    """(train, dev) files for `task`; the SQuAD and Cosmos QA splits are written once to work_dir."""
    from albert_np import datasets
    if task in ("sst2", "wnut17"):
        return datasets.default_data_file(task, "train", data_dir), datasets.default_data_file(task, "dev", data_dir)
    os.makedirs(work_dir, exist_ok=True)
    if task == "squad":
        train, dev = (os.path.join(work_dir, n) for n in ("squad_articles_0-39.json", "squad_articles_40-47.json"))
        if not (os.path.exists(train) and os.path.exists(dev)):
            datasets.split_squad_by_article(os.path.join(data_dir, "squad", "dev-v1.1.json"), 40, train, dev)
        return train, dev
    train, dev = (os.path.join(work_dir, n) for n in ("cosmosqa_train.csv", "cosmosqa_dev.csv"))
    if not (os.path.exists(train) and os.path.exists(dev)):
        with open(os.path.join(data_dir, "multiple_choice", "cosmosqa", "valid.csv"), newline="",
                  encoding="utf-8") as f:
            reader = csv.reader(f)
            header, rows = next(reader), list(reader)
        ctx = header.index("context")
        seen = {r[ctx] for r in rows[:2400]}              # a context's questions all go to one side
        part_train = [r for r in rows if r[ctx] in seen]
        part_dev = [r for r in rows if r[ctx] not in seen]
        from albert_np.io import atomic_write_text
        for path, part in ((train, part_train), (dev, part_dev)):
            text = io.StringIO()
            w = csv.writer(text, lineterminator="\n")
            w.writerow(header)
            w.writerows(part)
            atomic_write_text(path, text.getvalue())
    return train, dev


def run(init, task, model_dir, out, data_dir):
    from albert_np import datasets
    from albert_np.io import atomic_write_text
    from albert_np.tokenization import AlbertTokenizerFast
    from albert_np.finetuning import finetune, model_for_task
    t = datasets.get_task(task)
    train, dev = data_files(task, data_dir, os.path.join(out, "data"))
    tokenizer = AlbertTokenizerFast.from_pretrained(model_dir)
    net = model_for_task(t, model_dir)                      # the pretrained body with a new task head
    if init == "scratch":
        net = type(net)(net.config, seed=SCRATCH_SEED)  # same config and class, every weight random
    settings = {**COMMON, **SETTINGS[task]}
    limit = settings.pop("limit_train", None)
    run_dir = os.path.join(out, f"{init}-{task}")
    t0, c0 = time.perf_counter(), time.process_time()
    result = finetune(t, net, train, dev, run_dir, tokenizer, overwrite_output_dir=True,
                      limit_train=limit, **settings)
    record = {"init": init, "task": task, "model": os.path.abspath(model_dir), "train": train, "dev": dev,
              "limit_train": limit, "settings": settings, "metrics": result.metrics,
              "best_step": result.best_step, "steps": result.global_step,
              "examples_per_second": result.examples_per_second,
              "wall_seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0}
    atomic_write_text(os.path.join(run_dir, "result.json"), json.dumps(record, indent=1))
    print(json.dumps({k: record[k] for k in ("init", "task", "metrics", "wall_seconds")}))
    return record


METRICS = {"sst2": [("accuracy", "accuracy")], "wnut17": [("f1", "entity F1")],
           "squad": [("exact_match", "EM"), ("f1", "F1")], "cosmosqa": [("accuracy", "accuracy")]}


def table(out):
    rows = ["| task | metric (dev) | scratch | pretrained | difference | train | s per run (scratch / pretrained) |",
            "|---|---|---|---|---|---|---|"]
    for task in TASKS:
        rec = {}
        for init in ("scratch", "pretrained"):
            path = os.path.join(out, f"{init}-{task}", "result.json")
            if os.path.exists(path):
                with open(path, encoding="utf-8") as f:
                    rec[init] = json.load(f)
        if not rec:
            continue
        any_rec = next(iter(rec.values()))
        s = any_rec["settings"]
        train = (f"{any_rec['steps']} steps x {s['batch_size']}, lr {s['learning_rate']:g}, "
                 f"{s['epochs']:g} epoch(s)")
        for key, name in METRICS[task]:
            scale = 1 if task == "squad" else 100         # SQuAD's scores are percentages already
            vals = {i: scale * r["metrics"][key] for i, r in rec.items()}
            cell = {i: f"{vals[i]:.1f}" if i in vals else "-" for i in ("scratch", "pretrained")}
            diff = (f"{vals['pretrained'] - vals['scratch']:+.1f}" if len(vals) == 2 else "-")
            secs = " / ".join(f"{rec[i]['wall_seconds']:.0f}" if i in rec else "-" for i in ("scratch", "pretrained"))
            rows.append(f"| {task} | {name} | {cell['scratch']} | {cell['pretrained']} | {diff} | {train} | {secs} |")
    print("\n".join(rows))


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--init", choices=("pretrained", "scratch"))
    p.add_argument("--task", default="all", help=f"one of {', '.join(TASKS)}, or all")
    p.add_argument("--model", default=os.path.join(root, "albert_np", "pretrained", "albert-tiny-en"))
    p.add_argument("--data-dir", default=os.path.join(os.path.dirname(root), "shared", "data"))
    p.add_argument("--out", default=os.path.join(root, "runs", "pretrained_vs_scratch"))
    p.add_argument("--table", action="store_true", help="print the table of the finished runs")
    a = p.parse_args(argv)
    if a.table:
        return table(a.out)
    if a.init is None:
        p.error("--init is required (or --table)")
    tasks = TASKS if a.task == "all" else (a.task,)
    if any(t not in TASKS for t in tasks):
        p.error(f"--task must be one of {', '.join(TASKS)} or all")
    for task in tasks:
        run(a.init, task, a.model, a.out, a.data_dir)


if __name__ == "__main__":
    sys.exit(main())
