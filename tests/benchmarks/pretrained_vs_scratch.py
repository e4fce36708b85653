"""Is pretraining worth it? Fine-tune a pretrained model and the same architecture from random init.

    python tests/benchmarks/pretrained_vs_scratch.py --init scratch    --model DIR --out runs/pvs
    python tests/benchmarks/pretrained_vs_scratch.py --init pretrained --model DIR --out runs/pvs
    python tests/benchmarks/pretrained_vs_scratch.py --table --out runs/pvs [--json summary.json]

The question (the issue's target): does the pretrained start beat random init by >= 3 points,
mean of 3 seeds, on SST-2 (all of it and 2,000 sentences), WNUT-17 and Cosmos QA, with identical
settings?

Both inits build the task model the same way: the model class of the task, from the config in
--model (default: the bundled albert-tiny-en), with every weight drawn from the run's seed
(N(0, 0.02), as HF). For --init pretrained the checkpoint's weights then replace the encoder's;
the new task head keeps its seeded draw, so for one seed both inits start from the same head.
The seed also orders the training batches and draws the dropout masks. Tokenizer, data and
hyper-parameters (SETTINGS below, the one place they are defined) are the same for both.

Each (init, task, seed) run writes <out>/<init>-<task>-seed<S>/result.json (atomically) with:
  fingerprint  settings: task, the full fine-tuning arguments, config hash, tokenizer hash, data
               files (bytes, sha256) -- what must agree for two runs to be compared;
               init, seed; model: the weights' sha256 (pretrained) or the config hash (scratch);
               code: the albert_np git commit (recorded, not required to agree)
  metrics (the best dev evaluation of the run), steps, cpu_seconds (time.process_time of the
  run: loading, featurising, training and evaluation), wall_seconds.
A run whose result.json already holds the same fingerprint (code aside) is skipped, so an
interrupted sweep resumes by running the same command again; a result.json with another
fingerprint is an error (use another --out, or delete that run's folder).

--table prints, per task, the mean +- sample std over --seeds of each init, the difference and
whether it reaches 3 points. It refuses runs whose settings differ, pretrained runs of different
weights, and missing seeds, naming the files.

Data (from ../shared/data, see its SOURCES.md):
  sst2     train: the first 20,000 GLUE SST-2 train rows; dev: all 872 dev rows (accuracy)
  sst2_2k  low-resource SST-2, where pretraining matters most: the first 2,000 train rows, 3 epochs;
           the same dev rows
  wnut17   train: all 3,394 texts; dev: all 1,009 dev texts (entity-level F1)
  cosmosqa Cosmos QA dev (the train file is not available here), split by context: the
           questions on the contexts of rows 0-2,399 train (first 1,600), the rest evaluate (accuracy)
  squad    (not in the default set) SQuAD v1.1 dev split by article: train on the questions of
           articles 0-39 (first 3,000), evaluate on articles 40-47 (EM, F1)
Run one BLAS thread per process (OPENBLAS_NUM_THREADS=1), e.g. the two inits side by side on a
2-core machine.
"""
import argparse
import csv
import dataclasses
import hashlib
import io
import json
import os
import statistics
import subprocess
import sys
import time

from albert_np.io import file_sha256

TASKS = ("sst2", "sst2_2k", "wnut17", "cosmosqa", "squad")
DEFAULT_TASKS = ("sst2", "sst2_2k", "wnut17", "cosmosqa")
DATA_TASK = {"sst2_2k": "sst2"}      # a comparison on another task's data: low-resource SST-2
INITS = ("scratch", "pretrained")
THRESHOLD = 3.0          # points: the target for pretrained - scratch

# The fine-tuning settings, identical for both inits and every seed; finetune() keyword arguments
# (FinetuneSettings fields and limit_train / limit_dev). Sized for ~2-6 single-thread CPU-minutes a run.
SETTINGS = {
    "sst2": dict(limit_train=20000, epochs=1, batch_size=32, learning_rate=3e-4, max_length=64),
    "sst2_2k": dict(limit_train=2000, epochs=3, batch_size=32, learning_rate=3e-4, max_length=64),
    "wnut17": dict(epochs=5, batch_size=16, learning_rate=3e-4, max_length=128),
    "squad": dict(limit_train=3000, epochs=1, batch_size=16, learning_rate=3e-4, max_length=192,
                  doc_stride=64),
    "cosmosqa": dict(limit_train=1600, epochs=1, batch_size=16, learning_rate=1e-4, max_length=128),
}
COMMON = dict(warmup=0.1, weight_decay=0.01)
OUTPUT = dict(progress=False, plot=True, keep_checkpoints=1)     # what a run writes, not what it learns

