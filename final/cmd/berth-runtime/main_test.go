package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/02-cgroups/cgroup"
	"github.com/berth-project/berth/final/ociruntime"
)

// envCLI makes the test binary berth-runtime itself, so that the tests
// run the command line as containerd does (a process per command, exit
// statuses, inherited descriptors).
const envCLI = "BERTH_RUNTIME_TEST_CLI"

func TestMain(m *testing.M) {
	if namespace.IsInit() || os.Getenv(envCLI) != "" {
		main()
	}
	os.Exit(m.Run())
}

// cli is one test's berth-runtime: its --root, its cgroup parent.
type cli struct {
	t      testing.TB
	root   string
	parent string
}

func newCLI(t testing.TB) *cli {
	labtest.Privileged(t)
	c := &cli{t: t, root: t.TempDir(), parent: labtest.Unique("berth-rt-cli")}
	t.Cleanup(func() {
		states, _ := ociruntime.List(c.root)
		for _, s := range states {
			_ = ociruntime.Delete(c.root, s.ID, true)
		}
		if h, err := cgroup.System(); err == nil {
			_ = h.Under(c.parent).RemoveParent()
		}
	})
	return c
}

// command is berth-runtime --root ROOT args...
func (c *cli) command(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], append([]string{"--root", c.root}, args...)...)
	cmd.Env = append(os.Environ(), envCLI+"=1")
	return cmd
}

// run runs a command to its end: its combined output and exit status.
// The output goes through a file, not a pipe: a detached container's
// init inherits it and keeps it open, and a pipe would not end.
func (c *cli) run(args ...string) (string, int) {
	c.t.Helper()
	return c.runCmd(c.command(args...))
}

// runCmd runs cmd, its stderr (and stdout, unless set) into a file.
func (c *cli) runCmd(cmd *exec.Cmd) (string, int) {
	c.t.Helper()
	f, err := os.CreateTemp(c.t.TempDir(), "out")
	require.NoError(c.t, err)
	defer f.Close()
	if cmd.Stdout == nil {
		cmd.Stdout = f
	}
	cmd.Stderr = f
	err = cmd.Run()
	out, rerr := os.ReadFile(f.Name())
	require.NoError(c.t, rerr)
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return string(out), exit.ExitCode()
	}
	require.NoError(c.t, err)
	return string(out), 0
}

// bundle writes a busybox bundle running args (runc spec's config, less
// its terminal) and returns its directory.
func (c *cli) bundle(id string, args ...string) string {
	c.t.Helper()
	dir := c.t.TempDir()
	caps := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	spec := specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			Args:         args,
			Env:          []string{"PATH=/usr/bin:/bin"},
			Cwd:          "/",
			Capabilities: &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps},
		},
		Root: &specs.Root{Path: labtest.BusyboxRootfs(c.t), Readonly: true},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		},
		Linux: &specs.Linux{
			CgroupsPath: "/" + c.parent + "/" + id,
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace}, {Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace}, {Type: specs.MountNamespace},
			},
		},
	}
	b, err := json.Marshal(spec)
	require.NoError(c.t, err)
	require.NoError(c.t, os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644))
	return dir
}

func (c *cli) state(id string) ociruntime.OCIState {
	c.t.Helper()
	out, status := c.run("state", id)
	require.Equal(c.t, 0, status, out)
	var st ociruntime.OCIState
	require.NoError(c.t, json.Unmarshal([]byte(out), &st), out)
	return st
}

func TestRunExitStatus(t *testing.T) {
	c := newCLI(t)
	id := labtest.Unique("run")
	out, status := c.run("run", "--bundle", c.bundle(id, "sh", "-c", "echo hi; exit 7"), id)
	assert.Equal(t, 7, status)
	assert.Equal(t, "hi\n", out)
	_, status = c.run("state", id)
	assert.Equal(t, 1, status, "run deletes the container")
}

// TestLifecycle drives a container as containerd's shim does: create
// with a pid file, state, start, kill with the default signal, delete.
// The process's stdout is create's, inherited.
func TestLifecycle(t *testing.T) {
	c := newCLI(t)
	id := labtest.Unique("life")
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	// The shell says it is ready once its trap is set: a SIGTERM to
	// PID 1 without a handler would be ignored.
	bundle := c.bundle(id, "sh", "-c", `trap "exit 42" TERM; echo ready; sleep 1000 & wait`)
	pr, pw, err := os.Pipe()
	require.NoError(t, err)
	defer pr.Close()
	create := c.command("create", "--bundle", bundle, "--pid-file", pidFile, id)
	create.Stdout = pw
	out, status := c.runCmd(create)
	pw.Close()
	require.Equal(t, 0, status, out)

	b, err := os.ReadFile(pidFile)
	require.NoError(t, err)
	st := c.state(id)
	assert.Equal(t, ociruntime.Created, st.Status)
	assert.Equal(t, string(b), strconv.Itoa(st.Pid))
	assert.Equal(t, bundle, st.Bundle)

	out, status = c.run("list", "-q")
	assert.Equal(t, 0, status)
	assert.Equal(t, id+"\n", out)

	out, status = c.run("start", id)
	require.Equal(t, 0, status, out)
	line, err := bufio.NewReader(pr).ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "ready\n", line)
	assert.Equal(t, ociruntime.Running, c.state(id).Status)

	out, status = c.run("list", "--format", "json")
	require.Equal(t, 0, status, out)
	var list []ociruntime.OCIState
	require.NoError(t, json.Unmarshal([]byte(out), &list))
	require.Len(t, list, 1)
	assert.Equal(t, ociruntime.Running, list[0].Status)

	out, status = c.run("delete", id)
	assert.Equal(t, 1, status)
	assert.Contains(t, out, "cannot delete a container that is running")

	out, status = c.run("kill", id)
	require.Equal(t, 0, status, out)
	require.NoError(t, labtest.ProcessGone(st.Pid))
	assert.Equal(t, ociruntime.Stopped, c.state(id).Status)
	out, status = c.run("delete", id)
	require.Equal(t, 0, status, out)
	_, status = c.run("state", id)
	assert.Equal(t, 1, status)
}

