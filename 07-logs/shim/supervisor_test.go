package shim

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

// With a supervisor, the shim records the exit and leaves the clean-up:
// the container has exited (its status is known at once), and Finish, the
// supervisor's call, cleans up once and writes the final state.
func TestASupervisorCleansUpInsteadOfTheShim(t *testing.T) {
	labtest.Privileged(t)
	monitors(t, func(t *testing.T) {
		s := newStore(t)
		sup, err := s.Supervise()
		require.NoError(t, err)
		defer sup.Close()
		c, st := start(t, s, Config{Command: []string{"/bin/sh", "-c", "exit 4"}})
		require.NoError(t, gone(st.ShimPid), "the shim exits after the exit is recorded")
		require.Eventually(t, func() bool { return !c.Supervised() }, 2*time.Second, 5*time.Millisecond)

		now, err := c.State()
		require.NoError(t, err)
		assert.Equal(t, Exited, now.Status, "exited, not dead: exit.json has the status")
		assert.Equal(t, 4, now.ExitCode)
		assert.Empty(t, now.Error)
		assert.NoFileExists(t, filepath.Join(c.Dir(), "cleanups"), "the shim left the clean-up")

		require.NoError(t, testRuntime.Finish(c))
		require.NoError(t, testRuntime.Finish(c), "a second Finish does nothing")
		cleanups, err := os.ReadFile(filepath.Join(c.Dir(), "cleanups"))
		require.NoError(t, err)
		assert.Equal(t, "4\n", string(cleanups), "Cleanup ran once")
		raw, err := c.rawState()
		require.NoError(t, err)
		assert.Equal(t, Exited, raw.Status)
		assert.Equal(t, 4, raw.ExitCode)
		assert.Empty(t, raw.Error)
	})
}

// A supervisor that is gone (the daemon died, or Close) leaves the
// clean-up to the shims again.
func TestWithoutASupervisorTheShimCleansUp(t *testing.T) {
	labtest.Privileged(t)
	s := newStore(t)
	sup, err := s.Supervise()
	require.NoError(t, err)
	require.NoError(t, sup.Close())
	c, _ := start(t, s, Config{Command: []string{"/bin/sh", "-c", "exit 5"}})
	final, err := c.Wait(5 * time.Second)
	require.NoError(t, err)
	assert.Equal(t, Exited, final.Status)
	cleanups, err := os.ReadFile(filepath.Join(c.Dir(), "cleanups"))
	require.NoError(t, err)
	assert.Equal(t, "5\n", string(cleanups))
}

// One supervisor per store: a second daemon on the same data root is
// refused, and the lock is free again once the first lets go.
func TestOneSupervisorAtATime(t *testing.T) {
	s := newStore(t)
	first, err := s.Supervise()
	require.NoError(t, err)
	_, err = s.Supervise()
	require.ErrorContains(t, err, "another process supervises")
	require.NoError(t, first.Close())
	again, err := s.Supervise()
	require.NoError(t, err)
	require.NoError(t, again.Close())
}
