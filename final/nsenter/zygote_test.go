//go:build cgo

package nsenter_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/02-cgroups/cgroup"
	"github.com/berth-project/berth/03-rootfs/seccomp"
	"github.com/berth-project/berth/final/nsenter"
)

// TestServer_Zygote: a zygote (Cmd.StartZygote) is in the container's
// namespaces but the PID namespace, whose children only it points at the
// container's; in none of its cgroups; as confined as the commands it
// starts (filter, no_new_privs, capabilities, user); holds nothing but
// its control socket, its signalfd, /dev/null and the cgroup.procs files;
// and ends with Release, and with the server. The commands it starts
// are TestServer_SameAsCommand's.
func TestServer_Zygote(t *testing.T) {
	labtest.Privileged(t)
	t.Parallel()
	c := startContainer(t, namespace.Config{}, cgroup.Resources{})
	srv, err := nsenter.StartServer()
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })

	opts := c.options("grep", "-E", "^(Cap|Seccomp|NoNewPrivs|Uid|Gid)", "/proc/self/status")
	cmd, err := srv.Command(opts)
	require.NoError(t, err)
	_, err = cmd.StartZygote()
	require.Error(t, err, "only a held Cmd gets a zygote")
	require.NoError(t, cmd.Hold())
	zygote, err := cmd.StartZygote()
	require.NoError(t, err)
	pidfd, err := unix.PidfdOpen(zygote, 0)
	require.NoError(t, err)
	defer unix.Close(pidfd)

	ns := func(pid int, name string) string {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, name))
		require.NoError(t, err)
		return l
	}
	for _, name := range []string{"mnt", "net", "uts", "ipc"} {
		assert.Equal(t, ns(c.pid, name), ns(zygote, name), name)
	}
	assert.Equal(t, ns(os.Getpid(), "pid"), ns(zygote, "pid"), "the zygote stays in the host's PID namespace: no container sees it")
	assert.Equal(t, ns(c.pid, "pid"), ns(zygote, "pid_for_children"), "its children are born in the container's")
	procs, err := c.cg.Procs()
	require.NoError(t, err)
	assert.NotContains(t, procs, zygote, "not in the container's cgroup: not counted in its pids.max")

	// Its descriptors: nothing of the server's or the daemon's.
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", zygote))
	require.NoError(t, err)
	early, late := c.cg.ProcsFiles()
	var cgroups, sockets, signalfds, null int
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join(fmt.Sprintf("/proc/%d/fd", zygote), e.Name()))
		require.NoError(t, err)
		switch {
		case target == os.DevNull:
			null++
		case strings.HasSuffix(target, "/cgroup.procs"):
			cgroups++
		case strings.HasPrefix(target, "socket:"):
			sockets++
		case target == "anon_inode:[signalfd]":
			signalfds++
		default:
			t.Errorf("the zygote holds fd %s: %s", e.Name(), target)
		}
	}
	assert.Equal(t, []int{3, len(early) + len(late), 1, 1}, []int{null, cgroups, sockets, signalfds}, "/dev/null, cgroup.procs, socket, signalfd")

	// As confined as what it starts, which is what a helper starts
	// (TestServer_SameAsCommand).
	zstatus, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", zygote))
	require.NoError(t, err)
	res := run(t, opts) // a helper's, or a server's
	require.Equal(t, 0, res.Status, res.Stderr)
	var stdout strings.Builder
	cmd.Stdout = &stdout
	status, err := cmd.Run()
	require.NoError(t, err)
	require.Equal(t, 0, status)
	for _, field := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "Seccomp", "NoNewPrivs", "Uid", "Gid"} {
		assert.Equal(t, statusField(t, res.Stdout, field), statusField(t, string(zstatus), field), "the zygote's %s", field)
		assert.Equal(t, statusField(t, res.Stdout, field), statusField(t, stdout.String(), field), "a command of the zygote: %s", field)
	}

	// Its memory, for the docs: mostly the server's pages, shared.
	rollup, _ := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", zygote))
	for _, l := range lines(string(rollup)) {
		if strings.HasPrefix(l, "Rss:") || strings.HasPrefix(l, "Pss:") || strings.HasPrefix(l, "Private_Dirty:") {
			t.Logf("the zygote's %s", strings.Join(strings.Fields(l), " "))
		}
	}

	// Release ends it.
	cmd.Release()
	waitExit(t, pidfd, "the zygote after Release")

	// So does the end of the server.
	srv2, err := nsenter.StartServer()
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv2.Close() })
	cmd2, err := srv2.Command(opts)
	require.NoError(t, err)
	require.NoError(t, cmd2.Hold())
	defer cmd2.Release()
	zygote2, err := cmd2.StartZygote()
	require.NoError(t, err)
	pidfd2, err := unix.PidfdOpen(zygote2, 0)
	require.NoError(t, err)
	defer unix.Close(pidfd2)
	require.NoError(t, unix.Kill(srv2.Pid(), unix.SIGKILL))
	waitExit(t, pidfd2, "the zygote after its server's end")
}

// waitExit waits (up to a minute: no timing is measured) for the process
// of pidfd to exit.
func waitExit(t *testing.T, pidfd int, what string) {
	t.Helper()
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, 60_000)
		if err == unix.EINTR {
			continue
		}
		require.NoError(t, err)
		require.Equal(t, 1, n, "%s still runs", what)
		return
	}
}

// TestServer_ZygoteRefusedByTheFilter: a seccomp profile that refuses
// what the zygote itself must do (here recvmsg, which takes each
// request) gets no zygote, and the command runs by a fork of the server,
// as without one.
func TestServer_ZygoteRefusedByTheFilter(t *testing.T) {
	labtest.Privileged(t)
	t.Parallel()
	c := startContainer(t, namespace.Config{}, cgroup.Resources{})
	srv, err := nsenter.StartServer()
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })

	opts := c.options("true")
	opts.Seccomp = seccomp.Profile{JSON: `{"defaultAction": "SCMP_ACT_ALLOW",
		"syscalls": [{"names": ["recvmsg"], "action": "SCMP_ACT_ERRNO"}]}`}
	cmd, err := srv.Command(opts)
	require.NoError(t, err)
	require.NoError(t, cmd.Hold())
	defer cmd.Release()
	_, err = cmd.StartZygote()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "recvmsg")
	status, err := cmd.Run()
	require.NoError(t, err)
	assert.Equal(t, 0, status)
}
