// Package state is the on-disk store of containers: one directory per
// container under the runtime root, a cross-process flock per container,
// atomic writes (temp file + rename) and the config.json snapshot.
//
// Only facts are stored (init pid and start time, bundle, created time...).
// The container status is never stored: package runtime derives it on
// every call, so a crash can never leave a stale "running" behind.
package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// File names inside a container directory.
const (
	StateFile  = "state.json"
	ConfigFile = "config.json"
	FifoFile   = "exec.fifo"
	lockFile   = "lock"
)

// ErrNotExist is returned for an unknown container ID.
var ErrNotExist = errors.New("does not exist")

// ErrExist is returned when creating a container whose ID is taken.
var ErrExist = errors.New("already exists")

// State holds the stored facts of one container.
type State struct {
	ID          string            `json:"id"`
	InitPid     int               `json:"init_pid"`
	InitStart   uint64            `json:"init_start"` // field 22 of /proc/PID/stat
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// CgroupShared records that the container joined a cgroup that already
	// had other members, so delete must not remove it.
	CgroupShared bool `json:"cgroup_shared,omitempty"`
}

// Store is a runtime root directory (--root).
type Store struct{ Root string }

// Dir is the directory of container id.
func (s Store) Dir(id string) string { return filepath.Join(s.Root, id) }

// Path is a file inside the container directory.
func (s Store) Path(id, name string) string { return filepath.Join(s.Root, id, name) }

// Create makes the container directory and takes its lock. mkdir is the
// atomic claim on the ID: of two concurrent creates exactly one succeeds,
// and the loser has created nothing.
func (s Store) Create(id string) (*Lock, error) {
	if err := os.MkdirAll(s.Root, 0o711); err != nil {
		return nil, fmt.Errorf("create root %s: %w", s.Root, err)
	}
	dir := s.Dir(id)
	if err := os.Mkdir(dir, 0o711); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("container %q %w", id, ErrExist)
		}
		return nil, fmt.Errorf("create state dir: %w", err)
	}
	l, err := lockDir(dir, true)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return l, nil
}

// Lock takes the exclusive lock of an existing container.
func (s Store) Lock(id string) (*Lock, error) {
	dir := s.Dir(id)
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("container %q %w", id, ErrNotExist)
	}
	return lockDir(dir, true)
}

// Busy reports whether another process holds the container's lock (a
// create in progress).
func (s Store) Busy(id string) bool {
	fd, err := unix.Open(s.Path(id, lockFile), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	if err := unix.Flock(fd, unix.LOCK_SH|unix.LOCK_NB); err != nil {
		return true
	}
	return false
}

// Load reads the stored facts of container id.
func (s Store) Load(id string) (*State, error) {
	data, err := os.ReadFile(s.Path(id, StateFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("container %q %w", id, ErrNotExist)
		}
		return nil, fmt.Errorf("read state of %q: %w", id, err)
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("decode state of %q: %w", id, err)
	}
	return &st, nil
}

// Save writes st atomically.
func (s Store) Save(st *State) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return WriteFileAtomic(s.Path(st.ID, StateFile), data, 0o600)
}

// Remove deletes the container directory.
func (s Store) Remove(id string) error {
	if err := os.RemoveAll(s.Dir(id)); err != nil {
		return fmt.Errorf("remove state dir: %w", err)
	}
	return nil
}

// List returns the IDs of all containers, sorted.
func (s Store) List() ([]string, error) {
	ents, err := os.ReadDir(s.Root)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var ids []string
	for _, e := range ents {
		// A name that is no valid id is the runtime's own, e.g. the
		// seccomp cache "@seccomp".
		if e.IsDir() && !strings.HasPrefix(e.Name(), "@") {
			ids = append(ids, e.Name())
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// WriteFileAtomic writes data to a temp file in the same directory, fsyncs
// nothing (state is on tmpfs under /run) and renames it over path, so a
// reader sees either the old or the new content, never a torn one.
func WriteFileAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// Lock is a held flock on a container directory.
type Lock struct{ fd int }

func lockDir(dir string, exclusive bool) (*Lock, error) {
	fd, err := unix.Open(filepath.Join(dir, lockFile), unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock: %w", err)
	}
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	for {
		err = unix.Flock(fd, how)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return &Lock{fd: fd}, nil
}

// Release drops the lock. Safe on nil.
func (l *Lock) Release() {
	if l != nil && l.fd >= 0 {
		unix.Close(l.fd)
		l.fd = -1
	}
}
