package runtime

import (
	"errors"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gocker/gocker/runtime/cgroups"
	"github.com/gocker/gocker/runtime/seccomp"
	gspec "github.com/gocker/gocker/spec"
)

// Early clone: the init is a second Go process, and its start (clone,
// execve, the Go runtime) is the longest step on create's path, about as
// long as everything the parent does before it. So the parent decodes
// first only what the clone needs, the namespaces and id mappings, and
// clones the init; the whole config.json is decoded and validated while
// the init starts, and a config that fails is reported exactly as before,
// with everything made in between undone (cleanup). The sequential path
// stays for what needs the whole spec before the clone: a seccomp listener
// (dialled at clone), and the systemd and rootless cgroup drivers, whose
// cgroup creation depends on the resources.

// earlyConfig is the part of config.json the clone needs, read by
// decodeEarly (early_scan.go).
type earlyConfig struct {
	Linux *earlyLinux `json:"linux"`
}

type earlyLinux struct {
	Namespaces  []specs.LinuxNamespace `json:"namespaces"`
	UIDMappings []specs.LinuxIDMapping `json:"uidMappings"`
	GIDMappings []specs.LinuxIDMapping `json:"gidMappings"`
	CgroupsPath string                 `json:"cgroupsPath"`
	Seccomp     *earlySeccomp          `json:"seccomp"`
}

type earlySeccomp struct {
	ListenerPath string `json:"listenerPath"`
}

// briefConfig is what state, list, kill, start and delete read of the
// config snapshot (LoadBrief): earlyConfig, whether there is a process,
// the hooks.
type briefConfig struct {
	earlyConfig
	Process *struct{}    `json:"process"`
	Hooks   *specs.Hooks `json:"hooks"`
}

// spec is a spec with what bc holds; Process, when present, is empty.
func (bc briefConfig) spec() *specs.Spec {
	s := bc.earlyConfig.spec()
	s.Hooks = bc.Hooks
	if bc.Process != nil {
		s.Process = &specs.Process{}
	}
	return s
}

// earlyConfigOf returns the spec to clone the init with, or nil when the
// sequential path must be taken (see above; and for a config that does
// not decode, whose error the full decoder words).
func earlyConfigOf(o Options, raw []byte) *specs.Spec {
	if o.SystemdCgroup || o.Rootless || unprivileged() {
		return nil
	}
	ec, ok := decodeEarly(raw)
	if !ok || ec.Linux == nil {
		return nil
	}
	if ec.Linux.Seccomp != nil && ec.Linux.Seccomp.ListenerPath != "" {
		return nil
	}
	return ec.spec()
}

// spec is a spec with what ec holds: namespaces, id mappings, cgroupsPath.
func (ec earlyConfig) spec() *specs.Spec {
	if ec.Linux == nil {
		return &specs.Spec{}
	}
	return &specs.Spec{Linux: &specs.Linux{
		Namespaces: ec.Linux.Namespaces, UIDMappings: ec.Linux.UIDMappings,
		GIDMappings: ec.Linux.GIDMappings, CgroupsPath: ec.Linux.CgroupsPath,
	}}
}

// createEarly is Create with the early clone.
func createEarly(o Options, co CreateOpts, raw []byte, early *specs.Spec) (*Container, *Init, error) {
	plan, err := planNamespaces(early)
	if err != nil {
		// An unknown namespace type: the full check words it.
		return createChecked(o, co, raw)
	}
	// The resources come with the whole spec (UseResources).
	cg, err := newCgroup(co.ID, early, cgroups.Options{})
	if err != nil {
		return createChecked(o, co, raw)
	}
	full := make(chan error, 1)
	var s *specs.Spec
	var v *checked
	var rawSeccomp []byte
	go func() {
		var err error
		if s, rawSeccomp, err = gspec.LoadDataDeferSeccomp(co.Bundle, raw); err == nil {
			v, err = check(co, s)
		}
		full <- err
	}()
	cr, err := newCreation(o, co, cg)
	if err != nil {
		<-full
		return nil, nil, err
	}
	defer cr.cleanup()
	cr.early = early
	// The resources go to the manager once the cgroup is made
	// (sendCgroup): making it reads them.
	return cr.finish(raw, plan, func() error {
		if err := <-full; err != nil {
			return err
		}
		if !sameEarly(early, s) {
			return errors.New("internal error: the early decode of config.json differs from the full one; please report it with the config")
		}
		if rawSeccomp != nil {
			cr.seccomp = &deferredSeccomp{bundle: co.Bundle, config: raw, raw: rawSeccomp, cache: newSeccompCache(o.Root)}
		}
		return cr.useSpec(s, v)
	})
}

