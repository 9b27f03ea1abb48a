package cgroup

import (
	"errors"
	"io/fs"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The freezer against the fake cgroupfs of fake_test.go, which plays the
// kernel's part: v1's FREEZING before FROZEN, v2's late "frozen 1".

// freezerFakes are the fakes with a freezer: v2 (every cgroup has
// cgroup.freeze) and v1 with the freezer hierarchy mounted.
var freezerFakes = []struct {
	name string
	new  func(*testing.T) (*Hierarchy, *fakeKernel)
}{
	{"v2", newFakeV2},
	{"v1", func(t *testing.T) (*Hierarchy, *fakeKernel) {
		return newFakeV1(t, "cpu,cpuacct", "memory", "pids", "freezer")
	}},
}

// freezerFile is the file a freeze is written to, and what it holds
// when frozen and thawed.
func freezerFile(c *Cgroup) (path, frozen, thawed string) {
	if c.Version() == V2 {
		return filepath.Join(c.Path(""), "cgroup.freeze"), "1", "0"
	}
	return filepath.Join(c.Path("freezer"), "freezer.state"), "FROZEN", "THAWED"
}

func TestFreezeAndThaw(t *testing.T) {
	for _, fake := range freezerFakes {
		t.Run(fake.name, func(t *testing.T) {
			h, k := fake.new(t)
			c, err := h.New("web", limits)
			require.NoError(t, err)
			file, frozen, thawed := freezerFile(c)
			if c.Version() != V2 {
				assert.Equal(t, filepath.Join(h.Mounts["freezer"], DefaultParent, "web"), c.Path("freezer"),
					"the container's cgroup has a directory in the freezer hierarchy")
				assert.Contains(t, c.Dirs(), c.Path("freezer"), "so Add puts processes there too")
			}

			st, err := c.FreezerState()
			require.NoError(t, err)
			assert.Equal(t, Thawed, st)

			require.NoError(t, c.Freeze())
			assert.Equal(t, frozen, k.read(file))
			st, err = c.FreezerState()
			require.NoError(t, err)
			assert.Equal(t, Frozen, st)
			require.NoError(t, c.Freeze(), "freezing a frozen cgroup is no error")

			loaded, err := h.Load("web")
			require.NoError(t, err)
			st, err = loaded.FreezerState()
			require.NoError(t, err)
			assert.Equal(t, Frozen, st, "the state is the kernel's: a reloaded cgroup sees it")

			require.NoError(t, loaded.Thaw())
			assert.Equal(t, thawed, k.read(file))
			st, err = c.FreezerState()
			require.NoError(t, err)
			assert.Equal(t, Thawed, st)
			require.NoError(t, c.Thaw(), "thawing a thawed cgroup is no error")
		})
	}
}

// v1: the state reads FREEZING until every process has stopped; Freeze
// reads it again, writing FROZEN once more each time, until it is FROZEN.
func TestFreezeV1WaitsWhileFreezing(t *testing.T) {
	h, k := newFakeV1(t, "memory", "freezer")
	c, err := h.New("web", memOnly)
	require.NoError(t, err)
	k.freezeSlow = 3
	k.freezerOps = 0
	require.NoError(t, c.Freeze())
	assert.Equal(t, 4, k.freezerOps, "FROZEN written once, and again after each FREEZING")
	st, err := c.FreezerState()
	require.NoError(t, err)
	assert.Equal(t, Frozen, st)
}

// v2: "frozen 1" comes in cgroup.events when the kernel is done; Freeze
// waits for it, writing cgroup.freeze only once.
func TestFreezeV2WaitsForTheEvent(t *testing.T) {
	h, k := newFakeV2(t)
	c, err := h.New("web", limits)
	require.NoError(t, err)
	k.freezeDelay = 50 * time.Millisecond
	k.freezerOps = 0
	begin := time.Now()
	require.NoError(t, c.Freeze())
	assert.GreaterOrEqual(t, time.Since(begin), k.freezeDelay, "Freeze returned before the kernel said frozen")
	assert.Equal(t, 1, k.freezerOps)
	st, err := c.FreezerState()
	require.NoError(t, err)
	assert.Equal(t, Frozen, st)
}

// A freeze that does not complete is undone: the cgroup is never left
// half frozen.
func TestFreezeTimesOutAndThaws(t *testing.T) {
	for _, fake := range freezerFakes {
		t.Run(fake.name, func(t *testing.T) {
			h, k := fake.new(t)
			c, err := h.New("web", limits)
			require.NoError(t, err)
			file, _, thawed := freezerFile(c)
			k.freezeStuck = true

			st, err := c.FreezerState()
			require.NoError(t, err)
			assert.Equal(t, Thawed, st)
			err = c.freeze(30 * time.Millisecond)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "did not stop within 30ms")
			assert.Equal(t, thawed, k.read(file))
			assert.Equal(t, filepath.Base(file)+" "+thawed, k.calls[len(k.calls)-1], "the last write thaws")
			st, err = c.FreezerState()
			require.NoError(t, err)
			assert.Equal(t, Thawed, st)
		})
	}
}

