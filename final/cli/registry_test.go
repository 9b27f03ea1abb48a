package cli

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// configOf reads the docker config file in dir.
func configOf(t *testing.T, dir string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(data, &m))
	return m
}

func TestBerthLoginPullPushLogoutOnTheFake(t *testing.T) {
	e := newEngine(t)
	e.fake.AddRemoteImage("127.0.0.1:5000/team/app:1", container.Config{Cmd: []string{"echo", "app"}}, map[string]string{"app": "x"})
	e.fake.SetRegistryLogin("127.0.0.1:5000", "ann", "pw")
	cfgDir := t.TempDir()
	env := map[string]string{"DOCKER_CONFIG": cfgDir}
	berth := func(stdin string, args ...string) (string, string, int) {
		t.Helper()
		return runBerth(t, e.host, strings.NewReader(stdin), env, args...)
	}

	_, errOut, code := berth("", "pull", "127.0.0.1:5000/team/app:1")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "unauthorized: authentication required")

	_, errOut, code = berth("bad\n", "login", "-u", "ann", "--password-stdin", "127.0.0.1:5000")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "unauthorized")
	_, errOut, code = berth("", "login", "127.0.0.1:5000")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "Cannot perform an interactive login from a non TTY device")

	out, errOut, code := berth("pw\n", "login", "-u", "ann", "--password-stdin", "http://127.0.0.1:5000/")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "Login Succeeded\n", out)
	auths := configOf(t, cfgDir)["auths"].(map[string]any)
	require.Contains(t, auths, "127.0.0.1:5000", "docker's key: the host without scheme")
	assert.Equal(t, base64.StdEncoding.EncodeToString([]byte("ann:pw")), auths["127.0.0.1:5000"].(map[string]any)["auth"])

	// Logged in: stored credentials go with the pull.
	out, errOut, code = berth("", "pull", "127.0.0.1:5000/team/app:1")
	require.Equal(t, 0, code, errOut)
	assert.True(t, strings.HasPrefix(out, "1: Pulling from team/app\n"), out)
	assert.Contains(t, out, ": Pull complete\n")
	assert.NotContains(t, out, "Downloading", "no progress lines off a terminal")
	assert.True(t, strings.HasSuffix(out, "Status: Downloaded newer image for 127.0.0.1:5000/team/app:1\n127.0.0.1:5000/team/app:1\n"), out)
	out, _, code = berth("", "pull", "-q", "127.0.0.1:5000/team/app:1")
	assert.Equal(t, 0, code)
	assert.Equal(t, "127.0.0.1:5000/team/app:1\n", out)
	_, errOut, code = berth("", "pull", "-a", "127.0.0.1:5000/team/app:1")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "tag can't be used with --all-tags/-a")

	out, _, _ = berth("", "images", "--digests", "--format", "{{.Repository}}:{{.Tag}} {{.Digest}}", "127.0.0.1:5000/team/app")
	assert.Regexp(t, `^127.0.0.1:5000/team/app:1 sha256:[0-9a-f]{64}\n$`, out)

	_, errOut, code = berth("", "tag", "busybox", "127.0.0.1:5000/bb")
	require.Equal(t, 0, code, errOut)
	out, errOut, code = berth("", "push", "127.0.0.1:5000/bb")
	require.Equal(t, 0, code, errOut)
	assert.True(t, strings.HasPrefix(out, "Using default tag: latest\nThe push refers to repository [127.0.0.1:5000/bb]\n"), out)
	assert.Regexp(t, `latest: digest: sha256:[0-9a-f]{64} size: 527\n$`, out)

	out, _, code = berth("", "logout", "127.0.0.1:5000")
	assert.Equal(t, 0, code)
	assert.Equal(t, "Removing login credentials for 127.0.0.1:5000\n", out)
	assert.NotContains(t, configOf(t, cfgDir)["auths"], "127.0.0.1:5000")
	out, _, _ = berth("", "logout", "127.0.0.1:5000")
	assert.Equal(t, "Not logged in to 127.0.0.1:5000\n", out)
}

