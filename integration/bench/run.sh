#!/usr/bin/env bash
# run.sh GOCKER: time gocker against runc and crun side by side (make bench).
#   integration/bench/run.sh /abs/path/bin/gocker
#   BENCH_ITERATIONS=40 integration/bench/run.sh bin/gocker
#   BENCH_ONLY=seccomp integration/bench/run.sh bin/gocker   (rows whose name has it)
# A missing or failing gocker is reported and its column skipped, so the
# script also measures runc and crun alone.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
export PATH=$PATH:/usr/local/go/bin:/usr/sbin:/sbin
GO=${GO:-go}
GOCKER=${1:-$ROOT/bin/gocker}
BUNDLE=${BENCH_BUNDLE:-$ROOT/bundles/busybox}
N=${BENCH_ITERATIONS:-20}

[ "$(id -u)" = 0 ] || { echo "bench: must run as root" >&2; exit 2; }
[ -x "$BUNDLE/rootfs/bin/busybox" ] || { echo "bench: no rootfs in $BUNDLE; run make setup" >&2; exit 2; }

# The anchors come from Debian, so every machine measures the same builds.
need=()
command -v runc >/dev/null 2>&1 || need+=(runc)
command -v crun >/dev/null 2>&1 || need+=(crun)
if [ ${#need[@]} -gt 0 ]; then
  echo "bench: installing ${need[*]} from Debian" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# crun 1.8.1 on this cgroup v1 host needs a mounted hugetlb hierarchy: when
# /proc/cgroups lists one that is not mounted, it mkdirs plain directories
# (with a cgroup.procs file) in the /sys/fs/cgroup tmpfs and never removes
# them. Mount one for the run if missing and undo it at exit.
hugetlb_mounted=0
hugetlb_mkdir=0
if [ ! -e /sys/fs/cgroup/cgroup.controllers ] && ! mountpoint -q /sys/fs/cgroup/hugetlb; then
  [ -d /sys/fs/cgroup/hugetlb ] || { mkdir /sys/fs/cgroup/hugetlb && hugetlb_mkdir=1; }
  mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb && hugetlb_mounted=1
fi

# Container ids start with this prefix, so leftovers are ours to remove.
prefix=gocker-bench-$$
tmp=$(mktemp -d /tmp/gocker-bench-bin.XXXXXX)
finish() {
  rm -rf "$tmp"
  # A runtime that leaves its cgroup behind is a runtime leak; report it and
  # remove it (rmdir for real cgroups; plain dirs a runtime made in tmpfs are
  # removed with rm, never across a mount).
  local d n=0
  while IFS= read -r d; do
    n=$((n + 1))
    [ "$n" -le 3 ] && echo "bench: leftover: $d" >&2
    if [ "$(stat -f -c %T "$d")" = cgroupfs ]; then rmdir "$d"; else rm -r --one-file-system "$d"; fi
  done < <(find /sys/fs/cgroup -depth -mindepth 2 -maxdepth 3 -type d -name "$prefix-*" 2>/dev/null)
  [ "$n" = 0 ] || echo "bench: NOTE: removed $n cgroup dirs a runtime left behind ($prefix-*)" >&2
  # Another process may have unmounted it meanwhile (the path is shared).
  if [ "$hugetlb_mounted" = 1 ] && mountpoint -q /sys/fs/cgroup/hugetlb; then
    umount /sys/fs/cgroup/hugetlb || umount -l /sys/fs/cgroup/hugetlb
  fi
  if [ "$hugetlb_mkdir" = 1 ]; then rmdir /sys/fs/cgroup/hugetlb 2>/dev/null || true; fi
}
trap finish EXIT
(cd "$ROOT" && CGO_ENABLED=0 "$GO" build -o "$tmp/bench" ./integration/bench)
# ru_maxrss is taken by a small static C launcher, not by the Go bench:
# see peakrss/peakrss.c for why the bench's own wait4 overstates it.
cc -static -O2 -o "$tmp/peakrss" "$HERE/peakrss/peakrss.c"

case "$GOCKER" in /*) ;; *) GOCKER=$PWD/$GOCKER ;; esac
# Measure gocker as installed, like runc and crun (dpkg writes them with
# write(2)): the Go linker writes its output through a shared mapping, and
# the page cache it leaves makes a freshly built binary map more of itself
# on exec (measured: peak RSS of `gocker --version` 10.3 MiB from
# bin/gocker, 7.9 MiB from a copy of the same file). gocker-init goes with
# it: gocker runs the init from its own directory.
if [ -x "$GOCKER" ]; then
  mkdir -p "$tmp/installed"
  install -m 0755 "$GOCKER" "$tmp/installed/gocker"
  [ ! -x "$GOCKER-init" ] || install -m 0755 "$GOCKER-init" "$tmp/installed/gocker-init"
  [ ! -x "$GOCKER-nsenter" ] || install -m 0755 "$GOCKER-nsenter" "$tmp/installed/gocker-nsenter"
  [ ! -x "$GOCKER-network" ] || install -m 0755 "$GOCKER-network" "$tmp/installed/gocker-network"
  GOCKER=$tmp/installed/gocker
fi
# Every runtime then runs from a page cache read back from disk, as after a
# boot: the pages a write(2) left (install above, dpkg, the linker) make
# the same binary start measurably faster than pages readahead brought in
# (measured: gocker 0.9-1.9 ms per run slower once its cache was dropped
# and read back, in 150-300 paired runs). runc and crun were last read from
# disk on a booted machine; dropping all three makes it the same for each.
# The warm-up iteration reads them back.
for f in "$tmp"/installed/* "$(command -v runc)" "$(command -v crun)"; do
  [ -f "$f" ] || continue
  sync "$f" && dd if="$f" iflag=nocache count=0 status=none || echo "bench: NOTE: could not drop the page cache of $f" >&2
done
# bench itself reports and skips a missing or failing gocker.
[ -x "$GOCKER" ] || echo "bench: NOTE: no gocker binary at $GOCKER; measuring runc and crun only" >&2
args=("gocker=$GOCKER" "runc=$(command -v runc)" "crun=$(command -v crun)")
"$tmp/bench" -bundle "$BUNDLE" -n "$N" -prefix "$prefix" -only "${BENCH_ONLY:-}" -peakrss "$tmp/peakrss" "${args[@]}"
