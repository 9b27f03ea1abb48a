//go:build cgo

package nsenter_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/02-cgroups/cgroup"
	"github.com/berth-project/berth/final/nsenter"
)

// TestProbe: Cmd.Probe, through a zygote and by a fork of the server,
// reports the exit status and the output (the first len(out) bytes of a
// longer one, the rest read so that the command does not block), kills
// a command at the deadline or once its Prober is cancelled, does not
// wait for a process the command left holding the output beyond
// WaitDelay, and says why a command could not start. No test depends on
// time but the deadline's, which a `sleep 100` cannot beat.
func TestProbe(t *testing.T) {
	c := startContainer(t, namespace.Config{}, cgroup.Resources{})
	t.Parallel()
	srv, err := nsenter.StartServer()
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	long := `i=0; while [ $i -lt 1000 ]; do echo 0123456789012345678901234567890123456789; i=$((i+1)); done`
	for _, zygote := range []bool{true, false} {
		for _, tc := range []struct {
			name     string
			args     []string
			cancel   bool
			deadline time.Duration
			code     int
			out      string // a prefix when n is set
			n        int
			timedOut bool
			canceled bool
		}{
			{name: "status and output", args: []string{"sh", "-c", "echo out; echo err >&2; exit 3"}, code: 3, out: "out\nerr\n"},
			{name: "long output kept to the buffer", args: []string{"sh", "-c", long}, code: 0, out: "0123456789", n: 64},
			{name: "killed at the deadline", args: []string{"sleep", "100"}, deadline: 200 * time.Millisecond, code: 137, timedOut: true},
			{name: "killed once cancelled", args: []string{"sleep", "100"}, cancel: true, code: 137, canceled: true},
			{name: "output held by what it left", args: []string{"sh", "-c", "sleep 100 & echo left"}, code: 0, out: "left\n"},
			{name: "not found", args: []string{"no-such-command"}, code: 127, out: "no-such-command"},
		} {
			name := tc.name
			if !zygote {
				name += " (server)"
			}
			t.Run(name, func(t *testing.T) {
				tmpl, err := srv.Command(c.options(tc.args...))
				require.NoError(t, err)
				require.NoError(t, tmpl.Hold())
				defer tmpl.Release()
				if zygote {
					_, err := tmpl.StartZygote()
					require.NoError(t, err)
				}
				p, err := nsenter.NewProber()
				require.NoError(t, err)
				defer p.Close()
				if tc.cancel {
					p.Cancel()
				}
				out := make([]byte, 4096)
				if tc.n > 0 {
					out = out[:tc.n]
				}
				var deadline time.Time
				if tc.deadline > 0 {
					deadline = time.Now().Add(tc.deadline)
				}
				cmd := tmpl.Again()
				cmd.WaitDelay = 100 * time.Millisecond
				r, err := cmd.Probe(p, out, deadline, nil)
				require.NoError(t, err)
				assert.True(t, r.Exited)
				assert.Equal(t, tc.code, r.Code)
				assert.Equal(t, tc.timedOut, r.TimedOut)
				assert.Equal(t, tc.canceled, r.Canceled)
				if tc.n > 0 {
					assert.Equal(t, tc.n, r.N)
				}
				_, err = cmd.Wait()
				require.ErrorContains(t, err, "already called", "Probe was its Wait")
				if tc.code == 127 {
					assert.Contains(t, string(out[:r.N]), tc.out)
				} else {
					assert.True(t, strings.HasPrefix(string(out[:r.N]), tc.out), "%q", out[:r.N])
				}
			})
		}
	}
}

// TestProbe_Refused: Probe is for a held fork server's Cmd.
func TestProbe_Refused(t *testing.T) {
	c := startContainer(t, namespace.Config{}, cgroup.Resources{})
	srv, err := nsenter.StartServer()
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	p, err := nsenter.NewProber()
	require.NoError(t, err)
	defer p.Close()
	cmd, err := srv.Command(c.options("true"))
	require.NoError(t, err)
	_, err = cmd.Probe(p, nil, time.Time{}, nil)
	require.ErrorContains(t, err, "held")
}
