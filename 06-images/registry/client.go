package registry

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Client pulls, pushes and logs in. It is safe for concurrent use.
type Client struct {
	cfg Config
	// insecure holds Config.Insecure, parsed: hosts and networks.
	insecureHosts map[string]bool
	insecureNets  []*net.IPNet
	mirrors       []*url.URL
	// hub is where docker.io names go after the mirrors: "docker.io"
	// (tests point it at a closed port on loopback).
	hub string

	mu        sync.Mutex
	verboseMu sync.Mutex
	// bases are the plain transports, one per registry host: TLS set
	// up from certs.d, connections kept between pulls.
	bases map[string]http.RoundTripper
	// auths are authenticated transports (ping done, token held), by
	// registry, credentials and scopes: a re-pull does not ping and
	// fetch a token again, it sends its one manifest request.
	auths map[string]http.RoundTripper
}

// DefaultCertsDirs are where a registry's CAs and client certificates
// are looked for, in order: berth's own, then Docker's.
var DefaultCertsDirs = []string{"/etc/berth/certs.d", "/etc/docker/certs.d"}

// defaultConcurrency is dockerd's max-concurrent-downloads.
const defaultConcurrency = 3

// New returns a Client for cfg. It checks Insecure and Mirrors.
func New(cfg Config) (*Client, error) {
	c := &Client{cfg: cfg, insecureHosts: map[string]bool{}, bases: map[string]http.RoundTripper{}, auths: map[string]http.RoundTripper{}, hub: "docker.io"}
	if c.cfg.Concurrency <= 0 {
		c.cfg.Concurrency = defaultConcurrency
	}
	if c.cfg.CertsDirs == nil {
		c.cfg.CertsDirs = DefaultCertsDirs
	}
	if c.cfg.UserAgent == "" {
		c.cfg.UserAgent = "berth"
	}
	for _, e := range cfg.Insecure {
		if strings.Contains(e, "/") {
			_, n, err := net.ParseCIDR(e)
			if err != nil {
				return nil, fmt.Errorf("insecure registry %q: not host[:port] nor a CIDR: %w", e, err)
			}
			c.insecureNets = append(c.insecureNets, n)
			continue
		}
		if strings.Contains(e, "://") {
			return nil, fmt.Errorf("insecure registry %q: give host[:port], without a scheme", e)
		}
		c.insecureHosts[strings.ToLower(e)] = true
	}
	for _, m := range cfg.Mirrors {
		u, err := url.Parse(m)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("registry mirror %q: want a URL such as https://mirror.example:5000", m)
		}
		if u.Path != "" && u.Path != "/" {
			return nil, fmt.Errorf("registry mirror %q: a mirror is a host, without a path", m)
		}
		c.mirrors = append(c.mirrors, u)
	}
	return c, nil
}

// isInsecure says whether host (host[:port]) may be reached over plain
// HTTP and over TLS without verification: dockerd's rule. Loopback is;
// so is what Config.Insecure names, by name or by the network of an
// address the name resolves to.
func (c *Client) isInsecure(host string) bool {
	host = strings.ToLower(host)
	if c.insecureHosts[host] {
		return true
	}
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	if c.insecureHosts[h] {
		return true
	}
	var ips []net.IP
	if ip := net.ParseIP(h); ip != nil {
		ips = []net.IP{ip}
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		addrs, err := net.DefaultResolver.LookupIPAddr(ctx, h)
		cancel()
		if err != nil {
			return false
		}
		for _, a := range addrs {
			ips = append(ips, a.IP)
		}
	}
	for _, ip := range ips {
		if ip.IsLoopback() {
			return true
		}
		for _, n := range c.insecureNets {
			if n.Contains(ip) {
				return true
			}
		}
	}
	return false
}

