#!/usr/bin/env bash
# The whole test suite against the addon built with AddressSanitizer and UndefinedBehaviorSanitizer:
# binding.cc, dispatch.cc and the kernels of every level, built by cmake-js from native/CMakeLists.txt
# (which reads binding.gyp). test/harness/run.sh sanitizes the kernels alone; this also covers the
# binding's argument checks and everything the TypeScript side passes to it. A failed test or any
# sanitizer report fails the run (exit status 1; 2 when the set-up or the build fails).
#
#   bash test/sanitize/run.sh [vitest arguments, e.g. test/golden.test.ts]
#
# Needs a checkout after `npm install` (node_modules), cmake (installed with apt-get when missing
# and root), g++ with libasan and libubsan, python3 and the Node headers that node-gyp uses. Only
# the native vitest project runs: the js project never loads the addon. The levels tested are
# those the CPU has (the suites switch between them; the line before the tests lists them).
#
# The sanitized addon is built in a copy of the checkout (its tracked files, and untracked ones not
# ignored), so the checkout's build/Release/simd_optim.node is never touched; node_modules is
# linked, not copied. SANITIZE_KEEP=1 keeps the copy and prints where it is.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
started=$SECONDS

elapsed() { printf '%dm%02ds' $(((SECONDS - started) / 60)) $(((SECONDS - started) % 60)); }
die() {
  echo "sanitize: ERROR: $*" >&2
  echo "sanitize: FAIL (set-up, $(elapsed))"
  exit 2
}

[ -x "$root/node_modules/.bin/cmake-js" ] && [ -x "$root/node_modules/.bin/vitest" ] ||
  die "no node_modules with cmake-js and vitest in $root: run npm install first"
command -v git >/dev/null || die "git is needed to list the files of the checkout"
if ! command -v cmake >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing cmake"
    apt-get install -y -qq cmake >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq cmake >/dev/null)
  fi
  command -v cmake >/dev/null || die "cmake is needed (Debian: apt-get install cmake)"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/simd-optim-sanitize.XXXXXX")"
if [ "${SANITIZE_KEEP:-0}" = 1 ]; then
  trap 'echo "sanitize: kept $work"' EXIT
else
  trap 'rm -rf "$work"' EXIT
fi
reports="$work/sanitizer-reports"
mkdir -p "$reports"

# --- a copy of the checkout ------------------------------------------------------------------
(
  cd "$root"
  git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' file; do
    [ -e "$file" ] && printf '%s\0' "$file" # tracked but deleted in the work tree: skip
  done | tar --null -T - -cf -
) | tar -C "$work" -xf -
ln -s "$root/node_modules" "$work/node_modules"
cd "$work"

# TypeScript first: scripts/esm-entry.mjs loads dist/index.js, and once the sanitized addon exists
# that would need the ASan runtime preloaded. The fallback keeps the compile step away from it.
echo "sanitize: compiling the TypeScript in $work"
SIMD_OPTIM_BACKEND=js npm run --silent compile

# --- the sanitized addon ---------------------------------------------------------------------
# cmake-js gives CMake the Node headers: node-api-headers only for a project whose package.json
# (next to CMakeLists.txt, here native/) declares binary.napi_versions, otherwise the full Node
# headers from npm_config_nodedir, or, if that has none, a download from nodejs.org. So: point it at
# the local headers node-gyp builds with, and at an unreachable mirror, so that a download can
# never happen (nothing but npm packages may be fetched at build time).
find_node_headers() {
  local dir candidates=("${npm_config_nodedir:-}")
  candidates+=("$(npm config get nodedir 2>/dev/null || true)")
  candidates+=("$(node -p 'require("path").resolve(process.execPath, "../..")')")
  candidates+=("$(node -p 'require("path").resolve(require("fs").realpathSync(process.execPath), "../..")')")
  for dir in "${candidates[@]}"; do
    if [ -n "$dir" ] && [ -f "$dir/include/node/node.h" ] && [ -f "$dir/include/node/node_api.h" ]; then
      echo "$dir"
      return 0
    fi
  done
  return 1
}
nodedir="$(find_node_headers)" ||
  die "no Node headers (include/node/node_api.h) under npm's nodedir or node's prefix; set npm_config_nodedir"
echo "sanitize: building the addon with -fsanitize=address,undefined (Node headers from $nodedir/include/node)"
build_started=$SECONDS
npm_config_nodedir="$nodedir" NVM_NODEJS_ORG_MIRROR="http://127.0.0.1:9/no-downloads" \
  ./node_modules/.bin/cmake-js build --directory native --out build --parallel "$(nproc)" ||
  die "the sanitized build failed"
echo "sanitize: built in $((SECONDS - build_started)) s"

# --- is it the sanitized addon that the tests load? -------------------------------------------
addon="$work/build/Release/simd_optim.node"
[ -f "$addon" ] || die "cmake-js produced no $addon"
# (grep without -q reads all of nm's output: under pipefail, nm killed by SIGPIPE would fail.)
calls() { local symbol=$1; shift; nm "$@" 2>/dev/null | grep " U $symbol" >/dev/null; }
calls __asan_report_ -D "$addon" || die "$addon calls no __asan_report_*: not instrumented"
calls __ubsan_handle_ -D "$addon" || die "$addon calls no __ubsan_handle_*: not instrumented"
kernel_libs=(build/libkernels_*.a)
[ -f "${kernel_libs[0]}" ] || die "no kernel libraries in build/"
for lib in "${kernel_libs[@]}"; do
  calls __asan_report_ "$lib" || die "$lib is not instrumented"
