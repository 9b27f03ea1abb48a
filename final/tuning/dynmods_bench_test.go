package tuning

import (
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/02-cgroups/cgroup"
)

// BenchmarkFirstMoveIntoACgroup is what a container's start pays to put
// its first process in its new cgroup (Cgroup.Add, every hierarchy),
// with and without favordynmods on the host's cgroup2 mount. Before
// each move the benchmark waits 100 ms, outside the timer, so that the
// move is a first one: the kernel's switch of its fork lock to the slow
// path stays fresh for a little while after a move, and the next moves
// are cheap (dynmods.go).
//
// It changes a host-wide setting while it runs, and puts back what it
// found:
//
//	go test -run X -bench FirstMove -benchtime 20x ./final/tuning
//
// (-benchtime 20x: the timer sees only the moves, so with a time goal
// the benchmark would sleep through thousands of them.)
func BenchmarkFirstMoveIntoACgroup(b *testing.B) {
	labtest.Privileged(b)
	h, err := cgroup.System()
	if err != nil {
		b.Fatal(err)
	}
	labtest.Need(b, h.Version == cgroup.V2 || h.Unified != "", "no cgroup2 mount: favordynmods does not exist here")
	info, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		b.Fatal(err)
	}
	m, _, err := findCgroup2(info)
	info.Close()
	if err != nil {
		b.Fatal(err)
	}
	had := slices.Contains(m.superOpts, "favordynmods")
	b.Cleanup(func() { _, _ = SetFavorDynMods(had) })
	hh := h.Under(labtest.Unique("berth-bench"))
	b.Cleanup(func() { _ = hh.RemoveParent() })

	for _, on := range []bool{false, true} {
		name := "without favordynmods"
		if on {
			name = "with favordynmods"
		}
		b.Run(name, func(b *testing.B) {
			if _, err := SetFavorDynMods(on); err != nil {
				b.Fatal(err)
			}
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				cmd := exec.Command("sleep", "1000")
				if err := cmd.Start(); err != nil {
					b.Fatal(err)
				}
				c, err := hh.New(labtest.Unique("c"), cgroup.Resources{})
				if err != nil {
					_ = cmd.Process.Kill()
					b.Fatal(err)
				}
				time.Sleep(100 * time.Millisecond)
				b.StartTimer()
				err = c.Add(cmd.Process.Pid)
				b.StopTimer()
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
				if derr := c.Destroy(); err == nil {
					err = derr
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
