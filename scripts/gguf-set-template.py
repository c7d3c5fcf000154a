#!/usr/bin/env python3
"""Copies a GGUF file with its `tokenizer.chat_template` replaced (added if absent); tensors unchanged.

  scripts/gguf-set-template.py IN.gguf OUT.gguf TEMPLATE_FILE

Used by the tests to serve a model whose template is hostile. Standard library only: the metadata is
parsed and rewritten as GGUF v3 lays it out (ggml's gguf.cpp / the gguf package's GGUFWriter): header,
key-value pairs, tensor infos, padding to `general.alignment` (32), tensor data. Tensor offsets are
relative to the data section, so they stay valid; only the padding before the data changes.
"""
import struct
import sys

# GGUF value types (ggml gguf.h): sizes of the fixed-width ones.
FIXED = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
STRING, ARRAY = 8, 9


def read_string(b, o):
    (n,) = struct.unpack_from("<Q", b, o)
    return b[o + 8:o + 8 + n], o + 8 + n


def skip_value(b, o, t):
    if t in FIXED:
        return o + FIXED[t]
    if t == STRING:
        return read_string(b, o)[1]
    if t == ARRAY:
        et, n = struct.unpack_from("<IQ", b, o)
        o += 12
        if et in FIXED:
            return o + FIXED[et] * n
        for _ in range(n):
            o = skip_value(b, o, et)
        return o
    raise SystemExit(f"unknown GGUF value type {t}")


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    src, dst, template_path = sys.argv[1:]
    template = open(template_path, "rb").read()
    with open(src, "rb") as f:
        b = f.read()
    magic, version, n_tensors, n_kv = struct.unpack_from("<4sIQQ", b, 0)
    if magic != b"GGUF" or version != 3:
        raise SystemExit(f"{src}: not a GGUF v3 file")
    o = 24
    kvs = []
    alignment = 32
    for _ in range(n_kv):
        start = o
        key, o = read_string(b, o)
        (t,) = struct.unpack_from("<I", b, o)
        o = skip_value(b, o + 4, t)
        if key == b"general.alignment":
            (alignment,) = struct.unpack_from("<I", b, o - 4)
        kvs.append((key, b[start:o]))
    infos_start = o
    for _ in range(n_tensors):
        _, o = read_string(b, o)
        (n_dims,) = struct.unpack_from("<I", b, o)
        o += 4 + 8 * n_dims + 4 + 8
    infos = b[infos_start:o]
    data_start = (o + alignment - 1) // alignment * alignment
    entry = struct.pack("<Q", 23) + b"tokenizer.chat_template" + struct.pack("<IQ", STRING, len(template)) + template
    kvs = [(k, e) for k, e in kvs if k != b"tokenizer.chat_template"] + [(b"tokenizer.chat_template", entry)]
    head = struct.pack("<4sIQQ", b"GGUF", 3, n_tensors, len(kvs)) + b"".join(e for _, e in kvs) + infos
    head += b"\0" * (-len(head) % alignment)
    with open(dst, "wb") as f:
        f.write(head)
        f.write(memoryview(b)[data_start:])


if __name__ == "__main__":
    main()
