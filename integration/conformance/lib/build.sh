# build.sh: build the OCI runtime-tools validation suite into the cache dir.
# Sourced by run.sh. Uses $CACHE (absolute) and $GO.
#
# The suite is taken from the Go module proxy at a pinned pseudo-version (the
# commit youki pins; the proxy may refuse others). It is built from a
# throwaway module in $CACHE so that the project's go.mod never mentions it.

RT_MODULE=github.com/opencontainers/runtime-tools
RT_VERSION=v0.9.1-0.20230914150019-408c51e934dc

# suite_programs lists the 58 validation programs: every directory under
# validation/ except the shared util package.
suite_programs() {
  local dir
  dir=$(rt_module_dir) || return 1
  find "$dir/validation" -mindepth 1 -maxdepth 1 -type d ! -name util -printf '%f\n' | sort
}

rt_module_dir() {
  (cd "$CACHE/src" && GOFLAGS=-mod=mod GOWORK=off "$GO" list -m -f '{{.Dir}}' "$RT_MODULE")
}

# rt_init_module writes the throwaway go.mod that requires the pinned suite.
rt_init_module() {
  local src=$CACHE/src
  [ -f "$src/go.sum" ] && grep -q "$RT_VERSION" "$src/go.mod" 2>/dev/null && return 0
  rm -rf "$src"
  mkdir -p "$src"
  cat >"$src/go.mod" <<MOD
// Throwaway module: pins the OCI validation suite for integration/conformance.
module gocker-conformance-cache

go 1.19
MOD
  # A blank import keeps "go get" from complaining that nothing uses the module.
  printf 'package cache\n\nimport _ "%s/validation/util"\n' "$RT_MODULE" >"$src/cache.go"
  (cd "$src" && GOFLAGS=-mod=mod GOWORK=off "$GO" get "$RT_MODULE@$RT_VERSION")
}

# build_suite builds runtimetest and every validation program into $CACHE/bin,
# only when one of them is missing.
build_suite() {
  local bin=$CACHE/bin missing=0 p
  if [ -x "$bin/runtimetest" ] && [ -f "$bin/.programs" ]; then
    while read -r p; do [ -x "$bin/$p" ] || missing=1; done <"$bin/.programs"
    [ "$missing" = 0 ] && return 0
  fi
  echo "conformance: building runtime-tools $RT_VERSION in $CACHE" >&2
  mkdir -p "$bin"
  rt_init_module
  local progs=() pkgs=()
  mapfile -t progs < <(suite_programs)
  for p in "${progs[@]}"; do pkgs+=("$RT_MODULE/validation/$p"); done
  # The module zip ships an empty vendor/, so -mod=mod is required.
  # runtimetest runs inside the busybox rootfs, which has no libc: static.
  (cd "$CACHE/src" &&
    CGO_ENABLED=0 GOFLAGS=-mod=mod GOWORK=off "$GO" build -o "$bin/runtimetest" "$RT_MODULE/cmd/runtimetest" &&
    GOFLAGS=-mod=mod GOWORK=off "$GO" build -o "$bin/" "${pkgs[@]}")
  printf '%s\n' "${progs[@]}" >"$bin/.programs"
}

# build_rootfs_tarball builds $CACHE/rootfs-amd64.tar.gz: the layout the suite
# expects (validation/util PrepareBundle untars rootfs-$GOARCH.tar.gz from the
# working directory): /bin/busybox with one applet symlink per command, empty
# /dev /proc /sys, and /etc/passwd and /etc/group with the ids the suite uses
# (process_user runs as uid 10, gid 10, extra gid 5).
build_rootfs_tarball() {
  local out=$CACHE/rootfs-amd64.tar.gz
  [ -s "$out" ] && return 0
  local tmp
  tmp=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  "$ROOT/bundles/mkrootfs.sh" "$tmp/r" >/dev/null
  # The suite's layout has only these top-level entries; extra dirs from
  # mkrootfs (tmp, run, ...) are harmless, but /etc must carry the users below.
  cat >"$tmp/r/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
bin:x:1:1:bin:/bin:/bin/false
daemon:x:2:2:daemon:/sbin:/bin/false
uucp:x:10:14:uucp:/var/spool/uucp:/bin/false
nobody:x:65534:65534:nobody:/var/empty:/bin/false
P
  cat >"$tmp/r/etc/group" <<'G'
root:x:0:root
bin:x:1:root,bin,daemon
daemon:x:2:root,bin,daemon
tty:x:5:
wheel:x:10:root
uucp:x:14:uucp
nobody:x:65534:
G
  tar -C "$tmp/r" --numeric-owner -czf "$out.tmp" .
  mv "$out.tmp" "$out"
  rm -rf "$tmp"
}
