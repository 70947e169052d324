package spec

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
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

// isIdent reports whether key matches [A-Za-z_][A-Za-z0-9_]*.
func isIdent(key string) bool {
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9' {
			continue
		}
		return false
	}
	return key != ""
}

// joinKey appends an object key to a path: plain keys as ".key", keys that
// are not identifiers (sysctl and annotation names) as ["net.ipv4.ip_forward"].
func joinKey(path, key string) string {
	if !isIdent(key) {
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
		off := syntaxOffset(data, syn)
		return &DecodeError{Name: name, Pos: lineCol(data, off).String(), Msg: syn.Error(), Err: err}
	case errors.As(err, &typ):
		return typeError(data, name, typ)
	default:
		return fmt.Errorf("%s: %w", name, err)
	}
}

// syntaxOffset is the offset of the byte a syntax error is about. The v1
// decoder's Offset counts the offending byte itself; the v2 one's (see
// offending) is that byte's index, or the end of the last good token
// before whitespace. The character the message names is looked for from
// there, so both give the same line:column.
func syntaxOffset(data []byte, syn *json.SyntaxError) int {
	off := int(syn.Offset) - 1
	if int(syn.Offset) >= len(data) && strings.Contains(syn.Error(), "unexpected end of JSON input") {
		return len(data)
	}
	msg := syn.Error()
	i := strings.Index(msg, "invalid character '")
	if i < 0 || off < 0 {
		return max(off, 0)
	}
	c, _, _, err := strconv.UnquoteChar(msg[i+len("invalid character '"):], '\'')
	if err != nil || c >= 0x80 {
		return off
	}
	for j := off; j < len(data) && j <= off+64; j++ {
		if data[j] == byte(c) {
			return j
		}
		if j > off && !isJSONSpace(data[j]) {
			break
		}
	}
	return off
}

func isJSONSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

func typeError(data []byte, name string, e *json.UnmarshalTypeError) error {
	ix := newJSONIndex(data)
	// Offset is just past the offending literal, or just past the '[' or '{'
	// of an offending array or object: the byte before it lies in the value.
	path, off := e.Field, int(e.Offset)-1
	if s, ok := ix.offending(e); ok {
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

// offending finds the value a type error is about. encoding/json's v1
// decoder puts Offset just past the value (past the '[' or '{' of an array
// or object); on the v2 implementation (GOEXPERIMENT=jsonv2, which the
// Makefile builds with) it is the value's first byte. The span whose path
// matches the error's Field decides; Field names array elements by index
// on v2 ("linux.namespaces.0.type") and not at all on v1.
func (ix *jsonIndex) offending(e *json.UnmarshalTypeError) (span, bool) {
	before, ok := ix.at(int(e.Offset) - 1)
	if e.Field == "" {
		return before, ok
	}
	cands := []span{before}
	for _, s := range ix.spans {
		if s.start == int(e.Offset) {
			cands = append(cands, s)
		}
	}
	for _, s := range cands {
		if v1, v2 := fieldForms(s.path); s.path != "" && (e.Field == v1 || e.Field == v2) {
			return s, true
		}
	}
	return before, ok
}

// fieldForms renders one of our paths (a.b[0]["c.d"]) the ways
// UnmarshalTypeError.Field does: v1 without indexes (a.b.c.d), v2 with
// them as elements (a.b.0.c.d).
func fieldForms(path string) (v1, v2 string) {
	var b1, b2 strings.Builder
	for i := 0; i < len(path); {
		switch {
		case strings.HasPrefix(path[i:], "[\""):
			end := strings.Index(path[i:], "\"]")
			key, err := strconv.Unquote(path[i+1 : i+end+1])
			if end < 0 || err != nil {
				return path, path
			}
			b1.WriteString("." + key)
			b2.WriteString("." + key)
			i += end + 2
		case path[i] == '[':
			end := strings.IndexByte(path[i:], ']')
			if end < 0 {
				return path, path
			}
			b2.WriteString("." + path[i+1:i+end])
			i += end + 1
		default:
			b1.WriteByte(path[i])
			b2.WriteByte(path[i])
			i++
		}
	}
	return strings.TrimPrefix(b1.String(), "."), strings.TrimPrefix(b2.String(), ".")
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
