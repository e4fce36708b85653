"""Every input a user can give gets a right answer or a clear error; nothing a user saved is lost.

One test (or a few) per row of the adversarial review (issue 15): long texts, configs,
damaged files, the command line, killed saves, the task cache. Each error test checks
that the message names the argument, field or file, and says what to do.
"""
import errno
import json
import logging
import os
import re
import shutil
import sys
import time

import numpy as np
import pytest

import albert_np
from albert_np import tasks
from albert_np.__main__ import main
from albert_np.config import AlbertConfig
from albert_np.training.finetuning import FinetuneSettings
from albert_np.inputs import check_inputs
from albert_np.training.model_card import export_bundled
from albert_np.tokenization import AlbertTokenizer, AlbertTokenizerFast, train_tokenizer
from albert_np.training.train import latest_checkpoint, list_checkpoints, read_checkpoint_state

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_pretraining import TEXT  # noqa: E402
from test_pretraining import make as make_pretrainer  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "tasks")
MLM = os.path.join(FIXTURES, "mlm")                     # max_position_embeddings = 128 in every task fixture
TOKEN_CLS = os.path.join(FIXTURES, "token_cls")
SEQ = os.path.join(FIXTURES, "seq_single_label")
QA = os.path.join(FIXTURES, "qa")
CHOICE = os.path.join(FIXTURES, "multiple_choice")
WORDS = "the film was released in may and the team lived in london before the war".split()


def long_text(n_words, seed=0):
    rng = np.random.default_rng(seed)
    return " ".join(rng.choice(WORDS, n_words))


def run_cli(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


# %% Long inputs ------------------------------------------------------------------------------------

def test_fill_mask_answers_every_mask_of_a_long_text():
    text = " ".join(f"{w} [MASK]" for w in long_text(600).split())          # 600 masks, ~1,200 tokens
    out = tasks.fill_mask(text, model=MLM, top_k=2)
    assert len(out) == 600 and all(len(fills) == 2 for fills in out)
    late = long_text(10_000) + " the film was [MASK] in may."               # one mask after 10k words
    fills = tasks.fill_mask(late, model=MLM, top_k=3)
    assert len(fills) == 3 and fills[0]["sequence"].endswith("in may.")


def test_a_mask_deep_in_a_long_text_is_predicted_from_its_own_context():
    # the mask's window holds the last 126 tokens: the same prediction as those tokens alone
    tok = AlbertTokenizerFast.from_pretrained(MLM)
    tail = long_text(60, seed=1) + " [MASK] " + long_text(5, seed=2)
    text = long_text(400, seed=3) + " " + tail
    ids = tok(text)["input_ids"][1:-1]
    mask = ids.index(tok.mask_token_id)
    assert mask > 300 and len(ids) - mask < 63                              # near the end: last window
    window = tok.decode(ids[-126:])
    ours = tasks.fill_mask(text, model=MLM, top_k=3)
    alone = tasks.fill_mask(window, model=MLM, top_k=3)
    assert [f["token"] for f in ours] == [f["token"] for f in alone]
    np.testing.assert_allclose([f["score"] for f in ours], [f["score"] for f in alone], atol=1e-5)


def test_fill_mask_windows_false_names_the_limit():
    with pytest.raises(ValueError, match=r"inputs has \d+ tokens, more than the 128 .*windows=True"):
        tasks.fill_mask(long_text(300) + " [MASK]", model=MLM, windows=False)
    with pytest.raises(TypeError, match="windows must be True or False"):
        tasks.fill_mask("a [MASK]", model=MLM, windows="yes")


def test_tag_tokens_covers_a_long_text_once():
    text = long_text(2_000)                                                  # ~14k characters
    tokens = tasks.tag_tokens(text, model=TOKEN_CLS, tokenizer=MLM, aggregation_strategy="none", ignore_labels=())
    n = len(AlbertTokenizerFast.from_pretrained(MLM)(text)["input_ids"]) - 2
    assert len(tokens) == n                                                  # every token, no duplicates
    assert [t["index"] for t in tokens] == list(range(1, n + 1))
    assert tokens[-1]["end"] == len(text)
    groups = tasks.tag_tokens(text, model=TOKEN_CLS, tokenizer=MLM, ignore_labels=())
    spans = [(g["start"], g["end"]) for g in groups]
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))              # no overlap, in order
    assert spans[-1][1] == len(text) and spans[0][0] == 0
    # grouping runs once over the merged tokens: no entity is cut where a window ends
    simple = tasks.TokenClassificationPipeline(TOKEN_CLS, MLM)
    again = simple.aggregate(simple.pre_entities(text, *_merged(simple, text)), "simple")
    # the same groups; scores to float32 noise (the two runs batch the windows differently,
    # and BLAS may sum in another order)
    assert [{k: v for k, v in g.items() if k != "score"} for g in groups] == \
        [{k: v for k, v in g.items() if k != "score"} for g in again]
    np.testing.assert_allclose([g["score"] for g in groups], [g["score"] for g in again], atol=1e-4)