// deferredSeccomp decodes and compiles linux.seccomp in the background:
// a Docker profile is 20 KB of JSON and about 0.5 ms of CPU to decode and
// compile, which on the early path runs while the init sets up its rootfs
// and the parent has nothing else to do, instead of while the two
// processes start and compete for the CPUs. The init gets the program
// with the ack (proto.Bootstrap.SeccompLater) and installs it last, as
// always. A profile compiled before comes from the cache
// (seccomp_cache.go), without a decode: profile stays nil, which nothing
// after the init's spec is sent reads (specForInit leaves it out anyway).
type deferredSeccomp struct {
	bundle      string
	config, raw []byte
	cache       *seccompCache
	done        chan struct{}
	profile     *specs.LinuxSeccomp
	filter      *seccomp.Filter
	err         error
}

// start begins the work; a nil d has none.
func (d *deferredSeccomp) start() {
	if d == nil {
		return
	}
	d.done = make(chan struct{})
	go func() {
		defer close(d.done)
		key := d.cache.key(d.raw)
		if d.filter = d.cache.load(key); d.filter != nil {
			d.filter.LogWarnings()
			return
		}
		if d.profile, d.err = gspec.DecodeSeccomp(d.bundle, d.config, d.raw); d.err == nil {
			d.filter, d.err = seccomp.Compile(d.profile)
		}
		if d.err == nil {
			d.cache.store(key, d.filter)
		}
	}()
}

// takeSeccomp waits for the deferred profile and gives it to the
// container: its spec (for later verbs' hooks and exec), the program.
func (cr *creation) takeSeccomp() error {
	d := cr.seccomp
	if d.done == nil {
		return errors.New("seccomp: the deferred profile was never decoded")
	}
	<-d.done
	if d.err != nil {
		return d.err
	}
	cr.c.Spec.Linux.Seccomp, cr.filter = d.profile, d.filter
	return nil
}

// createChecked is Create's sequential path from the raw config.
func createChecked(o Options, co CreateOpts, raw []byte) (*Container, *Init, error) {
	s, err := gspec.LoadData(co.Bundle, raw)
	if err != nil {
		return nil, nil, err
	}
	v, err := check(co, s)
	if err != nil {
		return nil, nil, err
	}
	cg, err := newCgroup(co.ID, s, cgroups.Options{Systemd: o.SystemdCgroup, Rootless: o.Rootless})
	if err != nil {
		return nil, nil, err
	}
	cr, err := newCreation(o, co, cg)
	if err != nil {
		return nil, nil, err
	}
	defer cr.cleanup()
	if err := cr.useSpec(s, v); err != nil {
		return nil, nil, err
	}
	return cr.finish(raw, v.plan, nil)
}

// spawnSpec is the spec the init is cloned with.
func (cr *creation) spawnSpec() *specs.Spec {
	if cr.c.Spec != nil {
		return cr.c.Spec
	}
	return cr.early
}

func resourcesOf(s *specs.Spec) *specs.LinuxResources {
	if s.Linux == nil {
		return nil
	}
	return s.Linux.Resources
}

// sameEarly reports whether the full spec s has the namespaces, id
// mappings and cgroups path the init was cloned with.
func sameEarly(early, s *specs.Spec) bool {
	e, l := early.Linux, s.Linux
	if l == nil {
		return false
	}
	return slices.Equal(e.Namespaces, l.Namespaces) && slices.Equal(e.UIDMappings, l.UIDMappings) &&
		slices.Equal(e.GIDMappings, l.GIDMappings) && e.CgroupsPath == l.CgroupsPath
}
