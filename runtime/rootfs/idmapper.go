package rootfs

import (
	"errors"
	"fmt"
	"os"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// IDMapper makes the detached idmapped mounts of one container. It caches
// one user namespace per distinct set of mappings; Close releases them.
// It is not safe for concurrent use.
type IDMapper struct {
	spec *specs.Spec
	// userNS is the path of the container's user namespace, used for
	// mounts that give "idmap" without mappings; "" if none.
	userNS string
	cache  map[string]*os.File
}

// NewIDMapper returns a mapper for the mounts of s. containerUserNS is the
// container's user namespace (e.g. /proc/<init pid>/ns/user), or "".
// s must be the spec the init mounts from (with the same mount indexes and
// sources, already made absolute).
func NewIDMapper(s *specs.Spec, containerUserNS string) *IDMapper {
	return &IDMapper{spec: s, userNS: containerUserNS, cache: map[string]*os.File{}}
}

// Open returns spec mount i as a detached, idmapped mount tree: an
// open_tree(2) fd the init attaches with move_mount(2). It refuses a mount
// the spec does not ask to be idmapped, so a caller that only knows the
// index (the init) cannot have anything else opened for it.
func (im *IDMapper) Open(i int) (*os.File, error) {
	if i < 0 || i >= len(im.spec.Mounts) {
		return nil, fmt.Errorf("mounts[%d]: no such mount", i)
	}
	req, ok, err := idmapOf(im.spec, i)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("mounts[%d] is not an idmapped mount", i)
	}
	userns, err := im.userNSFor(req.mount)
	if err != nil {
		return nil, err
	}
	return openIDMappedTree(req, userns)
}

// Close releases the cached user namespaces.
func (im *IDMapper) Close() error {
	var errs []error
	for k, f := range im.cache {
		errs = append(errs, f.Close())
		delete(im.cache, k)
	}
	return errors.Join(errs...)
}

// userNSFor returns a user namespace carrying the mount's mappings, or the
// container's when it has none.
func (im *IDMapper) userNSFor(m specs.Mount) (*os.File, error) {
	key := "container"
	if len(m.UIDMappings) > 0 && !im.sameAsContainer(m) {
		key = fmt.Sprint(m.UIDMappings, m.GIDMappings)
	}
	if f, ok := im.cache[key]; ok {
		return f, nil
	}
	var f *os.File
	var err error
	if key != "container" {
		f, err = newUserNS(m.UIDMappings, m.GIDMappings)
	} else if im.userNS == "" {
		err = errors.New("idmap without mappings: the container's user namespace is not known here")
	} else {
		f, err = os.OpenFile(im.userNS, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("user namespace for the idmapping: %w", err)
	}
	im.cache[key] = f
	return f, nil
}

// sameAsContainer reports whether m's mappings are the ones the runtime
// wrote for the container's new user namespace (the usual case: volumes
// idmapped to the container's ids). Its namespace then serves, which saves
// making one (about 2-3 ms, BenchmarkNewUserNS).
func (im *IDMapper) sameAsContainer(m specs.Mount) bool {
	l := linuxOf(im.spec)
	return im.userNS != "" && len(l.UIDMappings) > 0 &&
		slices.Equal(m.UIDMappings, l.UIDMappings) && slices.Equal(m.GIDMappings, l.GIDMappings)
}

// openIDMappedTree clones the source and idmaps the clone.
func openIDMappedTree(req *idmapSpec, userns *os.File) (*os.File, error) {
	flags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC)
	if req.cloneTree {
		flags |= unix.AT_RECURSIVE
	}
	fd, err := unix.OpenTree(unix.AT_FDCWD, req.mount.Source, flags)
	if err != nil {
		return nil, fmt.Errorf("open_tree %s: %w", req.mount.Source, err)
	}
	tree := os.NewFile(uintptr(fd), "idmapped:"+req.mount.Source)
	// A clone of a shared mount joins its peer group (fs/namespace.c,
	// clone_mnt): without this, mounts made later below the destination
	// would propagate back to the host. Slave, like the rest of the
	// container's mounts (rootfsPropagation defaults to rslave).
	prop := &unix.MountAttr{Propagation: unix.MS_SLAVE}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, prop); err != nil {
		tree.Close()
		return nil, fmt.Errorf("make the clone of %s a slave: %w", req.mount.Source, err)
	}
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(userns.Fd())}
	setFlags := uint(unix.AT_EMPTY_PATH)
	if req.recursive {
		setFlags |= unix.AT_RECURSIVE
	}
	if err := unix.MountSetattr(fd, "", setFlags, attr); err != nil {
		tree.Close()
		return nil, idmapError(req.mount.Source, err)
	}
	return tree, nil
}

// idmapError explains the two usual refusals of MOUNT_ATTR_IDMAP.
func idmapError(source string, err error) error {
	switch {
	case errors.Is(err, unix.EINVAL):
		return fmt.Errorf("idmapped mounts are not supported for %s (filesystem %s) by this kernel: mount_setattr MOUNT_ATTR_IDMAP: %w",
			source, fsTypeName(source), err)
	case errors.Is(err, unix.EPERM):
		return fmt.Errorf("idmapping %s needs CAP_SYS_ADMIN in the user namespace that owns its filesystem; in a container with its own user namespace the runtime's parent must make the mount: mount_setattr MOUNT_ATTR_IDMAP: %w",
			source, err)
	}
	return fmt.Errorf("idmap %s: mount_setattr MOUNT_ATTR_IDMAP: %w", source, err)
}

// fsTypeName names the filesystem of p for error messages.
func fsTypeName(p string) string {
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err != nil {
		return "unknown"
	}
	if name, ok := fsNames[int64(st.Type)]; ok {
		return name
	}
	return fmt.Sprintf("f_type %#x", st.Type)
}

var fsNames = map[int64]string{
	unix.PROC_SUPER_MAGIC:      "proc",
	unix.SYSFS_MAGIC:           "sysfs",
	unix.TMPFS_MAGIC:           "tmpfs",
	unix.RAMFS_MAGIC:           "ramfs",
	unix.EXT4_SUPER_MAGIC:      "ext4",
	unix.XFS_SUPER_MAGIC:       "xfs",
	unix.BTRFS_SUPER_MAGIC:     "btrfs",
	unix.OVERLAYFS_SUPER_MAGIC: "overlay",
	unix.CGROUP2_SUPER_MAGIC:   "cgroup2",
	unix.DEVPTS_SUPER_MAGIC:    "devpts",
	unix.NFS_SUPER_MAGIC:       "nfs",
	unix.FUSE_SUPER_MAGIC:      "fuse",
}
