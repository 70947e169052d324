package spec

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// lines joins its arguments with newlines so test documents can be written
// one JSON line per Go line, with exact columns.
func lines(ls ...string) []byte { return []byte(strings.Join(ls, "\n") + "\n") }

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want string // exact error text
	}{
		{
			name: "syntax trailing comma in object",
			data: lines(
				`{`,
				`  "ociVersion": "1.0.2",`,
				`  "root": {"path": "r",}`,
				`}`),
			want: `config.json:3:24: invalid character '}' looking for beginning of object key string`,
		},
		{
			name: "syntax missing value",
			data: lines(
				`{`,
				`  "ociVersion": }`),
			want: `config.json:2:17: invalid character '}' looking for beginning of value`,
		},
		{
			name: "syntax first byte",
			data: []byte(`x{}`),
			want: `config.json:1:1: invalid character 'x' looking for beginning of value`,
		},
		{
			name: "syntax truncated",
			data: []byte("{\n  \"ociVersion\": \"1.0.0\""),
			want: `config.json:2:24: unexpected end of JSON input`,
		},
		{
			name: "empty file",
			data: []byte("  \n"),
			want: `config.json: file is empty`,
		},
		{
			name: "number in string array",
			data: lines(
				`{`,
				`  "ociVersion": "1.0.2",`,
				`  "process": {`,
				`    "args": ["sh", 1],`,
				`    "cwd": "/"`,
				`  }`,
				`}`),
			want: `config.json:4:20: process.args[1]: cannot use number as string`,
		},
		{
			name: "object in string array",
			data: lines(
				`{"process": {"args": ["sh", "-c", {"x": 1}]}}`),
			want: `config.json:1:35: process.args[2]: cannot use object as string`,
		},
		{
			name: "string for array",
			data: lines(
				`{"process": {`,
				`  "args": "sh -c true"}}`),
			want: `config.json:2:11: process.args: cannot use string as array`,
		},
		{
			name: "negative uid",
			data: lines(
				`{"process": {"user": {"uid": -1}}}`),
			want: `config.json:1:30: process.user.uid: cannot use number -1 as uint32`,
		},
		{
			name: "array for object",
			data: lines(`{"root": ["rootfs"]}`),
			want: `config.json:1:10: root: cannot use array as object`,
		},
		{
			name: "bool for string",
			data: lines(`{"hostname": true}`),
			want: `config.json:1:14: hostname: cannot use boolean as string`,
		},
		{
			name: "string for bool in nested array of objects",
			data: lines(
				`{"linux": {"resources": {"devices": [`,
				`  {"allow": false, "access": "rwm"},`,
				`  {"allow": "yes"}`,
				`]}}}`),
			want: `config.json:3:13: linux.resources.devices[1].allow: cannot use string as boolean`,
		},
		{
			name: "map value with dotted key",
			data: lines(`{"linux": {"sysctl": {"net.ipv4.ip_forward": 1}}}`),
			want: `config.json:1:46: linux.sysctl["net.ipv4.ip_forward"]: cannot use number as string`,
		},
		{
			name: "top level array",
			data: lines(`[1, 2]`),
			want: `config.json:1:1: cannot use array as object`,
		},
		{
			name: "validation error located at the field",
			data: lines(
				`{`,
				`  "ociVersion": "1.0.2",`,
				`  "root": {"path": "rootfs"},`,
				`  "process": {`,
				`    "cwd": "/",`,
				`    "args": []`,
				`  }`,
				`}`),
			want: `config.json:6:13: process.args: must not be empty`,
		},
		{
			name: "validation error located at the list element",
			data: lines(
				`{"ociVersion": "1.2.0", "root": {"path": "r"},`,
				` "process": {"cwd": "/", "args": ["sh"],`,
				`  "capabilities": {"bounding": ["CAP_KILL",`,
				`     "CAP_FOO"]}}}`),
			want: `config.json:4:6: process.capabilities.bounding: unknown capability "CAP_FOO"`,
		},
		{
			name: "validation error for a missing field is located at its parent",
			data: lines(
				`{"ociVersion": "1.2.0",`,
				`  "root": {"readonly": true}}`),
			want: `config.json:2:11: root.path: must be set`,
		},
		{
			name: "validation error with nothing to point at",
			data: lines(`{"ociVersion": "1.2.0"}`),
			want: `config.json: root.path: must be set`,
		},
		{
			name: "ociVersion 2.x",
			data: lines(`{"ociVersion": "2.0.0", "root": {"path": "r"}}`),
			want: `config.json:1:16: ociVersion "2.0.0" is not supported (want 1.x)`,
		},
		{
			name: "null document",
			data: lines(`null`),
			want: `config.json: ociVersion: must be set (want 1.x)`,
		},
		{
			name: "device without minor",
			data: lines(
				`{"ociVersion": "1.0.0", "root": {"path": "r"}, "linux": {"devices": [`,
				`  {"path": "/dev/fuse", "type": "c", "major": 10}]}}`),
			want: `config.json:2:3: linux.devices[0]: type "c" needs minor`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(tt.data, "config.json")
			if err == nil {
				t.Fatalf("Parse succeeded (%+v), want error %q", s, tt.want)
			}
			if err.Error() != tt.want {
				t.Fatalf("error\n got: %s\nwant: %s", err, tt.want)
			}
		})
	}
}

func TestParseErrorUnwraps(t *testing.T) {
	_, err := Parse(lines(`{"ociVersion": "1.0.0", "root": {"path": "r"}, "process": {"cwd": "x", "args": ["a"]}}`), "c.json")
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "process.cwd" {
		t.Fatalf("want a *FieldError for process.cwd, got %T %v", err, err)
	}
	var de *DecodeError
	if !errors.As(err, &de) || de.Pos != "1:67" || de.Name != "c.json" {
		t.Fatalf("want DecodeError at c.json:1:67, got %#v", de)
	}
}