def _merged(pipe, text):
    row = tasks.base.split_rows(pipe.tokenizer([text], return_offsets_mapping=True), 1)[0]
    parts, _, _ = tasks.base.windows_of_row(row, 128, pipe.tokenizer.cls_token_id, pipe.tokenizer.sep_token_id)
    found = pipe._token_probs(parts)
    return row, pipe.merge_windows([row], [(0, p) for p in parts], found, 128)[0]


def test_tag_tokens_short_text_is_unchanged_by_windows():
    text = "ada lovelace lived in london"
    pipe = tasks.TokenClassificationPipeline(TOKEN_CLS, MLM)
    assert pipe(text, aggregation_strategy="none", ignore_labels=()) == \
        pipe(text, aggregation_strategy="none", ignore_labels=(), windows=False)
    with pytest.raises(ValueError, match=r"inputs\[1\] has \d+ tokens, more than the 128"):
        pipe([text, long_text(500)], windows=False)


@pytest.mark.parametrize("call", ["classify", "embed"])
def test_classify_and_embed_say_what_they_cut(call, caplog):
    text = long_text(500)
    run = (lambda **kw: tasks.classify(text, model=SEQ, tokenizer=MLM, **kw)) if call == "classify" else \
        (lambda **kw: tasks.embed(text, model=MLM, **kw))
    with caplog.at_level(logging.WARNING, logger="albert_np.tasks"):
        run()
    assert re.search(r"inputs has (\d+) tokens: only the first 128 were used, \d+ cut", caplog.text)
    assert "truncation=False" in caplog.text
    with pytest.raises(ValueError, match=r"inputs has \d+ tokens, more than the 128 .*truncation=True"):
        run(truncation=False)


# %% pretrain-export, killed saves, checkpoint folders -------------------------------------------------

@pytest.fixture(scope="module")
def pretrained_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    trainer = make_pretrainer(root / "run", 3)
    trainer.train()
    data = root / "data" / "wikitext-103"
    data.mkdir(parents=True)
    (data / "wiki.test.raw").write_text(" = Cats = \n" + "\n".join(TEXT), encoding="utf-8")
    return trainer, root


def test_pretrain_export_never_deletes_what_the_folder_held(pretrained_run, tmp_path, capsys):
    trainer, root = pretrained_run
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    kw = dict(tokenizer=trainer.tokenizer, data_dir=str(root / "data"), examples=8)
    checkpoint = latest_checkpoint(str(root / "run"))
    with pytest.raises(ValueError, match=r"--out .*mine' is not empty .*--overwrite"):
        export_bundled(checkpoint, str(out), **kw)
    assert os.listdir(out) == ["notes.txt"]
    status, _, err = run_cli(capsys, "pretrain-export", "--checkpoint", checkpoint, "--tokenizer",
                             os.path.join(checkpoint, "spiece.model"), "--out", str(out))
    assert status == 2 and "is not empty" in err and len(err.strip().splitlines()) == 1
    export_bundled(checkpoint, str(out), overwrite=True, **kw)
    assert (out / "notes.txt").read_text() == "my notes"                    # foreign files stay
    assert {"config.json", "model.safetensors", "README.md", "notes.txt"} <= set(os.listdir(out))
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".tmp-export-")]
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        export_bundled(checkpoint, str(afile), **kw)


