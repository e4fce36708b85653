"""Atomic writes: of one file (atomic_open), and of a whole folder (staged_folder).

One file: a temp file in the same folder, fsync, then os.replace. A reader never
sees a half-written file, and a crash mid-write leaves the old file in place.

A folder (a model's config.json + model.safetensors, a tokenizer's four files)
is written by staged_folder: see its docstring.
"""
import contextlib
import errno
import fnmatch
import hashlib
import json
import logging
import os
import shutil
import stat
import tempfile

logger = logging.getLogger(__name__)


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


def file_sha256(path):
    """The sha256 hex digest of a file's bytes (what `sha256sum` prints), read 1 MiB at a time."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_text(path, encoding="utf-8"):
    """The text of a file, decoded as UTF-8 (a byte-order mark dropped with encoding "utf-8-sig").

    A file that is not UTF-8 raises ValueError naming it, the line and the byte offset, and
    what to do (Python's UnicodeDecodeError names neither the file nor the line).
    """
    with open(path, "rb") as f:
        data = f.read()
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise ValueError(f"{path}, line {line} (byte {e.start}), is not UTF-8 text ({e.reason}: "
                         f"{data[e.start:e.start + 4]!r}): convert the file to UTF-8 (e.g. iconv -t UTF-8)") from None


def parse_json(text, where):
    """json.loads, its errors raised as ValueError naming `where` (a file, or a file and a line).

    Deeply nested JSON ([[[[...]]]] thousands deep) makes Python's parser raise RecursionError,
    caught here too: no JSON file albert_np reads nests deeper than a few levels.
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{where} is not valid JSON ({e}): fix or replace it") from e
    except RecursionError:
        raise ValueError(f"{where} nests its JSON too deeply for Python's parser (thousands of levels): "
                         f"it is damaged or not the file it should be; fix or replace it") from None


def read_json(path):
    """The value of a JSON file (UTF-8); ValueError naming the file when it is not UTF-8 JSON."""
    return parse_json(read_text(path), path)


def read_json_object(path):
    """A JSON file that must hold an object (config.json, tokenizer_config.json) as a dict."""
    data = read_json(path)
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


# ---------------------------------------------------------------- whole folders
STAGE_TAG = ".albert_np-"          # in the names of staging / swapped-out siblings: .<name>.albert_np-new-XXXX


@contextlib.contextmanager
def staged_folder(folder, replaces=()):
    """Yield an empty staging folder; on clean exit it becomes `folder`, as one unit.

    replaces: file-name patterns (fnmatch) of files that this save owns: those of an earlier
    save are not carried over (a model saved in shards over one saved whole leaves no stale
    model.safetensors behind). Every other file of `folder` is kept (step 1).

    Why a folder and not file by file: a save writes several files (config.json
    and model.safetensors) that only make sense together. Renaming each into
    place is atomic per file, but a kill between two renames leaves a new
    config beside old weights. So the caller writes everything into a sibling
    folder `.<name>.albert_np-new-XXXX`, and then:

    1. files of `folder` that this save does not write (a tokenizer's files
       beside a model's, a user's README, ...) are hard-linked (copied where
       links fail) into the staging folder: albert_np never deletes them;
    2. every file and the folder are fsync'ed (the data is on disk before the
       rename that publishes it);
    3. the staging folder and `folder` are exchanged in one step
       (renameat2 RENAME_EXCHANGE, Linux); the old folder, now under the
       staging name, is deleted. Where the exchange is unsupported, two
       renames (folder -> .albert_np-old-, staging -> folder) are used, and a
       kill between them is repaired by the next save (the old folder is put back);
    4. saves to the same parent folder are serialised by an flock on the parent,
       so two processes saving at once each publish a complete folder, the
       second on top of the first (no lost or mixed files);
    5. staging folders left by killed processes are deleted by the next save
       (under the lock, so none of them belongs to a live save), and on any
       error (a full disk) the staging folder is deleted before re-raising.

    A reader therefore sees the old folder or the new one, never a mixture.
    Where no sibling can be made (an unwritable parent) or `folder` cannot be
    renamed (a mount point), the files are renamed into `folder` one by one:
    each file is still atomic but not the set, and a warning says so.
    """
    final = os.path.realpath(os.fspath(folder))
    parent, name = os.path.split(final)
    os.makedirs(parent, exist_ok=True)
    with _parent_lock(parent):
        _clean_leftovers(parent, name)
        try:
            if os.path.ismount(final):
                raise OSError(errno.EBUSY, "a mount point cannot be renamed")
            tmp = tempfile.mkdtemp(prefix=f".{name}{STAGE_TAG}new-", dir=parent)
        except OSError as e:                       # stage inside the folder instead
            logger.warning("cannot swap a new %s in (%s): its files are replaced one by one, "
                           "each atomically but not as a set", final, e)
            yield from _stage_inside(final, replaces)
            return
        try:
            yield tmp
            _publish(tmp, final, replaces)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)   # gone after _publish; the old folder if swapped


