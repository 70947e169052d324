package runtime

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	gspec "github.com/gocker/gocker/spec"
)

// TestDecodeEarlyLikeJSON: the early scan gives encoding/json's result,
// or gives up where encoding/json fails or merges duplicates.
func TestDecodeEarlyLikeJSON(t *testing.T) {
	inputs := map[string]string{
		"empty":        `{}`,
		"null linux":   `{"linux":null}`,
		"case":         `{"LINUX":{"Namespaces":[{"TYPE":"pid","Path":"/proc/1/ns/pid"}],"CgroupsPATH":"/a/b"}}`,
		"escaped name": `{"\u006cinux":{"namespaces":[{"type":"\u006eet"}]}}`,
		"nulls": `{"linux":{"namespaces":null,"uidMappings":null,"cgroupsPath":null,"seccomp":null,
			"gidMappings":[{"containerID":null,"hostID":1000,"size":1}]}}`,
		"unknown fields": `{"process":{"args":["sh",{"x":[1,2,{"y":null}]}]},"linux":{"resources":{"memory":{"limit":1}},
			"namespaces":[{"type":"mount","extra":{"a":[true,false]}}],"seccomp":{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/x.sock","syscalls":[{"names":["a"]}]}},"z":1.5e10}`,
		"mappings":   `{"linux":{"uidMappings":[{"containerID":0,"hostID":100000,"size":65536}],"gidMappings":[]}}`,
		"max uint32": `{"linux":{"uidMappings":[{"containerID":4294967295,"hostID":0,"size":1}]}}`,
		"whitespace": " \n{ \"linux\" :\t{ \"cgroupsPath\" : \"x\" } } \n",
		// encoding/json refuses these; the scan must give up, not guess.
		"too big":        `{"linux":{"uidMappings":[{"containerID":4294967296,"hostID":0,"size":1}]}}`,
		"negative":       `{"linux":{"uidMappings":[{"containerID":-1,"hostID":0,"size":1}]}}`,
		"exponent":       `{"linux":{"uidMappings":[{"containerID":1e3,"hostID":0,"size":1}]}}`,
		"wrong type":     `{"linux":{"namespaces":{"type":"pid"}}}`,
		"number as type": `{"linux":{"namespaces":[{"type":5}]}}`,
		"string linux":   `{"linux":"x"}`,
		"trailing":       `{"linux":{}} {}`,
		"truncated":      `{"linux":{"namespaces":[`,
		"not an object":  `[]`,
		// encoding/json merges these; the scan leaves them to it.
		"duplicate linux": `{"linux":{"cgroupsPath":"a"},"linux":{"namespaces":[{"type":"pid"}]}}`,
		"duplicate field": `{"linux":{"namespaces":[{"type":"pid","path":"/x"}],"Namespaces":[{"type":"net"}]}}`,
	}
	for _, dir := range []string{"../bundles/busybox", "../bundles/busybox-net", "../bundles/seed-net"} {
		if b, err := os.ReadFile(filepath.Join(dir, "config.json")); err == nil {
			inputs[dir] = string(b)
		}
	}
	def, _ := json.Marshal(gspec.Default())
	inputs["gocker spec"] = string(def)
	for name, in := range inputs {
		var want earlyConfig
		jerr := json.Unmarshal([]byte(in), &want)
		got, ok := decodeEarly([]byte(in))
		if jerr != nil && ok {
			t.Errorf("%s: encoding/json fails (%v) but the scan gave %+v", name, jerr, got)
			continue
		}
		if ok && !reflect.DeepEqual(got, want) {
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(want)
			t.Errorf("%s: scan gave %s, encoding/json %s", name, gj, wj)
		}
	}
	// The scan takes the common shapes, or it would save nothing.
	for _, name := range []string{"case", "nulls", "unknown fields", "mappings", "../bundles/busybox", "gocker spec"} {
		if _, ok := decodeEarly([]byte(inputs[name])); !ok && inputs[name] != "" {
			t.Errorf("%s: the scan gave up on a config encoding/json takes", name)
		}
	}
}

// TestLoadBriefLikeLoad: what LoadBrief keeps of config.json (the fields
// state, kill, start and delete read) is what Load decodes, for configs
// the scan reads and for ones it gives up on.
func TestLoadBriefLikeLoad(t *testing.T) {
	configs := map[string]string{
		"cgroups path": `{"ociVersion":"1.0.2","process":{"args":["sh"]},"linux":{"cgroupsPath":"/x/y","namespaces":[{"type":"pid"},{"type":"net","path":"/proc/1/ns/net"}],"resources":{"memory":{"limit":1}}}}`,
		"hooks": `{"Hooks":{"poststart":[{"path":"/bin/a","args":["a","b"],"env":["X=1"],"timeout":3}],"poststop":[{"path":"/bin/b"}],"prestart":null},
			"process":null,"linux":{}}`,
		"no linux":        `{"ociVersion":"1.0.2","hooks":null}`,
		"gives up":        `{"linux":{"cgroupsPath":"a"},"linux":{"cgroupsPath":"b"}}`,
		"process number":  `{"process":5,"linux":{"cgroupsPath":"a"}}`,
		"hooks wrong":     `{"hooks":{"poststop":[{"path":7}]},"linux":{"cgroupsPath":"a"}}`,
		"duplicate hooks": `{"hooks":{"poststop":[{"path":"/a"}]},"HOOKS":{"poststart":[{"path":"/b"}]}}`,
	}
	for name, cfg := range configs {
		t.Run(name, func(t *testing.T) {
			o := Options{Root: t.TempDir()}
			dir := filepath.Join(o.Root, "c1")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dir, "state.json"), []byte(`{"id":"c1","bundle":"/b"}`), 0o600)
			os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600)
			full, err := Load(o, "c1")
			if err != nil {
				t.Fatal(err)
			}
			brief, err := LoadBrief(o, "c1")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(full.State, brief.State) {
				t.Errorf("state differs: %+v vs %+v", full.State, brief.State)
			}
			if (full.Spec == nil) != (brief.Spec == nil) {
				t.Fatalf("spec: %v vs %v", full.Spec, brief.Spec)
			}
			if full.Spec == nil {
				return
			}
			if (full.Spec.Process == nil) != (brief.Spec.Process == nil) {
				t.Errorf("process: %v vs %v", full.Spec.Process, brief.Spec.Process)
			}
			if !reflect.DeepEqual(full.Spec.Hooks, brief.Spec.Hooks) {
				t.Errorf("hooks: %+v vs %+v", full.Spec.Hooks, brief.Spec.Hooks)
			}
			if (full.Spec.Linux == nil) != (brief.Spec.Linux == nil) {
				t.Fatalf("linux: %v vs %v", full.Spec.Linux, brief.Spec.Linux)
			}
			if full.Spec.Linux != nil && (full.Spec.Linux.CgroupsPath != brief.Spec.Linux.CgroupsPath ||
				!reflect.DeepEqual(full.Spec.Linux.Namespaces, brief.Spec.Linux.Namespaces)) {
				t.Errorf("LoadBrief kept %+v, Load decoded %+v", brief.Spec.Linux, full.Spec.Linux)
			}
		})
	}
}
