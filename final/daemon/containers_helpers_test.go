package daemon

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/02-cgroups/cgroup"
	"github.com/berth-project/berth/05-network/nettest"
	"github.com/berth-project/berth/05-network/network"
	"github.com/berth-project/berth/06-images/image"
	"github.com/berth-project/berth/07-logs/shim"
	"github.com/berth-project/berth/final/api"
	"github.com/berth-project/berth/final/api/apitest"
)

// The container tests drive a real Daemon through the API server on a
// unix socket, with the moby client and the real docker CLI, on a data
// root, a bridge and a subnet of their own (chapter 05's nettest), with
// busybox imported as busybox:latest. At the end every container is
// removed and shown gone: its shim and its processes, its cgroup.

// lab is one daemon under test.
type lab struct {
	t      testing.TB
	opts   Options
	d      *Daemon
	sock   string
	stop   func() // stops serving
	client *client.Client
	seen   map[string]bool // IDs of the containers the test made
}

func newLab(t testing.TB) *lab {
	t.Helper()
	l := prepareLab(t)
	l.start()
	return l
}

// prepareLab makes a lab's data root, with busybox in its image store,
// and its bridge, but starts no daemon: call start, or run one as
// another process.
func prepareLab(t testing.TB) *lab {
	t.Helper()
	labtest.Privileged(t)
	bridge := nettest.Config(t)
	opts := Options{
		DataRoot: t.TempDir(),
		ExecRoot: t.TempDir(),
		Version:  "test",
		Bridge:   bridge.Bridge,
		Subnet:   bridge.Subnet.String(),
		// The user networks' DNS server forwards nowhere: a test
		// never sends a query to the host's resolvers.
		DNSUpstreams: []netip.AddrPort{},
	}
	l := &lab{t: t, opts: opts, seen: map[string]bool{}}
	l.importBusybox()
	ownCgroupParent(t, opts.DataRoot)
	t.Cleanup(l.cleanup)
	return l
}

// start starts a daemon over the lab's data root and serves it.
func (l *lab) start() {
	l.t.Helper()
	d, err := New(l.opts)
	require.NoError(l.t, err)
	l.d = d
	dir, err := os.MkdirTemp("", "berth-lab-")
	require.NoError(l.t, err)
	l.sock = filepath.Join(dir, "berth.sock")
	ln, err := api.ListenUnix(l.sock)
	require.NoError(l.t, err)
	srv := api.NewServer(d, api.Options{Version: "test"})
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	c, err := client.New(client.WithHost(apitest.Host(l.sock)))
	require.NoError(l.t, err)
	l.client = c
	l.stop = func() {
		_ = c.Close()
		_ = srv.Close()
		<-done
		_ = d.Close()
		_ = os.RemoveAll(dir)
	}
}

// restart drops the daemon (its server, its memory) and starts a new one
// over the same data root: what a restart of berthd does.
func (l *lab) restart() {
	l.t.Helper()
	l.stop()
	l.start()
}

// cleanup removes every container and checks that nothing of them is
// left on the host.
func (l *lab) cleanup() {
	t := l.t
	if l.d == nil {
		l.start() // the test ran its daemons elsewhere: clean up with one here
	}
	list, err := l.d.containers.List()
	assert.NoError(t, err)
	var pids []int
	for _, c := range list {
		st, _ := c.State()
		pids = append(pids, st.Pid, st.ShimPid)
		l.seen[c.ID()] = true
		e, err := l.d.lookup(c.ID())
		if assert.NoError(t, err) {
			assert.NoError(t, l.d.remove(e, true), "removing %s", c.Name())
		}
	}
	// The user networks, once their containers are gone: a removal
	// that fails here is a network that something still holds.
	nets, err := network.Networks(l.opts.DataRoot)
	assert.NoError(t, err)
	for _, n := range nets {
		assert.NoError(t, network.RemoveNetwork(l.opts.DataRoot, n.ID), "removing network %s", n.Name)
	}
	l.stop()
	for _, pid := range pids {
		if pid > 0 {
			assert.NoError(t, labtest.ProcessGone(pid), "process %d of a container", pid)
		}
	}
	for id := range l.seen {
		_, err := loadCgroup(l.opts.DataRoot, id)
		assert.True(t, errors.Is(err, os.ErrNotExist), "the cgroup of %s is gone: %v", id, err)
	}
}

// ownCgroupParent removes, when t ends, the parent cgroup that a daemon
// over root gives its containers (DefaultCgroupParent): each test's data
// root has one of its own, and a test leaves nothing on the host. Call it
// before the daemon starts, so that the removal comes after the
// daemon's own cleanup (and its containers').
func ownCgroupParent(t testing.TB, root string) {
	t.Helper()
	t.Cleanup(func() {
		h, err := cgroup.System()
		if assert.NoError(t, err) {
			assert.NoError(t, h.Under(DefaultCgroupParent(root)).RemoveParent(), "the test daemon's parent cgroup")
		}
	})
}

