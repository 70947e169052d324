#!/usr/bin/env bash
# run.sh /abs/path/bin/gocker: run gocker's cgroup tests on a pure cgroup v2
# host, a QEMU VM booting Debian's kernel with a busybox initramfs. Exits 0
# only when every test inside passed. See README.md.
#
# Environment (all optional):
#   GOCKER_V2_RUN       -test.run filter for ./integration (default below)
#   GOCKER_V2_UNIT_RUN  -test.run filter for ./runtime/cgroups (default: all)
#   GOCKER_V2_MODULES   kernel modules to load in the VM (default: overlay veth bridge)
#   GOCKER_V2_TIMEOUT   go test -timeout of each suite inside the VM (default 4m)
#   GOCKER_V2_COUNT     go test -count inside the VM (default 1; more to hunt flakes)
#   GOCKER_V2_VM_TIMEOUT seconds before the whole VM is killed (default 480;
#                       a VM that froze is booted once more, see froze)
#   GOCKER_V2_SMP, GOCKER_V2_MEM  vCPUs (default 2) and MiB (default 1024)
set -euo pipefail

gocker=${1:?usage: run.sh /abs/path/of/bin/gocker}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=$here/cache # git-ignored: kernel packages, the initramfs, the logs
work=$cache/work
log=$cache/console.log
export PATH=$PATH:/usr/local/go/bin:/usr/sbin:/sbin
GO=${GO:-go}

run_filter=${GOCKER_V2_RUN:-'^(TestResource|TestUpdate|TestPause|TestEvents|TestPs|TestCgroupV2|TestCgroupMembership|TestLifecycle|TestKill|TestDelete|TestLinuxDevices|TestDefaultDevices|TestDefaultCgroup)'}
unit_filter=${GOCKER_V2_UNIT_RUN:-.}
modules=${GOCKER_V2_MODULES-overlay veth bridge}
test_timeout=${GOCKER_V2_TIMEOUT:-4m}
test_count=${GOCKER_V2_COUNT:-1}
vm_timeout=${GOCKER_V2_VM_TIMEOUT:-480}

