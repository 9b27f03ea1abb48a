//go:build oci

package integration

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

// containerd is a private containerd 1.6 that a test starts: its own
// root, state, sockets and /opt under one directory, the CRI plugin off
// (final/ociruntime/cri is where CRI is tested), and a containerd
// namespace of the test's own, which also names its containers' cgroups
// (/<namespace>/<id> in every hierarchy).
type containerd struct {
	dir     string
	sock    string
	ns      string
	cmd     *exec.Cmd
	stopped chan struct{}
	log     *os.File
	ctrBin  string
}

// startContainerd starts containerd for t and stops it, with everything
// it started, at t's cleanup.
func startContainerd(t testing.TB) *containerd {
	t.Helper()
	labtest.Privileged(t)
	bin, err := exec.LookPath("containerd")
	labtest.Need(t, err == nil, "containerd is not installed (Debian: apt-get install containerd)")
	ctr, err := exec.LookPath("ctr")
	labtest.Need(t, err == nil, "ctr is not installed (Debian: apt-get install containerd)")
	_, err = exec.LookPath("containerd-shim-runc-v2")
	labtest.Need(t, err == nil, "containerd-shim-runc-v2 is not installed (Debian: apt-get install containerd)")

	// A short path: the sockets live here, and a socket's path is
	// limited to 108 bytes.
	dir, err := os.MkdirTemp("", "berth-ctrd-")
	if err != nil {
		t.Fatalf("containerd: %v", err)
	}
	c := &containerd{dir: dir, sock: filepath.Join(dir, "c.sock"), ns: labtest.Unique("berth-oci"), ctrBin: ctr}
	// version 2 is containerd 1.x's format. The snapshotters that need
	// a file system of their own (btrfs, zfs), a device (devmapper) or
	// an old kernel (aufs) are off, so that they log nothing and touch
	// nothing; "opt" would make /opt/containerd otherwise.
	config := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]

[grpc]
  address = %q

[ttrpc]
  address = %q

