package main

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/02-cgroups/cgroup"
	"github.com/berth-project/berth/05-network/nettest"
	"github.com/berth-project/berth/05-network/network"
	"github.com/berth-project/berth/07-logs/shim"
)

// The test binary plays every part: the program, the shim (engine.Main)
// and the container's init (program.Init).
func TestMain(m *testing.M) {
	engine.Main()
	labtest.Main(m, program.Init)
}

// lab is one test's state directory, with helpers to run the program on
// it. At the end of the test every container in it is removed by force,
// and nothing may be left: no container process, no shim, no cgroup.
type lab struct {
	t     *testing.T
	root  string
	image string
}

func newLab(t *testing.T) *lab {
	t.Helper()
	labtest.Privileged(t)
	l := &lab{t: t, root: t.TempDir(), image: labtest.BusyboxRootfs(t)}
	t.Cleanup(l.cleanup)
	return l
}

// run runs the program with args (and --root for every command) and
// returns what it printed and its status.
func (l *lab) run(stdin string, args ...string) (stdout, stderr string, status int) {
	l.t.Helper()
	var out, errOut bytes.Buffer
	stdio := namespace.Stdio{Out: &out, Err: &errOut}
	if stdin != "" {
		stdio.In = strings.NewReader(stdin)
	}
	args = append([]string{args[0], "--root", l.root}, args[1:]...)
	status = program.Run(args, stdio)
	return out.String(), errOut.String(), status
}

// must runs args and requires status 0.
func (l *lab) must(args ...string) string {
	l.t.Helper()
	out, errOut, status := l.run("", args...)
	require.Equal(l.t, 0, status, "%v: stderr: %s", args, errOut)
	return out
}

// detach starts a container in the background and returns its ID.
func (l *lab) detach(flags ...string) string {
	l.t.Helper()
	args := append([]string{"run", "-d", "--net", "none", "--image", l.image}, flags...)
	id := strings.TrimSpace(l.must(args...))
	require.Regexp(l.t, `^[0-9a-f]{64}$`, id)
	return id
}

func (l *lab) container(ref string) *shim.Container {
	l.t.Helper()
	s, err := shim.OpenStore(l.root)
	require.NoError(l.t, err)
	c, err := s.Get(ref)
	require.NoError(l.t, err)
	return c
}

func (l *lab) state(ref string) shim.State {
	l.t.Helper()
	st, err := l.container(ref).State()
	require.NoError(l.t, err)
	return st
}

// wait waits for the container to be done (exited and cleaned up).
func (l *lab) wait(ref string) shim.State {
	l.t.Helper()
	st, err := l.container(ref).Wait(10 * time.Second)
	require.NoError(l.t, err)
	return st
}

func (l *lab) cleanup() {
	t := l.t
	s, err := shim.OpenStore(l.root)
	require.NoError(t, err)
	list, err := s.List()
	require.NoError(t, err)
	for _, c := range list {
		st, _ := c.State()
		require.NoError(t, engine.RemoveContainer(c, true), "rm -f %s", c.Name())
		for _, pid := range []int{st.Pid, st.ShimPid} {
			if pid > 0 {
				assert.NoError(t, labtest.ProcessGone(pid), "process %d of %s", pid, c.Name())
			}
		}
		assert.NoError(t, noCgroup(c.ID()))
	}
	entries, err := os.ReadDir(filepath.Join(l.root, "containers"))
	require.NoError(t, err)
	assert.Empty(t, entries, "container directories left")
}

// noCgroup checks that the container's cgroup is gone in every hierarchy.
func noCgroup(id string) error {
	_, err := cgroup.Load(id)
	if err == nil {
		return fmt.Errorf("cgroup %s still exists", id)
	}
	return nil
}

