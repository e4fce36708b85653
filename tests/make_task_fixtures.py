"""Make the reference outputs that tests/test_tasks.py compares albert_np's tasks against.

    .venv/bin/python tests/make_task_fixtures.py --tf4-python /tmp/tf4qa/bin/python

Each case is a tiny random ALBERT made by transformers 5 (vocab = the 1,000 pieces of
tests/fixtures/tokenizer/spiece.model, E = 16, H = 32, 2 layers), saved by transformers in

    tests/fixtures/tasks/<case>/   config.json, model.safetensors, expected.json

with expected.json holding what transformers' own pipeline returns for the calls listed
below (fill-mask, text-classification, token-classification, feature-extraction; for
multiple choice, which has no pipeline, the softmax of AlbertForMultipleChoice's logits).
The "mlm" folder also holds the tokenizer (spiece.model for albert_np, tokenizer.json
and tokenizer_config.json written by transformers 5), so it is a complete model folder;
the tests give it as tokenizer= for the other cases.

Question answering: transformers 5 removed its pipeline, so the "qa" case is recorded
by transformers 4.x's QuestionAnsweringPipeline, run by this same script (--qa-tf4)
under the Python of a throwaway virtualenv:

    python -m venv /tmp/tf4qa && /tmp/tf4qa/bin/pip install "transformers==4.57.6" sentencepiece
    echo "$PWD/.venv/lib/python3.11/site-packages" > /tmp/tf4qa/lib/python3.11/site-packages/zz.pth

(the .pth line lends it this project's torch 2.13.0 CPU, after its own packages). Without
--tf4-python the QA reference is kept as it was.

The transformers tokenizer is built here from the SentencePiece pieces and scores
(transformers 5 reads spiece.model only with protobuf installed). Its fast tokenizer and
albert_np's differ on some inputs (user-defined symbols, digit-commas, the span of a bare
"\u2581" piece), so every input is checked to give the same ids and offsets in both, and
each QA window to cut no word; the script stops if one does not.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "fixtures", "tasks")
TOKENIZER = os.path.join(HERE, "fixtures", "tokenizer")

TINY = dict(embedding_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=37, max_position_embeddings=128, hidden_act="gelu_new",
            hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, classifier_dropout_prob=0.0)

NER_LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]

# name: (transformers class, config overrides, init std, seed)
CASES = {
    "mlm": ("AlbertForMaskedLM", {}, 0.5, 0),
    "seq_single_label": ("AlbertForSequenceClassification",
                         dict(id2label={0: "negative", 1: "neutral", 2: "positive"}), 0.3, 1),
    "seq_multi_label": ("AlbertForSequenceClassification",
                        dict(num_labels=4, problem_type="multi_label_classification"), 0.3, 2),
    "seq_regression": ("AlbertForSequenceClassification", dict(num_labels=1, problem_type="regression"),
                       0.3, 3),
    "token_cls": ("AlbertForTokenClassification",
                  dict(id2label=dict(enumerate(NER_LABELS))), 0.5, 4),
    "qa": ("AlbertForQuestionAnswering", {}, 0.5, 5),
    "multiple_choice": ("AlbertForMultipleChoice", {}, 0.3, 6),
}

# Inputs: lowercase words of the fixture vocabulary, chosen so that both tokenizers give the same
# ids and offsets, with no bare "▁" piece (transformers maps one to the next character, albert_np
# to an empty span) -- make_hf5 checks this and stops otherwise.
SENTENCES = [
    "the film was released in the united states in may.",
    "the president of albania visited russia and japan in the first years of the century",
    "harriet said that mr knightley and jane fairfax were friends of emma woodhouse",
    "john and emma lived in alaska before the war and moved to japan",
    "the city is the capital of the state and has a long history.",
]
FILL_MASK_CALLS = [
    dict(inputs="the film was [MASK] in the united states in may."),
    dict(inputs="the film was [MASK] in the united states in may.", top_k=7),
    dict(inputs="the city is the [MASK] of the state and has a long [MASK] history.", top_k=3),
    dict(inputs=["the president of [MASK] visited russia and japan",
                 "harriet said that mr [MASK] and jane fairfax were friends",
                 "john and emma lived in [MASK] before the war"], top_k=4),
    dict(inputs=["the [MASK] was released in the united states in may."], top_k=2),
    dict(inputs="john and emma lived in [MASK] before the war",
         targets=["\u2581alaska", "\u2581japan", "\u2581russia", "\u2581europe"]),
    dict(inputs="john and emma lived in [MASK] before the war", targets=["japan", "russia"], top_k=1),
    dict(inputs="the film was [MASK] in may.", targets=["released", "team", "\u2581the"]),
]
TARGETS = ["japan", "russia", "released", "team"]
CLASSIFY_CALLS = [
    dict(inputs=SENTENCES[0]),
    dict(inputs=SENTENCES),
    dict(inputs=SENTENCES[:3], top_k=None),
    dict(inputs=SENTENCES[1], top_k=2),
    dict(inputs={"text": SENTENCES[0], "text_pair": SENTENCES[4]}),
    dict(inputs=[{"text": SENTENCES[1], "text_pair": SENTENCES[2]},
                 {"text": SENTENCES[3], "text_pair": SENTENCES[0]}], top_k=None),
    dict(inputs=SENTENCES[2:4], function_to_apply="sigmoid", top_k=None),
    dict(inputs=SENTENCES[3], function_to_apply="none", top_k=None),
]
TAG_TEXTS = SENTENCES[1:4]
CONTEXT = " ".join(["the city is the capital of the state and has a long history.", SENTENCES[3] + ".",
                    SENTENCES[1] + ".", SENTENCES[2] + ".", SENTENCES[0]])
QA_CALLS = [        # windows chosen so that none cuts a word (see check_windows)
    dict(question="when was the film released?", context=CONTEXT, max_seq_len=36, doc_stride=14),
    dict(question="who visited russia?", context=CONTEXT, max_seq_len=40, doc_stride=22, top_k=3),
    dict(question="where did john and emma live?", context=CONTEXT, max_seq_len=36, doc_stride=16,
         top_k=4, max_answer_len=5),
    dict(question="which is the capital?", context=CONTEXT, max_seq_len=40, doc_stride=12, top_k=2,
         handle_impossible_answer=True),
    dict(question="which is the capital?", context=CONTEXT, max_seq_len=42, doc_stride=24,
         handle_impossible_answer=True),
    dict(question="who said that?", context=SENTENCES[2]),
    dict(question=["who visited russia?", "which is the capital?"], context=CONTEXT, max_seq_len=38,
         doc_stride=8, top_k=2),
]
MC_CALLS = [
    dict(prompt="john and emma lived in alaska",
         choices=["before the war", "and moved to japan", "the film was released in may."]),
    dict(prompt="harriet said that mr knightley", choices=["and jane fairfax were friends", "visited russia"]),
]
EMBED_TEXTS = SENTENCES[:3]


def spm_vocab(path):
    """[(piece, score)] of a SentencePiece model, read with the sentencepiece library."""
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=path)
    return [(sp.id_to_piece(i), sp.get_score(i)) for i in range(sp.get_piece_size())]


def hf_tokenizer(spiece):
    """transformers 5's (tokenizers-backed) AlbertTokenizer built from the pieces and scores."""
    import transformers
    return transformers.AlbertTokenizer(vocab=spm_vocab(spiece), model_max_length=512)