// base is the transport for one registry host, below authentication:
// TLS with the host's CAs and client certificates from the certs
// directories, and what it may do in plain HTTP checked.
func (c *Client) base(host string) (http.RoundTripper, error) {
	c.mu.Lock()
	rt, ok := c.bases[host]
	c.mu.Unlock()
	if ok {
		return rt, nil
	}
	// Outside the lock: a CIDR rule may need a DNS lookup.
	insecure := c.isInsecure(host)
	tlsConfig, err := c.tlsConfig(host, insecure)
	if err != nil {
		return nil, err
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = tlsConfig
	// Layers are already compressed: asking for gzip on top only costs.
	t.DisableCompression = true
	rt = &guard{inner: t, host: host, insecure: insecure}
	if c.cfg.Verbose != nil {
		rt = &verbose{inner: rt, w: c.cfg.Verbose, mu: &c.verboseMu}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if have, ok := c.bases[host]; ok {
		return have, nil // another goroutine was first
	}
	c.bases[host] = rt
	return rt, nil
}

// tlsConfig follows dockerd's certs.d rules: in DIR/HOST[:PORT]/, every
// *.crt is a CA added to the system's; every *.cert is a client
// certificate whose key is the *.key of the same name (one without the
// other is an error).
func (c *Client) tlsConfig(host string, insecure bool) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure} //nolint:gosec // dockerd's insecure registries
	for _, dir := range c.cfg.CertsDirs {
		hostDir := filepath.Join(dir, strings.ReplaceAll(host, "/", "_"))
		entries, err := os.ReadDir(hostDir)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("registry %s: certificates: %w", host, err)
		}
		for _, e := range entries {
			p := filepath.Join(hostDir, e.Name())
			switch {
			case strings.HasSuffix(e.Name(), ".crt"):
				if cfg.RootCAs == nil {
					pool, err := x509.SystemCertPool()
					if err != nil || pool == nil {
						pool = x509.NewCertPool()
					}
					cfg.RootCAs = pool
				}
				data, err := os.ReadFile(p)
				if err != nil {
					return nil, fmt.Errorf("registry %s: CA %s: %w", host, p, err)
				}
				if !cfg.RootCAs.AppendCertsFromPEM(data) {
					return nil, fmt.Errorf("registry %s: CA %s: no PEM certificate in it", host, p)
				}
			case strings.HasSuffix(e.Name(), ".cert"):
				key := strings.TrimSuffix(p, ".cert") + ".key"
				pair, err := tls.LoadX509KeyPair(p, key)
				if errors.Is(err, os.ErrNotExist) {
					return nil, fmt.Errorf("registry %s: missing key %s for client certificate %s", host, filepath.Base(key), p)
				}
				if err != nil {
					return nil, fmt.Errorf("registry %s: client certificate %s: %w", host, p, err)
				}
				cfg.Certificates = append(cfg.Certificates, pair)
			case strings.HasSuffix(e.Name(), ".key"):
				cert := strings.TrimSuffix(p, ".key") + ".cert"
				if _, err := os.Stat(cert); err != nil {
					return nil, fmt.Errorf("registry %s: missing client certificate %s for key %s", host, filepath.Base(cert), p)
				}
			}
		}
	}
	return cfg, nil
}

// guard refuses plain HTTP to a registry that is not insecure. The
// library falls back to HTTP when HTTPS fails for hosts it thinks local
// (it counts 10/8, 172.16/12 and 192.168/16 too); dockerd does it only
// for insecure registries, which is the rule here.
type guard struct {
	inner    http.RoundTripper
	host     string
	insecure bool
}

func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && strings.EqualFold(req.URL.Host, g.host) && !g.insecure {
		return nil, fmt.Errorf("registry %s: refusing plain HTTP to a registry that is not insecure (HTTPS failed; add it to the insecure registries to allow HTTP)", g.host)
	}
	return g.inner.RoundTrip(req)
}

// authenticator is the credentials for registry: the client's, or
// else the docker config file's (and its credential helpers).
func authenticator(reg name.Registry, auth *AuthConfig) (authn.Authenticator, error) {
	if auth == nil {
		a, err := authn.DefaultKeychain.Resolve(reg)
		if err != nil {
			return nil, fmt.Errorf("registry %s: credentials from the docker config: %w", reg.RegistryStr(), err)
		}
		return a, nil
	}
	if auth.Username == "" && auth.Password == "" && auth.Auth == "" && auth.IdentityToken == "" && auth.RegistryToken == "" {
		return authn.Anonymous, nil
	}
	return authn.FromConfig(authn.AuthConfig{
		Username: auth.Username, Password: auth.Password, Auth: auth.Auth,
		IdentityToken: auth.IdentityToken, RegistryToken: auth.RegistryToken,
	}), nil
}