func TestS24_NamesAreGivenOrGenerated(t *testing.T) {
	l := newLab(t)
	l.detach("--name", "web", "--", "sleep", "30")
	l.detach("--", "sleep", "30")
	out := l.must("ps")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 3, out)
	assert.Regexp(t, `^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+NAMES$`, lines[0])
	var names []string
	for _, line := range lines[1:] {
		fields := strings.Fields(line)
		names = append(names, fields[len(fields)-1])
		assert.Contains(t, line, "Up ")
	}
	assert.Contains(t, names, "web")
	generated := names[0]
	if generated == "web" {
		generated = names[1]
	}
	assert.Regexp(t, `^[a-z]+_[a-z]+[0-9]*$`, generated, "a generated name, adjective_noun")

	// A name is unique.
	_, errOut, status := l.run("", "run", "-d", "--net", "none", "--image", l.image, "--name", "web", "--", "true")
	assert.Equal(t, 125, status)
	assert.Contains(t, errOut, "already in use")
	// Every command finds a container by name or by ID prefix.
	assert.Equal(t, "web\n", l.must("stop", "-t", "0", "web"))
	id := l.container(generated).ID()
	assert.Equal(t, id[:8]+"\n", l.must("kill", id[:8]))
}

func TestS25_DetachedContainerStopsWhenItsCommandEnds(t *testing.T) {
	l := newLab(t)
	begin := time.Now()
	id := l.detach("--name", "brief", "--", "sh", "-c", "echo working; sleep 0.5; echo done")
	assert.Less(t, time.Since(begin), 400*time.Millisecond, "run -d returns while the container runs")
	assert.Contains(t, l.must("ps"), "brief")
	st := l.state("brief")
	require.Equal(t, shim.Running, st.Status)

	final := l.wait(id)
	assert.Equal(t, shim.Exited, final.Status)
	assert.Equal(t, 0, final.ExitCode)
	assert.NotContains(t, l.must("ps"), "brief", "ps lists running containers only")
	assert.Regexp(t, `Exited \(0\) .* ago\s+brief`, l.must("ps", "-a"))
	assert.Equal(t, "working\ndone\n", l.must("logs", "brief"))
	assert.NoError(t, labtest.ProcessGone(st.Pid))
	assert.NoError(t, labtest.ProcessGone(st.ShimPid), "no shim is left for a stopped container")
	assert.NoError(t, noCgroup(id), "the shim removed the cgroup")
}

func TestAttachedRunStreamsOutputAndReturnsTheStatus(t *testing.T) {
	l := newLab(t)
	out, errOut, status := l.run("", "run", "--net", "none", "--image", l.image, "--name", "fg", "--",
		"sh", "-c", "echo out; echo err >&2; printf 'no newline'; exit 3")
	assert.Equal(t, 3, status)
	assert.Equal(t, "out\nno newline", out)
	assert.Equal(t, "err\n", errOut)
	// The container stays, exited, until rm: docker run without --rm.
	assert.Regexp(t, `Exited \(3\)`, l.must("ps", "-a"))
}

func TestS15_StdoutStderrAndStdinAreLogged(t *testing.T) {
	l := newLab(t)
	out, errOut, status := l.run("line one\nline two\n", "run", "-i", "--net", "none", "--image", l.image, "--name", "talk", "--",
		"sh", "-c", "while read l; do echo \"heard: $l\"; echo \"warn: $l\" >&2; done")
	require.Equal(t, 0, status, errOut)
	assert.Equal(t, "heard: line one\nheard: line two\n", out)
	assert.Equal(t, "warn: line one\nwarn: line two\n", errOut)

	// Afterwards, in batch: the same streams, from the log.
	logOut, logErr, status := l.run("", "logs", "talk")
	require.Equal(t, 0, status)
	assert.Equal(t, out, logOut)
	assert.Equal(t, errOut, logErr)
	// And stdin was recorded too, in order with the rest: the shim
	// logs what it passes to the container before passing it, and the
	// input came in one piece.
	withStdin, _, _ := l.run("", "logs", "--stdin", "talk")
	assert.Equal(t, "line one\nline two\nheard: line one\nheard: line two\n", withStdin)

	// Recording stdin can be turned off.
	_, _, status = l.run("secret\n", "run", "-i", "--log-opt", "stdin=false", "--net", "none", "--image", l.image, "--name", "quiet", "--", "cat")
	require.Equal(t, 0, status)
	assert.Equal(t, "secret\n", l.must("logs", "--stdin", "quiet"), "only cat's echo of it")
}

