#!/usr/bin/env bash
# Runs kernel tests in a VM with one of Debian bookworm's distribution kernels, for what the host
# kernel cannot do: 6.1 (the default: kprobes, BPF trampolines, BPF LSM; no CONFIG_FPROBE, so
# kprobe.multi falls back to one kprobe per function) or 6.12 (also kprobe.multi and
# uprobe.multi links, tcx). `npm run test:vm` builds and calls it with --all.
#
#   scripts/vm/run.sh                        the tests in the kernel's selection file
#   scripts/vm/run.sh --all                  both kernels, each with its selection; fails if either fails
#   scripts/vm/run.sh FILE [--test-name-pattern=RE]...   one compiled test file instead
#   scripts/vm/run.sh --shell                an interactive shell in the guest (Ctrl-A X quits qemu)
#   scripts/vm/run.sh --exec 'COMMAND'       run a shell command in the guest (in the repository)
#
# Options:
#   --kernel SERIES    6.1 (default; env TSBPF_VM_SERIES) or 6.12
#   --selection FILE   selection file (default test/vm/selection.txt for 6.1,
#                      test/vm/selection-6.12.txt for 6.12; env TSBPF_VM_SELECTION; format in
#                      scripts/vm/plan.mjs)
#   --timeout SECS     limit for the whole VM run (default 480; env TSBPF_VM_TIMEOUT)
#   --keep             keep the job directory (.vm/jobs/...) even when everything passed
#   --refresh-kernel   look for a newer kernel package even when one is cached
#   --console          copy the guest's serial console to stdout while it runs
#
# How: the kernel package (6.1: linux-image-6.1.0-<newest>-amd64; 6.12:
# linux-image-6.12.<newest>+deb12-amd64-unsigned; found with apt-cache) is fetched with
# `apt-get download` and unpacked with `dpkg-deb -x` into .vm/kernel/<version>/ (cached; its
# uncompressed vmlinux is extracted to boot through qemu's PVH entry, faster than the bzImage;
# xz-compressed modules, as 6.12 ships them, are decompressed for busybox insmod/modprobe). An
# initramfs of busybox-static, scripts/vm/init.sh and the virtio/9p/overlay modules (those the
# kernel does not have built in) is made with busybox cpio. qemu (TCG: /dev/kvm on these machines
# cannot run a stock kernel) shares the host's root read-only over 9p (an overlay with a tmpfs
# upper layer makes it writable in the guest) and a job directory writable; the guest runs node's
# test runner on the host's node and compiled tests with CI=true TSBPF_EXPECT_KPROBES=1
# TSBPF_EXPECT_TRAMPOLINES=1 TSBPF_EXPECT_LSM=1, TSBPF_VM_SERIES=<series> and what the kernel is
# known to have (TSBPF_EXPECT_KPROBE_MULTI, TSBPF_EXPECT_UPROBE_MULTI, TSBPF_EXPECT_TCX: 1 or 0,
# so a test that finds another mechanism fails), and writes TAP there; scripts/vm/report.mjs
# prints a row per test. Exits non-zero on a failed or missing test, a boot problem or a timeout.
# Needs root for apt-get (when something is missing).
#
# Environment: TSBPF_VM_KERNEL (a package version such as 6.1.0-56-amd64 or
# 6.12.107+deb12-amd64, default the newest cached one of the series, else the newest apt knows),
# TSBPF_VM_MEM (MiB, default 1024: more slows the boot down), TSBPF_VM_CPUS (default: host CPUs,
# at most 4), TSBPF_VM_TIMEOUT, TSBPF_VM_DIR (work directory, default .vm in the repository). In
# the guest, tests also see TSBPF_VM=1.
set -Eeuo pipefail
trap 'echo "test:vm: error: \"$BASH_COMMAND\" failed (scripts/vm/run.sh line $LINENO)" >&2' ERR

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
HERE="$ROOT/scripts/vm"
WORK="${TSBPF_VM_DIR:-$ROOT/.vm}"
# What the guest's init needs before it can mount anything, loaded with insmod after what they
# depend on (from modules.dep: 6.1's 9p needs netfs and fscache, 6.12's 9pnet needs netfs); a
# module the kernel has built in (modules.builtin: 6.12's virtio) is skipped.
MODULES=(virtio_pci 9pnet_virtio 9p overlay)
GUEST_ENV="CI=true TSBPF_EXPECT_KPROBES=1 TSBPF_EXPECT_TRAMPOLINES=1 TSBPF_EXPECT_LSM=1 TSBPF_VM=1"

