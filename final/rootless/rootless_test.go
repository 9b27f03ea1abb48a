package rootless_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/final/rootless"
)

// The test runs as root and plays an ordinary user: it creates one
// (useradd gives it a range of /etc/subuid and /etc/subgid), starts
// berthd --rootless as that user, and drives it with the docker CLI as
// that user. Everything goes at the end: the user's processes, its home
// (its data root), its lines of /etc/subuid and /etc/subgid, the user.

// rootlessUser is the user the test created, and the environment its
// commands get.
type rootlessUser struct {
	name     string
	uid, gid int
	home     string
	run      string // XDG_RUNTIME_DIR
	bin      string // berthd, built for the test
}

// env is the user's environment: a login's, with the daemon's socket.
func (u *rootlessUser) env() []string {
	return []string{
		"HOME=" + u.home, "USER=" + u.name, "LOGNAME=" + u.name,
		"XDG_RUNTIME_DIR=" + u.run,
		"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
		"DOCKER_HOST=unix://" + filepath.Join(u.run, "berth", "berth.sock"),
	}
}

// command is name args run as the user, with the groups a login gives
// it (initgroups: its own).
func (u *rootlessUser) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = u.env()
	cmd.Dir = u.home
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(u.uid), Gid: uint32(u.gid), Groups: []uint32{uint32(u.gid)}}}
	return cmd
}

// docker runs the docker CLI as the user, returning stdout, stderr and
// the exit code.
func (u *rootlessUser) docker(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := u.command("docker", args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("docker %v: %v", args, err)
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

// ok runs docker as the user and requires it to succeed.
func (u *rootlessUser) ok(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := u.docker(t, args...)
	require.Equal(t, 0, code, "docker %v: %s", args, errOut)
	return out
}

// newUser creates the user, with its home and runtime directory, and
// removes it all at the end of the test.
func newUser(t *testing.T) *rootlessUser {
	t.Helper()
	name := labtest.Unique("brl")
	before := map[string][]byte{}
	for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
		data, err := os.ReadFile(f)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		before[f] = data
	}
	out, err := exec.Command("useradd", "--create-home", "--shell", "/bin/sh", name).CombinedOutput()
	require.NoError(t, err, "useradd: %s", out)
	t.Cleanup(func() { removeUser(t, name, before) })
	pw, err := user.Lookup(name)
	require.NoError(t, err)
	u := &rootlessUser{name: name, home: pw.HomeDir}
	u.uid, _ = strconv.Atoi(pw.Uid)
	u.gid, _ = strconv.Atoi(pw.Gid)
	// useradd gives a new user a range of subordinate IDs
	// (SUB_UID_COUNT in /etc/login.defs); berthd needs one.
	if _, err := rootless.SubIDs("/etc/subuid", name, u.uid); err != nil {
		out, err := exec.Command("usermod", "--add-subuids", "900000000-900065535", "--add-subgids", "900000000-900065535", name).CombinedOutput()
		require.NoError(t, err, "usermod: %s", out)
	}
	// A login session's /run/user/UID, in /tmp: short, for the socket.
	u.run, err = os.MkdirTemp("", "brl-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(u.run) })
	require.NoError(t, os.Chown(u.run, u.uid, u.gid))
	return u
}

// removeUser ends the user's processes, removes it and its home, and
// leaves /etc/subuid and /etc/subgid as they were before: without its
// lines (userdel removes them; whatever another test added meanwhile
// stays).
func removeUser(t *testing.T, name string, before map[string][]byte) {
	pw, err := user.Lookup(name)
	if err == nil {
		uid, _ := strconv.Atoi(pw.Uid)
		killUser(t, uid)
		if out, err := exec.Command("userdel", "--remove", name).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v: %s", name, err, out)
		}
		// userdel leaves what it does not own: the layers' files,
		// owned by the user's subordinate IDs.
		assert.NoError(t, os.RemoveAll(pw.HomeDir))
	}
	for f, old := range before {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var kept []string
		for _, line := range strings.SplitAfter(string(data), "\n") {
			if !strings.HasPrefix(line, name+":") {
				kept = append(kept, line)
			}
		}
		if now := strings.Join(kept, ""); now != string(data) {
			assert.NoError(t, os.WriteFile(f, []byte(now), 0o644))
		}
		if data, _ := os.ReadFile(f); !bytes.Equal(data, old) {
			t.Logf("%s differs from before the test, by another's lines: %q", f, data)
		}
	}
}

// killUser kills every process of uid, by PID, and waits until none is
// left.
func killUser(t *testing.T, uid int) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids := userPIDs(uid)
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("processes of uid %d left: %v", uid, pids)
			return
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// userPIDs are the processes whose real uid is uid (zombies included:
// they still count for userdel).
func userPIDs(uid int) []int { return pidsOf(uid, true) }

// pidsOf are the processes whose real uid is uid, with or without the
// zombies.
func pidsOf(uid int, zombies bool) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "status"))
		if err != nil {
			continue
		}
		var mine, zombie bool
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			mine = mine || (len(f) > 1 && f[0] == "Uid:" && f[1] == strconv.Itoa(uid))
			zombie = zombie || (len(f) > 1 && f[0] == "State:" && f[1] == "Z")
		}
		if mine && (zombies || !zombie) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// openTun makes /dev/net/tun usable by ordinary users, as Debian's udev
