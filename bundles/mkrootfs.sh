#!/usr/bin/env bash
# mkrootfs.sh DIR: build a minimal busybox rootfs in DIR.
# Needs a static busybox; installs Debian's busybox-static when apt is there.
set -euo pipefail
dir=${1:?usage: mkrootfs.sh DIR}
find_busybox() {
  for b in /bin/busybox /usr/bin/busybox; do
    if [ -x "$b" ] && ! ldd "$b" >/dev/null 2>&1; then echo "$b"; return 0; fi
  done
  return 1
}
bb=$(find_busybox || true)
if [ -z "$bb" ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null
    bb=$(find_busybox)
  else
    echo "mkrootfs: no static busybox found; install one, e.g. 'apt-get install busybox-static'" >&2
    exit 1
  fi
fi
tmp="$dir.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"/{bin,dev,proc,sys,etc,tmp,root,home,var,run}
chmod 1777 "$tmp/tmp"
cp "$bb" "$tmp/bin/busybox"
for applet in $("$bb" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$tmp/bin/$applet"
done
mkdir -p "$tmp/sbin" "$tmp/usr"
ln -sf ../bin "$tmp/usr/bin"
ln -sf ../bin "$tmp/usr/sbin"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$tmp/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$tmp/etc/group"
echo gocker > "$tmp/etc/hostname"
# Mount points for the network hook's generated hosts/resolv.conf (bind mode).
: > "$tmp/etc/hosts"
: > "$tmp/etc/resolv.conf"
rm -rf "$dir"
mv "$tmp" "$dir"
echo "mkrootfs: busybox rootfs ready in $dir"