// A credential helper named by credsStore holds the secrets, as with
// docker: berth runs docker-credential-NAME store, get and erase.
func TestBerthUsesDockersCredentialHelper(t *testing.T) {
	e := newEngine(t)
	e.fake.SetRegistryLogin("127.0.0.1:5000", "ann", "pw")
	e.fake.AddRemoteImage("127.0.0.1:5000/p:1", container.Config{Cmd: []string{"true"}}, map[string]string{"a": "b"})
	bin, store := t.TempDir(), t.TempDir()
	// A helper in shell: the protocol is the server on stdin, JSON out.
	helper := `#!/bin/sh
set -e
case "$1" in
store) cat > "` + store + `/secret.json" ;;
get) server=$(cat); if [ -f "` + store + `/secret.json" ]; then cat "` + store + `/secret.json"; else echo "credentials not found in native keychain"; exit 1; fi ;;
erase) server=$(cat); rm -f "` + store + `/secret.json" ;;
list) echo '{}' ;;
esac
`
	require.NoError(t, os.WriteFile(filepath.Join(bin, "docker-credential-berthtest"), []byte(helper), 0o755))
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	cfgDir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(cfgDir, "config.json"), []byte(`{"credsStore":"berthtest"}`), 0o600))
	env := map[string]string{"DOCKER_CONFIG": cfgDir}

	out, errOut, code := runBerth(t, e.host, strings.NewReader("pw"), env, "login", "-u", "ann", "--password-stdin", "127.0.0.1:5000")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "Login Succeeded\n", out)
	secret, err := os.ReadFile(filepath.Join(store, "secret.json"))
	require.NoError(t, err)
	assert.Contains(t, string(secret), `"Secret":"pw"`, "the helper got the password")
	data, err := os.ReadFile(filepath.Join(cfgDir, "config.json"))
	require.NoError(t, err)
	assert.NotContains(t, string(data), "pw", "the config file holds no secret")

	_, errOut, code = runBerth(t, e.host, nil, env, "pull", "127.0.0.1:5000/p:1")
	require.Equal(t, 0, code, "the helper's credentials go with the pull: %s", errOut)

	_, errOut, code = runBerth(t, e.host, nil, env, "logout", "127.0.0.1:5000")
	require.Equal(t, 0, code, errOut)
	assert.NoFileExists(t, filepath.Join(store, "secret.json"), "erased from the helper")
}

func TestImageRowsDigests(t *testing.T) {
	const d1, d2 = "sha256:1111111111111111111111111111111111111111111111111111111111111111", "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	rows := imageRows([]image.Summary{
		{ID: "sha256:aa", RepoTags: []string{"a:1", "127.0.0.1:5000/a:1", "local:x"}, RepoDigests: []string{"a@" + d1, "127.0.0.1:5000/a@" + d2}},
		{ID: "sha256:bb", RepoDigests: []string{"b@" + d2}},
		{ID: "sha256:cc"},
	}, true, time.Now())
	var got []string
	for _, r := range rows {
		got = append(got, r.repo+" "+r.tag+" "+r.digest)
	}
	assert.Equal(t, []string{
		"a 1 " + d1,
		"127.0.0.1:5000/a 1 " + d2,
		"local x <none>",
		"b <none> " + d2, // pulled by digest only
		"<none> <none> <none>",
	}, got)
}

// What berth puts on the wire for registries, as the docker CLI does:
// X-Registry-Auth (base64url JSON, "{}" without credentials) on pulls
// and pushes, X-Registry-Config (every credential) on builds.
func TestRegistryHeadersOnTheWire(t *testing.T) {
	rec := newRecorder(t)
	cfgDir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(cfgDir, "config.json"),
		[]byte(`{"auths":{"127.0.0.1:5000":{"auth":"`+base64.StdEncoding.EncodeToString([]byte("ann:pw"))+`"}}}`), 0o600))
	env := map[string]string{"DOCKER_CONFIG": cfgDir}
	decode := func(v string) map[string]any {
		t.Helper()
		data, err := base64.URLEncoding.DecodeString(v)
		require.NoError(t, err, "base64url with padding, as docker's")
		var m map[string]any
		require.NoError(t, json.Unmarshal(data, &m))
		return m
	}

	runBerth(t, rec.host, nil, env, "pull", "127.0.0.1:5000/app:1")
	runBerth(t, rec.host, nil, env, "pull", "other.example:5000/app")
	runBerth(t, rec.host, nil, env, "push", "127.0.0.1:5000/app:1")
	ctxDir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte("FROM 127.0.0.1:5000/app:1\n"), 0o644))
	runBerth(t, rec.host, nil, env, "build", ctxDir)

	calls := rec.calls()
	var pulls, pushes, builds []recorded
	for _, c := range calls {
		switch {
		case c.Path == "/images/create":
			pulls = append(pulls, c)
		case strings.HasSuffix(c.Path, "/push"):
			pushes = append(pushes, c)
		case c.Path == "/build":
			builds = append(builds, c)
		}
	}
	require.Len(t, pulls, 2)
	assert.Equal(t, "fromImage=127.0.0.1%3A5000%2Fapp&tag=1", pulls[0].Query)
	assert.Equal(t, map[string]any{"username": "ann", "password": "pw", "serveraddress": "127.0.0.1:5000"},
		decode(pulls[0].Header.Get("X-Registry-Auth")))
	assert.Equal(t, map[string]any{"serveraddress": "other.example:5000"}, decode(pulls[1].Header.Get("X-Registry-Auth")), "no credentials for that registry")
	assert.Equal(t, "fromImage=other.example%3A5000%2Fapp&tag=latest", pulls[1].Query, "the default tag, as docker sends it")
	require.Len(t, pushes, 1)
	assert.Equal(t, "ann", decode(pushes[0].Header.Get("X-Registry-Auth"))["username"])
	require.Len(t, builds, 1)
	cfg := decode(builds[0].Header.Get("X-Registry-Config"))
	require.Contains(t, cfg, "127.0.0.1:5000")
	assert.Equal(t, "pw", cfg["127.0.0.1:5000"].(map[string]any)["password"])
}
