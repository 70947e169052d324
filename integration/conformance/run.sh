#!/usr/bin/env bash
# run.sh: run the OCI runtime-tools validation suite (58 programs) against one
# or more runtimes and print a PASS/FAIL table, side by side.
#
#   integration/conformance/run.sh                      # gocker only (CI)
#   RUNTIMES="gocker runc crun" integration/conformance/run.sh
#   TESTS="create kill state" TEST_TIMEOUT=30 integration/conformance/run.sh
#
# RUNTIMES: names (gocker = bin/gocker, runc, crun = installed binaries) or
# absolute paths. The last line is "N passed, M failed" for the first one.
# Exit status: non-zero when gocker fails a test known-failures.txt does not
# list, or when a test leaves residue we cannot remove. The anchors' lists
# (known-failures-runc.txt, known-failures-crun.txt) are informational.
# HUGETLB=auto (default) mounts a v1 hugetlb hierarchy only when crun is in
# RUNTIMES (crun 1.8.1 cannot create without one here); HUGETLB=1 always
# mounts it if missing, HUGETLB=0 never. It is unmounted at exit.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=$HERE/cache
WORK=$HERE/work
export PATH=$PATH:/usr/local/go/bin:/usr/sbin:/sbin
GO=${GO:-go}
RUNTIMES=${RUNTIMES:-gocker}
TEST_TIMEOUT=${TEST_TIMEOUT:-60}
HUGETLB=${HUGETLB:-auto}
# The only programs whose success prints nothing: they pass when the runtime
# refuses the config (see lib/tap.awk).
QUIET_OK="process_rlimits_fail process_capabilities_fail"

# shellcheck source=lib/build.sh
. "$HERE/lib/build.sh"
# shellcheck source=lib/cleanup.sh
. "$HERE/lib/cleanup.sh"
# shellcheck source=lib/report.sh
. "$HERE/lib/report.sh"

die() { echo "conformance: $*" >&2; exit 2; }
LEAKS=0

