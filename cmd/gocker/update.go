package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"github.com/gocker/gocker/runtime"
)

const updateDescription = `The --resources file (or '-' for stdin) holds a linux.resources object;
unchanged values can be omitted or given as 0:

{
  "memory": {"limit": 0, "reservation": 0, "swap": 0},
  "cpu": {"shares": 0, "quota": 0, "period": 0, "realtimeRuntime": 0,
          "realtimePeriod": 0, "cpus": "", "mems": ""},
  "blockIO": {"weight": 0},
  "pids": {"limit": 0}
}

With --resources, all other options are ignored (as in runc).
Sizes accept a unit suffix: 512m, 1g, 64KiB; -1 means unlimited.`

func init() {
	str := func(name, usage string) cli.Flag { return &cli.StringFlag{Name: name, Usage: usage} }
	register(&cli.Command{
		Name:        "update",
		Usage:       "update the resource limits of a running container",
		ArgsUsage:   "<container-id>",
		Description: updateDescription,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "resources", Aliases: []string{"r"}, Usage: "file with the resources to update, or '-' for stdin"},
			str("memory", "memory limit (bytes, or with a unit: 512m)"),
			str("memory-swap", "total memory + swap limit; -1 for unlimited swap"),
			str("memory-reservation", "memory soft limit"),
			str("kernel-memory", "kernel memory limit (ignored: not supported by the kernel)"),
			str("kernel-memory-tcp", "kernel TCP buffer limit (ignored: not supported by the kernel)"),
			str("cpu-quota", "CFS quota in microseconds per period; -1 for unlimited"),
			str("cpu-period", "CFS period in microseconds"),
			str("cpu-rt-period", "realtime period in microseconds"),
			str("cpu-rt-runtime", "realtime runtime in microseconds per period"),
			str("cpu-share", "CPU shares (relative weight)"),
			str("cpuset-cpus", "CPUs to run on, e.g. 0-1"),
			str("cpuset-mems", "memory nodes to use, e.g. 0"),
			str("pids-limit", "maximum number of processes; -1 for unlimited"),
			str("blkio-weight", "block IO weight (10-1000)"),
			str("l3-cache-schema", "Intel RDT L3 cache schema (not supported)"),
			str("mem-bw-schema", "Intel RDT memory bandwidth schema (not supported)"),
		},
		Action: func(c *cli.Context) error {
			id, err := oneID(c)
			if err != nil {
				return err
			}
			res, err := updateResources(c)
			if err != nil {
				return fmt.Errorf("update: %w", err)
			}
			return runtime.Update(opts(c), id, res)
		},
	})
}

// updateResources builds the requested change from --resources or the
// flags.
func updateResources(c *cli.Context) (*specs.LinuxResources, error) {
	for _, f := range []string{"l3-cache-schema", "mem-bw-schema"} {
		if c.String(f) != "" {
			return nil, fmt.Errorf("--%s: Intel RDT is not supported", f)
		}
	}
	if p := c.String("resources"); p != "" {
		return readResources(p)
	}
	return resourcesFromFlags(c)
}

func readResources(p string) (*specs.LinuxResources, error) {
	var r io.Reader = os.Stdin
	if p != "-" {
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("--resources: %w", err)
		}
		defer f.Close()
		r = f
	}
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var res specs.LinuxResources
	if err := dec.Decode(&res); err != nil {
		return nil, fmt.Errorf("--resources %s: %w", p, err)
	}
	return &res, nil
}

// flagParser collects the first parse error and names its flag.
type flagParser struct {
	c   *cli.Context
	err error
}

// parseFlag parses the string flag name; nil when it is unset (or an
// earlier flag failed).
func parseFlag[T any](p *flagParser, name string, parse func(string) (T, error)) *T {
	v := p.c.String(name)
	if v == "" || p.err != nil {
		return nil
	}
	out, err := parse(v)
	if err != nil {
		p.err = fmt.Errorf("invalid value for --%s: %w", name, err)
		return nil
	}
	return &out
}

func (p *flagParser) size(name string) *int64 { return parseFlag(p, name, parseSize) }

func (p *flagParser) int64(name string) *int64 {
	return parseFlag(p, name, func(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) })
}

func (p *flagParser) uint64(name string) *uint64 {
	return parseFlag(p, name, func(s string) (uint64, error) { return strconv.ParseUint(s, 10, 64) })
}

func (p *flagParser) uint16(name string) *uint16 {
	return parseFlag(p, name, func(s string) (uint16, error) {
		v, err := strconv.ParseUint(s, 10, 16)
		return uint16(v), err
	})
}

func resourcesFromFlags(c *cli.Context) (*specs.LinuxResources, error) {
	p := &flagParser{c: c}
	res := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{
			Limit: p.size("memory"), Swap: p.size("memory-swap"), Reservation: p.size("memory-reservation"),
		},
		CPU: &specs.LinuxCPU{
			Quota: p.int64("cpu-quota"), Period: p.uint64("cpu-period"), Shares: p.uint64("cpu-share"),
			RealtimePeriod: p.uint64("cpu-rt-period"), RealtimeRuntime: p.int64("cpu-rt-runtime"),
			Cpus: c.String("cpuset-cpus"), Mems: c.String("cpuset-mems"),
		},
		BlockIO: &specs.LinuxBlockIO{Weight: p.uint16("blkio-weight")},
	}
	if l := p.int64("pids-limit"); l != nil {
		res.Pids = &specs.LinuxPids{Limit: l}
	}
	for _, f := range []string{"kernel-memory", "kernel-memory-tcp"} {
		if p.size(f) != nil {
			logrus.Warnf("--%s is ignored: kernel memory limits are not supported by the kernel", f)
		}
	}
	if p.err != nil {
		return nil, p.err
	}
	// Leave out what no flag touched, so the stored snapshot gains no
	// empty objects.
	if *res.Memory == (specs.LinuxMemory{}) {
		res.Memory = nil
	}
	if *res.CPU == (specs.LinuxCPU{}) {
		res.CPU = nil
	}
	if res.BlockIO.Weight == nil {
		res.BlockIO = nil
	}
	return res, nil
}

// sizeRe is the grammar `runc update` accepts (docker/go-units
// RAMInBytes): a decimal number, an optional space, an optional binary
// unit k/m/g/t/p, an optional "i" and an optional "b".
var sizeRe = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$`)
}) // compiled on first use: not at every gocker start

// parseSize reads a byte size; "-1" means unlimited. Units are powers of
// 1024, as in runc.
func parseSize(s string) (int64, error) {
	if s == "-1" {
		return -1, nil
	}
	m := sizeRe().FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("invalid size %q (want bytes or a number with a unit such as 512m or 1g; -1 for unlimited)", s)
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q: %w", s, err)
	}
	shift := strings.Index("kmgtp", strings.ToLower(m[2])) + 1
	if m[2] == "" {
		shift = 0
	}
	v := n * math.Pow(1024, float64(shift))
	if v >= math.MaxInt64 {
		return 0, errors.New("size " + strconv.Quote(s) + " is too large")
	}
	return int64(v), nil
}