func TestS15_BinaryAndLongOutputIsLoggedExactly(t *testing.T) {
	l := newLab(t)
	dir := t.TempDir()
	blob := make([]byte, 0, 3<<20)
	for i := range 1 << 20 {
		blob = append(blob, byte(i*13+i>>9)) // every byte value, newlines included
	}
	blob = append(blob, bytes.Repeat([]byte{'z'}, 1<<20)...) // a 1 MiB line
	blob = append(blob, "\nthe end, without a newline"...)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "blob"), blob, 0o644))
	id := l.detach("-v", dir+":/data:ro", "--", "cat", "/data/blob")
	l.wait(id)
	out := l.must("logs", id)
	assert.True(t, bytes.Equal(blob, []byte(out)), "logs gave %d bytes back of %d", len(out), len(blob))
}

func TestS35_LogsTailTimestampsAndFollow(t *testing.T) {
	l := newLab(t)
	l.detach("--name", "counter", "--", "sh", "-c", "i=1; while [ $i -le 5 ]; do echo line $i; i=$((i+1)); done; sleep 0.3; echo late")
	require.Eventually(t, func() bool { return strings.Contains(l.must("logs", "counter"), "line 5") }, 5*time.Second, 10*time.Millisecond)

	assert.Equal(t, "line 4\nline 5\n", l.must("logs", "--tail", "2", "counter"))
	assert.Equal(t, "", l.must("logs", "--tail", "0", "counter"))
	stamped := l.must("logs", "-t", "--tail", "1", "counter")
	assert.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z line 5\n$`, stamped)
	stamp, _, _ := strings.Cut(stamped, " ")
	at, err := time.Parse(time.RFC3339Nano, stamp)
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now(), at, 10*time.Second)

	// -f prints what is there, then what comes, and returns when the
	// container stops.
	begin := time.Now()
	followed := l.must("logs", "-f", "--tail", "1", "counter")
	assert.Equal(t, "line 5\nlate\n", followed)
	assert.Equal(t, shim.Exited, l.state("counter").Status)
	assert.Less(t, time.Since(begin), 5*time.Second)

	_, errOut, status := l.run("", "logs", "--tail", "many", "counter")
	assert.Equal(t, 125, status)
	assert.Contains(t, errOut, "--tail")
}

func TestS35_FollowGoesAcrossRotations(t *testing.T) {
	l := newLab(t)
	// 3000 lines of about 50 bytes of log each, in files of 4 KiB: about
	// forty rotations while logs -f reads. max-file is large, so that no
	// line is deleted before the follower has read it.
	script := "i=0; while [ $i -lt 3000 ]; do echo line $i; i=$((i+1)); done"
	l.detach("--name", "rotating", "--log-opt", "max-size=4k", "--log-opt", "max-file=1000", "--", "sh", "-c", script)
	out := l.must("logs", "-f", "rotating")
	var want strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&want, "line %d\n", i)
	}
	assert.Equal(t, want.String(), out)
	files, err := filepath.Glob(filepath.Join(l.container("rotating").Dir(), "container.log*"))
	require.NoError(t, err)
	assert.Greater(t, len(files), 20, "the log was rotated")
	for _, f := range files {
		fi, err := os.Stat(f)
		require.NoError(t, err)
		assert.LessOrEqual(t, fi.Size(), int64(4<<10))
	}

	// With max-file=2, only the newest lines are kept.
	l.detach("--name", "short", "--log-opt", "max-size=4k", "--log-opt", "max-file=2", "--", "sh", "-c", script)
	l.wait("short")
	kept := l.must("logs", "short")
	assert.True(t, strings.HasSuffix(kept, "line 2999\n"))
	assert.Less(t, len(kept), 8<<10)
}

func TestS27_StartRunsAStoppedContainerAgain(t *testing.T) {
	l := newLab(t)
	// Each run adds a line to a file in the container's own layer and
	// prints how many there are: the layer outlives the run.
	id := l.detach("--name", "again", "--", "sh", "-c", "echo run >> /runs; wc -l < /runs")
	first := l.wait(id)
	assert.Equal(t, "again\n", l.must("start", "again"))
	second := l.wait(id)
	assert.Equal(t, shim.Exited, second.Status)
	assert.NotEqual(t, first.StartedAt, second.StartedAt)
	assert.Equal(t, id, l.container("again").ID(), "the same container")
	assert.Equal(t, "1\n2\n", l.must("logs", "again"), "the log of both runs, and the file of the first")

	// start -a stays attached and returns the status.
	out, _, status := l.run("", "start", "-a", "again")
	assert.Equal(t, 0, status)
	assert.Equal(t, "3\n", out)

	// start -i: stdin too, for a container made with -i.
	_, _, status = l.run("first\n", "run", "-i", "--net", "none", "--image", l.image, "--name", "echoer", "--", "cat")
	require.Equal(t, 0, status)
	out, _, status = l.run("second\n", "start", "-i", "echoer")
	assert.Equal(t, 0, status)
	assert.Equal(t, "second\n", out)
	assert.Equal(t, "first\nsecond\n", l.must("logs", "echoer"))

	// Starting a running container is an error.
	l.detach("--name", "busy", "--", "sleep", "30")
	_, errOut, status := l.run("", "start", "busy")
	assert.Equal(t, 125, status)
	assert.Contains(t, errOut, "running")
}

func TestS28_StopEscalatesToKill(t *testing.T) {
	l := newLab(t)
	// A shell as PID 1 ignores SIGTERM (it has no handler, and the
	// kernel drops such signals for PID 1): only SIGKILL stops it.
	l.detach("--name", "stubborn", "--", "sh", "-c", "sleep 1000")
	begin := time.Now()
	assert.Equal(t, "stubborn\n", l.must("stop", "-t", "1", "stubborn"))
	took := time.Since(begin)
	assert.GreaterOrEqual(t, took, time.Second, "stop waited the grace period")
	assert.Less(t, took, 3*time.Second, "then killed it (and the shim cleaned up)")
	st := l.state("stubborn")
	assert.Equal(t, shim.Exited, st.Status)
	assert.Equal(t, 137, st.ExitCode, "128 + SIGKILL")

	// A command that handles TERM stops at once, with its own status.
	l.detach("--name", "polite", "--", "sh", "-c", "trap 'echo bye; exit 0' TERM; while :; do sleep 0.1; done")
	time.Sleep(200 * time.Millisecond)
	begin = time.Now()
	l.must("stop", "-t", "10", "polite")
	assert.Less(t, time.Since(begin), 2*time.Second)
	assert.Equal(t, 0, l.state("polite").ExitCode)
	assert.Equal(t, "bye\n", l.must("logs", "polite"))

	// Stopping a stopped container is fine.
	l.must("stop", "polite")
}

func TestS28_KillSendsASignalAtOnce(t *testing.T) {
	l := newLab(t)
	l.detach("--name", "target", "--", "sh", "-c", "trap 'echo got HUP; exit 4' HUP; echo ready; while :; do sleep 0.1; done")
	require.Eventually(t, func() bool { return l.must("logs", "target") == "ready\n" }, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, "target\n", l.must("kill", "-s", "HUP", "target"))
	st := l.wait("target")
	assert.Equal(t, 4, st.ExitCode)
	assert.Equal(t, "ready\ngot HUP\n", l.must("logs", "target"))

	// Without -s, kill sends SIGKILL: no grace period at all.
	l.detach("--name", "victim", "--", "sh", "-c", "sleep 1000")
	begin := time.Now()
	l.must("kill", "victim")
	assert.Equal(t, 137, l.wait("victim").ExitCode)
	assert.Less(t, time.Since(begin), 3*time.Second, "far less than stop's 10 s of grace")

	_, errOut, status := l.run("", "kill", "victim")
	assert.Equal(t, 125, status, "a stopped container cannot be killed")
	assert.Contains(t, errOut, "not running")
	_, _, status = l.run("", "kill", "-s", "NOSUCH", "victim")
	assert.Equal(t, 125, status)
}

func TestS29_RmRefusesARunningContainer(t *testing.T) {
	l := newLab(t)
	id := l.detach("--name", "keep", "--", "sleep", "30")
	st := l.state("keep")
	_, errOut, status := l.run("", "rm", "keep")
	assert.Equal(t, 125, status)
	assert.Contains(t, errOut, "stop it first")
	assert.Equal(t, shim.Running, l.state("keep").Status, "still running")

	assert.Equal(t, "keep\n", l.must("rm", "-f", "keep"))
	assert.NoError(t, labtest.ProcessGone(st.Pid), "the container's processes")
	assert.NoError(t, labtest.ProcessGone(st.ShimPid), "its shim")
	assert.NoError(t, noCgroup(id))
	assert.NoDirExists(t, filepath.Join(l.root, "containers", id), "its record, log and layer")
	assert.NotContains(t, l.must("ps", "-a"), "keep")
	_, errOut, status = l.run("", "logs", "keep")
	assert.Equal(t, 125, status)
	assert.Contains(t, errOut, "no such container")

	// A stopped container is removed without -f, and its name is free.
	l.detach("--name", "done", "--", "true")
	l.wait("done")
	l.must("rm", "done")
	l.detach("--name", "done", "--", "true")
}

func TestS36_TopListsTheContainersProcessesAsTheHostSeesThem(t *testing.T) {
	l := newLab(t)
	l.detach("--name", "family", "--", "sh", "-c", "sleep 201 & sleep 202 & wait")
	st := l.state("family")
	var out string
	require.Eventually(t, func() bool {
		// Until both forked shells have executed sleep, one shows as sh.
		out = l.must("top", "family")
		return regexp.MustCompile(`(?m) sleep 201$`).MatchString(out) && regexp.MustCompile(`(?m) sleep 202$`).MatchString(out)
	}, 5*time.Second, 10*time.Millisecond)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 4, out)
	assert.Regexp(t, `^UID\s+PID\s+PPID\s+CPID\s+STAT\s+CMD$`, lines[0])
	first := strings.Fields(lines[1])
	assert.Equal(t, strconv.Itoa(st.Pid), first[1], "init, by its host PID")
	assert.Equal(t, "1", first[3], "PID 1 in the container")
	for _, line := range lines[2:] {
		f := strings.Fields(line)
		pid, err := strconv.Atoi(f[1])
		require.NoError(t, err)
		// A host PID: the host's /proc knows it, as a sleep.
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		require.NoError(t, err)
		assert.Regexp(t, "^sleep\x00", string(cmdline))
		assert.Equal(t, strconv.Itoa(st.Pid), f[2], "children of init")
	}

	_, errOut, status := l.run("", "top", "nosuch")
	assert.Equal(t, 125, status)
	assert.Contains(t, errOut, "no such container")
}

func TestS3_OneApplicationPerContainer(t *testing.T) {
	l := newLab(t)
	// Two services, each in a container of its own: a web server and a
	// key-value-ish TCP service, both from busybox.
	l.detach("--name", "web", "--", "httpd", "-f", "-p", "8080")
	l.detach("--name", "cache", "--", "nc", "-ll", "-p", "11211", "-e", "/bin/cat")
	pids := map[string]string{}
	for name, app := range map[string]string{"web": "httpd -f -p 8080", "cache": "nc -ll -p 11211 -e /bin/cat"} {
		var out string
		require.Eventually(t, func() bool {
			out = l.must("top", name)
			return strings.Count(strings.TrimSpace(out), "\n") == 1
		}, 5*time.Second, 10*time.Millisecond, "one process in %s:\n%s", name, out)
		fields := strings.Fields(strings.Split(strings.TrimSpace(out), "\n")[1])
		assert.Equal(t, app, strings.Join(fields[5:], " "), "%s runs its application alone", name)
		assert.Equal(t, "1", fields[3], "as PID 1")
		pids[name] = fields[1]
		ns, err := os.Readlink("/proc/" + fields[1] + "/ns/pid")
		require.NoError(t, err)
		pids[name+"-ns"] = ns
	}
	assert.NotEqual(t, pids["web"], pids["cache"])
	assert.NotEqual(t, pids["web-ns"], pids["cache-ns"], "each has its own process table")
	assert.Equal(t, 2, strings.Count(l.must("ps"), "Up "))
}

func TestBadFlagsGiveOneLineAndStatus125(t *testing.T) {
	l := newLab(t)
	for _, args := range [][]string{
		{"run", "--net", "none", "--", "true"}, // no image
		{"run", "--net", "none", "--image", l.image, "--log-opt", "max-size=lots", "--", "true"},
		{"run", "--net", "none", "--image", l.image, "--log-opt", "max-file=3", "--", "true"},
		{"run", "--net", "none", "--image", l.image, "--name", "-x", "--", "true"},
		{"logs"},
		{"logs", "a", "b"},
		{"stop"},
		{"top"},
		{"ps", "extra"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out, errOut, status := l.run("", args...)
			assert.Equal(t, 125, status)
			assert.Empty(t, out)
			assert.Equal(t, 1, strings.Count(errOut, "\n"), "one line: %q", errOut)
		})
	}
}

// BenchmarkRunDetachedAndRemove is `run -d` then `rm -f`: the final
// target is 30 ms for both.
func BenchmarkRunDetachedAndRemove(b *testing.B) {
	labtest.Privileged(b)
	root, image := b.TempDir(), labtest.BusyboxRootfs(b)
	for b.Loop() {
		var out bytes.Buffer
		if status := program.Run([]string{"run", "-d", "--root", root, "--net", "none", "--image", image, "--", "sleep", "30"}, namespace.Stdio{Out: &out}); status != 0 {
			b.Fatal("run failed")
		}
		if status := program.Run([]string{"rm", "--root", root, "-f", strings.TrimSpace(out.String())}, namespace.Stdio{}); status != 0 {
			b.Fatal("rm failed")
		}
	}
}

// BenchmarkLog100MB is a container that writes 100 MB to stdout, fully
// logged (the final target: 1 s), then read back by `logs` (1 s).
func BenchmarkLog100MB(b *testing.B) {
	labtest.Privileged(b)
	root, image := b.TempDir(), labtest.BusyboxRootfs(b)
	b.SetBytes(100 << 20)
	for b.Loop() {
		var out bytes.Buffer
		args := []string{"run", "-d", "--root", root, "--net", "none", "--image", image, "--",
			"sh", "-c", "yes 0123456789012345678901234567890123456789012345678901234567890123456789 | head -c 104857600"}
		if status := program.Run(args, namespace.Stdio{Out: &out}); status != 0 {
			b.Fatal("run failed")
		}
		id := strings.TrimSpace(out.String())
		s, _ := shim.OpenStore(root)
		c, _ := s.Get(id)
		if _, err := c.Wait(time.Minute); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		program.Run([]string{"rm", "--root", root, "-f", id}, namespace.Stdio{})
		b.StartTimer()
	}
}

func TestADetachedServiceOnTheNetworkIsWiredAtEachStart(t *testing.T) {
	l := newLab(t)
	netcfg := nettest.Config(t) // a bridge and a /24 of this test's own
	// The service answers every connection with its hostname, the
	// container's short ID.
	id := strings.TrimSpace(l.must("run", "-d", "--name", "svc", "--image", l.image,
		"--bridge", netcfg.Bridge, "--subnet", netcfg.Subnet.String(), "--", "nc", "-ll", "-p", "9000", "-e", "/bin/hostname"))
	ask := func() (string, error) {
		ep, err := network.Load(l.root, id)
		if err != nil {
			return "", err
		}
		conn, err := net.DialTimeout("tcp", netip.AddrPortFrom(ep.Primary().IP, 9000).String(), time.Second)
		if err != nil {
			return "", err
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
		b, err := io.ReadAll(conn)
		return string(b), err
	}
	var answer string
	require.Eventually(t, func() bool { answer, _ = ask(); return answer != "" }, 5*time.Second, 20*time.Millisecond)
	assert.Equal(t, id[:12]+"\n", answer)
	ep, err := network.Load(l.root, id)
	require.NoError(t, err)
	_, err = net.InterfaceByName(ep.Primary().HostVeth)
	require.NoError(t, err, "the host's end of the veth pair")

	// Stopped, the shim's clean-up (a process of its own, after the
	// container's exit) released the endpoint: no veth, no lease.
	l.must("stop", "-t", "0", "svc")
	_, err = network.Load(l.root, id)
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.Eventually(t, func() bool {
		_, err := net.InterfaceByName(ep.Primary().HostVeth)
		return err != nil
	}, 5*time.Second, 10*time.Millisecond, "the veth is gone (with the container's network namespace)")

	// Started again: wired again.
	l.must("start", "svc")
	require.Eventually(t, func() bool { answer, _ = ask(); return answer != "" }, 5*time.Second, 20*time.Millisecond)
	assert.Equal(t, id[:12]+"\n", answer)
	l.must("rm", "-f", "svc")
	assert.Eventually(t, func() bool {
		_, err := net.InterfaceByName(ep.Primary().HostVeth)
		return err != nil
	}, 5*time.Second, 10*time.Millisecond, "rm -f left no veth behind")
}
