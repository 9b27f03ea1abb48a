//go:build cgo

package nsenter_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/02-cgroups/cgroup"
	"github.com/berth-project/berth/03-rootfs/rootfs"
	"github.com/berth-project/berth/03-rootfs/seccomp"
	"github.com/berth-project/berth/final/nsenter"
)

// TestMain doubles as the containers' init (chapter 03's): namespace.Start
// re-executes this binary as "berth-init". The nsenter helper needs no
// such line: the package's init function takes it over.
func TestMain(m *testing.M) { labtest.Main(m, rootfs.Init) }

// container is a running chapter 03 container: busybox, `sleep 60` as
// PID 1, in a cgroup of its own.
type container struct {
	pid      int // its init, on the host
	hostname string
	cg       *cgroup.Cgroup
	proc     *namespace.Process
}

// startContainer starts a container and stops it (and removes its
// cgroup) when the test ends.
func startContainer(t testing.TB, cfg namespace.Config, limits cgroup.Resources) *container {
	t.Helper()
	labtest.Privileged(t)
	root := labtest.BusyboxRootfs(t)
	cfg.Hostname = labtest.Unique("exec")
	id := namespace.NewID()

	cg, err := cgroup.New(labtest.Unique("nsenter"), limits)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, cg.Destroy()) })

	// A file, not a buffer: init writes it directly, with no goroutine
	// copying that reading it here would race with.
	stderr, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	require.NoError(t, err)
	defer stderr.Close()
	logged := func() string { b, _ := os.ReadFile(stderr.Name()); return string(b) }
	p, err := namespace.Start(cfg, namespace.Stdio{Err: stderr})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Kill() }) // SIGKILL to init ends every process of its PID namespace
	require.NoError(t, cg.Add(p.Pid()))
	spec := rootfs.InitSpec{
		Spec:   cfg.NewSpec(id, []string{"sleep", "60"}),
		Rootfs: rootfs.Spec{Root: root},
	}
	require.NoError(t, spec.CompileSeccomp(seccomp.Profile{}))
	require.NoError(t, p.Release(spec))

	// Exec makes sense once the container is set up: when init has
	// become the command.
	deadline := time.Now().Add(10 * time.Second)
	for {
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.Pid()))
		if err != nil {
			t.Fatalf("the container's init died: %v %s", err, logged())
		}
		if string(cmdline) == "sleep\x0060\x00" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the container's command never started: %q %s", cmdline, logged())
		}
		time.Sleep(5 * time.Millisecond)
	}
	return &container{pid: p.Pid(), hostname: cfg.Hostname, cg: cg, proc: p}
}

// options runs args in c as root, with the environment Docker gives an
// exec and the container's cgroup.
func (c *container) options(args ...string) nsenter.Options {
	early, late := c.cg.ProcsFiles()
	return nsenter.Options{
		Pid:              c.pid,
		EarlyCgroupProcs: early,
		CgroupProcs:      late,
		Args:             args,
		Env:              namespace.DefaultEnv(c.hostname),
	}
}

// viaServerEnv set runs every exec of these tests through a fork server
// (nsenter.Server) instead of a helper: TestServer_SameAsCommand runs
// them so.
const viaServerEnv = "BERTH_NSENTER_VIA_SERVER"

// viaZygoteEnv set (with viaServerEnv) runs every exec through a
// zygote of the server: each Cmd is held (Cmd.Hold) and starts one
// (Cmd.StartZygote), released when the test ends. TestServer_ZygoteSameAsCommand runs
// them so.
const viaZygoteEnv = "BERTH_NSENTER_VIA_ZYGOTE"

var testServer = sync.OnceValues(nsenter.StartServer)

