"""Atomic file writes: a temp file in the same folder, fsync, then os.replace.

A reader never sees a half-written file, and a crash mid-write leaves the old
file in place: nothing a user saved is lost.
"""
import contextlib
import errno
import json
import os
import tempfile


def _current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def make_readable(path, folder=False):
    """Give a temp file (0600) or folder (0700) the permissions a plain open/mkdir would."""
    os.chmod(path, (0o777 if folder else 0o666) & ~_UMASK)


@contextlib.contextmanager
def atomic_open(path, mode="wb", encoding=None):
    """Open a temp file beside `path`; on clean exit it replaces `path` atomically."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, encoding=encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        make_readable(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path, data):
    with atomic_open(path, "wb") as f:
        f.write(data)


def atomic_write_text(path, text):
    with atomic_open(path, "w", encoding="utf-8") as f:
        f.write(text)


def read_json_object(path):
    """A JSON file that must hold an object (config.json, tokenizer_config.json) as a dict."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path} is not valid JSON ({e}): fix or replace that file") from e
    if not isinstance(data, dict):
        raise ValueError(f"{path} should hold a JSON object, got {type(data).__name__}")
    return data


def describe_os_error(e):
    """One line for an OSError the user can act on: what failed, on which file, what to do."""
    name = e.filename if e.filename is not None else "a file"
    hints = {errno.ENOSPC: "the disk is full: free some space or choose another folder (files written "
                           "before are intact)",
             errno.EACCES: "permission denied: choose a folder you can write to, or fix its permissions",
             errno.EROFS: "the file system is read-only: choose another folder",
             errno.EISDIR: "it is a folder: give a file",
             errno.ENOTDIR: "a part of the path is a file, not a folder: give a folder path",
             errno.EEXIST: "it already exists (as a file?): choose another path"}
    return f"{name!s}: {e.strerror or e}; {hints.get(e.errno, 'check the path and try again')}"


def make_temp_dir(parent, prefix):
    """A fresh folder inside `parent` (to be renamed into place when complete), world-readable as mkdir makes it."""
    os.makedirs(parent, exist_ok=True)
    path = tempfile.mkdtemp(prefix=prefix, dir=parent)
    make_readable(path, folder=True)
    return path
