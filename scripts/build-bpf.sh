#!/usr/bin/env bash
# Build every BPF C source (*.bpf.c) under test/bpf/, test/parity/, test/fixtures/asm/ and
# examples/ into a .bpf.o next to it.
#
#   scripts/build-bpf.sh            rebuild all objects in place
#   scripts/build-bpf.sh FILE...    rebuild only the given .bpf.c sources
#   scripts/build-bpf.sh --check    rebuild into a temporary directory and fail,
#                                   listing the files, if a committed .bpf.o
#                                   differs from what its source builds to (CI)
#
# Flags: -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 -I include -I <dir>.
# A source can append flags with a line "// build-bpf: <flags>".
#
# Environment:
#   CLANG        compiler to use (default: clang-19)
#   BPFTOOL      bpftool used to generate include/vmlinux.h (default: bpftool)
#   VMLINUX_BTF  kernel BTF to dump vmlinux.h from (default: /sys/kernel/btf/vmlinux)
#
# Reproducibility: the same compiler and the same inputs give byte-identical
# objects wherever the repository is checked out. Sources are compiled by
# relative paths from a copy at a fixed-length path (see below), the debug
# info's compilation directory and that prefix are rewritten to ".", so no
# machine-specific path ends up in an object; -fno-ident keeps the compiler's
# version string out of the DWARF producer field. Code generation still
# varies between clang releases, so compare objects (--check) only with the
# same clang (CI: clang-19).
#
# include/vmlinux.h (kernel types for CO-RE programs) is committed; when it is
# missing it is generated from the running kernel's BTF (objects that include
# it then differ from the committed ones unless the kernel BTF is the same).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

CLANG="${CLANG:-clang-19}"
BPFTOOL="${BPFTOOL:-bpftool}"
VMLINUX_BTF="${VMLINUX_BTF:-/sys/kernel/btf/vmlinux}"
VMLINUX_H="include/vmlinux.h"

die() { echo "build-bpf: $*" >&2; exit 1; }

check=0
sources=()
for arg in "$@"; do
  case "$arg" in
    --check) check=1 ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    -*) die "unknown option: $arg (try --help)" ;;
    *)
      # Accept absolute paths too, but compile by the path relative to ROOT.
      src="$(realpath --relative-to="$ROOT" "$arg")"
      [[ "$src" == *.bpf.c && -f "$src" ]] || die "not a .bpf.c source: $arg"
      sources+=("$src")
      ;;
  esac
done

command -v "$CLANG" >/dev/null || die "$CLANG not found (set CLANG=...)"

