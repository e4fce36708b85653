"""Data parallelism over MPI (mpi4py, the optional `mpi` extra): N ranks share every step.

    mpiexec -n 4 python -m albert_np pretrain ...          (one machine)
    mpiexec -f hosts -n 16 python -m albert_np finetune ... (a hostfile: several machines)

--batch-size stays the GLOBAL batch. Every rank reads the same data (the same
stream, the same position), and rank r of N takes rows [r B/N, (r+1) B/N) of each
micro-batch of B rows. One step on rank r:

    for each micro-batch j:   grads += loss_and_grads(its shard (own padding), weights = shard's share of the
                                                         step's loss items, dropout rng (seed, step, j N + r))
    flat = [all gradients (named_parameters order), loss, CPU seconds]      one float32 buffer
    Allreduce(IN_PLACE, flat, SUM)                                         the one collective a step
    the same optimiser step on every rank  ->  identical parameters

Weighting: each loss term is a mean over its items (MLM: masked tokens; SOP and
classification: rows; token tasks: labelled tokens; step.loss_items). A shard's
term is multiplied by (its items / the step's items, over all micro-batches and
ranks), so the SUM over ranks is the gradient one process gets from the whole
step in one batch -- and the same as one process with --grad-accum N on batches
of B/N rows. Every rank sees the whole micro-batch, so the counts need no message.

Dropout: the generator of shard s = j N + r of step t is default_rng([seed, t, s]);
one process with --grad-accum N draws the same streams for its micro-batches, so
the two runs agree with dropout on too.

Checks and faults: before the first step the ranks compare what defines the run (the
settings, the model's config and labels, the run's length and the data's fingerprint:
World.check_same_run, one allgather of digests); ranks started with other labels or data
stop with RankMismatchError naming what differs. Every CHECK_EVERY steps (and at the
start, and before each checkpoint) the ranks compare a checksum of the parameters (the float64 sum of
each parameter, and the step) with one small Allreduce of MAX over (c, -c); a
mismatch stops every rank with the same error. A rank that raises prints
"rank r of N failed at step t: <error>" and calls MPI Abort, which ends the whole
job (mpiexec kills the other ranks). A rank killed outright (SIGKILL) is noticed
by mpiexec, which ends the job too.

Without mpiexec (no PMI_* / OMPI_* / HYDRA_* variables in the environment),
`world()` is one process and mpi4py is never imported.
"""
import hashlib
import json
import os
import sys
import traceback

import numpy as np

__all__ = ["World", "world", "launched_by_mpi", "shard_rows", "trim_padding", "RankMismatchError", "CHECK_EVERY"]

CHECK_EVERY = 50
# Set by the MPI launchers on every rank: MPICH/Hydra (PMI_*, HYDRA_*), Open MPI (OMPI_*), PMIx.
_LAUNCH_VARS = ("PMI_RANK", "PMI_SIZE", "PMIX_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK",
                "HYDRA_CONTROL_FD", "MPI_LOCALNRANKS")


class RankMismatchError(RuntimeError):
    """The ranks' parameters (or steps) differ: data parallelism broke; the job stops."""


def launched_by_mpi(environ=None):
    """True when an MPI launcher (mpiexec) started this process."""
    environ = os.environ if environ is None else environ
    return any(k in environ for k in _LAUNCH_VARS)


def shard_rows(tree, rank, size):
    """Rank `rank`'s contiguous share of a batch: rows [rank B // size, (rank + 1) B // size).

    tree: {name: (B, ...) array or None}. Shards differ by at most a row (a short last
    batch of an epoch); a shard may be empty when B < size.
    """
    B = len(next(v for v in tree.values() if v is not None))
    lo, hi = rank * B // size, (rank + 1) * B // size
    return {k: (None if v is None else v[lo:hi]) for k, v in tree.items()}


def trim_padding(head, inputs, labels):
    """A shard without the padding columns its own rows do not need (right padding).

    The batch was padded to its longest row; a shard's rows may be shorter. Cut to the
    shard's longest row, a shard is exactly the batch one process with --grad-accum N
    collates from the same rows: the same numbers, the same dropout masks (their shape
    includes T), and less work. Token-level labels (heads "token" and "mlm") are cut too.
    """
    mask = inputs.get("attention_mask")
    if mask is None or mask.ndim < 2 or mask.size == 0:
        return inputs, labels
    T = mask.shape[-1]
    keep = int(mask.reshape(-1, T).sum(-1).max())
    if keep == T or np.any(mask[..., keep:]):   # nothing to cut, or not right padding
        return inputs, labels

    def cut(a):
        return a[..., :keep] if isinstance(a, np.ndarray) and a.ndim >= 2 and a.shape[-1] == T else a
    inputs = {k: cut(v) for k, v in inputs.items()}
    if head in ("token", "mlm") and "labels" in labels:
        labels = dict(labels, labels=cut(labels["labels"]))
    return inputs, labels


