package proto

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

// The init reports an error and exits while the parent is sending: the
// parent's send fails with EPIPE, and the init's words are still queued.
// With the parent's message unread at the close, the next send or read
// fails once with ECONNRESET (CI saw "exited before it was ready" instead of the
// init's error, stop 11).
func TestLeftoverAfterPeerExit(t *testing.T) {
	for _, c := range []struct{ unread, send bool }{{false, true}, {true, true}, {true, false}} {
		parent, childFile, err := Pair()
		if err != nil {
			t.Fatal(err)
		}
		child := NewConn(childFile)
		if c.unread {
			if err := parent.Send(&Msg{Type: TypeCgroup}, -1); err != nil {
				t.Fatal(err)
			}
		}
		if err := child.Send(&Msg{Type: TypeError, Msg: "set process.oomScoreAdj: denied"}, -1); err != nil {
			t.Fatal(err)
		}
		child.Close()
		if c.send {
			err = parent.Send(&Msg{Type: TypeCgroup}, -1)
			if !errors.Is(err, unix.EPIPE) && !errors.Is(err, unix.ECONNRESET) {
				t.Fatalf("%+v: send after the peer closed: %v, want EPIPE or ECONNRESET", c, err)
			}
		}
		pe := parent.Leftover()
		if pe == nil || pe.Msg != "set process.oomScoreAdj: denied" {
			t.Errorf("%+v: Leftover = %v, want the peer's error", c, pe)
		}
		if pe := parent.Leftover(); pe != nil {
			t.Errorf("%+v: second Leftover = %v, want nil", c, pe)
		}
		parent.Close()
	}
}

// Leftover must not block on a live peer that sent nothing.
func TestLeftoverLivePeer(t *testing.T) {
	parent, childFile, err := Pair()
	if err != nil {
		t.Fatal(err)
	}
	defer parent.Close()
	defer childFile.Close()
	if pe := parent.Leftover(); pe != nil {
		t.Errorf("Leftover = %v, want nil", pe)
	}
}
