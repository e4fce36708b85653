"""Models shipped inside the package, so that albert_np works offline out of the box.

albert-tiny-en/ is a small English ALBERT pretrained by albert_np itself
(see its README.md model card and albert_np/training/pretraining.py); it is the
default model of fill_mask and embed. Hugging Face's real checkpoints are one
argument away: model="albert/albert-base-v2".
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
BUNDLED_NAME = "albert-tiny-en"


def bundled_model():
    """Folder of the bundled model, or None when this installation has none."""
    path = os.path.join(HERE, BUNDLED_NAME)
    return path if os.path.isfile(os.path.join(path, "config.json")) else None
