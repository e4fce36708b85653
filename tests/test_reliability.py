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
import subprocess
import sys
import time

import numpy as np
import pytest

import albert_np
from albert_np import tasks
from albert_np.__main__ import main
from albert_np.config import AlbertConfig
from albert_np.formats.errors import CheckpointError
from albert_np.training.finetuning import FinetuneSettings
from albert_np.inputs import check_inputs
from albert_np.training.model_card import export_bundled
from albert_np.tokenization import AlbertTokenizer, AlbertTokenizerFast, train_tokenizer
from albert_np.training.checkpoints import latest_checkpoint, list_checkpoints, read_checkpoint_state

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


# %% Round 3 (issue 27): secrets and what is written -----------------------------------------------
# Each test below failed on the commit before the fix (92ee381); the comment above each says how.

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.join(ROOT, "tests")
SECRET = "hf_sEcReT0123456789"


def run_python(code, timeout=60):
    """Run `code` in a fresh interpreter on this checkout: a hang (killed at `timeout`, raising
    subprocess.TimeoutExpired) or a crash cannot take the test run with it."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + TESTS, OPENBLAS_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def fake_hub(monkeypatch):
    """huggingface_hub.hf_hub_download served from local folders ({repo id: folder}); each call recorded."""
    import huggingface_hub
    from albert_np import hub
    repos, calls = {}, []

    def download(repo_id, filename, **kwargs):
        calls.append(dict(kwargs, repo_id=repo_id, filename=filename))
        path = os.path.join(repos[repo_id], filename)
        if not os.path.isfile(path):
            raise huggingface_hub.errors.EntryNotFoundError(f"{repo_id} has no {filename}")
        return path
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    monkeypatch.setattr(hub, "hub_reachable", lambda: True)
    return repos, calls


def files_hold(folder, text):
    """Names of the files under `folder` whose bytes contain `text`."""
    found = []
    for dirpath, _, names in os.walk(folder):
        for name in names:
            with open(os.path.join(dirpath, name), "rb") as f:
                if text.encode() in f.read():
                    found.append(name)
    return found


# before: token= went into the config as an override, and config.json carried it in plain text
@pytest.mark.parametrize("keyword", ["token", "use_auth_token"])
def test_a_hub_token_goes_to_the_download_and_nowhere_else(fake_hub, tmp_path, keyword):
    repos, calls = fake_hub
    repos["someone/private-albert"] = MLM
    model = albert_np.AlbertForMaskedLM.from_pretrained("someone/private-albert", **{keyword: SECRET})
    model.save_pretrained(tmp_path / "saved")
    assert files_hold(tmp_path / "saved", SECRET) == []                      # config.json held it
    assert SECRET not in json.dumps(model.config.to_dict()) and "token" not in model.config.extra
    tok = AlbertTokenizerFast.from_pretrained("someone/private-albert", **{keyword: SECRET})
    auto = albert_np.AutoModelForMaskedLM.from_pretrained("someone/private-albert", **{keyword: SECRET})
    assert calls and all(c["token"] == SECRET for c in calls)                  # every download had it
    auto.save_pretrained(tmp_path / "saved")
    tok.save_pretrained(tmp_path / "saved")
    assert files_hold(tmp_path / "saved", SECRET) == []
    assert SECRET not in json.dumps(AlbertConfig.from_pretrained("someone/private-albert", token=SECRET).to_dict())


# before: num_lables=5 was kept as an unknown config key and saved; output_hidden_states=True was ignored
def test_from_pretrained_takes_loading_options_and_config_fields_only(tmp_path):
    for load in (albert_np.AlbertForSequenceClassification.from_pretrained, AlbertConfig.from_pretrained,
                 albert_np.AutoModelForSequenceClassification.from_pretrained):
        with pytest.raises(TypeError, match=r"'num_lables' \(did you mean 'num_labels'\?\)"):
            load(MLM, num_lables=5)
        with pytest.raises(TypeError, match=r"'fancy_option'.*loading options revision"):
            load(MLM, fancy_option=1)
    model = albert_np.AlbertForSequenceClassification.from_pretrained(MLM, num_labels=5)
    assert model.config.num_labels == 5 and model.params["classifier"]["weight"].shape == (5, 32)
    # output_hidden_states / output_attentions are config fields: the defaults of forward's arguments
    ids = np.array([[2, 25, 26, 27, 3]])
    plain = albert_np.AlbertForMaskedLM.from_pretrained(MLM)
    asked = albert_np.AlbertForMaskedLM.from_pretrained(MLM, output_hidden_states=True, output_attentions=True)
    assert plain(input_ids=ids).hidden_states is None
    out, ref = asked(input_ids=ids), plain(input_ids=ids, output_hidden_states=True, output_attentions=True)
    assert len(out.hidden_states) == 3 and len(out.attentions) == 2
    for a, b in zip(out.hidden_states + out.attentions, ref.hidden_states + ref.attentions):
        np.testing.assert_array_equal(a, b)
    assert asked(input_ids=ids, output_hidden_states=False).hidden_states is None   # the call still wins
    with pytest.raises(TypeError, match="output_hidden_states must be true or false"):
        albert_np.AlbertForMaskedLM.from_pretrained(MLM, output_hidden_states="yes")
    with pytest.raises(TypeError, match="config= and config overrides"):
        albert_np.AlbertForMaskedLM.from_pretrained(MLM, config=plain.config, num_labels=3)


# before: the weight became inf with only NumPy's RuntimeWarning; the reloaded model answered "<pad>" with score nan
def test_a_float16_save_beyond_its_range_is_refused(tmp_path):
    model = albert_np.AlbertForMaskedLM.from_pretrained(MLM)
    model.params["predictions"]["dense"]["weight"][0, 0] = 1e5
    with pytest.raises(ValueError, match=r"'predictions\.dense\.weight' has a value of magnitude 100000, beyond "
                                         r"float16's largest 65504.*storage_dtype=None"):
        model.save_pretrained(tmp_path / "fp16", storage_dtype="float16")
    assert not (tmp_path / "fp16" / "model.safetensors").exists()
    model.save_pretrained(tmp_path / "bf16", storage_dtype="bfloat16")          # float32's range: fine
    back = albert_np.AlbertForMaskedLM.from_pretrained(tmp_path / "bf16")
    assert back.params["predictions"]["dense"]["weight"][0, 0] == 1e5 - 1e5 % 512   # bfloat16's 8 bits
    model.params["predictions"]["dense"]["weight"][0, 1] = np.nan
    for storage in (None, "float16", "bfloat16"):
        with pytest.raises(ValueError, match=r"'predictions\.dense\.weight' holds 1 nan/inf values"):
            model.save_pretrained(tmp_path / "nan", storage_dtype=storage)


class Killed(BaseException):
    """Stands for a SIGKILL in the middle of a call (nothing after it runs)."""


# before: the rotation deleted checkpoint-3 in place; killed after its weights went, it still had
# trainer_state.json, so latest_checkpoint / a resume would take a checkpoint without weights
def test_a_rotation_killed_midway_leaves_no_complete_looking_checkpoint(tmp_path, monkeypatch):
    out = tmp_path / "run"
    make_pretrainer(out, 3).train()                                          # checkpoint-3
    trainer = make_pretrainer(out, 6, keep_checkpoints=1)
    trainer.load_checkpoint(latest_checkpoint(str(out)))
    real = shutil.rmtree

    def killed_after_the_weights(path, *args, **kwargs):                     # rmtree, killed part-way
        if "checkpoint-3" not in os.fspath(path):
            return real(path, *args, **kwargs)
        for folder, _, names in os.walk(path):
            if "model.safetensors" in names:
                os.remove(os.path.join(folder, "model.safetensors"))
        raise Killed()
    monkeypatch.setattr(shutil, "rmtree", killed_after_the_weights)
    with pytest.raises(Killed):
        trainer.train()                                                      # saves 6, then drops 3
    monkeypatch.setattr(shutil, "rmtree", real)
    found = list_checkpoints(str(out))
    assert [step for step, _ in found] == [6]
    assert all(os.path.isfile(os.path.join(path, "model.safetensors")) for _, path in found)
    make_pretrainer(out, 6)                                                  # the next start cleans up
    assert not [n for n in os.listdir(out) if n.startswith(".")]


# before: the staging folder of the model save (.tmp-checkpoint-3-XXXX.albert_np-new-YYYY) was never
# deleted, and nothing was cleaned when a run started (only at its first save or a resume)
def test_a_save_killed_midway_leaves_nothing_after_the_next_start(tmp_path):
    out = tmp_path / "run"
    child = run_python(f"""