def save_case(name, cls_name, overrides, std, seed, vocab_size):
    """Save a tiny random transformers model of the case under OUT/<name>/; return (folder, model)."""
    import torch
    import transformers
    torch.manual_seed(seed)
    cfg = transformers.AlbertConfig(vocab_size=vocab_size, initializer_range=std, **{**TINY, **overrides})
    model = getattr(transformers, cls_name)(cfg).eval()
    folder = os.path.join(OUT, name)
    keep = os.path.join(folder, "expected.json") if name == "qa" else None   # written by transformers 4.x
    kept = open(keep, encoding="utf-8").read() if keep and os.path.exists(keep) else None
    shutil.rmtree(folder, ignore_errors=True)
    model.save_pretrained(folder)
    if kept is not None:
        with open(keep, "w", encoding="utf-8") as f:
            f.write(kept)
    return folder, model


def save_tokenizer(folder, spiece, hf_tok):
    """The fixture tokenizer in a model folder: spiece.model (albert_np) + tokenizer.json (transformers 5)."""
    hf_tok.save_pretrained(folder)
    shutil.copy(spiece, os.path.join(folder, "spiece.model"))
    for extra in ("special_tokens_map.json", "chat_template.jinja"):
        if os.path.exists(os.path.join(folder, extra)):
            os.remove(os.path.join(folder, extra))


