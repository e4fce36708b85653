"""save_pretrained publishes a folder as one unit (io.staged_folder).

Whatever happens during a save - SIGKILL at a random moment, a full disk, a second
process saving to the same folder - the folder afterwards holds the old save or
the new one (config.json and model.safetensors from the same save), it loads, the
user's own files in it are kept, and the next save leaves no temporary files behind.
"""
import json
import os
import random
import signal
import subprocess
import time

import numpy as np
import pytest

import albert_np
from albert_np.formats import checkpoint
from albert_np import io
from albert_np.config import AlbertConfig

TOKENIZER = os.path.join(os.path.dirname(__file__), "fixtures", "tokenizer")
MODEL_FILES = ["config.json", "model.safetensors"]
TOKENIZER_FILES = ["special_tokens_map.json", "spiece.model", "tokenizer.json", "tokenizer_config.json"]


def _model(vocab_size=2000, embedding_size=64):
    """About 0.5 MB of weights: a save takes some milliseconds, so kills land inside it."""
    config = AlbertConfig(vocab_size=vocab_size, embedding_size=embedding_size, hidden_size=32,
                          num_hidden_layers=1, num_attention_heads=2, intermediate_size=37,
                          max_position_embeddings=16)
    return albert_np.AlbertForMaskedLM(config)


def _save(model, folder, save_id):
    """A save whose two files both carry `save_id`: in config.json and in every word-embedding weight."""
    model.config.extra["save_id"] = save_id
    model.params["albert"]["embeddings"]["word_embeddings"]["weight"].fill(save_id)
    model.save_pretrained(folder)


def _saved_id(folder):
    """The id of the save in `folder`, after checking that both files come from it and it loads."""
    with open(os.path.join(folder, "config.json")) as f:
        save_id = json.load(f)["save_id"]
    weight = albert_np.AlbertForMaskedLM.from_pretrained(folder).state_dict()[
        "albert.embeddings.word_embeddings.weight"]
    assert np.all(weight == save_id), f"config.json of save {save_id}, weights of save {weight.flat[0]}"
    return save_id


def _leftovers(parent):
    return [e for e in os.listdir(parent) if io.STAGE_TAG in e]


