package runtime

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fifoScript plays the reads of the exec fifo: each entry is one read's
// result (n, or -1 for EAGAIN); alive is what the liveness check says
// from the given read on.
type fifoScript struct {
	reads  []int
	i      int
	deadAt int
}

func (f *fifoScript) read() (int, error) {
	if f.i >= len(f.reads) {
		return 0, nil
	}
	n := f.reads[f.i]
	f.i++
	if n < 0 {
		return 0, unix.EAGAIN
	}
	return n, nil
}

func (f *fifoScript) alive() bool { return f.i < f.deadAt }

// TestAwaitExec: start's wait on the exec fifo, including the race where
// the init writes its byte and the program exits between a read that saw
// no writer and the liveness check.
func TestAwaitExec(t *testing.T) {
	cases := []struct {
		name    string
		reads   []int
		deadAt  int
		wantErr bool
	}{
		{"byte then EOF", []int{1, 0}, 99, false},
		{"no writer yet, then byte", []int{0, -1, 1, 0}, 99, false},
		{"program ran and exited since the read", []int{0, 1, 0}, 1, false},
		{"init died before writing", []int{0, 0}, 1, true},
		{"byte, then the program exits", []int{1, -1, 0}, 1, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &fifoScript{reads: c.reads, deadAt: c.deadAt}
			err := awaitExec(f.read, f.alive, func(time.Duration) {})
			if (err != nil) != c.wantErr {
				t.Errorf("err = %v, want error: %v", err, c.wantErr)
			}
		})
	}
}
