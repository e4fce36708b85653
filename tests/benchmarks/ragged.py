"""Ragged real text through classify, embed and fill_mask: albert_np vs transformers' pipeline vs ORT.

    python tests/benchmarks/ragged.py [--sizes 256,2048] [--tasks classify,embed,fill_mask]

One ALBERT-base-shaped model (hidden 768, 12 layers, 12 heads; the bundled
16,000-piece vocabulary and tokenizer), random weights with a 2-label
sequence-classification head, saved once and loaded by every library.
Texts: 256 SST-2 dev sentences, and 2,048 sentences of WikiText-103 test
(raw), in file order. fill_mask gets each text with one word replaced by
[MASK] (the same word for every library), top_k=5.

    albert_np        the task function (batch_size 32): inputs sorted by length,
                     each batch padded to its own longest row, and the padding
                     not computed (model.albert_model's skip_padding).
    HF pipeline      transformers.pipeline(task, batch_size=32), fp32, eager.
    ORT padded       ONNX Runtime (HF's model exported by torch.onnx) fed the same
                     tokenization in batches of 32, sorted by length and padded to
                     each batch's longest row: the best a padded runtime can do.
                     For classify it returns logits, for embed the last hidden
                     state, for fill_mask the vocabulary scores at the [MASK].
Each is timed once per block (texts/s, tokenisation included), one library
after the other with a pause between; the outputs are compared once, on the
texts that both tokenizers split alike. The others are counted: transformers'
fast tokenizer lacks ALBERT's digit-comma rule ("1,360" -> "▁1," "3" "60"
there, "▁1" "," "3" "60" in albert_np, the original and transformers 4.x's
slow tokenizer), so its model sees other ids for them (18 of the 2,048 WikiText
sentences). The whole table takes about 25 minutes on 2 cores, mostly in the pipeline.
"""
import argparse
import os
import random
import tempfile
import time

import numpy as np

import albert_np
from albert_np.config import AlbertConfig
from albert_np.modeling import AlbertForMaskedLM, AlbertForSequenceClassification, AlbertModel
from albert_np.training.pretraining import wikitext_documents
from albert_np.tasks import FeatureExtractionPipeline

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "..", "shared", "data")
BUNDLED = os.path.join(HERE, "..", "..", "albert_np", "pretrained", "albert-tiny-en")


def texts_of(n):
    """n real sentences: SST-2 dev for n <= 872, else WikiText-103 test sentences."""
    if n <= 872:
        with open(os.path.join(DATA, "glue", "SST-2", "dev.tsv"), encoding="utf-8") as f:
            return [line.split("\t")[0] for line in list(f)[1:n + 1]]
    out = []
    for doc in wikitext_documents(os.path.join(DATA, "wikitext-103", "wiki.test.raw")):
        out.extend(s for s in doc if len(s.split()) >= 3)
        if len(out) >= n:
            return out[:n]
    raise ValueError("not enough sentences")


def masked(texts, seed=0):
    rnd = random.Random(seed)
    out = []
    for t in texts:
        words = t.split()
        words[rnd.randrange(len(words))] = "[MASK]"
        out.append(" ".join(words))
    return out


def save_models(folder):
    """One base-shaped model, saved as the three head models (shared weights)."""
    tok = albert_np.AlbertTokenizerFast.from_pretrained(BUNDLED)
    config = AlbertConfig.from_preset("albert-base-v2")
    config.vocab_size = tok.vocab_size
    cls = AlbertForSequenceClassification(config, seed=0)
    paths = {}
    for name, klass in (("classify", AlbertForSequenceClassification), ("embed", AlbertModel),
                        ("fill_mask", AlbertForMaskedLM)):
        path = os.path.join(folder, name)
        model = cls if klass is AlbertForSequenceClassification else klass(config, seed=0)
        if klass is not AlbertForSequenceClassification:   # the same encoder as the classifier
            enc = model.params["albert"] if "albert" in model.params else model.params
            for k in ("embeddings", "encoder"):
                enc[k] = cls.params["albert"][k]
        model.save_pretrained(path)
        tok.save_pretrained(path)
        paths[name] = path
    return paths


