package spec

import (
	"fmt"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// HasNamespace reports whether s lists a namespace of type t, either new or
// joined by path.
func HasNamespace(s *specs.Spec, t specs.LinuxNamespaceType) bool {
	return namespaceIndex(s, t) >= 0
}

// NamespacePath returns the path of the namespace of type t that s joins, or
// "" if s creates a new one or lists none.
func NamespacePath(s *specs.Spec, t specs.LinuxNamespaceType) string {
	if i := namespaceIndex(s, t); i >= 0 {
		return s.Linux.Namespaces[i].Path
	}
	return ""
}

// Real-time signal bounds as userspace sees them: the kernel's SIGRTMIN is
// 32, but glibc and musl keep 32 and 33 for their threading, so `kill -l`,
// systemd and crun all call 34 SIGRTMIN. A container's systemd expects
// SIGRTMIN+3 = 37 to mean "halt".
const (
	sigRTMin = 34
	sigRTMax = 64
)

// signalAliases are the names signal(7) lists that x/sys does not.
var signalAliases = map[string]unix.Signal{
	"SIGIOT":  unix.SIGABRT,
	"SIGPOLL": unix.SIGIO,
	"SIGCLD":  unix.SIGCHLD,
}

// ParseSignal accepts a signal number ("9"), a name with or without "SIG"
// in any case ("KILL", "SIGKILL", "kill"), or a real-time signal relative to
// SIGRTMIN/SIGRTMAX ("SIGRTMIN+3", "RTMAX-1").
func ParseSignal(s string) (unix.Signal, error) {
	bad := fmt.Errorf("invalid signal %q", s)
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > sigRTMax {
			return 0, bad
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(strings.TrimSpace(s))
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig, ok := parseRealtime(name); ok {
		return sig, nil
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	if sig, ok := signalAliases[name]; ok {
		return sig, nil
	}
	return 0, bad
}

// parseRealtime handles SIGRTMIN, SIGRTMIN+n, SIGRTMAX and SIGRTMAX-n.
func parseRealtime(name string) (unix.Signal, bool) {
	base, sign, rest := 0, 0, ""
	switch {
	case strings.HasPrefix(name, "SIGRTMIN"):
		base, sign, rest = sigRTMin, 1, name[len("SIGRTMIN"):]
	case strings.HasPrefix(name, "SIGRTMAX"):
		base, sign, rest = sigRTMax, -1, name[len("SIGRTMAX"):]
	default:
		return 0, false
	}
	if rest == "" {
		return unix.Signal(base), true
	}
	op := "+"
	if sign < 0 {
		op = "-"
	}
	if !strings.HasPrefix(rest, op) {
		return 0, false
	}
	// Digits only: Atoi alone would also take "+1" and "-1".
	if !isDigits(rest[1:]) {
		return 0, false
	}
	n, err := strconv.Atoi(rest[1:])
	if err != nil {
		return 0, false
	}
	sig := base + sign*n
	if sig < sigRTMin || sig > sigRTMax {
		return 0, false
	}
	return unix.Signal(sig), true
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}
