package registrytest

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"
)

// tokenServer is the other half of the registry's token auth: the
// registry answers an anonymous request with
//
//	401 WWW-Authenticate: Bearer realm="http://127.0.0.1:T/token",service="registrytest",scope="repository:app:pull"
//
// and the client asks the realm for a token, with its password:
//
//	GET /token?service=registrytest&scope=repository:app:pull,push   (Authorization: Basic ...)
//	200 {"token": "<JWT>", "access_token": "<JWT>", "expires_in": 300}
//
// then repeats its request with "Authorization: Bearer <JWT>". The JWT is
// signed (ES256) by a certificate whose chain is in its header (x5c); the
// registry trusts it because the chain ends at the CA in its
// auth.token.rootcertbundle. The server grants a user who gives the right
// password every action asked for; anyone else gets 401, as Docker Hub
// answers a wrong password.
type tokenServer struct {
	srv      *httptest.Server
	signing  keyPair
	service  string
	issuer   string
	user     string
	password string

	mu       sync.Mutex
	requests []TokenRequest
}

// TokenRequest is one request the token server answered.
type TokenRequest struct {
	Method string
	User   string   // "" when no credentials came
	Scopes []string // as sent: "repository:app:pull,push"
	Status int
}

const (
	tokenService = "registrytest"
	tokenIssuer  = "berth-registrytest"
	tokenTTL     = 5 * time.Minute
)

// newTokenServer starts the token server, over HTTPS (with the
// registry's server certificate, which names localhost too) when the
// registry is: a client refuses a plain-HTTP realm for a secure registry.
func newTokenServer(p *pki, useTLS bool, user, password string) (*tokenServer, error) {
	ts := &tokenServer{signing: p.signing, service: tokenService, issuer: tokenIssuer, user: user, password: password}
	// httptest binds 127.0.0.1:0: the kernel picks the port, no race.
	ts.srv = httptest.NewUnstartedServer(http.HandlerFunc(ts.serve))
	if useTLS {
		cert, err := tls.X509KeyPair(p.server.certPEM, p.server.keyPEM)
		if err != nil {
			return nil, err
		}
		ts.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
		ts.srv.StartTLS()
	} else {
		ts.srv.Start()
	}
	return ts, nil
}

// realm names the server "localhost", not 127.0.0.1: go-containerregistry
// (and so berth) refuses a realm that is a private or loopback IP literal
// other than the registry's own host:port, a guard against a registry
// that would send its clients' passwords to an internal service. A name
// passes; it resolves to loopback all the same.
func (ts *tokenServer) realm() string {
	u, _ := url.Parse(ts.srv.URL)
	return u.Scheme + "://localhost:" + u.Port() + "/token"
}

func (ts *tokenServer) serve(w http.ResponseWriter, r *http.Request) {
	req := TokenRequest{Method: r.Method, Status: http.StatusOK}
	defer func() {
		ts.mu.Lock()
		ts.requests = append(ts.requests, req)
		ts.mu.Unlock()
	}()
	fail := func(status int, msg string) {
		req.Status = status
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"details": msg})
	}
	if r.URL.Path != "/token" {
		fail(http.StatusNotFound, "no such endpoint: "+r.URL.Path)
		return
	}
	var user, password, service string
	var scopes []string
	switch r.Method {
	case http.MethodGet:
		// The Docker token protocol: credentials in basic auth.
		var ok bool
		user, password, ok = r.BasicAuth()
		if !ok {
			user, password = "", ""
		}
		service = r.URL.Query().Get("service")
		scopes = r.URL.Query()["scope"]
	case http.MethodPost:
		// The OAuth2 form (grant_type=password), which dockerd and the
		// docker CLI use for "docker login" to get a refresh token.
		if err := r.ParseForm(); err != nil {
			fail(http.StatusBadRequest, err.Error())
			return
		}
		if gt := r.PostForm.Get("grant_type"); gt != "password" {
			fail(http.StatusBadRequest, "unsupported grant_type "+gt)
			return
		}
		user, password = r.PostForm.Get("username"), r.PostForm.Get("password")
		service = r.PostForm.Get("service")
		scopes = r.PostForm["scope"]
	default:
		fail(http.StatusMethodNotAllowed, "method "+r.Method)
		return
	}
	req.User = user
	for _, s := range scopes {
		req.Scopes = append(req.Scopes, strings.Fields(s)...)
	}
	if service != ts.service {
		fail(http.StatusBadRequest, fmt.Sprintf("unknown service %q", service))
		return
	}
	if user == "" {
		fail(http.StatusUnauthorized, "authentication required")
		return
	}
	if subtle.ConstantTimeCompare([]byte(user), []byte(ts.user)) != 1 ||
		subtle.ConstantTimeCompare([]byte(password), []byte(ts.password)) != 1 {
		fail(http.StatusUnauthorized, "incorrect username or password")
		return
	}
	var access []accessEntry
	for _, s := range req.Scopes {
		a, err := parseScope(s)
		if err != nil {
			fail(http.StatusBadRequest, err.Error())
			return
		}
		access = append(access, a)
	}
	now := time.Now()
	tok, err := ts.sign(user, access, now)
	if err != nil {
		fail(http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"token":        tok,
		"access_token": tok,
		"expires_in":   int(tokenTTL / time.Second),
		"issued_at":    now.UTC().Format(time.RFC3339),
	})
}

// accessEntry is one element of the JWT's "access" claim.
type accessEntry struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

// parseScope reads "repository:team/app:pull,push". The name may not
// hold a colon but the type may carry a class ("repository(plugin)").
func parseScope(s string) (accessEntry, error) {
	first, last := strings.Index(s, ":"), strings.LastIndex(s, ":")
	if first < 0 || first == last {
		return accessEntry{}, fmt.Errorf("malformed scope %q", s)
	}
	a := accessEntry{Type: s[:first], Name: s[first+1 : last]}
	if acts := s[last+1:]; acts != "" {
		a.Actions = strings.Split(acts, ",")
	}
	if i := strings.Index(a.Type, "("); i >= 0 {
		a.Type = a.Type[:i]
	}
	return a, nil
}

// sign writes the JWT by hand: base64url(header) "." base64url(claims)
// "." base64url(ES256 signature). ES256's signature is r and s, each
// 32 bytes big-endian, side by side (RFC 7518 3.4), not ASN.1.
func (ts *tokenServer) sign(subject string, access []accessEntry, now time.Time) (string, error) {
	if access == nil {
		access = []accessEntry{}
	}
	header := map[string]any{
		"typ": "JWT",
		"alg": "ES256",
		// x5c holds standard (not URL) base64 DER, leaf first.
		"x5c": []string{base64.StdEncoding.EncodeToString(ts.signing.cert.Raw)},
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	claims := map[string]any{
		"iss":    ts.issuer,
		"sub":    subject,
		"aud":    ts.service,
		"exp":    now.Add(tokenTTL).Unix(),
		"nbf":    now.Add(-time.Minute).Unix(),
		"iat":    now.Unix(),
		"jti":    hex.EncodeToString(jti),
		"access": access,
	}
	h, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	signed := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	sum := sha256.Sum256([]byte(signed))
	r, s, err := ecdsa.Sign(rand.Reader, ts.signing.key, sum[:])
	if err != nil {
		return "", fmt.Errorf("signing the token: %w", err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return signed + "." + enc.EncodeToString(sig), nil
}

func (ts *tokenServer) log() []TokenRequest {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]TokenRequest(nil), ts.requests...)
}