// command is nsenter.Command, or the fork server's (through a zygote
// with viaZygoteEnv, but for a terminal, which a zygote does not take).
func command(t testing.TB, opts nsenter.Options) (*nsenter.Cmd, error) {
	if os.Getenv(viaServerEnv) == "" {
		return nsenter.Command(opts)
	}
	s, err := testServer()
	if err != nil {
		return nil, err
	}
	cmd, err := s.Command(opts)
	if err != nil || os.Getenv(viaZygoteEnv) == "" || opts.Tty {
		return cmd, err
	}
	if err := cmd.Hold(); err != nil {
		return nil, err
	}
	t.Cleanup(cmd.Release)
	if _, err := cmd.StartZygote(); err != nil {
		return nil, err
	}
	return cmd, nil
}

// TestServer_SameAsCommand runs this package's exec tests again with
// every exec going through a fork server: the same confinement (the
// namespaces, cgroup, user, groups, capabilities, seccomp filter,
// no_new_privs, keyring, working directory, environment, exit statuses,
// no leaked descriptors, a terminal) by the other way in.
func TestServer_SameAsCommand(t *testing.T) {
	labtest.Privileged(t)
	if os.Getenv(viaServerEnv) != "" {
		t.Skip("already through the server")
	}
	for _, zygote := range []bool{false, true} {
		cmd := exec.Command(os.Args[0], "-test.run", "^(TestS37_|TestExec)", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), viaServerEnv+"=1")
		if zygote {
			cmd.Env = append(cmd.Env, viaZygoteEnv+"=1")
		}
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "zygote %v: %s", zygote, out)
		assert.Contains(t, string(out), "--- PASS: TestS37_ExecEntersEveryNamespace")
	}
}

// result is what an exec printed and its exit status.
type result struct {
	Stdout, Stderr string
	Status         int
}

// run runs opts to its end.
func run(t *testing.T, opts nsenter.Options) result {
	t.Helper()
	cmd, err := command(t, opts)
	require.NoError(t, err)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	status, err := cmd.Run()
	require.NoError(t, err)
	return result{stdout.String(), stderr.String(), status}
}

// sh runs a script in c and requires it to succeed.
func (c *container) sh(t *testing.T, script string) string {
	t.Helper()
	res := run(t, c.options("sh", "-c", script))
	require.Equal(t, 0, res.Status, "script:\n%s\nstdout:\n%s\nstderr:\n%s", script, res.Stdout, res.Stderr)
	return res.Stdout
}

func lines(s string) []string { return strings.Split(strings.TrimRight(s, "\n"), "\n") }