import os
from albert_np.formats import checkpoint
from test_pretraining import make
checkpoint.save_state_dict = lambda *a, **k: os._exit(9)       # SIGKILL while the weights are written
make({str(out)!r}, 3).train()
""", timeout=120)
    assert child.returncode == 9, child.stderr[-2000:]
    left = [n for n in os.listdir(out) if n.startswith(".")]
    assert any(".albert_np-new-" in n for n in left), left                  # what a kill leaves
    make_pretrainer(out, 3)                                                  # a new start, before any save
    assert not [n for n in os.listdir(out) if n.startswith(".")]


# before: _fsync_tree opened every file of the new folder, the named pipe too, and waited for a writer forever
def test_save_pretrained_beside_a_named_pipe_does_not_hang(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    os.mkfifo(folder / "a_pipe")
    child = run_python(f"""
import albert_np
model = albert_np.AlbertForMaskedLM.from_pretrained({MLM!r})
model.save_pretrained({str(folder)!r})
albert_np.AlbertTokenizerFast.from_pretrained({MLM!r}).save_pretrained({str(folder)!r})
""", timeout=60)
    assert child.returncode == 0, child.stderr[-2000:]
    assert {"a_pipe", "config.json", "model.safetensors", "spiece.model"} <= set(os.listdir(folder))


# %% Round 3: files that make the loader do something else -------------------------------------------

def tokenizer_folder(tmp_path, **settings):
    """A copy of the fixture tokenizer's folder with tokenizer_config.json settings changed."""
    folder = tmp_path / "tok"
    shutil.copytree(MLM, folder, dirs_exist_ok=True)
    config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    config.update(settings)
    (folder / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


# before: model_file sent SentencePiece to any path (a pipe: a hang; /dev/zero: all the memory);
# reverse: true reversed every text without a word
def test_sp_model_kwargs_are_limited_to_subword_regularisation(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    for options, name in (({"model_file": str(tmp_path / "pipe")}, "model_file"),
                          ({"model_file": "/dev/zero"}, "model_file"), ({"reverse": True}, "reverse"),
                          ({"add_bos": True, "alpha": 0.1}, "add_bos")):
        folder = tokenizer_folder(tmp_path, sp_model_kwargs=options)
        child = run_python(f"""
import resource
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))     # /dev/zero must not eat the machine
import albert_np
try:
    tok = albert_np.AlbertTokenizerFast.from_pretrained({str(folder)!r})
    print("LOADED", tok.tokenize("hello world"))
except ValueError as e:
    print("REFUSED", e)
""", timeout=60)
        assert child.stdout.startswith("REFUSED"), (options, child.stdout, child.stderr[-500:])
        assert f"'{name}'" in child.stdout and "tokenizer_config.json" in child.stdout
    ok = AlbertTokenizerFast.from_pretrained(tokenizer_folder(tmp_path, sp_model_kwargs={
        "enable_sampling": True, "nbest_size": -1, "alpha": 0.1}))
    assert ok.sp_model_kwargs["alpha"] == 0.1
    with pytest.raises(ValueError, match="alpha must be a number in"):
        AlbertTokenizerFast.from_pretrained(MLM, sp_model_kwargs={"alpha": "high"})


def piece_boundaries(model_proto):
    """Byte offsets at which each top-level field of a serialised SentencePiece model ends."""
    from albert_np.formats.protobuf_wire import read_varint
    ends, pos = [], 0
    while pos < len(model_proto):
        key, pos = read_varint(model_proto, pos)
        size, pos = read_varint(model_proto, pos)
        pos += size
        ends.append((key >> 3, pos))
    return ends


# before: the cut file loaded with fewer pieces and no normaliser: other ids, no warning
def test_a_spiece_model_cut_between_pieces_is_refused(tmp_path):
    data = open(os.path.join(MLM, "spiece.model"), "rb").read()
    pieces = [end for number, end in piece_boundaries(data) if number == 1]
    cut = tmp_path / "spiece.model"
    cut.write_bytes(data[:pieces[600]])                                      # a valid protobuf: 601 pieces
    with pytest.raises(ValueError, match=r"spiece\.model' is not a complete SentencePiece model: it ends after "
                                         r"piece 600 without its normaliser.*cut short"):
        AlbertTokenizer(vocab_file=str(cut))
    whole = AlbertTokenizer(vocab_file=os.path.join(MLM, "spiece.model"))
    assert whole.vocab_size == len(pieces) == 1000


# before: unk_id -1 made the last piece the unknown one (and duplicate pieces were accepted)
def test_tokenizer_json_vocabulary_is_checked(tmp_path):
    folder = tokenizer_folder(tmp_path)
    os.remove(folder / "spiece.model")                                       # tokenizer.json is read instead
    spec = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    good = AlbertTokenizerFast.from_pretrained(folder)
    assert good.tokenize("hello there") == AlbertTokenizerFast.from_pretrained(MLM).tokenize("hello there")
    for change, words in ((lambda m: m.update(unk_id=-1), r"model\.unk_id is -1, not an id of the vocabulary"),
                          (lambda m: m.update(unk_id=len(m["vocab"])), r"model\.unk_id is 1000"),
                          (lambda m: m["vocab"].__setitem__(7, list(m["vocab"][8])),
                           r"the piece .* is in model\.vocab twice \(ids 7 and 8\)"),
                          (lambda m: m["vocab"].__setitem__(9, ["x", "high"]),
                           r"model\.vocab\[9\] is \['x', 'high'\]")):
        broken = json.loads(json.dumps(spec))
        change(broken["model"])
        (folder / "tokenizer.json").write_text(json.dumps(broken), encoding="utf-8")
        with pytest.raises(ValueError, match=r"tokenizer\.json: " + words):
            AlbertTokenizerFast.from_pretrained(folder)


# before: mask_token="[SEP]" was accepted: every [SEP] read as a mask and the other way round
def test_colliding_special_tokens_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"sep_token and mask_token are both '\[SEP\]'"):
        AlbertTokenizer(vocab_file=os.path.join(MLM, "spiece.model"), mask_token="[SEP]")
    with pytest.raises(ValueError, match=r"pad_token and unk_token are both '<pad>'"):
        AlbertTokenizerFast.from_pretrained(tokenizer_folder(tmp_path, unk_token="<pad>"))
    with pytest.raises(ValueError, match=r"unk_token '\[MASK\]' \(id 4\) is not the SentencePiece model's unknown "
                                         r"piece '<unk>'"):
        AlbertTokenizer(vocab_file=os.path.join(MLM, "spiece.model"), unk_token="[MASK]", mask_token="<unk>")
    AlbertTokenizer(vocab_file=os.path.join(MLM, "spiece.model"))          # bos = cls and eos = sep: ALBERT's


def perturbed_copy(folder, seed):
    """An AlbertForMaskedLM of MLM's config with other weights, saved with its tokenizer in `folder`."""
    model = albert_np.AlbertForMaskedLM(AlbertConfig.from_pretrained(MLM), seed=seed)
    model.save_pretrained(folder)
    AlbertTokenizerFast.from_pretrained(MLM).save_pretrained(folder)
    return model


# before: subfolder= was ignored (the root's model loaded) and stored as a config field
def test_subfolder_is_honoured(tmp_path, fake_hub):
    root = tmp_path / "repo"
    shutil.copytree(MLM, root)
    inner = perturbed_copy(root / "inner", seed=5)
    w = "predictions.bias"
    for name in (str(root), "someone/nested"):
        fake_hub[0]["someone/nested"] = str(root)
        model = albert_np.AlbertForMaskedLM.from_pretrained(name, subfolder="inner")
        np.testing.assert_array_equal(model.state_dict()[w], inner.state_dict()[w])
        assert "subfolder" not in model.config.to_dict()
        tok = AlbertTokenizerFast.from_pretrained(name, subfolder="inner")
        assert tok.vocab_size == 1000
    assert {c["filename"] for c in fake_hub[1]} >= {"inner/config.json", "inner/model.safetensors"}
    for bad in ("../repo", "/etc", "inner/../../x"):
        with pytest.raises(ValueError, match=r"subfolder .* must name a folder inside"):
            albert_np.AlbertForMaskedLM.from_pretrained(str(root), subfolder=bad)
    with pytest.raises(FileNotFoundError, match="subfolder 'nowhere' not found"):
        albert_np.AlbertForMaskedLM.from_pretrained(str(root), subfolder="nowhere")


# before: variant= was ignored (model.safetensors loaded) and stored as a config field
def test_variant_is_honoured(tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(MLM, folder)
    other = perturbed_copy(tmp_path / "other", seed=9)
    os.rename(tmp_path / "other" / "model.safetensors", folder / "model.fp16.safetensors")
    model = albert_np.AlbertForMaskedLM.from_pretrained(folder, variant="fp16")
    np.testing.assert_array_equal(model.state_dict()["predictions.bias"], other.state_dict()["predictions.bias"])
    assert model.loaded_files[0].endswith("model.fp16.safetensors") and "variant" not in model.config.to_dict()
    with pytest.raises(FileNotFoundError, match=r"variant='bf16': .* has none of model\.bf16\.safetensors, "
                                                r"model\.safetensors\.index\.bf16\.json, pytorch_model\.bf16\.bin"):
        albert_np.AlbertForMaskedLM.from_pretrained(folder, variant="bf16")
    with pytest.raises(ValueError, match="variant must be a short name"):
        albert_np.AlbertForMaskedLM.from_pretrained(folder, variant="../model")


# %% Round 3: silent wrong answers -------------------------------------------------------------------

def save_tensors(folder, state):
    """MLM's folder with model.safetensors holding `state` as given (the safetensors library writes it)."""
    from safetensors.numpy import save_file
    shutil.copytree(MLM, folder)
    save_file({k: np.ascontiguousarray(v) for k, v in state.items()}, str(folder / "model.safetensors"))


# before: integer and bool weights were cast to float: fill_mask answered nonsense
@pytest.mark.parametrize("dtype", [np.int64, np.int8, np.bool_])
def test_integer_and_bool_weights_are_refused(tmp_path, dtype):
    state = albert_np.AlbertForMaskedLM.from_pretrained(MLM).state_dict()
    state["albert.embeddings.position_ids"] = np.arange(128)[None]          # an integer buffer: dropped, fine
    state["predictions.dense.weight"] = (state["predictions.dense.weight"] * 100).astype(dtype)
    save_tensors(tmp_path / "m", state)
    with pytest.raises(CheckpointError, match=r"model\.safetensors: 1 weight\(s\) are stored as integers or booleans, "
                                              r"not floats: predictions\.dense\.weight \(" + np.dtype(dtype).name):
        albert_np.AlbertForMaskedLM.from_pretrained(tmp_path / "m")


# before: an integer variable of an original TF checkpoint was cast to float like the rest
def test_integer_weights_of_a_tf_checkpoint_are_refused(monkeypatch):
    from albert_np.formats import tf_checkpoint
    prefix = os.path.join(TESTS, "fixtures", "tf1", "release_pretraining", "model.ckpt-best")
    real = tf_checkpoint.read_bundle

    def with_an_int_weight(path, keep=None):
        tensors, skipped = real(path, keep)
        name = next(n for n in tensors if n.endswith("word_embeddings"))
        tensors[name] = (tensors[name] * 100).astype(np.int32)
        return tensors, skipped
    monkeypatch.setattr(tf_checkpoint, "read_bundle", with_an_int_weight)
    with pytest.raises(CheckpointError, match=r"model\.ckpt-best: 1 weight\(s\) are stored as integers or booleans, "
                                              r"not floats: .*word_embeddings \(int32\)"):
        tf_checkpoint.read_tf_state_dict(prefix)


# before: nan / inf weights loaded, and every answer was nan
def test_non_finite_weights_are_named(tmp_path):
    state = albert_np.AlbertForMaskedLM.from_pretrained(MLM).state_dict()
    state["albert.encoder.embedding_hidden_mapping_in.bias"][:3] = [np.nan, np.inf, -np.inf]
    save_tensors(tmp_path / "m", state)
    with pytest.raises(CheckpointError, match=r"1 weight\(s\) hold nan or inf: albert\.encoder\."
                                              r"embedding_hidden_mapping_in\.bias \(3 of 32 values\)"):
        albert_np.AlbertForMaskedLM.from_pretrained(tmp_path / "m")
    model = albert_np.AlbertForMaskedLM.from_pretrained(MLM)
    with pytest.raises(CheckpointError, match="hold nan or inf"):
        model.load_state_dict(state)


FILM = [{"sentence": s, "label": str(y)} for s, y in
        [("a good film", 1), ("a bad film", 0), ("great cast", 1), ("dull plot", 0)] * 4]


# before: the resumed run read the labels in the new order and trained on flipped targets
def test_fine_tuning_resumes_only_the_same_model_labels_and_data(tmp_path):
    from albert_np.training.datasets import get_task
    from albert_np.training.finetuning import finetune
    from test_finetuning import tiny_model_folder
    folder = tiny_model_folder(tmp_path / "tiny")
    kw = dict(max_steps=2, batch_size=8, save_every=2, progress=False, plot=False)
    finetune("sst2", folder, FILM, None, tmp_path / "out", **kw)
    more = dict(kw, max_steps=4)
    flipped = get_task("sst2", labels=("1", "0"))
    with pytest.raises(ValueError, match=r"another run .*\n  id2label: checkpoint \{'0': '0', '1': '1'\}, now "
                                         r"\{'0': '1', '1': '0'\}\n  the training data: its fingerprint differs"):
        finetune(flipped, folder, FILM, None, tmp_path / "out", resume_from="latest", **more)
    with pytest.raises(ValueError, match=r"\n  max_length: checkpoint 128, now 64\n"):
        finetune("sst2", folder, FILM, None, tmp_path / "out", resume_from="latest", **dict(more, max_length=64))
    with pytest.raises(ValueError, match=r"the training data: its fingerprint differs"):
        finetune("sst2", folder, FILM[::-1], None, tmp_path / "out", resume_from="latest", **more)
    result = finetune("sst2", folder, FILM, None, tmp_path / "out", resume_from="latest", **more)
    assert result.global_step == 4                                           # the same run: it goes on


# before: a 2-head gelu_new run resumed as 4 heads with relu (same shapes), with a warning about `steps` only
def test_pretraining_resumes_only_the_same_model(tmp_path):
    from albert_np.training import pretraining as pt
    from test_pretraining import documents, tokenizer
    make_pretrainer(tmp_path, 3).train()
    tok = tokenizer()
    config = AlbertConfig(vocab_size=tok.vocab_size, embedding_size=16, hidden_size=32, num_hidden_layers=2,
                          num_attention_heads=4, intermediate_size=48, max_position_embeddings=64,
                          hidden_act="relu", hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
                          classifier_dropout_prob=0.1)
    args = pt.PretrainSettings(max_steps=6, batch_size=4, learning_rate=3e-3, warmup=2, max_seq_length=32,
                               max_predictions=5, save_every=3, seed=1, block_docs=4, progress=False)
    trainer = pt.make_trainer(albert_np.AlbertForPreTraining(config), tok, documents, str(tmp_path), args)
    with pytest.raises(ValueError, match=r"num_attention_heads: checkpoint 2, now 4(.|\n)*hidden_act: checkpoint "
                                         r"'gelu_new', now 'relu'"):
        trainer.load_checkpoint(latest_checkpoint(str(tmp_path)))
    again = make_pretrainer(tmp_path, 6, max_ngram=1)
    with pytest.raises(ValueError, match=r"max_ngram: checkpoint 3, now 1"):
        again.load_checkpoint(latest_checkpoint(str(tmp_path)))


def squad_file(path, answers):
    """A SQuAD v1.1 file with one question per (context, text, answer_start)."""
    qas = [{"context": c, "qas": [{"id": str(i), "question": "what?", "answers": [{"text": t, "answer_start": s}]}]}
           for i, (c, t, s) in enumerate(answers)]
    path.write_text(json.dumps({"version": "1.1", "data": [{"title": "t", "paragraphs": qas}]}), encoding="utf-8")
    return path


# before: answers that are not at answer_start trained every window as "no answer", silently
def test_squad_answers_not_at_answer_start_are_counted(tmp_path, caplog):
    from albert_np.training.datasets import load_examples
    good = [("Ada lived in London in 1840.", "London", 13)] * 39
    few = squad_file(tmp_path / "few.json", good + [("Ada lived in Paris.", "Paris", 3)])
    with caplog.at_level(logging.WARNING):
        assert len(load_examples("squad", str(few))) == 40
    assert "1 of 40 examples (2.5%) have an answer that is not at its answer_start" in caplog.text
    assert "example 39 (id 39): answer 'Paris' at character 3" in caplog.text
    many = squad_file(tmp_path / "many.json", good[:30] + [("Ada lived in Paris.", "Paris", 3)] * 10)
    with pytest.raises(ValueError, match=r"many\.json: 10 of 40 examples \(25\.0%\) .*Over 5%"):
        load_examples("squad", str(many))


# %% Round 3: unclear errors -------------------------------------------------------------------------

# before: the folder checked fresh, then rewritten (another process saving), then looked up again:
# load() was None -> "'NoneType' object is not callable"
def test_the_task_cache_survives_a_folder_rewritten_between_check_and_use(tmp_path, monkeypatch):
    from albert_np.tasks import loading
    folder = tmp_path / "model"
    shutil.copytree(MLM, folder)
    first = loading.load_model(str(folder), "fill-mask")
    real, looks = loading.folder_signature, []

    def rewritten_after_the_first_look(name):
        looks.append(name)
        return real(name) if len(looks) == 1 else (("config.json", 1, len(looks)),)
    monkeypatch.setattr(loading, "folder_signature", rewritten_after_the_first_look)
    again = loading.load_model(str(folder), "fill-mask")
    assert again is first or isinstance(again, albert_np.AlbertForMaskedLM)


DEEP = "[" * 100_000 + "]" * 100_000


# before: RecursionError, naming no file
def test_deeply_nested_json_is_named(tmp_path):
    from albert_np.training.datasets import read_table
    folder = tmp_path / "m"
    shutil.copytree(MLM, folder)
    text = (folder / "config.json").read_text(encoding="utf-8")
    (folder / "config.json").write_text(text.replace('"vocab_size"', f'"deep": {DEEP}, "vocab_size"'))
    with pytest.raises(ValueError, match=r"config\.json nests its JSON too deeply"):
        AlbertConfig.from_pretrained(folder)
    (folder / "tokenizer_config.json").write_text(f'{{"deep": {DEEP}}}')
    with pytest.raises(ValueError, match=r"tokenizer_config\.json nests its JSON too deeply"):
        AlbertTokenizerFast.from_pretrained(folder)
    (tmp_path / "rows.jsonl").write_text('{"sentence": "fine", "label": 1}\n' + f'{{"x": {DEEP}}}\n')
    with pytest.raises(ValueError, match=r"rows\.jsonl: line 2 nests its JSON too deeply"):
        read_table(str(tmp_path / "rows.jsonl"))


# before: KeyError: 'question', naming no file and no place in it
def test_squad_files_missing_keys_are_named(tmp_path):
    from albert_np.training.datasets import read_squad
    path = squad_file(tmp_path / "s.json", [("Ada lived in London.", "London", 13)] * 2)
    data = json.loads(path.read_text(encoding="utf-8"))
    del data["data"][0]["paragraphs"][1]["qas"][0]["question"]
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match=r"s\.json: data\[0\]\.paragraphs\[1\]\.qas\[0\] has no 'question'"):
        read_squad(str(path))
    data["data"][0]["paragraphs"][1]["qas"][0]["question"] = "where?"
    data["data"][0]["paragraphs"][0]["qas"][0]["answers"][0]["answer_start"] = None
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match=r"qas\[0\]\.answers\[0\]: 'answer_start' should be a int or str"):
        read_squad(str(path))


