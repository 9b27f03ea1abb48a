//go:build cgo

package ociruntime

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/02-cgroups/cgroup"
	"github.com/berth-project/berth/03-rootfs/rootfs"
	"github.com/berth-project/berth/03-rootfs/seccomp"
)

// liveContainer is a running container as the commands other than
// create see one: a Record under a root, an init that runs, a cgroup.
// It is made the way containerd's shim makes one: create (with the test
// binary as the container's init, see TestMain) and start, of a busybox
// bundle.
type liveContainer struct {
	root, id string
	pid      int
	cg       *cgroup.Cgroup
	stop     func() // kills the container's init and reaps it
}

// testProcess is the process config.json describes: root, two
// capabilities, sleep.
func testProcess() *specs.Process {
	caps := []string{"CAP_KILL", "CAP_NET_BIND_SERVICE"}
	return &specs.Process{
		Args: []string{"sleep", "600"},
		Env:  []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "CONTAINER=yes"},
		Cwd:  "/",
		Capabilities: &specs.LinuxCapabilities{
			Bounding: caps, Effective: caps, Permitted: caps,
		},
	}
}

func startLiveContainer(t *testing.T) *liveContainer {
	t.Helper()
	e := newEnv(t)
	id := labtest.Unique("r3")
	spec := baseSpec(labtest.BusyboxRootfs(t))
	spec.Process = testProcess()
	spec.Linux.Resources = &specs.LinuxResources{
		Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
	}
	c := e.create(spec, id, nil, CreateOptions{})
	require.NoError(t, Start(e.root, id))
	rec, err := Load(e.root, id)
	require.NoError(t, err)
	cg, err := recordCgroup(rec)
	require.NoError(t, err)
	return &liveContainer{root: e.root, id: id, pid: rec.Pid, cg: cg, stop: func() {
		_ = Kill(e.root, id, unix.SIGKILL, false)
		_, _ = c.Init.Wait()
	}}
}

// run execs p in the container in the foreground, its output in a file.
func (c *liveContainer) run(t *testing.T, p *specs.Process, o ExecOptions) (string, int) {
	t.Helper()
	out, err := os.Create(filepath.Join(t.TempDir(), "out"))
	require.NoError(t, err)
	defer out.Close()
	o.Stdout, o.Stderr = out, out
	status, err := Exec(c.root, c.id, p, o)
	require.NoError(t, err)
	b, err := os.ReadFile(out.Name())
	require.NoError(t, err)
	return string(b), status
}

// TestExec_Live: the process runs in the container's namespaces and
// cgroup, with the env, cwd, user, capabilities, rlimits and umask
// asked for, and exec returns its status.
func TestExec_Live(t *testing.T) {
	c := startLiveContainer(t)
	p := testProcess()
	p.Args = []string{"sh", "-c", `echo "$CONTAINER"; id -u; id -G; pwd; readlink /proc/self/ns/uts; readlink /proc/self/ns/pid; grep -E '^(CapBnd|CapEff|NoNewPrivs)' /proc/self/status; ulimit -n; umask; cat /proc/self/cgroup; echo reopened >> /dev/stdout; exit 3`}
	p.Cwd = "/tmp"
	p.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{1001}}
	p.NoNewPrivileges = true
	p.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 333, Hard: 444}}
	umask := uint32(0o027)
	p.User.Umask = &umask

	out, status := c.run(t, p, ExecOptions{})
	assert.Equal(t, 3, status)
	lines := strings.Split(out, "\n")
	require.GreaterOrEqual(t, len(lines), 10, out)
	assert.Equal(t, "yes", lines[0])
	assert.Equal(t, "1000", lines[1])
	assert.Equal(t, "1000 1001", lines[2])
	assert.Equal(t, "/tmp", lines[3])
	uts, _ := os.Readlink("/proc/" + strconv.Itoa(c.pid) + "/ns/uts")
	pidns, _ := os.Readlink("/proc/" + strconv.Itoa(c.pid) + "/ns/pid")
	assert.Equal(t, uts, lines[4])
	assert.Equal(t, pidns, lines[5])
	// CAP_KILL (5) and CAP_NET_BIND_SERVICE (10) bound it; a non-root
	// user has none effective.
	assert.Equal(t, "CapEff:\t0000000000000000", lines[6])
	assert.Equal(t, "CapBnd:\t0000000000000420", lines[7])
	assert.Equal(t, "NoNewPrivs:\t1", lines[8])
	assert.Equal(t, "333", lines[9])
	assert.Equal(t, "0027", lines[10])
	assert.Contains(t, out, "\nreopened\n", "the user can reopen its stdout: given to it, as runc does")
	for _, dir := range c.cg.Dirs() {
		rel := filepath.Base(dir)
		assert.Contains(t, out, "/"+rel+"\n", "in the container's cgroup %s", dir)
	}
}

