"""Data-parallel gradients: worker processes that each run the backward pass on
a slice of the batch, with parameters and gradients in shared memory.

Why: on a small model, one process with two BLAS threads keeps both cores
busy only part of the time (the second thread waits at every small matrix
product, and OpenBLAS counts that wait as CPU time). Two single-threaded
processes, each on half the rows, get more tokens per CPU-second and per
second of wall time.

One step:

    main      copies the parameters into shared memory, sends shard i to worker i
    worker i  loss_and_grads(shared parameters, shard i) -> its shared gradient buffer
    main      gradient = mean of the workers' gradients; then the optimiser step

The mean of the shard gradients is exactly what gradient accumulation over the
same shards computes in one process (each shard's loss is its own mean).
"""
import multiprocessing as mp
import os
import time
import traceback
from multiprocessing import shared_memory

import numpy as np

from .heads import loss_and_grads
from .params import map_params

__all__ = ["GradientWorkers", "split_rows"]

_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def split_rows(tree, n):
    """A batch (dict of arrays with rows first) cut into n shards of consecutive rows.

    tree: {name: (B, ...) array}; B must be divisible by n. Returns a list of n dicts.
    """
    B = len(next(iter(tree.values())))
    if B % n:
        raise ValueError(f"a batch of {B} rows cannot be split evenly over {n} workers")
    k = B // n
    return [{name: a[i * k:(i + 1) * k] for name, a in tree.items()} for i in range(n)]


def _skeleton(params, names_by_id):
    """The nested layout of params with each array replaced by its name (ties give one name)."""
    return map_params(params, lambda a: names_by_id[id(a)])


def _fill(skeleton, arrays):
    """Inverse of _skeleton: names -> arrays; a name used twice gives the same array object (a tie)."""
    if isinstance(skeleton, dict):
        return {k: _fill(v, arrays) for k, v in skeleton.items()}
    if isinstance(skeleton, list):
        return [_fill(v, arrays) for v in skeleton]
    return arrays[skeleton]