def test_a_killed_save_leaves_no_temp_folder_behind(tmp_path):
    out = tmp_path / "run"
    stale = out / ".tmp-checkpoint-3-ab_cd123"                               # what a SIGKILL mid-save leaves
    stale.mkdir(parents=True)
    (stale / "model.safetensors").write_bytes(b"\0" * 1000)
    foreign = [out / ".tmp-checkpoint-mine", out / ".tmp-checkpoint-3-short", out / "notes"]
    for path in foreign:
        path.mkdir()
    trainer = make_pretrainer(out, 3)
    trainer.train()                                                          # saves checkpoint-3
    assert not stale.exists() and all(p.exists() for p in foreign)
    stale.mkdir()
    resumed = make_pretrainer(out, 6)
    resumed.load_checkpoint(latest_checkpoint(str(out)))                     # resume cleans up too
    assert not stale.exists() and all(p.exists() for p in foreign)


def test_damaged_checkpoint_files_are_named(pretrained_run, tmp_path):
    trainer, root = pretrained_run
    copy = tmp_path / "checkpoint-3"
    shutil.copytree(latest_checkpoint(str(root / "run")), copy)
    (copy / "optimizer.npz").write_bytes(b"PK\x03\x04 not a zip")
    resumed = make_pretrainer(tmp_path, 6)
    with pytest.raises(ValueError, match=r"optimizer\.npz is damaged .*earlier checkpoint"):
        resumed.load_checkpoint(str(copy))
    (copy / "trainer_state.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"trainer_state\.json is not valid JSON"):
        read_checkpoint_state(str(copy))
    (copy / "trainer_state.json").write_text('{"version": 2}')
    with pytest.raises(ValueError, match=r"trainer_state\.json is damaged .*'global_step'"):
        read_checkpoint_state(str(copy))


def test_oddly_named_checkpoint_folders_are_not_steps(pretrained_run, tmp_path):
    trainer, root = pretrained_run
    for name in ("checkpoint-final", "checkpoint-\u00b2", "checkpoint-"):
        shutil.copytree(latest_checkpoint(str(root / "run")), tmp_path / name)
    assert list_checkpoints(str(tmp_path)) == [] and latest_checkpoint(str(tmp_path)) is None
    state, _, _ = read_checkpoint_state(str(tmp_path / "checkpoint-final"))   # it still exports
    assert state["global_step"] == 3


# %% Tokenizers ---------------------------------------------------------------------------------------

def test_sampling_sp_model_kwargs_are_warned(tmp_path, caplog):
    folder = tmp_path / "tok"
    shutil.copytree(MLM, folder)
    with open(folder / "tokenizer_config.json", encoding="utf-8") as f:
        cfg = json.load(f)
    cfg["sp_model_kwargs"] = {"enable_sampling": True, "alpha": 0.1, "nbest_size": -1}
    (folder / "tokenizer_config.json").write_text(json.dumps(cfg), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="albert_np.tokenization"):
        AlbertTokenizerFast.from_pretrained(folder)
    assert "sp_model_kwargs" in caplog.text and "enable_sampling" in caplog.text
    assert "different ids on every call" in caplog.text


def test_lone_surrogates_are_named():
    tok = AlbertTokenizerFast.from_pretrained(MLM)
    with pytest.raises(ValueError, match=r"text holds a lone surrogate '\\ud800' at character 1"):
        tok("a\ud800b")
    with pytest.raises(ValueError, match=r"text at index 1 holds a lone surrogate"):
        AlbertTokenizer.from_pretrained(MLM)(["ok", "\udcff"])
    with pytest.raises(ValueError, match=r"inputs\[0\] holds a lone surrogate"):
        tasks.fill_mask(["x\udce9 [MASK]"], model=MLM)
    with pytest.raises(ValueError, match=r"question(\[0\])? holds a lone surrogate"):
        tasks.answer_question("\ud83d?", "context", model=QA, tokenizer=MLM)


def test_non_utf8_command_line_arguments(capsys):
    arg = os.fsdecode(b"caf\xe9 [MASK]")                                     # how Python passes Latin-1 bytes
    status, _, err = run_cli(capsys, "fill-mask", arg, "--model", MLM)
    assert status == 2 and "TEXT argument 1 is not valid UTF-8" in err and "Traceback" not in err


def test_damaged_tokenizer_files_are_named(tmp_path):
    folder = tmp_path / "tok"
    shutil.copytree(MLM, folder)
    (folder / "tokenizer_config.json").write_text("{oops", encoding="utf-8")
    with pytest.raises(ValueError, match=r"tokenizer_config\.json is not valid JSON"):
        AlbertTokenizerFast.from_pretrained(folder)
    (folder / "tokenizer_config.json").write_text('{"do_lower_case": "maybe"}', encoding="utf-8")
    with pytest.raises(TypeError, match="do_lower_case must be true or false"):
        AlbertTokenizerFast.from_pretrained(folder)
    os.remove(folder / "tokenizer_config.json")
    os.remove(folder / "spiece.model")                                       # tokenizer.json is read instead
    (folder / "tokenizer.json").write_text('{"model": {"type": "Unigram"', encoding="utf-8")
    with pytest.raises(ValueError, match=r"tokenizer\.json is not valid JSON"):
        AlbertTokenizerFast.from_pretrained(folder)
    (folder / "tokenizer.json").write_text('{"model": {"type": "Unigram", "unk_id": 0}}', encoding="utf-8")
    with pytest.raises(ValueError, match=r"tokenizer\.json is not a complete tokenizer\.json"):
        AlbertTokenizerFast.from_pretrained(folder)


@pytest.mark.parametrize("ids", [[1.5], [np.float32(2.0)], [True], ["5"], 1.5, [None]])
def test_decode_takes_only_integer_ids(ids):
    tok = AlbertTokenizerFast.from_pretrained(MLM)
    with pytest.raises(TypeError, match="token ids must be"):
        tok.decode(ids)


def test_decode_takes_numpy_integers():
    tok = AlbertTokenizerFast.from_pretrained(MLM)
    assert tok.decode(np.array([15, 58])) == tok.decode([15, 58]) == tok.decode([np.int64(15), 58])


def test_train_tokenizer_empty_file_and_bad_vocab_size(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n   \n")
    with pytest.raises(ValueError, match="hold no text .*empty.txt"):
        train_tokenizer(str(empty), 100, str(tmp_path / "m"))
    text = tmp_path / "t.txt"
    text.write_text("\n".join(TEXT))
    for bad in (0, -5, 1.5, "100", 13):
        with pytest.raises(ValueError, match="vocab_size must be an int above the 13 special pieces"):
            train_tokenizer(str(text), bad, str(tmp_path / "m"))
    with pytest.raises(ValueError, match="could not train a 5000-piece vocabulary .*smaller vocab_size"):
        train_tokenizer(str(text), 5000, str(tmp_path / "m"))
    with pytest.raises(FileNotFoundError, match="it is a folder"):
        train_tokenizer(str(tmp_path), 100, str(tmp_path / "m"))


# %% Configs ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("field, value, error, words", [
    ("layer_norm_eps", -1, ValueError, "layer_norm_eps must be a positive number"),
    ("layer_norm_eps", 0, ValueError, "layer_norm_eps must be a positive number"),
    ("layer_norm_eps", "abc", TypeError, "layer_norm_eps must be a number, got str"),
    ("layer_norm_eps", float("nan"), ValueError, "layer_norm_eps must be a finite number"),
    ("num_hidden_layers", 10**9, ValueError, "num_hidden_layers=1000000000 x inner_group_num=1 is more"),
    ("inner_group_num", 2000, ValueError, "inner_group_num=2000 is more layer applications"),
    ("num_labels", 10**9, ValueError, "num_labels=1000000000 needs about"),
    ("vocab_size", 10**12, ValueError, r"needs about [\d,.]+ GiB for its float32 parameters"),
    ("hidden_dropout_prob", "abc", TypeError, "hidden_dropout_prob must be a number"),
    ("classifier_dropout_prob", 1.0, ValueError, r"classifier_dropout_prob must be in \[0, 1\)"),
    ("id2label", {"a": "x"}, ValueError, "id2label has the key 'a'"),
    ("id2label", {"0": "x", "2": "y"}, ValueError, r"id2label keys must be 0..1"),
    ("id2label", ["x"], TypeError, "id2label must be a dict"),
    ("label2id", {"x": "zero"}, ValueError, r"label2id\['x'\] must be a label id"),
    ("num_labels", 0, ValueError, "num_labels must be a positive int"),
    ("num_labels", "3", TypeError, "num_labels must be an int"),
    ("embedding_size", 16.0, TypeError, "embedding_size must be an int"),
    ("hidden_act", ["gelu"], ValueError, "hidden_act"),
    ("pad_token_id", -1, ValueError, "pad_token_id must be an int >= 0"),
    ("tie_word_embeddings", "no", TypeError, "tie_word_embeddings must be true or false"),
    ("initializer_range", float("inf"), ValueError, "initializer_range must be a finite number"),
])
def test_config_fields_are_checked_when_built(field, value, error, words):
    t0 = time.perf_counter()
    with pytest.raises(error, match=words):
        AlbertConfig(hidden_size=32, num_attention_heads=4, intermediate_size=37, **{field: value})
    assert time.perf_counter() - t0 < 1.0                                    # refused up front, nothing allocated