def onnx_runner(task, path, torch, transformers):
    """A function (list of encodings (B, T) dicts) -> outputs, running ORT, or None without it."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    klass = {"classify": transformers.AlbertForSequenceClassification, "embed": transformers.AlbertModel,
             "fill_mask": transformers.AlbertForMaskedLM}[task]
    model = klass.from_pretrained(path, attn_implementation="eager").eval()
    onnx_path = os.path.join(tempfile.mkdtemp(), "m.onnx")
    ids = torch.ones((2, 16), dtype=torch.long)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    torch.onnx.export(model, (ids, ids, torch.zeros_like(ids)), onnx_path, input_names=names,
                      output_names=["out"], dynamic_axes={n: {0: "b", 1: "t"} for n in names}, dynamo=False)
    session = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    return lambda feed: session.run(None, feed)[0]


def run_ort(ort, tok, texts, task, batch_size=32):
    enc = tok(texts, truncation=True, max_length=512)
    order = sorted(range(len(texts)), key=lambda i: len(enc["input_ids"][i]))
    results = [None] * len(texts)
    for s in range(0, len(order), batch_size):
        rows = order[s:s + batch_size]
        T = max(len(enc["input_ids"][i]) for i in rows)
        feed = {k: np.zeros((len(rows), T), np.int64) for k in ("input_ids", "attention_mask", "token_type_ids")}
        for b, i in enumerate(rows):
            n = len(enc["input_ids"][i])
            feed["input_ids"][b, :n] = enc["input_ids"][i]
            feed["attention_mask"][b, :n] = 1
        out = ort(feed)
        for b, i in enumerate(rows):
            if task == "classify":
                results[i] = out[b]
            elif task == "embed":
                results[i] = out[b, :len(enc["input_ids"][i])]
            else:
                pos = enc["input_ids"][i].index(tok.mask_token_id)
                results[i] = np.argsort(-out[b, pos])[:5]
    return results


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="256,2048")
    ap.add_argument("--tasks", default="classify,embed,fill_mask")
    ap.add_argument("--no-onnx", action="store_true")
    args = ap.parse_args(argv)
    import torch
    import transformers
    folder = tempfile.mkdtemp()
    paths = save_models(folder)
    print(f"numpy {np.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads), "
          f"transformers {transformers.__version__}, {os.cpu_count()} cores; ALBERT-base shape, "
          f"16k vocab, random weights; batch size 32 everywhere; texts/s, tokenisation included")
    print(f"{'task':>10} {'texts':>6} {'tokens':>7} {'albert_np':>10} {'HF pipeline':>12} {'ORT padded':>11} "
          f"{'np/HF':>6} {'np/ORT':>7}  agreement")
    for task in args.tasks.split(","):
        path = paths[task]
        hf_task = {"classify": "text-classification", "embed": "feature-extraction",
                   "fill_mask": "fill-mask"}[task]
        hf = transformers.pipeline(hf_task, model=path, tokenizer=path, batch_size=32, device=-1)
        ours_embed = FeatureExtractionPipeline(path, batch_size=32, progress=False) if task == "embed" else None
        ort = None if args.no_onnx else onnx_runner(task, path, torch, transformers)
        tok = transformers.AutoTokenizer.from_pretrained(path)
        ours_tok = albert_np.AlbertTokenizerFast.from_pretrained(path)
        sizes = [int(v) for v in args.sizes.split(",")]
        for n in sizes:
            texts = texts_of(n)
            if task == "fill_mask":
                texts = masked(texts)
            hf_ids = tok(texts, truncation=True, max_length=512)["input_ids"]
            tokens = sum(len(ids) for ids in hf_ids)
            if task == "classify":
                def ours():
                    return albert_np.classify(texts, model=path, batch_size=32, top_k=None,
                                              function_to_apply="none", progress=False)

                def theirs():
                    return hf(texts, top_k=None, function_to_apply="none", truncation=True)
            elif task == "embed":
                def ours():
                    return ours_embed(texts, return_tensors=True)    # every token's vector, as HF

                def theirs():
                    return hf(texts, return_tensors=True, truncation=True)
            else:
                def ours():
                    return albert_np.fill_mask(texts, model=path, batch_size=32, top_k=5, progress=False)

                def theirs():
                    return hf(texts, top_k=5)
            timings, outputs = {}, {}
            if n == sizes[0]:                                # warm-up: loading, caches, thread pools
                keep, texts = texts, texts[:32]
                ours(), theirs()
                if ort is not None:
                    run_ort(ort, tok, texts, task)
                texts = keep
            runners = [("albert_np", ours), ("HF pipeline", theirs)]
            if ort is not None:
                runners.append(("ORT padded", lambda: run_ort(ort, tok, texts, task)))
            for name, fn in runners:
                t = time.perf_counter()
                outputs[name] = fn()
                timings[name] = n / (time.perf_counter() - t)
                time.sleep(1.0)
            same = [a == b for a, b in zip(ours_tok(texts, truncation=True, max_length=512)["input_ids"], hf_ids)]
            agree = agreement(task, outputs, same)
            ours_rate, o = timings["albert_np"], timings.get("ORT padded")
            ort_cells = f"{o:11.1f} {ours_rate / o:7.2f}" if o else f"{'-':>11} {'-':>7}"
            print(f"{task:>10} {n:>6} {tokens:>7} {ours_rate:10.1f} {timings['HF pipeline']:12.1f} "
                  f"{ort_cells.split()[0]:>11} {ours_rate / timings['HF pipeline']:6.2f} "
                  f"{ort_cells.split()[1]:>7}  {agree}", flush=True)


def agreement(task, outputs, same):
    """How closely albert_np's outputs match the pipeline's, on the texts both tokenize alike.

    same: one bool per text, True where albert_np's and transformers' ids agree.
    """
    keep = [i for i, s in enumerate(same) if s]
    ours = [outputs["albert_np"][i] for i in keep]
    theirs = [outputs["HF pipeline"][i] for i in keep]
    return _agreement(task, ours, theirs) + f"; {len(same) - len(keep)} tokenized differently"


def _agreement(task, ours, theirs):
    if task == "classify":
        a = np.array([[d["score"] for d in sorted(r, key=lambda d: d["label"])] for r in ours])
        b = np.array([[d["score"] for d in sorted(r, key=lambda d: d["label"])] for r in theirs])
        return f"max |logit diff| {np.abs(a - b).max():.1e}"
    if task == "embed":
        err = 0.0
        for x, y in zip(ours, theirs):        # the pipeline's rows may carry its batch's padding
            x, y = np.asarray(x).reshape(-1, np.shape(x)[-1]), np.asarray(y).reshape(-1, np.shape(y)[-1])
            err = max(err, float(np.abs(x - y[:len(x)]).max()))
        return f"max |h diff| {err:.1e} (real tokens)"
    same = np.mean([[d["token"] for d in x] == [d["token"] for d in y] for x, y in zip(ours, theirs)])
    return f"same top-5 tokens in {same:.1%} of texts"


if __name__ == "__main__":
    main()
