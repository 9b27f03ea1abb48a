package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/01-namespaces/namespace"
)

// The test binary is also the container's init: namespace.Start re-runs it.
func TestMain(m *testing.M) { labtest.Main(m, program.Init) }

// runProgram runs the chapter program's command line in-process.
func runProgram(t testing.TB, args ...string) (stdout, stderr string, status int) {
	return labtest.Run(t, program, args...)
}

// inContainer runs sh -c script in a container and requires status 0.
func inContainer(t *testing.T, script string, flags ...string) string {
	t.Helper()
	args := append(append([]string{"run"}, flags...), "--", "/bin/sh", "-c", script)
	out, errOut, status := runProgram(t, args...)
	require.Equal(t, 0, status, "stderr: %s", errOut)
	return out
}

func hostFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return strings.TrimSpace(string(b))
}

func TestS1_ContainerRunsOnTheHostKernel(t *testing.T) {
	labtest.Privileged(t)
	var uts unix.Utsname
	require.NoError(t, unix.Uname(&uts))
	hostRelease := unix.ByteSliceToString(uts.Release[:])

	out := inContainer(t, "uname -r; cat /proc/sys/kernel/random/boot_id")
	lines := strings.Fields(out)
	require.Len(t, lines, 2)
	assert.Equal(t, hostRelease, lines[0], "uname -r inside must be the host's kernel release")
	// Not just the same version: the same running kernel, booted once.
	assert.Equal(t, hostFile(t, "/proc/sys/kernel/random/boot_id"), lines[1], "boot_id inside must be the host kernel's")
}

func TestS2_ContainersNeedNoHardwareVirtualisation(t *testing.T) {
	labtest.Privileged(t)
	cpuinfo := hostFile(t, "/proc/cpuinfo")
	if strings.Contains(cpuinfo, " hypervisor") {
		t.Log("the host is itself a virtual machine (cpuinfo has the hypervisor flag): a container runs inside it")
	}
	// The container sees the host's CPU, the virtual one included: no
	// second layer of virtual hardware stands between them.
	out := inContainer(t, "grep -m1 '^flags' /proc/cpuinfo")
	assert.Equal(t, firstLine(cpuinfo, "flags"), strings.TrimSpace(out))

	// And the container's process is an ordinary process of this kernel,
	// listed in the host's /proc like any other.
	var buf bytes.Buffer
	p, err := namespace.Start(namespace.Config{}, namespace.Stdio{Out: &buf})
	require.NoError(t, err)
	require.NoError(t, p.Release(namespace.Spec{Command: namespace.Command{Args: []string{"/bin/sleep", "0.2"}}}))
	comm := hostFile(t, fmt.Sprintf("/proc/%d/comm", p.Pid()))
	status, err := p.Wait()
	require.NoError(t, err)
	assert.Equal(t, 0, status)
	// Before init names itself, its name is that of the file it was
	// executed as: /proc/self/exe, or /proc/self/fd/4 (the sealed copy
	// of the program, exe.go).
	assert.Contains(t, []string{"berth-init", "sleep", "exe", "4"}, comm)
}

func firstLine(text, prefix string) string {
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, prefix) {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

func TestS9_IsolatesFilesProcessesHostnameAndNetwork(t *testing.T) {
	labtest.Privileged(t)
	hostHostname, err := os.Hostname()
	require.NoError(t, err)

	t.Run("hostname", func(t *testing.T) {
		out := inContainer(t, "hostname", "--hostname", "box")
		assert.Equal(t, "box\n", out)
		after, err := os.Hostname()
		require.NoError(t, err)
		assert.Equal(t, hostHostname, after, "the host's hostname must not change")
	})
	t.Run("default hostname is the short container ID", func(t *testing.T) {
		out := strings.TrimSpace(inContainer(t, "hostname"))
		assert.Regexp(t, `^[0-9a-f]{12}$`, out)
	})
	t.Run("processes", func(t *testing.T) {
		// The command is PID 1 and /proc lists only the container's
		// processes: the shell alone (it expands the glob itself).
		out := inContainer(t, "echo $$; echo /proc/[0-9]*")
		assert.Equal(t, []string{"1", "/proc/1"}, strings.Fields(out))
	})
	t.Run("network", func(t *testing.T) {
		// /proc/net/dev shows the calling process's network namespace.
		out := inContainer(t, "tail -n +3 /proc/net/dev | cut -d: -f1")
		assert.Equal(t, []string{"lo"}, strings.Fields(out))
		out = inContainer(t, "cat /sys/class/net/lo/operstate /proc/net/route | head -1")
		assert.NotEmpty(t, out)
	})
	t.Run("files", func(t *testing.T) {
		dir := t.TempDir()
		before := labtest.Mounts(t)
		out := inContainer(t, "mount -t tmpfs scratch "+dir+" && echo secret > "+dir+"/f && cat "+dir+"/f")
		assert.Equal(t, "secret\n", out)
		assert.NoFileExists(t, filepath.Join(dir, "f"), "a file written on a container's mount is not on the host")
		assert.Equal(t, before, labtest.Mounts(t), "no container mount may appear on the host")
	})
}

func TestExitStatusIsTheCommands(t *testing.T) {
	labtest.Privileged(t)
	noexec := filepath.Join(t.TempDir(), "noexec")
	require.NoError(t, os.WriteFile(noexec, []byte("#!/bin/sh\n"), 0o644))
	for _, tc := range []struct {
		name   string
		args   []string
		status int
	}{
		{"exit code", []string{"/bin/sh", "-c", "exit 3"}, 3},
		{"killed by a signal, under --init", []string{"--init", "--", "/bin/sh", "-c", "kill -KILL $$"}, 128 + 9},
		{"command not found", []string{"no-such-command"}, 127},
		{"missing path", []string{"/no/such/file"}, 127},
		{"not executable", []string{noexec}, 126},
		{"directory", []string{"/"}, 126},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, status := runProgram(t, append([]string{"run"}, tc.args...)...)
			assert.Equal(t, tc.status, status, "stderr: %s", errOut)
		})
	}
}

