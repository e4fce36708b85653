"""A tiny training run for tests/test_distributed.py, started under mpiexec (or alone).

    mpiexec -n 2 python tests/mpi_script.py pretrain OUT --steps 4 --batch-size 4
    mpiexec -n 2 python tests/mpi_script.py finetune OUT --model FOLDER --steps 4 --batch-size 8

A pretraining run resumes from OUT's newest checkpoint. Rank 0 writes the final
weights to OUT/final.npz. Faults for the tests: --fail raise|kill makes rank
--fail-rank raise an error (or SIGKILL itself) in step --fail-step;
--perturb shifts one weight on rank 1 before training; --rank1-labels / --rank1-examples give
rank 1 other labels / other data (finetune).
"""
import argparse
import os
import signal
import sys

import numpy as np

TESTS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TESTS)

from albert_np import step  # noqa: E402
from albert_np.training.distributed import world  # noqa: E402
from albert_np.training.checkpoints import latest_checkpoint  # noqa: E402


def inject(args, step_of):
    """Make step.loss_and_grads fail on one rank in one step."""
    real = step.loss_and_grads

    def failing(*a, **k):
        if world().rank == args.fail_rank and step_of() + 1 == args.fail_step:
            if args.fail == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise RuntimeError("injected failure")
        return real(*a, **k)
    step.loss_and_grads = failing


def pretrain(args):
    import test_pretraining
    trainer = test_pretraining.make(args.out, args.steps, dropout=args.dropout, batch_size=args.batch_size,
                                    grad_accum=args.grad_accum, save_every=args.save_every)
    last = latest_checkpoint(args.out)
    if last:
        trainer.load_checkpoint(last)
    if args.perturb and world().rank == 1:
        next(iter(trainer.params.values()))[0] += 1e-3
    if args.fail:
        inject(args, lambda: trainer.step)
    trainer.train()
    return trainer.params


def finetune(args):
    from test_finetuning import SIXTEEN
    from albert_np.training.datasets import get_task
    from albert_np.training.finetuning import finetune
    rank1 = world().rank == 1
    task = get_task("sst2", labels=args.rank1_labels if rank1 and args.rank1_labels else None)
    examples = [{"sentence": s, "label": str(y)} for s, y in SIXTEEN + SIXTEEN[::2]]
    if rank1 and args.rank1_examples:
        examples = examples[:args.rank1_examples]
    length = dict(epochs=args.epochs) if args.epochs else dict(max_steps=args.steps)
    result = finetune(task, args.model, examples, None, args.out, **length,
                      batch_size=args.batch_size, grad_accum=args.grad_accum, group_by_length=False,
                      save_every=args.save_every, learning_rate=1e-3, progress=False, plot=False)
    return result.model.state_dict()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("use", choices=("pretrain", "finetune"))
    p.add_argument("out")
    p.add_argument("--model")
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--grad-accum", type=int, default=1)
    p.add_argument("--save-every", type=int, default=3)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--fail", choices=("raise", "kill"))
    p.add_argument("--fail-rank", type=int, default=1)
    p.add_argument("--fail-step", type=int, default=2)
    p.add_argument("--perturb", action="store_true")
    p.add_argument("--epochs", type=float, default=None, help="finetune: run this many epochs (not --steps)")
    p.add_argument("--rank1-labels", default=None, help="finetune: rank 1 alone reads the labels in this order")
    p.add_argument("--rank1-examples", type=int, default=None, help="finetune: rank 1 alone trains on the first N")
    args = p.parse_args()
    params = pretrain(args) if args.use == "pretrain" else finetune(args)
    if world().is_main:
        np.savez(os.path.join(args.out, "final.npz"), **params)


if __name__ == "__main__":
    main()