// TestExec_RootKeepsTheSetsAsked: root gets the five sets of
// process.capabilities, ambient and inheritable included.
func TestExec_RootKeepsTheSetsAsked(t *testing.T) {
	c := startLiveContainer(t)
	p := testProcess()
	p.Capabilities = &specs.LinuxCapabilities{
		Bounding:    []string{"CAP_KILL", "CAP_CHOWN"},
		Permitted:   []string{"CAP_KILL", "CAP_CHOWN"},
		Effective:   []string{"CAP_KILL"},
		Inheritable: []string{"CAP_KILL"},
		Ambient:     []string{"CAP_KILL"},
	}
	p.Args = []string{"grep", "^Cap", "/proc/self/status"}
	out, status := c.run(t, p, ExecOptions{})
	require.Equal(t, 0, status, out)
	// CAP_CHOWN is 0, CAP_KILL 5. Root's execve makes the permitted
	// set bounding ∪ inheritable, and effective too.
	assert.Contains(t, out, "CapInh:\t0000000000000020")
	assert.Contains(t, out, "CapPrm:\t0000000000000021")
	assert.Contains(t, out, "CapEff:\t0000000000000021")
	assert.Contains(t, out, "CapBnd:\t0000000000000021")
	assert.Contains(t, out, "CapAmb:\t0000000000000020")
}

// TestExec_IgnorePaused: with --ignore-paused an exec into a paused
// container starts once it is resumed.
func TestExec_IgnorePaused(t *testing.T) {
	c := startLiveContainer(t)
	require.NoError(t, Pause(c.root, c.id))
	type result struct {
		status int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		p := testProcess()
		p.Args = []string{"sh", "-c", "exit 4"}
		status, err := Exec(c.root, c.id, p, ExecOptions{IgnorePaused: true})
		done <- result{status, err}
	}()
	require.NoError(t, Resume(c.root, c.id))
	r := <-done
	require.NoError(t, r.err)
	assert.Equal(t, 4, r.status)
}

// TestExec_NotFound: a command that does not exist is the process's
// failure, 127, as a shell reports it.
func TestExec_NotFound(t *testing.T) {
	c := startLiveContainer(t)
	p := testProcess()
	p.Args = []string{"no-such-command-r3"}
	out, status := c.run(t, p, ExecOptions{})
	assert.Equal(t, 127, status)
	assert.Contains(t, out, "no-such-command-r3")
}