func TestNotFoundMessageNamesTheCommand(t *testing.T) {
	labtest.Privileged(t)
	// init's stderr is the container's: the program's own stderr here.
	r, w, err := os.Pipe()
	require.NoError(t, err)
	p, err := namespace.Start(namespace.Config{}, namespace.Stdio{Err: w})
	require.NoError(t, err)
	w.Close()
	require.NoError(t, p.Release(namespace.Spec{Command: namespace.Command{Args: []string{"frobnicate"}}}))
	msg, _ := io.ReadAll(r)
	status, err := p.Wait()
	require.NoError(t, err)
	assert.Equal(t, 127, status)
	assert.Equal(t, "berth-init: frobnicate: executable file not found in $PATH\n", string(msg))
}

// startWithInit starts sh -c script under --init and returns the process
// and a reader of its stdout.
func startWithInit(t *testing.T, script string) (*namespace.Process, *bufio.Reader) {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	p, err := namespace.Start(namespace.Config{}, namespace.Stdio{Out: w, Err: w})
	require.NoError(t, err)
	w.Close()
	require.NoError(t, p.Release(namespace.Spec{
		Command: namespace.Command{Args: []string{"/bin/sh", "-c", script}, Env: namespace.DefaultEnv("t")},
		Init:    true,
	}))
	return p, bufio.NewReader(r)
}

func TestInitForwardsSignalsToTheCommand(t *testing.T) {
	labtest.Privileged(t)
	for _, sig := range []syscall.Signal{unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT} {
		t.Run(unix.SignalName(sig), func(t *testing.T) {
			name := strings.TrimPrefix(unix.SignalName(sig), "SIG")
			p, out := startWithInit(t, "trap 'echo got "+name+"; exit 0' "+name+"; echo ready; while :; do sleep 0.05; done")
			line, err := out.ReadString('\n')
			require.NoError(t, err)
			require.Equal(t, "ready\n", line)
			require.NoError(t, syscall.Kill(p.Pid(), sig)) // to init, PID 1 inside
			line, err = out.ReadString('\n')
			require.NoError(t, err)
			assert.Equal(t, "got "+name+"\n", line)
			status, err := p.Wait()
			require.NoError(t, err)
			assert.Equal(t, 0, status)
		})
	}
}

func TestInitReportsDeathBySignalAs128PlusN(t *testing.T) {
	labtest.Privileged(t)
	p, out := startWithInit(t, "echo ready; exec sleep 10")
	_, err := out.ReadString('\n')
	require.NoError(t, err)
	require.NoError(t, syscall.Kill(p.Pid(), unix.SIGTERM)) // sleep has no handler: it dies
	status, err := p.Wait()
	require.NoError(t, err)
	assert.Equal(t, 128+int(unix.SIGTERM), status)
}

func TestInitReapsOrphanedZombies(t *testing.T) {
	labtest.Privileged(t)
	// The subshell starts sleep in the background and exits at once, so
	// sleep is orphaned and re-parented to PID 1. When it exits, only
	// PID 1 can collect it; if nobody does, it stays a zombie (state Z).
	p, out := startWithInit(t, `(sleep 0.1 &); sleep 0.6; cat /proc/[0-9]*/stat`)
	all, err := io.ReadAll(out)
	require.NoError(t, err)
	status, err := p.Wait()
	require.NoError(t, err)
	require.Equal(t, 0, status)
	require.Contains(t, string(all), "(berth-init)", "init is PID 1 and listed")
	assert.NotContains(t, string(all), ") Z ", "no zombie may be left:\n%s", all)
}

