// Package daemontest starts a berthd inside a test's own process, for the
// tests of the packages that drive it from outside (final/cli's berth
// against a real daemon, final/compose's Compose clients): a daemon over
// a data root of its own with the course's busybox imported, its default
// network on a bridge and subnet of nettest's, served on a unix socket.
//
// The test binary must play the parts berthd's binary plays, since the
// daemon re-executes it as its shims and containers' inits: its TestMain
// calls daemon.Runtime.Main() and, when namespace.IsInit(), exits with
// daemon.Init(), as final/cli's and final/compose's do.
//
//	host := daemontest.Serve(t, daemon.Options{}, []string{"sh"}, func() { remove what is left })
//	// DOCKER_HOST=host docker ... / berth -H host ...
//
// With BERTH_TEST_API_LOG=FILE in the environment, the daemon appends to
// FILE what berthd --debug prints: one record per request with its
// duration, the timeline of what a client asked and what each answer
// cost (docs/performance.md reads a Compose run's this way).
package daemontest

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/02-cgroups/cgroup"
	"github.com/berth-project/berth/05-network/nettest"
	"github.com/berth-project/berth/06-images/image"
	"github.com/berth-project/berth/final/api"
	"github.com/berth-project/berth/final/daemon"
)

// Serve starts a daemon with opts and returns its address for DOCKER_HOST
// ("unix://..."). Empty DataRoot, ExecRoot, Version, Bridge and Subnet are
// filled in: two directories of the test's, "test", and a bridge of
// nettest's. busybox:latest is imported with cmd as its command (nil: none,
// as `docker import` makes it). At the test's end, leftovers runs first
// (remove what the test left, through the API), then the server and the
// daemon stop, and last the daemon's parent cgroup goes.
func Serve(t testing.TB, opts daemon.Options, cmd []string, leftovers func()) string {
	t.Helper()
	labtest.Privileged(t)
	if opts.DataRoot == "" {
		opts.DataRoot = t.TempDir()
	}
	if opts.ExecRoot == "" {
		opts.ExecRoot = t.TempDir()
	}
	if opts.Version == "" {
		opts.Version = "test"
	}
	if opts.Bridge == "" {
		bridge := nettest.Config(t)
		opts.Bridge, opts.Subnet = bridge.Bridge, bridge.Subnet.String()
	}
	importBusybox(t, opts.DataRoot, cmd)
	// Last, once the containers are gone: the parent cgroup of this
	// daemon's containers, its own (daemon.DefaultCgroupParent).
	t.Cleanup(func() {
		h, err := cgroup.System()
		require.NoError(t, err)
		own := h.Under(daemon.DefaultCgroupParent(opts.DataRoot))
		assert.Eventually(t, func() bool { return own.RemoveParent() == nil }, 5*time.Second, 10*time.Millisecond,
			"the test daemon's parent cgroup is removed")
	})
	d, err := daemon.New(opts)
	require.NoError(t, err)
	dir, err := os.MkdirTemp("", "berthd-") // short: a socket path has 108 bytes
	require.NoError(t, err)
	sock := filepath.Join(dir, "berth.sock")
	ln, err := api.ListenUnix(sock)
	require.NoError(t, err)
	apiOpts := api.Options{Version: "test"}
	if path := os.Getenv("BERTH_TEST_API_LOG"); path != "" {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		require.NoError(t, err)
		t.Cleanup(func() { f.Close() })
		apiOpts.Logger = slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv := api.NewServer(d, apiOpts)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
		assert.NoError(t, d.Close())
		_ = os.RemoveAll(dir)
	})
	if leftovers != nil {
		t.Cleanup(leftovers)
	}
	return "unix://" + sock
}

// importBusybox imports the course's busybox as busybox:latest into the
// image store of dataRoot.
func importBusybox(t testing.TB, dataRoot string, cmd []string) {
	t.Helper()
	f, err := os.Open(labtest.BusyboxRootfs(t) + ".tar")
	require.NoError(t, err)
	defer f.Close()
	store, err := image.Open(image.StoreDir(dataRoot))
	require.NoError(t, err)
	_, err = store.Import(f, image.ImportOptions{Ref: "busybox:latest", Config: &image.ContainerConfig{
		Cmd: cmd,
		Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
	}})
	require.NoError(t, err)
}
