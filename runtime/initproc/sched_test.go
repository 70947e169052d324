package initproc

import "testing"

func TestParseCPUList(t *testing.T) {
	good := map[string][]int{"0": {0}, "0-2": {0, 1, 2}, "1,3-4": {1, 3, 4}, " 5 , 7 ": {5, 7}}
	for in, want := range good {
		set, err := parseCPUList(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if set.Count() != len(want) {
			t.Errorf("%q: %d CPUs, want %v", in, set.Count(), want)
		}
		for _, c := range want {
			if !set.IsSet(c) {
				t.Errorf("%q: CPU %d not set", in, c)
			}
		}
	}
	for _, in := range []string{"", "a", "3-1", "-1", "1-", "0-99999"} {
		if _, err := parseCPUList(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}