// loadCgroup reopens the cgroup of container id of the daemon over root,
// under that daemon's default parent.
func loadCgroup(root, id string) (*cgroup.Cgroup, error) {
	return containerCgroup(DefaultCgroupParent(root), id)
}

// importBusybox imports the course's busybox rootfs as busybox:latest,
// with sh as its command, into the lab's image store.
func (l *lab) importBusybox() {
	l.t.Helper()
	f, err := os.Open(labtest.BusyboxRootfs(l.t) + ".tar")
	require.NoError(l.t, err)
	defer f.Close()
	store, err := image.Open(image.StoreDir(l.opts.DataRoot))
	require.NoError(l.t, err)
	_, err = store.Import(f, image.ImportOptions{Ref: "busybox:latest", Config: &image.ContainerConfig{
		Cmd: []string{"sh"},
		Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
	}})
	require.NoError(l.t, err)
}

func labCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// dockerBin is the docker client the issue names (28.x).
const dockerBin = "/usr/local/bin/docker"

// docker runs the docker client against the lab's daemon.
func (l *lab) docker(stdin string, args ...string) (stdout, stderr string, code int) {
	l.t.Helper()
	return l.dockerWith(dockerBin, strings.NewReader(stdin), args...)
}

func (l *lab) dockerWith(bin string, stdin io.Reader, args ...string) (stdout, stderr string, code int) {
	l.t.Helper()
	_, err := os.Stat(bin)
	labtest.Need(l.t, err == nil, bin+" (a docker client) is not installed")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = l.dockerEnv()
	cmd.Stdin = stdin
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
	case err != nil:
		l.t.Fatalf("docker %s: %v", strings.Join(args, " "), err)
	}
	require.NoError(l.t, ctx.Err(), "docker %s timed out; stderr: %s", strings.Join(args, " "), errOut.String())
	return out.String(), errOut.String(), code
}

func (l *lab) dockerEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DOCKER_") {
			env = append(env, kv)
		}
	}
	return append(env, "DOCKER_HOST="+apitest.Host(l.sock), "DOCKER_CONFIG="+l.t.TempDir())
}

// ok runs docker and requires success; it returns stdout.
func (l *lab) ok(args ...string) string {
	l.t.Helper()
	out, errOut, code := l.docker("", args...)
	require.Equal(l.t, 0, code, "docker %s: %s", strings.Join(args, " "), errOut)
	return out
}

// run creates and starts a container with the moby client and returns
// its ID.
func (l *lab) run(name string, cfg container.Config, host *container.HostConfig) string {
	l.t.Helper()
	id := l.create(name, cfg, host)
	_, err := l.client.ContainerStart(labCtx(l.t), id, client.ContainerStartOptions{})
	require.NoError(l.t, err)
	return id
}

func (l *lab) create(name string, cfg container.Config, host *container.HostConfig) string {
	l.t.Helper()
	if cfg.Image == "" {
		cfg.Image = "busybox"
	}
	resp, err := l.client.ContainerCreate(labCtx(l.t), client.ContainerCreateOptions{Name: name, Config: &cfg, HostConfig: host})
	require.NoError(l.t, err)
	l.seen[resp.ID] = true
	return resp.ID
}

// wait waits for the container's current or next run to end and returns
// its status.
func (l *lab) wait(id string) int64 {
	l.t.Helper()
	res := l.client.ContainerWait(labCtx(l.t), id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case r := <-res.Result:
		return r.StatusCode
	case err := <-res.Error:
		l.t.Fatalf("waiting for %s: %v", id, err)
	}
	return -1
}

// inspect inspects a container.
func (l *lab) inspect(name string) container.InspectResponse {
	l.t.Helper()
	r, err := l.client.ContainerInspect(labCtx(l.t), name, client.ContainerInspectOptions{})
	require.NoError(l.t, err)
	return r.Container
}

// logs returns a container's stdout and stderr, from the moby client.
func (l *lab) logs(name string) (stdout, stderr string) {
	l.t.Helper()
	out, errOut, code := l.docker("", "logs", name)
	require.Equal(l.t, 0, code, errOut)
	return out, errOut
}

// eventually waits for cond, failing the test with msg after timeout.
func eventually(t *testing.T, cond func() bool, msg string, args ...any) {
	t.Helper()
	require.Eventually(t, cond, 10*time.Second, 5*time.Millisecond, append([]any{msg}, args...)...)
}

// shimOf returns the state of the container's shim.
func (l *lab) state(id string) shim.State {
	l.t.Helper()
	e, err := l.d.lookup(id)
	require.NoError(l.t, err)
	st, err := e.c.State()
	require.NoError(l.t, err)
	return st
}

// signalOf is the exit status of death by sig.
func signalOf(sig syscall.Signal) int64 { return 128 + int64(sig) }

// unixDialer dials the API's socket, for a plain HTTP client.
func unixDialer(sock string) func(ctx context.Context, _, _ string) (net.Conn, error) {
	return func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}
}
