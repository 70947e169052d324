package rootfs

import (
	"reflect"
	"testing"

	"github.com/moby/sys/mountinfo"
)

// TestHierarchiesFromAllMounts: given the whole mount table, as the
// parent has it, HierarchiesFrom lists what HostHierarchies reads itself.
func TestHierarchiesFromAllMounts(t *testing.T) {
	want, err := HostHierarchies()
	if err != nil {
		t.Fatal(err)
	}
	all, err := mountinfo.GetMounts(nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := HierarchiesFrom(all)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("from all mounts %+v, want %+v", got, want)
	}
	if len(want) == 0 {
		t.Log("no cgroup hierarchies on this host")
	}
}
