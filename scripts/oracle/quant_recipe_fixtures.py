#!/usr/bin/env python3
"""Tensor types llama.cpp's quantizer chooses, for the Q4_K_M / Q8_0 recipe test (Tests/Fixtures/fit/quant_recipes.json).

Writes synthetic F32 models with `feather synthesize` (K-quant-friendly and unfriendly widths, tied and untied
outputs), quantizes each with llama.cpp's llama_model_quantize (through llama-cpp-python), and records every
tensor's type and size as the `gguf` package reads them. Run after a debug build:
    .venv-oracle/bin/python scripts/oracle/quant_recipe_fixtures.py > Tests/Fixtures/fit/quant_recipes.json
"""
import ctypes
import json
import os
import subprocess
import sys
import tempfile

import llama_cpp
from gguf import GGUFReader

FEATHER = os.environ.get("FEATHER", ".build/debug/feather")
VOCAB = 268  # SyntheticModel.vocabulary
FTYPES = {"q4_k_m": 15, "q8_0": 7}  # llama.h LLAMA_FTYPE_MOSTLY_Q4_K_M, LLAMA_FTYPE_MOSTLY_Q8_0

CONFIGS = [
    # Every row a whole number of 256-weight blocks, untied output: the plain Q4_K / Q6_K mix.
    {"architecture": "llama", "layers": 12, "embedding": 512, "heads": 8, "kv_heads": 2, "head_dim": None, "ffn": 768},
    # Gemma 3: tied output (token_embd takes the output's Q6_K), 5:1 sliding-window layers.
    {"architecture": "gemma3", "layers": 14, "embedding": 512, "heads": 4, "kv_heads": 1, "head_dim": 128, "ffn": 1024},
    # Mistral 3 shape quirk (head dim × heads ≠ width) and a 384-wide embedding: K-quant fallbacks on some rows.
    {"architecture": "mistral3", "layers": 9, "embedding": 384, "heads": 4, "kv_heads": 2, "head_dim": 128, "ffn": 512},
]

out = {"generator": "scripts/oracle/quant_recipe_fixtures.py", "llama_cpp_python": llama_cpp.__version__, "vocab": VOCAB, "models": []}
with tempfile.TemporaryDirectory() as tmp:
    for c in CONFIGS:
        src = os.path.join(tmp, f"{c['architecture']}.gguf")
        cmd = [FEATHER, "synthesize", c["architecture"], src, "--layers", str(c["layers"]), "--embedding", str(c["embedding"]),
               "--heads", str(c["heads"]), "--kv-heads", str(c["kv_heads"]), "--ffn", str(c["ffn"])]
        if c["head_dim"]:
            cmd += ["--head-dim", str(c["head_dim"])]
        if c["architecture"] == "gemma3":
            cmd += ["--sliding-window", "64"]
        subprocess.run(cmd, check=True)
        for quant, ftype in FTYPES.items():
            dst = os.path.join(tmp, f"{c['architecture']}-{quant}.gguf")
            params = llama_cpp.llama_model_quantize_default_params()
            params.ftype = ftype
            params.nthread = 2
            rc = llama_cpp.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(params))
            if rc != 0:
                sys.exit(f"llama_model_quantize failed ({rc}) for {c} {quant}")
            r = GGUFReader(dst)
            tensors = [{"name": t.name, "type": t.tensor_type.name.lower(), "bytes": int(t.n_bytes)} for t in r.tensors]
            out["models"].append({**c, "quant": quant, "tensors": tensors})

json.dump(out, sys.stdout, indent=1)
sys.stdout.write("\n")
