package registrytest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/crypto/bcrypt"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

// Auth is how the registry checks who is asking.
type Auth int

const (
	// AuthNone: anyone may pull and push.
	AuthNone Auth = iota
	// AuthBasic: htpasswd, answered with "WWW-Authenticate: Basic".
	AuthBasic
	// AuthToken: bearer tokens from a token server the package runs,
	// answered with "WWW-Authenticate: Bearer realm=...".
	AuthToken
)

func (a Auth) String() string {
	switch a {
	case AuthNone:
		return "none"
	case AuthBasic:
		return "basic"
	case AuthToken:
		return "token"
	}
	return "Auth(" + strconv.Itoa(int(a)) + ")"
}

// Options choose the registry's mode. The zero value is a plain-HTTP
// registry without auth.
type Options struct {
	// TLS serves HTTPS with a certificate for 127.0.0.1 signed by a CA
	// made for this registry (CAFile, CertsDir).
	TLS bool
	// Auth selects basic (htpasswd) or token auth.
	Auth Auth
	// Username and Password are the one account of AuthBasic and
	// AuthToken; empty means "berth" and a random password.
	Username, Password string
	// CountRequests puts a counting reverse proxy in front of the
	// registry: Host and URL then name the proxy, and Requests lists
	// every request, recorded when it arrives (so a test that got its
	// answer never misses the request that asked).
	CountRequests bool
}

// Registry is a running docker-registry (distribution 2.8) on 127.0.0.1.
type Registry struct {
	opts     Options
	host     string // what clients dial: the registry's, or the counter's
	regHost  string // the registry process's own address
	scheme   string
	dir      string
	storage  string
	logFile  string
	pki      *pki
	caFile   string
	certsDir string
	token    *tokenServer
	counter  *counter
	client   *http.Client
}

// Start runs a registry for t and stops it (killing and waiting for the
// process) at t's cleanup. Its log is printed with t.Log if t fails. It
// skips t (fails it under BERTH_REQUIRE_PRIVILEGED=1) when docker-registry
// is not installed.
func Start(t testing.TB, opts Options) *Registry {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	labtest.Need(t, err == nil, "docker-registry is not installed (Debian: apt-get install docker-registry; scripts/deps installs it)")

	r := &Registry{opts: opts, dir: t.TempDir(), scheme: "http"}
	r.storage = filepath.Join(r.dir, "storage")
	r.logFile = filepath.Join(r.dir, "registry.log")
	if opts.Auth != AuthNone {
		if r.opts.Username == "" {
			r.opts.Username = "berth"
		}
		if r.opts.Password == "" {
			b := make([]byte, 8)
			_, _ = rand.Read(b)
			r.opts.Password = "pw-" + hex.EncodeToString(b)
		}
	}
	// The log is read after the process is gone: this cleanup is
	// registered first so that it runs last.
	t.Cleanup(func() {
		if t.Failed() {
			if b, err := os.ReadFile(r.logFile); err == nil {
				t.Logf("docker-registry log (%s):\n%s", r.logFile, b)
			}
		}
	})

	tlsCfg := &tls.Config{}
	if opts.TLS || opts.Auth == AuthToken {
		if r.pki, err = newPKI(); err != nil {
			t.Fatalf("registrytest: %v", err)
		}
		tlsCfg.RootCAs = r.pki.pool()
	}
	if opts.TLS {
		r.scheme = "https"
		r.caFile = filepath.Join(r.dir, "ca.pem")
		files := map[string][]byte{r.caFile: r.pki.caPEM,
			filepath.Join(r.dir, "server.crt"): r.pki.server.certPEM,
			filepath.Join(r.dir, "server.key"): r.pki.server.keyPEM}
		for name, data := range files {
			if err := os.WriteFile(name, data, 0o600); err != nil {
				t.Fatalf("registrytest: %v", err)
			}
		}
	}
	r.client = &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg}, Timeout: 10 * time.Second}
	switch opts.Auth {
	case AuthNone:
	case AuthBasic:
		// distribution's htpasswd reads bcrypt only; Debian ships no
		// htpasswd tool, so the hash is made here.
		hash, err := bcrypt.GenerateFromPassword([]byte(r.opts.Password), bcrypt.MinCost)
		if err != nil {
			t.Fatalf("registrytest: bcrypt: %v", err)
		}
		line := r.opts.Username + ":" + string(hash) + "\n"
		if err := os.WriteFile(filepath.Join(r.dir, "htpasswd"), []byte(line), 0o600); err != nil {
			t.Fatalf("registrytest: %v", err)
		}
	case AuthToken:
		if r.token, err = newTokenServer(r.pki, opts.TLS, r.opts.Username, r.opts.Password); err != nil {
			t.Fatalf("registrytest: token server: %v", err)
		}
		t.Cleanup(r.token.srv.Close)
		if err := os.WriteFile(filepath.Join(r.dir, "token-ca.pem"), r.pki.caPEM, 0o600); err != nil {
			t.Fatalf("registrytest: %v", err)
		}
	default:
		t.Fatalf("registrytest: unknown auth mode %v", opts.Auth)
	}

	// Pick a port the kernel says is free, then let the registry bind
	// it. Another process may take it in between: then the registry
	// exits with "address already in use" and we try another port.
	const attempts = 20
	for i := 0; ; i++ {
		err := r.start(t, bin)
		if err == nil {
			break
		}
		if !errors.Is(err, errPortTaken) || i == attempts-1 {
			t.Fatalf("registrytest: starting docker-registry: %v", err)
		}
	}
	r.host = r.regHost
	if opts.CountRequests {
		r.startCounter(t, tlsCfg)
	}
	if opts.TLS {
		r.certsDir = filepath.Join(r.dir, "certs.d")
		if err := writeCertsDir(r.certsDir, r.host, r.pki.caPEM); err != nil {
			t.Fatalf("registrytest: %v", err)
		}
	}
	return r
}

