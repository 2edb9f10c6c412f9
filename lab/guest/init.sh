#!/bin/sh
# sctplab guest init: runs as PID 1 of the User-Mode Linux guest, whose root
# file system is the host's (hostfs). It prepares the guest, runs the one
# command described in $SCTPLAB_EXCHANGE/env.sh on /dev/tty1 (so Ctrl-C from
# the host reaches it as SIGINT), writes its exit status where the host reads
# it, and powers off.
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
x="$SCTPLAB_EXCHANGE"
fail() { echo "$*" >"$x/error"; echo 125 >"$x/status"; poweroff -f; }

mount -t proc proc /proc || fail "cannot mount /proc"
mount -t sysfs sysfs /sys || fail "cannot mount /sys"
# /run is private to the guest: its /run/netns must not appear on the host.
mount -t tmpfs -o mode=0755 tmpfs /run || fail "cannot mount /run"
# Pseudo-terminals for shells the lab opens in its namespaces (sctplab shell).
mkdir -p /dev/pts
mount -t devpts -o mode=0620,ptmxmode=0666 devpts /dev/pts || fail "cannot mount /dev/pts"
mkdir -p /run/netns /run/sctplab/modules/lib/modules
mount -t hostfs -o "$SCTPLAB_MODULES_DIR" none /run/sctplab/modules/lib/modules ||
    fail "cannot mount the guest's modules from $SCTPLAB_MODULES_DIR"
# Let the guest kernel load what it asks for later (nf_tables, crypto, ...).
printf '#!/bin/sh\nexec %s -d /run/sctplab/modules "$@"\n' "$SCTPLAB_MODPROBE" >/run/sctplab/modprobe
chmod 755 /run/sctplab/modprobe
echo /run/sctplab/modprobe >/proc/sys/kernel/modprobe
IFS=,
for module in $SCTPLAB_LOAD_MODULES; do
    "$SCTPLAB_MODPROBE" -d /run/sctplab/modules "$module" || fail "cannot load kernel module $module"
done
unset IFS

. "$x/env.sh" || fail "cannot read $x/env.sh"
setsid -w -c "$@" <>/dev/tty1 >&0 2>&1
echo $? >"$x/status"
poweroff -f
