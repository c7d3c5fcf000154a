#!/usr/bin/env python3
"""Write `feather inspect` oracle fixtures with the reference `gguf` package (gguf.GGUFReader).

    .venv-oracle/bin/python scripts/oracle/inspect_fixture.py [MODEL.gguf ...]

Default: the embedded models in $FEATHER_MODELS (else .models/): gemma3-270m, smollm2-135m.
Writes Tests/Fixtures/inspect/<shortname>.json (shortname = file name without .gguf) and
Tests/Fixtures/inspect/ggml_type_sizes.json.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from collections import OrderedDict
from importlib.metadata import version
from pathlib import Path

import gguf
from gguf import GGUFReader, GGUFValueType

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests" / "Fixtures" / "inspect"
DEFAULT_MODELS = ["gemma3-270m", "smollm2-135m"]
SCRIPT = "scripts/oracle/inspect_fixture.py"


def source(extra: dict | None = None) -> dict:
    s = {"script": SCRIPT, "package": f"gguf=={version('gguf')}",
         "python": ".".join(map(str, sys.version_info[:3]))}
    s.update(extra or {})
    return s


def ggml_type_name(t: gguf.GGMLQuantizationType) -> str:
    # ggml's own names (ggml_type_name): lowercase, except the k-quant suffix "_K".
    n = t.name.lower()
    return n[:-2] + "_K" if n.endswith("_k") else n


def value_type_name(vt: GGUFValueType) -> str:
    return vt.name.lower()  # uint8 ... float64, bool, string, array


def field_value(field) -> object:
    vt = field.types[0]
    if vt == GGUFValueType.ARRAY:
        elem = value_type_name(field.types[1]) if len(field.types) > 1 else None
        return {"array_type": elem, "count": len(field.data)}
    v = field.contents()
    if vt in (GGUFValueType.FLOAT32, GGUFValueType.FLOAT64):
        return float(v)
    if vt == GGUFValueType.BOOL:
        return bool(v)
    if vt == GGUFValueType.STRING:
        return str(v)
    return int(v)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def inspect(path: Path) -> dict:
    r = GGUFReader(str(path))
    fields = r.fields

    def get(key):
        f = fields.get(key)
        return field_value(f) if f is not None else None

    arch = get("general.architecture")
    metadata, metadata_types = OrderedDict(), OrderedDict()
    for key, f in fields.items():
        if key.startswith("GGUF.") or key == "tokenizer.chat_template":
            continue
        metadata[key] = field_value(f)
        metadata_types[key] = value_type_name(f.types[0])
    hparams = OrderedDict((k, v) for k, v in metadata.items() if k.startswith(f"{arch}."))

    by_type: dict[str, dict] = {}
    tensors = []
    n_params = 0
    for t in r.tensors:
        name = ggml_type_name(t.tensor_type)
        d = by_type.setdefault(name, {"id": int(t.tensor_type), "tensors": 0, "elements": 0, "bytes": 0})
        d["tensors"] += 1
        d["elements"] += int(t.n_elements)
        d["bytes"] += int(t.n_bytes)
        n_params += int(t.n_elements)
        tensors.append({
            "name": t.name,
            "type": name,
            "shape": [int(x) for x in t.shape],  # ggml order: ne[0] (contiguous) first
            "elements": int(t.n_elements),
            "bytes": int(t.n_bytes),
            "offset": int(t.data_offset) - int(r.data_offset),  # relative to the data section
        })

    file_type = get("general.file_type")
    try:
        file_type_name = gguf.LlamaFileType(file_type).name if file_type is not None else None
    except ValueError:
        file_type_name = None
    tmpl = fields.get("tokenizer.chat_template")
    tokens = fields.get("tokenizer.ggml.tokens")
    tmpl_text = tmpl.contents() if tmpl is not None else None

    return OrderedDict([
        ("_source", source({"file": path.name, "sha256": sha256_file(path)})),
        ("file_bytes", path.stat().st_size),
        ("gguf_version", int(fields["GGUF.version"].contents())),
        ("kv_count", int(fields["GGUF.kv_count"].contents())),
        ("alignment", int(r.alignment)),
        ("data_offset", int(r.data_offset)),
        ("general", OrderedDict([
            ("architecture", arch),
            ("name", get("general.name")),
            ("size_label", get("general.size_label")),
            ("license", get("general.license")),
            ("file_type", file_type),
            ("file_type_name", file_type_name),  # gguf.LlamaFileType, e.g. MOSTLY_Q4_K_M
            ("quantization_version", get("general.quantization_version")),
        ])),
        ("tensor_count", len(r.tensors)),
        ("parameter_count", n_params),
        ("tensor_types", OrderedDict(sorted(by_type.items(), key=lambda kv: kv[1]["id"]))),
        ("hyperparameters", hparams),
        ("tokenizer", OrderedDict([
            ("model", get("tokenizer.ggml.model")),
            ("pre", get("tokenizer.ggml.pre")),
            ("vocab_size", len(tokens.data) if tokens is not None else None),
            ("bos_token_id", get("tokenizer.ggml.bos_token_id")),
            ("eos_token_id", get("tokenizer.ggml.eos_token_id")),
            ("has_chat_template", tmpl is not None),
            ("chat_template_sha256",
             hashlib.sha256(tmpl_text.encode("utf-8")).hexdigest() if tmpl_text is not None else None),
        ])),
        ("metadata", metadata),
        ("metadata_types", metadata_types),
        ("tensors", tensors),
    ])


def type_sizes() -> dict:
    sizes = []
    for t, (block, size) in sorted(gguf.constants.GGML_QUANT_SIZES.items(), key=lambda kv: int(kv[0])):
        sizes.append({"id": int(t), "name": ggml_type_name(t), "block_size": block, "type_size": size})
    missing = [ggml_type_name(t) for t in gguf.GGMLQuantizationType if t not in gguf.constants.GGML_QUANT_SIZES]
    return OrderedDict([("_source", source({"from": "gguf.constants.GGML_QUANT_SIZES"})),
                        ("types", sizes), ("types_without_size", missing)])


def write(path: Path, obj: dict) -> None:
    path.write_text(json.dumps(obj, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT)}")


def main(argv: list[str]) -> int:
    if argv:
        paths = [Path(a) for a in argv]
    else:
        d = Path(os.environ.get("FEATHER_MODELS", ".models"))
        d = d if d.is_absolute() else ROOT / d
        paths = [d / f"{n}.gguf" for n in DEFAULT_MODELS]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"error: missing model file(s): {', '.join(missing)} (run scripts/fetch-models.sh)",
              file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    for p in paths:
        write(OUT / f"{p.name.removesuffix('.gguf')}.json", inspect(p))
    write(OUT / "ggml_type_sizes.json", type_sizes())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