var errPortTaken = errors.New("port taken")

// pickPort chooses the port of a start; a test replaces it to make the
// race happen.
var pickPort = freePort

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// start writes a config for a fresh port and runs the registry until it
// answers /v2/ with this start's own id.
func (r *Registry) start(t testing.TB, bin string) error {
	port, err := pickPort()
	if err != nil {
		return err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	idb := make([]byte, 8)
	_, _ = rand.Read(idb)
	id := hex.EncodeToString(idb)
	cfgFile := filepath.Join(r.dir, "config.yml")
	if err := os.WriteFile(cfgFile, []byte(r.config(addr, id)), 0o600); err != nil {
		return err
	}
	logf, err := os.OpenFile(r.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "--- registrytest: starting on %s\n", addr)
	logStart, _ := logf.Seek(0, 2)

	cmd := exec.Command(bin, "serve", cfgFile)
	cmd.Stdout, cmd.Stderr = logf, logf
	// If the test binary dies, the registry goes with it. The
	// parent-death signal is tied to the thread that forks, and the Go
	// runtime ends a thread whose goroutine exits locked to it (as
	// namespace work does in the packages that use this one): so the
	// registry is started, and waited for, from a thread of its own.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	started := make(chan error)
	exited := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		err := cmd.Start()
		started <- err
		if err == nil {
			_ = cmd.Wait()
			close(exited)
		}
		// Left locked: the thread ends with the goroutine.
	}()
	if err := <-started; err != nil {
		return err
	}
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}

	// A registry that answers without our id is someone else's on a port
	// it took from us; ours then exits and we retry.
	url := r.scheme + "://" + addr + "/v2/"
	// A request to whatever holds the port must not outlive our
	// registry: a listener that accepts and never answers would hold it
	// until the client's timeout.
	pollCtx, cancelPoll := context.WithCancel(context.Background())
	defer cancelPoll()
	go func() {
		select {
		case <-exited:
			cancelPoll()
		case <-pollCtx.Done():
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-exited:
			b, _ := os.ReadFile(r.logFile)
			if int64(len(b)) > logStart {
				b = b[logStart:]
			}
			if bytes.Contains(b, []byte("address already in use")) {
				return errPortTaken
			}
			return fmt.Errorf("docker-registry exited before answering %s (%s):\n%s", url, cmd.ProcessState, b)
		default:
		}
		req, err := http.NewRequestWithContext(pollCtx, http.MethodGet, url, nil)
		if err != nil {
			stop()
			return err
		}
		if resp, err := r.client.Do(req); err == nil {
			resp.Body.Close()
			if resp.Header.Get("X-Registrytest-Id") == id {
				break
			}
		}
		if time.Now().After(deadline) {
			stop()
			return fmt.Errorf("docker-registry did not answer %s within 30s", url)
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.regHost = addr
	t.Cleanup(stop)
	return nil
}

// config is distribution 2.8's configuration, written as YAML by hand
// (every value quoted with %q, which YAML reads as a double-quoted string).
func (r *Registry) config(addr, id string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `version: 0.1
log:
  level: info
  formatter: text
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: %q
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
validation:
  manifests:
    urls:
      # Without an allow list, distribution 2.8 refuses every foreign
      # layer's URL (WithForeignLayer's images).
      allow: ["^https?://"]
http:
  addr: %q
  secret: %q
  headers:
    X-Registrytest-Id: [%q]
`, r.storage, addr, "secret-"+id, id)
	if r.opts.TLS {
		fmt.Fprintf(&b, "  tls:\n    certificate: %q\n    key: %q\n",
			filepath.Join(r.dir, "server.crt"), filepath.Join(r.dir, "server.key"))
	}
	switch r.opts.Auth {
	case AuthBasic:
		fmt.Fprintf(&b, "auth:\n  htpasswd:\n    realm: %q\n    path: %q\n", "registrytest", filepath.Join(r.dir, "htpasswd"))
	case AuthToken:
		fmt.Fprintf(&b, "auth:\n  token:\n    realm: %q\n    service: %q\n    issuer: %q\n    rootcertbundle: %q\n",
			r.token.realm(), r.token.service, r.token.issuer, filepath.Join(r.dir, "token-ca.pem"))
	}
	return b.String()
}