// statusField is a field of /proc/PID/status as printed by grep: the
// value after "Name:".
func statusField(t *testing.T, status, name string) string {
	t.Helper()
	for _, line := range lines(status) {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	t.Fatalf("no %s in %q", name, status)
	return ""
}

// TestS37_ExecEntersEveryNamespace: a process started by exec sees what
// the container's own command sees: its hostname, its root filesystem,
// its processes (PID 1 is the container's command), and every one of
// its namespaces.
func TestS37_ExecEntersEveryNamespace(t *testing.T) {
	t.Parallel()
	c := startContainer(t, namespace.Config{}, cgroup.Resources{})
	out := c.sh(t, `
hostname
echo ---
ls -A /
echo ---
echo $$
tr '\0' ' ' < /proc/1/cmdline; echo
echo ---
for ns in user ipc uts net pid cgroup mnt; do readlink /proc/self/ns/$ns; done
`)
	parts := strings.Split(out, "---\n")
	require.Len(t, parts, 4, out)

	assert.Equal(t, c.hostname+"\n", parts[0])

	entries, err := os.ReadDir(labtest.BusyboxRootfs(t))
	require.NoError(t, err)
	var image []string
	for _, e := range entries {
		image = append(image, e.Name())
	}
	assert.Equal(t, image, lines(parts[1]), "ls / shows the container's root, not the host's")

	pidLines := lines(parts[2])
	shellPid, err := strconv.Atoi(pidLines[0])
	require.NoError(t, err)
	assert.Greater(t, shellPid, 1, "a PID of the container's namespace")
	assert.Less(t, shellPid, 100, "a PID of the container's namespace, not the host's")
	assert.Equal(t, "sleep 60 ", pidLines[1], "PID 1 is the container's command")

	for i, ns := range []string{"user", "ipc", "uts", "net", "pid", "cgroup", "mnt"} {
		want, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", c.pid, ns))
		require.NoError(t, err)
		assert.Equal(t, want, lines(parts[3])[i], "the %s namespace", ns)
	}
	hostNet, err := os.Readlink("/proc/self/ns/net")
	require.NoError(t, err)
	assert.NotEqual(t, hostNet, lines(parts[3])[3], "the container has a network namespace of its own")
}

// TestS37_ExecJoinsTheCgroup: the command is in the container's cgroup
// (its limits apply to it), the helper's waiter is not; the PID that
// Cmd.Pid reports is the command's; signals reach the command.
func TestS37_ExecJoinsTheCgroup(t *testing.T) {
	t.Parallel()
	c := startContainer(t, namespace.Config{}, cgroup.Resources{})

	t.Run("procs", func(t *testing.T) {
		cmd, err := command(t, c.options("sleep", "30"))
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		waitCmdline(t, cmd.Pid(), "sleep\x0030\x00")
		procs, err := c.cg.Procs()
		require.NoError(t, err)
		assert.Equal(t, sorted(c.pid, cmd.Pid()), procs, "init and the command, nothing else")
		for _, ns := range []string{"pid", "mnt", "net"} {
			want, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", c.pid, ns))
			got, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", cmd.Pid(), ns))
			assert.Equal(t, want, got, "seen from the host, the command is in the container's %s namespace", ns)
		}

		require.NoError(t, cmd.Signal(unix.SIGTERM), "relayed by the waiter")
		status, err := cmd.Wait()
		require.NoError(t, err)
		assert.Equal(t, 128+int(unix.SIGTERM), status)
		require.ErrorIs(t, cmd.Signal(unix.SIGTERM), os.ErrProcessDone)
	})

	t.Run("kill", func(t *testing.T) {
		cmd, err := command(t, c.options("sleep", "30"))
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		require.NoError(t, cmd.Signal(unix.SIGKILL), "sent to the command itself")
		status, err := cmd.Wait()
		require.NoError(t, err)
		assert.Equal(t, 128+int(unix.SIGKILL), status)
	})

	t.Run("inside", func(t *testing.T) {
		out := c.sh(t, "cat /proc/self/cgroup; echo ---; cat /proc/1/cgroup")
		self, init, _ := strings.Cut(out, "---\n")
		assert.Equal(t, init, self, "the same cgroups as the container's PID 1")
	})
}

func sorted(pids ...int) []int { slices.Sort(pids); return pids }

// waitCmdline waits for process pid to show cmdline: Start returns when
// the command's execve is under way, a moment before the kernel has put
// the new arguments in place.
func waitCmdline(t *testing.T, pid int, cmdline string) {
	t.Helper()
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		return err == nil && string(b) == cmdline
	}, 5*time.Second, 2*time.Millisecond, "process %d never ran %q", pid, cmdline)
}

// TestS37_ExecJoinsLateEnoughForAPidsLimit: the helper joins the cgroup
// just before execve, so the Go runtime's threads never count against
// the container's limit: with room for one more task, exec still works.
func TestS37_ExecJoinsLateEnoughForAPidsLimit(t *testing.T) {
	t.Parallel()
	c := startContainer(t, namespace.Config{}, cgroup.Resources{})
	// Set now: the container's own init, a Go program that joins the
	// cgroup before it starts, would not fit.
	require.NoError(t, c.cg.Update(cgroup.Resources{PidsMax: 2}))
	res := run(t, c.options("echo", "fits"))
	assert.Equal(t, result{Stdout: "fits\n"}, res)
	// And the limit holds for the command: its shell cannot fork.
	res = run(t, c.options("sh", "-c", "true & wait"))
	assert.NotEqual(t, 0, res.Status)
	assert.Contains(t, res.Stderr, "can't fork")
}