def _in_child(fn):
    """Run fn() in a forked child (cheap: albert_np is already imported); returns its pid."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            fn()
            code = 0
        finally:
            os._exit(code)
    return pid


def test_killed_saves_leave_the_old_or_the_new_save(tmp_path):
    folder = tmp_path / "model"
    model = _model()
    _save(model, folder, 0)
    (folder / "README.md").write_text("the user's notes")
    rng = random.Random(0)
    last, interrupted = 0, 0

    def save_forever(start):
        for i in range(start, start + 10 ** 5):
            _save(model, folder, i)

    # ids up to 21 * 10**5 < 2**24: exact in the float32 weights, so two saves never share an id
    for trial in range(1, 21):
        pid = _in_child(lambda: save_forever(trial * 10 ** 5))
        time.sleep(rng.uniform(0.002, 0.06))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        interrupted += bool(_leftovers(tmp_path))
        save_id = _saved_id(folder)                       # complete, consistent, loadable
        assert save_id == last or save_id // 10 ** 5 == trial
        last = save_id
        assert (folder / "README.md").read_text() == "the user's notes"
    assert interrupted > 0, "no kill landed inside a save: the test proves nothing"
    _save(model, folder, -1)
    assert _leftovers(tmp_path) == [] and _saved_id(folder) == -1
    assert sorted(os.listdir(folder)) == ["README.md", *MODEL_FILES]


def test_two_processes_saving_at_once(tmp_path):
    folder = tmp_path / "model"
    model = _model(vocab_size=500)
    tok = albert_np.AlbertTokenizer.from_pretrained(TOKENIZER)

    def saves(start):
        for i in range(start, start + 8):
            _save(model, folder, i)

    def tokenizer_saves():
        for _ in range(8):
            tok.save_pretrained(folder)

    pids = [_in_child(lambda: saves(100)), _in_child(lambda: saves(200)), _in_child(tokenizer_saves)]
    assert [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids] == [0, 0, 0]
    assert _saved_id(folder) in (107, 207)            # the last save of one of them, whole
    assert sorted(os.listdir(folder)) == sorted(MODEL_FILES + TOKENIZER_FILES)   # no save lost another's
    assert albert_np.AlbertTokenizer.from_pretrained(folder).encode("hello world") == tok.encode("hello world")
    assert _leftovers(tmp_path) == []


def test_disk_full_keeps_the_old_save(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=768k", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode:
        pytest.skip(f"cannot mount a small tmpfs to fill: {r.stderr.decode().strip()}")
    try:
        folder = mnt / "model"
        _save(_model(vocab_size=200), folder, 1)                     # ~60 KB
        (folder / "notes.txt").write_text("mine")
        with pytest.raises(OSError) as e:
            _save(_model(vocab_size=4000), folder, 2)               # ~1 MB: does not fit
        assert "No space left" in str(e.value)
        assert _saved_id(folder) == 1 and (folder / "notes.txt").read_text() == "mine"
        assert _leftovers(mnt) == []                                # cleaned up on the way out
        _save(_model(vocab_size=200), folder, 3)
        assert _saved_id(folder) == 3
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_a_failed_save_changes_nothing(tmp_path, monkeypatch):
    folder = tmp_path / "model"
    model = _model(vocab_size=100)
    _save(model, folder, 1)
    tok = albert_np.AlbertTokenizer.from_pretrained(TOKENIZER)
    tok.save_pretrained(folder)
    before = {n: (folder / n).read_bytes() for n in os.listdir(folder)}

    def boom(*a, **k):
        raise RuntimeError("failed half-way")
    monkeypatch.setattr(checkpoint, "save_state_dict", boom)           # after config.json is written
    with pytest.raises(RuntimeError, match="half-way"):
        _save(model, folder, 2)
    monkeypatch.setattr(albert_np.tokenization.files, "tokenizer_json", boom)   # after spiece.model
    with pytest.raises(RuntimeError, match="half-way"):
        tok.save_pretrained(folder)
    assert {n: (folder / n).read_bytes() for n in os.listdir(folder)} == before
    assert _leftovers(tmp_path) == []


def test_model_and_tokenizer_share_a_folder_and_keep_foreign_files(tmp_path):
    folder = tmp_path / "out"
    (folder / "logs").mkdir(parents=True)
    (folder / "logs" / "run.txt").write_text("step 1")
    (folder / "README.md").write_text("# mine")
    os.symlink("README.md", folder / "link.md")
    model = _model(vocab_size=100)
    _save(model, folder, 5)
    paths = albert_np.AlbertTokenizer.from_pretrained(TOKENIZER).save_pretrained(folder)
    assert sorted(os.path.basename(p) for p in paths) == TOKENIZER_FILES and all(map(os.path.isfile, paths))
    _save(model, folder, 6)
    assert sorted(os.listdir(folder)) == sorted(["README.md", "link.md", "logs", *MODEL_FILES, *TOKENIZER_FILES])
    assert (folder / "logs" / "run.txt").read_text() == "step 1" and os.readlink(folder / "link.md") == "README.md"
    assert _saved_id(folder) == 6
    mode = os.stat(folder).st_mode & 0o777
    os.chmod(folder, 0o750)
    _save(model, folder, 7)
    assert os.stat(folder).st_mode & 0o777 == 0o750                  # the folder's own mode is kept
    os.chmod(folder, mode)


def test_saving_into_the_working_directory(tmp_path, monkeypatch):
    folder = tmp_path / "here"
    folder.mkdir()
    monkeypatch.chdir(folder)
    model = _model(vocab_size=100)
    _save(model, ".", 1)
    _save(model, ".", 2)
    assert os.path.samefile(os.getcwd(), folder) and _saved_id(".") == 2


def test_a_kill_between_the_two_renames_is_repaired(tmp_path):
    """Where the one-step exchange is unsupported: folder -> old, then staging -> folder."""
    folder = tmp_path / "model"
    model = _model(vocab_size=100)
    _save(model, folder, 1)
    os.rename(folder, tmp_path / f".model{io.STAGE_TAG}old-12345")   # killed right after the first rename
    os.mkdir(tmp_path / f".model{io.STAGE_TAG}new-abc")
    (tmp_path / f".model{io.STAGE_TAG}new-abc" / "config.json").write_text("{}")
    with io.staged_folder(folder):        # the next save (here: one that writes nothing) repairs first
        assert _saved_id(folder) == 1
    assert _saved_id(folder) == 1 and _leftovers(tmp_path) == []


def test_saving_into_a_mount_point(tmp_path, caplog):
    """A mount point cannot be renamed: its files are replaced one by one (each atomic), with a warning."""
    mnt = tmp_path / "volume"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode:
        pytest.skip(f"cannot mount a tmpfs: {r.stderr.decode().strip()}")
    try:
        model = _model(vocab_size=100)
        (mnt / "notes.txt").write_text("mine")
        _save(model, mnt, 1)
        _save(model, mnt, 2)
        assert _saved_id(mnt) == 2 and (mnt / "notes.txt").read_text() == "mine"
        assert "replaced one by one" in caplog.text
        assert _leftovers(tmp_path) == [] and _leftovers(mnt) == []
    finally:
        subprocess.run(["umount", str(mnt)], check=False)
