#!/usr/bin/env bash
# Installs what tsbpf needs from Debian's packages on a fresh machine (run as root):
# clang-19/llvm-19 to build BPF C, bpftool and libbpf-dev (BPF headers, the C side of the
# benchmarks), a C toolchain for the native addon, iproute2 for network tests, systemtap-sdt-dev
# (<sys/sdt.h>) for the USDT probes of the uprobe test binary.
# It also mounts bpffs and tracefs when they are missing.
set -euo pipefail
pkgs=(clang-19 llvm-19 bpftool libbpf-dev linux-libc-dev gcc g++ make python3 iproute2 pkg-config systemtap-sdt-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing packages: ${missing[*]}; run as root: sudo bash scripts/setup.sh" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ "$(id -u)" -eq 0 ]; then
  if ! mount | grep -q "on /sys/fs/bpf type bpf"; then
    mkdir -p /sys/fs/bpf && mount -t bpf bpf /sys/fs/bpf || echo "setup: could not mount bpffs at /sys/fs/bpf" >&2
  fi
  if [ ! -d /sys/kernel/tracing/events ]; then
    mount -t tracefs tracefs /sys/kernel/tracing || echo "setup: could not mount tracefs at /sys/kernel/tracing" >&2
  fi
fi
echo "setup: system packages ready; now run: npm install"