def check_inputs(hf_tok, spiece_folder):
    """Stop unless both tokenizers agree (ids, offsets) on every input, without bare "▁" pieces."""
    sys.path.insert(0, ROOT)
    from albert_np.tokenization import AlbertTokenizerFast
    ours = AlbertTokenizerFast.from_pretrained(spiece_folder)
    texts = SENTENCES + [CONTEXT] + [c["inputs"] for c in FILL_MASK_CALLS if isinstance(c["inputs"], str)]
    texts += [t for c in FILL_MASK_CALLS if isinstance(c["inputs"], list) for t in c["inputs"]]
    texts += [q for c in QA_CALLS for q in ([c["question"]] if isinstance(c["question"], str) else c["question"])]
    texts += [c["context"] for c in QA_CALLS] + [x for c in MC_CALLS for x in [c["prompt"], *c["choices"]]]
    for text in dict.fromkeys(texts):
        a = hf_tok(text, return_offsets_mapping=True)
        b = ours(text, return_offsets_mapping=True)
        pieces = ours.convert_ids_to_tokens(b["input_ids"])
        if (a["input_ids"] != b["input_ids"] or [tuple(o) for o in a["offset_mapping"]] != b["offset_mapping"]
                or "\u2581" in pieces):
            raise SystemExit(f"choose another input than {text!r}:\n  transformers "
                             f"{hf_tok.convert_ids_to_tokens(a['input_ids'])} {a['offset_mapping']}\n"
                             f"  albert_np    {pieces} {b['offset_mapping']}")
    for target in TARGETS:       # fill-mask uses the first piece of a target outside the vocabulary
        a = hf_tok(target, add_special_tokens=False)["input_ids"]
        b = ours(target, add_special_tokens=False)["input_ids"]
        if a[:1] != b[:1]:
            raise SystemExit(f"choose another target than {target!r}: {a} vs {b}")


