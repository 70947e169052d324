// Command measure times Compile and Install of Docker's default profile in
// a fresh process (what a container start pays: 30 runs, median and p90),
// against an empty profile, and the per-syscall cost of the installed
// filter. Run as root: go run ./runtime/seccomp/internal/measure
package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/gocker/gocker/runtime/seccomp"
	mobyseccomp "github.com/moby/profiles/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

func profile() *specs.LinuxSeccomp {
	caps := []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
		"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
		"CAP_KILL", "CAP_AUDIT_WRITE"}
	s, err := mobyseccomp.GetDefaultProfile(&specs.Spec{Process: &specs.Process{
		Capabilities: &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}}})
	if err != nil {
		panic(err)
	}
	return s
}

func loop(n int) float64 {
	t := time.Now()
	for i := 0; i < n; i++ {
		unix.Syscall(unix.SYS_GETPPID, 0, 0, 0)
	}
	return float64(time.Since(t).Nanoseconds()) / float64(n)
}

func child(trivial bool) {
	runtime.LockOSThread()
	logrus.SetLevel(logrus.ErrorLevel)
	p := profile()
	if trivial {
		p = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow}
	}
	if os.Getenv("NATIVE_ONLY") != "" { // to see how install time scales with length
		p.Architectures = nil
	}
	unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
	t0 := time.Now()
	f, err := seccomp.Compile(p)
	t1 := time.Now()
	if err == nil {
		_, err = f.Install()
	}
	t2 := time.Now()
	if err != nil {
		panic(err)
	}
	fmt.Printf("%d %d %d\n", t1.Sub(t0).Microseconds(), t2.Sub(t1).Microseconds(), f.Len())
}

func main() {
	if len(os.Args) > 1 {
		child(os.Args[1] == "trivial")
		return
	}
	for _, kind := range []string{"docker", "trivial"} {
		var comp, inst []int
		n := 0
		for i := 0; i < 30; i++ {
			out, err := exec.Command("/proc/self/exe", kind).Output()
			if err != nil {
				panic(err)
			}
			var c, in int
			fmt.Sscanf(strings.TrimSpace(string(out)), "%d %d %d", &c, &in, &n)
			comp, inst = append(comp, c), append(inst, in)
		}
		sort.Ints(comp)
		sort.Ints(inst)
		fmt.Printf("%-8s %4d insns: compile µs median %d p90 %d | install µs median %d p90 %d | total median %d\n",
			kind, n, comp[15], comp[27], inst[15], inst[27], comp[15]+inst[15])
	}
	// Per-syscall overhead, in this process.
	runtime.LockOSThread()
	base := loop(3000000)
	f, _ := seccomp.Compile(profile())
	unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
	if _, err := f.Install(); err != nil {
		panic(err)
	}
	filt := loop(3000000)
	fmt.Printf("getppid: %.0f ns unfiltered, %.0f ns with the Docker filter (+%.0f ns)\n", base, filt, filt-base)
}
