//go:build goexperiment.jsonv2

// Package jsonscan reads a few known shapes out of JSON with jsontext's
// token decoder, for the first read of a process, where encoding/json's
// reflection (building its decoders, cold) costs more than the data: the
// early read of config.json before the clone. Warm, encoding/json is as
// fast or faster (measured on Docker's seccomp profile: 148 µs against
// 177 µs), so this is for cold paths only. Each
// function gives what json.Unmarshal gives for the input or fails with
// ErrShape, and the caller then takes encoding/json's path, whose errors
// are the ones users see. So the scan never has to word an error, only
// to be right when it succeeds.
package jsonscan

import (
	"bytes"
	"encoding/json/jsontext"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
)

// ErrShape: the input is not a shape the scan reads like encoding/json.
var ErrShape = errors.New("jsonscan: not a shape the scan reads")

// Decoder is a token decoder with encoding/json's (v1) tolerance:
// duplicate names and invalid UTF-8 are not errors.
type Decoder struct{ d *jsontext.Decoder }

func New(raw []byte) *Decoder {
	return &Decoder{jsontext.NewDecoder(bytes.NewReader(raw), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))}
}

// End checks that nothing but white space follows the value read.
func (d *Decoder) End() error {
	if _, err := d.d.ReadToken(); err != io.EOF {
		return ErrShape
	}
	return nil
}

// Skip consumes one value.
func (d *Decoder) Skip() error { return d.d.SkipValue() }

// Raw consumes one value and returns a copy of its bytes.
func (d *Decoder) Raw() ([]byte, error) {
	v, err := d.d.ReadValue()
	return bytes.Clone(v), err
}

// Kind is the kind of the next value: 'n', 'f', 't', '"', '0', '{', '['.
func (d *Decoder) Kind() byte { return byte(d.d.PeekKind()) }

// IsNull reports whether the next value is null.
func (d *Decoder) IsNull() bool { return d.d.PeekKind() == 'n' }

// Object reads one object, calling field for each name, with the
// decoder before the value, which field must consume. A name given twice
// (in any case) is ErrShape: encoding/json merges duplicates, and names
// match case-insensitively there, as in field's callers.
func (d *Decoder) Object(field func(name string) error) error {
	tok, err := d.d.ReadToken()
	if err != nil {
		return err
	}
	if tok.Kind() != '{' {
		return ErrShape
	}
	var seen []string
	for d.d.PeekKind() != '}' {
		name, err := d.d.ReadToken()
		if err != nil {
			return err
		}
		k := strings.ToLower(name.String())
		if slices.Contains(seen, k) {
			return ErrShape
		}
		seen = append(seen, k)
		if err := field(name.String()); err != nil {
			return err
		}
	}
	_, err = d.d.ReadToken()
	return err
}

// Array reads one array, calling elem for each element; null gives
// isNil.
func (d *Decoder) Array(elem func() error) (isNil bool, err error) {
	tok, err := d.d.ReadToken()
	if err != nil {
		return false, err
	}
	switch tok.Kind() {
	case 'n':
		return true, nil
	case '[':
	default:
		return false, ErrShape
	}
	for d.d.PeekKind() != ']' {
		if err := elem(); err != nil {
			return false, err
		}
	}
	_, err = d.d.ReadToken()
	return false, err
}

// String reads a string into *s; null leaves *s as it is.
func (d *Decoder) String(s *string) error {
	tok, err := d.d.ReadToken()
	switch {
	case err != nil:
		return err
	case tok.Kind() == 'n':
	case tok.Kind() == '"':
		*s = tok.String()
	default:
		return ErrShape
	}
	return nil
}

// Uint reads an unsigned integer of at most bits bits into *u; null
// leaves *u as it is. Anything but a plain decimal integer is ErrShape.
func (d *Decoder) Uint(u *uint64, bits int) error {
	tok, err := d.d.ReadToken()
	switch {
	case err != nil:
		return err
	case tok.Kind() == 'n':
	case tok.Kind() == '0':
		v, err := strconv.ParseUint(tok.String(), 10, bits)
		if err != nil {
			return ErrShape
		}
		*u = v
	default:
		return ErrShape
	}
	return nil
}
