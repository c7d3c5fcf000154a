#!/usr/bin/env python3
"""Check that llama.cpp (through llama-cpp-python) loads GGUF files, e.g. ones written by
Featherweight's GGUF writer.

    .venv-oracle/bin/python scripts/oracle/llamacpp_load_check.py [--json] PATH...

Loads each file with the weights (vocab_only=False) and a small context, then prints what
llama.cpp reports: n_vocab, n_embd, n_ctx_train, n_layer, n_head(_kv), n_swa, n_params,
architecture and the model description (llama.cpp's own log lines go to stderr). Exit status 1 if any file fails to load.
"""
from __future__ import annotations

import argparse
import json
import os
import sys


def check(path: str, n_ctx: int) -> dict:
    import llama_cpp

    if not os.path.isfile(path):
        return {"path": path, "loaded": False, "error": "no such file"}
    try:
        llm = llama_cpp.Llama(model_path=path, vocab_only=False, n_ctx=n_ctx, n_batch=min(n_ctx, 512),
                              n_threads=os.cpu_count() or 1, verbose=False)
    except Exception as e:  # llama-cpp-python raises ValueError("Failed to load model from file: ...")
        return {"path": path, "loaded": False, "error": f"{type(e).__name__}: {e}"}
    m = llm._model  # LlamaModel wrapper; its methods call llama_model_* from libllama
    info = {
        "path": path,
        "loaded": True,
        "architecture": llm.metadata.get("general.architecture"),
        "n_vocab": llm.n_vocab(),
        "n_embd": llm.n_embd(),
        "n_ctx_train": m.n_ctx_train(),
        "n_ctx": llm.n_ctx(),
    }
    # Straight from libllama where the binding has the function (names vary across versions).
    for key in ("n_layer", "n_head", "n_head_kv", "n_swa"):
        fn = getattr(llama_cpp, f"llama_model_{key}", None)
        if fn is not None:
            info[key] = int(fn(m.model))
    for key, fn in (("n_params", "n_params"), ("size_bytes", "size"), ("desc", "desc")):
        if hasattr(m, fn):
            info[key] = getattr(m, fn)()
    info["llama_cpp_python"] = llama_cpp.__version__
    llm.close() if hasattr(llm, "close") else None
    return info


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="+", metavar="PATH")
    ap.add_argument("--n-ctx", type=int, default=256, help="context size to allocate (default 256)")
    ap.add_argument("--json", action="store_true", help="one JSON object per file")
    args = ap.parse_args()

    ok = True
    for p in args.paths:
        info = check(p, args.n_ctx)
        ok &= info["loaded"]
        if args.json:
            print(json.dumps(info))
        elif info["loaded"]:
            rest = " ".join(f"{k}={v}" for k, v in info.items() if k not in ("path", "loaded"))
            print(f"loaded: {p}: {rest}")
        else:
            print(f"FAILED: {p}: {info['error']}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
