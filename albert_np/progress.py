"""One progress bar for the whole library: the task pipelines' long lists and the training loops.

    bar = progress_bar(len(items), "fill-mask")            # enabled=None: shown for long lists only
    bar = progress_bar(total_steps, "pretrain", initial=step, enabled=args.progress)
    bar.update(n); bar.set_postfix(loss=...); bar.close()

The bar is tqdm's (on standard error), or a stand-in that does nothing when the
bar is disabled or tqdm is not installed, so callers never test for None.
"""
import sys

PROGRESS_MIN_ITEMS = 64           # enabled=None shows a bar for totals at least this large


class SilentBar:
    """Does nothing; has the tqdm methods the library calls."""

    def update(self, n=1):
        pass

    def set_postfix(self, *args, **kwargs):
        pass

    def close(self):
        pass


def progress_bar(total, desc, *, initial=0, enabled=None):
    """A tqdm bar counting to `total`, or a SilentBar.

    Args:
        total: the count at which the work is done (inputs, steps).
        desc: the bar's label.
        initial: the count already done (a resumed run).
        enabled: True / False to force the bar on / off; None ("auto") shows it
            when total >= PROGRESS_MIN_ITEMS, so that short lists stay quiet.
    On a terminal the bar redraws every 0.5 s; redirected to a file or a log, every
    30 s, so that the log is not flooded.
    """
    show = total >= PROGRESS_MIN_ITEMS if enabled is None else bool(enabled)
    if not show:
        return SilentBar()
    try:
        # imported here, not at the top: tqdm.auto takes ~40 ms to import (-X importtime),
        # a tenth of the 0.5 s cold-start budget, and most calls draw no bar
        from tqdm.auto import tqdm
    except ImportError:                 # tqdm comes with huggingface_hub; be safe anyway
        return SilentBar()
    interactive = sys.stderr.isatty()
    return tqdm(total=total, initial=initial, desc=desc, dynamic_ncols=interactive,
                mininterval=0.5 if interactive else 30.0, file=sys.stderr)
