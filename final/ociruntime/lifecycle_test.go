package ociruntime

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/01-namespaces/namespace"
)

// create makes a container from spec, with its output into out, and
// reaps its init at the end of the test (the test process is its
// parent, as containerd's shim is the real one's).
func (e *testEnv) create(spec *specs.Spec, id string, out *labtest.Buffer, o CreateOptions) *Container {
	e.t.Helper()
	o.ID = id
	o.Bundle = e.bundle(spec, id)
	if out != nil {
		o.Stdio = &namespace.Stdio{Out: out, Err: out}
	}
	c, err := Create(e.root, o)
	require.NoError(e.t, err)
	e.t.Cleanup(func() {
		_ = Delete(e.root, id, true)
		_, _ = c.Init.Wait()
	})
	return c
}

func (e *testEnv) status(id string) Status {
	e.t.Helper()
	r, err := Load(e.root, id)
	require.NoError(e.t, err)
	return r.Status(e.root)
}

func TestLifecycle(t *testing.T) {
	e := newEnv(t)
	id := labtest.Unique("life")
	pidFile := filepath.Join(t.TempDir(), "pid")
	// The process's stdout is a pipe: its first line says it runs.
	pr, pw, err := os.Pipe()
	require.NoError(t, err)
	defer pr.Close()
	c := e.create(baseSpec(labtest.BusyboxRootfs(t), "sh", "-c", "echo started; exec sleep 1000"), id, nil, CreateOptions{PidFile: pidFile, Stdio: &namespace.Stdio{Out: pw}})
	pw.Close()

	// created: init waits on the exec FIFO, the process has not run.
	b, err := os.ReadFile(pidFile)
	require.NoError(t, err)
	assert.Equal(t, strconv.Itoa(c.Init.Pid()), string(b))
	r, err := Load(e.root, id)
	require.NoError(t, err)
	st := r.State(e.root)
	assert.Equal(t, Created, st.Status)
	assert.Equal(t, c.Init.Pid(), st.Pid)

	require.NoError(t, Start(e.root, id))
	line, err := bufio.NewReader(pr).ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "started\n", line)
	assert.Equal(t, Running, e.status(id))
	assert.NoFileExists(t, filepath.Join(Dir(e.root, id), ExecFifo))
	require.ErrorContains(t, Start(e.root, id), "cannot start a container that is running")
	require.ErrorContains(t, Delete(e.root, id, false), "cannot delete a container that is running")

	list, err := List(e.root)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, id, list[0].ID)

	require.NoError(t, Kill(e.root, id, unix.SIGKILL, false))
	status, err := c.Init.Wait()
	require.NoError(t, err)
	assert.Equal(t, 128+int(unix.SIGKILL), status)
	st = r.State(e.root)
	assert.Equal(t, Stopped, st.Status)
	assert.Equal(t, c.Init.Pid(), st.Pid, "a stopped container's pid is still its init's")
	require.ErrorContains(t, Kill(e.root, id, unix.SIGTERM, false), "container not running")

	require.NoError(t, Delete(e.root, id, false))
	_, err = Load(e.root, id)
	require.ErrorIs(t, err, ErrNotExist)
	assert.NoDirExists(t, Dir(e.root, id))
	e.cgroupGone(r.CgroupPaths)
}

// A created container is deleted without --force: its process never
// ran, and init goes with the container.
func TestDeleteCreated(t *testing.T) {
	e := newEnv(t)
	id := labtest.Unique("created")
	c := e.create(baseSpec(labtest.BusyboxRootfs(t), "true"), id, nil, CreateOptions{})
	r, err := Load(e.root, id)
	require.NoError(t, err)
	require.NoError(t, Delete(e.root, id, false))
	_, err = c.Init.Wait()
	require.NoError(t, err)
	assert.NoDirExists(t, Dir(e.root, id))
	e.cgroupGone(r.CgroupPaths)
}