// TestExec_Refusals: what exec cannot do fails before anything runs,
// naming the option.
func TestExec_Refusals(t *testing.T) {
	c := startLiveContainer(t)
	sock := filepath.Join(t.TempDir(), "console.sock")
	for name, tc := range map[string]struct {
		change func(p *specs.Process, o *ExecOptions)
		msg    string
	}{
		"preserve-fds":        {func(p *specs.Process, o *ExecOptions) { o.PreserveFDs = 2 }, "--preserve-fds 2"},
		"console without tty": {func(p *specs.Process, o *ExecOptions) { o.ConsoleSocket = sock }, "--console-socket"},
		"detached tty":        {func(p *specs.Process, o *ExecOptions) { p.Terminal, o.Detach = true, true }, "--tty with --detach"},
		"apparmor":            {func(p *specs.Process, o *ExecOptions) { p.ApparmorProfile = "x" }, "process.apparmorProfile"},
		"selinux":             {func(p *specs.Process, o *ExecOptions) { p.SelinuxLabel = "x" }, "process.selinuxLabel"},
		"cpu affinity": {func(p *specs.Process, o *ExecOptions) {
			p.ExecCPUAffinity = &specs.CPUAffinity{Initial: "0"}
		}, "process.execCPUAffinity"},
		"effective not permitted": {func(p *specs.Process, o *ExecOptions) {
			p.Capabilities.Effective = []string{"CAP_SYS_ADMIN"}
		}, "effective"},
		"rlimit": {func(p *specs.Process, o *ExecOptions) {
			p.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_FLY", Soft: 1, Hard: 1}}
		}, "RLIMIT_FLY"},
	} {
		t.Run(name, func(t *testing.T) {
			p, o := testProcess(), ExecOptions{}
			p.Args = []string{"true"}
			tc.change(p, &o)
			_, err := Exec(c.root, c.id, p, o)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.msg)
		})
	}

	t.Run("paused", func(t *testing.T) {
		require.NoError(t, Pause(c.root, c.id))
		defer func() { require.NoError(t, Resume(c.root, c.id)) }()
		p := testProcess()
		p.Args = []string{"true"}
		_, err := Exec(c.root, c.id, p, ExecOptions{})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "paused")
	})
	t.Run("stopped", func(t *testing.T) {
		c.stop()
		p := testProcess()
		p.Args = []string{"true"}
		_, err := Exec(c.root, c.id, p, ExecOptions{})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "not running")
	})
}

// TestExec_DetachedGoesToTheSubreaper: with Detach the process is the
// caller's subreaper's child (containerd's shim's, here this test's), and
// the pid-file names it.
func TestExec_DetachedGoesToTheSubreaper(t *testing.T) {
	c := startLiveContainer(t)
	require.NoError(t, unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0))
	t.Cleanup(func() { _ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0) })
	pidFile := filepath.Join(t.TempDir(), "exec.pid")
	p := testProcess()
	p.Args = []string{"sleep", "300"}
	status, err := Exec(c.root, c.id, p, ExecOptions{Detach: true, PidFile: pidFile})
	require.NoError(t, err)
	assert.Equal(t, 0, status)
	b, err := os.ReadFile(pidFile)
	require.NoError(t, err)
	pid, err := strconv.Atoi(string(b))
	require.NoError(t, err)
	defer func() {
		_ = unix.Kill(pid, unix.SIGKILL)
		var ws unix.WaitStatus
		_, _ = unix.Wait4(pid, &ws, 0, nil)
	}()
	ppid, err := parentPid(pid)
	require.NoError(t, err)
	assert.Equal(t, os.Getpid(), ppid)
	pids, err := Pids(c.root, c.id)
	require.NoError(t, err)
	assert.Contains(t, pids, pid)

	// The subreaper reaps it and reads its own status.
	require.NoError(t, unix.Kill(pid, unix.SIGTERM))
	var ws unix.WaitStatus
	_, err = unix.Wait4(pid, &ws, 0, nil)
	require.NoError(t, err)
	assert.Equal(t, unix.SIGTERM, ws.Signal())
}

func parentPid(pid int) (int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "PPid:"); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, os.ErrNotExist
}

