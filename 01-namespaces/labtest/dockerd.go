package labtest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Dockerd is a private Docker daemon that a test starts and stops, to
// compare berth with: its own data root, exec root, socket and config, no
// default bridge and no iptables rules, so that it touches nothing of the
// host's and nothing of another test's. (User networks that a test
// creates in it are that test's; their containers reach each other, and
// nothing is published or masqueraded.)
type Dockerd struct {
	sock    string
	stopped chan struct{} // closed once dockerd has exited
	dir     string
	cgroup  string // the parent of its containers' cgroups
	cmd     *exec.Cmd
	env     []string
	cli     string
	bin     string   // dockerd
	args    []string // its arguments, for Restart
	log     *os.File // its output
	tmpdir  string   // its TMPDIR, and its containerd's
}

// StartDockerd starts a dockerd for t, or skips t (fails it under
// BERTH_REQUIRE_PRIVILEGED=1) when dockerd is not installed. Everything
// it started is stopped, and everything it mounted unmounted, at cleanup.
// flags are added to dockerd's command line (--userns-remap USER).
func StartDockerd(t testing.TB, flags ...string) *Dockerd {
	t.Helper()
	Privileged(t)
	bin, err := exec.LookPath("dockerd")
	Need(t, err == nil, "dockerd is not installed (Debian: apt-get install docker.io)")
	cli, err := exec.LookPath("docker")
	Need(t, err == nil, "the docker client is not installed (Debian: apt-get install docker.io)")

	// A short path: containerd's sockets live under the exec root, and a
	// socket path is limited to 108 bytes.
	dir, err := os.MkdirTemp("", "berth-dockerd-")
	if err != nil {
		t.Fatalf("dockerd: %v", err)
	}
	// 0711, not MkdirTemp's 0700: with --userns-remap the containers'
	// root is an unprivileged host uid that must pass through to the
	// data root's directory of its own.
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatalf("dockerd: %v", err)
	}
	// Its containers' cgroups go under a parent of our own (not the
	// default "docker"), which stop removes.
	d := &Dockerd{dir: dir, cli: cli, cgroup: Unique("berth-dockerd")}
	config := filepath.Join(dir, "daemon.json")
	if err := os.WriteFile(config, []byte("{}\n"), 0o644); err != nil {
		t.Fatalf("dockerd: %v", err)
	}
	sock := filepath.Join(dir, "docker.sock")
	d.sock = sock
	d.bin = bin
	d.args = []string{
		"--config-file", config,
		"--data-root", filepath.Join(dir, "root"),
		"--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "dockerd.pid"),
		"-H", "unix://" + sock,
		"--bridge=none", "--iptables=false", "--ip-masq=false", "--ip-forward=false",
		// Absolute: a relative parent is a relative cgroupsPath, which
		// runc puts under its own cgroup in each hierarchy (on this kind
		// of machine a session has a memory cgroup of its own).
		"--cgroup-parent", "/" + d.cgroup,
	}
	d.args = append(d.args, flags...)
	logf, err := os.Create(filepath.Join(dir, "dockerd.log"))
	if err != nil {
		t.Fatalf("dockerd: %v", err)
	}
	d.log = logf
	d.env = append(os.Environ(), "DOCKER_HOST=unix://"+sock, "DOCKER_CONFIG="+filepath.Join(dir, "cli"))
	// dockerd's own temporary directory, which its containerd inherits:
	// when dockerd finds containerd slow to answer (a loaded machine),
	// it asks it for a stack dump (SIGUSR1) before restarting it, and
	// containerd writes containerd.PID.stacks.log there, not in the
	// host's /tmp, and stop removes it with the rest.
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatalf("dockerd: %v", err)
	}
	d.tmpdir = tmp
	if err := d.launch(); err != nil {
		t.Fatalf("dockerd: %v", err)
	}
	t.Cleanup(func() { d.stop(t); logf.Close() })
	d.waitReady(t)
	return d
}