// TestS37_ExecCapabilities: the command gets the container's
// capabilities (Docker's default set), root and non-root alike as with
// Docker; no_new_privs when asked.
func TestS37_ExecCapabilities(t *testing.T) {
	t.Parallel()
	c := startContainer(t, namespace.Config{}, cgroup.Resources{})
	const status = "grep -E '^(Cap|NoNewPrivs|Uid|Gid|Groups)' /proc/self/status"

	t.Run("root", func(t *testing.T) {
		out := c.sh(t, status)
		assert.Equal(t, "00000000a80425fb", statusField(t, out, "CapEff"))
		assert.Equal(t, "00000000a80425fb", statusField(t, out, "CapBnd"))
		assert.Equal(t, "0000000000000000", statusField(t, out, "CapInh"))
		assert.Equal(t, "0000000000000000", statusField(t, out, "CapAmb"))
		assert.Equal(t, "0", statusField(t, out, "NoNewPrivs"))
	})
	t.Run("user", func(t *testing.T) {
		opts := c.options("sh", "-c", status)
		opts.UID, opts.GID, opts.AdditionalGids = 65534, 65534, []uint32{10, 20}
		res := run(t, opts)
		require.Equal(t, 0, res.Status, res.Stderr)
		assert.Equal(t, "65534 65534 65534 65534", statusField(t, res.Stdout, "Uid"))
		assert.Equal(t, "65534 65534 65534 65534", statusField(t, res.Stdout, "Gid"))
		assert.Equal(t, "10 20", statusField(t, res.Stdout, "Groups"))
		assert.Equal(t, "0000000000000000", statusField(t, res.Stdout, "CapEff"), "no capabilities for a non-root user")
		assert.Equal(t, "0000000000000000", statusField(t, res.Stdout, "CapPrm"))
		assert.Equal(t, "00000000a80425fb", statusField(t, res.Stdout, "CapBnd"))
	})
	t.Run("user without CAP_SETUID", func(t *testing.T) {
		// Switching users does not depend on keeping CAP_SETUID.
		opts := c.options("sh", "-c", status)
		opts.UID, opts.GID = 1000, 1000
		opts.Capabilities = []string{"CAP_KILL"}
		res := run(t, opts)
		require.Equal(t, 0, res.Status, res.Stderr)
		assert.Equal(t, "1000 1000 1000 1000", statusField(t, res.Stdout, "Uid"))
		assert.Equal(t, "0000000000000020", statusField(t, res.Stdout, "CapBnd"))
	})
	t.Run("fewer", func(t *testing.T) {
		opts := c.options("sh", "-c", status+"; kill -0 1 && echo can-signal; hostname x 2>&1 || true")
		opts.Capabilities = []string{"CAP_KILL"}
		opts.NoNewPrivileges = true
		res := run(t, opts)
		require.Equal(t, 0, res.Status, res.Stderr)
		assert.Equal(t, "0000000000000020", statusField(t, res.Stdout, "CapEff"))
		assert.Equal(t, "0000000000000020", statusField(t, res.Stdout, "CapBnd"))
		assert.Equal(t, "1", statusField(t, res.Stdout, "NoNewPrivs"))
		assert.Contains(t, res.Stdout, "can-signal")
		assert.Contains(t, res.Stdout, "Operation not permitted", "no CAP_SYS_ADMIN, not even the container's")
	})
}

