package spec

import (
	"errors"
	"fmt"
)

// DecodeError is an error located in a config file: malformed JSON, a value
// of the wrong type, or a validation failure that could be traced back to
// the line it came from.
//
//	config.json:12:20: process.args[1]: cannot use number as string
type DecodeError struct {
	Name  string // file name as given to Parse, e.g. "config.json"
	Pos   string // "line:col", empty when unknown
	Field string // field path, empty for the document itself
	Msg   string
	Err   error // underlying json or *FieldError
}

func (e *DecodeError) Error() string {
	s := e.Name
	if e.Pos != "" {
		s += ":" + e.Pos
	}
	s += ": "
	if e.Field != "" {
		s += e.Field + ": "
	}
	return s + e.Msg
}

func (e *DecodeError) Unwrap() error { return e.Err }

// FieldError is a validation failure of one field of the spec.
//
//	process.args: must not be empty
type FieldError struct {
	Field string // e.g. "linux.uidMappings[1]"
	Msg   string
	// at is a more precise path used only to find the line:column (the
	// message may name a whole list while the culprit is one element).
	at string
	// bare joins Field and Msg with a space instead of ": ", for messages
	// that read as a sentence about the field (ociVersion "2.0.0" is ...).
	bare bool
}

func (e *FieldError) Error() string {
	if e.bare {
		return e.Field + " " + e.Msg
	}
	return e.Field + ": " + e.Msg
}

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// located returns e with a more precise path for the position lookup.
func (e *FieldError) located(at string) *FieldError {
	e.at = at
	return e
}

// locate wraps a validation error with the file name and, if the field (or
// its nearest present ancestor) can be found in data, its line:column.
func locate(data []byte, name string, err error) error {
	var fe *FieldError
	if !errors.As(err, &fe) {
		return fmt.Errorf("%s: %w", name, err)
	}
	de := &DecodeError{Name: name, Msg: fe.Error(), Err: err}
	at := fe.at
	if at == "" {
		at = fe.Field
	}
	if off, ok := newJSONIndex(data).locate(at); ok && off < len(data) {
		de.Pos = lineCol(data, off).String()
	}
	return de
}
