#!/usr/bin/env python3
"""Writes Tests/Fixtures/quants/: quantized blocks with their dequantized floats (from the `gguf`
package's gguf.quants.dequantize) and activation quantization cases (Q8_0 from gguf.quants.quantize;
Q8_1 and Q8_K from the numpy reimplementations below, which follow ggml-quants.c
quantize_row_q8_1_ref / quantize_row_q8_K_ref).

Regenerate:
    python3 -m venv .venv-oracle && .venv-oracle/bin/pip install -r scripts/oracle/requirements-quant.txt
    .venv-oracle/bin/python scripts/oracle/quant_fixtures.py

Files (all little-endian, no headers):
    <type>.blocks  raw GGUF blocks of that type
    <type>.f32     the dequantized values as f32
    act_<q8_0|q8_1|q8_K>.f32    input activations
    act_<q8_0|q8_1|q8_K>.blocks the expected quantized blocks
"""
import os
import sys

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import GGML_QUANT_SIZES
from gguf.quants import dequantize, quantize, np_roundf

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Tests", "Fixtures", "quants")
rng = np.random.default_rng(20261126)

# fp16 bit patterns for scales: largest finite (±65504), smallest subnormal, largest subnormal, ±0, 1.0, small normal.
SPECIAL_F16 = [0x7BFF, 0xFBFF, 0x0001, 0x03FF, 0x0000, 0x8000, 0x3C00, 0x0400]

# Byte offsets of the fp16 scale fields per block (ggml-common.h block structs).
F16_FIELDS = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
    T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
}


def put_f16(block: np.ndarray, offset: int, bits: int) -> None:
    block[offset] = bits & 0xFF
    block[offset + 1] = bits >> 8


def random_f16_bits(n: int) -> np.ndarray:
    bits = rng.integers(0, 1 << 16, size=n, dtype=np.uint32).astype(np.uint16)
    nan = (bits & 0x7C00) == 0x7C00
    bits[nan] &= 0xFBFF  # exponent 30: keep it finite
    return bits


def block_fixture(qtype: T) -> np.ndarray:
    block_size, type_size = GGML_QUANT_SIZES[qtype]
    blocks = []
    # Realistic blocks: quantized from normal data where the package can quantize this type.
    try:
        data = rng.standard_normal(block_size * 2).astype(np.float32)
        blocks.append(quantize(data, qtype).reshape(-1, type_size))
    except NotImplementedError:
        pass
    # Random bytes with every special scale in every fp16 field, then plain random blocks.
    fields = F16_FIELDS[qtype]
    for k, special in enumerate(SPECIAL_F16):
        b = rng.integers(0, 256, size=type_size, dtype=np.uint16).astype(np.uint8)
        for f in fields:
            put_f16(b, f, int(random_f16_bits(1)[0]) & 0x3FFF)  # ordinary magnitude
        put_f16(b, fields[k % len(fields)], special)
        blocks.append(b.reshape(1, -1))
    for _ in range(4):
        b = rng.integers(0, 256, size=type_size, dtype=np.uint16).astype(np.uint8)
        for f in fields:
            put_f16(b, f, int(random_f16_bits(1)[0]))
        blocks.append(b.reshape(1, -1))
    return np.concatenate(blocks, axis=0)


def write(name: str, arr: np.ndarray) -> None:
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(arr.tobytes())


def f16_of(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float32).astype(np.float16).view(np.uint8).reshape(-1, 2)


def quantize_q8_1(x: np.ndarray) -> np.ndarray:
    """ggml-quants.c quantize_row_q8_1_ref: d = amax/127, q = roundf(x/d) (ties away), s = fp16(sum(q)*d)."""
    blocks = x.reshape(-1, 32).astype(np.float32)
    d = (np.abs(blocks).max(axis=1, keepdims=True) / np.float32(127)).astype(np.float32)
    with np.errstate(divide="ignore"):
        inv = np.where(d == 0, np.float32(0), np.float32(1) / d).astype(np.float32)
    q = np_roundf((blocks * inv).astype(np.float32)).astype(np.int8)
    s = (q.astype(np.int32).sum(axis=1, keepdims=True).astype(np.float32) * d).astype(np.float32)
    return np.concatenate([f16_of(d), f16_of(s), q.view(np.uint8)], axis=1)