// TestExec_ConsoleSocket: a terminal process's master arrives over the
// console socket, as runc sends it, and the process's stdio is that
// terminal.
func TestExec_ConsoleSocket(t *testing.T) {
	c := startLiveContainer(t)
	sock := filepath.Join(t.TempDir(), "console.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	require.NoError(t, err)
	defer l.Close()
	type got struct {
		master *os.File
		err    error
	}
	ch := make(chan got, 1)
	go func() {
		conn, err := l.AcceptUnix()
		if err != nil {
			ch <- got{err: err}
			return
		}
		defer conn.Close()
		buf, oob := make([]byte, 256), make([]byte, unix.CmsgSpace(4))
		_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		if err != nil {
			ch <- got{err: err}
			return
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(msgs) != 1 {
			ch <- got{err: err}
			return
		}
		fds, err := unix.ParseUnixRights(&msgs[0])
		if err != nil || len(fds) != 1 {
			ch <- got{err: err}
			return
		}
		// Non-blocking, so that os.File's poller gives reads a deadline.
		if err := unix.SetNonblock(fds[0], true); err != nil {
			ch <- got{err: err}
			return
		}
		ch <- got{master: os.NewFile(uintptr(fds[0]), "master")}
	}()

	require.NoError(t, unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0))
	t.Cleanup(func() { _ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0) })
	pidFile := filepath.Join(t.TempDir(), "exec.pid")
	p := testProcess()
	p.Terminal = true
	p.ConsoleSize = &specs.Box{Height: 33, Width: 111}
	p.Args = []string{"sh", "-c", "tty; stty size; echo done"}
	_, err = Exec(c.root, c.id, p, ExecOptions{Detach: true, ConsoleSocket: sock, PidFile: pidFile})
	require.NoError(t, err)
	r := <-ch
	require.NoError(t, r.err)
	defer r.master.Close()
	require.NoError(t, r.master.SetReadDeadline(time.Now().Add(time.Minute)))
	var out bytes.Buffer
	buf := make([]byte, 1024)
	for !strings.Contains(out.String(), "done") {
		n, err := r.master.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			break // EIO: the process's side is closed
		}
	}
	assert.Contains(t, out.String(), "/dev/pts/")
	assert.Contains(t, out.String(), "33 111")
	b, err := os.ReadFile(pidFile)
	require.NoError(t, err)
	pid, _ := strconv.Atoi(string(b))
	var ws unix.WaitStatus
	_, err = unix.Wait4(pid, &ws, 0, nil)
	require.NoError(t, err)
	assert.Equal(t, 0, ws.ExitStatus())
}

// TestExecOptions: the process's fields as nsenter gets them.
func TestExecOptions(t *testing.T) {
	umask := uint32(0o077)
	adj := 500
	p := &specs.Process{Args: []string{"x"}, Env: []string{"A=1"}, Terminal: true, OOMScoreAdj: &adj,
		Rlimits: []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 10, Hard: 20}}}
	o, err := execOptions(p, &Security{User: specs.User{UID: 5, GID: 6, AdditionalGids: []uint32{7}}})
	require.NoError(t, err)
	assert.Equal(t, "/", o.Dir, "no cwd: the root")
	assert.Equal(t, uint32(0o022), *o.Umask, "runc's umask")
	assert.Equal(t, &rootfs.CapSets{}, o.CapSets, "no process.capabilities: none")
	assert.Equal(t, &seccomp.Filter{Unconfined: true}, o.Filter, "no linux.seccomp: none")
	assert.Equal(t, []uint32{7}, o.AdditionalGids)
	assert.Equal(t, uint32(5), o.UID)
	assert.Equal(t, 500, *o.OOMScoreAdj)
	assert.True(t, o.Tty)
	require.Len(t, o.Rlimits, 1)
	assert.Equal(t, uint64(20), o.Rlimits[0].Hard)

	p.User.Umask = &umask
	o, err = execOptions(p, &Security{})
	require.NoError(t, err)
	assert.Equal(t, umask, *o.Umask)

	_, err = execOptions(&specs.Process{}, &Security{})
	assert.ErrorContains(t, err, "process.args")
	_, err = execOptions(&specs.Process{Args: []string{"x"}, CommandLine: "x.exe"}, &Security{})
	assert.ErrorContains(t, err, "process.commandLine")
}

