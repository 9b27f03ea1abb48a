//go:build oci

package integration

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/07-logs/shim"
)

// ctrCase is one scenario of TestContainerd_SameAsRunc: it drives a
// container through ctr with runtime rt, records what ctr printed in tr,
// and checks what must hold whatever the runtime.
type ctrCase struct {
	name string
	run  func(t *testing.T, c *containerd, rt runtime, id string, tr *transcript)
}

// TestContainerd_SameAsRunc runs each scenario under one containerd with
// runc, then with berth-runtime, through the same shim
// (io.containerd.runc.v2 with the runtime as its BinaryName: ctr run
// --runc-binary), and compares what ctr printed and returned.
func TestContainerd_SameAsRunc(t *testing.T) {
	rts := runtimes(t)
	c := startContainerd(t)
	c.importImage(t, busyboxArchive(t))
	for _, cs := range ctrCases {
		t.Run(cs.name, func(t *testing.T) {
			var want string
			for _, rt := range rts {
				id := cs.name + "-" + rt.Name
				tr := &transcript{replace: []string{id, "ID", c.ns, "NS", c.dir, "DIR"}}
				t.Run(rt.Name, func(t *testing.T) {
					cs.run(t, c, rt, id, tr)
					t.Logf("ctr with %s:\n%s", rt.Name, tr)
				})
				if rt.Name == "runc" {
					want = tr.String()
					continue
				}
				assert.Equal(t, want, tr.String(), "ctr's transcript with %s, beside runc's", rt.Name)
			}
		})
	}
}

const busybox = "docker.io/library/busybox:latest"

// snapshotDirs are the overlay snapshot numbers in a mount table, which
// differ from one container to the next.
var snapshotDirs = regexp.MustCompile(`snapshots/[0-9]+/`)

