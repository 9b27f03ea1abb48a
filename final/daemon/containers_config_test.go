package daemon

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	apinet "github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/02-cgroups/cgroup"
)

// S12 through the API: --memory, --cpus and --pids-limit become the
// container's cgroup limits.
func TestS12_LimitsAreApplied(t *testing.T) {
	l := newLab(t)
	id := strings.TrimSpace(l.ok("run", "-d", "--memory", "32m", "--cpus", "0.5", "--pids-limit", "20", "busybox", "sleep", "1000"))
	cg, err := loadCgroup(l.opts.DataRoot, id)
	require.NoError(t, err)
	read := func(ctrl, file string) string {
		dir := cg.Path(ctrl)
		require.NotEmpty(t, dir, ctrl)
		b, err := os.ReadFile(filepath.Join(dir, file))
		require.NoError(t, err)
		return strings.TrimSpace(string(b))
	}
	if cg.Version() == cgroup.V2 {
		assert.Equal(t, "33554432", read("memory", "memory.max"))
		assert.Equal(t, "50000 100000", read("cpu", "cpu.max"))
		assert.Equal(t, "20", read("pids", "pids.max"))
	} else {
		assert.Equal(t, "33554432", read("memory", "memory.limit_in_bytes"))
		assert.Equal(t, "50000", read("cpu", "cpu.cfs_quota_us"))
		assert.Equal(t, "20", read("pids", "pids.max"))
	}
	procs, err := cg.Procs()
	require.NoError(t, err)
	assert.Contains(t, procs, l.state(id).Pid, "the container's init is in it")
	// From inside: the pids limit bites.
	out, _, code := l.docker("", "exec", id, "sh", "-c", "for i in $(seq 30); do sleep 5 & done 2>&1")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, out, "can't fork", "the 20th process was refused: %s", out)
	info := l.inspect(id)
	assert.Equal(t, int64(32<<20), info.HostConfig.Memory)
	assert.Equal(t, int64(5e8), info.HostConfig.NanoCPUs)
}

// --init keeps berth-init as PID 1, reaping and forwarding signals; the
// command is its child.
func TestInit(t *testing.T) {
	l := newLab(t)
	out := l.ok("run", "--rm", "--init", "busybox", "sh", "-c", "cat /proc/1/comm; cat /proc/$PPID/comm; echo $$")
	lines := strings.Fields(out)
	require.Len(t, lines, 3, out)
	assert.Equal(t, []string{"berth-init", "berth-init"}, lines[:2], "init is PID 1, and the command's parent")
	assert.NotEqual(t, "1", lines[2])
	out = l.ok("run", "--rm", "busybox", "sh", "-c", "echo $$")
	assert.Equal(t, "1\n", out, "without --init the command is PID 1")
}

// Docker's default security: the default capabilities (CapEff
// a80425fb), masked and read-only kernel paths, and no_new_privs when
// asked for.
func TestDefaultSecurity(t *testing.T) {
	l := newLab(t)
	out := l.ok("run", "--rm", "busybox", "sh", "-c", "grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; wc -c < /proc/timer_list; echo 1 > /proc/sys/kernel/hostname 2>/dev/null && echo writable || echo read-only")
	assert.Equal(t, "CapEff:\t00000000a80425fb\nNoNewPrivs:\t0\n0\nread-only\n", out, "caps, masked /proc/timer_list, read-only /proc/sys")
	out = l.ok("run", "--rm", "--security-opt", "no-new-privileges", "busybox", "grep", "NoNewPrivs", "/proc/self/status")
	assert.Equal(t, "NoNewPrivs:\t1\n", out)
	out = l.ok("run", "--rm", "--security-opt", "no-new-privileges:true", "--cap-drop", "ALL", "--cap-add", "CHOWN", "busybox", "grep", "-E", "CapEff|NoNewPrivs", "/proc/self/status")
	assert.Equal(t, "CapEff:\t0000000000000001\nNoNewPrivs:\t1\n", out)
	// Dropping them all leaves none, for the command as for an exec: an
	// empty set is not "the default set".
	id := strings.TrimSpace(l.ok("run", "-d", "--cap-drop", "ALL", "busybox", "sh", "-c", "grep CapEff /proc/self/status; sleep 1000"))
	eventually(t, func() bool { out, _ := l.logs(id); return out != "" }, "the container's first line")
	out, _ = l.logs(id)
	assert.Equal(t, "CapEff:\t0000000000000000\n", out, "--cap-drop ALL, the command")
	assert.Equal(t, "CapEff:\t0000000000000000\n", l.ok("exec", id, "grep", "CapEff", "/proc/self/status"), "--cap-drop ALL, an exec")
	l.ok("rm", "-f", id)
}

