package rootfs

// The harness's stand-in for gocker's parent in idmapped mounts: the test
// process makes the detached mounts with IDMapper.Open and passes them to
// the child over a socketpair, one request per datagram, as the init and
// its parent do over their sync socket.

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// idmapFD is the child's end of the socketpair (the first ExtraFile).
const idmapFD = 3

// runChild runs cmd and, with IDMapParent, serves its idmap requests.
func runChild(t *testing.T, cmd *exec.Cmd, c *childConfig) error {
	t.Helper()
	if !c.IDMapParent {
		return cmd.Run()
	}
	if c.Outer != nil {
		t.Fatal("IDMapParent does not work with Outer")
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	parent, child := os.NewFile(uintptr(fds[0]), "idmap-parent"), os.NewFile(uintptr(fds[1]), "idmap-child")
	defer parent.Close()
	cmd.ExtraFiles = []*os.File{child}
	err = cmd.Start()
	child.Close()
	if err != nil {
		return err
	}
	mapper := NewIDMapper(c.Spec, fmt.Sprintf("/proc/%d/ns/user", cmd.Process.Pid))
	defer mapper.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		serveIDMapped(parent, mapper)
	}()
	err = cmd.Wait()
	<-done // the child's end is closed now: serveIDMapped reads EOF
	return err
}

// serveIDMapped answers "<index>" with "ok" and the tree's fd, or with
// "error: <message>".
func serveIDMapped(sock *os.File, mapper *IDMapper) {
	buf := make([]byte, 64)
	for {
		n, err := unix.Read(int(sock.Fd()), buf)
		if err != nil || n == 0 {
			return
		}
		i, err := strconv.Atoi(string(buf[:n]))
		if err != nil {
			return
		}
		tree, err := mapper.Open(i)
		if err != nil {
			unix.Sendmsg(int(sock.Fd()), []byte("error: "+err.Error()), nil, nil, 0)
			continue
		}
		err = unix.Sendmsg(int(sock.Fd()), []byte("ok"), unix.UnixRights(int(tree.Fd())), nil, 0)
		tree.Close()
		if err != nil {
			return
		}
	}
}

// askParentIDMapped is the child's Options.IDMapped.
func askParentIDMapped(i int) (*os.File, error) {
	if _, err := unix.Write(idmapFD, []byte(strconv.Itoa(i))); err != nil {
		return nil, fmt.Errorf("ask parent: %w", err)
	}
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(idmapFD, buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("parent reply: %w", err)
	}
	if msg := string(buf[:n]); msg != "ok" {
		return nil, errors.New(strings.TrimPrefix(msg, "error: "))
	}
	scms, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(scms) != 1 {
		return nil, fmt.Errorf("parent reply without fd: %v", err)
	}
	fds, err := unix.ParseUnixRights(&scms[0])
	if err != nil || len(fds) != 1 {
		return nil, fmt.Errorf("parent reply without fd: %v", err)
	}
	return os.NewFile(uintptr(fds[0]), "idmapped"), nil
}

func sysIDMaps(ms []specs.LinuxIDMapping) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(ms))
	for i, m := range ms {
		out[i] = syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)}
	}
	return out
}