func TestFreezeWithoutFreezer(t *testing.T) {
	t.Run("v1 without the freezer hierarchy", func(t *testing.T) {
		h, _ := newFakeV1(t, "memory", "cpu,cpuacct", "pids")
		c, err := h.New("web", limits)
		require.NoError(t, err)
		err = c.Freeze()
		require.ErrorIs(t, err, errors.ErrUnsupported)
		assert.Contains(t, err.Error(), "cgroup web: freeze: the cgroup is in no freezer hierarchy")
		_, err = c.FreezerState()
		require.ErrorIs(t, err, errors.ErrUnsupported)
		require.ErrorIs(t, c.Thaw(), errors.ErrUnsupported)
	})
	t.Run("v2 before Linux 5.2", func(t *testing.T) {
		h, k := newFakeV2(t)
		k.omit["cgroup.freeze"] = true
		c, err := h.New("web", limits)
		require.NoError(t, err)
		err = c.Freeze()
		require.ErrorIs(t, err, errors.ErrUnsupported)
		assert.Contains(t, err.Error(), "has no cgroup.freeze")
	})
	t.Run("a cgroup that is gone", func(t *testing.T) {
		for _, fake := range freezerFakes {
			h, _ := fake.new(t)
			c, err := h.New("web", limits)
			require.NoError(t, err)
			require.NoError(t, c.Destroy())
			_, err = c.FreezerState()
			require.ErrorIs(t, err, fs.ErrNotExist, fake.name)
			require.ErrorIs(t, c.Freeze(), fs.ErrNotExist, fake.name)
		}
	})
}

// The kernel's value is taken as it is, and an unknown one is an error
// rather than a guess.
func TestFreezerStateReadsTheKernel(t *testing.T) {
	h, k := newFakeV1(t, "freezer")
	c, err := h.New("web", Resources{})
	require.NoError(t, err)
	k.writeFile(filepath.Join(c.Path("freezer"), "freezer.state"), "FREEZING\n")
	st, err := c.FreezerState()
	require.NoError(t, err)
	assert.Equal(t, Freezing, st)
	k.writeFile(filepath.Join(c.Path("freezer"), "freezer.state"), "MELTED\n")
	_, err = c.FreezerState()
	assert.ErrorContains(t, err, `unexpected state "MELTED"`)

	h2, k2 := newFakeV2(t)
	c2, err := h2.New("web", Resources{})
	require.NoError(t, err)
	k2.writeFile(filepath.Join(c2.Path(""), "cgroup.freeze"), "1\n")
	st, err = c2.FreezerState()
	require.NoError(t, err)
	assert.Equal(t, Freezing, st, "asked for, not yet complete")
}

// Destroying a frozen cgroup: on v1 a frozen process does not die of
// SIGKILL until it is thawed, so the processes are killed and then the
// cgroup is thawed; the directories go as usual.
func TestDestroyFrozen(t *testing.T) {
	for _, fake := range freezerFakes {
		t.Run(fake.name, func(t *testing.T) {
			h, k := fake.new(t)
			c, err := h.New("web", limits)
			require.NoError(t, err)
			for _, dir := range c.Dirs() {
				k.writeFile(filepath.Join(dir, "cgroup.procs"), "10\n11\n")
			}
			require.NoError(t, c.Freeze())
			file, _, thawed := freezerFile(c)
			k.calls = nil

			require.NoError(t, c.Destroy())
			require.GreaterOrEqual(t, len(k.calls), 3)
			assert.Equal(t, []string{"kill 10", "kill 11", filepath.Base(file) + " " + thawed}, k.calls[:3],
				"killed first, thawed after: the processes wake up into SIGKILL")
			for _, dir := range c.Dirs() {
				assert.NoDirExists(t, dir)
			}
		})
	}
}

// A thawed cgroup is destroyed as before: no freezer write at all.
func TestDestroyThawedDoesNotTouchTheFreezer(t *testing.T) {
	h, k := newFakeV1(t, "memory", "freezer")
	c, err := h.New("web", memOnly)
	require.NoError(t, err)
	require.NoError(t, c.Destroy())
	assert.Zero(t, k.freezerOps)
}
