package image

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

// dockerd is a private Docker daemon that a test starts and stops: its
// own data root, exec root, socket and config, no network (no bridge, no
// iptables), so that it touches nothing of the host's and nothing of
// another test's.
type dockerd struct {
	dir    string
	cgroup string // the parent of its containers' cgroups
	cmd    *exec.Cmd
	env    []string
	cli    string
}

// startDockerd starts a dockerd for t, or skips t (fails it under
// BERTH_REQUIRE_PRIVILEGED=1) when dockerd is not installed. Everything
// it started is stopped, and everything it mounted unmounted, at cleanup.
func startDockerd(t *testing.T) *dockerd {
	t.Helper()
	labtest.Privileged(t)
	bin, err := exec.LookPath("dockerd")
	labtest.Need(t, err == nil, "dockerd is not installed (Debian: apt-get install docker.io)")
	cli, err := exec.LookPath("docker")
	labtest.Need(t, err == nil, "the docker client is not installed (Debian: apt-get install docker.io)")

	// A short path: containerd's sockets live under the exec root, and a
	// socket path is limited to 108 bytes.
	dir, err := os.MkdirTemp("", "berth-dockerd-")
	require.NoError(t, err)
	// Its containers' cgroups go under a parent of our own (not the
	// default "docker"), which stop removes.
	d := &dockerd{dir: dir, cli: cli, cgroup: labtest.Unique("berth-dockerd")}
	config := filepath.Join(dir, "daemon.json")
	require.NoError(t, os.WriteFile(config, []byte("{}\n"), 0o644))
	sock := filepath.Join(dir, "docker.sock")
	d.cmd = exec.Command(bin,
		"--config-file", config,
		"--data-root", filepath.Join(dir, "root"),
		"--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "dockerd.pid"),
		"-H", "unix://"+sock,
		"--bridge=none", "--iptables=false", "--ip-masq=false", "--ip-forward=false",
		"--cgroup-parent", d.cgroup,
	)
	logf, err := os.Create(filepath.Join(dir, "dockerd.log"))
	require.NoError(t, err)
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	// If the test binary dies, so does dockerd (which stops containerd).
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	require.NoError(t, d.cmd.Start())
	d.env = append(os.Environ(), "DOCKER_HOST=unix://"+sock, "DOCKER_CONFIG="+filepath.Join(dir, "cli"))
	t.Cleanup(func() { d.stop(t); logf.Close() })

	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := d.run("version"); err == nil {
			return d
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "dockerd.log"))
			t.Fatalf("dockerd did not answer within 30 s; its log:\n%s", log)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// run runs the docker client against this daemon.
func (d *dockerd) run(args ...string) (string, error) {
	cmd := exec.Command(d.cli, args...)
	cmd.Env = d.env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), nil
}

// stop ends dockerd (SIGTERM, which also stops its containerd), then
// makes sure no process it started is left, unmounts what is left under
// its directories and removes them.
func (d *dockerd) stop(t *testing.T) {
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = d.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = d.cmd.Process.Kill()
		<-done
	}
	// containerd and its shims name our directory on their command
	// line: any still running were started by this dockerd.
	for _, pid := range pidsMentioning(d.dir) {
		t.Logf("killing leftover process %d of the test's dockerd", pid)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	mounts := mountsUnder(d.dir)
	for _, m := range mounts {
		_ = unix.Unmount(m, unix.MNT_DETACH)
	}
	if err := os.RemoveAll(d.dir); err != nil {
		t.Errorf("removing dockerd's directory: %v", err)
	}
	for _, dir := range cgroupDirs(d.cgroup) {
		if err := os.Remove(dir); err != nil {
			t.Errorf("removing dockerd's cgroup: %v", err)
		}
	}
}

// cgroupDirs lists the cgroup directories named name, at the top of each
// hierarchy (v1: one per controller; v2: one), and below them, deepest
// first, so that they can be removed in that order.
func cgroupDirs(name string) []string {
	tops, _ := filepath.Glob("/sys/fs/cgroup/*/" + name)
	if fi, err := os.Stat("/sys/fs/cgroup/" + name); err == nil && fi.IsDir() {
		tops = append(tops, "/sys/fs/cgroup/"+name)
	}
	var dirs []string
	for _, top := range tops {
		_ = filepath.WalkDir(top, func(p string, e os.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
	}
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	return dirs
}

// pidsMentioning lists the processes whose command line contains s.
func pidsMentioning(s string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmdline, []byte(s)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// mountsUnder lists the mount points below dir, deepest first.
func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var points []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
			points = append(points, fields[4])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(points)))
	return points
}

// S7 and S33: an image committed by berth, saved by berth, is loaded by a
// real dockerd (20.10, the Debian package, which reads manifest.json) and
// runs there, with its parent chain; and what dockerd saves, berth loads
// back with the same IDs.
func TestS7_S33_BerthsSaveLoadsAndRunsInDockerd(t *testing.T) {
	d := startDockerd(t)
	s := newStore(t)
	base := importBusybox(t, s, "berth-base")
	app, err := s.Commit(containerUpper(t, map[string]string{"hello.txt": "hello from berth\n"}), CommitOptions{
		Parent: base.ID, Ref: "berth-app:v1", CreatedBy: "sh -c echo hello > /hello.txt", Comment: "made by berth",
		Config: &ContainerConfig{Cmd: []string{"cat", "/hello.txt"}, Env: []string{"PATH=/bin"}},
	})
	require.NoError(t, err)
	archive := filepath.Join(t.TempDir(), "app.tar")
	f, err := os.Create(archive)
	require.NoError(t, err)
	require.NoError(t, s.Save(f, []string{"berth-app:v1"}))
	require.NoError(t, f.Close())

	out, err := d.run("load", "-i", archive)
	require.NoError(t, err)
	assert.Contains(t, out, "Loaded image: berth-app:v1")
	out, err = d.run("image", "inspect", "-f", "{{.Id}} {{.Parent}}", "berth-app:v1")
	require.NoError(t, err)
	assert.Equal(t, string(app.ID)+" "+string(base.ID), strings.TrimSpace(out), "dockerd computes the same ID and keeps the parent")
	out, err = d.run("run", "--rm", "--network=none", "berth-app:v1")
	require.NoError(t, err)
	assert.Equal(t, "hello from berth\n", out, "the image's Cmd, run by dockerd")
	out, err = d.run("history", "--no-trunc", "--format", "{{.ID}}|{{.CreatedBy}}", "berth-app:v1")
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2)
	assert.Equal(t, string(app.ID)+"|sh -c echo hello > /hello.txt", lines[0])
	assert.True(t, strings.HasPrefix(lines[1], string(base.ID)+"|"), "dockerd's history names the parent: %s", lines[1])

	// Back: dockerd's own save of the image, into a fresh berth store.
	back := filepath.Join(t.TempDir(), "back.tar")
	_, err = d.run("save", "-o", back, "berth-app:v1")
	require.NoError(t, err)
	s2 := newStore(t)
	loaded := loadFile(t, s2, back)
	require.Len(t, loaded, 1)
	assert.Equal(t, Loaded{ID: app.ID, Tags: []string{"berth-app:v1"}}, loaded[0])
	assert.Equal(t, "hello from berth\n", flat(t, s2, app.ID)["hello.txt"])
}