if [[ ${#sources[@]} -eq 0 ]]; then
  # Sorted with the C locale so the build order (and output) is stable.
  mapfile -t sources < <(find test/bpf test/parity test/fixtures/asm examples -name '*.bpf.c' -type f 2>/dev/null | LC_ALL=C sort)
fi
[[ ${#sources[@]} -gt 0 ]] || die "no *.bpf.c sources found"

# Generate include/vmlinux.h if any source needs it and it is missing.
if [[ ! -s "$VMLINUX_H" ]] && grep -lq '^[[:space:]]*#[[:space:]]*include[[:space:]]*["<]vmlinux\.h[">]' "${sources[@]}"; then
  command -v "$BPFTOOL" >/dev/null || die "$VMLINUX_H is missing and $BPFTOOL is not installed"
  [[ -r "$VMLINUX_BTF" ]] || die "$VMLINUX_H is missing and $VMLINUX_BTF is not readable"
  echo "  GEN     $VMLINUX_H (from $VMLINUX_BTF)"
  tmp_h="$(mktemp "$VMLINUX_H.XXXXXX")"
  if ! "$BPFTOOL" btf dump file "$VMLINUX_BTF" format c >"$tmp_h"; then
    rm -f "$tmp_h"
    die "bpftool btf dump failed"
  fi
  chmod 644 "$tmp_h"
  mv "$tmp_h" "$VMLINUX_H"
fi

# <linux/bpf.h> includes <asm/types.h>, which Debian/Ubuntu keep in a
# multiarch directory that clang does not search for -target bpf. It is added
# after the normal system directories so it never shadows anything.
# The objects target x86 (-D__TARGET_ARCH_x86), so prefer the x86-64 headers.
sys_inc=()
for d in /usr/include/x86_64-linux-gnu "/usr/include/$(uname -m)-linux-gnu"; do
  if [[ -f "$d/asm/types.h" ]]; then
    sys_inc=(-idirafter "$d")
    break
  fi
done

# clang's BTF writer orders some forward declarations by heap address, and the heap layout
# depends on the length of the (real) paths clang opens, so a checkout at /a and one at
# /longer/path give different, equally valid objects. So every source is compiled from a copy
# of the sources and headers in a fresh /tmp/tsbpf-bpf.XXXXXX/repo: a path of the same length
# on every machine.
stage="$(mktemp -d /tmp/tsbpf-bpf.XXXXXX)"
trap 'rm -rf "$stage"' EXIT
BUILD_ROOT="$stage/repo"
mkdir -p "$BUILD_ROOT"
find include test/bpf test/parity test/fixtures/asm examples \( -name '*.c' -o -name '*.h' \) -type f -print0 2>/dev/null |
  xargs -0 cp --parents -t "$BUILD_ROOT"

CFLAGS=(
  -g -O2 -target bpf -mcpu=v3
  -D__TARGET_ARCH_x86
  -Wall -Wno-unused-function
  -fdebug-compilation-dir=.
  "-fdebug-prefix-map=$BUILD_ROOT=."
  -fno-ident
)

# A source may add or override flags with lines of the form
#   // build-bpf: -mcpu=v2
# (appended after the defaults, so they win). Only options are accepted.
source_flags() { # source_flags SRC -> one flag per line
  local line flag
  while IFS= read -r line; do
    for flag in $line; do
      [[ "$flag" == -* ]] || die "$1: bad flag in '// build-bpf:' line: $flag"
      printf '%s\n' "$flag"
    done
  done < <(sed -n 's|^// build-bpf:[[:space:]]*||p' "$1")
}

compile() { # compile SRC OUT (OUT relative to the repository)
  local src="$1" out="$2" extra
  mapfile -t extra < <(source_flags "$src")
  (
    cd "$BUILD_ROOT"
    "$CLANG" "${CFLAGS[@]}" "${extra[@]}" -I include -I "$(dirname "$src")" "${sys_inc[@]}" \
      -c "$src" -o "${src%.c}.o"
  ) || return 1
  mkdir -p "$(dirname "$out")"
  mv "$BUILD_ROOT/${src%.c}.o" "$out"
}

if [[ $check -eq 0 ]]; then
  for src in "${sources[@]}"; do
    out="${src%.c}.o"
    echo "  CLANG   $out"
    compile "$src" "$out.tmp" || { rm -f "$out.tmp"; die "failed to compile $src"; }
    mv "$out.tmp" "$out"
  done
  exit 0
fi

# --check: build into a temporary tree and compare with the committed objects.
tmpdir="$stage/out"
bad=()
for src in "${sources[@]}"; do
  out="${src%.c}.o"
  compile "$src" "$tmpdir/$out" || die "failed to compile $src"
  if [[ ! -f "$out" ]]; then
    bad+=("$out (missing; run scripts/build-bpf.sh)")
  elif ! cmp -s "$out" "$tmpdir/$out"; then
    bad+=("$out (differs from a build of $src)")
  fi
done
if [[ ${#bad[@]} -gt 0 ]]; then
  echo "build-bpf: ${#bad[@]} object(s) out of date:" >&2
  printf '  %s\n' "${bad[@]}" >&2
  echo "build-bpf: rebuild with scripts/build-bpf.sh and commit the objects" >&2
  exit 1
fi
echo "build-bpf: all ${#sources[@]} objects match their sources"