# (metric key, name, scale to points); the first is the task's main metric
METRICS = {"sst2": [("accuracy", "accuracy", 100)], "sst2_2k": [("accuracy", "accuracy", 100)], "wnut17": [("f1", "entity F1", 100)],
           "squad": [("f1", "F1", 1), ("exact_match", "EM", 1)],      # SQuAD's are percentages already
           "cosmosqa": [("accuracy", "accuracy", 100)]}


# --------------------------------------------------------------------------- data

def data_files(task, data_dir, work_dir):
    """(train, dev) files for `task`; the SQuAD and Cosmos QA splits are written once to work_dir."""
    from albert_np.training import datasets
    if task in ("sst2", "wnut17"):
        files = (datasets.default_data_file(task, "train", data_dir), datasets.default_data_file(task, "dev", data_dir))
        if None in files:
            raise FileNotFoundError(f"the {task} files {datasets.get_task(task).files} are not under {data_dir}")
        return files
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


# --------------------------------------------------------------------------- fingerprints

def sha256_json(obj):
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode("utf-8")).hexdigest()


def config_hash(config):
    """sha256 of the task model's config (the architecture, dropout, labels), names of origin left out."""
    d = {k: v for k, v in config.to_dict().items()        # what a model's export stamps is not architecture
         if k not in ("architectures", "_name_or_path", "albert_np_model_version", "weights_sha256")}
    return sha256_json(d)


def file_fingerprint(path):
    return {"file": os.path.basename(path), "bytes": os.path.getsize(path), "sha256": file_sha256(path)}


def git_commit():
    """{"albert_np_commit": HEAD, "dirty": tracked changes} of the albert_np checkout, or None values."""
    import albert_np
    root = os.path.dirname(os.path.dirname(os.path.abspath(albert_np.__file__)))
    try:
        head = subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=30)
        status = subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return {"albert_np_commit": None, "dirty": None}
    if head.returncode != 0:
        return {"albert_np_commit": None, "dirty": None}
    return {"albert_np_commit": head.stdout.strip(), "dirty": bool(status.stdout.strip())}


def run_settings(task):
    """finetune() keyword arguments of `task` (without seed and output options)."""
    return {**COMMON, **SETTINGS[task]}


def settings_fingerprint(task, settings, config, tokenizer, train, dev):
    """What two runs must share to be compared: task, full fine-tuning arguments, model config,
    tokenizer, data."""
    from albert_np.training.finetuning import FinetuneSettings
    settings = dict(settings)
    limits = {k: settings.pop(k, None) for k in ("limit_train", "limit_dev")}
    args = dataclasses.asdict(FinetuneSettings(**settings).validate())   # library defaults included
    for k in ("seed", *OUTPUT):
        args.pop(k)
    for k in ("lr_end", "decay_steps"):     # settings fine-tuning gained later: left out at their defaults,
        if args[k] == getattr(FinetuneSettings, k):      # so that the runs recorded before still match
            args.pop(k)
    return {"task": task, "finetune": args, **limits, "config_sha256": config_hash(config),
            "tokenizer": {"spiece_sha256": file_sha256(tokenizer.vocab_file),
                          "do_lower_case": tokenizer.do_lower_case, "keep_accents": tokenizer.keep_accents,
                          "remove_space": tokenizer.remove_space},
            "data": {"train": file_fingerprint(train), "dev": file_fingerprint(dev)}}