func TestKillAll(t *testing.T) {
	e := newEnv(t)
	id := labtest.Unique("killall")
	c := e.create(baseSpec(labtest.BusyboxRootfs(t), "sh", "-c", "sleep 1000 & exec sleep 1000"), id, nil, CreateOptions{})
	require.NoError(t, Start(e.root, id))
	require.NoError(t, Kill(e.root, id, unix.SIGKILL, true))
	status, err := c.Init.Wait()
	require.NoError(t, err)
	assert.Equal(t, 128+int(unix.SIGKILL), status)
	// Stopped now: --all finds no one, and says so as runc does, with
	// success (containerd's shim asks it of every container that
	// exits); the plain kill is refused.
	require.NoError(t, Kill(e.root, id, unix.SIGKILL, true), "kill --all of a stopped container")
	require.ErrorIs(t, Kill(e.root, id, unix.SIGKILL, false), errNotRunning)
	require.NoError(t, Delete(e.root, id, false))
}

// The state must not take a PID for the container's init only because
// the number is alive: init killed from outside the runtime is stopped,
// and so is a record whose PID now belongs to another process.
func TestKilledInitIsStopped(t *testing.T) {
	e := newEnv(t)
	id := labtest.Unique("reuse")
	c := e.create(baseSpec(labtest.BusyboxRootfs(t), "sleep", "1000"), id, nil, CreateOptions{})
	require.NoError(t, Start(e.root, id))
	require.NoError(t, unix.Kill(c.Init.Pid(), unix.SIGKILL))
	_, err := c.Init.Wait()
	require.NoError(t, err)
	assert.Equal(t, Stopped, e.status(id))

	// The same record with a PID that lives, but started at another
	// time: the test process itself.
	r, err := Load(e.root, id)
	require.NoError(t, err)
	r.Pid = os.Getpid()
	assert.Equal(t, Stopped, r.Status(e.root))
	require.ErrorContains(t, Kill(e.root, id, unix.SIGTERM, false), "container not running")
	require.NoError(t, Delete(e.root, id, false))
}

func TestRunExitStatus(t *testing.T) {
	e := newEnv(t)
	rootfs := labtest.BusyboxRootfs(t)
	for _, tc := range []struct {
		name   string
		args   []string
		status int
		out    string
	}{
		{"true", []string{"true"}, 0, ""},
		{"exit 3", []string{"sh", "-c", "echo out; echo err >&2; exit 3"}, 3, "out\nerr\n"},
		{"hostname", []string{"hostname"}, 0, "berth\n"},
		{"pid 1", []string{"sh", "-c", "echo $$"}, 0, "1\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := labtest.Unique("run")
			var out labtest.Buffer
			o := RunOptions{CreateOptions: CreateOptions{ID: id, Bundle: e.bundle(baseSpec(rootfs, tc.args...), id), Stdio: &namespace.Stdio{Out: &out, Err: &out}}}
			status, err := Run(e.root, o)
			require.NoError(t, err)
			assert.Equal(t, tc.status, status)
			assert.Equal(t, tc.out, out.String())
			assert.NoDirExists(t, Dir(e.root, id), "run deletes the container")
		})
	}
}

func TestCreateFails(t *testing.T) {
	e := newEnv(t)
	rootfs := labtest.BusyboxRootfs(t)
	for _, tc := range []struct {
		name string
		id   string
		spec *specs.Spec
		want string
	}{
		{"no such command", "", baseSpec(rootfs, "no-such-command"), "process.args[0]: no-such-command: executable file not found"},
		{"bad id", "../x", baseSpec(rootfs, "true"), `container id "../x"`},
		{"refused field", "", func() *specs.Spec { s := baseSpec(rootfs, "true"); s.Linux.IntelRdt = &specs.LinuxIntelRdt{}; return s }(), "linux.intelRdt: not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := tc.id
			if id == "" {
				id = labtest.Unique("fail")
			}
			_, err := Create(e.root, CreateOptions{ID: id, Bundle: e.bundle(tc.spec, "x")})
			require.ErrorContains(t, err, tc.want)
			// Nothing is left: no state directory, no cgroup.
			entries, _ := os.ReadDir(e.root)
			assert.Empty(t, entries)
		})
	}
}

