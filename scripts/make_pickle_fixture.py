#!/usr/bin/env python3
"""Writes the torch.save fixtures used by torch/jit_test.go (TestLoadPickleTensors).

Run with the Debian PyTorch (python3-torch 1.13) from the repository root:

    /usr/bin/python3 scripts/make_pickle_fixture.py

The files are small (< 2 KB each) and committed under torch/testdata/, so the Go tests do not
need Python. torch.save writes a zip archive (<name>/data.pkl, <name>/data/<n>, <name>/version).
"""
import os

import torch

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "torch", "testdata")
os.makedirs(out, exist_ok=True)

# A state dict of three tensors with different dtypes and shapes.
torch.save(
    {
        "layer.weight": torch.arange(6, dtype=torch.float32).reshape(2, 3),
        "layer.bias": torch.tensor([0.5, -0.25], dtype=torch.float64),
        "step": torch.tensor([7], dtype=torch.int64),
    },
    os.path.join(out, "state_dict.pt"),
)
# A dict whose values are not tensors: LoadPickleTensors must refuse it. (Two entries: pickle
# protocol 2 writes a one-entry dict with the SETITEM opcode, which libtorch 1.13's unpickler
# does not know; see single.pt.)
torch.save({"lr": 0.1, "momentum": 0.9}, os.path.join(out, "not_tensors.pt"))
# A one-entry state dict (SETITEM): libtorch 1.13 cannot read it; the test accepts an error.
torch.save({"w": torch.tensor([1.0, 2.0])}, os.path.join(out, "single.pt"))
# Not a dict at all.
torch.save([torch.zeros(2), torch.ones(1)], os.path.join(out, "list.pt"))
