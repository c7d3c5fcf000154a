#!/usr/bin/env python3
"""Tekken oracle: builds a vocabulary-only GGUF from mistral-common's tekken_240911.json the way
llama.cpp's convert_hf_to_gguf.py does for Mistral tekken models (gguf-py/gguf/vocab.py MistralVocab:
the special tokens first as CONTROL, then every vocabulary token's bytes through GPT-2's
bytes_to_unicode as NORMAL, merges recovered from the ranks, pre-tokenizer "tekken"), then records
for every corpus text the ids from llama.cpp (llama-cpp-python) and from mistral-common; and the
ids llama.cpp gives with the same vocabulary under the llama-bpe, qwen2, gpt-2, smollm and default
pre-tokenizers (tekken-vocab-pretokenizers.jsonl), to check every pre-tokenizer end to end.

Writes Tests/Fixtures/tokenizer/tekken.jsonl and tekken.meta.json (special tokens and ids, which the
Swift test needs to build the same GGUF with GGUFWriter). The GGUF itself goes to .oracle/ (not
committed). Run: /work/main/.venv-oracle/bin/python scripts/oracle/tekken_fixtures.py
"""
import base64
import ctypes
import json
import os
from pathlib import Path

import gguf
import llama_cpp
import mistral_common
from mistral_common.tokens.tokenizers.tekken import Tekkenizer

OUT = "Tests/Fixtures/tokenizer"
TEKKEN = Path(mistral_common.__file__).parent / "data" / "tekken_240911.json"


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


BYTE_ENCODER = bytes_to_unicode()


def encode_bytes(b: bytes) -> str:
    return "".join(BYTE_ENCODER[x] for x in b)


def main():
    tek = Tekkenizer.from_file(TEKKEN)
    n_special = tek.num_special_tokens
    specials = [tek.id_to_piece(i) for i in range(n_special)]
    ranks = tek._model._mergeable_ranks  # bytes -> rank, rank order = id order after the specials
    by_rank = sorted(ranks.items(), key=lambda kv: kv[1])
    tokens = specials + [encode_bytes(b) for b, _ in by_rank]
    types = [gguf.TokenType.CONTROL] * n_special + [gguf.TokenType.NORMAL] * len(by_rank)
    merges = []
    for b, i in by_rank[256:]:
        local = [(b[:j], b[j:]) for j in range(1, len(b)) if b[:j] in ranks and b[j:] in ranks]
        assert local, f"no merge for rank {i}"
        local.sort(key=lambda lr: (ranks[lr[0]], ranks[lr[1]]))
        merges += [encode_bytes(l) + " " + encode_bytes(r) for l, r in local]
    pad = tek.pad_id if tek.pad_id != -1 else tek.eos_id

    os.makedirs(".oracle", exist_ok=True)

    def write(pre):
        path = f".oracle/tekken-vocab-{pre}.gguf"
        write_gguf(path, pre, tokens, types, merges, tek, pad)
        llm = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)
        return llm, llama_cpp.llama_model_get_vocab(llm.model)

    llm, vocab = write("tekken")

    def tokenize(data, add_special, parse_special, v=None):
        v = v or vocab
        n = len(data) + 16
        buf = (llama_cpp.llama_token * n)()
        r = llama_cpp.llama_tokenize(v, data, len(data), buf, n, add_special, parse_special)
        assert r >= 0
        return list(buf[:r])

    with open(f"{OUT}/corpus.jsonl", encoding="utf-8") as f:
        corpus = [json.loads(line) for line in f]
    # The same vocabulary under the other pre-tokenizers: llama.cpp's own splitters, end to end.
    others = {pre: write(pre) for pre in OTHER_PRES}
    with open(f"{OUT}/tekken-vocab-pretokenizers.jsonl", "w", encoding="utf-8") as f:
        for item in corpus:
            data = item["text"].encode("utf-8")
            row = {"id": item["id"]}
            for pre, (_, v) in others.items():
                row[pre] = tokenize(data, True, True, v)
            f.write(json.dumps(row) + "\n")
    agree = 0
    with open(f"{OUT}/tekken.jsonl", "w", encoding="utf-8") as f:
        for item in corpus:
            data = item["text"].encode("utf-8")
            row = {
                "id": item["id"],
                "ids": tokenize(data, True, True),
                "ids_nospecial": tokenize(data, True, False),
                "mistral": tek.encode(item["text"], bos=True, eos=False),
            }
            agree += row["ids_nospecial"] == row["mistral"]
            f.write(json.dumps(row) + "\n")
    meta = {
        "source": "mistral_common " + mistral_common.__version__ + " data/tekken_240911.json",
        "vocab_size": len(tokens), "num_special_tokens": n_special, "special_tokens": specials,
        "bos": tek.bos_id, "eos": tek.eos_id, "unk": tek.unk_id, "pad": pad, "n_merges": len(merges),
        "llama_cpp_agrees_with_mistral_common": f"{agree}/{len(corpus)}",
    }
    with open(f"{OUT}/tekken.meta.json", "w", encoding="utf-8") as f:
        json.dump(meta, f, ensure_ascii=False, indent=0)
        f.write("\n")
    print("tekken:", len(tokens), "tokens,", len(merges), "merges; llama.cpp == mistral-common on", meta["llama_cpp_agrees_with_mistral_common"])


OTHER_PRES = ["llama-bpe", "qwen2", "gpt-2", "smollm", "default"]


def write_gguf(path, pre, tokens, types, merges, tek, pad):
    w = gguf.GGUFWriter(path, "llama")
    # Minimal llama hyperparameters so llama.cpp loads the vocabulary.
    w.add_context_length(4096)
    w.add_embedding_length(64)
    w.add_block_count(1)
    w.add_feed_forward_length(128)
    w.add_head_count(4)
    w.add_head_count_kv(4)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(tek.bos_id)
    w.add_eos_token_id(tek.eos_id)
    w.add_unk_token_id(tek.unk_id)
    w.add_pad_token_id(pad)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main()
