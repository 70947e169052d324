//go:build goexperiment.jsonv2

package runtime

import (
	"encoding/json"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gocker/gocker/spec/jsonscan"
)

// decodeEarly reads the earlyConfig fields from raw with a token scan
// that skips everything else. It is on create's path before the clone:
// encoding/json took 280 µs cold for the default bundle, building its
// decoders by reflection, where this takes under 100 µs (measured in a
// fresh process). It gives what json.Unmarshal gives (field names
// matched case-insensitively, [] kept apart from null, null leaving a
// string alone and clearing the rest); anything else, such as a wrong
// type or a name given twice, returns ok=false and create takes the
// sequential path, whose decoder words the error. createEarly checks the
// result against the full decode (sameEarly).
func decodeEarly(raw []byte) (ec earlyConfig, ok bool) {
	bc, ok := scanConfig(raw, false)
	return bc.earlyConfig, ok
}

// decodeBrief reads the briefConfig fields of raw, as decodeEarly does.
func decodeBrief(raw []byte) (bc briefConfig, ok bool) { return scanConfig(raw, true) }

func scanConfig(raw []byte, brief bool) (bc briefConfig, ok bool) {
	d := jsonscan.New(raw)
	err := d.Object(func(k string) error {
		switch {
		case strings.EqualFold(k, "linux"):
			if d.IsNull() {
				bc.Linux = nil
				return d.Skip()
			}
			bc.Linux = &earlyLinux{}
			return scanLinux(d, bc.Linux)
		case brief && strings.EqualFold(k, "process"):
			switch d.Kind() {
			case 'n':
				bc.Process = nil
			case '{':
				bc.Process = &struct{}{}
			default:
				return jsonscan.ErrShape
			}
			return d.Skip()
		case brief && strings.EqualFold(k, "hooks"):
			v, err := d.Raw()
			if err != nil {
				return err
			}
			// The hooks are decoded by encoding/json itself: they are
			// small, and so are exactly what the full decode gives.
			bc.Hooks = nil
			return json.Unmarshal(v, &bc.Hooks)
		}
		return d.Skip()
	})
	if err != nil || d.End() != nil {
		return briefConfig{}, false
	}
	return bc, true
}

func scanLinux(d *jsonscan.Decoder, l *earlyLinux) error {
	return d.Object(func(k string) error {
		switch {
		case strings.EqualFold(k, "namespaces"):
			l.Namespaces = []specs.LinuxNamespace{} // [] is empty, not nil
			isNil, err := d.Array(func() error {
				var ns specs.LinuxNamespace
				err := d.Object(func(k string) error {
					switch {
					case strings.EqualFold(k, "type"):
						t := string(ns.Type)
						err := d.String(&t)
						ns.Type = specs.LinuxNamespaceType(t)
						return err
					case strings.EqualFold(k, "path"):
						return d.String(&ns.Path)
					}
					return d.Skip()
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
			return d.String(&l.CgroupsPath)
		case strings.EqualFold(k, "seccomp"):
			if d.IsNull() {
				l.Seccomp = nil
				return d.Skip()
			}
			l.Seccomp = &earlySeccomp{}
			return d.Object(func(k string) error {
				if strings.EqualFold(k, "listenerPath") {
					return d.String(&l.Seccomp.ListenerPath)
				}
				return d.Skip()
			})
		}
		return d.Skip()
	})
}

func scanMappings(d *jsonscan.Decoder, out *[]specs.LinuxIDMapping) error {
	*out = []specs.LinuxIDMapping{}
	isNil, err := d.Array(func() error {
		var m specs.LinuxIDMapping
		var c, h, s uint64
		err := d.Object(func(k string) error {
			switch {
			case strings.EqualFold(k, "containerID"):
				return d.Uint(&c, 32)
			case strings.EqualFold(k, "hostID"):
				return d.Uint(&h, 32)
			case strings.EqualFold(k, "size"):
				return d.Uint(&s, 32)
			}
			return d.Skip()
		})
		m.ContainerID, m.HostID, m.Size = uint32(c), uint32(h), uint32(s)
		*out = append(*out, m)
		return err
	})
	if isNil {
		*out = nil
	}
	return err
}
