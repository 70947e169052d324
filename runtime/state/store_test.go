package state

import (
	"errors"
	"os"
	"sync"
	"testing"
	"time"
)

func TestCreateIsExclusive(t *testing.T) {
	s := Store{Root: t.TempDir()}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, losses := 0, 0
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := s.Create("c1")
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				wins++
				l.Release()
			} else if errors.Is(err, ErrExist) {
				losses++
			} else {
				t.Errorf("unexpected error: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 || losses != 15 {
		t.Fatalf("wins=%d losses=%d, want 1 and 15", wins, losses)
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	s := Store{Root: t.TempDir()}
	l, err := s.Create("c2")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	in := &State{ID: "c2", InitPid: 42, InitStart: 7, Bundle: "/b", Created: time.Unix(100, 0).UTC(),
		Annotations: map[string]string{"a": "b"}}
	if err := s.Save(in); err != nil {
		t.Fatal(err)
	}
	out, err := s.Load("c2")
	if err != nil {
		t.Fatal(err)
	}
	if out.InitPid != 42 || out.InitStart != 7 || out.Bundle != "/b" || out.Annotations["a"] != "b" || !out.Created.Equal(in.Created) {
		t.Fatalf("round trip mismatch: %+v", out)
	}
	ents, _ := os.ReadDir(s.Dir("c2"))
	for _, e := range ents {
		if e.Name() != StateFile && e.Name() != lockFile {
			t.Errorf("stray file %s after atomic write", e.Name())
		}
	}
}

func TestLoadUnknown(t *testing.T) {
	s := Store{Root: t.TempDir()}
	if _, err := s.Load("nope"); !errors.Is(err, ErrNotExist) {
		t.Fatalf("got %v, want ErrNotExist", err)
	}
	if _, err := s.Lock("nope"); !errors.Is(err, ErrNotExist) {
		t.Fatalf("Lock got %v, want ErrNotExist", err)
	}
}

func TestBusyWhileLocked(t *testing.T) {
	s := Store{Root: t.TempDir()}
	l, err := s.Create("c3")
	if err != nil {
		t.Fatal(err)
	}
	if !s.Busy("c3") {
		t.Fatal("Busy=false while create holds the lock")
	}
	l.Release()
	if s.Busy("c3") {
		t.Fatal("Busy=true after release")
	}
	ids, _ := s.List()
	if len(ids) != 1 || ids[0] != "c3" {
		t.Fatalf("List=%v", ids)
	}
}
