#!/usr/bin/env python3
"""Random-text oracle: Tests/Fixtures/tokenizer/fuzz.jsonl holds 1000 random strings over all of
Unicode (rare scripts, unassigned code points, recently added characters, mixed with spaces, digits,
contractions) and, for each tokenizer, a hash of llama.cpp's ids (add_special and parse_special on):
the first 16 hex digits of SHA-256 over the ids as little-endian int32. Hashes keep the fixture
small; on a mismatch, rerun this script to see the ids.

Tokenizers: the gemma3-270m and smollm2-135m models, and the tekken vocabulary under each
pre-tokenizer (.oracle/tekken-vocab-<pre>.gguf, written by tekken_fixtures.py; run that first).
    /work/main/.venv-oracle/bin/python scripts/oracle/tokenizer_fuzz_fixtures.py
"""
import hashlib
import json
import os
import random
import struct

import llama_cpp

MODELS_DIR = os.environ.get("FEATHER_MODELS", ".models")
PRES = ["tekken", "llama-bpe", "qwen2", "gpt-2", "smollm", "default"]


def random_texts(n, seed=7):
    r = random.Random(seed)

    def cp():
        x = r.random()
        if x < 0.3:
            return r.randint(0x20, 0x7E)
        c = r.randint(0x80, 0xFFFF) if x < 0.7 else r.randint(0x10000, 0x3FFFF) if x < 0.9 else r.randint(0x40000, 0x10FFFF)
        return 0x41 if 0xD800 <= c <= 0xDFFF else c

    pieces = [" ", "  ", "\n", "'s", "'T", "12", "a", "Z", "\t", "é", "🤖", "<|im_end|>", "<end_of_turn>", "\r\n"]
    return ["".join(chr(cp()) if r.random() < 0.6 else r.choice(pieces) for _ in range(r.randint(1, 25))) for _ in range(n)]


def main():
    texts = random_texts(1000)
    configs = {name: os.path.join(MODELS_DIR, name + ".gguf") for name in ["gemma3-270m", "smollm2-135m"]}
    for pre in PRES:
        configs["tekken-vocab-" + pre] = f".oracle/tekken-vocab-{pre}.gguf"
    hashes = {}
    for name, path in configs.items():
        llm = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)
        v = llama_cpp.llama_model_get_vocab(llm.model)
        out = []
        for t in texts:
            d = t.encode("utf-8")
            n = len(d) + 16
            buf = (llama_cpp.llama_token * n)()
            k = llama_cpp.llama_tokenize(v, d, len(d), buf, n, True, True)
            assert k >= 0
            out.append(hashlib.sha256(struct.pack(f"<{k}i", *buf[:k])).hexdigest()[:16])
        hashes[name] = out
    with open("Tests/Fixtures/tokenizer/fuzz.jsonl", "w", encoding="utf-8") as f:
        for i, t in enumerate(texts):
            row = {"text": t}
            row.update({name: hashes[name][i] for name in configs})
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(len(texts), "texts,", len(configs), "tokenizers")


if __name__ == "__main__":
    main()
