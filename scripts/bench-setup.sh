#!/usr/bin/env bash
# Installs what `npm run bench` needs on a Debian machine (run as root; `npm run bench` calls it):
#   libbpf-dev + cc + make   the C libbpf side (bench/c)
#   golang-go + golang-github-cilium-ebpf-dev   the Go cilium/ebpf side (bench/go), built offline
#                            from Debian's sources in /usr/share/gocode (GOPATH mode, no module proxy)
#   python3-bpfcc            the Python bcc side (bench/python)
#   linux-headers-amd64      bcc compiles its map declarations with kernel headers; when the running
#                            kernel has none (/lib/modules/$(uname -r)/build), Debian's are merged
#                            into /var/cache/tsbpf-bench/kheaders for BCC_KERNEL_SOURCE
#   bpftool                  the CLI cold-start comparison
# Whatever cannot be installed is reported and its column shows "n/a" with the reason; the
# benchmark still runs. Set TSBPF_BENCH_NO_INSTALL=1 to skip installing.
set -u

if [ "${TSBPF_BENCH_NO_INSTALL:-}" = 1 ]; then
  echo "bench-setup: TSBPF_BENCH_NO_INSTALL=1, installing nothing" >&2
  exit 0
fi

need=()
have_pkg() { dpkg-query -W -f '${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for p in libbpf-dev make gcc golang-go golang-github-cilium-ebpf-dev python3-bpfcc bpftool; do
  have_pkg "$p" || need+=("$p")
done
headers=""
if [ ! -e "/lib/modules/$(uname -r)/build" ]; then
  case "$(dpkg --print-architecture 2>/dev/null)" in
    amd64) headers=linux-headers-amd64 ;;
    arm64) headers=linux-headers-arm64 ;;
  esac
  if [ -n "$headers" ] && ! have_pkg "$headers"; then need+=("$headers"); fi
fi

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "bench-setup: not root, cannot install: ${need[*]}" >&2
  else
    echo "bench-setup: installing ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null 2>&1 || echo "bench-setup: apt-get update failed" >&2
    # One at a time, so that one missing package does not stop the others.
    for p in "${need[@]}"; do
      apt-get install -y -qq --no-install-recommends "$p" >/dev/null 2>&1 \
        || echo "bench-setup: could not install $p (its benchmark column will show n/a)" >&2
    done
  fi
fi

# A kernel headers tree bcc accepts: Debian splits it into -common (sources) and -<arch> (generated
# headers, .config); bcc wants one directory, so merge both as symlink trees (about 60 MB of links).
if [ -n "$headers" ]; then
  dest=/var/cache/tsbpf-bench/kheaders
  common=$(ls -d /usr/src/linux-headers-*-common 2>/dev/null | sort -V | tail -1)
  arch=$(ls -d /usr/src/linux-headers-*-"${headers#linux-headers-}" 2>/dev/null | sort -V | tail -1)
  if [ -n "$common" ] && [ -n "$arch" ]; then
    stamp="$common $arch"
    if [ "$(cat "$dest/.tsbpf-stamp" 2>/dev/null)" != "$stamp" ]; then
      rm -rf "$dest" && mkdir -p "$dest" \
        && cp -rs "$common/." "$dest/" && cp -rsf "$arch/." "$dest/" \
        && echo "$stamp" > "$dest/.tsbpf-stamp" \
        || echo "bench-setup: could not prepare $dest for bcc" >&2
    fi
  else
    echo "bench-setup: no Debian kernel headers under /usr/src; bcc (Python column) may not compile" >&2
  fi
fi

# bpffs for the pinned 1M-entry dump map.
if ! mountpoint -q /sys/fs/bpf 2>/dev/null; then
  mount -t bpf bpf /sys/fs/bpf 2>/dev/null || echo "bench-setup: could not mount bpffs at /sys/fs/bpf" >&2
fi
exit 0