func TestUserNamespaceMapsRootToAnUnprivilegedHostUID(t *testing.T) {
	labtest.Privileged(t)
	out := inContainer(t, "id -u; cat /proc/self/uid_map", "--userns")
	assert.Equal(t, []string{"0", "0", "100000", "65536"}, strings.Fields(out))

	// Seen from the host, the same process belongs to uid 100000.
	p, err := namespace.Start(namespace.Config{UserNS: true}, namespace.Stdio{})
	require.NoError(t, err)
	require.NoError(t, p.Release(namespace.Spec{Command: namespace.Command{Args: []string{"/bin/sleep", "1"}}}))
	var uid string
	require.Eventually(t, func() bool {
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid()))
		if err != nil {
			return false
		}
		uid = strings.Fields(firstLine(string(status), "Uid:"))[1]
		return uid == "100000"
	}, 900*time.Millisecond, 10*time.Millisecond, "host uid of the container's root: %s", uid)
	_, err = p.Wait()
	require.NoError(t, err)
}

func TestNoMountLeaksToTheHost(t *testing.T) {
	labtest.Privileged(t)
	before := labtest.Mounts(t)
	inContainer(t, "true")
	inContainer(t, "true", "--userns")
	assert.Equal(t, before, labtest.Mounts(t))
}

func TestBadFlagsGiveOneLineAndStatus125(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"launch"},
		{"run"},
		{"run", "--bogus", "--", "true"},
		{"run", "--hostname", strings.Repeat("h", 65), "--", "true"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out, errOut, status := runProgram(t, args...)
			assert.Equal(t, 125, status)
			assert.Empty(t, out)
			assert.Equal(t, 1, strings.Count(errOut, "\n"), "one line: %q", errOut)
		})
	}
}

// An OnRelease hook runs on the host while init sets the container up
// (init already has its spec: it has named itself), and the command
// starts only once the hook has returned. A hook that fails stops the
// container before its command runs.
func TestOnReleaseHooksRunBesideInitAndBeforeTheCommand(t *testing.T) {
	labtest.Privileged(t)
	dir := t.TempDir()
	ready := filepath.Join(dir, "ready")
	out := filepath.Join(dir, "out")
	f, err := os.Create(out)
	require.NoError(t, err)
	defer f.Close()

	cfg := namespace.Config{}
	c, err := cfg.Container(namespace.NewID(), []string{"/bin/sh", "-c", "cat " + ready}, namespace.Stdio{Out: f, Err: f})
	require.NoError(t, err)
	c.OnRelease(func(pid int) error {
		// init reads its spec, then sets up and names itself.
		deadline := time.Now().Add(5 * time.Second)
		for {
			comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
			if err == nil && strings.TrimSpace(string(comm)) == namespace.InitName {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("init did not set up meanwhile: %q %v", comm, err)
			}
			time.Sleep(time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond) // the command would run now, were it not held
		return os.WriteFile(ready, []byte("after the hook\n"), 0o644)
	})
	status, err := c.Run()
	require.NoError(t, err)
	assert.Equal(t, 0, status)
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, "after the hook\n", string(got), "the command saw what the hook made")

	ran := filepath.Join(dir, "ran")
	c, err = cfg.Container(namespace.NewID(), []string{"/bin/touch", ran}, namespace.Stdio{Out: f, Err: f})
	require.NoError(t, err)
	c.OnRelease(func(int) error { return fmt.Errorf("no network today") })
	_, err = c.Run()
	assert.ErrorContains(t, err, "no network today")
	time.Sleep(50 * time.Millisecond)
	assert.NoFileExists(t, ran, "the command never ran")
}

// TestSysctlsAreTheNamespaces: --sysctl sets the container's copy of a
// namespaced kernel parameter; the host's stays; a global one is refused
// before anything starts.
func TestSysctlsAreTheNamespaces(t *testing.T) {
	labtest.Privileged(t)
	hostMsgmax := hostFile(t, "/proc/sys/kernel/msgmax")
	hostSomaxconn := hostFile(t, "/proc/sys/net/core/somaxconn")
	out := inContainer(t, "cat /proc/sys/kernel/msgmax /proc/sys/net/core/somaxconn /proc/sys/kernel/domainname",
		"--sysctl", "kernel.msgmax=4242", "--sysctl", "net.core.somaxconn=99", "--sysctl", "kernel.domainname=example.test")
	assert.Equal(t, "4242\n99\nexample.test\n", out)
	assert.Equal(t, hostMsgmax, hostFile(t, "/proc/sys/kernel/msgmax"))
	assert.Equal(t, hostSomaxconn, hostFile(t, "/proc/sys/net/core/somaxconn"))

	_, errOut, status := runProgram(t, "run", "--sysctl", "vm.swappiness=1", "--", "/bin/true")
	assert.Equal(t, 125, status)
	assert.Contains(t, errOut, `sysctl "vm.swappiness" is not in a separate kernel namespace`)
}

