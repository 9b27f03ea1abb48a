package cgroup

import (
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// liveFreezers are the real freezers of this host: its own interface,
// and on a hybrid host the cgroup2 tree too, where cgroup.freeze works
// without any controller.
func liveFreezers(t *testing.T) []*Hierarchy {
	sys := liveHierarchy(t)
	hs := []*Hierarchy{sys}
	if sys.Version == Hybrid {
		hs = append(hs, &Hierarchy{Version: V2, Unified: sys.Unified})
	}
	return hs
}

// thawAtCleanup thaws c if the test fails with it frozen, before
// startIn's cleanup kills the process: on v1 a frozen process does not
// die of SIGKILL, and the test would hang waiting for it.
func thawAtCleanup(t *testing.T, c *Cgroup) {
	t.Cleanup(func() { _ = c.Thaw() })
}

// A frozen process makes no progress, and goes on where it stopped once
// thawed. Progress is the CPU time the cgroup's busy loop has used.
func TestLiveFreezeStopsAndThawResumes(t *testing.T) {
	for _, h := range liveFreezers(t) {
		t.Run(h.Version.String(), func(t *testing.T) {
			c := newLive(t, h, Resources{})
			if _, err := c.FreezerState(); err != nil {
				t.Skipf("no freezer: %v", err)
			}
			p := startIn(t, c, "while :; do :; done")
			thawAtCleanup(t, c)
			cpu := func() time.Duration {
				s, err := c.Stats()
				require.NoError(t, err)
				return s.CPUUsage
			}
			require.Eventually(t, func() bool { return cpu() > 20*time.Millisecond }, 10*time.Second, 10*time.Millisecond,
				"the loop runs")

			begin := time.Now()
			require.NoError(t, c.Freeze())
			t.Logf("freeze took %v", time.Since(begin))
			st, err := c.FreezerState()
			require.NoError(t, err)
			assert.Equal(t, Frozen, st)
			frozenAt := cpu()
			time.Sleep(300 * time.Millisecond)
			assert.InDelta(t, frozenAt, cpu(), float64(time.Millisecond), "no CPU time while frozen")
			select {
			case <-p.done:
				t.Fatalf("the frozen process ended: %v", p.err)
			default:
			}

			require.NoError(t, c.Thaw())
			st, err = c.FreezerState()
			require.NoError(t, err)
			assert.Equal(t, Thawed, st)
			require.Eventually(t, func() bool { return cpu() > frozenAt+20*time.Millisecond }, 10*time.Second, 10*time.Millisecond,
				"the loop goes on after the thaw")
		})
	}
}

// Destroy ends a frozen cgroup's processes. On v1 that takes a thaw: a
// frozen process keeps a SIGKILL pending until it runs again.
func TestLiveDestroyFrozen(t *testing.T) {
	for _, h := range liveFreezers(t) {
		t.Run(h.Version.String(), func(t *testing.T) {
			c := newLive(t, h, Resources{})
			if _, err := c.FreezerState(); err != nil {
				t.Skipf("no freezer: %v", err)
			}
			p := startIn(t, c, "while :; do "+busybox+" sleep 0.01; done")
			thawAtCleanup(t, c)
			require.NoError(t, c.Freeze())
			begin := time.Now()
			require.NoError(t, c.Destroy())
			killedBy(t, p.wait(t, 10*time.Second), syscall.SIGKILL)
			assert.Less(t, time.Since(begin), destroyTimeout, "Destroy did not wait for a busy cgroup")
			for _, dir := range c.Dirs() {
				assert.NoDirExists(t, dir)
			}
		})
	}
}
