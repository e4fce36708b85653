"""Models shipped inside the package, so that albert_np works offline out of the box.

albert-tiny-en/ is a small English ALBERT pretrained by albert_np itself
(see its README.md model card and albert_np/training/pretraining.py); it is the
default model of fill_mask and embed, and its short name "albert-tiny-en" works
wherever a model or tokenizer is taken (from_pretrained, model=, --model), offline.
Hugging Face's real checkpoints are one argument away: model="albert/albert-base-v2".
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
BUNDLED_NAME = "albert-tiny-en"


def bundled_model():
    """Folder of the bundled model, or None when this installation has none."""
    path = os.path.join(HERE, BUNDLED_NAME)
    return path if os.path.isfile(os.path.join(path, "config.json")) else None


def resolve_name(name_or_path):
    """The bundled model's folder when `name_or_path` is its short name, else `name_or_path` unchanged.

    "albert-tiny-en" -> .../albert_np/pretrained/albert-tiny-en, unless a folder of that name
    exists where the program runs (a folder on disk wins, as in transformers). Every loader
    resolves names through hub.resolve_file, which calls this, so the short name never
    reaches the Hub.
    Raises FileNotFoundError when the short name is asked for and this installation lacks the model.
    """
    if not isinstance(name_or_path, (str, os.PathLike)):
        return name_or_path
    name = os.fspath(name_or_path)
    if name != BUNDLED_NAME or os.path.isdir(name):
        return name_or_path
    path = bundled_model()
    if path is None:
        raise FileNotFoundError(
            f"{BUNDLED_NAME!r} is albert_np's bundled model, but this installation has none "
            f"({os.path.join(HERE, BUNDLED_NAME)} has no config.json): reinstall albert_np, or pass a "
            f"model folder or a Hub id such as 'albert/albert-base-v2'")
    return path