def _views(buf, layout, dtype):
    """{name: array view into the flat shared buffer}; layout: [(name, offset, shape)]."""
    flat = np.ndarray((buf.nbytes // np.dtype(dtype).itemsize,), dtype=dtype, buffer=buf)
    return {name: flat[o:o + int(np.prod(shape))].reshape(shape) for name, o, shape in layout}


def _worker_main(conn, config, head, skeleton, layout, dtype, params_name, grads_name):
    """Worker loop: receive (inputs, labels, seed), write gradients, reply (loss, argmaxes, cpu s)."""
    shms = [shared_memory.SharedMemory(name=params_name), shared_memory.SharedMemory(name=grads_name)]
    try:
        params = _fill(skeleton, _views(shms[0].buf, layout, dtype))
        grads_out = _views(shms[1].buf, layout, dtype)
        conn.send(("ready", time.process_time()))       # start-up CPU (imports) counts too
        while True:
            try:
                msg = conn.recv()
            except EOFError:                     # the main process is gone
                return
            if msg is None:
                return
            inputs, labels, seed = msg
            t0 = time.process_time()
            try:
                loss, out, grads = loss_and_grads(params, config, head, inputs, labels,
                                                  rng=np.random.default_rng(seed), training=True)
                for name, g in grads.items():
                    grads_out[name][...] = g
                # argmax, not logits: the (B, P, V) MLM logits would cost more to send than the step
                argmax = {k: v.argmax(-1) for k, v in out.items() if isinstance(v, np.ndarray)}
                conn.send(("ok", loss, argmax, time.process_time() - t0))
            except Exception as e:               # report, stay alive for close()
                conn.send(("error", f"{type(e).__name__}: {e}", traceback.format_exc()))
    finally:
        for s in shms:
            s.close()


class GradientWorkers:
    """n worker processes computing loss_and_grads on row shards of each batch.

    model_params: the model's nested params (the workers rebuild this layout,
        ties included, over the shared buffer).
    params: {name: array} as backprop.named_parameters(model_params) gives: the
        arrays the optimiser updates in place, copied to the workers at every call.
    config: AlbertConfig; head: as backprop.loss_and_grads; n: number of workers;
    threads: BLAS threads per worker (1: one core each).
    Use as a context manager, or call close(): it stops the processes and frees
    the shared memory.
    """

    def __init__(self, model_params, params, config, head, n, threads=1):
        if n < 1:
            raise ValueError(f"the number of workers must be >= 1, got {n}")
        dtypes = {a.dtype for a in params.values()}
        if len(dtypes) != 1:
            raise TypeError(f"all parameters must share one dtype for the shared buffer, got {dtypes}")
        self.dtype = dtypes.pop()
        self.params, self.n = params, n
        self.layout, offset = [], 0
        for name, a in params.items():
            self.layout.append((name, offset, a.shape))
            offset += a.size
        nbytes = max(offset * self.dtype.itemsize, 1)
        self._shms, self._procs, self._conns = [], [], []
        try:
            self._shms = [shared_memory.SharedMemory(create=True, size=nbytes) for _ in range(n + 1)]
            self._param_views = _views(self._shms[0].buf, self.layout, self.dtype)
            self._grad_views = [_views(s.buf, self.layout, self.dtype) for s in self._shms[1:]]
            skeleton = _skeleton(model_params, {id(a): name for name, a in params.items()})
            ctx = mp.get_context("spawn")       # never fork a process that runs a data thread
            saved = {v: os.environ.get(v) for v in _THREAD_VARS}
            try:
                for v in _THREAD_VARS:          # a spawned child reads these when NumPy loads
                    os.environ[v] = str(threads)
                for i in range(n):
                    parent, child = ctx.Pipe()
                    p = ctx.Process(target=_worker_main, daemon=True,
                                    args=(child, config, head, skeleton, self.layout, self.dtype,
                                          self._shms[0].name, self._shms[i + 1].name))
                    p.start()
                    child.close()
                    self._procs.append(p)
                    self._conns.append(parent)
            finally:
                for v, old in saved.items():
                    if old is None:
                        os.environ.pop(v, None)
                    else:
                        os.environ[v] = old
            self.startup_cpu_seconds = sum(r[1] for r in self._receive_all())   # or a start-up error
        except BaseException:
            self.close()
            raise

    def _receive_all(self):
        """One reply from every worker (all are read, so the pipes stay in step), then errors raised."""
        replies = []
        for i, conn in enumerate(self._conns):
            try:
                replies.append(conn.recv())
            except EOFError:
                self._procs[i].join(timeout=1)
                p = self._procs[i]
                replies.append(("error", f"the process (pid {p.pid}) died with exit code {p.exitcode}",
                                "(its traceback is printed above; a script that starts workers needs "
                                "its entry point under `if __name__ == \"__main__\":`, because each "
                                "worker re-imports the main module)"))
        for i, msg in enumerate(replies):
            if msg[0] == "error":
                raise RuntimeError(f"data-parallel worker {i} failed: {msg[1]}\n{msg[2]}")
        return replies

    def loss_and_grads(self, shards, seeds):
        """Run shard i on worker i. shards: n (inputs, labels) pairs; seeds: n ints (dropout).

        Returns (mean loss, [argmax outputs per shard], mean gradients {name: array},
        CPU seconds the workers spent).
        """
        if len(shards) != self.n or len(seeds) != self.n:
            raise ValueError(f"need {self.n} shards and seeds, got {len(shards)} and {len(seeds)}")
        for name, a in self.params.items():      # the optimiser updated these in place
            self._param_views[name][...] = a
        for conn, (inputs, labels), seed in zip(self._conns, shards, seeds):
            try:
                conn.send((inputs, labels, int(seed)))
            except OSError:                      # a dead worker: _receive_all reports it
                pass
        replies = self._receive_all()
        scale = self.dtype.type(1.0 / self.n)
        grads = {}
        for name in self.params:
            g = self._grad_views[0][name].copy()
            for views in self._grad_views[1:]:
                g += views[name]
            if self.n > 1:
                g *= scale
            grads[name] = g
        losses = [r[1] for r in replies]
        return (float(np.mean(losses)), [r[2] for r in replies], grads,
                float(sum(r[3] for r in replies)))

    def close(self):
        for c in self._conns:
            try:
                c.send(None)
            except OSError:                      # BrokenPipeError included: already gone
                pass
        for p in self._procs:
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()
                p.join()
        for c in self._conns:
            c.close()
        for s in self._shms:
            s.close()
            s.unlink()
        self._conns, self._procs, self._shms = [], [], []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
