package spec

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The deferred path must give the same spec, and the same errors, as Load.
func TestLoadDataDeferSeccomp(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := Default()
	full, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	withSeccomp := strings.Replace(string(full), `"linux":{`, `"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],"syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW"}]},`, 1)
	for _, doc := range []string{string(full), withSeccomp, strings.Replace(string(full), `"linux":{`, `"linux":{"seccomp":null,`, 1)} {
		want, err := LoadData(dir, []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		got, raw, err := LoadDataDeferSeccomp(dir, []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		if raw != nil {
			if got.Linux.Seccomp != nil {
				t.Fatal("linux.seccomp decoded, want it deferred")
			}
			if got.Linux.Seccomp, err = DecodeSeccomp(dir, []byte(doc), raw); err != nil {
				t.Fatal(err)
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("deferred decode differs from Load:\n got %+v\nwant %+v", got.Linux, want.Linux)
		}
	}
	// A type error inside linux.seccomp is reported by DecodeSeccomp with
	// Load's words and position; one elsewhere by LoadDataDeferSeccomp.
	bad := strings.Replace(withSeccomp, `"names":["read","write"]`, `"names":"read"`, 1)
	_, werr := LoadData(dir, []byte(bad))
	_, raw, err := LoadDataDeferSeccomp(dir, []byte(bad))
	if err != nil || raw == nil {
		t.Fatalf("defer: %v (raw %q)", err, raw)
	}
	if _, err := DecodeSeccomp(dir, []byte(bad), raw); err == nil || werr == nil || err.Error() != werr.Error() {
		t.Errorf("seccomp error %v, want Load's %v", err, werr)
	}
	bad2 := strings.Replace(string(full), `"cwd":"/"`, `"cwd":5`, 1)
	_, werr = LoadData(dir, []byte(bad2))
	if _, _, err := LoadDataDeferSeccomp(dir, []byte(bad2)); err == nil || werr == nil || err.Error() != werr.Error() {
		t.Errorf("error %v, want Load's %v", err, werr)
	}
}
