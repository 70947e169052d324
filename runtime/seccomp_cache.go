package runtime

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gocker/gocker/runtime/proto"
	"github.com/gocker/gocker/runtime/seccomp"
	"github.com/gocker/gocker/runtime/state"
)

// The compiled seccomp programs of recent profiles are kept in the runtime
// root, keyed by the SHA-256 of the profile's JSON bytes and gocker's
// build. Docker, containerd and podman give every container the same
// profile, and decoding and compiling it is about 0.4 ms of CPU in a fresh
// process, on the start path of every container with seccomp (issue 5:
// ≤ 1 ms). crun caches its libseccomp output the same way
// (containers/crun#1035). The entry is written only after a successful
// compile of exactly those bytes by exactly this build, and the compiler
// reads nothing but the profile, so a hit gives what a compile would. The
// kernel still checks the program at install. Only a directory that is
// ours alone is read or written (private).
const (
	seccompCacheDir = "@seccomp" // "@" is not allowed in a container id (spec/id.go)
	seccompCacheMax = 32         // entries; each is the program (~3.3 KB for Docker's)
)

// seccompCache is the cache in one runtime root; nil caches nothing.
type seccompCache struct{ dir string }

// newSeccompCache is the cache of root. A build without a build id (go
// test, go run) caches nothing: two such builds could compile differently
// under one key.
func newSeccompCache(root string) *seccompCache {
	if proto.Build == "" || root == "" {
		return nil
	}
	return &seccompCache{dir: filepath.Join(root, seccompCacheDir)}
}

// key names the entry of a profile's raw JSON.
func (sc *seccompCache) key(raw []byte) string {
	if sc == nil {
		return ""
	}
	h := sha256.New()
	h.Write([]byte("gocker seccomp cache\x00" + proto.Build + "\x00" + goruntime.GOARCH + "\x00"))
	h.Write(raw)
	return hex.EncodeToString(h.Sum(nil))
}

// load returns the cached program of key, or nil. An unreadable or
// malformed entry is a miss, and is written again after the compile. The
// entry is opened relative to the directory it checked, so a parent
// directory someone else controls cannot swap in another one after the
// check.
func (sc *seccompCache) load(key string) *seccomp.Filter {
	if sc == nil {
		return nil
	}
	dir, err := unix.Open(sc.dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(dir)
	var st unix.Stat_t
	if unix.Fstat(dir, &st) != nil || !privateDir(&st) {
		return nil
	}
	fd, err := unix.Openat(dir, key, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	file := os.NewFile(uintptr(fd), key)
	defer file.Close()
	b, err := io.ReadAll(io.LimitReader(file, 1<<20))
	if err != nil {
		return nil
	}
	f, err := seccomp.ParseBinary(b)
	if err != nil {
		return nil
	}
	return f
}

// private reports whether the cache directory is ours alone (owned by
// our euid, no group or other access, not a symlink), so that nobody else
// can have put a program there: a --root in a shared place must not let
// another user choose a container's seccomp filter.
func (sc *seccompCache) private() bool {
	var st unix.Stat_t
	return unix.Lstat(sc.dir, &st) == nil && privateDir(&st)
}

func privateDir(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFDIR && st.Mode&0o077 == 0 && st.Uid == uint32(os.Geteuid())
}

// store writes f under key (temp file and rename: a reader never sees a
// torn entry) and trims the cache. It is best effort: a failure only
// means the next create compiles again.
func (sc *seccompCache) store(key string, f *seccomp.Filter) {
	if sc == nil {
		return
	}
	if err := os.Mkdir(sc.dir, 0o700); (err != nil && !os.IsExist(err)) || !sc.private() {
		return
	}
	if state.WriteFileAtomic(filepath.Join(sc.dir, key), f.AppendBinary(nil), 0o600) == nil {
		sc.trim()
	}
}

// trim removes the oldest entries beyond seccompCacheMax, and temp files
// that a killed create left (older than a minute: a live one is renamed
// within milliseconds).
func (sc *seccompCache) trim() {
	ents, err := os.ReadDir(sc.dir)
	if err != nil {
		return
	}
	type entry struct {
		name string
		mod  time.Time
	}
	var keep []entry
	for _, e := range ents {
		info, err := e.Info()
		if err != nil {
			continue
		}
		if len(e.Name()) != sha256.Size*2 {
			if time.Since(info.ModTime()) > time.Minute {
				os.Remove(filepath.Join(sc.dir, e.Name()))
			}
			continue
		}
		keep = append(keep, entry{e.Name(), info.ModTime()})
	}
	if len(keep) <= seccompCacheMax {
		return
	}
	slices.SortFunc(keep, func(a, b entry) int { return a.mod.Compare(b.mod) })
	for _, e := range keep[:len(keep)-seccompCacheMax] {
		os.Remove(filepath.Join(sc.dir, e.name))
	}
}
