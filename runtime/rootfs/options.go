package rootfs

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// mountOpts is the parsed form of one spec mount's "options" array.
//
// The runtime-spec says options are fstab(5)/mount(8) style. mount(2) takes
// three separate inputs, so each option lands in exactly one bucket: a flag
// to set, a flag to clear, a propagation change (a separate mount(2) call,
// the kernel refuses to mix it with other flags), a recursive attribute
// (mount_setattr(2) with AT_RECURSIVE), or filesystem data.
type mountOpts struct {
	flags   uintptr // MS_* flags to pass to mount(2)
	cleared uintptr // MS_* flags the user asked to turn off explicitly (rw, suid, dev, ...)
	// atimeSet is true when any atime option was given, so a bind remount
	// must not re-add the source's atime mode.
	atimeSet    bool
	propagation []uintptr // MS_SHARED/MS_SLAVE/... (with MS_REC for r- forms), in order
	recAttr     unix.MountAttr
	data        []string
	idmap       bool // "idmap" or "ridmap"
	ridmap      bool // "ridmap": the idmapping applies to every mount of the tree
}

type flagOpt struct {
	clear bool
	flag  uintptr
	atime bool // the option selects an atime mode
}

// flagOptions maps mount(8) option names to mount(2) flags.
var flagOptions = map[string]flagOpt{
	"ro":            {false, unix.MS_RDONLY, false},
	"rw":            {true, unix.MS_RDONLY, false},
	"nosuid":        {false, unix.MS_NOSUID, false},
	"suid":          {true, unix.MS_NOSUID, false},
	"nodev":         {false, unix.MS_NODEV, false},
	"dev":           {true, unix.MS_NODEV, false},
	"noexec":        {false, unix.MS_NOEXEC, false},
	"exec":          {true, unix.MS_NOEXEC, false},
	"sync":          {false, unix.MS_SYNCHRONOUS, false},
	"async":         {true, unix.MS_SYNCHRONOUS, false},
	"dirsync":       {false, unix.MS_DIRSYNC, false},
	"remount":       {false, unix.MS_REMOUNT, false},
	"mand":          {false, unix.MS_MANDLOCK, false},
	"nomand":        {true, unix.MS_MANDLOCK, false},
	"atime":         {true, unix.MS_NOATIME, true},
	"noatime":       {false, unix.MS_NOATIME, true},
	"diratime":      {true, unix.MS_NODIRATIME, false},
	"nodiratime":    {false, unix.MS_NODIRATIME, false},
	"relatime":      {false, unix.MS_RELATIME, true},
	"norelatime":    {true, unix.MS_RELATIME, true},
	"strictatime":   {false, unix.MS_STRICTATIME, true},
	"nostrictatime": {true, unix.MS_STRICTATIME, true},
	"nosymfollow":   {false, unix.MS_NOSYMFOLLOW, false},
	"symfollow":     {true, unix.MS_NOSYMFOLLOW, false},
	"bind":          {false, unix.MS_BIND, false},
	"rbind":         {false, unix.MS_BIND | unix.MS_REC, false},
}