// This machine refuses a negative oom_score_adj even to root; the error
// must say which field asked for it.
func TestNegativeOOMScoreAdj(t *testing.T) {
	e := newEnv(t)
	if os.WriteFile("/proc/self/oom_score_adj", []byte("-1"), 0) == nil {
		_ = os.WriteFile("/proc/self/oom_score_adj", []byte("0"), 0)
		t.Skip("this host allows a negative oom_score_adj")
	}
	s := baseSpec(labtest.BusyboxRootfs(t), "true")
	adj := -998
	s.Process.OOMScoreAdj = &adj
	id := labtest.Unique("oom")
	_, err := Create(e.root, CreateOptions{ID: id, Bundle: e.bundle(s, id)})
	require.ErrorContains(t, err, "process.oomScoreAdj -998: this host refuses a negative oom_score_adj")
}

// TestHooks checks each kind of hook's place, what it gets on stdin and
// in its environment, and where it runs (createContainer in the
// container's UTS namespace, startContainer inside its root).
func TestHooks(t *testing.T) {
	e := newEnv(t)
	rootfs := labtest.CopyRootfs(t)
	log := filepath.Join(rootfs, "hooks.log")
	hook := func(kind, logPath string) specs.Hook {
		// Each hook logs its kind, the hostname it sees, $X and its
		// stdin (the state), one line.
		return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", `echo "` + kind + ` $(hostname) $X $(cat)" >> ` + logPath}, Env: []string{"X=x-" + kind}}
	}
	// The process's own line goes elsewhere: it runs beside the
	// poststart hooks, in no set order.
	spec := baseSpec(rootfs, "sh", "-c", "echo process $(hostname) > /process.log")
	spec.Hooks = &specs.Hooks{
		Prestart:        []specs.Hook{hook("prestart", log)},
		CreateRuntime:   []specs.Hook{hook("createRuntime", log)},
		CreateContainer: []specs.Hook{hook("createContainer", log)},
		StartContainer:  []specs.Hook{hook("startContainer", "/hooks.log")},
		Poststart:       []specs.Hook{hook("poststart", log)},
		Poststop:        []specs.Hook{hook("poststop", log)},
	}
	id := labtest.Unique("hooks")
	c := e.create(spec, id, nil, CreateOptions{})
	require.NoError(t, Start(e.root, id))
	_, err := c.Init.Wait()
	require.NoError(t, err)
	require.NoError(t, Delete(e.root, id, false))

	b, err := os.ReadFile(log)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	require.Len(t, lines, 6, string(b))
	host, _ := os.Hostname()
	for i, want := range []struct{ kind, hostname, status string }{
		{"prestart", host, "creating"},
		{"createRuntime", host, "creating"},
		{"createContainer", "berth", "creating"},
		{"startContainer", "berth", "created"},
		{"poststart", host, "running"},
		{"poststop", host, "stopped"},
	} {
		f := strings.SplitN(lines[i], " ", 4)
		require.Equal(t, want.kind, f[0], lines[i])
		assert.Equal(t, want.hostname, f[1], lines[i])
		assert.Equal(t, "x-"+want.kind, f[2])
		var st specs.State
		require.NoError(t, json.Unmarshal([]byte(f[3]), &st), lines[i])
		assert.Equal(t, id, st.ID)
		assert.Equal(t, want.status, string(st.Status), lines[i])
		if want.kind != "poststop" {
			assert.Equal(t, c.Init.Pid(), st.Pid, lines[i])
		}
	}
	b, err = os.ReadFile(filepath.Join(rootfs, "process.log"))
	require.NoError(t, err)
	assert.Equal(t, "process berth\n", string(b))
}

func TestHookFailureFailsCreate(t *testing.T) {
	e := newEnv(t)
	rootfs := labtest.BusyboxRootfs(t)
	for _, kind := range []string{"createRuntime", "createContainer"} {
		t.Run(kind, func(t *testing.T) {
			spec := baseSpec(rootfs, "true")
			bad := []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "echo no way >&2; exit 1"}}}
			spec.Hooks = &specs.Hooks{}
			if kind == "createRuntime" {
				spec.Hooks.CreateRuntime = bad
			} else {
				spec.Hooks.CreateContainer = bad
			}
			id := labtest.Unique("hookfail")
			_, err := Create(e.root, CreateOptions{ID: id, Bundle: e.bundle(spec, id)})
			require.ErrorContains(t, err, "hooks."+kind+"[0] /bin/sh: exit status 1: no way")
			assert.NoDirExists(t, Dir(e.root, id))
		})
	}
}