func TestKillSignals(t *testing.T) {
	c := newCLI(t)
	for _, sig := range []string{"KILL", "SIGKILL", "9", "kill"} {
		t.Run(sig, func(t *testing.T) {
			id := labtest.Unique("kill")
			out, status := c.run("run", "--detach", "--bundle", c.bundle(id, "sleep", "1000"), id)
			require.Equal(t, 0, status, out)
			pid := c.state(id).Pid
			out, status = c.run("kill", id, sig)
			require.Equal(t, 0, status, out)
			require.NoError(t, labtest.ProcessGone(pid))
			out, status = c.run("delete", "--force", id)
			require.Equal(t, 0, status, out)
		})
	}
	out, status := c.run("kill", "nothing", "NOSUCHSIG")
	assert.Equal(t, 1, status)
	assert.Contains(t, out, `signal "NOSUCHSIG": unknown`)
}

// TestPreserveFDs: descriptor 3 of create's caller is the process's 3.
func TestPreserveFDs(t *testing.T) {
	c := newCLI(t)
	id := labtest.Unique("fds")
	pr, pw, err := os.Pipe()
	require.NoError(t, err)
	_, err = pw.WriteString("through fd 3\n")
	require.NoError(t, err)
	pw.Close()
	cmd := c.command("run", "--preserve-fds", "1", "--bundle", c.bundle(id, "sh", "-c", "cat <&3"), id)
	cmd.ExtraFiles = []*os.File{pr}
	out, status := c.runCmd(cmd)
	pr.Close()
	require.Equal(t, 0, status, out)
	assert.Equal(t, "through fd 3\n", out)
}

// TestErrorsAndLog: a failure is one line on stderr, exit status 1, and
// runc's JSON line in --log, which containerd's shim reads.
func TestErrorsAndLog(t *testing.T) {
	c := newCLI(t)
	log := filepath.Join(t.TempDir(), "log.json")
	out, status := c.run("--log", log, "--log-format", "json", "create", "--bundle", t.TempDir(), "../bad")
	assert.Equal(t, 1, status)
	assert.Contains(t, out, `container id "../bad"`)
	b, err := os.ReadFile(log)
	require.NoError(t, err)
	var line struct{ Level, Msg string }
	require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(string(b))), &line))
	assert.Equal(t, "error", line.Level)
	assert.Contains(t, line.Msg, `container id "../bad"`)

	_, status = c.run("--systemd-cgroup", "list")
	assert.Equal(t, 1, status)
	out, status = c.run("start", "nothing")
	assert.Equal(t, 1, status)
	assert.Contains(t, out, "container does not exist")
}

// BenchmarkRun is the measure: `run` of a bare bundle (true, no
// network namespace), a process per run as a caller sees it, beside
// runc on the same bundle when it is installed. The two alternate, run
// for run, and each one's median is reported (berth-ms, runc-ms): on a
// shared machine the load changes from one second to the next, and two
// benchmarks run one after the other would compare two machines.
//
// The binary is built for the benchmark: the test binary, which the
// tests use as the runtime, is half as big again, and a Go program's
// start grows with its size.
func BenchmarkRun(b *testing.B) {
	c := newCLI(b)
	bin := filepath.Join(b.TempDir(), "berth-runtime")
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if out, err := exec.Command(gobin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	runc, _ := exec.LookPath("runc")
	type run struct{ berth, runc *exec.Cmd }
	runs := make([]run, b.N)
	for i := range runs {
		id := labtest.Unique("bench")
		runs[i].berth = exec.Command(bin, "--root", c.root, "run", "--bundle", c.bareBundle(id), id)
		if runc != "" {
			rid := labtest.Unique("bench-runc")
			runs[i].runc = exec.Command(runc, "--root", c.root, "run", "--bundle", c.bareBundle(rid), rid)
		}
	}
	var berthTimes, runcTimes []time.Duration
	timed := func(cmd *exec.Cmd) time.Duration {
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %v\n%s", cmd.Args, err, out)
		}
		return time.Since(start)
	}
	b.ResetTimer()
	for _, r := range runs {
		berthTimes = append(berthTimes, timed(r.berth))
		if r.runc != nil {
			b.StopTimer()
			runcTimes = append(runcTimes, timed(r.runc))
			b.StartTimer()
		}
	}
	b.ReportMetric(median(berthTimes), "berth-ms")
	if len(runcTimes) > 0 {
		b.ReportMetric(median(runcTimes), "runc-ms")
	}
}

// median of ds, in milliseconds.
func median(ds []time.Duration) float64 {
	slices.Sort(ds)
	return float64(ds[len(ds)/2].Microseconds()) / 1000
}

// bareBundle is bundle without a network namespace, running true.
func (c *cli) bareBundle(id string) string {
	dir := c.bundle(id, "true")
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	require.NoError(c.t, err)
	var spec specs.Spec
	require.NoError(c.t, json.Unmarshal(b, &spec))
	var ns []specs.LinuxNamespace
	for _, n := range spec.Linux.Namespaces {
		if n.Type != specs.NetworkNamespace {
			ns = append(ns, n)
		}
	}
	spec.Linux.Namespaces = ns
	b, err = json.Marshal(spec)
	require.NoError(c.t, err)
	require.NoError(c.t, os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644))
	return dir
}