def test_config_json_errors_name_the_file(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"layer_norm_eps": "abc"}))
    with pytest.raises(TypeError, match=r"config\.json: AlbertConfig\.layer_norm_eps must be a number"):
        AlbertConfig.from_pretrained(str(tmp_path))
    with pytest.raises(TypeError, match="a config must be a JSON object"):
        AlbertConfig.from_dict([1, 2])


# %% Model inputs and training settings ---------------------------------------------------------------

def test_attention_mask_must_be_zero_or_one():
    config = AlbertConfig.from_pretrained(MLM)
    ids = np.array([[2, 15, 3]])
    with pytest.raises(ValueError, match=r"attention_mask must hold only 0 \(padding\) and 1"):
        check_inputs(config, ids, attention_mask=np.array([[1, 2, 1]]))
    with pytest.raises(ValueError, match="attention_mask must hold only 0 and 1"):
        check_inputs(config, ids, attention_mask=np.array([[1.0, 0.5, 1.0]]))


def test_non_finite_embeddings_and_zero_adam_eps():
    model = albert_np.AlbertForMaskedLM.from_pretrained(MLM)
    E = model.config.embedding_size
    for bad in (np.nan, np.inf):
        embeds = np.zeros((1, 3, E), dtype=np.float32)
        embeds[0, 1, 2] = bad
        with pytest.raises(ValueError, match="inputs_embeds holds nan or inf"):
            model(inputs_embeds=embeds)
    with pytest.raises(ValueError, match="adam_eps must be a positive number"):
        FinetuneSettings(adam_eps=0).validate()