// endpoint is one registry repository, reached with credentials for some
// scopes: the library's authenticated transport and an HTTP client on
// it for the requests the chapter makes itself.
type endpoint struct {
	repo   name.Repository
	rt     http.RoundTripper
	client *http.Client
	// mirror is set for a mirror of Docker Hub.
	mirror bool
}

// registryName is the library's name of a registry host, insecure (so
// that it tries HTTP after HTTPS) when dockerd's rules say so.
func (c *Client) registryName(host string, forceInsecure bool) (name.Registry, error) {
	var opts []name.Option
	if forceInsecure || c.isInsecure(host) {
		opts = append(opts, name.Insecure)
	}
	reg, err := name.NewRegistry(host, opts...)
	if err != nil {
		return name.Registry{}, fmt.Errorf("%w: registry %q: %v", ErrInvalidReference, host, err)
	}
	return reg, nil
}

// endpoints lists where named may be found: for a Docker Hub name, each
// mirror, then the hub; else its own registry.
func (c *Client) endpoints(named reference.Named, withMirrors bool) []string {
	domain := reference.Domain(named)
	if domain != "docker.io" {
		return []string{domain}
	}
	var hosts []string
	if withMirrors {
		for _, m := range c.mirrors {
			hosts = append(hosts, m.Scheme+"://"+m.Host)
		}
	}
	return append(hosts, c.hub)
}

// connect reaches the repository path on host (a host, or a mirror's
// URL) with auth for actions ("pull", "push") on it, and "pull" on the
// repositories in extraPull (the sources of cross-repository mounts).
// The handshake is the library's: GET /v2/, then, after a 401, the
// WWW-Authenticate challenge tells Basic (credentials on every request)
// or Bearer (credentials exchanged at the realm for a token).
func (c *Client) connect(ctx context.Context, host, path string, auth *AuthConfig, actions []string, extraPull []string) (*endpoint, error) {
	mirror := false
	forceInsecure := false
	if u, err := url.Parse(host); err == nil && u.Scheme != "" && u.Host != "" {
		mirror = true
		forceInsecure = u.Scheme == "http"
		host = u.Host
	}
	reg, err := c.registryName(host, forceInsecure)
	if err != nil {
		return nil, err
	}
	repo := reg.Repo(path)
	if _, err := name.NewRepository(repo.Name()); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidReference, err)
	}
	scopes := []string{repo.Scope(strings.Join(actions, ","))}
	for _, p := range extraPull {
		scopes = append(scopes, reg.Repo(p).Scope(transport.PullScope))
	}
	a, err := authenticator(reg, auth)
	if err != nil {
		return nil, err
	}
	key, err := authKey(a)
	if err != nil {
		return nil, err
	}
	key = reg.RegistryStr() + "|" + key + "|" + strings.Join(scopes, " ")

	c.mu.Lock()
	rt, ok := c.auths[key]
	c.mu.Unlock()
	if !ok {
		base, err := c.base(reg.RegistryStr())
		if err != nil {
			return nil, err
		}
		rt, err = transport.NewWithContext(ctx, reg, a, transport.NewUserAgent(base, c.cfg.UserAgent), scopes)
		if err != nil {
			return nil, fmt.Errorf("registry %s: %w", reg.RegistryStr(), err)
		}
		c.mu.Lock()
		if len(c.auths) > 256 {
			c.auths = map[string]http.RoundTripper{}
		}
		c.auths[key] = rt
		c.mu.Unlock()
	}
	return &endpoint{repo: repo, rt: rt, client: &http.Client{Transport: rt}, mirror: mirror}, nil
}

// authKey tells credentials apart without keeping them in a map key in
// the clear.
func authKey(a authn.Authenticator) (string, error) {
	if a == authn.Anonymous {
		return "anonymous", nil
	}
	cfg, err := a.Authorization()
	if err != nil {
		return "", fmt.Errorf("credentials: %w", err)
	}
	data, _ := json.Marshal(cfg)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8]), nil
}

// url is the address of a resource of the endpoint's repository:
// /v2/<name>/blobs/<digest>, /v2/<name>/blobs/uploads/. The library's
// transport puts the scheme that the ping found in place of https.
func (ep *endpoint) url(parts ...string) string {
	return "https://" + ep.repo.RegistryStr() + "/v2/" + ep.repo.RepositoryStr() + "/" + strings.Join(parts, "/")
}

func (ep *endpoint) do(ctx context.Context, method, u string, hdr http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	return ep.client.Do(req)
}
