package runtime

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

var sealMethods = []struct {
	name string
	seal func(scratch string) (*os.File, error)
}{
	{"overlay", func(scratch string) (*os.File, error) { return sealOverlay(scratch, selfPath(), "/proc/self/exe") }},
	{"memfd", func(string) (*os.File, error) { return sealMemfd("/proc/self/exe") }},
	{"robind", func(string) (*os.File, error) { return sealRoBind("/proc/self/exe") }},
}

func selfPath() string {
	p, _ := os.Readlink("/proc/self/exe")
	return p
}

func needRoot(t testing.TB) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (overlayfs, open_tree)")
	}
}

func fileHash(t testing.TB, p string) [32]byte {
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// TestSealedSelfNotWritable: every method yields the running binary's bytes
// and refuses to be reopened for writing, which is what a container process
// does with /proc/PID/exe (CVE-2019-5736).
func TestSealedSelfNotWritable(t *testing.T) {
	needRoot(t)
	want := fileHash(t, "/proc/self/exe")
	for _, m := range sealMethods {
		t.Run(m.name, func(t *testing.T) {
			f, err := m.seal(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			p := fmt.Sprintf("/proc/self/fd/%d", f.Fd())
			if got := fileHash(t, p); got != want {
				t.Errorf("content differs from /proc/self/exe")
			}
			w, err := os.OpenFile(p, os.O_WRONLY, 0)
			if err == nil {
				// A sealed memfd may open, but no byte may go in.
				_, err = w.Write([]byte{0x7f})
				w.Close()
			}
			if err == nil {
				t.Fatalf("wrote through the handle")
			}
			// robind shares the inode this test is running from, so
			// ETXTBSY comes before its EROFS.
			busy := m.name == "robind" && errors.Is(err, unix.ETXTBSY)
			if !errors.Is(err, unix.EROFS) && !errors.Is(err, unix.EPERM) && !busy {
				t.Errorf("write error %v, want EROFS or EPERM", err)
			}
		})
	}
	if got := fileHash(t, "/proc/self/exe"); got != want {
		t.Fatal("the test binary changed")
	}
}

// TestSealOverlayScratchCannotShadow: a file named like the binary in the
// scratch layer must not be what the handle opens.
func TestSealOverlayScratchCannotShadow(t *testing.T) {
	needRoot(t)
	self, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	scratch := t.TempDir()
	base := self[bytes.LastIndexByte([]byte(self), '/')+1:]
	if err := os.WriteFile(scratch+"/"+base, []byte("#!/bin/evil\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := sealOverlay(scratch, self, "/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if fileHash(t, fmt.Sprintf("/proc/self/fd/%d", f.Fd())) != fileHash(t, "/proc/self/exe") {
		t.Error("the scratch layer shadowed the binary")
	}
}

func TestSealOverlayNoScratchFallsBack(t *testing.T) {
	needRoot(t)
	f, err := sealPath("", selfPath())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	if st.Type != unix.TMPFS_MAGIC && st.Type != 0x01021994 { // memfd lives on tmpfs/shmem
		t.Errorf("without scratch dir: f_type %#x, want the memfd fallback (shmem)", st.Type)
	}
}

// BenchmarkSeal measures what each method adds to every create.
func BenchmarkSeal(b *testing.B) {
	needRoot(b)
	if st, err := os.Stat("/proc/self/exe"); err == nil {
		b.Logf("binary size %d bytes", st.Size())
	}
	scratch := b.TempDir()
	for _, m := range sealMethods {
		b.Run(m.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				f, err := m.seal(scratch)
				if err != nil {
					b.Fatal(err)
				}
				f.Close()
			}
		})
	}
}