func TestHookTimeout(t *testing.T) {
	e := newEnv(t)
	spec := baseSpec(labtest.BusyboxRootfs(t), "true")
	one := 1
	spec.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "exec sleep 100"}, Timeout: &one}}}
	id := labtest.Unique("timeout")
	_, err := Create(e.root, CreateOptions{ID: id, Bundle: e.bundle(spec, id)})
	require.ErrorContains(t, err, "timed out after 1s")
}

// TestConsoleSocket plays containerd's shim: it listens on a socket,
// creates a container with a terminal, and receives the terminal's
// master, on which the process's output comes.
// TestConsoleSocket: the terminal comes from the container's own devpts
// and is bound onto /dev/console; in the runtime's mount namespace that
// bind is one of the host's mounts, which delete takes away again
// (newEnv checks).
func TestConsoleSocket(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name string
		spec func() *specs.Spec
	}{
		{"own mount namespace", func() *specs.Spec { return baseSpec(labtest.BusyboxRootfs(t), "sh", "-c", "tty; stty size") }},
		{"no mount namespace", func() *specs.Spec { return noMountNamespace(t, "sh", "-c", "tty; stty size") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sock := filepath.Join(t.TempDir(), "console.sock")
			l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
			require.NoError(t, err)
			defer l.Close()
			spec := tc.spec()
			spec.Process.Terminal = true
			spec.Process.ConsoleSize = &specs.Box{Height: 33, Width: 77}
			id := labtest.Unique("console")

			got := make(chan *os.File, 1)
			go func() {
				conn, err := l.AcceptUnix()
				if err != nil {
					got <- nil
					return
				}
				defer conn.Close()
				buf, oob := make([]byte, 64), make([]byte, unix.CmsgSpace(4))
				_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
				if err != nil {
					got <- nil
					return
				}
				msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
				if len(msgs) != 1 {
					got <- nil
					return
				}
				fds, _ := unix.ParseUnixRights(&msgs[0])
				got <- os.NewFile(uintptr(fds[0]), "master")
			}()
			c := e.create(spec, id, nil, CreateOptions{ConsoleSocket: sock})
			master := <-got
			require.NotNil(t, master, "no terminal came on the console socket")
			defer master.Close()
			require.NoError(t, Start(e.root, id))
			_, err = c.Init.Wait()
			require.NoError(t, err)
			// The slave is closed with the process: read to the end (EIO).
			var out []byte
			buf := make([]byte, 256)
			for {
				n, err := master.Read(buf)
				out = append(out, buf[:n]...)
				if err != nil {
					break
				}
			}
			assert.Equal(t, "/dev/pts/0\r\n33 77\r\n", string(out))
			require.NoError(t, Delete(e.root, id, false))
		})
	}
}

func TestStateOfUnknownContainer(t *testing.T) {
	_, err := Load(t.TempDir(), "nothing")
	require.True(t, errors.Is(err, ErrNotExist))
	require.NoError(t, Delete(t.TempDir(), "nothing", true), "delete --force of what does not exist")
	require.ErrorIs(t, Delete(t.TempDir(), "nothing", false), ErrNotExist)
}

// TestJoinNamespaces: a second container joins the first one's
// namespaces by path (linux.namespaces[].path), as a Kubernetes pod's
// containers join its sandbox's.
func TestJoinNamespaces(t *testing.T) {
	e := newEnv(t)
	rootfs := labtest.BusyboxRootfs(t)
	sandbox := baseSpec(rootfs, "sleep", "1000")
	sandbox.Linux.Namespaces = append(sandbox.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	sid := labtest.Unique("sandbox")
	sc := e.create(sandbox, sid, nil, CreateOptions{})
	require.NoError(t, Start(e.root, sid))
	pid := sc.Init.Pid()

	kinds := []string{"net", "ipc", "uts", "pid", "cgroup"}
	var want []string
	for _, k := range kinds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, k))
		require.NoError(t, err)
		want = append(want, link)
	}
	member := baseSpec(rootfs, "sh", "-c", "for k in "+strings.Join(kinds, " ")+"; do readlink /proc/self/ns/$k; done; hostname")
	member.Hostname = ""
	member.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.MountNamespace}}
	for _, k := range []specs.LinuxNamespaceType{specs.NetworkNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.PIDNamespace, specs.CgroupNamespace} {
		name := map[specs.LinuxNamespaceType]string{specs.NetworkNamespace: "net"}[k]
		if name == "" {
			name = string(k)
		}
		member.Linux.Namespaces = append(member.Linux.Namespaces, specs.LinuxNamespace{Type: k, Path: fmt.Sprintf("/proc/%d/ns/%s", pid, name)})
	}
	mid := labtest.Unique("member")
	var out labtest.Buffer
	mc := e.create(member, mid, &out, CreateOptions{})
	require.NoError(t, Start(e.root, mid))
	status, err := mc.Init.Wait()
	require.NoError(t, err)
	require.Equal(t, 0, status, out.String())
	assert.Equal(t, strings.Join(want, "\n")+"\nberth\n", out.String())
	require.NoError(t, Delete(e.root, mid, false))
	require.NoError(t, Delete(e.root, sid, true))
}

