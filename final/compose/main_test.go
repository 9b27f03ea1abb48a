//go:build compose

// The tests of real Compose clients are a slow suite of their own: run
// them with scripts/test-compose (go test -tags compose ./final/compose),
// which .ci/run calls after scripts/test.

package compose

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/final/daemon"
	"github.com/berth-project/berth/final/daemon/daemontest"
)

// underBerthdEnv marks the processes of a test's berthd: the daemon
// re-executes this test binary as its shims and containers' inits, and
// none of them may run the tests.
const underBerthdEnv = "BERTH_COMPOSE_TEST_UNDER_BERTHD"

// TestMain makes the test binary play every part berthd's binary plays:
// a container's shim and a container's init.
func TestMain(m *testing.M) {
	daemon.Runtime.Main() // a shim: supervise a container, then exit
	if namespace.IsInit() {
		os.Exit(daemon.Init()) // a container's init
	}
	if os.Getenv(underBerthdEnv) != "" {
		fmt.Fprintf(os.Stderr, "compose.test re-executed as %q under a test's berthd: not a shim or an init\n", os.Args)
		os.Exit(3)
	}
	os.Exit(m.Run())
}

// engine is a daemon the projects run on.
type engine struct {
	name string
	host string // DOCKER_HOST
}

// startBerthd starts a berthd in this process, over a data root of its
// own with busybox imported, its default network on a bridge of
// nettest's, served on a unix socket. Its user networks' DNS forwards
// nowhere: a name that no container has is never sent to the host's
// resolvers.
func startBerthd(t testing.TB) engine {
	t.Helper()
	labtest.Privileged(t)
	t.Setenv(underBerthdEnv, "1")
	// As `docker import` makes it on dockerd: no command of its own.
	e := engine{name: "berthd"}
	e.host = daemontest.Serve(t, daemon.Options{DNSUpstreams: []netip.AddrPort{}}, nil, func() { removeEverything(t, e) })
	return e
}

// startDockerd starts a private dockerd with busybox imported. Its
// containers' DNS forwards to 127.0.0.1 (in their own namespace, where
// nothing answers): never to the host's resolvers.
func startDockerd(t testing.TB) engine {
	t.Helper()
	d := labtest.StartDockerd(t, "--dns", "127.0.0.1")
	_, err := d.Run("import", labtest.BusyboxRootfs(t)+".tar", "busybox")
	require.NoError(t, err)
	e := engine{name: "dockerd", host: d.Host()}
	t.Cleanup(func() { removeEverything(t, e) })
	return e
}

// removeEverything removes what a failed test left on an engine:
// containers, then user networks and volumes.
func removeEverything(t testing.TB, e engine) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := Project{Host: e.host}
	for _, list := range [][]string{
		{"ps", "-aq"}, {"network", "ls", "-q", "--filter", "type=custom"}, {"volume", "ls", "-q"},
	} {
		out, err := p.Docker(ctx, list...)
		if !assert.NoError(t, err) || strings.TrimSpace(out) == "" {
			continue
		}
		rm := map[string][]string{"ps": {"rm", "-f"}, "network": {"network", "rm"}, "volume": {"volume", "rm", "-f"}}[list[0]]
		_, err = p.Docker(ctx, append(rm, strings.Fields(out)...)...)
		assert.NoError(t, err)
	}
}

// freePort is a TCP port of 127.0.0.1 that nothing listens on now.
func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// copyExample copies the example project into a directory of the
// test's, which the test may edit (a config change).
func copyExample(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, filepath.WalkDir("example", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("example", path)
		to := filepath.Join(dir, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(to, data, 0o644)
	}))
	// The bind-mounted site must be readable by the containers' root
	// whatever the test's umask made of the temporary directory.
	require.NoError(t, os.Chmod(dir, 0o755))
	return dir
}

// httpGet fetches / from addr over plain HTTP/1.0.
func httpGet(t testing.TB, addr string) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = conn.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
	require.NoError(t, err)
	body, err := io.ReadAll(conn)
	require.NoError(t, err)
	return string(body)
}