// propagationOptions are applied after the mount with their own mount(2)
// call: the kernel only accepts one propagation type per call and ignores
// other flags in it (mount(2), "Changing the propagation type").
var propagationOptions = map[string]uintptr{
	"private":     unix.MS_PRIVATE,
	"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
	"shared":      unix.MS_SHARED,
	"rshared":     unix.MS_SHARED | unix.MS_REC,
	"slave":       unix.MS_SLAVE,
	"rslave":      unix.MS_SLAVE | unix.MS_REC,
	"unbindable":  unix.MS_UNBINDABLE,
	"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

type recOpt struct {
	clear bool
	attr  uint64
}

// recursiveOptions are the "r"-prefixed options of the runtime-spec
// (config.md, "Mounts"): they apply to the whole mount tree through
// mount_setattr(2) with AT_RECURSIVE.
var recursiveOptions = map[string]recOpt{
	"rro":            {false, unix.MOUNT_ATTR_RDONLY},
	"rrw":            {true, unix.MOUNT_ATTR_RDONLY},
	"rnosuid":        {false, unix.MOUNT_ATTR_NOSUID},
	"rsuid":          {true, unix.MOUNT_ATTR_NOSUID},
	"rnodev":         {false, unix.MOUNT_ATTR_NODEV},
	"rdev":           {true, unix.MOUNT_ATTR_NODEV},
	"rnoexec":        {false, unix.MOUNT_ATTR_NOEXEC},
	"rexec":          {true, unix.MOUNT_ATTR_NOEXEC},
	"rnodiratime":    {false, unix.MOUNT_ATTR_NODIRATIME},
	"rdiratime":      {true, unix.MOUNT_ATTR_NODIRATIME},
	"rnosymfollow":   {false, unix.MOUNT_ATTR_NOSYMFOLLOW},
	"rsymfollow":     {true, unix.MOUNT_ATTR_NOSYMFOLLOW},
	"rrelatime":      {false, unix.MOUNT_ATTR_RELATIME},
	"rnorelatime":    {true, unix.MOUNT_ATTR_RELATIME},
	"rnoatime":       {false, unix.MOUNT_ATTR_NOATIME},
	"ratime":         {true, unix.MOUNT_ATTR_NOATIME},
	"rstrictatime":   {false, unix.MOUNT_ATTR_STRICTATIME},
	"rnostrictatime": {true, unix.MOUNT_ATTR_STRICTATIME},
}

// parseOptions sorts spec mount options into their buckets. Unknown
// options are filesystem data, as the runtime-spec requires ("options"
// not understood by the runtime are passed to the filesystem).
func parseOptions(options []string) (*mountOpts, error) {
	o := &mountOpts{}
	for _, opt := range options {
		if f, ok := flagOptions[opt]; ok {
			o.addFlag(f)
			continue
		}
		if p, ok := propagationOptions[opt]; ok {
			o.propagation = append(o.propagation, p)
			continue
		}
		if r, ok := recursiveOptions[opt]; ok {
			o.addRecursive(r)
			continue
		}
		switch opt {
		case "idmap", "ridmap":
			// runtime-spec: these "SHOULD NOT be passed to the underlying
			// mount(2) call"; see idmap.go.
			o.idmap = true
			o.ridmap = o.ridmap || opt == "ridmap"
			continue
		case "defaults":
			// fstab's placeholder: no flag.
			continue
		}
		if opt == "" {
			return nil, fmt.Errorf("empty mount option")
		}
		o.data = append(o.data, opt)
	}
	return o, nil
}

func (o *mountOpts) addFlag(f flagOpt) {
	if f.atime {
		o.atimeSet = true
	}
	if f.clear {
		o.flags &^= f.flag
		o.cleared |= f.flag
		return
	}
	o.flags |= f.flag
	o.cleared &^= f.flag
	// The atime modes exclude each other: the last one wins, as in mount(8).
	switch f.flag {
	case unix.MS_NOATIME:
		o.flags &^= unix.MS_RELATIME | unix.MS_STRICTATIME
	case unix.MS_RELATIME:
		o.flags &^= unix.MS_NOATIME | unix.MS_STRICTATIME
	case unix.MS_STRICTATIME:
		o.flags &^= unix.MS_NOATIME | unix.MS_RELATIME
	}
}

func (o *mountOpts) addRecursive(r recOpt) {
	a := &o.recAttr
	isAtime := r.attr&unix.MOUNT_ATTR__ATIME != 0 || r.attr == unix.MOUNT_ATTR_RELATIME
	switch {
	case isAtime && !r.clear:
		// mount_setattr(2): to set an atime mode, put MOUNT_ATTR__ATIME in
		// attr_clr and the mode (possibly 0 for relatime) in attr_set.
		a.Attr_clr |= unix.MOUNT_ATTR__ATIME
		a.Attr_set = a.Attr_set&^unix.MOUNT_ATTR__ATIME | r.attr
	case isAtime && r.clear:
		// "Not this atime mode" is only meaningful as "back to relatime",
		// the kernel default.
		a.Attr_clr |= unix.MOUNT_ATTR__ATIME
		a.Attr_set &^= unix.MOUNT_ATTR__ATIME
	case r.clear:
		a.Attr_clr |= r.attr
		a.Attr_set &^= r.attr
	default:
		a.Attr_set |= r.attr
		a.Attr_clr &^= r.attr
	}
}

// hasRecursive reports whether mount_setattr(2) is needed.
func (o *mountOpts) hasRecursive() bool {
	return o.recAttr.Attr_set != 0 || o.recAttr.Attr_clr != 0
}

func (o *mountOpts) isBind() bool { return o.flags&unix.MS_BIND != 0 }

// dataString is the fifth argument of mount(2).
func (o *mountOpts) dataString() string { return strings.Join(o.data, ",") }

// needsBindRemount reports whether a bind mount must be followed by a
// MS_REMOUNT|MS_BIND call: the kernel ignores every flag except MS_REC on
// the first MS_BIND call (mount(2), "Creating a bind mount").
func (o *mountOpts) needsBindRemount() bool {
	return o.flags&^(unix.MS_BIND|unix.MS_REC|unix.MS_REMOUNT) != 0 || o.cleared != 0
}

// parsePropagation turns linux.rootfsPropagation into mount(2) flags.
func parsePropagation(s string) (uintptr, error) {
	if s == "" {
		// runc's default: the container sees host mounts appear, the host
		// never sees container mounts.
		return unix.MS_SLAVE | unix.MS_REC, nil
	}
	p, ok := propagationOptions[s]
	if !ok {
		return 0, fmt.Errorf("linux.rootfsPropagation: unknown value %q", s)
	}
	return p, nil
}

// statfsToMount maps statfs(2) f_flags (ST_*) to the mount(2) flags that a
// bind remount has to repeat. In a user namespace the kernel locks these on
// mounts inherited from a more privileged namespace, and a remount that
// drops one fails with EPERM (mount_namespaces(7), "Restrictions on mount
// namespaces").
var statfsToMount = []struct {
	st    int64
	ms    uintptr
	atime bool
}{
	{unix.ST_RDONLY, unix.MS_RDONLY, false},
	{unix.ST_NOSUID, unix.MS_NOSUID, false},
	{unix.ST_NODEV, unix.MS_NODEV, false},
	{unix.ST_NOEXEC, unix.MS_NOEXEC, false},
	{unix.ST_NOATIME, unix.MS_NOATIME, true},
	{unix.ST_NODIRATIME, unix.MS_NODIRATIME, false},
	{unix.ST_RELATIME, unix.MS_RELATIME, true},
}

// preservedFlags returns the flags of an existing mount (from its statfs
// f_flags) that a remount must keep: those the user did not explicitly turn
// off, and its atime mode when the user chose none.
func preservedFlags(stFlags int64, o *mountOpts) uintptr {
	var keep uintptr
	for _, m := range statfsToMount {
		if stFlags&m.st == 0 || o.cleared&m.ms != 0 {
			continue
		}
		if m.atime && o.atimeSet {
			continue
		}
		keep |= m.ms
	}
	return keep
}