# %% Task arguments -----------------------------------------------------------------------------------

@pytest.mark.parametrize("value, words", [(1.5, "max_question_len must be an int >= 1"),
                                          (0, "max_question_len must be an int >= 1"),
                                          (True, "max_question_len must be an int >= 1")])
def test_max_question_len_is_checked(value, words):
    with pytest.raises(ValueError, match=words):
        tasks.answer_question("who?", "ada lived in london", model=QA, tokenizer=MLM, max_question_len=value)


def test_a_choice_too_long_is_named():
    with pytest.raises(ValueError, match=r"choices\[1\] has \d+ tokens.*shorten that choice") as e:
        tasks.choose("a prompt", ["short", long_text(10_000)], model=CHOICE, tokenizer=MLM)
    assert "only_second" not in str(e.value) and "longest_first" not in str(e.value)


def test_bad_task_arguments_get_clear_errors():
    with pytest.raises(ValueError, match="top_k must be an int >= 1"):
        tasks.fill_mask("a [MASK]", model=MLM, top_k=-1)
    assert len(tasks.fill_mask("a [MASK]", model=MLM, top_k=10**9)) == AlbertConfig.from_pretrained(MLM).vocab_size
    with pytest.raises(TypeError, match=r"targets\[1\] must be a str"):
        tasks.fill_mask("a [MASK]", model=MLM, targets=["a", 3])
    with pytest.raises(ValueError, match="none of the targets"):
        tasks.fill_mask("a [MASK]", model=MLM, targets=[])
    with pytest.raises(TypeError, match=r"inputs\[0\] must be a str, got bytes"):
        tasks.embed([b"bytes"], model=MLM)
    with pytest.raises(TypeError, match="inputs must be a str or a list of str, got NoneType"):
        tasks.classify(None, model=SEQ, tokenizer=MLM)
    with pytest.raises(TypeError, match="ignore_labels must be a list of labels"):
        tasks.tag_tokens("ada", model=TOKEN_CLS, tokenizer=MLM, ignore_labels=5)
    with pytest.raises(ValueError, match="pooling must be one of"):
        tasks.embed("a", model=MLM, pooling=["cls"])


