package seccomp

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// Wire is a compiled Filter in a form that crosses gocker's sync socket as
// JSON: the parent compiles the profile once, at create, and the init
// installs the program without parsing the profile or compiling it again
// (both are on the container start path).
type Wire struct {
	Prog             []byte  `json:"prog"` // struct sock_filter array, native byte order
	Flags            uintptr `json:"flags"`
	Notify           bool    `json:"notify,omitempty"`
	ListenerPath     string  `json:"listenerPath,omitempty"`
	ListenerMetadata string  `json:"listenerMetadata,omitempty"`
}

const sockFilterSize = 8 // u16 code, u8 jt, u8 jf, u32 k

// Wire returns f for the wire; nil for a nil Filter.
func (f *Filter) Wire() *Wire {
	if f == nil {
		return nil
	}
	b := make([]byte, len(f.prog)*sockFilterSize)
	for i, in := range f.prog {
		p := b[i*sockFilterSize:]
		binary.NativeEndian.PutUint16(p, in.Code)
		p[2], p[3] = in.Jt, in.Jf
		binary.NativeEndian.PutUint32(p[4:], in.K)
	}
	return &Wire{Prog: b, Flags: f.flags, Notify: f.notify, ListenerPath: f.ListenerPath, ListenerMetadata: f.ListenerMetadata}
}

// Filter rebuilds the Filter. The program is not verified again: it comes
// from our own parent, and the kernel checks it at Install.
func (w *Wire) Filter() (*Filter, error) {
	if w == nil {
		return nil, nil
	}
	n := len(w.Prog) / sockFilterSize
	if n == 0 || len(w.Prog)%sockFilterSize != 0 || n > 0xffff {
		return nil, fmt.Errorf("seccomp: malformed program of %d bytes", len(w.Prog))
	}
	prog := make([]unix.SockFilter, n)
	for i := range prog {
		p := w.Prog[i*sockFilterSize:]
		prog[i] = unix.SockFilter{Code: binary.NativeEndian.Uint16(p), Jt: p[2], Jf: p[3], K: binary.NativeEndian.Uint32(p[4:])}
	}
	return &Filter{prog: prog, flags: w.Flags, notify: w.Notify, ListenerPath: w.ListenerPath, ListenerMetadata: w.ListenerMetadata}, nil
}