// TestUserNamespace: linux.uidMappings and gidMappings, and the exec
// FIFO opened by a container root that is an unprivileged host uid.
func TestUserNamespace(t *testing.T) {
	e := newEnv(t)
	spec := baseSpec(labtest.BusyboxRootfs(t), "sh", "-c", "id -u; cat /proc/self/uid_map /proc/self/gid_map")
	spec.Linux.Namespaces = append(spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	spec.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	spec.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 1000}}
	id := labtest.Unique("userns")
	var out labtest.Buffer
	c := e.create(spec, id, &out, CreateOptions{})
	var st unix.Stat_t
	require.NoError(t, unix.Stat(fmt.Sprintf("/proc/%d", c.Init.Pid()), &st))
	assert.Equal(t, uint32(100000), st.Uid, "init runs as the mapped root")
	require.NoError(t, Start(e.root, id))
	status, err := c.Init.Wait()
	require.NoError(t, err)
	require.Equal(t, 0, status, out.String())
	assert.Equal(t, []string{"0", "0 100000 65536", "0 200000 1000"}, fields(out.String()))
	require.NoError(t, Delete(e.root, id, false))
}

// fields is s's lines with their runs of blanks made one space.
func fields(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		out = append(out, strings.Join(strings.Fields(l), " "))
	}
	return out
}

// A one-element linux.cgroupsPath ("/NAME") puts the container's cgroup
// directly under each hierarchy's root, as runc does (runtime-tools'
// cgroup programs use "/cgrouptest"); delete removes it.
func TestCgroupAtTheHierarchiesRoot(t *testing.T) {
	e := newEnv(t)
	id := labtest.Unique("cgroot")
	name := labtest.Unique("berth-test-cg")
	spec := baseSpec(labtest.BusyboxRootfs(t), "cat", "/proc/self/cgroup")
	spec.Linux.CgroupsPath = "/" + name
	var out labtest.Buffer
	c := e.create(spec, id, &out, CreateOptions{})
	r, err := Load(e.root, id)
	require.NoError(t, err)
	require.NotEmpty(t, r.CgroupPaths)
	for _, dir := range r.CgroupPaths {
		assert.Equal(t, name, filepath.Base(dir), dir)
		assert.True(t, strings.HasPrefix(filepath.Dir(dir), "/sys/fs/cgroup"), dir)
		assert.NotContains(t, filepath.Dir(dir), DefaultCgroupParent, dir)
	}
	require.NoError(t, Start(e.root, id))
	_, _ = c.Init.Wait()
	require.NoError(t, Delete(e.root, id, false))
	for _, dir := range r.CgroupPaths {
		assert.NoDirExists(t, dir)
	}
}

// TestHostUTS: a bundle without a uts namespace shares the host's
// (containerd gives hostNetwork pods the host's), and cannot set it.
func TestHostUTS(t *testing.T) {
	e := newEnv(t)
	spec := baseSpec(labtest.BusyboxRootfs(t), "hostname")
	spec.Hostname = ""
	spec.Linux.Namespaces = without(spec, specs.UTSNamespace)
	id := labtest.Unique("hostuts")
	var out labtest.Buffer
	status, err := Run(e.root, RunOptions{CreateOptions: CreateOptions{ID: id, Bundle: e.bundle(spec, id), Stdio: &namespace.Stdio{Out: &out, Err: &out}}})
	require.NoError(t, err)
	require.Equal(t, 0, status, out.String())
	host, err := os.Hostname()
	require.NoError(t, err)
	assert.Equal(t, host+"\n", out.String())
}