def differences(a, b, prefix=""):
    """Dotted keys at which two JSON-like values differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            out += differences(a.get(k), b.get(k), f"{prefix}{k}.")
        return out
    return [] if a == b else [prefix.rstrip(".")]


def same_run(a, b):
    """Fingerprints of the same run: everything agrees except the code version."""
    return not differences({k: v for k, v in a.items() if k != "code"},
                           {k: v for k, v in b.items() if k != "code"})


# --------------------------------------------------------------------------- one run

def run_dir(out, init, task, seed):
    return os.path.join(out, f"{init}-{task}-seed{seed}")


def read_result(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def build_model(init, task, seed, model_dir):
    """The task model: every weight from `seed`; for "pretrained", the checkpoint's encoder on top.

    Returns (model, model fingerprint, names of the weights not from the checkpoint).
    """
    from albert_np.formats import checkpoint
    from albert_np.training.finetuning import model_for_task
    loaded = model_for_task(task, model_dir)               # the folder's config with the task's labels
    config, cls = loaded.config, type(loaded)
    net = cls(config, seed=seed)                            # same class and config, every weight from the seed
    if init == "scratch":
        return net, {"config_sha256": config_hash(config)}, ["all"]
    state, paths = checkpoint.load_state_dict(model_dir)
    missing, _ = net.load_state_dict(state, strict=False)  # the checkpoint's weights replace the draws
    body = [k for k in missing if k.startswith("albert.")]
    if body:
        raise ValueError(f"{model_dir} lacks encoder weights {body[:5]}: it is not a pretrained ALBERT "
                         f"of this config")
    digests = [file_sha256(p) for p in paths]              # one file: what `sha256sum` prints
    weights = digests[0] if len(digests) == 1 else sha256_json(digests)
    return net, {"weights_sha256": weights, "weights_files": [os.path.basename(p) for p in paths]}, missing


def run(init, task, seed, model_dir, out, data_dir):
    """Fine-tune one (init, task, seed) unless its result.json already holds the same fingerprint.

    Returns the result record (the earlier one when skipped).
    """
    from albert_np.training import datasets
    from albert_np.training.finetuning import finetune
    from albert_np.io import atomic_write_text
    from albert_np.tokenization import AlbertTokenizerFast
    c0, t0 = time.process_time(), time.perf_counter()
    t = datasets.get_task(DATA_TASK.get(task, task))
    train, dev = data_files(DATA_TASK.get(task, task), data_dir, os.path.join(out, "data"))
    tokenizer = AlbertTokenizerFast.from_pretrained(model_dir)
    net, model_fp, fresh = build_model(init, t, seed, model_dir)
    settings = run_settings(task)
    fingerprint = {"settings": settings_fingerprint(task, settings, net.config, tokenizer, train, dev),
                   "init": init, "seed": seed, "model": model_fp, "code": git_commit()}
    folder = run_dir(out, init, task, seed)
    path = os.path.join(folder, "result.json")
    if os.path.exists(path):
        old = read_result(path)
        if same_run(old.get("fingerprint", {}), fingerprint):
            print(f"skip {init} {task} seed {seed}: {path} is done")
            return old
        diff = differences({k: v for k, v in old.get("fingerprint", {}).items() if k != "code"},
                           {k: v for k, v in fingerprint.items() if k != "code"})
        raise ValueError(f"{path} holds a run with other settings (differing: {', '.join(diff)}); "
                         f"use another --out, or delete {folder} to run it again")
    result = finetune(t, net, train, dev, folder, tokenizer, overwrite_output_dir=True, seed=seed,
                      **settings, **OUTPUT)
    record = {"fingerprint": fingerprint, "model_dir": os.path.abspath(model_dir),
              "train": os.path.abspath(train), "dev": os.path.abspath(dev),
              "metrics": result.metrics, "best_step": result.best_step, "steps": result.global_step,
              "newly_initialised": fresh, "examples_per_second": result.examples_per_second,
              "cpu_seconds": time.process_time() - c0, "wall_seconds": time.perf_counter() - t0,
              "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS")}
    atomic_write_text(path, json.dumps(record, indent=1))
    print(json.dumps({"init": init, "task": task, "seed": seed, "metrics": result.metrics,
                      "cpu_seconds": round(record["cpu_seconds"], 1)}))
    return record


# --------------------------------------------------------------------------- the table

def summarise(out, tasks, seeds, threshold=THRESHOLD):
    """Per task and metric: each init's values over `seeds`, mean, std, the difference.

    Raises ValueError naming the files when a run is missing, or when the runs of a task do not
    share their settings (or the pretrained runs their weights).
    """
    summary = {"threshold": threshold, "seeds": list(seeds), "tasks": {}}
    missing = [os.path.join(run_dir(out, i, t, s), "result.json") for t in tasks for i in INITS for s in seeds
               if not os.path.exists(os.path.join(run_dir(out, i, t, s), "result.json"))]
    if missing:
        raise ValueError("cannot compare: these runs are missing:\n  " + "\n  ".join(missing))
    commits = set()
    for task in tasks:
        recs = {}
        for init in INITS:
            for seed in seeds:
                path = os.path.join(run_dir(out, init, task, seed), "result.json")
                rec = read_result(path)
                fp = rec.get("fingerprint", {})
                found = (fp.get("init"), fp.get("settings", {}).get("task"), fp.get("seed"))
                if found != (init, task, seed):
                    raise ValueError(f"{path} holds the run (init, task, seed) = {found}, not "
                                     f"{(init, task, seed)}")
                recs[(init, seed)] = (path, rec)
                commits.add((fp.get("code") or {}).get("albert_np_commit"))
        (ref_path, ref), *others = recs.values()
        for path, rec in others:
            diff = differences(ref["fingerprint"]["settings"], rec["fingerprint"]["settings"])
            if diff:
                raise ValueError(f"cannot compare {task}: {ref_path} and {path} were run with different "
                                 f"settings (differing: {', '.join(diff)})")
        pre = [(p, r["fingerprint"]["model"]) for (i, _), (p, r) in recs.items() if i == "pretrained"]
        for p, m in pre[1:]:
            if m != pre[0][1]:
                raise ValueError(f"cannot compare {task}: {pre[0][0]} and {p} fine-tuned different "
                                 f"pretrained weights ({differences(pre[0][1], m)})")
        rows = []
        for key, name, scale in METRICS[task]:
            row = {"metric": key, "name": name}
            for init in INITS:
                values = [scale * recs[(init, s)][1]["metrics"][key] for s in seeds]
                row[init] = {"values": values, "mean": statistics.fmean(values),
                             "std": statistics.stdev(values) if len(values) > 1 else None,
                             "cpu_seconds": [recs[(init, s)][1]["cpu_seconds"] for s in seeds]}
            row["difference"] = row["pretrained"]["mean"] - row["scratch"]["mean"]
            row["reaches_threshold"] = row["difference"] >= threshold - 1e-9     # 3.0 is 3.0, float noise aside
            rows.append(row)
        summary["tasks"][task] = {"rows": rows, "settings": ref["fingerprint"]["settings"],
                                  "pretrained_model": pre[0][1],
                                  "files": [p for p, _ in recs.values()]}
    summary["albert_np_commits"] = sorted(c or "unknown" for c in commits)
    return summary


def format_table(summary):
    def cell(side):
        std = "" if side["std"] is None else f" ± {side['std']:.1f}"
        return f"{side['mean']:.1f}{std}"
    lines = [f"| task | metric (dev) | scratch | pretrained | difference | ≥ {summary['threshold']:g} points "
             f"| CPU min per run (scratch / pretrained) |", "|---|---|---|---|---|---|---|"]
    for task, t in summary["tasks"].items():
        for row in t["rows"]:
            cpu = " / ".join(f"{statistics.fmean(row[i]['cpu_seconds']) / 60:.1f}" for i in INITS)
            lines.append(f"| {task} | {row['name']} | {cell(row['scratch'])} | {cell(row['pretrained'])} "
                         f"| {row['difference']:+.1f} | {'yes' if row['reaches_threshold'] else 'no'} | {cpu} |")
    n = len(summary["seeds"])
    lines.append(f"\nmean ± sample std over {n} seed(s) {' '.join(map(str, summary['seeds']))}; "
                 f"albert_np commit(s): {', '.join(c[:10] for c in summary['albert_np_commits'])}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- CLI

def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--init", choices=INITS, help="which start to fine-tune")
    p.add_argument("--tasks", "--task", nargs="+", choices=TASKS, default=list(DEFAULT_TASKS),
                   help=f"default: {' '.join(DEFAULT_TASKS)}")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="default: 0 1 2")
    p.add_argument("--model", default=os.path.join(root, "albert_np", "pretrained", "albert-tiny-en"),
                   help="model folder: the pretrained weights, and the config and tokenizer of both inits")
    p.add_argument("--data-dir", default=os.path.join(os.path.dirname(root), "shared", "data"))
    p.add_argument("--out", default=os.path.join(root, "runs", "pretrained_vs_scratch"))
    p.add_argument("--table", action="store_true", help="print the comparison of the finished runs")
    p.add_argument("--json", default=None, metavar="PATH", help="with --table: also write the summary here")
    a = p.parse_args(argv)
    if a.json and not a.table:
        p.error("--json goes with --table")
    if a.table == (a.init is not None):
        p.error("give --init (to run) or --table (to compare), not both")
    if len(set(a.seeds)) != len(a.seeds):
        p.error(f"--seeds repeats a seed: {a.seeds}")
    try:
        if a.table:
            summary = summarise(a.out, a.tasks, a.seeds)
            print(format_table(summary))
            if a.json:
                from albert_np.io import atomic_write_text
                atomic_write_text(a.json, json.dumps(summary, indent=1))
            return 0
        for seed in a.seeds:                       # seed outer: after the first pass every task has a result
            for task in a.tasks:
                run(a.init, task, seed, a.model, a.out, a.data_dir)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
