# %% [markdown]
# # Chapter 14: Loading real checkpoints
#
# Every chapter so far began with `from_pretrained(MODEL)`. This chapter looks
# at what that call reads, and at the other forms in which ALBERT weights come:
#
# 1. a Hugging Face model folder: `config.json`, `model.safetensors`, tokenizer files;
# 2. weights stored in float16 (half the bytes), and what that costs in precision;
# 3. the **missing-weights report** when a checkpoint lacks the head a class needs;
# 4. `pytorch_model.bin`, read without torch and without running its pickle;
# 5. Google's original **TensorFlow 1** release format, and the `convert` command;
# 6. the Hugging Face Hub cache, used offline;
# 7. the round trip back into `transformers`, when it is installed.
#
# Every file here is either written in a temporary folder or is one of the small
# test fixtures committed under `tests/fixtures`. Nothing is downloaded.

# %% [markdown]
# **Which model.** This chapter runs on the bundled `albert-tiny-en`. To use another checkpoint, set `ALBERT_NP_MODEL` before `tutorial_utils` is imported: in a shell `ALBERT_NP_MODEL=/path/to/checkpoint python tutorials/14_loading_checkpoints.py`; in Jupyter run `%env ALBERT_NP_MODEL=/path/to/checkpoint` in a cell above the imports (the variable is read once, at import; changing it later has no effect until the kernel restarts).

# %%
from tutorial_utils import *

import hashlib
import json
import logging
import os
import pickle
import struct
import tempfile
import zipfile

import albert_np
from albert_np.formats import checkpoint, tf_checkpoint, tf_release
from albert_np import heads, step
from albert_np.training import optim
from albert_np.__main__ import main as cli
from albert_np.hub import HubUnreachableError
from albert_np.params import named_parameters
from albert_np.formats.tensor_bundle import read_bundle

HERE = os.path.dirname(os.path.abspath(__file__)) if "__file__" in globals() else os.getcwd()
FIXTURES = os.path.join(HERE, "..", "tests", "fixtures")
work = tempfile.TemporaryDirectory()                 # everything this chapter writes goes here
WORK = work.name

model = albert_np.AlbertForPreTraining.from_pretrained(MODEL)
tok = albert_np.AlbertTokenizerFast.from_pretrained(MODEL)
enc = tok("The lighthouse keeper climbed the [MASK] stairs.", return_tensors="np")
print(model)

# %% [markdown]
# ## 1. What a model folder holds
#
# `save_pretrained` (albert_np's or transformers') writes a folder:
#
# * `config.json`: the sizes (vocab_size V, embedding_size E, hidden_size H,
#   layers L, ...) and the class name in `architectures`;
# * `model.safetensors`: the weights;
# * the tokenizer: `spiece.model` (SentencePiece), `tokenizer.json` (the fast
#   tokenizer), `tokenizer_config.json`, `special_tokens_map.json`.
#
# A safetensors file is simple enough to read by hand. It starts with 8 bytes:
# a little-endian integer N. Then come N bytes of JSON, naming each tensor with
# its dtype, shape and byte range. The raw data follows. We parse the header
# ourselves and compare it with the library.

# %%
folder = model.loaded_files[0].rsplit(os.sep, 1)[0]
for name in sorted(os.listdir(folder)):
    print(f"  {name:26s} {os.path.getsize(os.path.join(folder, name)):>10,} bytes")


