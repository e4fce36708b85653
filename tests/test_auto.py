"""Auto* classes and pipeline(): transformers code runs with `from albert_np import` instead.

The two seed snippets of the issue are run verbatim except for the import line and
the model id, which is a local folder here (tests never reach the Hub).
"""
import json
import os
import shutil

import numpy as np
import pytest

from albert_np import auto, tasks
from albert_np.modeling import (AlbertForMaskedLM, AlbertForMultipleChoice, AlbertForPreTraining,
                                AlbertForQuestionAnswering, AlbertForSequenceClassification,
                                AlbertForTokenClassification, AlbertModel)
from albert_np.tokenization import AlbertTokenizer, AlbertTokenizerFast

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "tasks")
MLM = os.path.join(FIXTURES, "mlm")

SEED_PIPELINE = '''
from transformers import pipeline

pipeline = pipeline(task="fill-mask", model="albert/albert-base-v2", dtype="auto")
result = pipeline("Plants create [MASK] through a process known as photosynthesis.", top_k=5)
'''

SEED_MODEL = '''
from transformers import AutoModelForMaskedLM, AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("albert/albert-base-v2")
model = AutoModelForMaskedLM.from_pretrained("albert/albert-base-v2", dtype="auto")
inputs = tokenizer("Plants create [MASK] through a process known as photosynthesis.", return_tensors="np")
outputs = model(**inputs)
mask_token_index = (inputs.input_ids == tokenizer.mask_token_id).nonzero()[1]   # numpy
predicted_token_id = outputs.logits[0, mask_token_index].argmax(axis=-1)
print(tokenizer.decode(predicted_token_id))
'''

def run_seed(code):
    """Run a seed snippet with the one import changed and the Hub id pointing at the fixture folder."""
    code = code.replace("from transformers import", "from albert_np import")
    code = code.replace('"albert/albert-base-v2"', repr(MLM))
    namespace = {}
    exec(compile(code, "<seed snippet>", "exec"), namespace)
    return namespace


def test_seed_snippet_pipeline():
    result = run_seed(SEED_PIPELINE)["result"]
    assert [sorted(r) for r in result] == [["score", "sequence", "token", "token_str"]] * 5
    assert result == tasks.fill_mask("Plants create [MASK] through a process known as photosynthesis.",
                                     model=MLM, top_k=5)
    assert [r["score"] for r in result] == sorted((r["score"] for r in result), reverse=True)


def test_seed_snippet_auto_classes(capsys):
    namespace = run_seed(SEED_MODEL)
    printed = capsys.readouterr().out.strip()
    best = tasks.fill_mask("Plants create [MASK] through a process known as photosynthesis.", model=MLM, top_k=1)
    assert printed == best[0]["token_str"]
    assert isinstance(namespace["model"], AlbertForMaskedLM)
    assert isinstance(namespace["tokenizer"], AlbertTokenizerFast)
    assert isinstance(namespace["mask_token_index"], np.ndarray)


@pytest.mark.parametrize("auto_class,expected", [
    (auto.AutoModel, AlbertModel), (auto.AutoModelForMaskedLM, AlbertForMaskedLM),
    (auto.AutoModelForPreTraining, AlbertForPreTraining),
    (auto.AutoModelForSequenceClassification, AlbertForSequenceClassification),
    (auto.AutoModelForTokenClassification, AlbertForTokenClassification),
    (auto.AutoModelForQuestionAnswering, AlbertForQuestionAnswering),
    (auto.AutoModelForMultipleChoice, AlbertForMultipleChoice)])
def test_auto_model_classes(auto_class, expected):
    model = auto_class.from_pretrained(MLM, dtype="auto")
    assert type(model) is expected and model.dtype == np.float32
    assert type(auto_class.from_config(model.config)) is expected


def test_auto_config_and_tokenizer():
    config = auto.AutoConfig.from_pretrained(MLM, num_hidden_layers=1)
    assert config.hidden_size == 32 and config.num_hidden_layers == 1
    assert auto.AutoConfig.for_model("albert", hidden_size=64, num_attention_heads=4).hidden_size == 64
    assert type(auto.AutoTokenizer.from_pretrained(MLM)) is AlbertTokenizerFast
    assert type(auto.AutoTokenizer.from_pretrained(MLM, use_fast=False)) is AlbertTokenizer
    assert auto.AutoModelForMaskedLM.from_pretrained(MLM, torch_dtype="float64").dtype == np.float64


@pytest.fixture
def bert_folder(tmp_path):
    folder = tmp_path / "bert"
    shutil.copytree(MLM, folder)
    config = json.loads((folder / "config.json").read_text())
    config["model_type"] = "bert"
    (folder / "config.json").write_text(json.dumps(config))
    return str(folder)


def test_other_model_types_are_refused(bert_folder):
    for loader in (auto.AutoConfig, auto.AutoTokenizer, auto.AutoModel, auto.AutoModelForMaskedLM):
        with pytest.raises(ValueError, match=r"is a 'bert' model \(config.json model_type\), not 'albert'"):
            loader.from_pretrained(bert_folder)
    with pytest.raises(ValueError, match="'bert' model"):
        auto.pipeline("fill-mask", model=bert_folder)


def test_other_tokenizer_classes_are_refused(tmp_path):
    folder = tmp_path / "tok"
    folder.mkdir()
    shutil.copy(os.path.join(MLM, "spiece.model"), folder)
    (folder / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "BertTokenizer"}))
    with pytest.raises(ValueError, match="holds a BertTokenizer"):
        auto.AutoTokenizer.from_pretrained(str(folder))


def test_pipeline_tasks_aliases_and_inference():
    fill = auto.pipeline("fill-mask", model=MLM, top_k=2)
    assert isinstance(fill, tasks.FillMaskPipeline)
    assert len(fill("the film was [MASK] in may.")) == 2                  # call default
    assert len(fill("the film was [MASK] in may.", top_k=3)) == 3         # overridden per call
    assert isinstance(auto.pipeline(model=MLM), tasks.FillMaskPipeline)  # task from architectures
    tagger = auto.pipeline("ner", model=os.path.join(FIXTURES, "token_cls"), tokenizer=MLM)
    assert isinstance(tagger, tasks.TokenClassificationPipeline)
    assert "index" in tagger("john and emma lived in alaska")[0]          # transformers' default: "none"
    clf = auto.pipeline("sentiment-analysis", model=os.path.join(FIXTURES, "seq_single_label"), tokenizer=MLM)
    assert isinstance(clf, tasks.TextClassificationPipeline)
    feats = auto.pipeline("feature-extraction", model=MLM, device="cpu")
    assert np.array(feats("the film")).shape[:2] == (1, 4)


def test_pipeline_bad_arguments():
    with pytest.raises(ValueError, match="unknown task 'summarization'"):
        auto.pipeline("summarization", model=MLM)
    with pytest.raises(ValueError, match="computes with NumPy on the CPU"):
        auto.pipeline("fill-mask", model=MLM, device="cuda:0")
    with pytest.raises(ValueError, match="needs a task or a model"):
        auto.pipeline()
    with pytest.raises(TypeError, match="no torch dtypes here"):
        auto.AutoModel.from_pretrained(MLM, dtype=object())
    with pytest.raises(TypeError, match="has no option colour"):
        auto.pipeline("fill-mask", model=MLM, colour="red")