// -e, -w, -u, -h, -v, --entrypoint, --read-only.
func TestRunOptions(t *testing.T) {
	l := newLab(t)
	vol := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(vol, "from-host"), []byte("hi from the host\n"), 0o644))
	out := l.ok("run", "--rm", "-e", "ANSWER=42", "-w", "/work/dir", "-u", "nobody", "-h", "myhost", "-v", vol+":/data",
		"busybox", "sh", "-c", "echo $ANSWER $(pwd) $(id -u):$(id -g) $(hostname); cat /data/from-host; touch /data/by-nobody 2>/dev/null || echo denied")
	assert.Equal(t, "42 /work/dir 65534:65534 myhost\nhi from the host\ndenied\n", out)
	out = l.ok("run", "--rm", "-v", vol+":/data:ro", "busybox", "sh", "-c", "touch /data/x 2>/dev/null || echo read-only volume")
	assert.Equal(t, "read-only volume\n", out)
	out = l.ok("run", "--rm", "--entrypoint", "echo", "busybox", "from", "the", "entrypoint")
	assert.Equal(t, "from the entrypoint\n", out)
	out = l.ok("run", "--rm", "--read-only", "busybox", "sh", "-c", "touch /x 2>/dev/null || echo read-only root")
	assert.Equal(t, "read-only root\n", out)
	out = l.ok("run", "--rm", "-u", "1000:1000", "busybox", "sh", "-c", "echo $(id -u):$(id -g)")
	assert.Equal(t, "1000:1000\n", out)
	_, errOut, code := l.docker("", "run", "--rm", "-u", "no-such-user", "busybox", "true")
	assert.Equal(t, 125, code)
	assert.Contains(t, errOut, "unable to find user no-such-user")
}

// Bad input gets a clear error and changes nothing: no container, no
// file, no name taken.
func TestBadInputChangesNothing(t *testing.T) {
	l := newLab(t)
	l.create("taken", container.Config{Cmd: []string{"true"}}, nil)
	before := dirNames(t, filepath.Join(l.opts.DataRoot, "containers"))
	leases := dirNames(t, filepath.Join(l.opts.DataRoot, "images", "leases"))
	ctx := labCtx(t)
	create := func(name string, cfg container.Config, host *container.HostConfig) error {
		if cfg.Image == "" {
			cfg.Image = "busybox"
		}
		_, err := l.client.ContainerCreate(ctx, client.ContainerCreateOptions{Name: name, Config: &cfg, HostConfig: host})
		return err
	}
	err := create("", container.Config{Image: "no-such-image"}, nil)
	assert.True(t, errdefs.IsNotFound(err), "%v", err)
	assert.ErrorContains(t, err, "No such image: no-such-image")

	err = create("taken", container.Config{}, nil)
	assert.True(t, errdefs.IsConflict(err), "%v", err)

	err = create("", container.Config{}, &container.HostConfig{Resources: container.Resources{Memory: 1 << 20}})
	assert.True(t, errdefs.IsInvalidArgument(err), "%v", err)
	assert.ErrorContains(t, err, "Minimum memory limit allowed is 6MB")

	bindings := apinet.PortMap{apinet.MustParsePort("80/tcp"): []apinet.PortBinding{{HostPort: "not-a-port"}}}
	err = create("", container.Config{}, &container.HostConfig{PortBindings: bindings})
	assert.True(t, errdefs.IsInvalidArgument(err), "%v", err)
	assert.ErrorContains(t, err, "invalid port")

	err = create("", container.Config{}, &container.HostConfig{Resources: container.Resources{NanoCPUs: 1000e9}})
	assert.True(t, errdefs.IsInvalidArgument(err), "%v", err)
	assert.ErrorContains(t, err, "Range of CPUs is from 0.01")

	err = create("", container.Config{}, &container.HostConfig{Binds: []string{"not/absolute:/data"}})
	assert.True(t, errdefs.IsInvalidArgument(err), "%v", err)
	err = create("", container.Config{}, &container.HostConfig{Binds: []string{filepath.Join(t.TempDir(), "made") + ":relative"}})
	assert.True(t, errdefs.IsInvalidArgument(err), "%v", err)

	err = create("", container.Config{}, &container.HostConfig{CapAdd: []string{"NO_SUCH_CAP"}})
	assert.True(t, errdefs.IsInvalidArgument(err), "%v", err)

	// Malformed JSON never reaches the daemon.
	resp := rawPost(t, l, "/containers/create", `{"Image":"busybox",`)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)

	_, errOut, code := l.docker("", "run", "--rm", "-p", "99999:80", "busybox", "true")
	assert.Equal(t, 125, code)
	assert.Contains(t, errOut, "99999")

	assert.Equal(t, before, dirNames(t, filepath.Join(l.opts.DataRoot, "containers")), "no container directory was left")
	assert.Equal(t, leases, dirNames(t, filepath.Join(l.opts.DataRoot, "images", "leases")), "no lease was left")
	assert.Equal(t, "taken\n", l.ok("ps", "-a", "--format", "{{.Names}}"))
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// rawPost posts body to the API as JSON, past the client's checks.
func rawPost(t *testing.T, l *lab, path, body string) *http.Response {
	t.Helper()
	c := http.Client{Transport: &http.Transport{DialContext: unixDialer(l.sock)}}
	resp, err := c.Post("http://berth"+path, "application/json", bytes.NewBufferString(body))
	require.NoError(t, err)
	resp.Body.Close()
	return resp
}
