package service

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/02-cgroups/cgroup"
)

// buildBerthd builds the daemon into a temporary directory.
func buildBerthd(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "berthd")
	cmd := exec.Command("go", "build", "-o", bin, "./final/cmd/berthd")
	cmd.Dir = labtest.RootDir(t)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// ping asks the daemon on socket for /_ping.
func ping(socket string) error {
	client := http.Client{
		Timeout: time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", socket)
		}},
	}
	resp, err := client.Get("http://berthd/_ping")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &net.AddrError{Err: resp.Status, Addr: socket}
	}
	return nil
}

func pidOf(t *testing.T, pidfile string) int {
	t.Helper()
	b, err := os.ReadFile(pidfile)
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	require.NoError(t, err)
	return pid
}

// alive reports whether pid is a live process: not gone, and not a
// zombie waiting for the host's init to collect it.
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(stat), ") ")
	return !strings.HasPrefix(rest, "Z")
}

// dockerCLI runs the real docker client against the daemon on socket.
func dockerCLI(t *testing.T, socket string) func(args ...string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("docker")
	labtest.Need(t, err == nil, "the docker CLI is not installed")
	config := t.TempDir()
	return func(args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+socket, "DOCKER_CONFIG="+config)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return string(out), fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out)), nil
	}
}

func TestS20_ServiceStartsStopsAndRestartsTheDaemon(t *testing.T) {
	labtest.Privileged(t)
	_, err := exec.LookPath("service")
	labtest.Need(t, err == nil, "the service command (Debian's init-system-helpers) is not installed")
	bin := buildBerthd(t)

	// A private berthd: its own script name, socket and state.
	name := labtest.Unique("berth-test")
	state := t.TempDir()
	socket := filepath.Join(state, "berth.sock")
	script, defaults := "/etc/init.d/"+name, "/etc/default/"+name
	pidfile := "/run/" + name + ".pid"
	src, err := os.ReadFile("berth.init")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(script, src, 0o755))
	settings := "BERTHD=" + bin + "\n" +
		"BERTHD_OPTS=\"-H unix://" + socket + " --data-root " + filepath.Join(state, "data") + " --exec-root " + filepath.Join(state, "exec") + " --cgroup-parent " + name + "\"\n" +
		"BERTHD_LOG=" + filepath.Join(state, "berthd.log") + "\n"
	require.NoError(t, os.WriteFile(defaults, []byte(settings), 0o644))
	service := func(action string) (string, error) {
		out, err := exec.Command("service", name, action).CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() {
		_, _ = service("stop")
		os.Remove(script)
		os.Remove(defaults)
		os.Remove(pidfile)
		// The daemon's own parent cgroup, once its container is gone.
		if h, err := cgroup.System(); assert.NoError(t, err) {
			assert.Eventually(t, func() bool { return h.Under(name).RemoveParent() == nil }, 5*time.Second, 10*time.Millisecond)
		}
	})

	out, err := service("start")
	require.NoError(t, err, out)
	require.Eventually(t, func() bool { return ping(socket) == nil }, 10*time.Second, 20*time.Millisecond, "berthd answers after start")
	first := pidOf(t, pidfile)
	out, err = service("status")
	assert.NoError(t, err, out)
	assert.Contains(t, out, "is running")

	// A container started before the restart runs on after it: it lives
	// under its own shim, not under the daemon.
	docker := dockerCLI(t, socket)
	_, err = docker("import", labtest.BusyboxRootfs(t)+".tar", "busybox")
	require.NoError(t, err)
	id, err := docker("run", "-d", "--network", "none", "busybox", "sh", "-c", "while :; do echo tick; sleep 0.1; done")
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = docker("rm", "-f", id) })

	out, err = service("restart")
	require.NoError(t, err, out)
	require.Eventually(t, func() bool { return ping(socket) == nil }, 10*time.Second, 20*time.Millisecond, "berthd answers after restart")
	second := pidOf(t, pidfile)
	assert.NotEqual(t, first, second, "restart runs a new daemon")
	running, err := docker("inspect", "-f", "{{.State.Running}}", id)
	require.NoError(t, err)
	assert.Equal(t, "true", running, "the container survived the restart")
	logs, err := docker("logs", id)
	require.NoError(t, err)
	assert.Contains(t, logs, "tick")
	_, err = docker("rm", "-f", id)
	require.NoError(t, err)

	out, err = service("stop")
	require.NoError(t, err, out)
	assert.Error(t, ping(socket), "berthd is gone after stop")
	assert.False(t, alive(second), "the daemon's process is gone")
	out, err = service("status")
	assert.Error(t, err, "status of a stopped service exits non-zero")
	assert.Contains(t, out, "is not running")
}