// startScript starts sh -c script in a container of cfg and returns the
// process and a reader of its stdout.
func startScript(t *testing.T, cfg namespace.Config, script string) (*namespace.Process, *bufio.Reader) {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	p, err := namespace.Start(cfg, namespace.Stdio{Out: w, Err: w})
	require.NoError(t, err)
	w.Close()
	t.Cleanup(func() { _ = p.Kill() })
	require.NoError(t, p.Release(namespace.Spec{
		Command: namespace.Command{Args: []string{"/bin/sh", "-c", script}, Env: namespace.DefaultEnv("t")},
	}))
	return p, bufio.NewReader(r)
}

func nsOf(t *testing.T, pid, kind string) string {
	t.Helper()
	link, err := os.Readlink("/proc/" + pid + "/ns/" + kind)
	require.NoError(t, err)
	return link
}

// TestJoinsAnotherContainersPIDAndIPCNamespaces: --pid and --ipc
// container:ID. The second container is born in the first's PID and IPC
// namespaces (not PID 1 there), and dies with the first's init, as the
// kernel ends a PID namespace whose init exits.
func TestJoinsAnotherContainersPIDAndIPCNamespaces(t *testing.T) {
	labtest.Privileged(t)
	donor, out := startScript(t, namespace.Config{}, "echo ready; exec sleep 100")
	line, err := out.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "ready\n", line)
	dpid := fmt.Sprint(donor.Pid())

	cfg := namespace.Config{JoinPidns: "/proc/" + dpid + "/ns/pid", JoinIpcns: "/proc/" + dpid + "/ns/ipc"}
	joiner, jout := startScript(t, cfg, "readlink /proc/self/ns/pid /proc/self/ns/ipc; grep NSpid /proc/self/status; exec sleep 100")
	for _, want := range []string{nsOf(t, dpid, "pid"), nsOf(t, dpid, "ipc")} {
		line, err := jout.ReadString('\n')
		require.NoError(t, err)
		assert.Equal(t, want+"\n", line)
	}
	line, err = jout.ReadString('\n')
	require.NoError(t, err)
	// Its /proc is its PID namespace's, the donor's (Setup mounts it).
	nspid := strings.Fields(line)
	require.Len(t, nspid, 2, "%q", line)
	assert.NotEqual(t, "1", nspid[1], "the donor's init is PID 1 there")
	assert.NotEqual(t, nsOf(t, "self", "pid"), nsOf(t, dpid, "pid"))
	// Only the thread that forked entered the donor's namespaces; it
	// stays there, locked, until the joiner exits. Any other thread,
	// such as this one (locked, so that both reads are of the same
	// thread; /proc/self would be the main thread, which may be the
	// forking one), is where it was.
	runtime.LockOSThread()
	assert.Equal(t, nsOf(t, "thread-self", "pid"), nsOf(t, "thread-self", "pid_for_children"))
	runtime.UnlockOSThread()

	// The joiner first: a PID namespace's init finishes exiting only
	// once every other process of the namespace has been reaped, and
	// the joiner's parent is this test, outside the namespace.
	require.NoError(t, syscall.Kill(donor.Pid(), unix.SIGKILL))
	status, err := joiner.Wait()
	require.NoError(t, err)
	assert.Equal(t, 128+int(unix.SIGKILL), status, "killed with the namespace")
	_, err = donor.Wait()
	require.NoError(t, err)
}

// TestHostPIDAndIPC: --pid host and --ipc host keep the host's.
func TestHostPIDAndIPC(t *testing.T) {
	labtest.Privileged(t)
	p, out := startScript(t, namespace.Config{HostPID: true, HostIPC: true}, "readlink /proc/self/ns/pid /proc/self/ns/ipc /proc/self/ns/uts")
	all, err := io.ReadAll(out)
	require.NoError(t, err)
	status, err := p.Wait()
	require.NoError(t, err)
	require.Equal(t, 0, status)
	lines := strings.Fields(string(all))
	require.Len(t, lines, 3)
	assert.Equal(t, nsOf(t, "self", "pid"), lines[0])
	assert.Equal(t, nsOf(t, "self", "ipc"), lines[1])
	assert.NotEqual(t, nsOf(t, "self", "uts"), lines[2], "the others stay the container's")

	err = (&namespace.Config{HostPID: true, UserNS: true}).Validate()
	assert.ErrorContains(t, err, "cannot be shared from a user namespace")
	err = (&namespace.Config{HostIPC: true, JoinIpcns: "/proc/1/ns/ipc"}).Validate()
	assert.ErrorContains(t, err, "cannot be joined with the host's IPC namespace")
}