def _replaced(name, replaces):
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in replaces)


def _publish(tmp, final, replaces=()):
    """Carry over the files of `final` that `tmp` lacks (not those `replaces` names), fsync, and
    swap `tmp` in for `final`."""
    exists = os.path.isdir(final)
    if exists:
        _link_missing(final, tmp, skip=replaces)
        os.chmod(tmp, os.stat(final).st_mode & 0o7777)
    else:
        make_readable(tmp, folder=True)
    _fsync_tree(tmp)
    if not exists:
        os.rename(tmp, final)
    elif not exchange_paths(tmp, final):
        old = os.path.join(os.path.dirname(final), f".{os.path.basename(final)}{STAGE_TAG}old-{os.getpid()}")
        os.rename(final, old)
        os.rename(tmp, final)                      # a kill just before: the next save puts `old` back
        shutil.rmtree(old, ignore_errors=True)
    _fsync_dir(os.path.dirname(final))
    with contextlib.suppress(OSError):             # the process stood in the folder: follow the new one
        if os.path.samefile(os.getcwd(), tmp):
            os.chdir(final)


def _stage_inside(final, replaces=()):
    """The fallback of staged_folder: a hidden staging subfolder, its files renamed one by one."""
    os.makedirs(final, exist_ok=True)
    for entry in os.listdir(final):                # staging folders of killed saves
        if entry.startswith(STAGE_TAG):
            shutil.rmtree(os.path.join(final, entry), ignore_errors=True)
    tmp = tempfile.mkdtemp(prefix=STAGE_TAG + "new-", dir=final)
    try:
        yield tmp
        written = set(os.listdir(tmp))
        for entry in written:
            _fsync_file(os.path.join(tmp, entry))
            make_readable(os.path.join(tmp, entry))
            os.replace(os.path.join(tmp, entry), os.path.join(final, entry))
        for entry in set(os.listdir(final)) - written:     # an earlier save's files this one replaces
            if _replaced(entry, replaces) and os.path.isfile(os.path.join(final, entry)):
                os.remove(os.path.join(final, entry))
        _fsync_dir(final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def exchange_paths(a, b):
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    import ctypes                                  # only here: a save's cost, not an import's
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    AT_FDCWD, RENAME_EXCHANGE = -100, 2
    if renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, f"cannot swap {a} and {b}: {os.strerror(err)}")


@contextlib.contextmanager
def _parent_lock(parent):
    """An exclusive flock on the parent folder, held for one save (no lock where flock fails)."""
    try:
        import fcntl
        fd = os.open(parent, os.O_RDONLY)
    except (ImportError, OSError):
        yield
        return
    try:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)                               # closing releases the lock


def _clean_leftovers(parent, name):
    """Remove staging folders of killed saves; put back a folder swapped out by a kill mid-rename."""
    prefix = f".{name}{STAGE_TAG}"
    leftovers = sorted(e for e in os.listdir(parent) if e.startswith(prefix))
    final = os.path.join(parent, name)
    for entry in leftovers:
        path = os.path.join(parent, entry)
        if entry.startswith(prefix + "old-") and not os.path.exists(final):
            os.rename(path, final)                 # killed between the two renames: the old save
            logger.warning("restored %s from an interrupted save", final)
        else:
            shutil.rmtree(path, ignore_errors=True)


def _link_missing(src, dst, skip=()):
    """Hard-link (or copy) into `dst` every entry of `src` that `dst` lacks, recursively; the
    top-level files named by `skip` (fnmatch patterns) excepted."""
    for entry in os.scandir(src):
        target = os.path.join(dst, entry.name)
        if os.path.lexists(target) or (_replaced(entry.name, skip) and not entry.is_dir(follow_symlinks=False)):
            if entry.is_dir(follow_symlinks=False) and os.path.isdir(target):
                _link_missing(entry.path, target)
            continue
        if entry.is_symlink():
            os.symlink(os.readlink(entry.path), target)
        elif entry.is_dir():
            os.mkdir(target)
            shutil.copystat(entry.path, target)
            _link_missing(entry.path, target)
        else:
            try:
                os.link(entry.path, target)
            except OSError:
                if entry.is_file(follow_symlinks=False):     # never open a pipe or a device to copy it
                    shutil.copy2(entry.path, target)
                else:
                    logger.warning("%s is not a regular file and cannot be linked: not kept in the new save",
                                   entry.path)


def _fsync_file(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path):
    with contextlib.suppress(OSError):             # some filesystems cannot fsync a folder
        _fsync_file(path)


def _fsync_tree(root):
    """fsync every regular file under root, and the folders. Only regular files: opening a named
    pipe carried over from the old folder would wait for a writer forever, and a socket or a
    device has no data of ours to sync."""
    for folder, _, files in os.walk(root):
        for f in files:
            path = os.path.join(folder, f)
            if stat.S_ISREG(os.lstat(path).st_mode):
                _fsync_file(path)
        _fsync_dir(folder)