class World:
    """The ranks of this job: rank, size, and the few collectives the loop uses.

    comm: an mpi4py communicator, or None for one process (every collective is then a no-op).
    """

    def __init__(self, comm=None):
        self.comm = comm
        self.rank = comm.Get_rank() if comm is not None else 0
        self.size = comm.Get_size() if comm is not None else 1
        self.is_main = self.rank == 0

    def allreduce_sum_(self, buf):
        """Sum the float32 buffer over the ranks, in place (a ring or tree allreduce inside MPI)."""
        if self.size > 1:
            from mpi4py import MPI          # already imported by world(): a dictionary lookup
            self.comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
        return buf

    def gather(self, obj):
        """[obj of each rank] on rank 0 (None on the others); [obj] alone."""
        return self.comm.gather(obj, root=0) if self.size > 1 else [obj]

    def bcast(self, obj):
        """Rank 0's obj on every rank."""
        return self.comm.bcast(obj, root=0) if self.size > 1 else obj

    def check_same(self, params, step):
        """Raise RankMismatchError on every rank when the ranks' parameters or steps differ.

        Checksum: (step, float64 sum of each parameter); one Allreduce MAX of (c, -c) gives
        each entry's maximum and minimum over the ranks.
        """
        if self.size == 1:
            return
        from mpi4py import MPI
        names = list(params)
        c = np.array([step] + [float(params[k].sum(dtype=np.float64)) for k in names])   # float64 ok: a checksum, not maths
        both = np.concatenate([c, -c])
        self.comm.Allreduce(MPI.IN_PLACE, both, op=MPI.MAX)
        hi, lo = both[:len(c)], -both[len(c):]
        bad = np.flatnonzero(hi != lo)
        if len(bad):
            what = ["step" if i == 0 else names[i - 1] for i in bad[:5]]
            raise RankMismatchError(
                f"the {self.size} MPI ranks disagree on {what} (min {lo[bad[0]]!r}, max {hi[bad[0]]!r}): "
                f"every rank must start from the same weights and checkpoint (put --out on a folder "
                f"all ranks see) and run the same code and settings")

    def check_same_run(self, parts):
        """Raise RankMismatchError on every rank when the ranks disagree on any of `parts`.

        parts: {name: JSON-able value} (the settings, the model's config and labels, the run's
        length, the data's fingerprint: Trainer.run_identity). Called before the first step:
        ranks given other labels or data would otherwise train on, or meet in collectives of
        different sizes (MPI "Message truncated"). One allgather of a digest per part.
        """
        if self.size == 1:
            return
        mine = {k: hashlib.sha256(json.dumps(v, sort_keys=True, default=str).encode()).hexdigest()
                for k, v in parts.items()}
        everyone = self.comm.allgather(mine)
        differ = sorted({k for d in everyone for k in set(d) | set(mine) if d.get(k) != mine.get(k)})
        if differ:
            ranks = {k: [r for r, d in enumerate(everyone) if d.get(k) != everyone[0].get(k)] for k in differ}
            raise RankMismatchError(
                f"the {self.size} MPI ranks were started with different " + ", ".join(differ)
                + " (" + "; ".join(f"{k}: rank(s) {ranks[k]} differ from rank 0" for k in differ) + "): "
                "every rank must run the same command on the same data (files all ranks see), "
                "with the same settings and labels")

    def abort(self, exc, step):
        """Print which rank failed and why, then end the whole job (MPI Abort); never returns."""
        msg = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        sys.stderr.write(f"{msg}albert_np: error: rank {self.rank} of {self.size} failed at step {step}: "
                         f"{type(exc).__name__}: {exc}\n")
        sys.stderr.flush()
        self.comm.Abort(1)
        os._exit(1)                         # not reached: MPI Abort ends the process


_WORLD = None


def world():
    """The job's World: MPI.COMM_WORLD when mpiexec started us, else one process (no mpi4py import)."""
    global _WORLD
    if _WORLD is None:
        if not launched_by_mpi():
            _WORLD = World()
        else:
            try:
                from mpi4py import MPI      # optional: the `mpi` extra
            except ImportError as e:
                raise ImportError("this process was started by mpiexec, but mpi4py is not installed: "
                                  "pip install 'albert_np[mpi]' (mpi4py + mpich)") from e
            _WORLD = World(MPI.COMM_WORLD if MPI.COMM_WORLD.Get_size() > 1 else None)
    return _WORLD