// rules do (mode 0666), if it is not, and puts its mode back at the end.
func openTun(t *testing.T) {
	fi, err := os.Stat("/dev/net/tun")
	labtest.Need(t, err == nil, "no /dev/net/tun for slirp4netns")
	mode := fi.Mode().Perm()
	if mode&0o006 == 0o006 {
		return
	}
	require.NoError(t, os.Chmod("/dev/net/tun", 0o666))
	t.Cleanup(func() { assert.NoError(t, os.Chmod("/dev/net/tun", mode)) })
}

// built is berthd, built once for the tests of the package, in a
// directory the users can read; TestMain removes it.
var built struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// buildBerthd builds berthd, the first time, into a directory the user
// can read.
func buildBerthd(t *testing.T) string {
	t.Helper()
	root := labtest.RootDir(t)
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "brl-bin-"); built.err != nil {
			return
		}
		if built.err = os.Chmod(built.dir, 0o755); built.err != nil {
			return
		}
		built.bin = filepath.Join(built.dir, "berthd")
		build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", built.bin, "github.com/berth-project/berth/final/cmd/berthd")
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %w: %s", err, out)
		}
	})
	require.NoError(t, built.err)
	return built.bin
}

// startBerthd starts berthd --rootless as the user, with args, and waits
// until it answers. It returns a function that stops it with a signal
// and waits for its end; the end of the test stops it with SIGTERM,
// after removing the containers and networks left.
func (u *rootlessUser) startBerthd(t *testing.T, args ...string) (stop func(syscall.Signal)) {
	t.Helper()
	cmd := u.command(u.bin, append([]string{"--rootless"}, args...)...)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("berthd's log:\n%s", log.String())
		}
	})
	stopped := false
	stop = func(sig syscall.Signal) {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(sig)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Errorf("berthd did not stop on SIGTERM")
		}
	}
	t.Cleanup(func() {
		if !stopped {
			if ids := strings.Fields(u.ok(t, "ps", "-aq")); len(ids) > 0 {
				u.ok(t, append([]string{"rm", "-f"}, ids...)...)
			}
			if nets := strings.Fields(u.ok(t, "network", "ls", "-q", "--filter", "type=custom")); len(nets) > 0 {
				u.ok(t, append([]string{"network", "rm"}, nets...)...)
			}
		}
		stop(syscall.SIGTERM)
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, _, code := u.docker(t, "version"); code == 0 {
			return stop
		}
		select {
		case <-exited:
			t.Fatalf("berthd --rootless exited: %s", log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("berthd --rootless does not answer: %s", log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// importBusybox imports the course's busybox as the user's busybox:latest,
// through the user's daemon: its files are then owned by IDs of the
// user's namespace.
func (u *rootlessUser) importBusybox(t *testing.T) {
	t.Helper()
	data, err := os.ReadFile(labtest.BusyboxRootfs(t) + ".tar")
	require.NoError(t, err)
	tar := filepath.Join(u.run, "busybox.tar")
	require.NoError(t, os.WriteFile(tar, data, 0o644))
	u.ok(t, "import", tar, "busybox:latest")
	require.NoError(t, os.Remove(tar))
}

// hostPort returns a TCP port of 127.0.0.1 that nothing on the host
// listens on now.
func hostPort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestRootless runs berthd as an ordinary user, with slirp4netns, and
// checks from inside the containers what it gives and what it refuses.
func TestRootless(t *testing.T) {
	labtest.Privileged(t)
	for _, tool := range []string{"newuidmap", "newgidmap", "slirp4netns", "docker", "useradd"} {
		_, err := exec.LookPath(tool)
		labtest.Need(t, err == nil, tool+" is not installed (scripts/deps)")
	}
	openTun(t)
	u := newUser(t)
	u.bin = buildBerthd(t)
	u.startBerthd(t)
	u.importBusybox(t)
	sub, err := rootless.SubIDs("/etc/subuid", u.name, u.uid)
	require.NoError(t, err)

	t.Run("root inside, the user outside", func(t *testing.T) {
		assert.Equal(t, "uid=0(root) gid=0(root) groups=0(root)\n", u.ok(t, "run", "--rm", "busybox", "id"))
		// The container is in the daemon's user namespace: 0 is the
		// user, 1.. the user's subordinate range.
		want := fmt.Sprintf("0 %d 1\n1 %d %d\n", u.uid, sub.Start, sub.Count)
		assert.Equal(t, want, fields(u.ok(t, "run", "--rm", "busybox", "cat", "/proc/self/uid_map")))
	})

	t.Run("a bind-mounted file is the user's", func(t *testing.T) {
		dir := filepath.Join(u.home, "shared")
		require.NoError(t, os.Mkdir(dir, 0o755))
		require.NoError(t, os.Chown(dir, u.uid, u.gid))
		u.ok(t, "run", "--rm", "-v", dir+":/shared", "busybox", "sh", "-c", "echo hi > /shared/f")
		fi, err := os.Stat(filepath.Join(dir, "f"))
		require.NoError(t, err)
		st := fi.Sys().(*syscall.Stat_t)
		assert.Equal(t, []int{u.uid, u.gid}, []int{int(st.Uid), int(st.Gid)})
	})

	t.Run("what needs a cgroup is refused", func(t *testing.T) {
		for _, tc := range []struct{ flag, value string }{
			{"--memory", "10m"}, {"--cpus", "0.5"}, {"--pids-limit", "10"},
		} {
			_, errOut, code := u.docker(t, "run", "--rm", tc.flag, tc.value, "busybox", "true")
			assert.Equal(t, 125, code, tc.flag)
			assert.Contains(t, errOut, tc.flag+" needs a cgroup", tc.flag)
		}
		u.ok(t, "run", "-d", "--name", "sleeper", "busybox", "sleep", "600")
		_, errOut, code := u.docker(t, "pause", "sleeper")
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, "pause needs a cgroup")
		_, errOut, code = u.docker(t, "commit", "sleeper", "snapshot")
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, "commit's pause (commit --pause=false copies the container running) needs a cgroup")
		u.ok(t, "commit", "--pause=false", "sleeper", "snapshot")
		u.ok(t, "rm", "-f", "sleeper")
		u.ok(t, "rmi", "snapshot")
		assert.Contains(t, u.ok(t, "info", "--format", "{{json .SecurityOptions}}"), "name=rootless")
	})

	t.Run("networks", func(t *testing.T) {
		assert.Equal(t, "lo\n", linkNames(u.ok(t, "run", "--rm", "--network", "none", "busybox", "ip", "-o", "link")))
		assert.Equal(t, "eth0\nlo\n", linkNames(u.ok(t, "run", "--rm", "busybox", "ip", "-o", "link")))
		// The host network is berthd's namespace: slirp4netns's tap.
		assert.Contains(t, linkNames(u.ok(t, "run", "--rm", "--network", "host", "busybox", "ip", "-o", "link")), "tap0\n")
		u.ok(t, "network", "create", "rlnet")
		u.ok(t, "run", "-d", "--name", "peer", "--network", "rlnet", "busybox", "sleep", "600")
		u.ok(t, "run", "--rm", "--network", "rlnet", "busybox", "ping", "-c", "1", "-W", "5", "peer")
		u.ok(t, "rm", "-f", "peer")
		u.ok(t, "network", "rm", "rlnet")
	})

	t.Run("a published port reaches the host's 127.0.0.1", func(t *testing.T) {
		port := hostPort(t)
		u.ok(t, "run", "-d", "--name", "web", "-p", fmt.Sprintf("127.0.0.1:%d:80", port), "busybox",
			"sh", "-c", "mkdir /www && echo hello from rootless > /www/index.html && exec httpd -f -p 80 -h /www")
		assert.Equal(t, fmt.Sprintf("80/tcp -> 127.0.0.1:%d\n", port), u.ok(t, "port", "web"))
		assert.Equal(t, "hello from rootless\n", get(t, fmt.Sprintf("http://127.0.0.1:%d/", port)))
		u.ok(t, "rm", "-f", "web")
		// slirp4netns no longer listens there.
		_, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		assert.Error(t, err)
	})

	t.Run("root is refused", func(t *testing.T) {
		cmd := exec.Command(u.bin, "--rootless")
		cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+u.run)
		out, err := cmd.CombinedOutput()
		assert.Error(t, err)
		assert.Contains(t, string(out), "--rootless is for an ordinary user")
	})

	t.Run("nothing mounted on the host", func(t *testing.T) {
		// The layers and the containers' files are mounted in the
		// daemon's mount namespace only.
		for _, m := range labtest.Mounts(t) {
			assert.False(t, strings.HasPrefix(m, u.home+"/") || strings.HasPrefix(m, u.run+"/"), m)
		}
	})
}

// TestRootlessNetworkNone: with --rootless-net none, containers have
// their bridges but ports cannot be published, and -p says so. When
// berthd stops, nothing of the user's is left running; when it is
// killed, the next one cleans up.
func TestRootlessNetworkNone(t *testing.T) {
	labtest.Privileged(t)
	for _, tool := range []string{"newuidmap", "newgidmap", "docker", "useradd"} {
		_, err := exec.LookPath(tool)
		labtest.Need(t, err == nil, tool+" is not installed (scripts/deps)")
	}
	u := newUser(t)
	u.bin = buildBerthd(t)
	stop := u.startBerthd(t, "--rootless-net", "none")
	u.importBusybox(t)
	second, err := u.command(u.bin, "--rootless", "--rootless-net", "none").CombinedOutput()
	assert.Error(t, err, "a second rootless berthd of the user")
	assert.Contains(t, string(second), "another berthd --rootless runs")
	assert.Equal(t, "lo\n", linkNames(u.ok(t, "run", "--rm", "--network", "none", "busybox", "ip", "-o", "link")))
	assert.Equal(t, "eth0\nlo\n", linkNames(u.ok(t, "run", "--rm", "busybox", "ip", "-o", "link")))
	_, errOut, code := u.docker(t, "run", "--rm", "-p", "127.0.0.1:8080:80", "busybox", "true")
	assert.Equal(t, 125, code)
	assert.Contains(t, errOut, "--rootless-net none")

	// The containers go with the daemon, and its namespaces with them.
	id := strings.TrimSpace(u.ok(t, "run", "-d", "busybox", "sleep", "600"))
	stop(syscall.SIGTERM)
	assert.Empty(t, pidsOf(u.uid, false), "processes of the user after berthd stopped")
	// The next berthd finds the container dead, as after a reboot.
	stop = u.startBerthd(t, "--rootless-net", "none")
	assert.Equal(t, "exited\n", u.ok(t, "inspect", "-f", "{{.State.Status}}", id))
	u.ok(t, "rm", id)

	// A parent killed with SIGKILL cannot kill what is in its
	// namespace (the daemon goes, by its PR_SET_PDEATHSIG); the next
	// berthd --rootless does.
	id = strings.TrimSpace(u.ok(t, "run", "-d", "busybox", "sleep", "600"))
	stop(syscall.SIGKILL)
	require.NotEmpty(t, pidsOf(u.uid, false), "the container is left")
	u.startBerthd(t, "--rootless-net", "none")
	assert.Equal(t, "exited\n", u.ok(t, "inspect", "-f", "{{.State.Status}}", id))
	for _, pid := range pidsOf(u.uid, false) {
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if err != nil {
			continue // gone since, or a zombie about to be reaped: nothing runs
		}
		// The spares run from berthd's sealed copy.
		assert.Contains(t, []string{u.bin, namespace.SealedPath}, exe, "only the new berthd and its spares run (pid %d)", pid)
	}
	u.ok(t, "rm", id)
}

// fields normalizes the columns of a /proc ID map to single spaces.
func fields(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		b.WriteString(strings.Join(strings.Fields(line), " ") + "\n")
	}
	return b.String()
}

// linkNames are the interfaces of `ip -o link`, sorted, one a line, without the "@ifN" of a veth.
func linkNames(out string) string {
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 {
			name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return strings.Join(names, "\n") + "\n"
}

// get fetches url from the host, until the server in the container
// answers (it may still be starting) or a deadline passes.
func get(t *testing.T, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			body, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && resp.StatusCode == http.StatusOK {
				return string(body)
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("GET %s: no answer: %v", url, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