say() { echo "test:vm: $*"; }
die() { echo "test:vm: error: $*" >&2; exit 2; }
now_ms() { date +%s%3N; }
secs() { awk -v ms="$1" 'BEGIN { printf "%.1f s", ms / 1000 }'; }

shell=0 keep=0 refresh=0 console=0 all=0 exec_cmd=""
series="${TSBPF_VM_SERIES:-6.1}"
selection="${TSBPF_VM_SELECTION:+$(realpath "$TSBPF_VM_SELECTION")}"
timeout_s="${TSBPF_VM_TIMEOUT:-480}"
tests=()
while (($#)); do
  case "$1" in
    --all) all=1; shift; continue ;;
    --kernel) series="${2:?--kernel needs 6.1 or 6.12}"; shift ;;
    --kernel=*) series="${1#*=}" ;;
    --shell) shell=1 ;;
    --exec) exec_cmd="${2:?--exec needs a command}"; shift ;;
    --keep) keep=1 ;;
    --refresh-kernel) refresh=1 ;;
    --console) console=1 ;;
    --selection) selection="$(realpath "${2:?--selection needs a file}")"; shift ;;
    --selection=*) selection="$(realpath "${1#*=}")" ;;
    --timeout) timeout_s="${2:?--timeout needs seconds}"; shift ;;
    --timeout=*) timeout_s="${1#*=}" ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    --) shift; tests+=("$@"); break ;;
    --test-*) tests+=("$1") ;;
    -*) die "unknown option $1 (try --help)" ;;
    *) tests+=("$1") ;;
  esac
  shift
done
[[ "$timeout_s" =~ ^[0-9]+$ ]] || die "--timeout wants whole seconds, not '$timeout_s'"
t_start=$(now_ms)

# --- both kernels --------------------------------------------------------------------------------
if ((all)); then
  if ((shell)) || [[ -n "$exec_cmd" || -n "$selection" ]] || ((${#tests[@]})); then
    die "--all runs each kernel's own selection: drop --selection (TSBPF_VM_SELECTION), FILE, --shell and --exec"
  fi
  pass=(--timeout "$timeout_s")
  ((keep)) && pass+=(--keep)
  ((refresh)) && pass+=(--refresh-kernel)
  ((console)) && pass+=(--console)
  summary=() failed=0
  for s in 6.1 6.12; do
    echo "test:vm: ======================================== kernel $s"
    t0=$(now_ms) rc=0
    # Its own process: a fresh job directory, trap and exit code per kernel.
    TSBPF_VM_KERNEL="" bash "$0" --kernel "$s" "${pass[@]}" || rc=$?
    ((rc == 0)) || failed=1
    summary+=("$(printf '  %-5s %-7s %s' "$s" "$( ((rc == 0)) && echo passed || echo "FAILED($rc)")" "$(secs $(($(now_ms) - t0)))")")
  done
  say "per kernel (result, wall time):"
  printf '%s\n' "${summary[@]}"
  ((failed)) && { echo "test:vm: FAILED on at least one kernel (see its table above)" >&2; exit 1; }
  say "all selected tests passed on both kernels; total $(secs $(($(now_ms) - t_start)))"
  exit 0
fi

# --- the kernel series ---------------------------------------------------------------------------
# What each series' package is called and what the guest's tests may expect from it.
case "$series" in
  6.1)
    pkg_re='^linux-image-6\.1\.0-[0-9]+-amd64$' pkg_suffix="" cached_glob="6.1.0-*"
    default_selection="$ROOT/test/vm/selection.txt"
    # No CONFIG_FPROBE (kprobe.multi falls back to kprobes); uprobe.multi and tcx are 6.6+.
    GUEST_ENV+=" TSBPF_VM_SERIES=6.1 TSBPF_EXPECT_KPROBE_MULTI=0 TSBPF_EXPECT_UPROBE_MULTI=0 TSBPF_EXPECT_TCX=0" ;;
  6.12)
    pkg_re='^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$' pkg_suffix="-unsigned" cached_glob="6.12.*"
    default_selection="$ROOT/test/vm/selection-6.12.txt"
    GUEST_ENV+=" TSBPF_VM_SERIES=6.12 TSBPF_EXPECT_KPROBE_MULTI=1 TSBPF_EXPECT_UPROBE_MULTI=1 TSBPF_EXPECT_TCX=1" ;;
  *) die "--kernel wants 6.1 or 6.12, not '$series'" ;;
