"""File formats of checkpoints, read and written without torch or TensorFlow.

    checkpoint.py     Hugging Face folders: model.safetensors (the `safetensors` library),
                      pytorch_model.bin, sharded indexes; writes model.safetensors
    torch_bin.py      pytorch_model.bin read by a restricted unpickler (no torch, no code runs)
    tensor_bundle.py  TensorFlow's checkpoint files (.index + .data-*), CRC-32C checked
    tf_release.py     Google's original TF1 releases: the folder, albert_config.json, the vocabulary
    tf_checkpoint.py  their variable names mapped to HF's state-dict names
    protobuf_wire.py  the protobuf wire format, by hand (TF's index, SentencePiece's model)
    errors.py         CheckpointError, which every reader raises

These are leaves: they never import the network (tests/test_layering.py checks it).
Fitting a state dict to a model class is modeling.adapt_state_dict's job.
"""
