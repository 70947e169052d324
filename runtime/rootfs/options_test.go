package rootfs

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseOptions(t *testing.T) {
	tests := []struct {
		opts     []string
		flags    uintptr
		cleared  uintptr
		data     string
		prop     []uintptr
		remount  bool
		atimeSet bool
	}{
		{opts: []string{"nosuid", "strictatime", "mode=755", "size=65536k"},
			flags: unix.MS_NOSUID | unix.MS_STRICTATIME, data: "mode=755,size=65536k", atimeSet: true},
		{opts: []string{"rbind", "ro"}, flags: unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY, remount: true},
		{opts: []string{"bind"}, flags: unix.MS_BIND},
		{opts: []string{"bind", "rprivate"}, flags: unix.MS_BIND, prop: []uintptr{unix.MS_PRIVATE | unix.MS_REC}},
		{opts: []string{"ro", "rw"}, cleared: unix.MS_RDONLY},
		{opts: []string{"bind", "dev", "suid", "exec"}, flags: unix.MS_BIND,
			cleared: unix.MS_NODEV | unix.MS_NOSUID | unix.MS_NOEXEC, remount: true},
		{opts: []string{"noatime", "relatime"}, flags: unix.MS_RELATIME, atimeSet: true},
		{opts: []string{"nodiratime", "nosymfollow", "dirsync", "sync", "mand"},
			flags: unix.MS_NODIRATIME | unix.MS_NOSYMFOLLOW | unix.MS_DIRSYNC | unix.MS_SYNCHRONOUS | unix.MS_MANDLOCK},
		{opts: []string{"remount", "ro"}, flags: unix.MS_REMOUNT | unix.MS_RDONLY},
		{opts: []string{"shared", "slave", "unbindable"},
			prop: []uintptr{unix.MS_SHARED, unix.MS_SLAVE, unix.MS_UNBINDABLE}},
		{opts: []string{"newinstance", "ptmxmode=0666", "gid=5"}, data: "newinstance,ptmxmode=0666,gid=5"},
	}
	for _, tt := range tests {
		o, err := parseOptions(tt.opts)
		if err != nil {
			t.Fatalf("%v: %v", tt.opts, err)
		}
		if o.flags != tt.flags || o.cleared != tt.cleared || o.dataString() != tt.data || o.atimeSet != tt.atimeSet {
			t.Errorf("%v: flags %#x cleared %#x data %q atime %v; want %#x %#x %q %v",
				tt.opts, o.flags, o.cleared, o.dataString(), o.atimeSet, tt.flags, tt.cleared, tt.data, tt.atimeSet)
		}
		if len(o.propagation) != len(tt.prop) {
			t.Errorf("%v: propagation %v, want %v", tt.opts, o.propagation, tt.prop)
		}
		for i := range tt.prop {
			if i < len(o.propagation) && o.propagation[i] != tt.prop[i] {
				t.Errorf("%v: propagation %v, want %v", tt.opts, o.propagation, tt.prop)
			}
		}
		if o.isBind() && o.needsBindRemount() != tt.remount {
			t.Errorf("%v: needsBindRemount %v, want %v", tt.opts, o.needsBindRemount(), tt.remount)
		}
	}
}

func TestParseRecursiveOptions(t *testing.T) {
	o, err := parseOptions([]string{"rbind", "rro", "rnosuid", "rnoatime", "rexec"})
	if err != nil {
		t.Fatal(err)
	}
	wantSet := uint64(unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NOATIME)
	wantClr := uint64(unix.MOUNT_ATTR__ATIME | unix.MOUNT_ATTR_NOEXEC)
	if o.recAttr.Attr_set != wantSet || o.recAttr.Attr_clr != wantClr {
		t.Errorf("attr set %#x clr %#x, want %#x %#x", o.recAttr.Attr_set, o.recAttr.Attr_clr, wantSet, wantClr)
	}
	if o.flags != unix.MS_BIND|unix.MS_REC || o.needsBindRemount() {
		t.Errorf("recursive options leaked into mount(2) flags: %#x", o.flags)
	}
	o, _ = parseOptions([]string{"rstrictatime"})
	if o.recAttr.Attr_set != unix.MOUNT_ATTR_STRICTATIME || o.recAttr.Attr_clr != unix.MOUNT_ATTR__ATIME {
		t.Errorf("rstrictatime: set %#x clr %#x", o.recAttr.Attr_set, o.recAttr.Attr_clr)
	}
	if !o.hasRecursive() {
		t.Error("rstrictatime: hasRecursive false")
	}
	o, _ = parseOptions([]string{"idmap"})
	if !o.idmap {
		t.Error("idmap not recognised")
	}
}

func TestPreservedFlags(t *testing.T) {
	st := int64(unix.ST_NOSUID | unix.ST_NODEV | unix.ST_NOEXEC | unix.ST_RELATIME | unix.ST_RDONLY)
	o, _ := parseOptions([]string{"bind", "ro"})
	got := preservedFlags(st, o)
	want := uintptr(unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_RELATIME | unix.MS_RDONLY)
	if got != want {
		t.Errorf("preserved %#x, want %#x", got, want)
	}
	// Explicit "rw", "exec" and an atime choice override the source.
	o, _ = parseOptions([]string{"bind", "rw", "exec", "noatime"})
	got = preservedFlags(st, o)
	want = unix.MS_NOSUID | unix.MS_NODEV
	if got != want {
		t.Errorf("preserved %#x, want %#x", got, want)
	}
}

func TestParsePropagation(t *testing.T) {
	for in, want := range map[string]uintptr{
		"":         unix.MS_SLAVE | unix.MS_REC,
		"shared":   unix.MS_SHARED,
		"rprivate": unix.MS_PRIVATE | unix.MS_REC,
	} {
		got, err := parsePropagation(in)
		if err != nil || got != want {
			t.Errorf("%q: %#x %v, want %#x", in, got, err, want)
		}
	}
	if _, err := parsePropagation("bogus"); err == nil {
		t.Error("bogus propagation accepted")
	}
}

func TestWithMountLabel(t *testing.T) {
	on := selinuxOn
	defer func() { selinuxOn = on }()
	selinuxOn = func() bool { return false }
	if got := withMountLabel("mode=755", "tmpfs", "system_u:object_r:container_file_t:s0"); got != "mode=755" {
		t.Errorf("SELinux off: got %q, want the data unchanged", got)
	}
	selinuxOn = func() bool { return true }
	lbl := "system_u:object_r:container_file_t:s0"
	for _, tc := range []struct{ data, fs, want string }{
		{"mode=755", "tmpfs", `mode=755,context="` + lbl + `"`},
		{"", "mqueue", `context="` + lbl + `"`},
		{"", "proc", ""},
		{"ro", "sysfs", "ro"},
	} {
		if got := withMountLabel(tc.data, tc.fs, lbl); got != tc.want {
			t.Errorf("%s %q: got %q, want %q", tc.fs, tc.data, got, tc.want)
		}
	}
	if got := withMountLabel("x", "tmpfs", ""); got != "x" {
		t.Errorf("no label: got %q", got)
	}
}