// TestMountPropagation: a mount the host makes under a shared directory
// after the container started reaches the container's rslave volume of
// it, as under runc (the container's mounts are a slave of the host's,
// not private): Kubernetes' HostToContainer propagation.
func TestMountPropagation(t *testing.T) {
	e := newEnv(t)
	shared := t.TempDir()
	require.NoError(t, unix.Mount(shared, shared, "", unix.MS_BIND, ""))
	t.Cleanup(func() { _ = unix.Unmount(shared, unix.MNT_DETACH) })
	require.NoError(t, unix.Mount("", shared, "", unix.MS_SHARED, ""))
	require.NoError(t, os.Mkdir(filepath.Join(shared, "later"), 0o755))

	spec := baseSpec(labtest.BusyboxRootfs(t), "sh", "-c", "echo ready; read go; cat /vol/later/file")
	spec.Mounts = append(spec.Mounts, specs.Mount{Destination: "/vol", Type: "bind", Source: shared, Options: []string{"rbind", "rslave"}})
	id := labtest.Unique("propagation")
	in, inW, err := os.Pipe()
	require.NoError(t, err)
	defer inW.Close()
	outR, outW, err := os.Pipe()
	require.NoError(t, err)
	defer outR.Close()
	c := e.create(spec, id, nil, CreateOptions{Stdio: &namespace.Stdio{In: in, Out: outW, Err: outW}})
	in.Close()
	outW.Close()
	require.NoError(t, Start(e.root, id))
	r := bufio.NewReader(outR)
	line, err := r.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "ready\n", line)

	// The host mounts after the container's mounts are made.
	later := filepath.Join(shared, "later")
	require.NoError(t, unix.Mount("tmpfs", later, "tmpfs", 0, "size=64k"))
	t.Cleanup(func() { _ = unix.Unmount(later, unix.MNT_DETACH) })
	require.NoError(t, os.WriteFile(filepath.Join(later, "file"), []byte("from the host\n"), 0o644))
	_, err = inW.WriteString("go\n")
	require.NoError(t, err)
	line, err = r.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "from the host\n", line)
	_, err = c.Init.Wait()
	require.NoError(t, err)
	require.NoError(t, Delete(e.root, id, false))
}

// A hostname with a uts namespace joined by path is set in that
// namespace, as runc does: containerd's CRI gives every container of a
// pod the pod's hostname and the pod's uts namespace.
func TestHostnameInAJoinedUTSNamespace(t *testing.T) {
	e := newEnv(t)
	rootfs := labtest.BusyboxRootfs(t)
	first := labtest.Unique("uts-a")
	spec := baseSpec(rootfs, "sleep", "1000")
	spec.Hostname = "pod"
	a := e.create(spec, first, nil, CreateOptions{})
	require.NoError(t, Start(e.root, first))

	second := labtest.Unique("uts-b")
	spec = baseSpec(rootfs, "hostname")
	spec.Hostname = "pod-again"
	for i, n := range spec.Linux.Namespaces {
		if n.Type == specs.UTSNamespace {
			spec.Linux.Namespaces[i].Path = "/proc/" + strconv.Itoa(a.Init.Pid()) + "/ns/uts"
		}
	}
	var out labtest.Buffer
	o := RunOptions{CreateOptions: CreateOptions{ID: second, Bundle: e.bundle(spec, second), Stdio: &namespace.Stdio{Out: &out, Err: &out}}}
	status, err := Run(e.root, o)
	require.NoError(t, err)
	assert.Equal(t, 0, status)
	assert.Equal(t, "pod-again\n", out.String())
	host, err := os.Hostname()
	require.NoError(t, err)
	assert.NotEqual(t, "pod-again", host, "the host's hostname is its own")
}