// TestExecSeccomp: an exec runs under the container's filter, compiled
// for its capabilities, as the container's own command does: Docker's
// profile by default (unshare -U refused), none with Unconfined, and
// CAP_SYS_ADMIN opens unshare.
func TestExecSeccomp(t *testing.T) {
	t.Parallel()
	c := startContainer(t, namespace.Config{}, cgroup.Resources{})
	const script = "grep Seccomp: /proc/self/status; unshare -U true 2>/dev/null && echo unshared || echo refused"
	tests := []struct {
		name    string
		profile seccomp.Profile
		caps    []string
		want    string
	}{
		{"default", seccomp.Profile{}, nil, "Seccomp:\t2\nrefused\n"},
		{"unconfined", seccomp.Unconfined, nil, "Seccomp:\t0\nunshared\n"},
		{"CAP_SYS_ADMIN", seccomp.Profile{}, append([]string{"CAP_SYS_ADMIN"}, rootfs.DefaultCapabilities...), "Seccomp:\t2\nunshared\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := c.options("sh", "-c", script)
			opts.Seccomp, opts.Capabilities = tt.profile, tt.caps
			res := run(t, opts)
			require.Equal(t, 0, res.Status, res.Stderr)
			assert.Equal(t, tt.want, res.Stdout)
		})
	}
}

// TestS37_ExecWorkdirEnvStdin: -w, -e and -i.
func TestS37_ExecWorkdirEnvStdin(t *testing.T) {
	t.Parallel()
	c := startContainer(t, namespace.Config{}, cgroup.Resources{})

	opts := c.options("env")
	opts.Env = []string{"PATH=/usr/bin:/bin", "GREETING=hello world"}
	opts.Dir = "/etc"
	res := run(t, opts)
	require.Equal(t, 0, res.Status, res.Stderr)
	assert.Equal(t, []string{"PATH=/usr/bin:/bin", "GREETING=hello world"}, lines(res.Stdout), "exactly the given environment")

	opts.Args = []string{"pwd"}
	assert.Equal(t, result{Stdout: "/etc\n"}, run(t, opts))

	// The command is looked up in the PATH of its environment, in the
	// container: sh is in /bin, not in /usr/bin.
	opts.Env = []string{"PATH=/usr/bin"}
	opts.Args = []string{"sh", "-c", "true"}
	assert.Equal(t, 127, run(t, opts).Status)

	opts = c.options("cat")
	cmd, err := command(t, opts)
	require.NoError(t, err)
	var out bytes.Buffer
	cmd.Stdin, cmd.Stdout = strings.NewReader("line 1\nline 2\n"), &out
	status, err := cmd.Run()
	require.NoError(t, err)
	assert.Equal(t, 0, status)
	assert.Equal(t, "line 1\nline 2\n", out.String(), "stdin reaches the command, and its end too")
}

// TestS37_ExecExitStatus: the command's status is exec's, with a shell's
// 126 and 127 for a command that cannot run.
func TestS37_ExecExitStatus(t *testing.T) {
	t.Parallel()
	c := startContainer(t, namespace.Config{}, cgroup.Resources{})
	for name, tc := range map[string]struct {
		args    []string
		dir     string
		status  int
		message string
	}{
		"exit":           {args: []string{"sh", "-c", "exit 3"}, status: 3},
		"signal":         {args: []string{"sh", "-c", "kill -9 $$"}, status: 137},
		"not found":      {args: []string{"no-such-command"}, status: 127, message: "no-such-command: executable file not found in $PATH"},
		"missing path":   {args: []string{"/no/such/file"}, status: 127, message: "no such file or directory"},
		"not executable": {args: []string{"/etc/passwd"}, status: 126, message: "/etc/passwd: permission denied"},
		"directory":      {args: []string{"/etc"}, status: 126, message: "is a directory"},
		"bad workdir":    {args: []string{"true"}, dir: "/no/such/dir", status: 126, message: "working directory"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			opts := c.options(tc.args...)
			opts.Dir = tc.dir
			res := run(t, opts)
			assert.Equal(t, tc.status, res.Status, res.Stderr)
			if tc.message != "" {
				assert.Contains(t, res.Stderr, tc.message)
			}
		})
	}
}

