package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recorder is a minimal Engine API server that records what berth sends
// and answers just enough for create, wait and start. It checks the
// bytes on the wire, which the fake engine's tests cannot: the fake
// decodes requests before anyone sees them.
type recorder struct {
	mu       sync.Mutex
	requests []recorded
	host     string
}

type recorded struct {
	Method, Path, Query string
	Body                []byte
	Header              http.Header
}

func newRecorder(t *testing.T) *recorder {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "rec.sock")
	l, err := net.Listen("unix", sock)
	require.NoError(t, err)
	r := &recorder{host: "unix://" + sock}
	srv := &http.Server{Handler: r}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return r
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	path := req.URL.Path
	if strings.HasPrefix(path, "/v1.") {
		path = path[strings.Index(path[1:], "/")+1:]
	}
	if path != "/_ping" {
		r.mu.Lock()
		r.requests = append(r.requests, recorded{req.Method, path, req.URL.RawQuery, body, req.Header.Clone()})
		r.mu.Unlock()
	}
	w.Header().Set("Api-Version", "1.41")
	w.Header().Set("Ostype", "linux")
	w.Header().Set("Content-Type", "application/json")
	switch {
	case path == "/_ping":
		_, _ = w.Write([]byte("OK"))
	case path == "/containers/create":
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"Id":"4f2a000000000000000000000000000000000000000000000000000000000000","Warnings":[]}`))
	case strings.HasSuffix(path, "/wait"):
		_, _ = w.Write([]byte(`{"StatusCode":0}`))
	case strings.HasSuffix(path, "/start"):
		w.WriteHeader(http.StatusNoContent)
	case strings.HasSuffix(path, "/kill"), strings.HasSuffix(path, "/stop"):
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"message":"recorder: no route"}`))
	}
}

func (r *recorder) calls() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.requests...)
}

// runBerth runs one berth command line in-process against host and
// returns stdout, stderr and the exit status.
func runBerth(t *testing.T, host string, stdin io.Reader, env map[string]string, args ...string) (string, string, int) {
	t.Helper()
	var out, errw bytes.Buffer
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	c := New(stdin, &out, &errw)
	c.Getenv = func(k string) string {
		if k == HostEnv {
			return host
		}
		return env[k]
	}
	code := c.Run(args)
	return out.String(), errw.String(), code
}

// createBody decodes the recorded body of POST /containers/create.
func createBody(t *testing.T, calls []recorded) map[string]any {
	t.Helper()
	for _, c := range calls {
		if c.Path == "/containers/create" {
			var m map[string]any
			require.NoError(t, json.Unmarshal(c.Body, &m))
			return m
		}
	}
	t.Fatalf("no create request among %v", calls)
	return nil
}

// The fields of a create request that the run flags decide; berth must
// send them exactly as docker 28.2.2 did for the same command line (the
// testdata files are what that docker sent to a recorder like this one).
var flagDrivenFields = map[string][]string{
	"": {"Hostname", "User", "AttachStdin", "AttachStdout", "AttachStderr", "ExposedPorts", "Tty",
		"OpenStdin", "StdinOnce", "Env", "Cmd", "Image", "Volumes", "WorkingDir", "Entrypoint", "Labels"},
	"HostConfig": {"Binds", "NetworkMode", "PortBindings", "AutoRemove", "Memory", "NanoCpus",
		"PidsLimit", "Init", "RestartPolicy", "Dns", "DnsOptions", "DnsSearch", "ExtraHosts",
		"MemorySwap", "MemorySwappiness", "CpuPeriod", "CpuQuota", "CpuRealtimePeriod", "CpuRealtimeRuntime",
		"BlkioWeight", "BlkioWeightDevice", "BlkioDeviceReadBps", "BlkioDeviceWriteBps", "BlkioDeviceReadIOps", "BlkioDeviceWriteIOps"},
}

// flagDrivenEndpointFields are those of each endpoint of
// NetworkingConfig.EndpointsConfig.
var flagDrivenEndpointFields = []string{"Aliases", "IPAMConfig"}

func assertSameAsDocker(t *testing.T, golden string, got map[string]any) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", golden))
	require.NoError(t, err)
	var want map[string]any
	require.NoError(t, json.Unmarshal(raw, &want))
	for section, fields := range flagDrivenFields {
		w, g := want, got
		if section != "" {
			w, _ = want[section].(map[string]any)
			g, _ = got[section].(map[string]any)
			require.NotNil(t, g, "berth sent no %s", section)
		}
		for _, f := range fields {
			assert.Equal(t, w[f], g[f], "%s.%s differs from docker's", section, f)
		}
	}
	wantEP := want["NetworkingConfig"].(map[string]any)["EndpointsConfig"].(map[string]any)
	gotEP := got["NetworkingConfig"].(map[string]any)["EndpointsConfig"].(map[string]any)
	assert.ElementsMatch(t, keys(wantEP), keys(gotEP), "NetworkingConfig.EndpointsConfig networks")
	for name, w := range wantEP {
		g, _ := gotEP[name].(map[string]any)
		for _, f := range flagDrivenEndpointFields {
			assert.Equal(t, w.(map[string]any)[f], g[f], "EndpointsConfig[%s].%s differs from docker's", name, f)
		}
	}
}