def nearest_int(v: np.ndarray) -> np.ndarray:
    """ggml-quants.c nearest_int: add 1.5*2^23 in f32 and read the mantissa bits (round half to even)."""
    t = (v.astype(np.float32) + np.float32(12582912.0)).astype(np.float32)
    return (t.view(np.int32) & 0x007FFFFF) - 0x00400000


def quantize_q8_k(x: np.ndarray) -> np.ndarray:
    """ggml-quants.c quantize_row_q8_K_ref: signed max m, iscale = -127/m, q = min(127, nearest_int(iscale*x)),
    d = 1/iscale, bsums = sums of 16 quants."""
    out = []
    for blk in x.reshape(-1, 256).astype(np.float32):
        amax_i = int(np.argmax(np.abs(blk)))  # first index of the largest |x|, as the C loop's strict '>'
        mx = blk[amax_i]
        if np.abs(mx) == 0:
            d = np.float32(0)
            q = np.zeros(256, dtype=np.int8)
            bsums = np.zeros(16, dtype=np.int16)  # ref leaves bsums untouched; we define them as 0
        else:
            iscale = np.float32(np.float32(-127.0) / mx)
            q = np.minimum(127, nearest_int((iscale * blk).astype(np.float32))).astype(np.int8)
            bsums = q.astype(np.int32).reshape(16, 16).sum(axis=1).astype(np.int16)
            d = np.float32(np.float32(1.0) / iscale)
        out.append(np.concatenate([np.array([d], dtype=np.float32).view(np.uint8), q.view(np.uint8), bsums.view(np.uint8)]))
    return np.stack(out)


def activation_inputs(block: int) -> np.ndarray:
    rows = [
        rng.standard_normal(block),
        rng.standard_normal(block) * 1e5,
        rng.standard_normal(block) * 1e-6,          # fp16 scale becomes subnormal
        np.zeros(block),
        np.concatenate([[127.0, -127.0], (np.arange(block - 2) % 9 - 4) + 0.5]),  # d = 1: exact ties at .5
        np.concatenate([[-127.0], (np.arange(block - 1) % 7 - 3) + 0.5]),         # negative signed max
        rng.standard_normal(block) * 1e-30,         # fp16 scale underflows to 0
    ]
    return np.concatenate(rows).astype(np.float32)


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    for qtype in [T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K]:
        blocks = block_fixture(qtype)
        values = dequantize(blocks.reshape(-1), qtype).astype(np.float32)
        write(f"{qtype.name.lower()}.blocks", blocks)
        write(f"{qtype.name.lower()}.f32", values)
    f16 = np.concatenate([random_f16_bits(200), np.array(SPECIAL_F16 + [0x7C00, 0xFC00], dtype=np.uint16)])
    write("f16.blocks", f16)
    write("f16.f32", dequantize(f16.view(np.uint8), T.F16).astype(np.float32))
    bf16 = rng.integers(0, 1 << 16, size=208, dtype=np.uint32).astype(np.uint16)
    bf16[(bf16 & 0x7F80) == 0x7F80] &= 0xFF7F  # keep it finite
    write("bf16.blocks", bf16)
    write("bf16.f32", dequantize(bf16.view(np.uint8), T.BF16).astype(np.float32))
    f32 = rng.standard_normal(64).astype(np.float32)
    write("f32.blocks", f32)
    write("f32.f32", dequantize(f32.view(np.uint8), T.F32).astype(np.float32))

    x32 = activation_inputs(32)
    write("act_q8_0.f32", x32)
    write("act_q8_0.blocks", quantize(x32, T.Q8_0))
    write("act_q8_1.f32", x32)
    write("act_q8_1.blocks", quantize_q8_1(x32))
    x256 = activation_inputs(256)
    write("act_q8_k.f32", x256)
    write("act_q8_k.blocks", quantize_q8_k(x256))
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total} bytes to {os.path.normpath(OUT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
