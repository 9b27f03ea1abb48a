//go:build cgo

package nsenter_test

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/02-cgroups/cgroup"
	"github.com/berth-project/berth/03-rootfs/rootfs"
	"github.com/berth-project/berth/03-rootfs/seccomp"
	"github.com/berth-project/berth/final/nsenter"
)

// TestOCI_ProcessOptions: what an OCI runtime's exec asks besides docker
// exec (berth-runtime exec): the five capability sets, a filter compiled
// already, rlimits, umask, oom_score_adj.
func TestOCI_ProcessOptions(t *testing.T) {
	t.Parallel()
	c := startContainer(t, namespace.Config{}, cgroup.Resources{})
	opts := c.options("sh", "-c", "grep -E '^(Cap|Seccomp:)' /proc/self/status; ulimit -n; ulimit -Hn; umask; cat /proc/self/oom_score_adj")
	opts.CapSets = &rootfs.CapSets{
		Bounding: []string{"CAP_KILL", "CAP_CHOWN"}, Permitted: []string{"CAP_KILL", "CAP_CHOWN"},
		Effective: []string{"CAP_KILL"}, Inheritable: []string{"CAP_KILL"}, Ambient: []string{"CAP_KILL"},
	}
	opts.Filter = &seccomp.Filter{Unconfined: true}
	opts.Rlimits = []namespace.Rlimit{{Resource: unix.RLIMIT_NOFILE, Soft: 321, Hard: 654}}
	umask := uint32(0o077)
	opts.Umask = &umask
	adj := 345
	opts.OOMScoreAdj = &adj
	res := run(t, opts)
	require.Equal(t, 0, res.Status, res.Stderr)
	assert.Equal(t, "0000000000000020", statusField(t, res.Stdout, "CapInh"))
	assert.Equal(t, "0000000000000021", statusField(t, res.Stdout, "CapBnd"))
	assert.Equal(t, "0000000000000020", statusField(t, res.Stdout, "CapAmb"))
	assert.Equal(t, "0", statusField(t, res.Stdout, "Seccomp"), "an unconfined filter: none, though the zero Profile is Docker's")
	l := lines(res.Stdout)
	assert.Equal(t, []string{"321", "654", "0077", "345"}, l[len(l)-4:])
}

// TestOCI_Detach: the waiter leaves as soon as the command runs, and the
// command goes to the nearest subreaper: this test, here.
func TestOCI_Detach(t *testing.T) {
	c := startContainer(t, namespace.Config{}, cgroup.Resources{})
	require.NoError(t, unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0))
	t.Cleanup(func() { _ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0) })
	opts := c.options("sh", "-c", "exit 7")
	opts.Detach = true
	cmd, err := nsenter.Command(opts)
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	_, err = cmd.Wait()
	assert.ErrorContains(t, err, "detached")
	assert.ErrorContains(t, cmd.Signal(unix.SIGTERM), "detached")
	var ws unix.WaitStatus
	_, err = unix.Wait4(cmd.Pid(), &ws, 0, nil)
	require.NoError(t, err, "the command is this process's child now")
	assert.Equal(t, 7, ws.ExitStatus())

	opts.Detach = true
	cmd, err = nsenter.Command(opts)
	require.NoError(t, err)
	cmd.Stdout = &strings.Builder{}
	assert.ErrorContains(t, cmd.Start(), "must be files")
}

// TestOCI_Refusals: bad values fail at Command; the fork server refuses
// the options it does not implement, by name.
func TestOCI_Refusals(t *testing.T) {
	umask := uint32(0o1777)
	_, err := nsenter.Command(nsenter.Options{Pid: os.Getpid(), Args: []string{"true"}, Umask: &umask})
	assert.ErrorContains(t, err, "umask")
	_, err = nsenter.Command(nsenter.Options{Pid: os.Getpid(), Args: []string{"true"},
		CapSets: &rootfs.CapSets{Effective: []string{"CAP_KILL"}}})
	assert.ErrorContains(t, err, "effective")

	s, err := testServer()
	if err != nil {
		t.Skip(err)
	}
	adj := 1
	for name, o := range map[string]nsenter.Options{
		"CapSets":     {CapSets: &rootfs.CapSets{}},
		"Rlimits":     {Rlimits: []namespace.Rlimit{}},
		"Umask":       {Umask: new(uint32)},
		"OOMScoreAdj": {OOMScoreAdj: &adj},
		"ChownStdio":  {ChownStdio: true},
		"Exe":         {Exe: os.Stdin},
		"Detach":      {Detach: true},
	} {
		o.Pid, o.Args = os.Getpid(), []string{"true"}
		_, err := s.Command(o)
		assert.ErrorContains(t, err, "Options."+name, strconv.Quote(name))
	}
}

// TestOCI_Exe: the helper is executed from Options.Exe: this program
// opened anew works; another program is not a helper, and Start says
// so.
func TestOCI_Exe(t *testing.T) {
	c := startContainer(t, namespace.Config{}, cgroup.Resources{})
	self, err := os.OpenFile("/proc/self/exe", unix.O_PATH|unix.O_CLOEXEC, 0)
	require.NoError(t, err)
	defer self.Close()
	opts := c.options("sh", "-c", "exit 6")
	opts.Exe = self
	res := run(t, opts)
	assert.Equal(t, 6, res.Status, res.Stderr)

	other, err := os.OpenFile("/bin/true", unix.O_PATH|unix.O_CLOEXEC, 0)
	require.NoError(t, err)
	defer other.Close()
	opts.Exe = other
	cmd, err := nsenter.Command(opts)
	require.NoError(t, err)
	assert.ErrorContains(t, cmd.Start(), "before entering it")
}