// launch starts the dockerd process.
func (d *Dockerd) launch() error {
	d.cmd = exec.Command(d.bin, d.args...)
	d.cmd.Env = append(os.Environ(), "TMPDIR="+d.tmpdir)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	// If the test binary dies, so does dockerd (which stops containerd).
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	// The parent-death signal is tied to the thread that forks, not to
	// the process: dockerd would get it as soon as the Go runtime ended
	// that thread (it ends the threads of goroutines that exit locked,
	// as namespace work does). So dockerd is started from a thread of
	// its own, which lives until dockerd is stopped.
	started := make(chan error)
	d.stopped = make(chan struct{})
	stopped := d.stopped
	go func() {
		runtime.LockOSThread()
		started <- d.cmd.Start()
		<-stopped
		runtime.UnlockOSThread()
	}()
	return <-started
}

// Restart stops dockerd as a shutdown of the host does (SIGTERM: it stops
// its containers, as without --live-restore) and starts a new one over
// the same data root with the same flags, returning once it answers.
// Its containers' restart policies apply then, as after a reboot.
func (d *Dockerd) Restart(t testing.TB) {
	t.Helper()
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = d.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = d.cmd.Process.Kill()
		<-done
	}
	close(d.stopped)
	if err := d.launch(); err != nil {
		t.Fatalf("dockerd: restart: %v", err)
	}
	d.waitReady(t)
}

// waitReady waits for dockerd to answer.
func (d *Dockerd) waitReady(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := d.Run("version"); err == nil {
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(d.dir, "dockerd.log"))
			t.Fatalf("dockerd did not answer within 30 s; its log:\n%s", log)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Run runs the docker client against this daemon.
func (d *Dockerd) Run(args ...string) (string, error) {
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
func (d *Dockerd) stop(t testing.TB) {
	defer close(d.stopped)
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
// hierarchy (v1: one per controller; v2: one) or under this process's
// own cgroup there, and below them, deepest first, so that they can be
// removed in that order. (dockerd's --cgroup-parent without a leading
// slash is a relative cgroupsPath, which runc puts under its own cgroup
// in each hierarchy: the root on most machines, not on one whose
// sessions each run in a memory cgroup of their own.)
func cgroupDirs(name string) []string {
	tops, _ := filepath.Glob("/sys/fs/cgroup/*/" + name)
	if fi, err := os.Stat("/sys/fs/cgroup/" + name); err == nil && fi.IsDir() {
		tops = append(tops, "/sys/fs/cgroup/"+name)
	}
	seen := map[string]bool{}
	for _, top := range tops {
		seen[top] = true
	}
	for _, own := range ownCgroups() {
		p := filepath.Join(own, name)
		if fi, err := os.Stat(p); err == nil && fi.IsDir() && !seen[p] {
			seen[p] = true
			tops = append(tops, p)
		}
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

// ownCgroups lists this process's own cgroup directories that are not a
// hierarchy's root, from /proc/self/cgroup ("4:memory:/a/b" is
// /sys/fs/cgroup/memory/a/b; "0::/a" is under /sys/fs/cgroup/unified or
// /sys/fs/cgroup).
func ownCgroups() []string {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil
	}
	var dirs []string
	for _, line := range strings.Split(string(data), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 || parts[2] == "/" {
			continue
		}
		if parts[1] == "" {
			dirs = append(dirs, filepath.Join("/sys/fs/cgroup/unified", parts[2]), filepath.Join("/sys/fs/cgroup", parts[2]))
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			dirs = append(dirs, filepath.Join("/sys/fs/cgroup", strings.TrimPrefix(c, "name="), parts[2]))
		}
	}
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

// Host is the daemon's address, as DOCKER_HOST says it: unix://PATH.
func (d *Dockerd) Host() string { return "unix://" + d.sock }

// Env is the environment that points the docker client at this daemon.
func (d *Dockerd) Env() []string { return d.env }

// PID is the daemon's process ID.
func (d *Dockerd) PID() int { return d.cmd.Process.Pid }
