package cgroup

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

// What the device policy adds to a container's start, on this machine's
// real cgroupfs. Each iteration makes a fresh cgroup directory, sets the
// policy and removes the directory; the "mkdir+rmdir" baseline is the
// part that is not the policy's.
//
//	go test -run X -bench Device ./02-cgroups/cgroup

// benchDir makes and removes one cgroup per iteration under parent and
// runs set on it in between.
func benchDir(b *testing.B, parent string, set func(dir string) error) {
	b.Helper()
	if err := os.MkdirAll(parent, 0o755); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = unix.Rmdir(parent) })
	dir := filepath.Join(parent, "c")
	for b.Loop() {
		if err := os.Mkdir(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		if err := set(dir); err != nil {
			_ = unix.Rmdir(dir)
			b.Fatal(err)
		}
		if err := unix.Rmdir(dir); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDevicePolicyV1(b *testing.B) {
	labtest.Privileged(b)
	h, err := System()
	if err != nil {
		b.Fatal(err)
	}
	labtest.Need(b, h.Mounts["devices"] != "", "no cgroup v1 devices hierarchy")
	parent := filepath.Join(h.Mounts["devices"], labtest.Unique("berth-bench"))
	def, _ := devicePolicy(DefaultDevices())
	all, _ := devicePolicy(AllowAllDevices)
	b.Run("mkdir+rmdir", func(b *testing.B) { benchDir(b, parent, func(string) error { return nil }) })
	b.Run("default (13 writes)", func(b *testing.B) {
		benchDir(b, parent, func(dir string) error { return setDevicesV1(hostOps, dir, def) })
	})
	b.Run("privileged (1 write)", func(b *testing.B) {
		benchDir(b, parent, func(dir string) error { return setDevicesV1(hostOps, dir, all) })
	})
}

func BenchmarkDevicePolicyV2(b *testing.B) {
	labtest.Privileged(b)
	h, err := System()
	if err != nil {
		b.Fatal(err)
	}
	labtest.Need(b, h.Unified != "", "no cgroup2 mount")
	parent := filepath.Join(h.Unified, labtest.Unique("berth-bench"))
	def, _ := devicePolicy(DefaultDevices())
	b.Run("mkdir+rmdir", func(b *testing.B) { benchDir(b, parent, func(string) error { return nil }) })
	b.Run("attach, program loaded before (tuning_devices_cache.go)", func(b *testing.B) {
		if _, err := loadedDeviceProgram(def); err != nil {
			b.Fatal(err)
		}
		benchDir(b, parent, func(dir string) error { return attachDeviceProgram(dir, def) })
	})
	b.Run("load only", func(b *testing.B) {
		spec := &ebpf.ProgramSpec{Type: ebpf.CGroupDevice, Instructions: deviceProgram(def), License: "Apache-2.0"}
		for b.Loop() {
			p, err := ebpf.NewProgram(spec)
			if err != nil {
				b.Fatal(err)
			}
			_ = p.Close()
		}
	})
}
