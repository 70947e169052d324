package rootfs

import (
	"os"
	"path/filepath"
	"testing"
)

// mkdirLeaf needs no privilege: it only opens, makes and opens directories
// under a handle on the root.
func newLeafSetup(t *testing.T) (*setup, string, string) {
	t.Helper()
	base := t.TempDir()
	root := filepath.Join(base, "root")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{filepath.Join(root, "dev"), outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	h, err := os.OpenFile(root, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return &setup{root: h, rootfs: root}, root, outside
}

func TestMkdirLeafMakesTheLastComponent(t *testing.T) {
	s, root, _ := newLeafSetup(t)
	h := s.mkdirLeaf("/dev/pts")
	if h == nil {
		t.Fatal("mkdirLeaf(/dev/pts) = nil, want a handle")
	}
	defer h.Close()
	if fi, err := os.Stat(filepath.Join(root, "dev/pts")); err != nil || !fi.IsDir() {
		t.Fatalf("dev/pts was not made in the root: %v", err)
	}
	if got := s.mkdirLeaf("/a/b/c"); got != nil {
		got.Close()
		t.Error("mkdirLeaf made a path with a missing parent; that is the full walk's job")
	}
}

// A parent that is a symlink leading out of the rootfs is followed inside
// the root (RESOLVE_IN_ROOT), never to the host directory.
func TestMkdirLeafStaysInTheRoot(t *testing.T) {
	s, root, outside := newLeafSetup(t)
	if err := os.Symlink(outside, filepath.Join(root, "escape")); err != nil {
		t.Fatal(err)
	}
	if h := s.mkdirLeaf("/escape/x"); h != nil {
		h.Close()
	}
	if _, err := os.Stat(filepath.Join(outside, "x")); err == nil {
		t.Fatal("mkdirLeaf created a directory outside the rootfs through a symlink")
	}
	// A dangling symlink at the leaf is left to the full walk, which
	// resolves it inside the root.
	if err := os.Symlink(filepath.Join(outside, "y"), filepath.Join(root, "dev", "y")); err != nil {
		t.Fatal(err)
	}
	if h := s.mkdirLeaf("/dev/y"); h != nil {
		h.Close()
		t.Error("mkdirLeaf opened a symlinked leaf")
	}
	if _, err := os.Stat(filepath.Join(outside, "y")); err == nil {
		t.Fatal("mkdirLeaf created the target of a dangling symlink outside the rootfs")
	}
}