var ctrCases = []ctrCase{
	{"output", func(t *testing.T, c *containerd, rt runtime, id string, tr *transcript) {
		// stdout and stderr through the shim's FIFOs, to ctr's own,
		// and the process's exit status as ctr's.
		r, err := c.runRm(rt, nil, id, "sh", "-c", "echo out; echo err >&2; exit 3")
		require.NoError(t, err)
		tr.add("run, exit 3", r)
		assert.Equal(t, result{"out\n", "err\n", 3}, r)

		// Much output (ctr never closes the task's stdin: no cat here).
		r, err = c.runRm(rt, nil, id, "sh", "-c", "yes berth | head -n 100000")
		require.NoError(t, err)
		tr.note("run, 100000 lines", fmt.Sprintf("status %d, %d bytes, %d lines, stderr %q",
			r.Code, len(r.Stdout), strings.Count(r.Stdout, "berth\n"), r.Stderr))
		assert.Equal(t, 0, r.Code)
		assert.Equal(t, 100000, strings.Count(r.Stdout, "berth\n"))
	}},
	{"environment", func(t *testing.T, c *containerd, rt runtime, id string, tr *transcript) {
		// What the process finds around it: the runtime named as ctr
		// names the default one (--runtime io.containerd.runc.v2, with
		// the binary in its options).
		script := `id; pwd; umask; echo "$PATH"; hostname; ls /; ls /dev; ls /dev/pts /dev/shm /dev/mqueue;
grep -E '^(Cap|NoNewPrivs|Seccomp)' /proc/self/status; cat /proc/self/oom_score_adj; ulimit -n;
cat /proc/self/cgroup; cat /proc/1/cmdline | tr '\0' ' '; echo; awk '{print $1, $2, $3, $4}' /proc/self/mounts;
ip -o link | cut -d' ' -f2; ls -l /proc/self/ns | awk '{print $9}'; touch /written && echo rootfs writable`
		r, err := c.runRm(rt, []string{"--runtime", "io.containerd.runc.v2"}, id, "sh", "-c", script)
		require.NoError(t, err)
		r.Stdout = snapshotDirs.ReplaceAllString(r.Stdout, "snapshots/N/")
		tr.add("run, the environment", r)
		assert.Equal(t, 0, r.Code, r.Stderr)
	}},
	{"limits", func(t *testing.T, c *containerd, rt runtime, id string, tr *transcript) {
		// ctr run's resource flags, read back from the container's
		// cgroups on the host (ctr's spec mounts no cgroupfs inside).
		args := append([]string{"run", "-d", "--memory-limit", "67108864", "--cpus", "0.5", "--cpu-shares", "512"}, c.runtimeFlags(rt)...)
		r, err := c.ctr(append(args, busybox, id, "sleep", "1000")...)
		require.NoError(t, err)
		tr.add("run -d with limits", r)
		require.Equal(t, 0, r.Code, r.Stderr)
		defer c.forget(id)
		for _, f := range []string{"memory/memory.limit_in_bytes", "cpu/cpu.cfs_quota_us", "cpu/cpu.cfs_period_us", "cpu/cpu.shares"} {
			data, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", filepath.Dir(f), c.ns, id, filepath.Base(f)))
			if err != nil {
				tr.note(f, "cannot be read: "+err.Error())
				continue
			}
			tr.note(f, strings.TrimSpace(string(data)))
		}
	}},
	{"join-namespaces", func(t *testing.T, c *containerd, rt runtime, id string, tr *transcript) {
		// ctr run --with-ns TYPE:PATH: a second container joins the
		// first one's network and IPC namespaces by path (as a
		// Kubernetes pod's containers join its sandbox's), and has a
		// UTS namespace of its own.
		args := append([]string{"run", "-d"}, c.runtimeFlags(rt)...)
		r, err := c.ctr(append(args, busybox, id+"-a", "sleep", "1000")...)
		require.NoError(t, err)
		tr.add("run -d, the first", r)
		require.Equal(t, 0, r.Code, r.Stderr)
		defer c.forget(id + "-a")
		pid := c.taskPID(t, id+"-a")
		netns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
		require.NoError(t, err)
		ipcns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/ipc", pid))
		require.NoError(t, err)
		utsns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/uts", pid))
		require.NoError(t, err)
		r, err = c.runRm(rt, []string{"--with-ns", fmt.Sprintf("network:/proc/%d/ns/net", pid), "--with-ns", fmt.Sprintf("ipc:/proc/%d/ns/ipc", pid)},
			id, "sh", "-c", "for n in net ipc uts; do readlink /proc/self/ns/$n; done")
		require.NoError(t, err)
		r.Stdout = strings.NewReplacer(netns, "NET-OF-THE-FIRST", ipcns, "IPC-OF-THE-FIRST", utsns, "UTS-OF-THE-FIRST").Replace(r.Stdout)
		r.Stdout = regexp.MustCompile(`uts:\[[0-9]+\]`).ReplaceAllString(r.Stdout, "uts:[N]")
		tr.add("run --with-ns network,ipc", r)
		assert.Equal(t, 0, r.Code, r.Stderr)
	}},
	{"exec-pause-kill-delete", func(t *testing.T, c *containerd, rt runtime, id string, tr *transcript) {
		args := append([]string{"run", "-d"}, c.runtimeFlags(rt)...)
		r, err := c.ctr(append(args, busybox, id, "sleep", "1000")...)
		require.NoError(t, err)
		tr.add("run -d", r)
		require.Equal(t, 0, r.Code, r.Stderr)
		tr.note("tasks ls", c.taskStatus(t, id))

		r, err = c.ctr("tasks", "exec", "--fifo-dir", c.fifoDir(), "--exec-id", "e1", id, "sh", "-c", "echo in exec; echo to stderr >&2; exit 5")
		require.NoError(t, err)
		tr.add("tasks exec, exit 5", r)
		assert.Equal(t, result{"in exec\n", "to stderr\n", 5}, r)
		r, err = c.ctr("tasks", "exec", "--fifo-dir", c.fifoDir(), "--exec-id", "e2", id, "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo; id")
		require.NoError(t, err)
		tr.add("tasks exec, pid 1", r)

		// ps: the runtime's ps --format json, through the shim.
		r, err = c.ctr("tasks", "ps", id)
		require.NoError(t, err)
		tr.note("tasks ps", fmt.Sprintf("status %d, %d lines, stderr %q", r.Code, len(strings.Split(strings.TrimSpace(r.Stdout), "\n")), r.Stderr))

		// metrics: the shim reads the container's cgroups, found from
		// its init: the names of what it reports, not the values.
		r, err = c.ctr("tasks", "metrics", id)
		require.NoError(t, err)
		var names []string
		for _, line := range strings.Split(r.Stdout, "\n") {
			if f := strings.Fields(line); len(f) > 1 && !strings.HasPrefix(f[0], "-") {
				names = append(names, f[0])
			}
		}
		tr.note("tasks metrics", fmt.Sprintf("status %d, %s, stderr %q", r.Code, strings.Join(names, " "), r.Stderr))

		r, err = c.ctr("tasks", "pause", id)
		require.NoError(t, err)
		tr.add("tasks pause", r)
		tr.note("tasks ls", c.taskStatus(t, id))
		r, err = c.ctr("tasks", "resume", id)
		require.NoError(t, err)
		tr.add("tasks resume", r)
		tr.note("tasks ls", c.taskStatus(t, id))

		r, err = c.ctr("tasks", "kill", "-s", "SIGKILL", id)
		require.NoError(t, err)
		tr.add("tasks kill -s SIGKILL", r)
		tr.note("tasks ls", c.waitStatus(t, id, "STOPPED"))
		r, err = c.ctr("tasks", "rm", id)
		require.NoError(t, err)
		tr.add("tasks rm", r)
		assert.Equal(t, 0, r.Code)
		r, err = c.ctr("containers", "rm", id)
		require.NoError(t, err)
		tr.add("containers rm", r)
		assert.Equal(t, 0, r.Code)

		// Nothing is left of it: no state under the runtime's root, no
		// cgroup.
		c.noTrace(id, tr)
	}},
	{"signals", func(t *testing.T, c *containerd, rt runtime, id string, tr *transcript) {
		// A foreground run that ctr kill ends: SIGTERM to a shell that
		// traps it (ctr returns the shell's status), then SIGKILL to a
		// process that has no handler (128+9).
		for _, step := range []struct {
			name, script, signal string
			code                 int
		}{
			{"TERM, trapped", `trap "echo got TERM; exit 7" TERM; echo ready; sleep 1000 & wait`, "SIGTERM", 7},
			{"KILL", `echo ready; exec sleep 1000`, "SIGKILL", 137},
		} {
			args := append([]string{"run", "--rm"}, c.runtimeFlags(rt)...)
			cmd := c.ctrCmd(append(args, busybox, id, "sh", "-c", step.script)...)
			out, err := cmd.StdoutPipe()
			require.NoError(t, err)
			var errOut strings.Builder
			cmd.Stderr = &errOut
			require.NoError(t, cmd.Start())
			br := bufio.NewReader(out)
			line, err := br.ReadString('\n')
			if err != nil {
				_ = cmd.Wait()
				t.Fatalf("run %s: no ready line: %v; stderr %q", step.name, err, errOut.String())
			}
			r, err := c.ctr("tasks", "kill", "-s", step.signal, id)
			require.NoError(t, err)
			tr.add("tasks kill -s "+step.signal, r)
			rest, _ := io.ReadAll(br)
			err = cmd.Wait()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			}
			if code != step.code {
				c.forget(id)
			}
			rr := result{Stdout: line + string(rest), Stderr: errOut.String(), Code: code}
			tr.add("run, "+step.name, rr)
			assert.Equal(t, step.code, code, "run %s: %q", step.name, errOut.String())
		}
	}},
	{"tty", func(t *testing.T, c *containerd, rt runtime, id string, tr *transcript) {
		// ctr run -t takes its own terminal as the container's: a pty
		// of the test's, 40 rows by 100 columns. ctr sets the size
		// after the start: the script waits for it (a bounded number
		// of looks), so that it does not end before ctr's resize.
		args := append([]string{"run", "--rm", "-t"}, c.runtimeFlags(rt)...)
		r := c.onTerminal(t, append(args, busybox, id, "sh", "-c", waitSize+"tty; stty size; exit 4")...)
		tr.add("run -t", r)
		assert.Equal(t, 4, r.Code)
		if r.Code != 4 {
			c.forget(id)
		}

		// An exec with a terminal in a container without one.
		args = append([]string{"run", "-d"}, c.runtimeFlags(rt)...)
		r, err := c.ctr(append(args, busybox, id, "sleep", "1000")...)
		require.NoError(t, err)
		require.Equal(t, 0, r.Code, r.Stderr)
		r = c.onTerminal(t, "tasks", "exec", "-t", "--fifo-dir", c.fifoDir(), "--exec-id", "t1", id, "sh", "-c", waitSize+"tty; stty size; exit 2")
		tr.add("tasks exec -t", r)
		assert.Equal(t, 2, r.Code)
		c.mustCtr(t, "tasks", "kill", "-s", "SIGKILL", id)
		tr.note("tasks ls", c.waitStatus(t, id, "STOPPED"))
		r, _ = c.ctr("tasks", "rm", id)
		tr.add("tasks rm", r)
		c.mustCtr(t, "containers", "rm", id)
	}},
	{"exit-statuses", func(t *testing.T, c *containerd, rt runtime, id string, tr *transcript) {
		for _, step := range []struct {
			args []string
			code int
		}{
			{[]string{"true"}, 0},
			{[]string{"false"}, 1},
			{[]string{"sh", "-c", "exit 42"}, 42},
			// (A child killed: the shell is the container's pid 1,
			// which a signal from inside its namespace cannot kill.)
			// busybox's sh may or may not say "Killed" (its own race
			// between SIGCHLD and wait): its stderr is not compared.
			{[]string{"sh", "-c", "exec 2>/dev/null; sleep 1000 & kill -9 $!; wait $!"}, 137},
		} {
			r, err := c.runRm(rt, nil, id, step.args...)
			require.NoError(t, err)
			tr.add(strings.Join(step.args, " "), r)
			assert.Equal(t, step.code, r.Code, "%v: %s", step.args, r.Stderr)
		}
		// A program that is not there: ctr fails; the message is the
		// runtime's own, so only the status is compared.
		r, err := c.runRm(rt, nil, id, "/no/such/program")
		require.NoError(t, err)
		t.Logf("%s: a missing program: status %d: %s", rt.Name, r.Code, r.Stderr)
		tr.note("/no/such/program", fmt.Sprintf("status %d", r.Code))
		assert.NotEqual(t, 0, r.Code)
		// A failed create leaves nothing behind either.
		c.noTrace(id, tr)
	}},
}

