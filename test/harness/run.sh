#!/usr/bin/env bash
# The kernels without Node: builds native/ for arm64 (scalar and NEON levels) with a cross compiler
# and runs them under qemu against outputs of the TypeScript specification, for every flag
# combination (make-cases.mjs). Needs g++-aarch64-linux-gnu and qemu-user (Debian packages) and a
# built dist/. .ci/run runs it when it can install those; npm test cannot reach NEON on x86-64.
# `run.sh x86` runs the same harness natively (scalar, SSE2, AVX2, AVX-512 levels); `run.sh asan`
# does so under AddressSanitizer and UndefinedBehaviorSanitizer (any finding aborts). It also fails
# when a kernel body is left out of its loop (see below).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/../.."
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

SANITIZE=()
if [ "${1:-arm64}" = asan ]; then
  SANITIZE=(-fsanitize=address,undefined -fno-sanitize-recover=all -g)
fi
if [ "${1:-arm64}" = x86 ] || [ "${1:-arm64}" = asan ]; then
  CXX="${CXX:-g++}"; LEVELS=(SCALAR SSE2 AVX2 AVX512); RUN=()
else
  CXX="${CXX:-aarch64-linux-gnu-g++}"; LEVELS=(SCALAR NEON); RUN=(qemu-aarch64)
fi
FLAGS=(-O3 -std=c++17 -ffp-contract=off -fno-math-errno -Wall -Wextra -Wno-maybe-uninitialized -Wno-uninitialized "${SANITIZE[@]}")
node "$here/make-cases.mjs"
objects=()
for level in "${LEVELS[@]}"; do
  case $level in
    SCALAR) extra=(-fno-tree-vectorize -fno-tree-slp-vectorize) ;;
    AVX2) extra=(-mavx2 -mfma) ;;
    AVX512) extra=(-mavx512f) ;;
    *) extra=() ;;
  esac
  for src in "$root"/native/*.cc; do
    name="$(basename "$src" .cc)"
    case $name in dispatch | pool) continue ;; esac  # not kernels: the addon's own
    grep -q '#include "binding.h"' "$src" && continue  # the N-API side (binding, async, plan, reduce)
    "$CXX" "${FLAGS[@]}" "${extra[@]}" -DSIMD_OPTIM_TARGET_$level -c "$src" -o "$out/$name.$level.o"
    # Every kernel body inlined into its loop: one left out of line is called per vector and
    # reloads its scalars each time (Adam at AVX2 ran 1.7x slower so; see forEachBlock in simd.h).
    # Not under the sanitizers, whose instrumentation changes what is inlined.
    if [ ${#SANITIZE[@]} -eq 0 ] && "${NM:-nm}" -C "$out/$name.$level.o" | grep -q 'operator()'; then
      echo "harness: native/$name.cc at $level calls a kernel body out of line:" >&2
      "${NM:-nm}" -C "$out/$name.$level.o" | grep 'operator()' | cut -c1-300 >&2
      exit 1
    fi
    objects+=("$out/$name.$level.o")
  done
done
"$CXX" "${FLAGS[@]}" $([ ${#SANITIZE[@]} -eq 0 ] && echo -static) "$root/native/dispatch.cc" "$here/harness.cc" "${objects[@]}" -o "$out/harness"
"${RUN[@]}" "$out/harness" "$here/cases.bin"
