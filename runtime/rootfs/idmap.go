package rootfs

import (
	"errors"
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Idmapped bind mounts (runtime-spec config.md: mounts[].uidMappings,
// gidMappings and the "idmap"/"ridmap" options).
//
// The kernel idmaps a mount only while it is detached: open_tree(2) with
// OPEN_TREE_CLONE copies the source into an anonymous mount namespace,
// mount_setattr(2) with MOUNT_ATTR_IDMAP gives it the mappings of a user
// namespace, and move_mount(2) attaches it at the destination. That needs
// CAP_SYS_ADMIN in the user namespace owning the source's filesystem
// (fs/namespace.c, can_idmap_mount): the host's, for host directories. The
// init of a container with its own user namespace does not have it, so
// there the runtime's parent makes the detached mount (IDMapper.Open) and
// hands the init its fd (Options.IDMapped), as runc does.

// idmapSpec is what one spec mount asks for.
type idmapSpec struct {
	index     int
	mount     specs.Mount
	recursive bool // "ridmap": idmap every mount of the tree, not only its root
	cloneTree bool // "rbind": clone the submounts too
}

// ValidateIDMapped checks the idmap fields of every mount of s. Errors name
// the field, e.g. "mounts[3].uidMappings: ...". Prepare calls it before it
// mounts anything; the parent may call it earlier, at create.
func ValidateIDMapped(s *specs.Spec) error {
	for i := range s.Mounts {
		if _, _, err := idmapOf(s, i); err != nil {
			return err
		}
	}
	return nil
}

// idmapOf parses mount i of s and reports whether it is idmapped.
func idmapOf(s *specs.Spec, i int) (*idmapSpec, bool, error) {
	m := s.Mounts[i]
	field := fmt.Sprintf("mounts[%d]", i)
	o, err := parseOptions(m.Options)
	if err != nil {
		// Not ours to report: mountEntry does, in its usual form.
		return nil, false, nil
	}
	hasUID, hasGID := len(m.UIDMappings) > 0, len(m.GIDMappings) > 0
	if !o.idmap && !hasUID && !hasGID {
		return nil, false, nil
	}
	bind := o.isBind() || m.Type == "bind"
	switch {
	case !bind && (hasUID || hasGID):
		return nil, false, fmt.Errorf("%s.%s: only bind mounts can be idmapped (type %q, no bind or rbind option)",
			field, mapField(hasUID), m.Type)
	case !bind:
		return nil, false, fmt.Errorf("%s.options: %q needs a bind mount (type %q, no bind or rbind option)",
			field, idmapOption(o), m.Type)
	case hasUID != hasGID:
		// config.md: "If specified, it MUST be specified along with
		// gidMappings" (and the other way round).
		return nil, false, fmt.Errorf("%s.%s: must be given together with %s", field, mapField(hasUID), mapField(!hasUID))
	case !hasUID && !hasUserNS(s):
		// config.md, "idmap": without mappings and without a user
		// namespace "an error MUST be returned".
		return nil, false, fmt.Errorf("%s.options: %q without uidMappings and gidMappings takes the container's user namespace mappings, but the container has no user namespace",
			field, idmapOption(o))
	}
	if err := checkIDMappings(field+".uidMappings", m.UIDMappings); err != nil {
		return nil, false, err
	}
	if err := checkIDMappings(field+".gidMappings", m.GIDMappings); err != nil {
		return nil, false, err
	}
	// Mappings without either option: config.md says the options SHOULD be
	// there, so that old runtimes do not ignore the mappings. We honour the
	// mappings anyway, non-recursively, as runc does.
	return &idmapSpec{index: i, mount: m, recursive: o.ridmap, cloneTree: o.flags&unix.MS_REC != 0}, true, nil
}

func mapField(uid bool) string {
	if uid {
		return "uidMappings"
	}
	return "gidMappings"
}

func idmapOption(o *mountOpts) string {
	if o.ridmap {
		return "ridmap"
	}
	return "idmap"
}

func hasUserNS(s *specs.Spec) bool {
	for _, ns := range linuxOf(s).Namespaces {
		if ns.Type == specs.UserNamespace {
			return true
		}
	}
	return false
}

// maxMappings is the number of lines a uid_map or gid_map accepts
// (user_namespaces(7), since Linux 4.15).
const maxMappings = 340

// checkIDMappings refuses what the kernel would refuse when the mappings are
// written to the helper's uid_map, with the field named.
func checkIDMappings(field string, ms []specs.LinuxIDMapping) error {
	if len(ms) > maxMappings {
		return fmt.Errorf("%s: %d mappings, the kernel accepts at most %d", field, len(ms), maxMappings)
	}
	for i, a := range ms {
		if a.Size == 0 {
			return fmt.Errorf("%s[%d]: size is 0", field, i)
		}
		if uint64(a.ContainerID)+uint64(a.Size) > 1<<32 || uint64(a.HostID)+uint64(a.Size) > 1<<32 {
			return fmt.Errorf("%s[%d]: range goes beyond id 4294967295", field, i)
		}
		for j, b := range ms[:i] {
			if overlaps(a.ContainerID, b.ContainerID, a.Size, b.Size) {
				return fmt.Errorf("%s[%d]: containerID range overlaps %s[%d]", field, i, field, j)
			}
			if overlaps(a.HostID, b.HostID, a.Size, b.Size) {
				return fmt.Errorf("%s[%d]: hostID range overlaps %s[%d]", field, i, field, j)
			}
		}
	}
	return nil
}

func overlaps(a, b, asize, bsize uint32) bool {
	return uint64(a) < uint64(b)+uint64(bsize) && uint64(b) < uint64(a)+uint64(asize)
}

// mountIndex performs spec mount i: idmapped binds here, the rest in
// mountEntry. Errors read "mount <source> to <destination>: <cause>".
func (s *setup) mountIndex(i int, m specs.Mount) error {
	req, ok, err := idmapOf(s.o.Spec, i)
	if err != nil {
		return err
	}
	if !ok {
		return s.mountEntry(m)
	}
	if err := s.idmappedBind(req); err != nil {
		return fmt.Errorf("mount %s to %s: %w", m.Source, m.Destination, err)
	}
	return nil
}

// idmappedBind attaches the detached idmapped tree of req at its
// destination, resolved inside the rootfs like every other mount, then
// applies the remaining options as for a plain bind.
func (s *setup) idmappedBind(req *idmapSpec) error {
	m := req.mount
	o, err := parseOptions(m.Options)
	if err != nil {
		return err
	}
	if m.Destination == "" {
		return errors.New("empty destination")
	}
	o.flags |= unix.MS_BIND
	if err := s.checkProcDest(nil, m, o); err != nil {
		return err
	}
	tree, err := s.openIDMapped(req.index)
	if err != nil {
		return err
	}
	defer tree.Close()
	// The source's type decides the mount point's, as for any bind. The
	// tree tells it: the init may not be allowed to stat the source.
	var st unix.Stat_t
	if err := unix.Fstat(int(tree.Fd()), &st); err != nil {
		return fmt.Errorf("stat idmapped tree: %w", err)
	}
	h, err := s.bindTarget(m, o, st.Mode&unix.S_IFMT == unix.S_IFDIR)
	if err != nil {
		return err
	}
	defer h.Close()
	// Both ends by fd: the tree is the one we idmapped, the target the
	// inode we resolved and checked.
	err = unix.MoveMount(int(tree.Fd()), "", int(h.Fd()), "",
		unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
	if err != nil {
		return fmt.Errorf("move_mount: %w", err)
	}
	top, err := s.reopen(m.Destination)
	if err != nil {
		return err
	}
	defer top.Close()
	if o.needsBindRemount() {
		if err := remountBind(top, o); err != nil {
			return fmt.Errorf("remount: %w", err)
		}
	}
	return applyPostMount(top, o)
}

// openIDMapped gets the detached tree of spec mount i from the parent, or
// makes it here.
func (s *setup) openIDMapped(i int) (*os.File, error) {
	if s.o.IDMapped != nil {
		f, err := s.o.IDMapped(i)
		if err != nil {
			return nil, err
		}
		if f == nil {
			return nil, errors.New("no idmapped mount received")
		}
		return f, nil
	}
	if s.idmapper == nil {
		userns := ""
		if hasUserNS(s.o.Spec) {
			userns = "/proc/self/ns/user"
		}
		s.idmapper = NewIDMapper(s.o.Spec, userns)
	}
	return s.idmapper.Open(i)
}

func (s *setup) closeIDMapper() {
	if s.idmapper != nil {
		s.idmapper.Close()
	}
}