done
# The runtime the addon links, preloaded: an uninstrumented node must have it first in its library
# list. libubsan comes with the addon (it is a dependency of simd_optim.node).
libasan="$(ldd "$addon" | awk '$1 ~ /^libasan\.so/ { print $3 }')"
[ -f "$libasan" ] || die "$addon does not link libasan (ldd: $(ldd "$addon" | tr '\n' ' '))"

export LD_PRELOAD="$libasan${LD_PRELOAD:+ $LD_PRELOAD}"
# detect_leaks=0: node and V8 are not instrumented and do not free everything at exit, nor do the
# python3 and tsc processes some tests start (they inherit LD_PRELOAD), so LeakSanitizer would
# report their allocations, not the addon's (which allocates only its reused thread_local vectors).
# halt_on_error=1, exitcode=66: the first report ends the process that made it, which fails its test
# (or kills vitest's worker, which fails the run) even where a test only looks at a child's status.
# Reports are also collected, because a test that expects a child process to fail could swallow one:
#  - ASan writes each report to $reports (log_path), from whichever process;
#  - UBSan cannot: gcc's libubsan is a second runtime, and when it starts it hands its log_path to
#    __sanitizer_set_report_path, which resolves to libasan's (preloaded, so first), so UBSan
#    itself keeps writing to stderr (and ASan's later reports go to $reports/ubsan.<pid>, hence
#    the same directory). Its reports are found in vitest's output instead ("runtime error:").
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=0:exitcode=66:check_initialization_order=1:strict_init_order=1:detect_stack_use_after_return=1:log_path=$reports/asan:strip_path_prefix=$work/:color=never"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:report_error_type=1:exitcode=66:log_path=$reports/ubsan:strip_path_prefix=$work/:color=never"

SIMD_OPTIM_BACKEND=native node -e '
  const fs = require("node:fs");
  const expected = fs.realpathSync(process.argv[1]);
  const b = require("./dist/bridge/backend.js");
  const maps = fs.readFileSync("/proc/self/maps", "utf8");
  const problems = [];
  if (b.backend !== "native") problems.push(`backend is ${b.backend}`);
  if (!maps.includes(expected)) problems.push(`${expected} is not mapped`);
  if (!/\/libasan\.so/.test(maps)) problems.push("libasan is not mapped");
  if (!/\/libubsan\.so/.test(maps)) problems.push("libubsan is not mapped");
  if (problems.length) { console.error(problems.join("; ")); process.exit(1); }
  console.log(`sanitize: node loads ${expected} under ASan and UBSan; levels ${b.availableIsas().join(", ")}`);
' "$addon" || die "the sanitized addon is not the one that loads"

# --- the suite ---------------------------------------------------------------------------------
# The tests' temporary files go in the copy too: a process ended by a sanitizer runs no afterAll,
# and would otherwise leave its directories in /tmp.
mkdir -p "$work/tmp"
export TMPDIR="$work/tmp"
tests_started=$SECONDS
status=0
# --no-cache: vitest would write its results cache through the node_modules link into the checkout.
./node_modules/.bin/vitest run --project native --no-cache --reporter=default --reporter=json \
  --outputFile.json="$work/vitest.json" "$@" 2>&1 | tee "$work/vitest.log" || status=$?
echo "sanitize: vitest finished in $((SECONDS - tests_started)) s with status $status"
unset LD_PRELOAD

counts="$(node -e '
  try {
    const r = require(process.argv[1]);
    console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped of ${r.numTotalTests} tests`);
  } catch { console.log("no test results"); }
' "$work/vitest.json")"

# Every report: ASan's files, and what any sanitizer wrote to a stderr that reached vitest's output.
shopt -s nullglob
files=("$reports"/*)
sed 's/\x1b\[[0-9;]*m//g' "$work/vitest.log" | grep -a -o -E '[^ ]*: runtime error: .*|ERROR: [A-Za-z]+Sanitizer: .*' |
  sort -u >"$work/stderr-reports" || true
inline=$(wc -l <"$work/stderr-reports")
if [ ${#files[@]} -gt 0 ] || [ "$inline" -gt 0 ]; then
  echo "===== sanitizer reports ====="
  for file in "${files[@]}"; do grep -a -h -E '^SUMMARY: ' "$file" | sed "s|^|$(basename "$file"): |"; done
  cat "$work/stderr-reports"
  # The first reports in full (the rest are usually the same bug, reached by other tests).
  for file in "${files[@]:0:3}"; do
    echo "===== $(basename "$file") ====="
    cat "$file"
  done
fi

if [ $status -eq 0 ] && [ ${#files[@]} -eq 0 ] && [ "$inline" -eq 0 ]; then
  echo "sanitize: PASS: $counts under ASan+UBSan, no sanitizer reports ($(elapsed))"
else
  echo "sanitize: FAIL: vitest status $status, $((${#files[@]} + inline)) sanitizer report(s); $counts ($(elapsed))"
  exit 1
fi