# before: _csv.Error: field larger than field limit (131072), naming no file and no line
def test_a_csv_field_over_the_limit_is_named(tmp_path):
    from albert_np.training.datasets import read_table
    path = tmp_path / "big.csv"
    path.write_text("sentence,label\nfine,1\n\"" + "x" * 140_000 + "\",0\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"big\.csv, line 3: field larger than field limit .*131,072 characters"):
        read_table(str(path))


# before: UnicodeDecodeError: 'utf-8' codec can't decode byte ..., naming no file
@pytest.mark.parametrize("name, reader", [("d.tsv", "table"), ("d.csv", "table"), ("d.jsonl", "table"),
                                          ("d.conll", "conll"), ("d.json", "squad")])
def test_utf8_errors_name_the_file(tmp_path, name, reader):
    from albert_np.training import datasets
    path = tmp_path / name
    path.write_bytes(b"sentence\tlabel\nfine\t1\ncaf\xe9\t0\n")
    read = {"table": datasets.read_table, "conll": datasets.read_conll, "squad": datasets.read_squad}[reader]
    with pytest.raises(ValueError, match=re.escape(str(path)) + r", line 3 \(byte \d+\), is not UTF-8 text"):
        read(str(path))


def test_cli_context_file_utf8_errors_name_the_file(tmp_path, capsys):
    path = tmp_path / "story.txt"
    path.write_bytes(b"Ada lived in caf\xe9 London.")
    status, _, err = run_cli(capsys, "qa", "--question", "where?", "--context-file", str(path), "--model", QA,
                             "--tokenizer", MLM)
    assert status == 2 and f"{path}, line 1 (byte 16), is not UTF-8 text" in err


# before: "albert_np: error: a file: Broken pipe" and status 2
def test_a_closed_pipe_ends_the_command_silently(tmp_path):
    read_end, write_end = os.pipe()
    os.close(read_end)                                                      # `| head -1` that has already gone
    env = dict(os.environ, PYTHONPATH=ROOT, OPENBLAS_NUM_THREADS="1")
    try:
        p = subprocess.run([sys.executable, "-m", "albert_np", "embed", "one text", "two texts", "--model", MLM],
                           stdout=write_end, stderr=subprocess.PIPE, env=env, timeout=120)
    finally:
        os.close(write_end)
    assert p.returncode == 141, p.stderr
    assert p.stderr == b""


# %% Round 3: algorithmic blow-ups (the work counted; the times are in tests/benchmarks/blowups.py) ----

class CountingDecoder:
    """Stands in for a tokenizer's sp_model, counting the pieces it decodes."""

    def __init__(self, sp_model):
        self.sp_model, self.pieces = sp_model, 0

    def decode_pieces(self, pieces):
        self.pieces += len(pieces)
        return self.sp_model.decode_pieces(pieces)

    def __getattr__(self, name):
        return getattr(self.sp_model, name)

    def __len__(self):
        return len(self.sp_model)


def mask_text(n):
    return " ".join(f"{WORDS[i % len(WORDS)]} [MASK]" for i in range(n))


# before: every suggestion decoded the whole text: 16x the pieces for 4x the masks
def test_fill_mask_decodes_each_text_once(monkeypatch):
    pipe = tasks.FillMaskPipeline(MLM)
    counter = CountingDecoder(pipe.tokenizer.sp_model)
    monkeypatch.setattr(pipe.tokenizer, "sp_model", counter)
    decoded = []
    for n in (25, 100):
        counter.pieces = 0
        out = pipe(mask_text(n), top_k=3)
        assert len(out) == n
        decoded.append(counter.pieces)
    tokens = len(pipe.tokenizer(mask_text(100))["input_ids"])
    print("pieces decoded for 25 and 100 masks:", decoded)
    assert decoded[1] < 5 * decoded[0], decoded                            # linear: about 4x
    assert decoded[1] < 10 * tokens, (decoded, tokens)                     # a few pieces per suggestion


def test_decode_fills_equals_decode_of_each_filled_text():
    """The reference: decode() of the ids with the position replaced, for random ids, special
    tokens anywhere (the filled position too), candidates special or not, with and without
    skip_special_tokens and the clean-up."""
    tok = AlbertTokenizerFast.from_pretrained(MLM)
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(200):
        ids = [int(rng.choice(tok.all_special_ids)) if rng.random() < 0.3 else int(i)
               for i in rng.integers(0, tok.vocab_size, size=rng.integers(1, 14))]
        positions = sorted({int(p) for p in rng.integers(0, len(ids), size=3)})
        fills = [(p, [int(c) for c in rng.integers(0, tok.vocab_size, size=3)] + [tok.sep_token_id]) for p in positions]
        for skip in (False, True):
            for clean in (False, True):
                got = tok.decode_fills(ids, fills, skip, clean)
                for (p, candidates), texts in zip(fills, got):
                    assert texts == [tok.decode(ids[:p] + [c] + ids[p + 1:], skip, clean) for c in candidates]
                    checked += 1
    assert checked > 1500


# before: a (masks, V) row of probabilities was kept for every mask until the end
def test_fill_mask_keeps_only_the_top_k_of_each_mask(monkeypatch):
    import weakref
    fm = sys.modules["albert_np.tasks.fill_mask"]        # albert_np.tasks.fill_mask is also the function
    real, alive = fm.mlm_probs, []
    kept = []

    def watched(model, h):
        kept.append(sum(r() is not None for r in alive))                    # earlier batches' rows still held
        probs = real(model, h)
        alive.append(weakref.ref(probs))
        return probs
    monkeypatch.setattr(fm, "mlm_probs", watched)
    text = " ".join([long_text(100) + " [MASK]"] * 12)                     # 12 masks in 10 windows of 128
    out = tasks.fill_mask(text, model=MLM, top_k=2, batch_size=2)
    assert len(out) == 12 and len(kept) >= 4
    print("probability arrays of earlier batches alive at each batch:", kept)
    assert max(kept) == 0, kept


class CountingText(str):
    """A context whose slices count their lower() calls (one per comparison of two answers' texts)."""
    calls = 0

    def __getitem__(self, key):
        return CountingSlice(str.__getitem__(self, key))


class CountingSlice(str):
    def lower(self):
        CountingText.calls += 1
        return str.lower(self)


# before: each candidate span was compared with every answer found so far: quadratic in the windows
def test_qa_merges_the_answers_of_all_windows_in_linear_time():
    pipe = tasks.QuestionAnsweringPipeline(QA, MLM)
    counts = []
    for words in (300, 1200):
        context = long_text(words, seed=4)
        enc = pipe.tokenizer("who lived in london?", context, truncation="only_second", max_length=64, stride=16,
                             return_overflowing_tokens=True, return_offsets_mapping=True)
        windows = tasks.base.split_rows(enc, len(enc["input_ids"]))
        found = [(w, *logits) for w, logits in zip(windows, pipe._span_logits(windows))]
        CountingText.calls = 0
        pipe.best_answers(CountingText(context), found, 1, 15, False, True)
        spans = len(found) * 12                                              # top_k * 2 + 10 per window
        counts.append((CountingText.calls, spans))
    print("lower() calls, candidate spans:", counts)
    for calls, spans in counts:
        assert calls <= 2 * spans, counts


# before: every window of a long context computed the word ids of the whole context: quadratic
def test_long_context_windows_are_cut_in_linear_time(monkeypatch):
    from albert_np.tokenization import encoding
    tok = AlbertTokenizerFast.from_pretrained(MLM)
    real, work = encoding.words_from_ids, []

    def counted(ids, starts_word):
        work[-1] += len(ids)
        return real(ids, starts_word)
    monkeypatch.setattr(encoding, "words_from_ids", counted)
    for words in (500, 2000):
        work.append(0)
        enc = tok("who?", long_text(words), truncation="only_second", max_length=64, stride=16,
                  return_overflowing_tokens=True)
        [enc.word_ids(i) for i in range(len(enc["input_ids"]))]
    print("word ids computed for 500 and 2000 words:", work)
    assert work[1] < 5 * work[0], work


# before: all the choices of one prompt ran in one forward pass, whatever batch_size said
def test_choose_runs_batch_size_rows_a_forward_pass(monkeypatch):
    from albert_np.tasks import multiple_choice as mc
    real, rows = mc.head_outputs, []

    def counted(model, batch):
        rows.append(int(np.prod(batch["input_ids"].shape[:-1])))
        return real(model, batch)
    monkeypatch.setattr(mc, "head_outputs", counted)
    choices = [f"the {w} was there" for w in WORDS]                         # 15 choices
    small = tasks.choose("where was it?", choices, model=CHOICE, tokenizer=MLM, batch_size=4)
    assert max(rows) == 4 and sum(rows) == len(choices)
    rows.clear()
    both = tasks.choose(["where was it?", "what was it?"], [choices, choices[:3]], model=CHOICE, tokenizer=MLM,
                        batch_size=64)
    assert rows == [len(choices) + 3]                                       # prompts share a pass
    by_index = [sorted((c["index"], c["score"]) for c in result) for result in (small, both[0])]
    np.testing.assert_allclose(*by_index, atol=1e-6)                        # the same scores either way


# before: the cache evicted models but kept every tokenizer it ever loaded
def test_the_task_cache_keeps_a_bounded_number_of_tokenizers(tmp_path):
    from albert_np.tasks import loading
    loading.clear_cache()
    for i in range(loading.CACHE_SIZE + 3):
        shutil.copytree(MLM, tmp_path / f"tok{i}", ignore=shutil.ignore_patterns("model.safetensors"))
        loading.load_tokenizer(str(tmp_path / f"tok{i}"))
    tokenizers = [k for k in loading._cache if k[0] == "tokenizer"]
    assert len(tokenizers) == loading.CACHE_SIZE
    assert tokenizers[-1][1] == str(tmp_path / f"tok{loading.CACHE_SIZE + 2}")   # the newest kept
