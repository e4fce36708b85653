"""One progress bar for the library: tqdm when it is installed and wanted, else a silent stand-in."""
import sys

__all__ = ["progress_bar"]


class _Silent:
    """What a tqdm bar offers that callers use, doing nothing."""

    def update(self, n=1):
        pass

    def set_postfix(self, *args, **kwargs):
        pass

    def close(self):
        pass


def progress_bar(total, desc, *, initial=0, enabled=None):
    """A tqdm bar on stderr counting to `total`, or a do-nothing stand-in.

    enabled: True, False, or None = only when stderr is a terminal. Without tqdm
    installed the stand-in is returned. Off a terminal (a log file) the bar is
    redrawn at most every 30 s.
    """
    interactive = sys.stderr.isatty()
    if enabled is None:
        enabled = interactive
    if not enabled:
        return _Silent()
    try:
        from tqdm.auto import tqdm      # optional dependency: imported only when a bar is wanted
    except ImportError:
        return _Silent()
    return tqdm(total=total, initial=initial, desc=desc, dynamic_ncols=interactive,
                mininterval=0.5 if interactive else 30.0, file=sys.stderr)
