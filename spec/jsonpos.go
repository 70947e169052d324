package spec

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
)

// This file turns the byte offsets that encoding/json reports into
// "line:column" and into field paths with array indexes, so that an error in
// a 300-line config.json points at the exact value to fix.

// position is a 1-based line and column (in bytes, like the Go toolchain).
type position struct{ line, col int }

func (p position) String() string { return strconv.Itoa(p.line) + ":" + strconv.Itoa(p.col) }

// lineCol returns the position of byte off in data. An offset at or past the
// end names the position just after the last byte.
func lineCol(data []byte, off int) position {
	if off < 0 {
		off = 0
	}
	if off > len(data) {
		off = len(data)
	}
	p := position{line: 1, col: 1}
	for _, b := range data[:off] {
		if b == '\n' {
			p.line++
			p.col = 1
		} else {
			p.col++
		}
	}
	return p
}

// span is one JSON value: its byte range [start, end), its field path and
// its nesting depth (the top-level value has depth 0).
type span struct {
	start, end int
	depth      int
	path       string
}

// jsonIndex maps every value of a syntactically valid document to its
// position. It is built only when an error has to be reported, so its cost
// never touches the happy path.
type jsonIndex struct {
	data   []byte
	spans  []span
	byPath map[string]int // path -> start offset
}

func newJSONIndex(data []byte) *jsonIndex {
	ix := &jsonIndex{data: data, byPath: map[string]int{}}
	w := walker{data: data, ix: ix}
	w.skipWS()
	if w.pos < len(data) {
		w.value("", 0)
	}
	return ix
}

// at returns the innermost value containing byte off.
func (ix *jsonIndex) at(off int) (span, bool) {
	best, found := span{}, false
	for _, s := range ix.spans {
		if s.start <= off && off < s.end && (!found || s.depth > best.depth) {
			best, found = s, true
		}
	}
	return best, found
}

// locate returns the start offset of path, or of its nearest ancestor that is
// present in the document (a missing field is reported where its parent is).
// The document itself does not count: "1:1" would tell nothing.
func (ix *jsonIndex) locate(path string) (int, bool) {
	for p := path; p != ""; p = parentPath(p) {
		if off, ok := ix.byPath[p]; ok {
			return off, true
		}
	}
	return 0, false
}

// parentPath strips the last ".key", "[n]" or "[\"key\"]" element.
func parentPath(p string) string {
	depth := 0
	for i := len(p) - 1; i >= 0; i-- {
		switch p[i] {
		case ']':
			depth++
		case '[':
			depth--
			if depth == 0 {
				return p[:i]
			}
		case '.':
			if depth == 0 {
				return p[:i]
			}
		case '"':
			// Skip quoted keys, which may themselves hold '.' or '['.
			j := i - 1
			for j >= 0 && !(p[j] == '"' && (j == 0 || p[j-1] != '\\')) {
				j--
			}
			i = j
		}
	}
	return ""
}

var identKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// joinKey appends an object key to a path: plain keys as ".key", keys that
// are not identifiers (sysctl and annotation names) as ["net.ipv4.ip_forward"].
func joinKey(path, key string) string {
	if !identKey.MatchString(key) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

func joinIndex(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// walker is a minimal scanner over JSON already known to be valid: it only
// records where values start and end.
type walker struct {
	data []byte
	pos  int
	ix   *jsonIndex
}

func (w *walker) skipWS() {
	for w.pos < len(w.data) {
		switch w.data[w.pos] {
		case ' ', '\t', '\n', '\r':
			w.pos++
		default:
			return
		}
	}
}

func (w *walker) value(path string, depth int) {
	start := w.pos
	w.ix.byPath[path] = start
	switch w.data[w.pos] {
	case '{':
		w.object(path, depth)
	case '[':
		w.array(path, depth)
	case '"':
		w.str()
	default:
		w.literal()
	}
	w.ix.spans = append(w.ix.spans, span{start: start, end: w.pos, depth: depth, path: path})
}

func (w *walker) object(path string, depth int) {
	w.pos++ // '{'
	for {
		w.skipWS()
		if w.pos >= len(w.data) || w.data[w.pos] == '}' {
			w.pos++
			return
		}
		if w.data[w.pos] == ',' {
			w.pos++
			continue
		}
		kstart := w.pos
		w.str()
		var key string
		if err := json.Unmarshal(w.data[kstart:w.pos], &key); err != nil {
			key = string(w.data[kstart:w.pos])
		}
		w.skipWS()
		w.pos++ // ':'
		w.skipWS()
		w.value(joinKey(path, key), depth+1)
	}
}

func (w *walker) array(path string, depth int) {
	w.pos++ // '['
	for i := 0; ; {
		w.skipWS()
		if w.pos >= len(w.data) || w.data[w.pos] == ']' {
			w.pos++
			return
		}
		if w.data[w.pos] == ',' {
			w.pos++
			continue
		}
		w.value(joinIndex(path, i), depth+1)
		i++
	}
}

func (w *walker) str() {
	w.pos++ // opening quote
	for w.pos < len(w.data) {
		switch w.data[w.pos] {
		case '\\':
			w.pos += 2
		case '"':
			w.pos++
			return
		default:
			w.pos++
		}
	}
}

func (w *walker) literal() {
	for w.pos < len(w.data) {
		switch w.data[w.pos] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return
		}
		w.pos++
	}
}

// decodeError rewrites an error from json.Unmarshal into
// "name:line:col: path: message".
func decodeError(data []byte, name string, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		off := int(syn.Offset) - 1 // Offset counts the offending byte itself
		if int(syn.Offset) >= len(data) && syn.Error() == "unexpected end of JSON input" {
			off = len(data)
		}
		return &DecodeError{Name: name, Pos: lineCol(data, off).String(), Msg: syn.Error(), Err: err}
	case errors.As(err, &typ):
		return typeError(data, name, typ)
	default:
		return fmt.Errorf("%s: %w", name, err)
	}
}

func typeError(data []byte, name string, e *json.UnmarshalTypeError) error {
	ix := newJSONIndex(data)
	// Offset is just past the offending literal, or just past the '[' or '{'
	// of an offending array or object: the byte before it lies in the value.
	path, off := e.Field, int(e.Offset)-1
	if s, ok := ix.at(off); ok {
		path, off = s.path, s.start
	}
	value := e.Value
	if value == "bool" {
		value = "boolean"
	}
	return &DecodeError{
		Name:  name,
		Pos:   lineCol(data, off).String(),
		Field: path,
		Msg:   fmt.Sprintf("cannot use %s as %s", value, kindOf(e.Type)),
		Err:   e,
	}
}

// kindOf names a Go type the way a config author thinks of it.
func kindOf(t reflect.Type) string {
	if t == nil {
		return "value"
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Pointer:
		return kindOf(t.Elem())
	default:
		// Integer kinds keep their Go name: "uint32" tells the range.
		return t.Kind().String()
	}
}