// Host is "127.0.0.1:PORT", the registry part of an image reference.
func (r *Registry) Host() string { return r.host }

// URL is "http://127.0.0.1:PORT" or "https://...".
func (r *Registry) URL() string { return r.scheme + "://" + r.host }

// Ref is the reference of repo (with an optional ":tag" or "@digest") in
// this registry: Ref("team/app:1") = "127.0.0.1:PORT/team/app:1".
func (r *Registry) Ref(repo string) string { return r.host + "/" + repo }

// Username and Password are the account of the basic and token modes.
func (r *Registry) Username() string { return r.opts.Username }
func (r *Registry) Password() string { return r.opts.Password }

// StorageRoot is the registry's filesystem storage root.
func (r *Registry) StorageRoot() string { return r.storage }

// BlobPath is where the registry keeps the blob with digest
// "sha256:HEX": ROOT/docker/registry/v2/blobs/sha256/HE/HEX/data. A test
// corrupts a blob by writing there (the registry serves the file as it
// is, without checking it).
func (r *Registry) BlobPath(digest string) string {
	algo, hexs, ok := strings.Cut(digest, ":")
	if !ok || len(hexs) < 2 {
		return ""
	}
	return filepath.Join(r.storage, "docker", "registry", "v2", "blobs", algo, hexs[:2], hexs, "data")
}

// LogFile is the registry's log (its access log included).
func (r *Registry) LogFile() string { return r.logFile }

// CAFile is the PEM file of the CA that signed the registry's
// certificate; "" without TLS.
func (r *Registry) CAFile() string { return r.caFile }

// CAPEM is the CA certificate in PEM; nil without TLS.
func (r *Registry) CAPEM() []byte {
	if !r.opts.TLS {
		return nil
	}
	return r.pki.caPEM
}

// CertsDir is a directory in dockerd's certs.d layout holding
// HOST:PORT/ca.crt for this registry, to give a client as one of its
// certificate directories; "" without TLS.
func (r *Registry) CertsDir() string { return r.certsDir }