# %% The command line ---------------------------------------------------------------------------------

def test_finetune_cli_path_errors_are_one_line(tmp_path, capsys):
    train = tmp_path / "train.tsv"
    train.write_text("sentence\tlabel\na good film\t1\n")
    afile = tmp_path / "afile"
    afile.write_text("x")
    for argv, words in (((["--train", str(tmp_path)]), r"train \(--train\) .* is a folder"),
                        ((["--train", str(train), "--out", str(afile)]), r"output_dir \(--out\) .* is a file")):
        argv = argv + ["--out", str(tmp_path / "out")] if "--out" not in argv else argv
        status, _, err = run_cli(capsys, "finetune", "--task", "sst2", "--model", MLM, *argv)
        assert status == 2 and re.search(words, err) and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("code, words", [(errno.ENOSPC, "the disk is full"), (errno.EACCES, "permission denied"),
                                         (errno.EROFS, "read-only")])
def test_os_errors_on_the_command_line_are_one_line(monkeypatch, capsys, code, words):
    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code), "/out/checkpoint-3/model.safetensors")
    monkeypatch.setattr(albert_np.training.finetuning, "finetune", fail)
    monkeypatch.setattr(albert_np.__main__, "embed", fail)
    status, _, err = run_cli(capsys, "finetune", "--task", "sst2", "--model", MLM, "--train", MLM, "--out", "/out")
    assert status == 2 and "/out/checkpoint-3/model.safetensors" in err and words in err
    status, _, err = run_cli(capsys, "embed", "text", "--model", MLM)
    assert status == 2 and err.count("\n") == 1 and words in err


# %% The task cache -----------------------------------------------------------------------------------

def test_the_task_cache_reloads_a_folder_rewritten_on_disk(tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(MLM, folder)
    first = tasks.fill_mask("the film was [MASK] in may.", model=str(folder), top_k=1)
    assert tasks.load_model(str(folder), "fill-mask") is tasks.load_model(str(folder), "fill-mask")
    other = albert_np.AlbertForMaskedLM(AlbertConfig.from_pretrained(MLM), seed=123)
    time.sleep(0.01)
    other.save_pretrained(str(folder))                                       # a new model in the same folder
    second = tasks.fill_mask("the film was [MASK] in may.", model=str(folder), top_k=1)
    assert second[0]["score"] != first[0]["score"]
    fresh = albert_np.AlbertForMaskedLM.from_pretrained(str(folder))
    model = tasks.load_model(str(folder), "fill-mask")
    w = "predictions.bias"
    np.testing.assert_array_equal(model.state_dict()[w], fresh.state_dict()[w])
