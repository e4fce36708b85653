"""Make the pytorch_model.bin fixtures that test_torch_bin.py reads without torch.

torch (2.13) writes the files; what torch itself reads back is the reference:

    tests/fixtures/bin/tensors_zip.bin      torch.save(state)                      (zip layout)
    tests/fixtures/bin/tensors_legacy.bin   torch.save(state, _use_new_zipfile_serialization=False)
    tests/fixtures/bin/tensors.npz          every tensor of `state` as torch reads it (bf16 as float32)
    tests/fixtures/bin/mlm_bin/             a tiny AlbertForMaskedLM: config.json + pytorch_model.bin
    tests/fixtures/bin/mlm_sharded/         the same model in 3 shards + pytorch_model.bin.index.json
                                            (each folder: config.json, *.bin, reference.npz of its logits)

`state` covers what a state dict can hold: float32/64, float16, bfloat16, int64,
bool, uint16 (pickled through _rebuild_tensor_v3 and an untyped storage), an
nn.Parameter, views sharing one storage (a transpose, a row slice at an
offset, a strided column), an empty tensor and a scalar. The legacy file
leaves out uint16, which torch 2.13 cannot load back from that layout.

Run from the repo root with the `parity` extra installed:
    .venv/bin/python tests/make_bin_fixtures.py
"""
import collections
import json
import os
import shutil

import numpy as np
import torch
import transformers

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures", "bin")
TINY = dict(vocab_size=99, embedding_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=37, max_position_embeddings=40, hidden_act="gelu_new")
INPUT_IDS = np.array([[2, 15, 4, 33, 3, 0], [2, 7, 8, 9, 10, 3]])
ATTENTION_MASK = np.array([[1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1]])


def tensor_state():
    g = torch.Generator().manual_seed(0)
    base = torch.randn(5, 6, generator=g)
    return collections.OrderedDict(
        f32=base,
        f32_transposed=base.t(),                     # same storage, strides (1, 6)
        f32_rows=base[2:4],                          # same storage, offset 12
        f32_column=base[1:, 3],                      # offset 9, stride 6
        f64=torch.randn(3, 2, generator=g, dtype=torch.float64),
        f16=torch.randn(4, 3, generator=g).half(),
        f16_view=torch.randn(4, 4, generator=g).half()[::2, 1:],
        bf16=torch.randn(7, generator=g).bfloat16(),
        bf16_view=torch.randn(3, 4, generator=g).bfloat16().t(),
        i64=torch.arange(-3, 9).reshape(3, 4),
        boolean=torch.tensor([True, False, True]),
        u16=torch.arange(5, dtype=torch.int32).to(torch.uint16),
        param=torch.nn.Parameter(torch.randn(2, 2, generator=g)),
        empty=torch.zeros(0, 3),
        scalar=torch.tensor(2.5),
    )


def as_numpy(t):
    t = t.detach()
    return (t.float() if t.dtype == torch.bfloat16 else t).numpy().copy()


def model_folder(path, model, shards=1):
    """config.json + the state dict torch.save'd, whole or in `shards` files with HF's index.

    transformers 5 writes safetensors even when asked for safe_serialization=False, so the
    .bin files are written as transformers 4's save_pretrained wrote them: torch.save of the
    state dict (the tied decoder weight shares the word embeddings' storage).
    """
    os.makedirs(path, exist_ok=True)
    model.config.save_pretrained(path)
    state = model.state_dict()
    if shards == 1:
        torch.save(state, os.path.join(path, "pytorch_model.bin"))
    else:
        names, weight_map = list(state), {}
        for i in range(shards):
            shard = f"pytorch_model-{i + 1:05d}-of-{shards:05d}.bin"
            part = collections.OrderedDict((k, state[k]) for k in names[i::shards])
            torch.save(part, os.path.join(path, shard))
            weight_map.update({k: shard for k in part})
        with open(os.path.join(path, "pytorch_model.bin.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": 0}, "weight_map": weight_map}, f, indent=2)
    reloaded = transformers.AlbertForMaskedLM.from_pretrained(path).eval()   # transformers reads it back
    with torch.no_grad():
        logits = model(input_ids=torch.tensor(INPUT_IDS), attention_mask=torch.tensor(ATTENTION_MASK)).logits
        again = reloaded(input_ids=torch.tensor(INPUT_IDS), attention_mask=torch.tensor(ATTENTION_MASK)).logits
    assert torch.equal(logits, again)
    np.savez(os.path.join(path, "reference.npz"), input_ids=INPUT_IDS, attention_mask=ATTENTION_MASK,
             logits=logits.numpy())
    print(path, sorted(os.listdir(path)))


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    state = tensor_state()
    torch.save(state, os.path.join(OUT, "tensors_zip.bin"))
    legacy = collections.OrderedDict((k, v) for k, v in state.items() if k != "u16")   # torch cannot
    torch.save(legacy, os.path.join(OUT, "tensors_legacy.bin"), _use_new_zipfile_serialization=False)  # read it back
    for name, saved in (("tensors_zip.bin", state), ("tensors_legacy.bin", legacy)):  # reference: what torch reads
        back = torch.load(os.path.join(OUT, name), weights_only=True)
        assert back.keys() == saved.keys() and all(torch.equal(back[k], saved[k]) for k in saved)
    np.savez(os.path.join(OUT, "tensors.npz"), **{k: as_numpy(v) for k, v in state.items()})

    torch.manual_seed(0)
    config = transformers.AlbertConfig(**TINY)
    model = transformers.AlbertForMaskedLM(config).eval()
    model_folder(os.path.join(OUT, "mlm_bin"), model)
    model_folder(os.path.join(OUT, "mlm_sharded"), model, shards=3)


if __name__ == "__main__":
    main()
