#!/bin/busybox sh
# /init of the test VM's initramfs (built by scripts/vm/run.sh). Runs as PID 1 under busybox:
#   1. loads the virtio/9p/overlay modules listed in /early/modules.order (insmod, in order; the
#      kernel may have some built in, then run.sh leaves them out);
#   2. mounts the host's root file system (9p tag "hostroot", read-only) under an overlay with a
#      tmpfs upper layer, so the guest sees the host's files (node, the repository, /tmp) and can
#      write without touching the host;
#   3. mounts the job share (9p tag "job", writable) and bind-mounts it at the host path of the job
#      directory, so paths are the same inside and outside;
#   4. mounts proc, sys, devtmpfs, devpts, bpffs, tracefs, debugfs, cgroup2 and securityfs in the
#      new root,
#      puts the kernel config at /boot/config-$(uname -r), makes the kernel package's modules
#      loadable (modprobe, and the kernel's automatic module requests), brings lo up;
#   5. runs the job's command (job/cmd.sh) chrooted in that root, output to job/out.log and exit
#      code to job/rc; or, with tsbpf.shell=1 on the kernel command line, an interactive shell;
#   6. powers off. Anything that fails writes job/init-error (when the share is mounted) and
#      powers off, so the host sees a missing rc file rather than a hang.
/bin/busybox mkdir -p /bin /sbin /proc /sys /dev /mnt /usr/bin /usr/sbin
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

JOB=/mnt/job
ROOT=/mnt/root

log() { echo "tsbpf-vm: [$(cut -d' ' -f1 /proc/uptime)s] $*"; }

halt_now() {
  sync
  umount "$ROOT$JOBDIR" 2>/dev/null
  umount "$JOB" 2>/dev/null
  poweroff -f
  echo o > /proc/sysrq-trigger
  sleep 5
}

fail() {
  log "init failed: $*"
  if mountpoint -q "$JOB"; then echo "$*" > "$JOB/init-error"; fi
  halt_now
}

log "init started (kernel $(uname -r))"
for m in $(cat /early/modules.order); do
  insmod "/early/$m.ko" || fail "insmod $m"
done

mkdir -p /mnt/lower /mnt/rw "$ROOT" "$JOB"
# msize 512000: the largest 9p message the virtio transport of 6.1 and of 6.12 accepts (6.12
# clamps a larger one: "Limiting 'msize' to 512000 as this is the maximum supported by transport
# virtio").
opts=trans=virtio,version=9p2000.L,msize=512000
mount -t 9p -o "$opts" job "$JOB" || fail "mount the job share (9p tag job)"
. "$JOB/env" || fail "read job/env"
# cache=loose: the guest caches the host's files (about 2x faster node start-up and imports under
# TCG); the host tree is not expected to change while the VM runs.
mount -t 9p -o "$opts,ro,cache=loose" hostroot /mnt/lower || fail "mount the host root (9p tag hostroot)"
mount -t tmpfs -o mode=755 overlay-rw /mnt/rw || fail "mount tmpfs"
mkdir -p /mnt/rw/upper /mnt/rw/work
mount -t overlay -o lowerdir=/mnt/lower,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work overlay "$ROOT" \
  || fail "mount the overlay root"
mkdir -p "$ROOT$JOBDIR" && mount --bind "$JOB" "$ROOT$JOBDIR" || fail "bind the job share at $JOBDIR"
# The kernel package's modules (with a modules.dep made at unpack time), for busybox modprobe:
# the kernel's own module requests (e.g. veth, sch_ingress) run /sbin/modprobe in this
# initramfs's root, so they work too. The guest root sees them at /lib/modules/<version>.
kver="$(uname -r)"
mkdir -p /lib/modules "$ROOT/lib/modules/$kver"
ln -s "/mnt/lower$KMODDIR" "/lib/modules/$kver" || fail "link the kernel modules"
mount --bind "/mnt/lower$KMODDIR" "$ROOT/lib/modules/$kver" || fail "bind the kernel modules"
echo /sbin/modprobe > /proc/sys/kernel/modprobe

mount -t proc proc "$ROOT/proc" || fail "mount proc"
mount -t sysfs sysfs "$ROOT/sys" || fail "mount sysfs"
mount -t devtmpfs devtmpfs "$ROOT/dev" || fail "mount devtmpfs"
mkdir -p "$ROOT/dev/pts" "$ROOT/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666 devpts "$ROOT/dev/pts" || fail "mount devpts"
mount -t tmpfs -o mode=1777 shm "$ROOT/dev/shm" || fail "mount /dev/shm"
mount -t tmpfs -o mode=755 run "$ROOT/run" || fail "mount /run"
mount -t bpf bpf "$ROOT/sys/fs/bpf" || fail "mount bpffs"
mount -t tracefs tracefs "$ROOT/sys/kernel/tracing" || fail "mount tracefs"
mount -t debugfs debugfs "$ROOT/sys/kernel/debug" || fail "mount debugfs"
mount -t cgroup2 cgroup2 "$ROOT/sys/fs/cgroup" || fail "mount cgroup2"
mount -t securityfs securityfs "$ROOT/sys/kernel/security" || fail "mount securityfs"
mkdir -p "$ROOT/boot" && cp /config "$ROOT/boot/config-$kver" || fail "copy the kernel config"
ip link set lo up || fail "bring lo up"
hostname tsbpf-vm

export HOME=/root LANG=C.UTF-8 TERM="${TERM:-linux}"
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
cut -d' ' -f1 /proc/uptime > "$JOB/ready"
log "root ready; lsm=$(cat "$ROOT/sys/kernel/security/lsm" 2>/dev/null || echo '?')"

if grep -q 'tsbpf\.shell=1' /proc/cmdline; then
  log "interactive shell in the guest root (cd $REPO; exit or Ctrl-D powers off)"
  # -c: make the serial console the shell's controlling terminal, so Ctrl-C works.
  setsid -c chroot "$ROOT" /bin/sh -c "cd '$REPO' && export $GUEST_ENV && exec /bin/bash -i" \
    < /dev/ttyS0 > /dev/ttyS0 2>&1
  echo 0 > "$JOB/rc"
else
  chroot "$ROOT" /bin/sh -c "cd '$REPO' && export $GUEST_ENV && exec /bin/sh '$JOBDIR/cmd.sh'" > "$JOB/out.log" 2>&1
  echo $? > "$JOB/rc"
fi
log "done (rc $(cat "$JOB/rc"))"
halt_now
