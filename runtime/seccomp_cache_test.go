package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gocker/gocker/runtime/proto"
	"github.com/gocker/gocker/runtime/seccomp"
	"github.com/gocker/gocker/runtime/state"
)

func withBuild(t *testing.T, b string) {
	old := proto.Build
	proto.Build = b
	t.Cleanup(func() { proto.Build = old })
}

func compiled(t *testing.T, names ...string) *seccomp.Filter {
	f, err := seccomp.Compile(&specs.LinuxSeccomp{DefaultAction: specs.ActErrno,
		Syscalls: []specs.LinuxSyscall{{Names: names, Action: specs.ActAllow}}})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestSeccompCache(t *testing.T) {
	withBuild(t, "test-build-1")
	root := t.TempDir()
	sc := newSeccompCache(root)
	raw := []byte(`{"defaultAction":"SCMP_ACT_ERRNO"}`)
	key := sc.key(raw)
	if sc.load(key) != nil {
		t.Fatal("hit in an empty cache")
	}
	f := compiled(t, "read", "write")
	sc.store(key, f)
	g := sc.load(key)
	if g == nil || !reflect.DeepEqual(f.Program(), g.Program()) {
		t.Fatalf("stored program not read back: %v", g)
	}
	if k := sc.key(append(raw, ' ')); k == key {
		t.Error("other bytes, same key")
	}
	withBuild(t, "test-build-2")
	if sc.key(raw) == key {
		t.Error("other build, same key: a changed compiler would reuse old programs")
	}
	// A damaged entry is a miss, not an error; the next store repairs it.
	if err := os.WriteFile(filepath.Join(root, seccompCacheDir, key), []byte("GSF1garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if sc.load(key) != nil {
		t.Error("damaged entry read as a program")
	}
	// The cache is no container: list skips it.
	ids, err := state.Store{Root: root}.List()
	if err != nil || len(ids) != 0 {
		t.Errorf("list of a root with only the cache: %v %v", ids, err)
	}
	if st, err := os.Stat(filepath.Join(root, seccompCacheDir)); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("cache dir: %v, %v (want mode 0700)", st, err)
	}
}

// TestSeccompCacheTrim: the cache keeps the newest seccompCacheMax entries
// and removes a temp file a killed create left.
func TestSeccompCacheTrim(t *testing.T) {
	withBuild(t, "test-build")
	root := t.TempDir()
	sc := newSeccompCache(root)
	f := compiled(t, "read")
	old := time.Now().Add(-time.Hour)
	var keys []string
	for i := 0; i < seccompCacheMax+3; i++ {
		k := sc.key([]byte(fmt.Sprint(i)))
		keys = append(keys, k)
		sc.store(k, f)
		// mtimes one second apart, oldest first, as if written over time
		ts := old.Add(time.Duration(i) * time.Second)
		os.Chtimes(filepath.Join(sc.dir, k), ts, ts)
	}
	stale := filepath.Join(sc.dir, ".x.tmp123")
	os.WriteFile(stale, nil, 0o600)
	os.Chtimes(stale, old, old)
	sc.trim()
	ents, _ := os.ReadDir(sc.dir)
	if len(ents) != seccompCacheMax {
		t.Errorf("%d entries after trim, want %d", len(ents), seccompCacheMax)
	}
	for i, k := range keys {
		_, err := os.Stat(filepath.Join(sc.dir, k))
		if gone := err != nil; gone != (i < 3) {
			t.Errorf("entry %d: gone=%v", i, gone)
		}
	}
	if _, err := os.Stat(stale); err == nil {
		t.Error("stale temp file kept")
	}
}

// TestSeccompCacheOff: a build without an id (go test, go run) caches
// nothing, and a nil cache is safe to use.
func TestSeccompCacheOff(t *testing.T) {
	withBuild(t, "")
	root := t.TempDir()
	sc := newSeccompCache(root)
	if sc != nil {
		t.Fatal("cache on for a build without an id")
	}
	sc.store(sc.key([]byte("x")), compiled(t, "read"))
	if sc.load(sc.key([]byte("x"))) != nil {
		t.Error("nil cache hit")
	}
	if ents, _ := os.ReadDir(root); len(ents) != 0 {
		t.Errorf("nil cache wrote %d entries", len(ents))
	}
}

// TestSeccompCacheNotPrivate: a cache directory that others can write is
// not read, whatever it holds.
func TestSeccompCacheNotPrivate(t *testing.T) {
	withBuild(t, "test-build")
	sc := newSeccompCache(t.TempDir())
	key := sc.key([]byte("x"))
	sc.store(key, compiled(t, "read"))
	if sc.load(key) == nil {
		t.Fatal("no hit in a private cache")
	}
	if err := os.Chmod(sc.dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if sc.load(key) != nil {
		t.Error("hit in a world-writable cache directory")
	}
	os.Chmod(sc.dir, 0o700)
	real := sc.dir + ".real"
	if err := os.Rename(sc.dir, real); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, sc.dir); err != nil {
		t.Fatal(err)
	}
	if sc.load(key) != nil {
		t.Error("hit through a symlinked cache directory")
	}
	// An entry that is a symlink (to a valid entry elsewhere) is a miss.
	os.Remove(sc.dir)
	if err := os.Mkdir(sc.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(real, key), filepath.Join(sc.dir, key)); err != nil {
		t.Fatal(err)
	}
	if sc.load(key) != nil {
		t.Error("hit through a symlinked entry")
	}
}
