package registry

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// HubServer is the name Docker gives Docker Hub in its config file and
// in X-Registry-Auth.
const HubServer = "https://index.docker.io/v1/"

// ServerHost is the registry host a login's server address names:
// "" and Docker Hub's names are index.docker.io; a URL gives its host.
func ServerHost(server string) string {
	s := strings.TrimSpace(server)
	if s == "" {
		return name.DefaultRegistry
	}
	if u, err := url.Parse(s); err == nil && u.Host != "" {
		s = u.Host
	} else {
		s, _, _ = strings.Cut(s, "/")
	}
	switch s {
	case "docker.io", "index.docker.io", "registry-1.docker.io":
		return name.DefaultRegistry
	}
	return s
}

// Login checks auth against its ServerAddress ("" means Docker Hub) and
// returns an identity token when the registry issued one.
//
// It asks as docker login does: GET /v2/ without credentials; the 401's
// WWW-Authenticate names the scheme. Basic: GET /v2/ again with the
// credentials must answer 200. Bearer: the credentials go to the realm
// for a token (with offline_token=true: a registry that issues refresh
// tokens returns one, the identity token the docker CLI stores instead
// of the password).
func (c *Client) Login(ctx context.Context, auth AuthConfig) (identityToken string, err error) {
	host := ServerHost(auth.ServerAddress)
	reg, err := c.registryName(host, false)
	if err != nil {
		return "", err
	}
	user, pass := auth.Username, auth.Password
	if user == "" && pass == "" && auth.Auth != "" {
		raw, err := base64.StdEncoding.DecodeString(auth.Auth)
		if err != nil {
			return "", newError(ErrUnauthorized, "login: auth is not base64(user:password)", err)
		}
		user, pass, _ = strings.Cut(string(raw), ":")
	}
	base, err := c.base(reg.RegistryStr())
	if err != nil {
		return "", err
	}
	t := transport.NewUserAgent(base, c.cfg.UserAgent)
	if auth.IdentityToken != "" || auth.RegistryToken != "" {
		// A token from an earlier login: the library's handshake uses
		// it (an oauth refresh, or the token as it is).
		a := authn.FromConfig(authn.AuthConfig{Username: user, Password: pass, IdentityToken: auth.IdentityToken, RegistryToken: auth.RegistryToken})
		if _, err := transport.NewWithContext(ctx, reg, a, t, nil); err != nil {
			return "", loginError(reg, err)
		}
		return auth.IdentityToken, nil
	}
	ch, err := transport.Ping(ctx, reg, t)
	if err != nil {
		return "", fmt.Errorf("registry %s: %w", reg.RegistryStr(), err)
	}
	scheme := "https"
	if ch.Insecure {
		scheme = "http"
	}
	v2 := scheme + "://" + reg.RegistryStr() + "/v2/"
	client := &http.Client{Transport: t}
	switch strings.ToLower(ch.Scheme) {
	case "":
		return "", nil // the registry asks for no credentials
	case "basic":
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, v2, nil)
		if err != nil {
			return "", err
		}
		req.SetBasicAuth(user, pass)
		resp, err := client.Do(req)
		if err != nil {
			return "", fmt.Errorf("login to %s: %w", reg.RegistryStr(), err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return "", newError(ErrUnauthorized, fmt.Sprintf("login attempt to %s failed with status: %s", v2, resp.Status), nil)
		}
		return "", nil
	case "bearer":
		return c.tokenLogin(ctx, client, reg, ch, user, pass)
	}
	return "", newError(ErrUnsupported, fmt.Sprintf("login to %s: authentication scheme %q is not supported (Basic and Bearer are)", reg.RegistryStr(), ch.Scheme), nil)
}

// tokenLogin asks the realm for a token with the credentials.
func (c *Client) tokenLogin(ctx context.Context, client *http.Client, reg name.Registry, ch *transport.Challenge, user, pass string) (string, error) {
	realm := ch.Parameters["realm"]
	u, err := url.Parse(realm)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", fmt.Errorf("login to %s: the registry's realm %q is not a URL", reg.RegistryStr(), realm)
	}
	if u.Scheme == "http" && !ch.Insecure {
		return "", fmt.Errorf("login to %s: the realm %s is plain HTTP for a registry reached over HTTPS", reg.RegistryStr(), realm)
	}
	q := u.Query()
	if s := ch.Parameters["service"]; s != "" {
		q.Set("service", s)
	}
	q.Set("client_id", c.cfg.UserAgent)
	q.Set("offline_token", "true")
	if user != "" {
		q.Set("account", user)
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", err
	}
	if user != "" || pass != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("login to %s: token: %w", reg.RegistryStr(), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		msg := "unauthorized: incorrect username or password"
		var e struct {
			Details string `json:"details"`
		}
		if json.Unmarshal(body, &e) == nil && e.Details != "" {
			msg = "unauthorized: " + e.Details
		}
		return "", newError(ErrUnauthorized, fmt.Sprintf("login to %s: %s", reg.RegistryStr(), msg), nil)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("login to %s: token server %s answered %s", reg.RegistryStr(), u.Host, resp.Status)
	}
	var tok struct {
		Token        string `json:"token"`
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.Token == "" && tok.AccessToken == "" {
		return "", fmt.Errorf("login to %s: the token server's answer holds no token", reg.RegistryStr())
	}
	return tok.RefreshToken, nil
}

func loginError(reg name.Registry, err error) error {
	if isUnauthorized(err) {
		return newError(ErrUnauthorized, fmt.Sprintf("login to %s: %s", reg.RegistryStr(), registryMessage(err)), err)
	}
	return fmt.Errorf("login to %s: %w", reg.RegistryStr(), err)
}
