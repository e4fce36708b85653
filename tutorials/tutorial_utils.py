"""Small helpers the tutorial chapters share: which model to open, pictures, checks.

Each chapter starts with `from tutorial_utils import *`. Nothing here hides any
ALBERT maths; that all happens in the chapters themselves.
"""
import os
import sys

# The tutorials multiply small matrices: one BLAS thread is faster than two
# threads waiting on each other (and much faster on a busy machine). Set before
# NumPy is imported; an explicit setting in the environment wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from albert_np.io import file_sha256, read_json_object  # noqa: E402
from albert_np.pretrained import bundled_model  # noqa: E402

try:                                  # pictures are optional: pip install -e .[tutorials]
    import matplotlib
    if "IPython" not in sys.modules:  # run as a script: draw off-screen
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    plt = None

MODEL = os.environ.get("ALBERT_NP_MODEL") or bundled_model()
"""The checkpoint every chapter steps through: the bundled albert-tiny-en, or
ALBERT_NP_MODEL (e.g. albert/albert-base-v2, or any local folder)."""


ASSETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets")


def fine_tuned_asset(name, assets=ASSETS):
    """A head fine-tuned from the bundled model, tutorials/assets/<name> (made by assets/make_heads.py).

    Returns (its folder, its make_heads.json record or None, trained): trained says whether the
    chapter can use it, i.e. the record is there, MODEL is the bundled model, and the head was made
    from these very weights (the record's sha256 of the bundled model.safetensors)."""
    folder = os.path.join(assets, name)
    record = None
    if os.path.isfile(os.path.join(folder, "make_heads.json")):
        record = read_json_object(os.path.join(folder, "make_heads.json"))
    else:
        print(f"tutorials/assets/{name} is missing: run tutorials/assets/make_heads.py to make it")
    if record is None or os.path.realpath(MODEL) != os.path.realpath(bundled_model()):
        return folder, record, False
    if record.get("base_weights_sha256") != file_sha256(os.path.join(bundled_model(), "model.safetensors")):
        print(f"tutorials/assets/{name} was fine-tuned from another version of the bundled model (its "
              f"make_heads.json names other weights): run tutorials/assets/make_heads.py to remake it")
        return folder, record, False
    return folder, record, True


def checkpoint_weight_names(path=MODEL):
    """The names of the weights stored in a checkpoint (HF names; an original TF release is mapped)."""
    from albert_np.formats import checkpoint, tf_checkpoint, tf_release
    release = tf_release.find_tf_release(path)
    if release is not None:
        state, _ = tf_checkpoint.read_tf_state_dict(release.prefix)
    else:
        state, _ = checkpoint.load_state_dict(path)
    return sorted(state)


def describe_checkpoint(path=MODEL):
    """Print which checkpoint this is and whether it stores a trained SOP head; return that flag."""
    has_sop = any(n.startswith("sop_classifier.") for n in checkpoint_weight_names(path))
    which = " (the bundled albert-tiny-en)" if str(path) == str(bundled_model()) else ""
    print(f"checkpoint: {path}{which}; sentence-order (SOP) head stored: {'yes' if has_sop else 'no'}")
    return has_sop


FIGURES = os.environ.get("ALBERT_NP_FIGURES")
"""When set (the tests set it), every picture is also saved there as a PNG."""


def show(fig, name):
    """Display a figure (in Jupyter), and save it as FIGURES/name when FIGURES is set."""
    if FIGURES:
        os.makedirs(FIGURES, exist_ok=True)
        fig.savefig(os.path.join(FIGURES, name), dpi=100, bbox_inches="tight")
    if plt is not None:
        plt.show()
        plt.close(fig)


_checks_run = 0


def checks_run():
    """How many `check` comparisons have run in this process (sync_notebooks.py records it per chapter)."""
    return _checks_run


def check(name, ours, reference, atol=1e-5, rtol=1e-5):
    """Compare a by-hand result with a reference; print how close, and fail loudly if not close."""
    global _checks_run
    _checks_run += 1
    ours, reference = np.asarray(ours), np.asarray(reference)
    if ours.shape != reference.shape:
        raise AssertionError(f"{name}: shape {ours.shape} vs {reference.shape}")
    diff = float(np.max(np.abs(ours - reference))) if ours.size else 0.0
    exact = bool(np.array_equal(ours, reference))
    ok = exact or np.allclose(ours, reference, atol=atol, rtol=rtol)
    print(f"{name:40s} {'exact' if exact else 'close' if ok else 'DIFFERENT'}   max |diff| {diff:.2e}")
    if not ok:
        raise AssertionError(f"{name}: max |diff| {diff:.3g} exceeds atol={atol}, rtol={rtol}")
    # nothing returned: a check ending a notebook cell would otherwise also show its diff as the cell's value


def check_all(section, pairs, atol=1e-5, rtol=1e-5):
    """Compare several by-hand results with their references and print ONE line for the section.

    pairs: {name: (ours, reference)}. Every pair counts as one check. On success prints e.g.
    "embeddings: 4 checks by hand == library (largest |diff| 2.4e-07, in 'LayerNorm')"; on the
    first pair that differs it raises, naming the pair and its difference."""
    global _checks_run
    largest, where = 0.0, None
    for name, (ours, reference) in pairs.items():
        _checks_run += 1
        ours, reference = np.asarray(ours), np.asarray(reference)
        if ours.shape != reference.shape:
            raise AssertionError(f"{section}: {name}: shape {ours.shape} vs {reference.shape}")
        diff = float(np.max(np.abs(ours - reference))) if ours.size else 0.0
        if not (np.array_equal(ours, reference) or np.allclose(ours, reference, atol=atol, rtol=rtol)):
            raise AssertionError(f"{section}: {name}: max |diff| {diff:.3g} exceeds atol={atol}, rtol={rtol}")
        if where is None or diff > largest:
            largest, where = diff, name
    print(f"{section}: {len(pairs)} checks by hand == library (largest |diff| {largest:.1e}, in '{where}')")
