"""Find checkpoint files: in a local folder, or on the Hugging Face Hub.

One function, `resolve_file`, used by the model, config and tokenizer loaders.
A local folder is read directly. Anything else is treated as a Hub repo id and
goes through `huggingface_hub.hf_hub_download`, which keeps the shared cache
(~/.cache/huggingface/hub) and honours HF_HUB_OFFLINE=1 / local_files_only.
"""
import functools
import logging
import os
import socket
from urllib.parse import urlparse

from .pretrained import resolve_name

logger = logging.getLogger(__name__)


class HubUnreachableError(OSError):
    """The Hub could not be reached and the file is not in the local cache."""


def is_local(name_or_path):
    """True when `name_or_path` names a folder on this machine (the bundled model's short name too)."""
    return os.path.isdir(os.fspath(resolve_name(name_or_path)))


def resolve_file(name_or_path, filename, *, revision=None, cache_dir=None,
                 local_files_only=False, required=True):
    """Return a local path to `filename` from a folder or a Hub repo.

    Args:
        name_or_path: a folder, a Hub repo id such as "albert/albert-base-v2", or
            "albert-tiny-en" (the bundled model: pretrained.resolve_name).
        filename: file inside the folder / repo, e.g. "config.json".
        revision, cache_dir, local_files_only: as in huggingface_hub.
        required: when False, a missing file returns None instead of raising.
    Returns:
        str path, or None when the file is absent and not required.
    Raises:
        FileNotFoundError: the folder or repo has no such file (and required).
        HubUnreachableError: the Hub is out of reach and nothing is cached.
    """
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(f"expected a folder path or a Hub repo id (str), got "
                        f"{type(name_or_path).__name__}")
    name_or_path = os.fspath(resolve_name(name_or_path))
    if is_local(name_or_path):
        path = os.path.join(name_or_path, filename)
        if os.path.isfile(path):
            return path
        if not required:
            return None
        present = ", ".join(sorted(os.listdir(name_or_path))) or "(empty)"
        raise FileNotFoundError(
            f"{filename!r} not found in folder {name_or_path!r} (it holds: {present}). "
            f"Point at a folder written by save_pretrained (albert_np or transformers).")
    if name_or_path.count("/") > 1 or name_or_path.startswith((".", "~", "/")):
        raise FileNotFoundError(
            f"{name_or_path!r} is not a folder on this machine, and it is not a Hub repo id "
            f"of the form 'owner/name'. Check the path.")
    return _hub_download(name_or_path, filename, revision=revision, cache_dir=cache_dir,
                         local_files_only=local_files_only, required=required)


@functools.lru_cache(maxsize=1)
def hub_reachable(timeout=3.0):
    """One quick TCP connection to the Hub's endpoint, tried once per process.

    huggingface_hub retries an unreachable Hub for about 25 s before giving up;
    this probe lets an offline machine fall back to the local cache at once.
    """
    # huggingface_hub's modules are imported on first Hub use, not at the top: its
    # errors/download path pulls in httpx, about 80 ms measured, which a local folder never needs
    from huggingface_hub import constants
    if constants.HF_HUB_OFFLINE:
        return False
    url = urlparse(constants.ENDPOINT)
    try:
        with socket.create_connection((url.hostname, url.port or 443), timeout=timeout):
            return True
    except OSError:
        logger.info("the Hugging Face Hub (%s) is unreachable: using the local cache only", url.hostname)
        return False


def _hub_download(repo_id, filename, *, revision, cache_dir, local_files_only, required):
    """hf_hub_download with messages that say what to do when it fails."""
    import huggingface_hub                  # on first Hub use only (see hub_reachable)
    # huggingface_hub.utils holds these four classes in every supported version (0.20 to 2.x);
    # huggingface_hub.errors does not exist before 0.22, and its RemoteEntryNotFoundError (1.0+)
    # is a subclass of EntryNotFoundError, so catching the latter covers a missing file everywhere
    from huggingface_hub import utils as errors

    offline = local_files_only or not hub_reachable()
    try:
        return huggingface_hub.hf_hub_download(repo_id, filename, revision=revision,
                                               cache_dir=cache_dir, local_files_only=offline)
    except errors.LocalEntryNotFoundError as e:      # offline and not in the cache
        if not required:
            return None
        raise HubUnreachableError(
            f"could not get {filename!r} of {repo_id!r}: "
            + ("local_files_only=True" if local_files_only else
               "the Hugging Face Hub is unreachable (or HF_HUB_OFFLINE=1)")
            + " and the file is not in the local cache. Either connect and retry, or download the "
            f"repo where the Hub is reachable and pass its local folder instead, e.g. "
            f"from_pretrained('/path/to/{repo_id.split('/')[-1]}').") from e
    except errors.EntryNotFoundError as e:           # on the Hub, the repo has no such file
        if not required:
            return None
        raise FileNotFoundError(f"the Hub repo {repo_id!r} has no file {filename!r}") from e
    except errors.RepositoryNotFoundError as e:
        raise FileNotFoundError(
            f"{repo_id!r} is neither a folder on this machine nor a Hub repo that exists (or you "
            f"lack access to it). Check the name, or pass a local folder.") from e
    except errors.RevisionNotFoundError as e:
        raise FileNotFoundError(f"revision {revision!r} of {repo_id!r} not found on the Hub") from e
