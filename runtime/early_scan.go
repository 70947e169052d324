//go:build goexperiment.jsonv2

package runtime

import (
	"bytes"
	"encoding/json/jsontext"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// decodeEarly reads the earlyConfig fields from raw with a token scan
// that skips everything else. It is on create's path before the clone:
// encoding/json took 280 µs cold for the default bundle, building its
// decoders by reflection, where this takes under 100 µs (measured in a
// fresh process). It gives what json.Unmarshal gives (field names
// matched case-insensitively, a later duplicate winning, null leaving a
// string alone and clearing the rest); anything else, such as a wrong
// type or a name given twice, returns ok=false and create takes the sequential path, whose
// decoder words the error. createEarly checks the result against the
// full decode (sameEarly).
func decodeEarly(raw []byte) (ec earlyConfig, ok bool) {
	d := jsontext.NewDecoder(bytes.NewReader(raw), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	err := scanObject(d, func(k string) error {
		if !strings.EqualFold(k, "linux") {
			return d.SkipValue()
		}
		if isNull(d) {
			ec.Linux = nil
			return d.SkipValue()
		}
		if ec.Linux == nil {
			ec.Linux = &earlyLinux{}
		}
		return scanLinux(d, ec.Linux)
	})
	if err == nil {
		_, err = d.ReadToken()
		if err == io.EOF {
			return ec, true
		}
	}
	return earlyConfig{}, false
}

var errShape = errors.New("not the shape encoding/json expects")

func isNull(d *jsontext.Decoder) bool { return d.PeekKind() == 'n' }

// scanObject reads one object, calling field for each name with the
// decoder before the value, which field must consume. A name given twice
// (in any case) is left to encoding/json, which merges duplicates.
func scanObject(d *jsontext.Decoder, field func(string) error) error {
	tok, err := d.ReadToken()
	if err != nil {
		return err
	}
	if tok.Kind() != '{' {
		return errShape
	}
	var seen []string
	for d.PeekKind() != '}' {
		name, err := d.ReadToken()
		if err != nil {
			return err
		}
		k := strings.ToLower(name.String())
		if slices.Contains(seen, k) {
			return errShape
		}
		seen = append(seen, k)
		if err := field(name.String()); err != nil {
			return err
		}
	}
	_, err = d.ReadToken()
	return err
}

// scanArray reads one array (null: nil), calling elem for each element.
func scanArray(d *jsontext.Decoder, elem func() error) (isNil bool, err error) {
	tok, err := d.ReadToken()
	if err != nil {
		return false, err
	}
	switch tok.Kind() {
	case 'n':
		return true, nil
	case '[':
	default:
		return false, errShape
	}
	for d.PeekKind() != ']' {
		if err := elem(); err != nil {
			return false, err
		}
	}
	_, err = d.ReadToken()
	return false, err
}

// scanString reads a string into *s; null leaves it as it is.
func scanString(d *jsontext.Decoder, s *string) error {
	tok, err := d.ReadToken()
	switch {
	case err != nil:
		return err
	case tok.Kind() == 'n':
	case tok.Kind() == '"':
		*s = tok.String()
	default:
		return errShape
	}
	return nil
}

func scanUint32(d *jsontext.Decoder, u *uint32) error {
	tok, err := d.ReadToken()
	switch {
	case err != nil:
		return err
	case tok.Kind() == 'n':
	case tok.Kind() == '0':
		v, err := strconv.ParseUint(tok.String(), 10, 32)
		if err != nil {
			return errShape
		}
		*u = uint32(v)
	default:
		return errShape
	}
	return nil
}

func scanLinux(d *jsontext.Decoder, l *earlyLinux) error {
	return scanObject(d, func(k string) error {
		switch {
		case strings.EqualFold(k, "namespaces"):
			l.Namespaces = []specs.LinuxNamespace{} // [] is empty, not nil
			isNil, err := scanArray(d, func() error {
				var ns specs.LinuxNamespace
				err := scanObject(d, func(k string) error {
					switch {
					case strings.EqualFold(k, "type"):
						t := string(ns.Type)
						err := scanString(d, &t)
						ns.Type = specs.LinuxNamespaceType(t)
						return err
					case strings.EqualFold(k, "path"):
						return scanString(d, &ns.Path)
					}
					return d.SkipValue()
				})
				l.Namespaces = append(l.Namespaces, ns)
				return err
			})
			if isNil {
				l.Namespaces = nil
			}
			return err
		case strings.EqualFold(k, "uidMappings"):
			return scanMappings(d, &l.UIDMappings)
		case strings.EqualFold(k, "gidMappings"):
			return scanMappings(d, &l.GIDMappings)
		case strings.EqualFold(k, "cgroupsPath"):
			return scanString(d, &l.CgroupsPath)
		case strings.EqualFold(k, "seccomp"):
			if isNull(d) {
				l.Seccomp = nil
				return d.SkipValue()
			}
			if l.Seccomp == nil {
				l.Seccomp = &earlySeccomp{}
			}
			return scanObject(d, func(k string) error {
				if strings.EqualFold(k, "listenerPath") {
					return scanString(d, &l.Seccomp.ListenerPath)
				}
				return d.SkipValue()
			})
		}
		return d.SkipValue()
	})
}

func scanMappings(d *jsontext.Decoder, out *[]specs.LinuxIDMapping) error {
	*out = []specs.LinuxIDMapping{}
	isNil, err := scanArray(d, func() error {
		var m specs.LinuxIDMapping
		err := scanObject(d, func(k string) error {
			switch {
			case strings.EqualFold(k, "containerID"):
				return scanUint32(d, &m.ContainerID)
			case strings.EqualFold(k, "hostID"):
				return scanUint32(d, &m.HostID)
			case strings.EqualFold(k, "size"):
				return scanUint32(d, &m.Size)
			}
			return d.SkipValue()
		})
		*out = append(*out, m)
		return err
	})
	if isNil {
		*out = nil
	}
	return err
}
