package rootfs

import "slices"

// MountOptions lists the mount options gocker understands, for `gocker
// features` (runtime-spec features.md "mountOptions"): mount(2) flags,
// propagation types, the recursive (mount_setattr) forms, "defaults" and
// the idmapped-mount options. Any other option is passed to the filesystem
// as data.
func MountOptions() []string {
	out := []string{"defaults", "idmap", "ridmap"}
	for o := range flagOptions {
		out = append(out, o)
	}
	for o := range propagationOptions {
		out = append(out, o)
	}
	for o := range recursiveOptions {
		out = append(out, o)
	}
	slices.Sort(out)
	return out
}