say() { echo "cgroupv2: $*" >&2; }
die() { say "FAIL: $*"; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

t_start=$(now)

# static_busybox prints a busybox binary that needs no dynamic loader.
static_busybox() {
  local b
  for b in /bin/busybox /usr/bin/busybox; do
    if [ -x "$b" ] && ! ldd "$b" >/dev/null 2>&1; then echo "$b"; return 0; fi
  done
  return 1
}

apt_updated=
apt_update() {
  [ -n "$apt_updated" ] && return 0
  say "apt-get update"
  apt-get update -qq
  apt_updated=1
}

install_deps() {
  local need=()
  command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
  static_busybox >/dev/null || need+=(busybox-static)
  command -v cpio >/dev/null || need+=(cpio)
  command -v modprobe >/dev/null && command -v depmod >/dev/null || need+=(kmod)
  [ ${#need[@]} -eq 0 ] && return 0
  say "installing ${need[*]}"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; then
    apt_update
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
}

# newest_kernel_pkg prints the newest linux-image-6.1.0-N-amd64 apt knows
# (not -cloud or -rt: those lack drivers or change scheduling).
newest_kernel_pkg() {
  apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' 2>/dev/null |
    awk '{ print $1 }' | sort -V | tail -n 1
}

# fetch_kernel sets kdir (the dpkg -x tree) and kver.
fetch_kernel() {
  local pkg
  pkg=$(newest_kernel_pkg)
  if [ -z "$pkg" ]; then
    apt_update || true
    pkg=$(newest_kernel_pkg)
  fi
  if [ -z "$pkg" ]; then
    # Offline: fall back to what an earlier run cached.
    pkg=$(ls "$cache/kernel" 2>/dev/null | sort -V | tail -n 1)
    [ -n "$pkg" ] || die "no linux-image-6.1.0-*-amd64 in apt and none cached"
    say "apt has no kernel package; using cached $pkg"
  fi
  kdir=$cache/kernel/$pkg
  kver=${pkg#linux-image-}
  if [ ! -f "$kdir/boot/vmlinuz-$kver" ]; then
    say "downloading $pkg"
    local dl=$cache/download
    rm -rf "$dl" && mkdir -p "$dl"
    # apt drops to the _apt user for downloads, which cannot write here.
    (cd "$dl" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >/dev/null)
    rm -rf "$kdir.tmp" && mkdir -p "$kdir.tmp"
    dpkg -x "$dl"/"$pkg"_*.deb "$kdir.tmp"
    depmod -b "$kdir.tmp" "$kver"
    rm -rf "$kdir" "$dl"
    mv "$kdir.tmp" "$kdir"
    # One kernel is enough; drop older ones.
    for old in "$cache"/kernel/*; do
      [ "$old" = "$kdir" ] || rm -rf "$old"
    done
  fi
  say "kernel $kver"
}

# build_tests compiles the test binaries. The integration and cgroups test
# packages have no cgo, so CGO_ENABLED=0 makes them static.
build_tests() {
  mkdir -p "$work"
  (cd "$repo" &&
    CGO_ENABLED=0 "$GO" test -c -trimpath -ldflags '-s -w' -o "$work/integration.test" ./integration/ &&
    CGO_ENABLED=0 "$GO" test -c -trimpath -ldflags '-s -w' -o "$work/cgroups.test" ./runtime/cgroups/) ||
    die "cannot build the test binaries"
}

container_rootfs() {
  local r=$repo/bundles/busybox/rootfs
  if [ ! -x "$r/bin/busybox" ]; then
    r=$work/rootfs
    "$repo/bundles/mkrootfs.sh" "$r" >/dev/null
  fi
  echo "$r"
}

# build_initramfs lays out the VM's root filesystem and packs it.
build_initramfs() {
  local s=$work/initramfs bb rootfs
  bb=$(static_busybox) || die "no static busybox"
  ldd "$gocker" >/dev/null 2>&1 && die "$gocker is dynamically linked; build it with 'make build'"
  rootfs=$(container_rootfs)
  rm -rf "$s"
  mkdir -p "$s"/{bin,dev,proc,sys,tmp,run,root,etc,tests,lib/modules}
  cp "$bb" "$s/bin/busybox"
  for applet in $("$bb" --list); do
    [ "$applet" = busybox ] || ln -s busybox "$s/bin/$applet"
  done
  ln -s bin "$s/sbin"
  mkdir -p "$s/usr" && ln -s ../bin "$s/usr/bin" && ln -s ../bin "$s/usr/sbin"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$s/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$s/etc/group"
  cp "$here/init" "$s/init"
  cp "$gocker" "$s/gocker"
  # gocker runs the container's init from gocker-init beside it.
  cp "$gocker-init" "$s/gocker-init"
  cp "$gocker-nsenter" "$s/gocker-nsenter"
  [ ! -x "$gocker-network" ] || cp "$gocker-network" "$s/gocker-network"
  cp "$work/integration.test" "$work/cgroups.test" "$s/tests/"
  cp -a "$rootfs" "$s/rootfs"
  : >"$s/modules.list"
  local m line
  for m in $modules; do
    modprobe -d "$kdir" -S "$kver" --show-depends "$m" >/dev/null 2>&1 || die "module $m is not in kernel $kver"
    modprobe -d "$kdir" -S "$kver" --show-depends "$m" | while read -r line; do
      case $line in
      insmod\ *)
        local ko=${line#insmod } && ko=${ko%% *}
        local rel=${ko#"$kdir"}
        mkdir -p "$s$(dirname "$rel")"
        cp "$ko" "$s$rel"
        grep -qxF "$rel" "$s/modules.list" || echo "$rel" >>"$s/modules.list"
        ;;
      esac
    done
  done
  {
    printf 'GOCKER_V2_RUN=%q\n' "$run_filter"
    printf 'GOCKER_V2_UNIT_RUN=%q\n' "$unit_filter"
    printf 'GOCKER_V2_TIMEOUT=%q\n' "$test_timeout"
    printf 'GOCKER_V2_COUNT=%q\n' "$test_count"
  } >"$s/harness.env"
  # Uncompressed: unpacking gzip under software emulation costs more than
  # QEMU copying the larger file into guest memory.
  (cd "$s" && find . -print0 | cpio --null -o -H newc -R 0:0 --quiet) >"$work/initrd.cpio"
  say "initramfs $(du -h "$work/initrd.cpio" | cut -f1)"
}

# boot runs the VM; its serial console goes to $log. Sets qemu_rc.
boot() {
  rm -f "$log"
  local t0
  t0=$(now)
  set +e
  timeout --foreground -k 10 "$vm_timeout" qemu-system-x86_64 \
    -accel tcg,thread=multi -cpu max -m "${GOCKER_V2_MEM:-1024}" -smp "${GOCKER_V2_SMP:-2}" \
    -display none -serial "file:$log" -monitor none -no-reboot -net none \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
    -kernel "$kdir/boot/vmlinuz-$kver" -initrd "$work/initrd.cpio" \
    -append 'console=ttyS0 quiet panic=-1 mitigations=off'
  qemu_rc=$?
  set -e
  vm_secs=$(since "$t0")
}

# report prints the tests' output and decides. isa-debug-exit makes QEMU
# exit with (code << 1) | 1, so only 1 is success; 0 means the guest
# panicked or powered off without reporting, 124 that it timed out. The
# guest's own markers must agree: QEMU also exits 1 on its own errors.
report() {
  case $qemu_rc in 124 | 137) [ -f "$log" ] && tr -d '\r' <"$log"; die "VM timed out after ${vm_timeout}s; see $log" ;; esac
  [ -s "$log" ] || die "empty console log: QEMU did not start or the kernel did not boot (exit $qemu_rc)"
  local text booted
  text=$(tr -d '\r' <"$log")
  grep -v '^GOCKER-V2 EXIT' <<<"$text" || true
  booted=$(sed -n 's/^GOCKER-V2 BOOTED uptime=\([0-9.]*\).*/\1/p' <<<"$text")
  say "VM ran ${vm_secs}s (kernel start to /init stage 2: ${booted:-?}s), total $(since "$t_start")s"
  case $qemu_rc in
  0) die "VM stopped without reporting a result (boot failure or kernel panic); see $log" ;;
  1) ;;
  *)
    [ $((qemu_rc & 1)) = 1 ] || die "QEMU failed with exit $qemu_rc"
    die "tests failed inside the VM (guest exit code $((qemu_rc >> 1)))"
    ;;
  esac
  grep -qx 'GOCKER-V2 EXIT code=0' <<<"$text" || die "QEMU exited 1 but the guest never reported success; see $log"
  local ends
  ends=$(grep -c '^GOCKER-V2 END .* rc=0 ' <<<"$text" || true)
  [ "$ends" = 2 ] || die "guest reported success but not both suites ended with rc=0"
  say "PASS"
}

# froze: the VM ran out of time, but no test did. Each suite runs under go
# test's -timeout ($test_timeout), which panics with every goroutine's
# stack on the console; a timeout without that panic means the guest
# stopped making progress as a whole, under QEMU's software emulation
# (once in CI: silent for 10 minutes in the middle of a test that takes
# 0.1 s, which passed 40 times in a row right after). That alone is
# retried, once; a failing or hanging test never is.
froze() {
  case $qemu_rc in 124 | 137) ;; *) return 1 ;; esac
  ! tr -d '\r' <"$log" 2>/dev/null | grep -q '^panic: test timed out'
}

install_deps
fetch_kernel
build_tests
build_initramfs
boot
if froze; then
  say "the VM froze after ${vm_secs}s with no test timing out; the last lines of its console:"
  tr -d '\r' <"$log" | tail -5 >&2
  say "booting it once more"
  cp "$log" "$log.frozen"
  boot
fi
report