// TestExecProcess: runc's flags over the container's process, the
// --process document, and the refusals.
func TestExecProcess(t *testing.T) {
	container := &specs.Spec{Process: &specs.Process{
		Terminal: true, Args: []string{"sleep"}, Env: []string{"PATH=/bin", "A=1"}, Cwd: "/srv",
		User:         specs.User{UID: 1, GID: 2, AdditionalGids: []uint32{3}},
		Capabilities: &specs.LinuxCapabilities{Bounding: []string{"CAP_KILL"}, Effective: []string{"CAP_KILL"}, Permitted: []string{"CAP_KILL"}},
	}}
	yes := true
	for name, tc := range map[string]struct {
		doc   string
		flags ExecFlags
		check func(t *testing.T, p *specs.Process)
		err   string
	}{
		"args only": {flags: ExecFlags{Args: []string{"ls", "-l"}}, check: func(t *testing.T, p *specs.Process) {
			assert.Equal(t, []string{"ls", "-l"}, p.Args)
			assert.False(t, p.Terminal, "no --tty: no terminal, whatever the container has")
			assert.Equal(t, "/srv", p.Cwd)
			assert.Equal(t, []string{"PATH=/bin", "A=1"}, p.Env)
			assert.Equal(t, uint32(1), p.User.UID)
		}},
		"flags": {flags: ExecFlags{Args: []string{"id"}, Cwd: "/tmp", Env: []string{"B=2"}, Tty: &yes, User: "1000:1001",
			AdditionalGids: []string{"10", "11"}, Caps: []string{"net_admin"}, NoNewPrivs: &yes},
			check: func(t *testing.T, p *specs.Process) {
				assert.Equal(t, "/tmp", p.Cwd)
				assert.Equal(t, []string{"PATH=/bin", "A=1", "B=2"}, p.Env)
				assert.True(t, p.Terminal)
				assert.Equal(t, specs.User{UID: 1000, GID: 1001, AdditionalGids: []uint32{3, 10, 11}}, p.User)
				assert.Equal(t, []string{"CAP_KILL", "CAP_NET_ADMIN"}, p.Capabilities.Bounding)
				assert.Equal(t, []string{"CAP_KILL", "CAP_NET_ADMIN"}, p.Capabilities.Effective)
				assert.Equal(t, []string{"CAP_NET_ADMIN"}, p.Capabilities.Ambient)
				assert.True(t, p.NoNewPrivileges)
			}},
		"user without gid": {flags: ExecFlags{Args: []string{"id"}, User: "7"}, check: func(t *testing.T, p *specs.Process) {
			assert.Equal(t, uint32(7), p.User.UID)
			assert.Equal(t, uint32(2), p.User.GID, "the container's gid stays")
		}},
		"process document": {doc: `{"args":["echo","hi"],"cwd":"/","env":["X=1"],"user":{"uid":0,"gid":0}}`,
			check: func(t *testing.T, p *specs.Process) {
				assert.Equal(t, []string{"echo", "hi"}, p.Args)
				assert.Equal(t, []string{"X=1"}, p.Env)
				assert.Nil(t, p.Capabilities, "nothing of the container's process")
			}},
		"no command":            {err: "no command given"},
		"document without args": {doc: `{"cwd":"/"}`, err: "process.args: empty"},
		"bad document":          {doc: `{"args":`, err: "--process"},
		"flags with document":   {doc: `{"args":["x"]}`, flags: ExecFlags{Env: []string{"A=1"}, Cwd: "/x"}, err: "--cwd, --env: not with --process"},
		"args with document":    {doc: `{"args":["x"]}`, flags: ExecFlags{Args: []string{"y"}}, err: "ARGS: not with --process"},
		"bad user":              {flags: ExecFlags{Args: []string{"x"}, User: "root"}, err: `--user "root"`},
		"bad gid":               {flags: ExecFlags{Args: []string{"x"}, User: "1:wheel"}, err: `--user "1:wheel"`},
		"bad additional gid":    {flags: ExecFlags{Args: []string{"x"}, AdditionalGids: []string{"-1"}}, err: `--additional-gids "-1"`},
		"bad cap":               {flags: ExecFlags{Args: []string{"x"}, Caps: []string{"CAP_FLY"}}, err: "CAP_FLY"},
		"process label":         {flags: ExecFlags{Args: []string{"x"}, ProcessLabel: "system_u"}, err: "--process-label"},
		"apparmor":              {flags: ExecFlags{Args: []string{"x"}, AppArmor: "docker-default"}, err: "--apparmor"},
	} {
		t.Run(name, func(t *testing.T) {
			var doc []byte
			if tc.doc != "" {
				doc = []byte(tc.doc)
			}
			p, err := ExecProcess(container, doc, tc.flags)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			tc.check(t, p)
		})
	}
	// The container's process is not changed by the flags.
	assert.Equal(t, []string{"PATH=/bin", "A=1"}, container.Process.Env)
	assert.Equal(t, []string{"CAP_KILL"}, container.Process.Capabilities.Bounding)
}

