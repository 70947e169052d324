package initproc

import (
	"errors"
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gocker/gocker/runtime/proto"
)

// askIDMapped is rootfs.Options.IDMapped for a container with a user
// namespace: the parent makes the detached idmapped mount (we lack
// CAP_SYS_ADMIN over the host's filesystems) and sends its fd.
func askIDMapped(conn *proto.Conn) func(int) (*os.File, error) {
	return func(i int) (*os.File, error) {
		if err := conn.Send(&proto.Msg{Type: proto.TypeIDMap, Index: i}, -1); err != nil {
			return nil, err
		}
		m, fd, err := conn.Expect(proto.TypeIDMapFd)
		if err != nil {
			return nil, fmt.Errorf("idmapped mount from the parent: %w", err)
		}
		if fd < 0 {
			if m.Msg == "" {
				m.Msg = "the parent sent no idmapped mount"
			}
			return nil, errors.New(m.Msg)
		}
		return os.NewFile(uintptr(fd), "idmapped-mount"), nil
	}
}

func hasUserNS(s *specs.Spec) bool {
	if s.Linux == nil {
		return false
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == specs.UserNamespace {
			return true
		}
	}
	return false
}
