#!/usr/bin/env python3
"""llama.cpp tokenizer oracle: writes, for each model, Tests/Fixtures/tokenizer/<model>.jsonl with the
token ids llama.cpp gives for every corpus text (Tests/Fixtures/tokenizer/corpus.jsonl), with and
without special-token parsing, and llama.cpp's detokenization of those ids; <model>.pieces.jsonl
with token_to_piece for a sample of ids; <model>.meta.json with special ids and the EOG set.

Uses llama-cpp-python (vocab only, through its ctypes API so nothing is truncated):
    /work/main/.venv-oracle/bin/python scripts/oracle/tokenizer_fixtures.py [MODEL...]
Models are looked up as $FEATHER_MODELS/<name>.gguf, else .models/<name>.gguf.
"""
import ctypes
import hashlib
import json
import os
import struct
import sys

import llama_cpp

MODELS_DIR = os.environ.get("FEATHER_MODELS", ".models")
OUT = "Tests/Fixtures/tokenizer"


def tokenize(vocab, data, add_special, parse_special):
    n = len(data) + 16
    buf = (llama_cpp.llama_token * n)()
    r = llama_cpp.llama_tokenize(vocab, data, len(data), buf, n, add_special, parse_special)
    if r < 0:
        n = -r
        buf = (llama_cpp.llama_token * n)()
        r = llama_cpp.llama_tokenize(vocab, data, len(data), buf, n, add_special, parse_special)
    assert r >= 0
    return list(buf[:r])


def detokenize(vocab, ids, remove_special, unparse_special):
    arr = (llama_cpp.llama_token * max(1, len(ids)))(*ids)
    n = 64 + 64 * len(ids)
    buf = ctypes.create_string_buffer(n)
    r = llama_cpp.llama_detokenize(vocab, arr, len(ids), buf, n, remove_special, unparse_special)
    if r < 0:
        n = -r + 1
        buf = ctypes.create_string_buffer(n)
        r = llama_cpp.llama_detokenize(vocab, arr, len(ids), buf, n, remove_special, unparse_special)
    assert r >= 0
    return buf.raw[:r]


def piece(vocab, token, special):
    n = 256
    buf = ctypes.create_string_buffer(n)
    r = llama_cpp.llama_token_to_piece(vocab, token, buf, n, 0, special)
    if r < 0:
        n = -r
        buf = ctypes.create_string_buffer(n)
        r = llama_cpp.llama_token_to_piece(vocab, token, buf, n, 0, special)
    return buf.raw[:r]


def main():
    names = sys.argv[1:] or ["gemma3-270m", "smollm2-135m"]
    with open(f"{OUT}/corpus.jsonl", encoding="utf-8") as f:
        corpus = [json.loads(line) for line in f]
    for name in names:
        path = os.path.join(MODELS_DIR, name + ".gguf")
        llm = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)
        vocab = llama_cpp.llama_model_get_vocab(llm.model)
        with open(f"{OUT}/{name}.jsonl", "w", encoding="utf-8") as f:
            for item in corpus:
                data = item["text"].encode("utf-8")
                ids = tokenize(vocab, data, True, True)
                row = {
                    "id": item["id"],
                    "ids": ids,
                    "ids_nospecial": tokenize(vocab, data, True, False),
                    "ids_noadd": tokenize(vocab, data, False, True),
                    # llama_detokenize(remove_special=False, unparse_special=False), hex of the bytes
                    "detok": detokenize(vocab, ids, False, False).hex(),
                    # llama_detokenize(remove_special=True, unparse_special=True)
                    "detok_special": detokenize(vocab, ids, True, True).hex(),
                }
                f.write(json.dumps(row) + "\n")
        n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)
        sample = sorted(set(range(min(n_vocab, 1200))) | set(range(0, n_vocab, 37)) | {n_vocab - 1})
        with open(f"{OUT}/{name}.pieces.jsonl", "w", encoding="utf-8") as f:
            for t in sample:
                f.write(json.dumps([t, piece(vocab, t, False).hex(), piece(vocab, t, True).hex()]) + "\n")

        def opt(v):
            return None if v < 0 else v

        meta = {
            "model": name,
            "n_vocab": n_vocab,
            "bos": opt(llama_cpp.llama_vocab_bos(vocab)),
            "eos": opt(llama_cpp.llama_vocab_eos(vocab)),
            "eot": opt(llama_cpp.llama_vocab_eot(vocab)),
            "pad": opt(llama_cpp.llama_vocab_pad(vocab)),
            "add_bos": bool(llama_cpp.llama_vocab_get_add_bos(vocab)),
            "add_eos": bool(llama_cpp.llama_vocab_get_add_eos(vocab)),
            "eog": [t for t in range(n_vocab) if llama_cpp.llama_vocab_is_eog(vocab, t)],
            "llama_cpp_python": llama_cpp.__version__,
        }
        # The whole Wikipedia sample, when present: its ids are too many to commit, so keep their hash
        # (SHA-256 of the ids as little-endian int32) next to the hash of the text they came from.
        wiki = os.path.join(os.environ.get("FEATHER_DATA", ".data"), "wiki.utf8")
        if os.path.exists(wiki):
            data = open(wiki, "rb").read()
            ids = tokenize(vocab, data, True, True)
            meta["wiki"] = {
                "text_sha256": hashlib.sha256(data).hexdigest(),
                "count": len(ids),
                "ids_sha256": hashlib.sha256(struct.pack(f"<{len(ids)}i", *ids)).hexdigest(),
            }
        with open(f"{OUT}/{name}.meta.json", "w", encoding="utf-8") as f:
            json.dump(meta, f, indent=1)
            f.write("\n")
        print(name, len(corpus), "texts", len(sample), "pieces")


if __name__ == "__main__":
    main()
