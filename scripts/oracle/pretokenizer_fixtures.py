#!/usr/bin/env python3
"""Writes Tests/Fixtures/tokenizer/pretokenizer.jsonl: for every corpus text, the words each BPE
pre-tokenizer splits it into, computed with Python's `regex` module on the patterns llama.cpp uses
(src/llama-vocab.cpp, llm_tokenizer_bpe), applied in sequence with std::regex_iterator semantics
(every match is a word, and so is each gap between matches).

Regenerate: python3 scripts/oracle/pretokenizer_fixtures.py   (needs `pip install regex`)
"""
import json
import regex

GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
LLAMA3 = (r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
          r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2 = (r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
         r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
TEKKEN = (r"[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+"
          r"|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*"
          r"|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+")

PRE = {
    "default": [r"[\p{P}\$\+<=>\^~\|]+", GPT2, r"\p{N}+", r"[0-9][0-9][0-9]"],
    "gpt2": [GPT2],
    "smollm": [r"\p{N}", GPT2],
    "llama3": [LLAMA3],
    "qwen2": [QWEN2],
    "tekken": [TEKKEN],
}


def split(pieces, pattern):
    out = []
    for p in pieces:
        gap = 0
        for m in regex.finditer(pattern, p):
            if m.start() > gap:
                out.append(p[gap:m.start()])
            out.append(m.group(0))
            gap = m.end()
        if gap < len(p):
            out.append(p[gap:])
    return out


with open("Tests/Fixtures/tokenizer/corpus.jsonl", encoding="utf-8") as f:
    corpus = [json.loads(line) for line in f]
with open("Tests/Fixtures/tokenizer/pretokenizer.jsonl", "w", encoding="utf-8") as f:
    for item in corpus:
        row = {"id": item["id"]}
        for name, patterns in PRE.items():
            pieces = [item["text"]] if item["text"] else []
            for pat in patterns:
                pieces = split(pieces, pat)
            row[name] = pieces
        f.write(json.dumps(row, ensure_ascii=False) + "\n")
print(len(corpus), "rows")