func keys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// TestS22_RunDetachedSendsWhatDockerSends: the create request of a run
// with most flags, compared with docker's, and docker's call order for
// -d: create, wait, start, then the ID on stdout.
func TestS22_RunDetachedSendsWhatDockerSends(t *testing.T) {
	rec := newRecorder(t)
	stdout, stderr, code := runBerth(t, rec.host, nil, map[string]string{"HOME": "/root"},
		"run", "-d", "-p", "8080:80", "-p", "0.0.0.0:8888:81", "-p", "127.0.0.1::53/udp",
		"-e", "A=1", "-e", "HOME", "-e", "NOPE", "-v", "/tmp:/data:ro", "-v", "/anon",
		"-w", "/w", "-u", "1000:1000", "-h", "box", "--memory", "32m", "--cpus", "1.5",
		"--pids-limit", "20", "--init", "--entrypoint", "/bin/sh", "--name", "web", "--rm",
		"-l", "a=b", "busybox", "-c", "echo hi")
	require.Equal(t, 0, code, "stderr: %s", stderr)
	assert.Equal(t, "4f2a000000000000000000000000000000000000000000000000000000000000\n", stdout)

	calls := rec.calls()
	var seq []string
	for _, c := range calls {
		seq = append(seq, c.Method+" "+c.Path+"?"+c.Query)
	}
	assert.Equal(t, []string{
		"POST /containers/create?name=web",
		"POST /containers/4f2a000000000000000000000000000000000000000000000000000000000000/wait?condition=removed",
		"POST /containers/4f2a000000000000000000000000000000000000000000000000000000000000/start?",
	}, seq)
	assertSameAsDocker(t, "docker28-run-detached.json", createBody(t, calls))
}

// TestS26_PublishWireFormat: -p 8080:80 on the wire is exactly
// {"80/tcp":[{"HostIp":"","HostPort":"8080"}]}, and the port is exposed.
func TestS26_PublishWireFormat(t *testing.T) {
	rec := newRecorder(t)
	_, stderr, code := runBerth(t, rec.host, nil, nil, "create", "-p", "8080:80", "busybox")
	require.Equal(t, 0, code, stderr)
	for _, c := range rec.calls() {
		if c.Path == "/containers/create" {
			var req struct {
				ExposedPorts json.RawMessage
				HostConfig   struct{ PortBindings json.RawMessage }
			}
			require.NoError(t, json.Unmarshal(c.Body, &req))
			assert.JSONEq(t, `{"80/tcp":[{"HostIp":"","HostPort":"8080"}]}`, string(req.HostConfig.PortBindings))
			assert.JSONEq(t, `{"80/tcp":{}}`, string(req.ExposedPorts))
			return
		}
	}
	t.Fatal("no create request")
}

// TestRunInteractiveSendsWhatDockerSends: -i with --network host, as
// create (the same body as run's when attached).
func TestRunInteractiveSendsWhatDockerSends(t *testing.T) {
	rec := newRecorder(t)
	_, stderr, code := runBerth(t, rec.host, nil, nil, "create", "-i", "--network", "host", "busybox", "cat")
	require.Equal(t, 0, code, stderr)
	assertSameAsDocker(t, "docker28-run-interactive.json", createBody(t, rec.calls()))
}

// TestCreateNetworkingSendsWhatDockerSends: a user network with aliases
// and an address, /etc/hosts entries and resolver settings.
func TestCreateNetworkingSendsWhatDockerSends(t *testing.T) {
	rec := newRecorder(t)
	_, stderr, code := runBerth(t, rec.host, nil, nil, "create", "--network", "front", "--network-alias", "web",
		"--network-alias", "www", "--ip", "10.201.7.9", "--add-host", "db:10.201.7.2", "--add-host", "gw:host-gateway",
		"--add-host", "v6=[::1]", "--dns", "127.0.0.53", "--dns-search", "example.test", "--dns-option", "ndots:2",
		"--dns-option", "timeout:1", "busybox")
	require.Equal(t, 0, code, stderr)
	assertSameAsDocker(t, "docker28-create-networking.json", createBody(t, rec.calls()))
}

// TestCreateTwoNetworksSendsWhatDockerSends: two --network, one in the
// long syntax, and --network-alias, which is the first network's.
func TestCreateTwoNetworksSendsWhatDockerSends(t *testing.T) {
	rec := newRecorder(t)
	_, stderr, code := runBerth(t, rec.host, nil, nil, "create", "--network", "back", "--network-alias", "x",
		"--network", "name=front,alias=web,ip=10.201.7.9", "busybox")
	require.Equal(t, 0, code, stderr)
	assertSameAsDocker(t, "docker28-create-two-networks.json", createBody(t, rec.calls()))
}

// TestPsPassesFiltersThrough: ps sends every --filter as it is given;
// the daemon judges the keys (network and volume among them).
func TestPsPassesFiltersThrough(t *testing.T) {
	rec := newRecorder(t)
	_, _, _ = runBerth(t, rec.host, nil, nil, "ps", "--filter", "network=front", "--filter", "volume=data",
		"--filter", "Label=a=1", "--filter", "anything=goes")
	calls := rec.calls()
	require.Len(t, calls, 1)
	q, err := url.ParseQuery(calls[0].Query)
	require.NoError(t, err)
	assert.JSONEq(t, `{"network":{"front":true},"volume":{"data":true},"label":{"a=1":true},"anything":{"goes":true}}`, q.Get("filters"))
}