// What dockerd's bundles ask that a plain one does not: a process of
// another user, which opens the exec FIFO after its user switch (the
// FIFO's mode must survive the umask), and oomScoreAdj 0 while the
// caller's score is another (dockerd sends 0; containerd's shim runs
// at 1): 0 means 0, not the caller's.
func TestDockerdsBundles(t *testing.T) {
	e := newEnv(t)
	rootfs := labtest.BusyboxRootfs(t)
	old, err := os.ReadFile("/proc/self/oom_score_adj")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile("/proc/self/oom_score_adj", []byte("3"), 0))
	t.Cleanup(func() { _ = os.WriteFile("/proc/self/oom_score_adj", old, 0) })
	zero := 0
	spec := baseSpec(rootfs, "sh", "-c", "id -u; cat /proc/self/oom_score_adj")
	spec.Process.User = specs.User{UID: 65534, GID: 65534}
	spec.Process.OOMScoreAdj = &zero
	id := labtest.Unique("dockerd-like")
	var out labtest.Buffer
	status, err := Run(e.root, RunOptions{CreateOptions: CreateOptions{ID: id, Bundle: e.bundle(spec, id), Stdio: &namespace.Stdio{Out: &out, Err: &out}}})
	require.NoError(t, err)
	assert.Equal(t, 0, status, out.String())
	assert.Equal(t, "65534\n0\n", out.String())
}

// TestJoinMountNamespace: linux.namespaces' mount namespace with a path
// is joined (the conformance suite's linux_ns_path): the container's
// mounts and pivot_root happen in it, not in a new one.
func TestJoinMountNamespace(t *testing.T) {
	e := newEnv(t)
	// The container's own rootfs, mounted before the namespace below
	// copies the host's mount table.
	rootfs := ownRootfs(t, labtest.BusyboxRootfs(t))
	// A mount namespace of its own, held by a process, a copy of the
	// host's (so that the rootfs is there) cut off from it.
	// It says so once it is in it.
	holder := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", "echo in; exec sleep 1000")
	stdout, err := holder.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, holder.Start())
	t.Cleanup(func() { _ = holder.Process.Kill(); _ = holder.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "in\n", line)
	mnt := fmt.Sprintf("/proc/%d/ns/mnt", holder.Process.Pid)
	want, err := os.Readlink(mnt)
	require.NoError(t, err)
	self, err := os.Readlink("/proc/self/ns/mnt")
	require.NoError(t, err)
	require.NotEqual(t, self, want)

	spec := baseSpec(rootfs, "readlink", "/proc/self/ns/mnt")
	for i, n := range spec.Linux.Namespaces {
		if n.Type == specs.MountNamespace {
			spec.Linux.Namespaces[i].Path = mnt
		}
	}
	id := labtest.Unique("joinmnt")
	var out labtest.Buffer
	status, err := Run(e.root, RunOptions{CreateOptions: CreateOptions{ID: id, Bundle: e.bundle(spec, id), Stdio: &namespace.Stdio{Out: &out, Err: &out}}})
	require.NoError(t, err)
	require.Equal(t, 0, status, out.String())
	assert.Equal(t, want+"\n", out.String())
}

// process.rlimits are the process's, set as late as runc sets them
// (init.go, step 7), so that init's own setup, a Go runtime's, does not
// run under them: the conformance suite once saw "runtime: cannot
// allocate memory" at create with its 1 GiB address space. (Which
// allocation of init's hits the limit depends on the moment; this test
// checks what the process gets.)
func TestRlimitsAreTheProcesssNotInits(t *testing.T) {
	e := newEnv(t)
	spec := baseSpec(labtest.BusyboxRootfs(t), "sh", "-c", "ulimit -v; ulimit -n")
	spec.Process.Rlimits = []specs.POSIXRlimit{
		{Type: "RLIMIT_AS", Hard: 16 << 20, Soft: 16 << 20},
		{Type: "RLIMIT_NOFILE", Hard: 64, Soft: 64},
	}
	id := labtest.Unique("rlimits")
	var out labtest.Buffer
	status, err := Run(e.root, RunOptions{CreateOptions: CreateOptions{ID: id, Bundle: e.bundle(spec, id), Stdio: &namespace.Stdio{Out: &out, Err: &out}}})
	require.NoError(t, err)
	assert.Equal(t, 0, status, out.String())
	assert.Equal(t, "16384\n64\n", out.String())
}