// InstallCA writes the CA to DIR/HOST:PORT/ca.crt (DIR is a certs.d:
// /etc/docker/certs.d for a dockerd) and removes that directory at t's
// cleanup. The directory must not exist yet: it is the test's own.
func (r *Registry) InstallCA(t testing.TB, dir string) {
	t.Helper()
	if !r.opts.TLS {
		t.Fatalf("registrytest: InstallCA of a registry without TLS")
	}
	d := filepath.Join(dir, r.host)
	if _, err := os.Lstat(d); err == nil {
		t.Fatalf("registrytest: %s exists already", d)
	}
	if err := writeCertsDir(dir, r.host, r.pki.caPEM); err != nil {
		t.Fatalf("registrytest: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(d) })
}

// TokenRealm is the token server's URL ("" unless AuthToken).
func (r *Registry) TokenRealm() string {
	if r.token == nil {
		return ""
	}
	return r.token.realm()
}

// TokenRequests lists the requests the token server answered.
func (r *Registry) TokenRequests() []TokenRequest {
	if r.token == nil {
		return nil
	}
	return r.token.log()
}

// HTTPClient is a client that trusts the registry's CA.
func (r *Registry) HTTPClient() *http.Client { return r.client }

// Authenticator is the registry's account for go-containerregistry
// (anonymous without auth).
func (r *Registry) Authenticator() authn.Authenticator {
	if r.opts.Auth == AuthNone {
		return authn.Anonymous
	}
	return authn.FromConfig(authn.AuthConfig{Username: r.opts.Username, Password: r.opts.Password})
}

// RemoteOptions are the options go-containerregistry's remote needs to
// reach this registry: its CA, its account, and ctx.
func (r *Registry) RemoteOptions(ctx context.Context) []remote.Option {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = r.client.Transport.(*http.Transport).TLSClientConfig.Clone()
	return []remote.Option{remote.WithTransport(tr), remote.WithAuth(r.Authenticator()), remote.WithContext(ctx)}
}

// Request is one request that reached the counting proxy.
type Request struct {
	Method string
	Path   string // with the query: "/v2/app/blobs/uploads/?digest=..."
	Accept string
	Status int // 0 while it is being answered
}

// IsBlob and IsManifest say what a request was for.
func (q Request) IsBlob() bool     { return strings.Contains(q.Path, "/blobs/") }
func (q Request) IsManifest() bool { return strings.Contains(q.Path, "/manifests/") }

type counter struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []*Request
}

// startCounter puts a reverse proxy in front of the registry. It keeps
// the Host header, so the URLs the registry writes into Location point
// at the proxy too.
func (r *Registry) startCounter(t testing.TB, tlsCfg *tls.Config) {
	backend := &url.URL{Scheme: r.scheme, Host: r.regHost}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg.Clone()
	c := &counter{}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = backend.Scheme, backend.Host
			pr.Out.Host = pr.In.Host
		},
		Transport:     tr,
		FlushInterval: -1,
	}
	c.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		q := &Request{Method: req.Method, Path: req.URL.RequestURI(), Accept: strings.Join(req.Header.Values("Accept"), ", ")}
		c.mu.Lock()
		c.reqs = append(c.reqs, q)
		c.mu.Unlock()
		proxy.ServeHTTP(&statusWriter{ResponseWriter: w, c: c, q: q}, req)
	}))
	if r.opts.TLS {
		cert, err := tls.X509KeyPair(r.pki.server.certPEM, r.pki.server.keyPEM)
		if err != nil {
			t.Fatalf("registrytest: %v", err)
		}
		c.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
		c.srv.StartTLS()
	} else {
		c.srv.Start()
	}
	t.Cleanup(c.srv.Close)
	r.counter = c
	r.host = strings.TrimPrefix(strings.TrimPrefix(c.srv.URL, "https://"), "http://")
}

// statusWriter records the status when the header goes out, before
// any of the body: a client that has read the body finds it recorded.
type statusWriter struct {
	http.ResponseWriter
	c     *counter
	q     *Request
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote && code >= 200 {
		w.wrote = true
		w.c.mu.Lock()
		w.q.Status = code
		w.c.mu.Unlock()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Requests lists the requests the counting proxy has seen, oldest
// first. It fails t unless the registry was started with CountRequests.
func (r *Registry) Requests(t testing.TB) []Request {
	t.Helper()
	if r.counter == nil {
		t.Fatalf("registrytest: Requests needs Options.CountRequests")
	}
	r.counter.mu.Lock()
	defer r.counter.mu.Unlock()
	out := make([]Request, len(r.counter.reqs))
	for i, q := range r.counter.reqs {
		out[i] = *q
	}
	return out
}

// Mark returns a position in the request list; RequestsSince(t, m) lists
// the requests after it.
func (r *Registry) Mark(t testing.TB) int { return len(r.Requests(t)) }

// RequestsSince lists the requests made after Mark returned m.
func (r *Registry) RequestsSince(t testing.TB, m int) []Request {
	t.Helper()
	all := r.Requests(t)
	if m > len(all) {
		return nil
	}
	return all[m:]
}