func TestParseAcceptsValid(t *testing.T) {
	data := lines(
		`{"ociVersion": "1.0.2-dev", "root": {"path": "rootfs"},`,
		` "someFutureField": {"x": [1, 2]},`,
		` "process": {"cwd": "/", "args": ["sh"], "unknownProcessKey": true},`,
		` "mounts": [{"destination": "data", "type": "tmpfs", "source": "tmpfs"}],`,
		` "linux": {"devices": [{"path": "/dev/fifo", "type": "p"},`,
		`   {"path": "/dev/null", "type": "c", "major": 1, "minor": 3}]}}`)
	s, err := Parse(data, "config.json")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got := s.Mounts[0].Destination; got != "/data" {
		t.Errorf("relative mount destination normalized to %q, want /data (runc resolves it in the rootfs)", got)
	}
	if s.Process.Args[0] != "sh" || s.Linux.Devices[1].Minor != 3 {
		t.Errorf("decoded wrong: %+v", s)
	}
}

func TestParseVersions(t *testing.T) {
	for _, v := range []string{"1.0.0", "1.0.2-dev", "1.0.0-rc5", "1.1.0", "1.2.0", "1.3.0", "1.3.0+build", "1.10.20"} {
		data := []byte(`{"ociVersion": "` + v + `", "root": {"path": "r"}}`)
		if _, err := Parse(data, "config.json"); err != nil {
			t.Errorf("version %q rejected: %v", v, err)
		}
	}
	bad := map[string]string{
		"0.5.0":  `ociVersion "0.5.0" is not supported (want 1.x)`,
		"2.0.0":  `ociVersion "2.0.0" is not supported (want 1.x)`,
		"1.0":    `ociVersion "1.0" is not a valid version (want 1.x.y)`,
		"v1.0.0": `ociVersion "v1.0.0" is not a valid version (want 1.x.y)`,
		"1.x.0":  `ociVersion "1.x.0" is not a valid version (want 1.x.y)`,
		"":       `ociVersion: must be set (want 1.x)`,
	}
	for v, want := range bad {
		data := []byte(`{"ociVersion": "` + v + `", "root": {"path": "r"}}`)
		_, err := Parse(data, "config.json")
		if err == nil || !strings.HasSuffix(err.Error(), want) {
			t.Errorf("version %q: got %v, want suffix %q", v, err, want)
		}
	}
}

func writeBundle(t *testing.T, config string, rootfs bool) string {
	t.Helper()
	dir := t.TempDir()
	if config != "" {
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(config), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if rootfs {
		if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoad(t *testing.T) {
	cfg := `{"ociVersion": "1.0.2-dev", "root": {"path": "rootfs"}, "process": {"cwd": "/", "args": ["true"]}}`

	t.Run("ok returns raw bytes", func(t *testing.T) {
		dir := writeBundle(t, cfg, true)
		s, raw, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if string(raw) != cfg {
			t.Errorf("raw bytes differ: %q", raw)
		}
		if got := RootfsPath(s, dir); got != filepath.Join(dir, "rootfs") {
			t.Errorf("RootfsPath = %q", got)
		}
	})
	t.Run("relative bundle", func(t *testing.T) {
		dir := writeBundle(t, cfg, true)
		t.Chdir(dir)
		if _, _, err := Load("."); err != nil {
			t.Fatalf("Load(.) = %v", err)
		}
	})
	t.Run("missing rootfs", func(t *testing.T) {
		dir := writeBundle(t, cfg, false)
		_, _, err := Load(dir)
		want := `root.path: rootfs "` + filepath.Join(dir, "rootfs") + `" does not exist`
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("got %v, want %q", err, want)
		}
		// The error names the file by its path and points at root.
		if !strings.HasPrefix(err.Error(), filepath.Join(dir, "config.json")+":1:46: ") {
			t.Errorf("error not located: %v", err)
		}
	})
	t.Run("rootfs is a file", func(t *testing.T) {
		dir := writeBundle(t, cfg, false)
		if err := os.WriteFile(filepath.Join(dir, "rootfs"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		_, _, err := Load(dir)
		if err == nil || !strings.Contains(err.Error(), `" is not a directory`) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("no config.json", func(t *testing.T) {
		dir := writeBundle(t, "", true)
		_, _, err := Load(dir)
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "has no config.json") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("syntax error names the path", func(t *testing.T) {
		dir := writeBundle(t, "{\n,}", true)
		_, _, err := Load(dir)
		want := filepath.Join(dir, "config.json") + ":2:1: invalid character ','"
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Fatalf("got %v, want prefix %q", err, want)
		}
	})
}

func TestRootfsPath(t *testing.T) {
	s := Default()
	if got := RootfsPath(s, "/b"); got != "/b/rootfs" {
		t.Errorf("relative: %q", got)
	}
	s.Root.Path = "/abs/./root/"
	if got := RootfsPath(s, "/b"); got != "/abs/root" {
		t.Errorf("absolute: %q", got)
	}
	s.Root = nil
	if got := RootfsPath(s, "/b"); got != "" {
		t.Errorf("nil root: %q", got)
	}
}

func TestBundledExampleParses(t *testing.T) {
	matches, _ := filepath.Glob("../bundles/*/config.json")
	if len(matches) == 0 {
		t.Skip("no example bundles in this checkout")
	}
	for _, m := range matches {
		data, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(data, m); err != nil {
			t.Errorf("%v", err)
		}
	}
}
