// Package spec loads, validates and generates OCI runtime configurations
// (config.json). Every error names the field at fault and, when it comes
// from a file, the line and column: "config.json:12:20: process.args[1]: ...".
package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ConfigFile is the name of the configuration inside a bundle
// (runtime-spec bundle.md).
const ConfigFile = "config.json"

// Load reads <bundle>/config.json, decodes and validates it. It returns the
// spec and the raw bytes (the caller snapshots them into the state dir).
func Load(bundle string) (*specs.Spec, []byte, error) {
	data, err := ReadConfig(bundle)
	if err != nil {
		return nil, nil, err
	}
	s, err := LoadData(bundle, data)
	if err != nil {
		return nil, nil, err
	}
	return s, data, nil
}

// ReadConfig reads the bundle's config.json, with Load's errors.
func ReadConfig(bundle string) ([]byte, error) {
	path := filepath.Join(bundle, ConfigFile)
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("bundle %q has no %s: %w", bundle, ConfigFile, fs.ErrNotExist)
		}
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, nil
}

// LoadData is Load for the bytes ReadConfig returned.
func LoadData(bundle string, data []byte) (*specs.Spec, error) {
	abs, err := filepath.Abs(bundle)
	if err != nil {
		return nil, fmt.Errorf("bundle %q: %w", bundle, err)
	}
	return parse(data, filepath.Join(bundle, ConfigFile), abs)
}

// Parse decodes data (name is used in error messages, e.g. "config.json")
// and validates it without looking at the filesystem.
func Parse(data []byte, name string) (*specs.Spec, error) {
	return parse(data, name, "")
}

func parse(data []byte, name, bundle string) (*specs.Spec, error) {
	var s specs.Spec
	if err := decode(data, name, &s); err != nil {
		return nil, err
	}
	if err := check(&s, data, name, bundle); err != nil {
		return nil, err
	}
	return &s, nil
}

// decode decodes config.json data (named name in errors) into v.
func decode(data []byte, name string, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return fmt.Errorf("%s: file is empty", name)
	}
	// Unknown fields are ignored on purpose: runc does, and bundles written
	// for newer spec versions must keep working (runtime-spec config.md,
	// "Extensibility": runtimes MUST ignore unknown properties).
	if err := json.Unmarshal(data, v); err != nil {
		return decodeError(data, name, err)
	}
	return nil
}

// check is what parse does after decoding.
func check(s *specs.Spec, data []byte, name, bundle string) error {
	normalize(s)
	if err := Validate(s, bundle); err != nil {
		return locate(data, name, err)
	}
	if err := checkRawDevices(data, s); err != nil {
		return locate(data, name, err)
	}
	return nil
}

// Shadows of Spec and Linux whose linux.seccomp stays raw: a field of the
// outer struct wins over the embedded one of the same JSON name
// (encoding/json's rules for embedded fields).
type deferSeccompSpec struct {
	specs.Spec
	Linux *deferSeccompLinux `json:"linux,omitempty"`
}

type deferSeccompLinux struct {
	specs.Linux
	Seccomp json.RawMessage `json:"seccomp,omitempty"`
}

// LoadDataDeferSeccomp is LoadData except that linux.seccomp is returned
// undecoded (nil when absent or null) and left nil in the spec: a seccomp
// profile is most of a Docker config.json, and create decodes it while
// the container's init sets up its rootfs (runtime/early.go). Decode it
// with DecodeSeccomp.
func LoadDataDeferSeccomp(bundle string, data []byte) (*specs.Spec, []byte, error) {
	abs, err := filepath.Abs(bundle)
	if err != nil {
		return nil, nil, fmt.Errorf("bundle %q: %w", bundle, err)
	}
	name := filepath.Join(bundle, ConfigFile)
	var d deferSeccompSpec
	if err := decode(data, name, &d); err != nil {
		return nil, nil, err
	}
	s := d.Spec
	var raw []byte
	if d.Linux != nil {
		l := d.Linux.Linux
		s.Linux = &l
		if r := bytes.TrimSpace(d.Linux.Seccomp); len(r) > 0 && !bytes.Equal(r, []byte("null")) {
			raw = d.Linux.Seccomp
		}
	}
	if err := check(&s, data, name, abs); err != nil {
		return nil, nil, err
	}
	return &s, raw, nil
}

// DecodeSeccomp decodes the raw linux.seccomp of data (the whole
// config.json, for the position of an error in it).
func DecodeSeccomp(bundle string, data, raw []byte) (*specs.LinuxSeccomp, error) {
	var sc specs.LinuxSeccomp
	if err := json.Unmarshal(raw, &sc); err != nil {
		// Decode the whole document for the error's line:column.
		if _, ferr := LoadData(bundle, data); ferr != nil {
			return nil, ferr
		}
		return nil, fmt.Errorf("linux.seccomp: %w", err)
	}
	return &sc, nil
}

// normalize rewrites legacy forms that runc accepts into their modern
// equivalent, so the rest of Gocker sees one shape only.
func normalize(s *specs.Spec) {
	for i := range s.Mounts {
		// runtime-spec 1.0 requires absolute destinations, but runc keeps
		// accepting relative ones (with a warning) and resolves them
		// inside the rootfs, which is what a leading "/" means.
		if d := s.Mounts[i].Destination; d != "" && !filepath.IsAbs(d) {
			s.Mounts[i].Destination = "/" + d
		}
	}
}

// checkRawDevices catches what the decoded struct cannot show: major and
// minor are plain int64 with omitempty, so a missing number reads as 0.
// runtime-spec config-linux.md: both are REQUIRED unless type is "p".
func checkRawDevices(data []byte, s *specs.Spec) error {
	if s.Linux == nil || len(s.Linux.Devices) == 0 {
		return nil
	}
	ix := newJSONIndex(data)
	for i, d := range s.Linux.Devices {
		if d.Type != "c" && d.Type != "u" && d.Type != "b" {
			continue
		}
		p := joinIndex("linux.devices", i)
		for _, f := range []string{"major", "minor"} {
			if _, ok := ix.byPath[p+"."+f]; !ok {
				return fieldErr(p, "type %q needs %s", d.Type, f)
			}
		}
	}
	return nil
}

// RootfsPath returns root.path made absolute against bundle.
func RootfsPath(s *specs.Spec, bundle string) string {
	if s.Root == nil {
		return ""
	}
	if filepath.IsAbs(s.Root.Path) {
		return filepath.Clean(s.Root.Path)
	}
	return filepath.Join(bundle, s.Root.Path)
}

// checkVersion accepts every 1.x.y: the 1.x line is backwards compatible
// (runtime-spec semver promise), so a bundle from runc 1.1 ("1.0.2-dev") and
// one from a newer generator ("1.3.0") are both fine.
func checkVersion(v string) error {
	if v == "" {
		return fieldErr("ociVersion", "must be set (want 1.x)")
	}
	core, _, _ := strings.Cut(v, "-")
	core, _, _ = strings.Cut(core, "+")
	parts := strings.Split(core, ".")
	if len(parts) != 3 || !allDigits(parts) {
		return &FieldError{Field: "ociVersion", Msg: fmt.Sprintf("%q is not a valid version (want 1.x.y)", v), bare: true}
	}
	if parts[0] != "1" {
		return &FieldError{Field: "ociVersion", Msg: fmt.Sprintf("%q is not supported (want 1.x)", v), bare: true}
	}
	return nil
}

func allDigits(parts []string) bool {
	for _, p := range parts {
		if p == "" {
			return false
		}
		for _, c := range p {
			if c < '0' || c > '9' {
				return false
			}
		}
	}
	return true
}
