"""Find checkpoint files: in a local folder, or on the Hugging Face Hub.

One function, `resolve_file`, used by the model, config and tokenizer loaders.
A local folder is read directly. Anything else is treated as a Hub repo id and
goes through `huggingface_hub.hf_hub_download`, which keeps the shared cache
(~/.cache/huggingface/hub) and honours HF_HUB_OFFLINE=1 / local_files_only.

The loading options of every from_pretrained (LOADING_OPTIONS: revision, cache_dir,
local_files_only, force_download, token, subfolder) are taken out of its keywords by
`loading_options`; they go to resolve_file (and so to huggingface_hub) and nowhere
else: a token never reaches a config or a saved file.
"""
import functools
import logging
import os
import re
import socket
from urllib.parse import urlparse

from .pretrained import resolve_name

logger = logging.getLogger(__name__)

# The keywords of from_pretrained that say where and how to fetch the files (as transformers').
LOADING_OPTIONS = ("revision", "cache_dir", "local_files_only", "force_download", "token", "subfolder")
_VARIANT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,63}")


def loading_options(kwargs):
    """Take the loading options out of a from_pretrained's **kwargs (in place); return them as a dict.

    use_auth_token (transformers' old name) becomes token, with a deprecation warning. What is
    left in kwargs is for the caller: config overrides, tokenizer settings, or a TypeError.
    """
    options = {k: kwargs.pop(k) for k in LOADING_OPTIONS if k in kwargs}
    if "use_auth_token" in kwargs:
        old = kwargs.pop("use_auth_token")
        logger.warning("use_auth_token= is deprecated (as in transformers): pass token= instead")
        if options.get("token") is None:
            options["token"] = old
    if options.get("token") is not None and not isinstance(options["token"], (str, bool)):
        raise TypeError(f"token must be a str (a Hugging Face access token) or True/False, got "
                        f"{type(options['token']).__name__}")
    options["subfolder"] = check_subfolder(options.get("subfolder"))
    return {k: v for k, v in options.items() if v is not None}


def check_subfolder(subfolder):
    """A subfolder of a model's folder or repo, as a relative path ("" and None: none).

    ValueError for an absolute path or one that climbs out ("..") of the folder.
    """
    if subfolder is None or subfolder == "":
        return None
    if not isinstance(subfolder, str):
        raise TypeError(f"subfolder must be a str (a folder inside the model's folder or repo), "
                        f"got {type(subfolder).__name__}")
    parts = subfolder.replace("\\", "/").strip("/").split("/")
    if os.path.isabs(subfolder) or subfolder.startswith(("/", "~")) or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"subfolder {subfolder!r} must name a folder inside the model's folder or repo "
                         f"(a relative path without '.' or '..' parts)")
    return "/".join(parts)


def check_variant(variant):
    """The variant of a checkpoint's weights ("fp16" -> model.fp16.safetensors), checked; None: none."""
    if variant is None:
        return None
    if not isinstance(variant, str) or not _VARIANT_RE.fullmatch(variant):
        raise ValueError(f"variant must be a short name of letters, digits, '_' or '-' (e.g. 'fp16', which "
                         f"loads model.fp16.safetensors), got {variant!r:.80}")
    return variant


def variant_filename(filename, variant):
    """transformers' name of a variant's file: model.safetensors -> model.fp16.safetensors,
    model.safetensors.index.json -> model.safetensors.index.fp16.json."""
    if variant is None:
        return filename
    head, _, last = filename.rpartition(".")
    return f"{head}.{variant}.{last}"


class HubUnreachableError(OSError):
    """The Hub could not be reached and the file is not in the local cache."""


def is_local(name_or_path):
    """True when `name_or_path` names a folder on this machine (the bundled model's short name too)."""
    return os.path.isdir(os.fspath(resolve_name(name_or_path)))


def resolve_file(name_or_path, filename, *, revision=None, cache_dir=None, local_files_only=False,
                 force_download=False, token=None, subfolder=None, required=True):
    """Return a local path to `filename` from a folder or a Hub repo.

    Args:
        name_or_path: a folder, a Hub repo id such as "albert/albert-base-v2", or
            "albert-tiny-en" (the bundled model: pretrained.resolve_name).
        filename: file inside the folder / repo, e.g. "config.json".
        revision, cache_dir, local_files_only, force_download, token: as in huggingface_hub
            (token: an access token for a private or gated repo; used for the download only).
        subfolder: a folder inside the folder / repo that holds the file.
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
    subfolder = check_subfolder(subfolder)
    if is_local(name_or_path):
        if subfolder is not None:
            name_or_path = os.path.join(name_or_path, subfolder)
            if not os.path.isdir(name_or_path):
                raise FileNotFoundError(f"subfolder {subfolder!r} not found: {name_or_path!r} is not a folder")
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
                         local_files_only=local_files_only, force_download=force_download, token=token,
                         subfolder=subfolder, required=required)


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


def _hub_download(repo_id, filename, *, revision, cache_dir, local_files_only, force_download, token,
                  subfolder, required):
    """hf_hub_download with messages that say what to do when it fails."""
    import huggingface_hub                  # on first Hub use only (see hub_reachable)
    # huggingface_hub.utils holds these four classes in every supported version (0.20 to 2.x);
    # huggingface_hub.errors does not exist before 0.22, and its RemoteEntryNotFoundError (1.0+)
    # is a subclass of EntryNotFoundError, so catching the latter covers a missing file everywhere
    from huggingface_hub import utils as errors

    offline = local_files_only or not hub_reachable()
    if subfolder is not None:
        filename = f"{subfolder}/{filename}"       # as the Hub names it (hf_hub_download joins them so)
    try:
        return huggingface_hub.hf_hub_download(repo_id, filename, revision=revision, cache_dir=cache_dir,
                                               local_files_only=offline, force_download=force_download,
                                               token=token)
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