esac
[[ -n "$selection" ]] || selection="$default_selection"

# --- tools ---------------------------------------------------------------------------------------
apt_updated=0
apt_update() {
  ((apt_updated)) && return 0
  [[ $(id -u) -eq 0 ]] || die "need root to run apt-get (sudo npm run test:vm)"
  say "apt-get update"
  apt-get update -qq || die "apt-get update failed (no network?): cannot fetch what the VM needs"
  apt_updated=1
}
need_pkgs=()
command -v qemu-system-x86_64 >/dev/null || need_pkgs+=(qemu-system-x86)
[[ -x /bin/busybox ]] && file_out="$(LC_ALL=C ldd /bin/busybox 2>&1 || true)" && [[ "$file_out" == *"not a dynamic"* ]] \
  || need_pkgs+=(busybox-static)
if ((${#need_pkgs[@]})); then
  apt_update
  say "apt-get install ${need_pkgs[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null \
    || die "apt-get install ${need_pkgs[*]} failed"
fi
command -v node >/dev/null || die "node is not installed"
NODE="$(command -v node)"

# --- kernel --------------------------------------------------------------------------------------
mkdir -p "$WORK/kernel" "$WORK/jobs"
newest_cached() {
  local d best=""
  for d in "$WORK"/kernel/$cached_glob/.complete; do
    [[ -e "$d" ]] && best="$(basename "$(dirname "$d")")"$'\n'"$best"
  done
  printf '%s' "$best" | sed '/^$/d' | sort -V | tail -n 1
}
kver="${TSBPF_VM_KERNEL:-}"
if [[ -z "$kver" ]] && ((!refresh)); then kver="$(newest_cached)"; fi
if [[ -z "$kver" ]]; then
  apt_update
  # (apt-cache search prints nothing, not an error, when the package lists are missing.)
  kver="$(apt-cache search --names-only "$pkg_re" | awk '{ print $1 }' \
    | sed "s/^linux-image-//; s/$pkg_suffix\$//" | sort -V | tail -n 1)"
  [[ -n "$kver" ]] || die "apt-cache knows no package matching $pkg_re: this needs Debian bookworm's package lists (and network)"
fi
KDIR="$WORK/kernel/$kver"
fetch_kernel() { # into $KDIR, atomically: unpacked in a temporary directory, then renamed
  say "fetching the kernel package linux-image-$kver$pkg_suffix"
  local t0 tmp deb vmlinuz off
  t0=$(now_ms)
  tmp="$(mktemp -d "$WORK/kernel/.fetch.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  # apt-get download writes into the current directory (as root it warns that _apt cannot).
  local get='apt-get download -q "$pkg" 2>&1 | grep -v unsandboxed >&2; exit "${PIPESTATUS[0]}"'
  if ! (cd "$tmp" && pkg="linux-image-$kver$pkg_suffix" bash -c "$get"); then
    apt_update
    (cd "$tmp" && pkg="linux-image-$kver$pkg_suffix" bash -c "$get") \
      || die "could not download linux-image-$kver$pkg_suffix (no network, or no such package): the VM tests cannot run"
  fi
  deb="$(ls "$tmp"/*.deb)"
  dpkg-deb -x "$deb" "$tmp/root" || die "dpkg-deb -x $deb failed"
  rm -f "$deb"
  vmlinuz="$tmp/root/boot/vmlinuz-$kver"
  [[ -f "$vmlinuz" ]] || die "the package has no boot/vmlinuz-$kver"
  # The bzImage carries the kernel as an XZ (6.1) or zstd (6.12) stream; the uncompressed ELF
  # boots through qemu's PVH entry, about 2 s faster under TCG. The bzImage stays the fallback.
  # (busybox's xz cannot decode the kernel's x86 BCJ filter: this needs xz-utils, or zstd.)
  local magic tool
  for magic in '\xfd7zXZ\x00:xz' '\x28\xb5\x2f\xfd:zstd'; do
    tool="${magic##*:}"
    command -v "$tool" >/dev/null || continue
    off="$(LC_ALL=C grep -obUaP "${magic%:*}" "$vmlinuz" | head -n 1 | cut -d: -f1 || true)"
    [[ -n "$off" ]] || continue
    # (zstd complains about the bytes after its frame: the output is complete all the same.)
    tail -c +"$((off + 1))" "$vmlinuz" | "$tool" -dc > "$tmp/root/vmlinux" 2>/dev/null || true
    if head -c 4 "$tmp/root/vmlinux" | grep -q ELF; then break; fi
    rm -f "$tmp/root/vmlinux"
  done
  # 6.12 ships its modules xz-compressed; busybox insmod/modprobe want them plain.
  local xzd=(xz -d)
  command -v xz >/dev/null || xzd=(busybox unxz)
  find "$tmp/root/lib/modules/$kver" -name '*.ko.xz' -print0 | xargs -0 -r -n 64 -P "$(nproc)" "${xzd[@]}" \
    || die "could not decompress the kernel's modules (${xzd[*]})"
  # modules.dep for busybox modprobe in the guest (the package leaves depmod to its postinst).
  busybox depmod -b "$tmp/root" "$kver" || die "busybox depmod failed"
  touch "$tmp/root/.complete"
  rm -rf "$KDIR"
  mv "$tmp/root" "$KDIR"
  rm -rf "$tmp"
  trap - EXIT
  say "kernel $kver unpacked in $(secs $(($(now_ms) - t0))) into ${KDIR#"$ROOT"/}"
}
if [[ ! -e "$KDIR/.complete" ]]; then
  # One fetch at a time: concurrent runs wait, then find it done.
  exec 9> "$WORK/kernel/.lock"
  flock 9
  [[ -e "$KDIR/.complete" ]] || fetch_kernel
  exec 9>&-
fi
kimage="$KDIR/vmlinux"
[[ -f "$kimage" ]] || kimage="$KDIR/boot/vmlinuz-$kver"

# --- job directory -------------------------------------------------------------------------------
# Old job directories (kept after failures) go once there are more than 10.
find "$WORK/jobs" -mindepth 1 -maxdepth 1 -type d | sort | head -n -10 | xargs -r rm -rf
JOB="$(mktemp -d "$WORK/jobs/$(date +%Y%m%d-%H%M%S)-XXXX")"
chmod 755 "$JOB"
qemu_pid="" tail_pid=""
cleanup() {
  local rc=$?
  [[ -n "$tail_pid" ]] && kill "$tail_pid" 2>/dev/null
  if [[ -n "$qemu_pid" ]] && kill -0 "$qemu_pid" 2>/dev/null; then
    # $qemu_pid is `timeout`, which runs in its own process group with qemu: TERM makes it
    # stop qemu; if that does not do it, kill the group.
    kill "$qemu_pid" 2>/dev/null || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$qemu_pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 -- "-$qemu_pid" 2>/dev/null || true
    say "stopped the VM"
  fi
  rm -f "$JOB/initramfs.cpio"
  if ((rc == 0 && !keep && !shell)) || [[ ! -e "$JOB/console.log" ]]; then rm -rf "$JOB"; elif [[ -d "$JOB" ]]; then say "job files kept in ${JOB#"$ROOT"/}"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ -n "$exec_cmd" ]]; then
  printf '%s\n' "$exec_cmd" > "$JOB/cmd.sh"
elif ((!shell)); then
  if ((${#tests[@]})); then
    "$NODE" "$HERE/plan.mjs" "$ROOT" "$JOB" - "${tests[@]}" || exit 2
  else
    "$NODE" "$HERE/plan.mjs" "$ROOT" "$JOB" "$selection" || exit 2
  fi
fi
# The syscaller test helper, built here in a fraction of a second rather than in the guest
# (~10 s there); test/helpers/kernel.ts uses it when TSBPF_SYSCALLER names it.
if command -v cc >/dev/null && cc -O2 -o "$JOB/syscaller" "$ROOT/test/helpers/syscaller.c" 2>/dev/null; then
  GUEST_ENV+=" TSBPF_SYSCALLER=$JOB/syscaller"
fi
cat > "$JOB/env" <<EOF
JOBDIR='$JOB'
REPO='$ROOT'
GUEST_ENV='$GUEST_ENV'
KMODDIR='$KDIR/lib/modules/$kver'
EOF

# --- initramfs -----------------------------------------------------------------------------------
ird="$JOB/initramfs"
mkdir -p "$ird/bin" "$ird/early"
cp /bin/busybox "$ird/bin/busybox"
cp "$HERE/init.sh" "$ird/init"
chmod 755 "$ird/init"
cp "$KDIR/boot/config-$kver" "$ird/config"
: > "$ird/early/modules.order"
moddir="$KDIR/lib/modules/$kver"
declare -A mod_added=()
add_module() { # $1: a path relative to $moddir (kernel/.../x.ko); its dependencies first
  local rel="$1" dep name
  [[ -n "${mod_added[$rel]:-}" ]] && return 0
  mod_added[$rel]=1
  for dep in $(awk -v m="$rel:" '$1 == m { $1 = ""; print; exit }' "$moddir/modules.dep"); do add_module "$dep"; done
  name="$(basename "$rel" .ko)"
  [[ -f "$moddir/$rel" ]] || die "module $rel (needed for the VM's 9p root) is not in linux-image-$kver"
  cp "$moddir/$rel" "$ird/early/$name.ko"
  echo "$name" >> "$ird/early/modules.order"
}
for m in "${MODULES[@]}"; do
  rel="$(awk -v m="/$m.ko:" 'substr($1, length($1) - length(m) + 1) == m { sub(/:$/, "", $1); print $1; exit }' "$moddir/modules.dep")"
  if [[ -z "$rel" ]]; then
    grep -q "/$m\.ko\$" "$moddir/modules.builtin" 2>/dev/null && continue
    die "module $m.ko is neither in linux-image-$kver nor built into it"
  fi
  add_module "$rel"
done
(cd "$ird" && find . | LC_ALL=C sort | busybox cpio -o -H newc 2>/dev/null) > "$JOB/initramfs.cpio" \
  || die "busybox cpio failed"
rm -rf "$ird"

# --- boot ----------------------------------------------------------------------------------------
cpus="${TSBPF_VM_CPUS:-$(nproc)}"
((cpus > 4)) && cpus=4
append="console=ttyS0 panic=-1 quiet loglevel=4 rdinit=/init lsm=lockdown,yama,integrity,apparmor,bpf"
((shell)) && append+=" tsbpf.shell=1"
qemu=(
  qemu-system-x86_64 -nodefaults -no-user-config -no-reboot -display none -vga none
  -accel tcg,thread=multi -cpu max -smp "$cpus" -m "${TSBPF_VM_MEM:-1024}"
  -kernel "$kimage" -initrd "$JOB/initramfs.cpio" -append "$append"
  -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
  -virtfs "local,path=$JOB,mount_tag=job,security_model=none,multidevs=remap"
)
if ((shell)); then
  say "booting linux $kver into a shell (exit or Ctrl-D powers off; Ctrl-A X quits qemu)"
  timeout --foreground 7200 "${qemu[@]}" -serial mon:stdio || true
  exit 0
fi
say "booting linux $kver ($(basename "$kimage"), $cpus CPUs, TCG) with a limit of ${timeout_s}s; job ${JOB#"$ROOT"/}"

t_boot=$(now_ms)
if ((console)); then
  touch "$JOB/console.log"
  tail -f "$JOB/console.log" & tail_pid=$!
fi
# qemu pauses rather than exits on some internal errors: timeout kills it then.
timeout --kill-after=10 "$timeout_s" "${qemu[@]}" -serial "file:$JOB/console.log" -monitor none &
qemu_pid=$!
ready_ms=""
while kill -0 "$qemu_pid" 2>/dev/null; do
  if [[ -z "$ready_ms" && -s "$JOB/ready" ]]; then
    ready_ms=$(($(now_ms) - t_boot))
    say "guest ready after $(secs "$ready_ms") (guest uptime $(cat "$JOB/ready") s); running tests"
  fi
  sleep 0.1
done
qemu_rc=0
wait "$qemu_pid" || qemu_rc=$?
qemu_pid=""
[[ -n "$tail_pid" ]] && kill "$tail_pid" 2>/dev/null
tail_pid=""
run_ms=$(($(now_ms) - t_boot))

if [[ -s "$JOB/out.log" ]]; then
  echo "---------------------------------------- guest output"
  grep -v ' # test name does not match pattern$' "$JOB/out.log" || true
  echo "----------------------------------------"
fi
guest_problem=""
if ((qemu_rc == 124 || qemu_rc == 137)); then
  guest_problem="the VM did not finish within ${timeout_s}s (qemu killed by timeout)"
elif [[ -s "$JOB/init-error" ]]; then
  guest_problem="the guest's init failed: $(cat "$JOB/init-error")"
elif [[ ! -s "$JOB/ready" ]]; then
  guest_problem="the guest did not boot (qemu exit code $qemu_rc)"
elif [[ ! -s "$JOB/rc" ]]; then
  guest_problem="the guest stopped before the tests finished (qemu exit code $qemu_rc)"
fi
if [[ -n "$guest_problem" ]]; then
  echo "---------------------------------------- guest console (last 40 lines)"
  tail -n 40 "$JOB/console.log" 2>/dev/null | tr -d '\r' | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g; s/\x1bc//g'
  echo "----------------------------------------"
fi

report_rc=0
if [[ -n "$exec_cmd" ]]; then
  report_rc="$(cat "$JOB/rc" 2>/dev/null || echo 1)"
  say "command exited with $report_rc"
else
  "$NODE" "$HERE/report.mjs" "$JOB" || report_rc=$?
fi
say "kernel $kver; boot to first command $( [[ -n "$ready_ms" ]] && secs "$ready_ms" || echo "n/a"); VM run $(secs "$run_ms"); total $(secs $(($(now_ms) - t_start)))"
if [[ -n "$guest_problem" ]]; then
  echo "test:vm: FAILED: $guest_problem" >&2
  exit 3
fi
if ((report_rc != 0)); then
  echo "test:vm: FAILED (see the table above)" >&2
  exit 1
fi
[[ -n "$exec_cmd" ]] || say "all selected tests passed"