// TestExec_UserNamespace: in a container with a user namespace of its
// own, the process joins it first, and is the namespace's root.
func TestExec_UserNamespace(t *testing.T) {
	e := newEnv(t)
	id := labtest.Unique("r3userns")
	spec := baseSpec(labtest.BusyboxRootfs(t), "sleep", "600")
	spec.Linux.Namespaces = append(spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	// The host's IDs, in a namespace of its own: capabilities only over
	// the namespace's objects.
	ids := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 0, Size: 65536}}
	spec.Linux.UIDMappings, spec.Linux.GIDMappings = ids, ids
	c := e.create(spec, id, nil, CreateOptions{})
	require.NoError(t, Start(e.root, id))

	out, err := os.Create(filepath.Join(t.TempDir(), "out"))
	require.NoError(t, err)
	defer out.Close()
	p := testProcess()
	p.Args = []string{"sh", "-c", "readlink /proc/self/ns/user; id -u; echo reopened >> /dev/stdout"}
	status, err := Exec(e.root, id, p, ExecOptions{Stdout: out, Stderr: out})
	require.NoError(t, err)
	b, _ := os.ReadFile(out.Name())
	require.Equal(t, 0, status, string(b))
	userns, err := os.Readlink("/proc/" + strconv.Itoa(c.Init.Pid()) + "/ns/user")
	require.NoError(t, err)
	mine, _ := os.Readlink("/proc/self/ns/user")
	require.NotEqual(t, mine, userns)
	assert.Equal(t, userns+"\n0\nreopened\n", string(b))
}

// An unknown property of exec's process document follows config.json's
// rule, by the container's spec version: ignored with a warning up to
// berth-runtime's version, refused by name beyond it (or without one).
func TestExecProcessUnknownProperty(t *testing.T) {
	var warned []string
	was := Warn
	Warn = func(err error) { warned = append(warned, err.Error()) }
	t.Cleanup(func() { Warn = was })
	doc := []byte(`{"args":["true"],"cwd":"/","newThing":1}`)
	for _, tc := range []struct{ version, err string }{
		{"1.0.2", ""},
		{specs.Version, ""},
		{"1.99.0", `unknown field "newThing"`},
		{"", `unknown field "newThing"`},
	} {
		warned = nil
		p, err := ExecProcess(&specs.Spec{Version: tc.version}, doc, ExecFlags{})
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, tc.version)
			assert.Empty(t, warned)
			continue
		}
		require.NoError(t, err, tc.version)
		assert.Equal(t, []string{"true"}, p.Args)
		require.Len(t, warned, 1)
		assert.Contains(t, warned[0], `unknown field "newThing": ignored`)
	}
}