resolve_runtime() {
  case "$1" in
    gocker) echo "${GOCKER:-$ROOT/bin/gocker}" ;;
    /*) echo "$1" ;;
    *) command -v "$1" 2>/dev/null || true ;;
  esac
}

# crun 1.8.1 on a cgroup v1 host fails every create unless a hugetlb
# hierarchy is mounted (it opens the controller unconditionally); this host
# has none. Mount one only for crun, and undo it at exit.
HUGETLB_MOUNTED=0
HUGETLB_MKDIR=0
setup_hugetlb() {
  local d=/sys/fs/cgroup/hugetlb
  [ -e /sys/fs/cgroup/cgroup.controllers ] && return 0 # pure cgroup v2: not needed
  mountpoint -q "$d" && return 0
  [ -d "$d" ] || { mkdir -p "$d" && HUGETLB_MKDIR=1; }
  if mount -t cgroup -o hugetlb cgroup "$d"; then
    HUGETLB_MOUNTED=1
  else
    echo "conformance: could not mount a hugetlb hierarchy; crun will fail" >&2
  fi
}

# NETCLS=1 mounts the v1 net_cls,net_prio hierarchy (with the usual
# net_cls and net_prio symlinks) for the run: this host has none, and the two
# linux_cgroups_*network tests need it (they pass on every runtime with it).
NETCLS=${NETCLS:-0}
NETCLS_MOUNTED=0
setup_netcls() {
  local d=/sys/fs/cgroup/net_cls,net_prio
  [ -e /sys/fs/cgroup/cgroup.controllers ] && return 0
  [ -e /sys/fs/cgroup/net_cls ] && return 0
  mkdir -p "$d" && mount -t cgroup -o net_cls,net_prio cgroup "$d" || {
    echo "conformance: could not mount net_cls,net_prio" >&2; rmdir "$d" 2>/dev/null; return 0; }
  ln -s net_cls,net_prio /sys/fs/cgroup/net_cls
  ln -s net_cls,net_prio /sys/fs/cgroup/net_prio
  NETCLS_MOUNTED=1
}

# leftover_cgroups DIR: a hierarchy this run mounted must be empty before
# it is unmounted; a cgroup left in it would live on, out of sight, after
# the umount (the kernel keeps a hierarchy with children).
leftover_cgroups() {
  local left
  left=$(find "$1" -mindepth 1 -type d 2>/dev/null)
  [ -z "$left" ] && return 0
  echo "conformance: LEAK: cgroups left in $1:" $left >&2
  LEAKS=1 TEARDOWN_LEAK=1
  find "$1" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null || true
}

# released SUBSYS: wait (up to 3 s) until the kernel has freed the removed
# cgroups of SUBSYS (/proc/cgroups counts only the root). Unmounted with a
# cgroup still dying, a hierarchy outlives its mount, unseen.
released() {
  local i
  for i in $(seq 1 60); do
    awk -v s="$1" '$1 == s && $3 > 1 { busy = 1 } END { exit busy }' /proc/cgroups && return 0
    sleep 0.05
  done
}

teardown_netcls() {
  [ "$NETCLS_MOUNTED" = 1 ] || return 0
  leftover_cgroups /sys/fs/cgroup/net_cls,net_prio
  released net_cls
  rm -f /sys/fs/cgroup/net_cls /sys/fs/cgroup/net_prio
  umount /sys/fs/cgroup/net_cls,net_prio || umount -l /sys/fs/cgroup/net_cls,net_prio
  rmdir /sys/fs/cgroup/net_cls,net_prio 2>/dev/null || true
  NETCLS_MOUNTED=0
}

# The suite runs gocker with its default root, where a profile's compiled
# program stays cached (README, "Where state lives"); the run leaves the
# host as it found it, so a cache it created goes with it.
SECCOMP_CACHE=/run/gocker/@seccomp
SECCOMP_CACHE_KEEP=0
[ -d "$SECCOMP_CACHE" ] && SECCOMP_CACHE_KEEP=1

teardown() {
  teardown_netcls
  [ "$SECCOMP_CACHE_KEEP" = 1 ] || rm -rf "$SECCOMP_CACHE"
  safe_rm "$WORK/scratch" || LEAKS=1
  if [ "$HUGETLB_MOUNTED" = 1 ]; then
    leftover_cgroups /sys/fs/cgroup/hugetlb
    released hugetlb
    umount /sys/fs/cgroup/hugetlb || umount -l /sys/fs/cgroup/hugetlb
    HUGETLB_MOUNTED=0
  fi
  if [ "$HUGETLB_MKDIR" = 1 ]; then
    rmdir /sys/fs/cgroup/hugetlb 2>/dev/null || true
    HUGETLB_MKDIR=0
  fi
  # Found only now, after main's verdict: the run fails all the same.
  [ "${TEARDOWN_LEAK:-0}" = 0 ] || exit 1
}

# run_one NAME PATH TEST: run one validation program in its own scratch dir
# (mode 0755: processes in the container run as other users) and record
# out, err, rc, seconds and the verdict under $WORK/results/NAME/.
run_one() {
  local name=$1 rt=$2 t=$3
  local res=$WORK/results/$name scratch=$WORK/scratch/$name/$t
  mkdir -p "$res" "$scratch/tmp"
  chmod 0755 "$WORK" "$WORK/scratch" "$WORK/scratch/$name" "$scratch" "$scratch/tmp"
  # PrepareBundle untars ./rootfs-amd64.tar.gz and the tests copy ./runtimetest.
  cp "$CACHE/bin/runtimetest" "$CACHE/rootfs-amd64.tar.gz" "$scratch/"
  list_containers "$rt" >"$res/.containers"
  cgroup_dirs >"$res/.cgroups"
  local start rc
  start=$(date +%s%N)
  (cd "$scratch" && TMPDIR=$scratch/tmp RUNTIME=$rt \
    timeout -k 5 "$TEST_TIMEOUT" "$CACHE/bin/$t" >"$res/$t.out" 2>"$res/$t.err" </dev/null)
  rc=$?
  echo "$rc" >"$res/$t.rc"
  echo $((($(date +%s%N) - start) / 1000000)) >"$res/$t.ms"
  delete_new_containers "$rt" "$res/.containers" 2>>"$res/$t.err"
  unmount_under "$scratch" || { LEAKS=1; echo "conformance: LEAK: mounts under $scratch" >&2; }
  remove_new_cgroups "$res/.cgroups" 2>>"$res/$t.err"
  safe_rm "$scratch" || LEAKS=1
  grep -q '^conformance: LEAK' "$res/$t.err" && { LEAKS=1; grep '^conformance: LEAK' "$res/$t.err" >&2; }
  local quiet=0
  case " $QUIET_OK " in *" $t "*) quiet=1 ;; esac
  awk -v rc="$rc" -v quiet_ok=$quiet -f "$HERE/lib/tap.awk" "$res/$t.out" >"$res/$t.verdict"
  rm -f "$res/.containers" "$res/.cgroups"
}

main() {
  [ "$(id -u)" = 0 ] || die "must run as root"
  command -v "$GO" >/dev/null || die "no go toolchain ($GO)"
  local names=() paths=() n p
  for n in $RUNTIMES; do
    p=$(resolve_runtime "$n")
    if [ -z "$p" ] || [ ! -x "$p" ]; then
      [ "$n" = gocker ] && die "gocker binary missing ($p); run make build"
      echo "conformance: skipping $n: not installed" >&2
      continue
    fi
    names+=("$(basename "$n")")
    paths+=("$p")
  done
  [ ${#names[@]} -gt 0 ] || die "no runtime to test"

  build_suite || die "building the validation suite failed"
  build_rootfs_tarball || die "building rootfs-amd64.tar.gz failed"
  local tests=()
  if [ -n "${TESTS:-}" ]; then read -ra tests <<<"$TESTS"; else mapfile -t tests <"$CACHE/bin/.programs"; fi

  trap teardown EXIT
  trap 'exit 130' INT TERM
  safe_rm "$WORK/scratch" || die "refusing to start: $WORK/scratch is still mounted"
  rm -rf "$WORK/results"
  mkdir -p "$WORK/scratch" && chmod 0755 "$WORK" "$WORK/scratch"
  case "$HUGETLB: ${names[*]} " in 1:* | auto:*" crun "*) setup_hugetlb ;; esac
  [ "$NETCLS" = 1 ] && setup_netcls

  local i t s0
  for i in "${!names[@]}"; do
    echo "conformance: ${names[$i]} (${paths[$i]}): $("${paths[$i]}" --version 2>/dev/null | head -1)" >&2
    s0=$(date +%s)
    for t in "${tests[@]}"; do
      [ -x "$CACHE/bin/$t" ] || die "no such validation program: $t"
      run_one "${names[$i]}" "${paths[$i]}" "$t"
      printf '  %-34s %s\n' "$t" "$(cut -c1-100 "$WORK/results/${names[$i]}/$t.verdict")" >&2
    done
    echo "$(($(date +%s) - s0))" >"$WORK/results/${names[$i]}/.seconds"
  done

  report "${names[@]}" -- "${tests[@]}"
  local st=$?
  [ "$LEAKS" = 0 ] || { echo "conformance: residue was left on the host (see LEAK lines)" >&2; st=1; }
  return $st
}

main "$@"
