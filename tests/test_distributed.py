"""distributed.py: `mpiexec -n 2` computes what one process with --grad-accum 2 computes;
a killed job resumes (with the same or another number of ranks); a failing or killed
rank ends the job quickly with a clear message; bad batch sizes fail clearly; without
mpiexec mpi4py is never imported.

The mpiexec tests run tests/mpi_script.py (a tiny model, a few steps) and skip when
mpi4py (the `mpi` extra) is not installed.
"""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from albert_np.training import distributed

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "tests", "mpi_script.py")
TIMEOUT = 120


def mpiexec():
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return here if os.path.isfile(here) else shutil.which("mpiexec")


try:
    import mpi4py  # noqa: F401
    HAVE_MPI = mpiexec() is not None
except ImportError:
    HAVE_MPI = False
needs_mpi = pytest.mark.skipif(not HAVE_MPI, reason="mpi4py / mpiexec not installed: pip install -e .[mpi]")


def env():
    clean = {k: v for k, v in os.environ.items() if not distributed.launched_by_mpi({k: v})}
    return dict(clean, PYTHONPATH=ROOT, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")


def run(n, *args, timeout=TIMEOUT):
    """Run mpi_script.py on n ranks (n = 0: one plain process). Returns (returncode, output, seconds);
    output: stdout + stderr (mpiexec reports a killed rank on stdout)."""
    cmd = [sys.executable, SCRIPT, *map(str, args)]
    if n:
        cmd = [mpiexec(), "-n", str(n), *cmd]
    t0 = time.monotonic()
    p = subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr, time.monotonic() - t0


def train_log(out):
    with open(os.path.join(out, "log.jsonl"), encoding="utf-8") as f:
        return [e for e in map(json.loads, f) if e["type"] == "train"]


def assert_same_run(a, b, rtol=1e-5):
    """Per-step loss and grad norm, and the final weights, equal to rtol."""
    la, lb = train_log(a), train_log(b)
    assert [e["step"] for e in la] == [e["step"] for e in lb]
    np.testing.assert_allclose([e["loss"] for e in la], [e["loss"] for e in lb], rtol=rtol)
    np.testing.assert_allclose([e["grad_norm"] for e in la], [e["grad_norm"] for e in lb], rtol=rtol)
    assert [e["examples"] for e in la] == [e["examples"] for e in lb]
    with np.load(os.path.join(a, "final.npz")) as wa, np.load(os.path.join(b, "final.npz")) as wb:
        assert sorted(wa.files) == sorted(wb.files)
        for k in wa.files:
            np.testing.assert_allclose(wa[k], wb[k], rtol=rtol, atol=1e-7, err_msg=k)


# ------------------------------------------------------------------ without MPI

def test_one_process_never_imports_mpi4py():
    code = ("import sys, albert_np.__main__, albert_np.training.train, albert_np.training.distributed as d; "
            "assert d.world().size == 1 and 'mpi4py' not in sys.modules, sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], env=env(), check=True, timeout=TIMEOUT)


def test_an_mpi_launch_is_told_by_the_environment():
    assert not distributed.launched_by_mpi({"PATH": "/bin"})
    assert distributed.launched_by_mpi({"PMI_RANK": "0", "PMI_SIZE": "2"})          # MPICH (hydra)
    assert distributed.launched_by_mpi({"OMPI_COMM_WORLD_SIZE": "2"})               # Open MPI


def test_shards_are_contiguous_rows_and_lose_their_own_padding():
    batch = {"input_ids": np.arange(10).reshape(5, 2), "x": None}
    assert [distributed.shard_rows(batch, r, 2)["input_ids"].tolist() for r in (0, 1)] == \
        [[[0, 1], [2, 3]], [[4, 5], [6, 7], [8, 9]]]
    assert len(distributed.shard_rows(batch, 0, 8)["input_ids"]) == 0       # a short last batch
    mask = np.array([[1, 1, 0, 0], [1, 0, 0, 0]])
    inputs = {"input_ids": mask * 7, "attention_mask": mask}
    cut, labels = distributed.trim_padding("token", inputs, {"labels": mask - 1})
    assert cut["input_ids"].tolist() == [[7, 7], [7, 0]] and labels["labels"].shape == (2, 2)
    same, _ = distributed.trim_padding("sequence", {"attention_mask": np.array([[0, 1]])}, {})
    assert same["attention_mask"].tolist() == [[0, 1]]                     # left padding: left alone


class FakeComm:
    def __init__(self, size):
        self.size = size

    def Get_rank(self):
        return 0

    def Get_size(self):
        return self.size


@pytest.mark.parametrize("batch_size, ranks, pattern", [
    (6, 4, r"--batch-size 6 is the global batch, split over the 4 MPI ranks: it must be a multiple of 4"),
    (2, 3, r"--batch-size 2 .* 3 MPI ranks: it has fewer rows than ranks"),
])
def test_a_batch_the_ranks_cannot_share_is_a_clear_error(tmp_path, monkeypatch, batch_size, ranks, pattern):
    import test_pretraining
    monkeypatch.setattr(distributed, "_WORLD", distributed.World(FakeComm(ranks)))
    with pytest.raises(ValueError, match=pattern):
        test_pretraining.make(tmp_path, 2, batch_size=batch_size)


def test_the_workers_option_points_to_mpiexec(capsys):
    from albert_np.__main__ import main
    assert main(["pretrain", "--out", "x", "--tokenizer", "y", "--workers", "4"]) == 2
    assert "--workers is gone: run `mpiexec -n 4 python -m albert_np pretrain ...`" in capsys.readouterr().err


# ------------------------------------------------------------------ under mpiexec

def tiny_model_folder(root):
    """test_finetuning's tiny encoder (dropout 0.1) and tokenizer, as a model folder."""
    from test_finetuning import tiny_model_folder as make
    return make(root)


@needs_mpi
def test_two_ranks_pretrain_as_one_process_accumulating_two_batches(tmp_path):
    """Dropout on: shard s of a step draws its masks from the s-th seed of the run's generator in
    both runs, and a shard has its own padded length, so the runs agree to float32 rounding."""
    mpi, one = tmp_path / "mpi", tmp_path / "one"
    assert run(2, "pretrain", mpi, "--steps", 4, "--batch-size", 4)[0] == 0
    assert run(0, "pretrain", one, "--steps", 4, "--batch-size", 2, "--grad-accum", 2)[0] == 0
    assert_same_run(mpi, one)
    plots = ["curves.png"] if importlib.util.find_spec("matplotlib") else []   # drawn only with matplotlib
    assert sorted(os.listdir(mpi)) == sorted(["checkpoint-3", "checkpoint-4", "final.npz", "log.jsonl"] + plots)


@needs_mpi
def test_two_ranks_finetune_as_one_process_accumulating_two_batches(tmp_path):
    folder = tiny_model_folder(tmp_path / "tiny")
    mpi, one = tmp_path / "mpi", tmp_path / "one"
    code, err, _ = run(2, "finetune", mpi, "--model", folder, "--steps", 4, "--batch-size", 8)
    assert code == 0, err
    assert run(0, "finetune", one, "--model", folder, "--steps", 4, "--batch-size", 4, "--grad-accum", 2)[0] == 0
    assert_same_run(mpi, one)
    assert [e["epoch"] for e in train_log(mpi)] == [0.3333, 0.6667, 1.0, 1.3333]


@needs_mpi
def test_a_killed_rank_ends_the_job_and_it_resumes_with_any_number_of_ranks(tmp_path):
    killed = tmp_path / "killed"
    code, err, seconds = run(2, "pretrain", killed, "--steps", 6, "--dropout", 0, "--fail", "kill",
                             "--fail-step", 5)
    assert code != 0 and seconds < 60, (code, seconds, err)
    assert "BAD TERMINATION" in err and "Killed (signal 9)" in err             # hydra's report
    assert sorted(n for n in os.listdir(killed) if n.startswith("checkpoint")) == ["checkpoint-3"]
    assert os.path.isfile(killed / "checkpoint-3" / "trainer_state.json")
    straight = tmp_path / "straight"
    assert run(0, "pretrain", straight, "--steps", 6, "--dropout", 0, "--batch-size", 2, "--grad-accum", 2)[0] == 0
    for n in (2, 1):                        # the same number of ranks, and another
        out = tmp_path / f"resumed-{n}"
        shutil.copytree(killed, out)
        assert run(n, "pretrain", out, "--steps", 6, "--dropout", 0)[0] == 0
        assert_same_run(out, straight)


@needs_mpi
def test_a_rank_that_raises_ends_the_job_naming_it(tmp_path):
    code, err, seconds = run(2, "pretrain", tmp_path / "r", "--steps", 6, "--fail", "raise", "--fail-step", 2)
    assert code != 0 and seconds < 60, (code, seconds)
    assert "albert_np: error: rank 1 of 2 failed at step 2: RuntimeError: injected failure" in err


@needs_mpi
def test_ranks_with_different_weights_stop_with_a_clear_error(tmp_path):
    code, err, seconds = run(2, "pretrain", tmp_path / "p", "--steps", 2, "--perturb")
    assert code != 0 and seconds < 60
    assert "RankMismatchError: the 2 MPI ranks disagree on ['albert.embeddings.word_embeddings.weight']" in err


# before (92ee381): ranks given other labels trained on with status 0, each rank's model reading its labels
@needs_mpi
def test_ranks_given_different_labels_stop_before_the_first_step(tmp_path):
    folder = tiny_model_folder(tmp_path / "tiny")
    code, err, seconds = run(2, "finetune", tmp_path / "f", "--model", folder, "--steps", 2, "--batch-size", 8,
                             "--rank1-labels", "1,0")
    assert code != 0 and seconds < 60, (code, err[-2000:])
    assert "RankMismatchError: the 2 MPI ranks were started with different config, data (config: rank(s) [1] " \
           "differ from rank 0; data: rank(s) [1] differ from rank 0)" in err
    assert not os.path.exists(tmp_path / "f" / "log.jsonl") or not train_log(tmp_path / "f")   # no step taken


# before: ranks whose data gave different step counts ended in MPICH's "Message truncated"
@needs_mpi
def test_ranks_whose_data_give_different_step_counts_stop_with_a_clear_error(tmp_path):
    folder = tiny_model_folder(tmp_path / "tiny")
    code, err, seconds = run(2, "finetune", tmp_path / "f", "--model", folder, "--epochs", 2, "--batch-size", 8,
                             "--rank1-examples", 8)
    assert code != 0 and seconds < 60, (code, err[-2000:])
    assert "RankMismatchError: the 2 MPI ranks were started with different data, total_steps" in err
    assert "Message truncated" not in err
