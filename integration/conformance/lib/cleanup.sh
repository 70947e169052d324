# cleanup.sh: leave the host clean after each validation program. Sourced by run.sh.
#
# Tests can leave three kinds of residue: containers (a program killed by the
# timeout, or a runtime that fails delete), mounts (linux_ns_itype runs the
# container in the host mount namespace, so the runtime's /proc, /dev, ...
# mounts land on the host under the bundle), and cgroups (runc/crun keep the
# parents of a relative cgroupsPath, e.g. testdir/cgrouptest).

# mountinfo field 5 is the mount point with space, tab, newline and backslash
# octal-escaped (proc(5)); decode so the path compares with ours.
mounts_under() {
  local dir=$1
  awk '{print $5}' /proc/self/mountinfo | while IFS= read -r m; do
    m=$(printf '%b' "$m")
    case "$m" in "$dir" | "$dir"/*) printf '%s\n' "$m" ;; esac
  done
}

# unmount_under lazily unmounts every mount at or below DIR, deepest first
# (a reverse sort lists a child before its parent), repeating because a
# mount may be stacked several times on one point.
unmount_under() {
  local dir=$1 pass m left
  for pass in 1 2 3 4 5; do
    left=$(mounts_under "$dir" | sort -r)
    [ -z "$left" ] && return 0
    while IFS= read -r m; do
      umount -l "$m" 2>/dev/null || true
    done <<<"$left"
  done
  [ -z "$(mounts_under "$dir")" ]
}

# safe_rm DIR deletes DIR only when nothing is mounted at or below it, so
# rm -rf never walks into a live mount (which would delete host files).
safe_rm() {
  local dir=$1
  [ -e "$dir" ] || return 0
  if ! unmount_under "$dir"; then
    echo "conformance: NOT deleting $dir: still mounted:" >&2
    mounts_under "$dir" >&2
    return 1
  fi
  rm -rf --one-file-system "$dir"
}

# Containers: the suite uses the runtime's default --root, so we diff
# "list -q" before and after each program and force-delete the new ones.
list_containers() {
  "$1" list -q 2>/dev/null | sort
}

delete_new_containers() {
  local rt=$1 before=$2 id
  comm -13 "$before" <(list_containers "$rt") | while IFS= read -r id; do
    [ -n "$id" ] || continue
    echo "conformance: cleanup: $rt delete --force $id" >&2
    "$rt" delete --force "$id" >/dev/null 2>&1 ||
      echo "conformance: LEAK: $rt could not delete container $id" >&2
  done
}

# Cgroups: diff the v1/v2 directory tree before and after. Only suite-made
# names are removed (testdir, cgrouptest, or a container id: the suite's ids
# are UUIDs), so cgroups other processes create meanwhile are never touched.
# rmdir (not rm -r) is the only way to remove a cgroup and fails on a
# populated one, which we report.
CG_SUITE_RE='/(testdir|cgrouptest|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(/|$)'

cgroup_dirs() {
  find /sys/fs/cgroup -mindepth 1 -type d 2>/dev/null | sort
}

remove_new_cgroups() {
  local before=$1 d
  comm -13 "$before" <(cgroup_dirs) | grep -E "$CG_SUITE_RE" | sort -r | while IFS= read -r d; do
    rmdir "$d" 2>/dev/null || echo "conformance: LEAK: cannot rmdir cgroup $d" >&2
  done
}
