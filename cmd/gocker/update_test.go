package main

import "testing"

func TestParseSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
	}{
		{"-1", -1}, {"0", 0}, {"4096", 4096}, {"512m", 512 << 20}, {"512M", 512 << 20},
		{"1g", 1 << 30}, {"1.5g", 3 << 29}, {"64KiB", 64 << 10}, {"64 kb", 64 << 10},
		{"2t", 2 << 40}, {"10b", 10},
	} {
		got, err := parseSize(c.in)
		if err != nil || got != c.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"", "-5", "-1m", "abc", "1x", "1.2.3m", "m", "99999999999p", " 1m"} {
		if got, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", in, got)
		}
	}
}

func TestPsArgs(t *testing.T) {
	for _, c := range []struct{ in, want []string }{
		{nil, []string{"-ef"}},
		{[]string{""}, []string{"-ef"}},
		{[]string{"--", "-o", "pid"}, []string{"-o", "pid"}},
		{[]string{"aux"}, []string{"aux"}},
	} {
		got := psArgs(c.in)
		if len(got) != len(c.want) {
			t.Errorf("psArgs(%q) = %q, want %q", c.in, got, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("psArgs(%q) = %q, want %q", c.in, got, c.want)
			}
		}
	}
}
