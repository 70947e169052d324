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

// cacheMagic starts a Filter in AppendBinary's form; a change of the form
// changes it, so that an older file reads as a miss.
const cacheMagic = "GSF1"

// AppendBinary appends f in a form that ParseBinary reads back: what the
// runtime root's cache of compiled programs stores (runtime/seccomp_cache.go).
func (f *Filter) AppendBinary(b []byte) []byte {
	w := f.Wire()
	b = append(b, cacheMagic...)
	b = binary.NativeEndian.AppendUint64(b, uint64(w.Flags))
	notify := byte(0)
	if w.Notify {
		notify = 1
	}
	b = append(b, notify)
	b = appendBytes(b, w.Prog)
	b = appendBytes(b, []byte(w.ListenerPath))
	b = appendBytes(b, []byte(w.ListenerMetadata))
	b = binary.NativeEndian.AppendUint32(b, uint32(len(f.Warnings)))
	for _, s := range f.Warnings {
		b = appendBytes(b, []byte(s))
	}
	return b
}

func appendBytes(b, p []byte) []byte {
	b = binary.NativeEndian.AppendUint32(b, uint32(len(p)))
	return append(b, p...)
}

// ParseBinary reads a Filter written by AppendBinary. Anything else, torn
// or trailing bytes included, is an error.
func ParseBinary(b []byte) (*Filter, error) {
	r := binReader{b: b}
	if string(r.next(len(cacheMagic))) != cacheMagic {
		return nil, fmt.Errorf("seccomp: not a compiled program")
	}
	var w Wire
	w.Flags = uintptr(r.u64())
	w.Notify = r.next(1)[0] == 1
	w.Prog = r.bytes()
	w.ListenerPath = string(r.bytes())
	w.ListenerMetadata = string(r.bytes())
	var warnings []string
	for n := r.u32(); n > 0 && !r.bad; n-- {
		warnings = append(warnings, string(r.bytes()))
	}
	if r.bad || len(r.b) != 0 {
		return nil, fmt.Errorf("seccomp: truncated or malformed compiled program")
	}
	f, err := w.Filter()
	if err != nil {
		return nil, err
	}
	f.Warnings = warnings
	return f, nil
}

// binReader reads ParseBinary's fields; past the end it returns zeros and
// sets bad.
type binReader struct {
	b   []byte
	bad bool
}

func (r *binReader) next(n int) []byte {
	if n < 0 || n > len(r.b) {
		r.bad, r.b = true, nil
		return make([]byte, max(n, 1))
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

func (r *binReader) u32() uint32 { return binary.NativeEndian.Uint32(r.next(4)) }
func (r *binReader) u64() uint64 { return binary.NativeEndian.Uint64(r.next(8)) }
func (r *binReader) bytes() []byte {
	n := r.u32()
	if uint64(n) > uint64(len(r.b)) {
		r.bad, r.b = true, nil
		return nil
	}
	return r.next(int(n))
}
