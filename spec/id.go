package spec

import (
	"fmt"
	"unicode"
)

// MaxIDLength bounds a container ID. The ID becomes a directory name under
// the state root and part of cgroup and systemd unit names, each limited to
// NAME_MAX (255) bytes; 200 leaves room for prefixes like "gocker-" and
// suffixes like ".scope".
const MaxIDLength = 200

// ValidateID checks a container ID. Like runc, it allows letters, digits
// and "_", "+", "-", "." (runc's pattern is ^[\w+-\.]+$); "." and ".." are
// refused because the ID is used as a path element.
func ValidateID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("container id must not be empty")
	case id == "." || id == "..":
		return fmt.Errorf("invalid container id %q: must not be %q", id, id)
	case len(id) > MaxIDLength:
		return fmt.Errorf("invalid container id %.20q...: %d bytes long, at most %d allowed", id, len(id), MaxIDLength)
	}
	for i, r := range id {
		if ok := idChar(r); !ok {
			return fmt.Errorf("invalid container id %q: %s at byte %d (allowed: letters, digits, _ + - .)", id, describeRune(r), i)
		}
	}
	return nil
}

func idChar(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	case r == '_' || r == '+' || r == '-' || r == '.':
		return true
	}
	return false
}

func describeRune(r rune) string {
	switch {
	case r == '/':
		return `"/"`
	case r == unicode.ReplacementChar:
		return "invalid UTF-8"
	case unicode.IsControl(r):
		return fmt.Sprintf("control character %U", r)
	case unicode.IsSpace(r):
		return fmt.Sprintf("space %U", r)
	default:
		return fmt.Sprintf("character %q", r)
	}
}