def read_header(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    header.pop("__metadata__", None)
    return header, 8 + n                                  # and where the data starts


weights_file = os.path.join(folder, "model.safetensors")
header, data_start = read_header(weights_file)
assert {k: tuple(v["shape"]) for k, v in header.items()} == checkpoint.safetensors_shapes(weights_file)
print("names and shapes parsed by hand == checkpoint.safetensors_shapes")
name = "albert.encoder.embedding_hidden_mapping_in.weight"
begin, end = header[name]["data_offsets"]
with open(weights_file, "rb") as f:
    f.seek(data_start + begin)
    raw = np.frombuffer(f.read(end - begin), dtype={"F32": "<f4", "F16": "<f2"}[header[name]["dtype"]])
raw = raw.reshape(header[name]["shape"]).astype(np.float32)                           # (H, E)
check(f"{name.split('.', 2)[-1]} read by hand", raw, model.state_dict()[name], atol=0)
print(f"{len(header)} tensors, dtypes {sorted({v['dtype'] for v in header.values()})}")

# %% [markdown]
# The names are the PyTorch state-dict names of transformers' `AlbertForPreTraining`.
# albert_np keeps them, and nests them at the dots. A number becomes a list index,
# so `albert.encoder.albert_layer_groups.0.albert_layers.0.ffn.weight` is
# `params["albert"]["encoder"]["albert_layer_groups"][0]["albert_layers"][0]["ffn"]["weight"]`.
# The functions of `model.py` take these sub-dicts as their arguments.
#
# One name is missing from the file: `predictions.decoder.weight`, the MLM
# output matrix (V, E). It is **tied** to the word embeddings, so it is stored
# once, and the loader makes both names point at the same array.

# %%
sd = model.state_dict()
ffn = model.params["albert"]["encoder"]["albert_layer_groups"][0]["albert_layers"][0]["ffn"]["weight"]
assert ffn is sd["albert.encoder.albert_layer_groups.0.albert_layers.0.ffn.weight"]
print(f"ffn weight {ffn.shape} (F, H), the same array under both paths")
assert "predictions.decoder.weight" not in header and "predictions.decoder.weight" in sd
assert sd["predictions.decoder.weight"] is sd["albert.embeddings.word_embeddings.weight"]
print(f"state_dict: {len(sd)} names; file: {len(header)} tensors; the decoder is the word-embedding table")

# %% [markdown]
# ## 2. float16 storage
#
# `save_pretrained(folder, storage_dtype="float16")` stores every weight in 2
# bytes instead of 4. Loading turns the weights back into float32, because
# NumPy computes in float32. float16 keeps 11 significant bits. Each weight is
# rounded to a relative error of at most `2^-11`, about 5e-4, as long as its
# magnitude is above 6.1e-5 (float16's smallest normal number). Smaller
# weights lose more relative precision, but their absolute error is tiny.
# bfloat16 keeps only 8 bits (error up to `2^-8`), but has float32's range.
#
# The header above showed that the bundled file is **itself** stored in
# float16 (F16): 6.1 MB for 3.05 M weights. Its float32 arrays therefore hold
# float16 values exactly, and saving them again in float16 would lose nothing.
# A model that has been trained further in float32 is different. To get one,
# we take a single AdamW step on a real MLM gradient, as fine-tuning would.
#
# **Predict before you run:** float16 moves each weight by at most 0.05 %.
# Will the model's top-1 predictions change anywhere?

# %%
if all(v["dtype"] == "F16" for v in header.values()):         # the bundled model; not albert-base-v2
    w_loaded = np.concatenate([v.ravel() for v in sd.values()])
    check("loaded weights are float16 values", w_loaded, w_loaded.astype(np.float16).astype(np.float32), atol=0)

tuned = albert_np.AlbertForPreTraining.from_pretrained(MODEL)
_, _, grads = step.loss_and_grads(tuned.params, tuned.config, "pretraining", dict(enc),
                                   {"labels": enc["input_ids"]})
optim.AdamW(named_parameters(tuned.params), lr=1e-4).step(grads)
tuned_sd = tuned.state_dict()
names = [k for k in tuned_sd if k != "predictions.decoder.weight"]     # the tied copy once
w32 = np.concatenate([tuned_sd[k].ravel() for k in names])
print(f"after one step, {np.mean(w32 != w32.astype(np.float16).astype(np.float32)):.1%} of the weights "
      f"are no longer float16 values")

sizes, loaded, flat = {}, {}, {}
for dtype in (None, "float16", "bfloat16"):
    out = os.path.join(WORK, f"saved-{dtype or 'float32'}")
    tuned.save_pretrained(out, storage_dtype=dtype)
    sizes[dtype] = os.path.getsize(os.path.join(out, "model.safetensors"))
    loaded[dtype] = albert_np.AlbertForPreTraining.from_pretrained(out)
    flat[dtype] = np.concatenate([loaded[dtype].state_dict()[k].ravel() for k in names])
    kinds = sorted({v["dtype"] for v in read_header(os.path.join(out, "model.safetensors"))[0].values()})
    print(f"{dtype or 'float32':9s} {sizes[dtype]:>12,} bytes on disk, tensors stored as {kinds}")
assert sizes["float16"] < 0.51 * sizes[None] and sizes["bfloat16"] < 0.51 * sizes[None]

check_all("storage round trips", {
    "float32 save -> load": (flat[None], w32),
    "float16 load == weights rounded to float16": (flat["float16"], w32.astype(np.float16).astype(np.float32))},
    atol=0, rtol=0)
normal = np.abs(w32) >= 6.2e-5
rel16 = np.abs(flat["float16"] - w32)[normal] / np.abs(w32[normal])
relbf = np.abs(flat["bfloat16"] - w32)[w32 != 0] / np.abs(w32[w32 != 0])
print(f"float16:  max |diff| {np.abs(flat['float16'] - w32).max():.2e}, "
      f"max relative {rel16.max():.2e} (bound {2 ** -11:.2e})")
print(f"bfloat16: max |diff| {np.abs(flat['bfloat16'] - w32).max():.2e}, "
      f"max relative {relbf.max():.2e} (bound {2 ** -8:.2e})")
assert rel16.max() <= 2 ** -11 and relbf.max() <= 2 ** -8

if plt is not None:
    fig, ax = plt.subplots(figsize=(6, 3.5))
    bins = np.logspace(-9, -1.5, 60)
    ax.hist(np.maximum(rel16, 1e-9), bins=bins, alpha=0.6, label="float16")
    ax.hist(np.maximum(relbf, 1e-9), bins=bins, alpha=0.6, label="bfloat16")
    for bound, label in ((2 ** -11, "2^-11"), (2 ** -8, "2^-8")):
        ax.axvline(bound, color="k", lw=0.8, ls=":")
        ax.text(bound, ax.get_ylim()[1] * 0.9, " " + label, fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("relative rounding error of a weight")
    ax.set_ylabel("weights")
    ax.set_title("Storing the weights in 16 bits")
    ax.legend(loc="upper left")
    show(fig, "14_half_precision_error.png")

logits = {d: m(**enc).prediction_logits for d, m in loaded.items()}                 # (1, T, V)
for d in ("float16", "bfloat16"):
    same = np.mean(logits[d].argmax(-1) == logits[None].argmax(-1))
    print(f"{d:9s} MLM logits: max |diff| {np.abs(logits[d] - logits[None]).max():.2e}, "
          f"same top-1 token at {same:.0%} of positions")

# %% [markdown]
# Every stored weight stays within its bound. In the picture, the small spike
# near 1e-6 comes from the rows of the word-embedding table whose tokens were
# not in our sentence. They got no gradient, only weight decay, which
# multiplied them by `1 - lr * wd = 1 - 1e-6`. Rounding to float16 undoes
# exactly that change. The logits move by much more than a single weight,
# because thousands of rounded weights add up in each output. The last two
# lines show whether that is enough to change a prediction: the share of
# positions whose top-1 token stays the same.
#
# ## 3. The missing-weights report
#
# The bundled checkpoint was saved from `AlbertForPreTraining`: encoder (with
# its pooler), MLM head and SOP head. Load it into
# `AlbertForSequenceClassification` and the class needs a `classifier`
# (num_labels, H) that the file lacks, while the MLM and SOP heads go unused.
# (A checkpoint saved from `AlbertForMaskedLM` has no pooler either, so the
# pooler is missing too; `architectures` in its config.json names the class it
# was saved from.) albert_np reports both lists in one log warning, as
# transformers does. The new weights are initialised the way transformers
# initialises them: linear weights from `normal(0, initializer_range)`, biases
# at zero. albert_np draws them from `np.random.default_rng(0)`, in the order
# of the class's weight names (`heads.expected_shapes`); we redraw them that
# way below.

# %%
class Capture(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


captured = Capture()
logging.getLogger("albert_np").addHandler(captured)
clf = albert_np.AlbertForSequenceClassification.from_pretrained(MODEL, num_labels=3)
logging.getLogger("albert_np").removeHandler(captured)
report = captured.messages[-1]
print(report.replace("; ", ";\n  "))

in_file = set(header)
expected = set(clf.state_dict())
missing = sorted(expected - in_file)
unexpected = sorted(k for k in in_file - expected)
with open(os.path.join(folder, "config.json")) as f:
    print("saved from:", json.load(f).get("architectures"))
print("missing (worked out from the two name lists):", missing)
assert [k for k in missing if k.startswith("classifier.")] == ["classifier.bias", "classifier.weight"]
assert all(k.startswith(("classifier.", "albert.pooler.")) for k in missing), \
    "besides the new classifier, only a pooler can be absent (from an AlbertForMaskedLM save)"
assert f"{len(missing)} weights not in the checkpoint" in report and all(k in report for k in missing)
assert f"{len(unexpected)} checkpoint weights not used" in report

c = clf.config
W = clf.state_dict()["classifier.weight"]                                           # (num_labels, H)
rng = np.random.default_rng(0)
init_pairs = {}
for k, shape in heads.expected_shapes(c, clf.head).items():                         # the class's order
    if k in missing:
        drawn = np.zeros(shape) if k.endswith("bias") else rng.normal(0.0, c.initializer_range, size=shape)
        rule = "0" if k.endswith("bias") else "default_rng(0).normal(0, initializer_range)"
        init_pairs[f"{k} = {rule}"] = (clf.state_dict()[k], drawn.astype(np.float32))
from_file = [k for k in clf.state_dict() if k in header]
init_pairs[f"the other {len(from_file)} weights are the file's"] = (
    np.concatenate([clf.state_dict()[k].ravel() for k in from_file]),
    np.concatenate([sd[k].ravel() for k in from_file]))
check_all("the classifier's weights, redrawn or read", init_pairs, atol=0, rtol=0)
print(f"classifier.weight std {W.std():.4f} (initializer_range {c.initializer_range})")

# %% [markdown]
# ## 4. pytorch_model.bin, without torch
#
# Older checkpoints ship `pytorch_model.bin`, written by `torch.save`. It is a zip
# archive: `<name>/data.pkl` is a pickle of the state dict, and each tensor's
# raw bytes sit in `<name>/data/<key>`. A pickle is a small program. It can name
# any importable function and call it. `pickle.load` on an untrusted file is
# therefore unsafe. albert_np's reader (`torch_bin.py`) allows only the handful
# of names that a state dict needs, and refuses any other. albert_np has no
# `.bin` writer (it saves safetensors), so we read a file that torch wrote: the
# test fixture `tests/fixtures/bin/mlm_bin`, beside torch's own logits for it.

# %%
bin_folder = os.path.join(FIXTURES, "bin", "mlm_bin")
if os.path.isdir(bin_folder):
    with zipfile.ZipFile(os.path.join(bin_folder, "pytorch_model.bin")) as z:
        names = z.namelist()
    print(f"{len(names)} zip entries, e.g. {names[:3]}")
    mlm = albert_np.AlbertForMaskedLM.from_pretrained(bin_folder)
    ref = np.load(os.path.join(bin_folder, "reference.npz"))
    out = mlm(input_ids=ref["input_ids"], attention_mask=ref["attention_mask"]).logits   # (2, 6, 99)
    check("logits from the .bin vs torch's", out, ref["logits"], atol=1e-5)
else:
    print(f"skipped: {bin_folder} is not here (the tests folder is not installed)")


class Sneaky:                                   # what a malicious file does, made harmless
    def __reduce__(self):
        return (os.getcwd, ())                  # a real attack would name os.system


payload = pickle.dumps({"weight": Sneaky()}, protocol=2)
print("plain pickle.loads runs the call:", pickle.loads(payload))
evil = os.path.join(WORK, "evil.bin")
with zipfile.ZipFile(evil, "w") as z:
    z.writestr("evil/data.pkl", payload)
try:
    checkpoint.read_torch_bin(evil)
    raise AssertionError("the reader should refuse this file")
except checkpoint.CheckpointError as e:
    print("albert_np refuses it:", str(e)[:150])

# %% [markdown]
# With torch installed, we can also write a `.bin` of the bundled model with
# `torch.save` and read it back with albert_np. The chapter does not need torch;
# when it is missing, this step says so and moves on.

# %%
try:
    import torch
except ImportError:
    torch = None
    print("skipped: torch is not installed, so no torch.save round trip")
if torch is not None:
    bin_dir = os.path.join(WORK, "as-bin")
    os.makedirs(bin_dir)
    model.config.save_pretrained(bin_dir)
    torch.save({k: torch.from_numpy(v.copy()) for k, v in sd.items()}, os.path.join(bin_dir, "pytorch_model.bin"))
    from_bin = albert_np.AlbertForPreTraining.from_pretrained(bin_dir)
    print("read:", [os.path.basename(p) for p in from_bin.loaded_files])
    check(f"torch.save'd state dict, all {len(sd)} names",
          np.concatenate([from_bin.state_dict()[k].ravel() for k in sd]),
          np.concatenate([sd[k].ravel() for k in sd]), atol=0)

# %% [markdown]
# ## 5. Google's original TensorFlow 1 releases
#
# google-research/albert published its checkpoints as TF1 folders: an
# `albert_config.json`, and `model.ckpt-best.index` + `.data-00000-of-00001` (a
# TensorBundle: a sorted key-value table plus raw bytes, see
# `tensor_bundle.py`). They are the only ALBERT checkpoints that include the
# trained SOP head. albert_np reads them without TensorFlow. The names differ from
# HF's, and every dense `kernel` is stored (in, out), the transpose of
# PyTorch's (out, in) `weight`. `tf_checkpoint.hf_name` maps each name.
#
# The test fixture `tests/fixtures/tf1/release_pretraining` is such a release,
# written by TensorFlow from a tiny HF model. It comes with two references: every
# tensor as TensorFlow itself read it back (`tf_reader.npz`), and a TensorFlow
# forward pass (`tf_forward.npz`).

# %%
release = os.path.join(FIXTURES, "tf1", "release_pretraining")
if os.path.isdir(release):
    prefix = tf_release.find_tf_release(release).prefix
    tensors, _ = read_bundle(prefix)
    tf_ref = np.load(os.path.join(release, "tf_reader.npz"))
    assert sorted(tensors) == sorted(tf_ref.files)
    check(f"all {len(tensors)} tensors vs TensorFlow's reader",
          np.concatenate([tensors[k].ravel().astype(np.float64) for k in sorted(tensors)]),
          np.concatenate([tf_ref[k].ravel().astype(np.float64) for k in sorted(tensors)]), atol=0)
    kept = [k for k in sorted(tensors) if not tf_checkpoint.is_training_state(k)]
    print(f"{len(tensors) - len(kept)} are training state (adam_m / adam_v slots, global_step), skipped")
    print(f"\n{'TF variable':64s} {'TF shape':>9s}   HF name (transposed?)")
    for k in kept[:10]:
        hf, transpose = tf_checkpoint.hf_name(k)
        print(f"{k:64s} {str(tensors[k].shape):>9s}   {hf}{'  (T)' if transpose else ''}")
    print("...")

# %% [markdown]
# The mapped weights must equal those of the HF model the fixture was made
# from (`tests/fixtures/models/pretraining_g1_i1`). The loaded model must
# reproduce TensorFlow's forward pass. And `python -m albert_np convert` must
# write an HF folder that loads to the same model. (This fixture has no
# SentencePiece model, so `convert` says that it writes no tokenizer.)

# %%
if os.path.isdir(release):
    state, _ = tf_checkpoint.read_tf_state_dict(prefix)
    source = checkpoint.read_safetensors(os.path.join(FIXTURES, "models", "pretraining_g1_i1", "model.safetensors"))
    assert set(state) <= set(source)
    check(f"{len(state)} mapped weights vs the HF original", np.concatenate([state[k].ravel() for k in sorted(state)]),
          np.concatenate([source[k].ravel() for k in sorted(state)]), atol=0)
    tf_model = albert_np.AlbertForPreTraining.from_pretrained(release)
    fwd = np.load(os.path.join(release, "tf_forward.npz"))
    out = tf_model(input_ids=fwd["input_ids"], token_type_ids=fwd["token_type_ids"],
                   attention_mask=fwd["attention_mask"])
    converted = os.path.join(WORK, "converted")
    assert cli(["convert", release, converted]) == 0
    again = albert_np.AlbertForPreTraining.from_pretrained(converted)
    print("converted folder holds:", sorted(os.listdir(converted)))
    check_all("forward passes", {
        "MLM logits vs TensorFlow's": (out.prediction_logits, fwd["out_prediction_logits"]),
        "SOP logits vs TensorFlow's": (out.sop_logits, fwd["out_sop_logits"]),
        "converted folder vs the release, SOP logits": (again(input_ids=fwd["input_ids"]).sop_logits,
                                                         tf_model(input_ids=fwd["input_ids"]).sop_logits)},
        atol=1e-5)
else:
    print(f"skipped: {release} is not here (the tests folder is not installed)")

# %% [markdown]
# ## 6. The Hub cache, offline
#
# Given a repo id such as `albert/albert-base-v2` instead of a folder, albert_np
# asks `huggingface_hub` for each file. Downloads go to a shared cache
# (`~/.cache/huggingface/hub`, or `HF_HUB_CACHE` / `cache_dir=`), laid out as
#
#     models--<owner>--<name>/
#         blobs/<hash>                  the file contents, named by a hash
#         refs/main                     the commit id that "main" points at
#         snapshots/<commit>/<file>     links into blobs/, one per file of that commit
#
# With `HF_HUB_OFFLINE=1` in the environment, or `local_files_only=True`, no
# request is made, and a file is found in the cache or not at all. (If the Hub
# is merely unreachable, albert_np notices quickly and falls back to the cache.)
# Here we build a cache entry by hand for a made-up repo id, and load it
# offline.

# %%
cache = os.path.join(WORK, "hub-cache")
repo = os.path.join(cache, "models--tutorial--albert-tiny")
commit = "0123456789abcdef0123456789abcdef01234567"              # any 40-hex id
os.makedirs(os.path.join(repo, "refs"))
os.makedirs(os.path.join(repo, "blobs"))
os.makedirs(os.path.join(repo, "snapshots", commit))
with open(os.path.join(repo, "refs", "main"), "w") as f:
    f.write(commit)
for fname in ("config.json", "model.safetensors"):
    with open(os.path.join(folder, fname), "rb") as f:
        data = f.read()
    blob = os.path.join(repo, "blobs", hashlib.sha256(data).hexdigest())
    with open(blob, "wb") as f:
        f.write(data)
    link = os.path.join(repo, "snapshots", commit, fname)
    try:
        os.symlink(os.path.relpath(blob, os.path.dirname(link)), link)
    except OSError:                                              # no symlinks here: a copy works too
        with open(link, "wb") as f:
            f.write(data)

from_cache = albert_np.AlbertForPreTraining.from_pretrained("tutorial/albert-tiny", cache_dir=cache,
                                                             local_files_only=True)
print("read:", os.path.relpath(from_cache.loaded_files[0], cache))
check("weights from the cache", from_cache.state_dict()["albert.pooler.weight"], sd["albert.pooler.weight"], atol=0)
try:
    albert_np.AlbertForPreTraining.from_pretrained("tutorial/not-cached", cache_dir=cache, local_files_only=True)
    raise AssertionError("a repo that is not cached cannot load offline")
except HubUnreachableError as e:
    print("not cached:", str(e)[:120], "...")

# %% [markdown]
# ## 7. Back into transformers
#
# The folder albert_np writes is an ordinary HF folder, so transformers
# can load it. When transformers and torch are installed, we compare one
# forward pass. Otherwise the step is skipped. albert_np itself never needs either.

# %%
try:
    import transformers
    import torch
except ImportError as e:
    transformers = None
    print(f"skipped: {e.name} is not installed, so no comparison with transformers")
if transformers is not None:
    transformers.utils.logging.disable_progress_bar()
    hf = transformers.AlbertForPreTraining.from_pretrained(os.path.join(WORK, "saved-float32")).eval()
    with torch.no_grad():
        hf_out = hf(**{k: torch.from_numpy(v) for k, v in enc.items()})
    ours = tuned(**enc)                                          # the model saved in saved-float32
    check_all("transformers vs albert_np", {"MLM logits": (ours.prediction_logits, hf_out.prediction_logits.numpy()),
                                            "SOP logits": (ours.sop_logits, hf_out.sop_logits.numpy())}, atol=1e-4)

work.cleanup()

# %% [markdown]
# ## Exercises
#
# 1. ★ Move the weights off the float16 grid, save with
#    `storage_dtype="float16"`, load back, and find the largest relative error.
#    Is it within float16's 2^-11?
# 2. ★ Load the bundled checkpoint into `AlbertForQuestionAnswering`. Which
#    weights are missing from the file, and how are they initialised?
# 3. ★ Run `tf_checkpoint.hf_name` on
#    `bert/encoder/transformer/group_0/inner_group_0/LayerNorm_1/gamma`. Which of
#    the two LayerNorms of an ALBERT layer is it?