// TestS37_ExecTty: with a terminal, the command leads a session of its
// own whose controlling terminal is the pty (docker exec -t).
func TestS37_ExecTty(t *testing.T) {
	t.Parallel()
	c := startContainer(t, namespace.Config{}, cgroup.Resources{})
	master, slave := openPty(t)

	opts := c.options("cat", "/proc/self/stat")
	opts.Tty = true
	cmd, err := command(t, opts)
	require.NoError(t, err)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	require.NoError(t, cmd.Start())
	slave.Close() // the command has it; our copy would keep the terminal open
	status, err := cmd.Wait()
	require.NoError(t, err)
	require.Equal(t, 0, status)

	// Read all the command wrote; EIO means every slave is closed.
	var out []byte
	buf := make([]byte, 4096)
	for {
		n, err := master.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			break
		}
	}
	// pid (comm) state ppid pgrp session tty_nr ...
	_, rest, ok := strings.Cut(string(out), ") ")
	require.True(t, ok, "%q", out)
	f := strings.Fields(rest)
	pid := strings.Fields(string(out))[0]
	assert.Equal(t, pid, f[3], "the command leads its session")
	assert.Equal(t, pid, f[2], "and its process group")
	var st unix.Stat_t
	require.NoError(t, unix.Fstat(int(master.Fd()), &st))
	n, err := unix.IoctlGetUint32(int(master.Fd()), unix.TIOCGPTN)
	require.NoError(t, err)
	want := unix.Mkdev(136, n) // the pty slave's device: the controlling terminal
	assert.Equal(t, strconv.FormatUint(uint64(want), 10), f[4])
}

// openPty opens a pseudo-terminal pair on the host.
func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	require.NoError(t, unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0))
	n, err := unix.IoctlGetUint32(int(m.Fd()), unix.TIOCGPTN)
	require.NoError(t, err)
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return m, s
}

// TestS37_ExecUserNamespace: a container with a user namespace is
// entered too, and root in the exec is the container's root, an
// unprivileged uid on the host.
func TestS37_ExecUserNamespace(t *testing.T) {
	t.Parallel()
	c := startContainer(t, namespace.Config{UserNS: true}, cgroup.Resources{})
	out := c.sh(t, "cat /proc/self/uid_map; id -u; hostname; readlink /proc/self/ns/user; grep CapEff /proc/self/status")
	l := lines(out)
	require.Len(t, l, 5, out)
	assert.Equal(t, []string{"0", "100000", "65536"}, strings.Fields(l[0]))
	assert.Equal(t, "0", l[1])
	assert.Equal(t, c.hostname, l[2])
	want, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/user", c.pid))
	require.NoError(t, err)
	assert.Equal(t, want, l[3])
	assert.Equal(t, "00000000a80425fb", statusField(t, l[4], "CapEff"), "full default set, in the namespace")

	// From the host, the command is uid 100000.
	cmd, err := command(t, c.options("sleep", "30"))
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Signal(unix.SIGKILL); _, _ = cmd.Wait() })
	waitCmdline(t, cmd.Pid(), "sleep\x0030\x00")
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Pid()))
	require.NoError(t, err)
	uid := statusField(t, string(b), "Uid")
	assert.Equal(t, "100000 100000 100000 100000", uid)

	// A non-root user of the namespace.
	opts := c.options("id")
	opts.UID, opts.GID = 1000, 1000
	res := run(t, opts)
	require.Equal(t, 0, res.Status, res.Stderr)
	assert.Contains(t, res.Stdout, "uid=1000 gid=1000")
}

// TestExecHostNetwork: a container that shares the host's network
// namespace is entered in all the others.
func TestExecHostNetwork(t *testing.T) {
	t.Parallel()
	c := startContainer(t, namespace.Config{HostNetwork: true}, cgroup.Resources{})
	out := c.sh(t, "readlink /proc/self/ns/net; readlink /proc/self/ns/uts; hostname")
	l := lines(out)
	hostNet, _ := os.Readlink("/proc/self/ns/net")
	uts, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/uts", c.pid))
	assert.Equal(t, []string{hostNet, uts, c.hostname}, l)
}

