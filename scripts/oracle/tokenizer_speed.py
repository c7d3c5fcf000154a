#!/usr/bin/env python3
"""Rough llama.cpp tokenization speed, for comparison with `feather tokenize MODEL - --stats`:
times one llama_tokenize call (through llama-cpp-python's ctypes binding, so the Python overhead is a
single call) on a text file. Prints wall and process-CPU MB/s, best of N runs.

    /work/main/.venv-oracle/bin/python scripts/oracle/tokenizer_speed.py .data/wiki.utf8 [MODEL...]
"""
import os
import sys
import time

import llama_cpp

MODELS_DIR = os.environ.get("FEATHER_MODELS", ".models")


def main():
    path = sys.argv[1]
    names = sys.argv[2:] or ["gemma3-270m", "smollm2-135m"]
    data = open(path, "rb").read()
    mb = len(data) / 1e6
    for name in names:
        llm = llama_cpp.Llama(model_path=os.path.join(MODELS_DIR, name + ".gguf"), vocab_only=True, verbose=False)
        vocab = llama_cpp.llama_model_get_vocab(llm.model)
        n = len(data) + 16
        buf = (llama_cpp.llama_token * n)()
        best_wall = best_cpu = float("inf")
        count = 0
        for _ in range(int(os.environ.get("RUNS", "3"))):
            w0, c0 = time.perf_counter(), time.process_time()
            count = llama_cpp.llama_tokenize(vocab, data, len(data), buf, n, True, True)
            w1, c1 = time.perf_counter(), time.process_time()
            best_wall, best_cpu = min(best_wall, w1 - w0), min(best_cpu, c1 - c0)
        print(f"{name}: {count} tokens, {mb:.3f} MB, {best_wall:.3f} s wall ({mb / best_wall:.2f} MB/s), "
              f"{best_cpu:.3f} s CPU ({mb / best_cpu:.2f} MB/s)")


if __name__ == "__main__":
    main()