[plugins."io.containerd.internal.v1.opt"]
  path = %q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), c.sock, c.sock+".ttrpc", filepath.Join(dir, "opt"))
	configPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(configPath, []byte(config), 0o644); err != nil {
		t.Fatalf("containerd: %v", err)
	}
	c.log, err = os.Create(filepath.Join(dir, "containerd.log"))
	if err != nil {
		t.Fatalf("containerd: %v", err)
	}
	c.cmd = exec.Command(bin, "--config", configPath)
	c.cmd.Stdout, c.cmd.Stderr = c.log, c.log
	// If the test binary dies, so does containerd; the parent-death
	// signal belongs to the forking thread, so that thread lives until
	// containerd is stopped (see labtest.StartDockerd).
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	started := make(chan error)
	c.stopped = make(chan struct{})
	go func() {
		goruntime.LockOSThread()
		started <- c.cmd.Start()
		<-c.stopped
		goruntime.UnlockOSThread()
	}()
	if err := <-started; err != nil {
		close(c.stopped)
		_ = os.RemoveAll(dir)
		t.Fatalf("containerd: %v", err)
	}
	t.Cleanup(func() { c.stop(t) })

	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err := c.ctr("version")
		if err == nil && r.Code == 0 {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(c.log.Name())
			t.Fatalf("containerd did not answer within 30 s; its log:\n%s", log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return c
}

// ctr runs the ctr client against this containerd, in the test's
// namespace.
func (c *containerd) ctr(args ...string) (result, error) {
	return run(os.Environ(), c.ctrBin, append([]string{"--address", c.sock, "--namespace", c.ns}, args...)...)
}

// mustCtr runs ctr and fails t unless it exits 0.
func (c *containerd) mustCtr(t testing.TB, args ...string) result {
	t.Helper()
	r, err := c.ctr(args...)
	if err != nil {
		t.Fatalf("%v", err)
	}
	if r.Code != 0 {
		t.Fatalf("ctr %s: status %d: %s%s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r
}

// ctrCmd is the exec.Cmd of a ctr command line, for a test that runs it
// in the background or on a terminal.
func (c *containerd) ctrCmd(args ...string) *exec.Cmd {
	return exec.Command(c.ctrBin, append([]string{"--address", c.sock, "--namespace", c.ns}, args...)...)
}

// importImage imports an image archive (ctr images import).
func (c *containerd) importImage(t testing.TB, archive string) {
	t.Helper()
	c.mustCtr(t, "images", "import", archive)
}

// runtimeRoot is the --root that the shim gives the runtime rt (ctr run
// --runc-root): the runtime's state of every container, under the test's
// directory; the shim adds the namespace.
func (c *containerd) runtimeRoot(rt runtime) string {
	return filepath.Join(c.dir, "runtime-"+rt.Name)
}

// runtimeFlags are ctr run's flags that make rt the container's runtime
// (and keep ctr's FIFOs in the test's directory).
func (c *containerd) runtimeFlags(rt runtime) []string {
	return []string{"--runc-binary", rt.Path, "--runc-root", c.runtimeRoot(rt), "--fifo-dir", c.fifoDir()}
}

// fifoDir is where ctr makes the FIFOs of a task's or exec's stdio
// (instead of /run/containerd/fifo, which a killed ctr would leave them
// in).
func (c *containerd) fifoDir() string { return filepath.Join(c.dir, "fifo") }

// taskStatus is the status `ctr tasks ls` gives the task id (RUNNING,
// PAUSED, STOPPED...), or "" if it lists no such task.
func (c *containerd) taskStatus(t testing.TB, id string) string {
	t.Helper()
	r := c.mustCtr(t, "tasks", "ls")
	sc := bufio.NewScanner(strings.NewReader(r.Stdout))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && f[0] == id {
			return f[2]
		}
	}
	return ""
}

// waitStatus polls the task's status until it is want (a task's end is
// not announced to ctr), for at most 30 s.
func (c *containerd) waitStatus(t testing.TB, id, want string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := c.taskStatus(t, id)
		if got == want || time.Now().After(deadline) {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop removes what the test left in containerd (tasks killed and
// deleted, containers deleted), stops containerd, then kills any process
// it started that is still there, unmounts what is left under its
// directory, removes the directory and the namespace's cgroups.
func (c *containerd) stop(t testing.TB) {
	defer close(c.stopped)
	defer c.log.Close()
	if r, err := c.ctr("tasks", "ls", "-q"); err == nil {
		for _, id := range strings.Fields(r.Stdout) {
			_, _ = c.ctr("tasks", "kill", "-a", "-s", "SIGKILL", id)
			c.waitStatus(t, id, "STOPPED")
			if r, _ := c.ctr("tasks", "rm", "-f", id); r.Code != 0 && r.Code != 137 {
				t.Logf("containerd clean-up: ctr tasks rm -f %s: %s", id, r.Stderr)
			}
		}
	}
	var ids []string
	if r, err := c.ctr("containers", "ls", "-q"); err == nil {
		ids = strings.Fields(r.Stdout)
		for _, id := range ids {
			if r, _ := c.ctr("containers", "rm", id); r.Code != 0 {
				t.Logf("containerd clean-up: ctr containers rm %s: %s", id, r.Stderr)
			}
		}
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
	// The shims name containerd's socket, under our directory.
	for _, pid := range labtest.PidsMentioning(c.dir) {
		t.Logf("killing leftover process %d of the test's containerd", pid)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	// A shim listens on /run/containerd/s/<sha256 of ADDRESS/NS/ID>
	// whatever containerd's state directory (containerd 1.6), and
	// removes it when it exits, unless it was killed.
	for _, id := range ids {
		sum := sha256.Sum256([]byte(filepath.Join(c.sock, c.ns, id)))
		_ = os.Remove(filepath.Join("/run/containerd/s", hex.EncodeToString(sum[:])))
	}
	// Processes still in the containers' cgroups (a shim killed above
	// leaves its container running).
	for _, dir := range labtest.CgroupDirs(c.ns) {
		for _, pid := range cgroupProcs(dir) {
			t.Logf("killing leftover container process %d in %s", pid, dir)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	for _, m := range labtest.MountsUnder(c.dir) {
		_ = unix.Unmount(m, unix.MNT_DETACH)
	}
	if err := os.RemoveAll(c.dir); err != nil {
		t.Errorf("removing containerd's directory: %v", err)
	}
	for _, dir := range labtest.CgroupDirs(c.ns) {
		if err := removeCgroup(dir); err != nil {
			t.Errorf("removing a cgroup of the test's containerd: %v", err)
		}
	}
}

// cgroupProcs lists the processes of a cgroup directory.
func cgroupProcs(dir string) []int {
	data, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// removeCgroup removes a cgroup directory, waiting (at most 10 s) for the
// processes just killed in it to be gone: rmdir fails with EBUSY until
// then.
func removeCgroup(dir string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := os.Remove(dir)
		if err == nil || os.IsNotExist(err) {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}