// runRm is `ctr run --rm [flags] IMAGE ID ARGS` with runtime rt. ctr
// removes the container after its task has run, but not when the task
// could not be created or started: then runRm removes it, so that the
// next step can use the ID.
func (c *containerd) runRm(rt runtime, flags []string, id string, args ...string) (result, error) {
	cmd := append(append(append([]string{"run", "--rm"}, flags...), c.runtimeFlags(rt)...), busybox, id)
	r, err := c.ctr(append(cmd, args...)...)
	if err == nil && r.Code != 0 {
		if ls, _ := c.ctr("containers", "ls", "-q"); strings.Contains("\n"+ls.Stdout, "\n"+id+"\n") {
			c.forget(id)
		}
	}
	return r, err
}

// taskPID is the pid `ctr tasks ls` gives the task id.
func (c *containerd) taskPID(t testing.TB, id string) int {
	t.Helper()
	r := c.mustCtr(t, "tasks", "ls")
	for _, line := range strings.Split(r.Stdout, "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == id {
			pid, err := strconv.Atoi(f[1])
			require.NoError(t, err)
			return pid
		}
	}
	t.Fatalf("ctr tasks ls lists no task %s:\n%s", id, r.Stdout)
	return 0
}

// noTrace notes in tr whether the runtime left anything of container
// id once containerd has deleted it: its state directory under the
// runtime's root, its cgroups.
func (c *containerd) noTrace(id string, tr *transcript) {
	var left []string
	for _, dir := range []string{c.runtimeRoot(runtime{Name: "runc"}), c.runtimeRoot(runtime{Name: "berth"})} {
		if _, err := os.Stat(filepath.Join(dir, c.ns, id)); err == nil {
			left = append(left, "state "+filepath.Join(filepath.Base(dir), "NS", "ID"))
		}
	}
	cgroups, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup/*", c.ns, id))
	left = append(left, cgroups...)
	tr.note("left behind", fmt.Sprint(left))
}

// forget removes container id and its task whatever their state.
func (c *containerd) forget(id string) {
	_, _ = c.ctr("tasks", "kill", "-s", "SIGKILL", id)
	_, _ = c.ctr("tasks", "rm", "-f", id)
	_, _ = c.ctr("containers", "rm", id)
}

// waitSize waits (at most 100000 looks) for the terminal to be 40x100.
const waitSize = `i=0; while [ $i -lt 100000 ] && [ "$(stty size 2>/dev/null)" != "40 100" ]; do i=$((i+1)); done; `

// onTerminal runs ctr with a new pseudo-terminal of 40x100 as its
// standard streams and controlling terminal (see onTerminal).
func (c *containerd) onTerminal(t *testing.T, args ...string) result {
	t.Helper()
	return onTerminal(t, c.ctrCmd(args...))
}

// onTerminal runs a client with a new pseudo-terminal of 40x100 as its
// standard streams and controlling terminal, and returns what came out
// of the terminal and the client's status. (Each line written on the
// container's terminal ends in \r\r\n here: the container's terminal
// and the client's each turn \n into \r\n.)
func onTerminal(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	master, slave, err := shim.OpenPTY()
	require.NoError(t, err)
	defer master.Close()
	require.NoError(t, unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 100}))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	require.NoError(t, cmd.Start())
	slave.Close()
	// The master reads EIO once no process holds the slave any more.
	out, _ := io.ReadAll(readUntilEIO{master})
	err = cmd.Wait()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	return result{Stdout: string(out), Code: code}
}

// readUntilEIO reads a pty's master, taking EIO (the slave's last holder
// gone) as the end.
type readUntilEIO struct{ f *os.File }

func (r readUntilEIO) Read(p []byte) (int, error) {
	n, err := r.f.Read(p)
	if err != nil && errors.Is(err, syscall.EIO) {
		return n, io.EOF
	}
	return n, err
}
