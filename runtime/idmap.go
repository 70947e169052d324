package runtime

import (
	"fmt"

	"github.com/gocker/gocker/runtime/proto"
	"github.com/gocker/gocker/runtime/rootfs"
)

// sendIDMapped answers the init's request for spec mount i as a detached
// idmapped mount. The init of a container with its own user namespace has
// no CAP_SYS_ADMIN over host filesystems, which mount_setattr(2) needs to
// idmap them; we do, in the host's namespaces. Which mounts may be opened
// is decided by our copy of the spec, never by the init. A failure goes
// back to the init as text, so that its error names the mount.
func (cr *creation) sendIDMapped(i int) error {
	if cr.idmap == nil {
		// The init is in the container's user namespace by now (new,
		// or joined by the nsenter constructor before Go started).
		cr.idmap = rootfs.NewIDMapper(cr.c.Spec, fmt.Sprintf("/proc/%d/ns/user", cr.c.State.InitPid))
	}
	tree, err := cr.idmap.Open(i)
	if err != nil {
		return cr.conn.Send(&proto.Msg{Type: proto.TypeIDMapFd, Msg: err.Error()}, -1)
	}
	defer tree.Close()
	return cr.conn.Send(&proto.Msg{Type: proto.TypeIDMapFd}, int(tree.Fd()))
}

func (cr *creation) closeIDMapper() {
	if cr.idmap != nil {
		cr.idmap.Close()
		cr.idmap = nil
	}
}