// TestExecNoLeakedFiles: the command inherits its three streams and
// nothing else: not the status pipe, not the cgroup.procs files, not the
// namespace files (a host file in a container is a way out of it).
func TestExecNoLeakedFiles(t *testing.T) {
	// Not parallel: the descriptor below would leak into other tests'
	// containers (namespace.Start passes on what it inherits).
	c := startContainer(t, namespace.Config{}, cgroup.Resources{})
	// A descriptor this process holds without close-on-exec, as one
	// inherited from a shell would be: the host's root directory, the
	// way out of a container that CVE-2016-9962 used.
	// (Moved up to fd 300 and more: os/exec reuses the numbers just
	// above those it passes for its own purposes in the child.)
	dir, err := unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(dir)
	hostRoot, err := unix.FcntlInt(uintptr(dir), unix.F_DUPFD, 300)
	require.NoError(t, err)
	defer unix.Close(hostRoot)
	// The shell's descriptors, listed by a child of it ("; true" keeps
	// the shell from replacing itself with ls).
	out := c.sh(t, "ls -l /proc/$$/fd; true")
	var fds []string
	for _, l := range lines(out) {
		if f := strings.Fields(l); len(f) > 3 && f[len(f)-2] == "->" {
			fds = append(fds, f[len(f)-3])
		}
	}
	// busybox sh keeps a descriptor of its own on fd 10.
	fds = slices.DeleteFunc(fds, func(fd string) bool { return fd == "10" })
	assert.NotContains(t, fds, strconv.Itoa(hostRoot))
	assert.Equal(t, []string{"0", "1", "2"}, fds, out)
}

// TestExecContainerGone: exec into a container that has exited is an
// error of Start (and of Command, once the PID is gone). A PID that
// another process took meanwhile is refused too: see
// TestReusedPidIsNotEntered.
func TestExecContainerGone(t *testing.T) {
	t.Parallel()
	c := startContainer(t, namespace.Config{}, cgroup.Resources{})
	opts := c.options("true")
	opts.EarlyCgroupProcs, opts.CgroupProcs = nil, nil // the cgroup goes with the container in real life; here the test's cleanup removes it
	cmd, err := command(t, opts)
	require.NoError(t, err)
	require.NoError(t, c.proc.Kill())

	err = cmd.Start()
	require.Error(t, err)
	if os.Getenv(viaZygoteEnv) != "" {
		// Held since command: the files are open, the fork fails.
		assert.Contains(t, err.Error(), "its init has exited")
	} else {
		assert.Contains(t, err.Error(), fmt.Sprintf("/proc/%d/ns/", c.pid))
	}
	_, err = cmd.Wait()
	assert.Error(t, err, "nothing to wait for")

	_, err = command(t, c.options("true"))
	require.ErrorIs(t, err, os.ErrNotExist)

}

// TestExecNamespacesSubset: Options.Namespaces limits what is entered.
func TestExecNamespacesSubset(t *testing.T) {
	t.Parallel()
	c := startContainer(t, namespace.Config{}, cgroup.Resources{})
	// The host's shell, in the container's UTS and network namespaces.
	opts := c.options("sh", "-c", "hostname; readlink /proc/self/ns/net; readlink /proc/self/ns/mnt")
	opts.Env = []string{"PATH=" + os.Getenv("PATH")}
	opts.Namespaces = []string{"uts", "net"}
	res := run(t, opts)
	require.Equal(t, 0, res.Status, res.Stderr)
	net, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", c.pid))
	mnt, _ := os.Readlink("/proc/self/ns/mnt")
	assert.Equal(t, []string{c.hostname, net, mnt}, lines(res.Stdout))
}
