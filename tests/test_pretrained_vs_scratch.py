"""tests/benchmarks/pretrained_vs_scratch.py: the seed sweep and its table.

Mean, std and difference against values computed by hand on fake result files; runs with
different settings, different pretrained weights or missing seeds are refused; a tiny real run
(a few dozen rows, 3 steps) writes result.json for both inits, identical except for init and
weights; a finished run is skipped, a changed one refused.
"""
import hashlib
import importlib.util
import json
import math
import os
import sys

import numpy as np
import pytest

from albert_np.formats import checkpoint
from albert_np.training import datasets
from albert_np.config import AlbertConfig
from albert_np.modeling import AlbertForPreTraining

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from test_features import make_tokenizer  # noqa: E402


def load_script():
    path = os.path.join(HERE, "benchmarks", "pretrained_vs_scratch.py")
    spec = importlib.util.spec_from_file_location("pretrained_vs_scratch", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pvs = load_script()

# --------------------------------------------------------------------------- fake result files

SETTINGS = {"task": None, "finetune": {"learning_rate": 3e-4, "batch_size": 32}, "limit_train": 20000,
            "limit_dev": None, "config_sha256": "c0nf1g", "tokenizer": {"spiece_sha256": "t0k"},
            "data": {"train": {"file": "train.tsv", "bytes": 10}, "dev": {"file": "dev.tsv", "bytes": 5}}}


def write_fake(out, init, task, seed, value, settings=None, weights="w31ghts", commit="abc"):
    settings = dict(SETTINGS, task=task, **(settings or {}))
    model = {"weights_sha256": weights} if init == "pretrained" else {"config_sha256": "c0nf1g"}
    key = pvs.METRICS[task][0][0]
    record = {"fingerprint": {"settings": settings, "init": init, "seed": seed, "model": model,
                              "code": {"albert_np_commit": commit, "dirty": False}},
              "metrics": {key: value}, "cpu_seconds": 60.0 * (seed + 1), "wall_seconds": 1.0}
    folder = pvs.run_dir(str(out), init, task, seed)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "result.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(record, f)
    return path


FAKE = {("sst2", "scratch"): [0.70, 0.72, 0.74], ("sst2", "pretrained"): [0.75, 0.76, 0.80],
        ("wnut17", "scratch"): [0.10, 0.12, 0.14], ("wnut17", "pretrained"): [0.13, 0.15, 0.17]}


def write_all_fake(out):
    for (task, init), values in FAKE.items():
        for seed, v in enumerate(values):
            write_fake(out, init, task, seed, v)


def test_mean_std_and_difference_by_hand(tmp_path):
    write_all_fake(tmp_path)
    s = pvs.summarise(str(tmp_path), ["sst2", "wnut17"], [0, 1, 2])
    sst2, = s["tasks"]["sst2"]["rows"]
    # scratch 70, 72, 74: mean 72, sample std sqrt((4 + 0 + 4) / 2) = 2
    assert sst2["scratch"]["mean"] == pytest.approx(72.0, abs=1e-9)
    assert sst2["scratch"]["std"] == pytest.approx(2.0, abs=1e-9)
    # pretrained 75, 76, 80: mean 77, deviations -2, -1, 3: std sqrt(14 / 2) = sqrt(7)
    assert sst2["pretrained"]["mean"] == pytest.approx(77.0, abs=1e-9)
    assert sst2["pretrained"]["std"] == pytest.approx(math.sqrt(7), abs=1e-9)
    assert sst2["difference"] == pytest.approx(5.0, abs=1e-9) and sst2["reaches_threshold"] is True
    wnut, = s["tasks"]["wnut17"]["rows"]
    # F1 12 +- 2 vs 15 +- 2: a difference of exactly 3 points counts (float noise aside)
    assert wnut["difference"] == pytest.approx(3.0, abs=1e-9) and wnut["reaches_threshold"] is True
    assert wnut["scratch"]["cpu_seconds"] == [60.0, 120.0, 180.0]
    table = pvs.format_table(s)
    assert "| sst2 | accuracy | 72.0 ± 2.0 | 77.0 ± 2.6 | +5.0 | yes | 2.0 / 2.0 |" in table
    assert "| wnut17 | entity F1 | 12.0 ± 2.0 | 15.0 ± 2.0 | +3.0 | yes |" in table


def test_below_threshold_is_no(tmp_path):
    write_all_fake(tmp_path)
    write_fake(tmp_path, "pretrained", "wnut17", 2, 0.16)           # 13, 15, 16: mean 14.67
    row, = pvs.summarise(str(tmp_path), ["wnut17"], [0, 1, 2])["tasks"]["wnut17"]["rows"]
    assert row["difference"] == pytest.approx(44 / 3 - 12, abs=1e-9) and row["reaches_threshold"] is False


def test_table_cli_writes_json(tmp_path, capsys):
    write_all_fake(tmp_path)
    summary = tmp_path / "summary.json"
    assert pvs.main(["--table", "--tasks", "sst2", "wnut17", "--out", str(tmp_path), "--json", str(summary)]) == 0
    assert "| sst2 | accuracy | 72.0 ± 2.0 |" in capsys.readouterr().out
    data = json.loads(summary.read_text())
    assert data["tasks"]["sst2"]["rows"][0]["pretrained"]["values"] == pytest.approx([75.0, 76.0, 80.0])
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_different_settings_are_refused(tmp_path):
    write_all_fake(tmp_path)
    odd = write_fake(tmp_path, "scratch", "sst2", 1, 0.72, settings={"finetune": {"learning_rate": 1e-4,
                                                                                   "batch_size": 32}})
    with pytest.raises(ValueError, match=r"(?s)different settings.*finetune\.learning_rate") as e:
        pvs.summarise(str(tmp_path), ["sst2"], [0, 1, 2])
    assert odd in str(e.value)
    write_fake(tmp_path, "scratch", "sst2", 1, 0.72)                 # put it right: compared again
    write_fake(tmp_path, "pretrained", "sst2", 2, 0.80,
               settings={"data": {"train": {"file": "train.tsv", "bytes": 11}, "dev": SETTINGS["data"]["dev"]}})
    with pytest.raises(ValueError, match=r"data\.train\.bytes"):
        pvs.summarise(str(tmp_path), ["sst2"], [0, 1, 2])
    # ... and through the CLI: exit code 2, the files named on stderr
    assert pvs.main(["--table", "--tasks", "sst2", "--out", str(tmp_path)]) == 2


def test_different_pretrained_weights_are_refused(tmp_path, capsys):
    write_all_fake(tmp_path)
    odd = write_fake(tmp_path, "pretrained", "wnut17", 1, 0.15, weights="0ther")
    assert pvs.main(["--table", "--tasks", "wnut17", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "different pretrained weights" in err and odd in err


def test_missing_seeds_are_refused(tmp_path):
    write_all_fake(tmp_path)
    with pytest.raises(ValueError, match="missing") as e:
        pvs.summarise(str(tmp_path), ["sst2"], [0, 1, 2, 3])
    msg = str(e.value)
    assert os.path.join("scratch-sst2-seed3", "result.json") in msg
    assert os.path.join("pretrained-sst2-seed3", "result.json") in msg
    assert "seed2" not in msg


def test_a_result_file_in_the_wrong_folder_is_refused(tmp_path):
    write_all_fake(tmp_path)
    src = os.path.join(pvs.run_dir(str(tmp_path), "scratch", "sst2", 0), "result.json")
    dst = os.path.join(pvs.run_dir(str(tmp_path), "pretrained", "sst2", 0), "result.json")
    with open(src, encoding="utf-8") as f, open(dst, "w", encoding="utf-8") as g:
        g.write(f.read())
    with pytest.raises(ValueError, match=r"holds the run \(init, task, seed\) = \('scratch'"):
        pvs.summarise(str(tmp_path), ["sst2"], [0, 1, 2])


# --------------------------------------------------------------------------- a tiny real run

def tiny_data(root):
    """SST-2 files in the shared-data layout: 32 train rows, 16 dev rows."""
    files = datasets.TASKS["sst2"].files
    rng = np.random.default_rng(0)
    good, bad = ("good", "great", "fine", "brilliant", "funny"), ("bad", "awful", "dull", "boring", "terrible")
    rows = []
    for i in range(48):
        label = i % 2
        adjective = rng.choice(good if label else bad)
        rows.append(f"a {adjective} film with a {rng.choice(good + bad)} cast\t{label}")
    for rel, part in zip(files, (rows[:32], rows[32:])):
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write("sentence\tlabel\n" + "\n".join(part) + "\n")
    return str(root)


def tiny_pretrained(root):
    """A tiny 'pretrained' checkpoint (random AlbertForPreTraining, MLM + SOP heads) + tokenizer."""
    os.makedirs(root, exist_ok=True)
    tok = make_tokenizer(str(root))
    config = AlbertConfig(vocab_size=tok.vocab_size, embedding_size=16, hidden_size=32, num_hidden_layers=2,
                          num_attention_heads=2, intermediate_size=64, max_position_embeddings=64,
                          hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
    path = os.path.join(root, "model")
    AlbertForPreTraining(config, seed=123).save_pretrained(path)
    tok.save_pretrained(path)
    return path


TINY = dict(limit_train=24, limit_dev=16, epochs=1, batch_size=8, learning_rate=1e-3, max_length=32)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """Both inits run through the CLI on the tiny data: (out, model, data_dir)."""
    root = tmp_path_factory.mktemp("pvs")
    data_dir, model = tiny_data(root / "data"), tiny_pretrained(root / "ckpt")
    out = str(root / "out")
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(pvs.SETTINGS, "sst2", TINY)
        mp.setitem(pvs.SETTINGS, "sst2_2k", dict(TINY, limit_train=8, epochs=2))
        mp.setitem(pvs.OUTPUT, "plot", False)
        for init in ("scratch", "pretrained"):
            assert pvs.main(["--init", init, "--tasks", "sst2", "sst2_2k", "--seeds", "0", "--model", model,
                             "--data-dir", data_dir, "--out", out]) == 0
    return out, model, data_dir


def test_tiny_run_writes_both_results_identical_but_for_the_weights(sweep):
    out, model, _ = sweep
    rec = {i: pvs.read_result(os.path.join(pvs.run_dir(out, i, "sst2", 0), "result.json")) for i in pvs.INITS}
    fp = {i: r["fingerprint"] for i, r in rec.items()}
    assert pvs.differences(fp["scratch"], fp["pretrained"]) == ["init", "model.config_sha256",
                                                                "model.weights_files", "model.weights_sha256"]
    assert fp["pretrained"]["model"]["weights_sha256"] == hashlib.sha256(open(os.path.join(model, "model.safetensors"), "rb").read()).hexdigest()
    s = fp["scratch"]["settings"]
    assert s["task"] == "sst2" and s["limit_train"] == 24 and s["limit_dev"] == 16
    assert s["finetune"]["learning_rate"] == 1e-3 and s["finetune"]["max_length"] == 32
    assert s["finetune"]["max_grad_norm"] == 1.0                   # library defaults are fingerprinted too
    assert s["data"]["train"]["bytes"] == os.path.getsize(os.path.join(sweep[2], "glue", "SST-2", "train.tsv"))
    assert fp["scratch"]["seed"] == 0 and "albert_np_commit" in fp["scratch"]["code"]
    for r in rec.values():
        assert r["steps"] == 3 and 0.0 <= r["metrics"]["accuracy"] <= 1.0
        assert r["cpu_seconds"] > 0 and r["wall_seconds"] > 0
    assert rec["pretrained"]["newly_initialised"] == ["classifier.bias", "classifier.weight"]
    assert pvs.summarise(out, ["sst2"], [0])["tasks"]["sst2"]["rows"][0]["pretrained"]["std"] is None


def test_low_resource_sst2_reads_sst2_data_limited_and_is_its_own_comparison(sweep):
    out, _, data_dir = sweep
    full, low = (pvs.read_result(os.path.join(pvs.run_dir(out, "scratch", t, 0), "result.json")) for t in
                 ("sst2", "sst2_2k"))
    assert low["fingerprint"]["settings"]["task"] == "sst2_2k"
    assert low["fingerprint"]["settings"]["data"] == full["fingerprint"]["settings"]["data"]   # the same files
    assert low["fingerprint"]["settings"]["limit_train"] == 8
    assert low["steps"] == 2 * 1 and full["steps"] == 3      # 8 rows / batch 8 = 1 step a epoch, 2 epochs
    assert set(pvs.summarise(out, ["sst2", "sst2_2k"], [0])["tasks"]) == {"sst2", "sst2_2k"}


def test_build_model_same_head_different_encoder(sweep):
    _, model, _ = sweep
    task = datasets.get_task("sst2")
    scratch, _, _ = pvs.build_model("scratch", task, 5, model)
    pre, _, _ = pvs.build_model("pretrained", task, 5, model)
    ckpt, _ = checkpoint.load_state_dict(model)
    a, b = scratch.state_dict(), pre.state_dict()
    assert set(a) == set(b)
    for k in a:
        if k.startswith("albert."):
            np.testing.assert_array_equal(b[k], ckpt[k])            # the checkpoint's encoder
            if a[k].ndim == 2:                                           # the matrices: random draws
                assert not np.array_equal(a[k], b[k]), k             # random in scratch
        else:
            np.testing.assert_array_equal(a[k], b[k])                # the head: the seed's draw in both
    other, _, _ = pvs.build_model("scratch", task, 6, model)
    assert not np.array_equal(other.state_dict()["classifier.weight"], a["classifier.weight"])


def test_finished_run_is_skipped_changed_run_refused(sweep, monkeypatch, capsys):
    out, model, data_dir = sweep
    path = os.path.join(pvs.run_dir(out, "scratch", "sst2", 0), "result.json")
    before = open(path, encoding="utf-8").read()

    calls = []

    def no_training(*args, **kwargs):
        calls.append((args, kwargs))
        raise AssertionError("a finished run was trained again")
    import albert_np.training.finetuning
    monkeypatch.setattr(albert_np.training.finetuning, "finetune", no_training)
    monkeypatch.setitem(pvs.SETTINGS, "sst2", TINY)
    def args(seed):
        return ["--init", "scratch", "--tasks", "sst2", "--seeds", str(seed), "--model", model,
                "--data-dir", data_dir, "--out", out]
    assert pvs.main(args(0)) == 0
    assert "skip scratch sst2 seed 0" in capsys.readouterr().out
    assert open(path, encoding="utf-8").read() == before
    with pytest.raises(AssertionError, match="trained again"):    # a new seed does run
        pvs.main(args(1))
    (task, net, *_), kwargs = calls[0]                              # seed 1 drives the fine-tuning ...
    assert task.name == "sst2" and kwargs["seed"] == 1
    seeded, _, _ = pvs.build_model("scratch", task, 1, model)       # ... and the weights
    np.testing.assert_array_equal(net.state_dict()["classifier.weight"], seeded.state_dict()["classifier.weight"])
    monkeypatch.setitem(pvs.SETTINGS, "sst2", dict(TINY, learning_rate=2e-3))
    assert pvs.main(args(0)) == 2
    err = capsys.readouterr().err
    assert path in err and "finetune.learning_rate" in err
    assert open(path, encoding="utf-8").read() == before


def test_the_version_stamp_of_an_export_does_not_change_the_config_hash():
    plain = AlbertConfig(vocab_size=100, hidden_size=32, num_attention_heads=2, intermediate_size=64)
    stamped = AlbertConfig.from_dict({**plain.to_dict(), "albert_np_model_version": "2.0.0", "weights_sha256": "ab"})
    assert stamped.to_dict()["weights_sha256"] == "ab"
    assert pvs.config_hash(stamped) == pvs.config_hash(plain)
    assert pvs.config_hash(AlbertConfig.from_dict({**plain.to_dict(), "hidden_dropout_prob": 0.2})) != pvs.config_hash(plain)