def plain(x):
    """JSON-able copy of pipeline output (numpy scalars -> float / int)."""
    import numpy as np
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return float(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    return x


def record(folder, calls, **extra):
    with open(os.path.join(folder, "expected.json"), "w", encoding="utf-8") as f:
        json.dump({**extra, "calls": calls}, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"{os.path.basename(folder):18s} {len(calls)} calls")


def make_hf5(spiece):
    import torch
    import transformers
    torch.set_num_threads(1)
    version = f"transformers {transformers.__version__}, torch {torch.__version__}"
    print(version)
    hf_tok = hf_tokenizer(spiece)
    check_inputs(hf_tok, os.path.dirname(spiece))
    os.makedirs(OUT, exist_ok=True)
    folders, models = {}, {}
    for name, (cls_name, overrides, std, seed) in CASES.items():
        folders[name], models[name] = save_case(name, cls_name, overrides, std, seed, len(hf_tok))
    save_tokenizer(folders["mlm"], spiece, hf_tok)     # the one self-contained folder; the others use it

    fm = transformers.pipeline("fill-mask", model=folders["mlm"])
    calls = [{"kwargs": call, "output": plain(fm(**call))} for call in FILL_MASK_CALLS]
    fe = transformers.pipeline("feature-extraction", model=folders["mlm"])
    calls.append({"feature_extraction": EMBED_TEXTS, "output": plain(fe(EMBED_TEXTS))})
    record(folders["mlm"], calls, oracle=version)

    # transformers 5's ALBERT tokenizer returns no token_type_ids unless asked (its model_input_names
    # dropped them), which would run text pairs as one segment; ask, as 4.x did by default.
    for name in ("seq_single_label", "seq_multi_label", "seq_regression"):
        tc = transformers.pipeline("text-classification", model=folders[name], tokenizer=hf_tok)
        record(folders[name], [{"kwargs": call, "output": plain(tc(**call, return_token_type_ids=True))}
                               for call in CLASSIFY_CALLS], oracle=version)

    tg = transformers.pipeline("token-classification", model=folders["token_cls"], tokenizer=hf_tok)
    calls = []
    for strategy in ("none", "simple", "first", "average", "max"):
        calls.append({"kwargs": dict(inputs=TAG_TEXTS, aggregation_strategy=strategy),
                      "output": plain(tg(TAG_TEXTS, aggregation_strategy=strategy))})
    call = dict(inputs=TAG_TEXTS[0], aggregation_strategy="simple", ignore_labels=[])
    calls.append({"kwargs": call, "output": plain(tg(**call))})
    record(folders["token_cls"], calls, oracle=version)

    record(folders["multiple_choice"], multiple_choice_calls(models["multiple_choice"], hf_tok),
           oracle=version + " (AlbertForMultipleChoice + softmax: transformers has no pipeline)")


def multiple_choice_calls(model, hf_tok):
    """Softmax of AlbertForMultipleChoice's logits over each prompt's choices."""
    import torch
    calls = []
    for call in MC_CALLS:
        enc = hf_tok([call["prompt"]] * len(call["choices"]), call["choices"], padding=True,
                     return_token_type_ids=True, return_tensors="pt")
        with torch.no_grad():
            logits = model(**{k: v[None] for k, v in enc.items()}).logits[0]
        probs = torch.softmax(logits, -1).tolist()
        ranked = sorted(range(len(probs)), key=lambda i: -probs[i])
        calls.append({"kwargs": call, "output": [{"choice": call["choices"][i], "index": i, "score": probs[i]}
                                                 for i in ranked]})
    return calls


def check_windows(tok, call):
    """Stop if a window of `call` cuts a word: transformers 4.x then answers with part of a word
    (it widens spans only to the part of a word inside the window; albert_np to the whole word)."""
    questions = [call["question"]] if isinstance(call["question"], str) else call["question"]
    for question in questions:
        enc = tok(question, call["context"], truncation="only_second", max_length=call.get("max_seq_len", 384),
                  stride=call.get("doc_stride", 128), return_overflowing_tokens=True)
        full = tok(question, call["context"])
        whole = {w: full.word_to_chars(w, sequence_index=1) for w in set(full.word_ids()) - {None}
                 if w is not None}
        for i in range(len(enc["input_ids"])):
            e = enc[i]
            for w in set(w for w, s in zip(e.word_ids, e.sequence_ids) if s == 1):
                if e.word_to_chars(w, sequence_index=1) != whole[w]:
                    raise SystemExit(f"a window of {call} cuts word {w}: choose another doc_stride / max_seq_len")


def make_qa_tf4():
    """Run under transformers 4.x: record its QuestionAnsweringPipeline on the "qa" case."""
    import torch
    import transformers
    torch.set_num_threads(1)
    assert transformers.__version__.startswith("4."), transformers.__version__
    folder = os.path.join(OUT, "qa")
    tok = transformers.AlbertTokenizerFast(tokenizer_file=os.path.join(OUT, "mlm", "tokenizer.json"),
                                           model_max_length=512)
    for call in QA_CALLS:
        check_windows(tok, call)
    qa = transformers.pipeline("question-answering", model=folder, tokenizer=tok)
    calls = [{"kwargs": call, "output": plain(qa(**call))} for call in QA_CALLS]
    record(folder, calls, oracle=f"transformers {transformers.__version__}, torch {torch.__version__}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tokenizer", default=TOKENIZER, help="folder holding the fixture spiece.model")
    ap.add_argument("--tf4-python", help="python of a venv with transformers 4.x, to record the QA case")
    ap.add_argument("--qa-tf4", action="store_true", help=argparse.SUPPRESS)   # the 4.x half
    args = ap.parse_args()
    if args.qa_tf4:
        return make_qa_tf4()
    make_hf5(os.path.join(args.tokenizer, "spiece.model"))
    if args.tf4_python:
        subprocess.run([args.tf4_python, os.path.abspath(__file__), "--qa-tf4"], check=True)
    else:
        print("qa: no --tf4-python given, its expected.json was not refreshed")


if __name__ == "__main__":
    sys.exit(main())
