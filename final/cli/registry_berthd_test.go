package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/06-images/registry/registrytest"
)

// berth against berthd against a real registry (plain HTTP on
// 127.0.0.1, which is insecure by Docker's rule, with htpasswd
// accounts): login, run of an image only in the registry, pull, push,
// images --digests, logout.
func TestBerthdBerthPullPushLoginRun(t *testing.T) {
	r := registrytest.Start(t, registrytest.Options{Auth: registrytest.AuthBasic})
	img := registrytest.NewImage(t, registrytest.ImageOptions{Busybox: true, Layers: []int64{512 << 10}, Seed: 41, Cmd: []string{"echo", "pulled by berth"}})
	dg := r.Push(t, "course/hello:1", img)
	e := newBerthd(t)
	env := map[string]string{"DOCKER_CONFIG": t.TempDir()}
	berth := func(stdin string, args ...string) (string, string, int) {
		t.Helper()
		return runBerth(t, e.host, strings.NewReader(stdin), env, args...)
	}
	ref := r.Ref("course/hello:1")

	_, errOut, code := berth("", "pull", ref)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "pull access denied for "+r.Ref("course/hello"))

	out, errOut, code := berth(r.Password(), "login", "-u", r.Username(), "--password-stdin", r.Host())
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "Login Succeeded\n", out)
	data, err := os.ReadFile(filepath.Join(env["DOCKER_CONFIG"], "config.json"))
	require.NoError(t, err)
	assert.Contains(t, string(data), `"`+r.Host()+`"`)

	// run of a missing image: 404, then a pull with the stored
	// credentials, progress on stderr, then the run.
	out, errOut, code = berth("", "run", "--rm", ref)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "pulled by berth\n", out)
	assert.True(t, strings.HasPrefix(errOut, "Unable to find image '"+ref+"' locally\n1: Pulling from course/hello\n"), errOut)
	assert.Contains(t, errOut, "Digest: "+dg+"\nStatus: Downloaded newer image for "+ref+"\n")

	out, errOut, code = berth("", "pull", ref)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "1: Pulling from course/hello\nDigest: "+dg+"\nStatus: Image is up to date for "+ref+"\n"+ref+"\n", out)
	out, _, _ = berth("", "images", "--digests", "--format", "{{.Repository}}:{{.Tag}} {{.Digest}}", r.Ref("course/hello"))
	assert.Equal(t, ref+" "+dg+"\n", out)

	// push under a new name; the pushed image comes back by digest.
	_, errOut, code = berth("", "tag", ref, r.Ref("course/copy:2"))
	require.Equal(t, 0, code, errOut)
	out, errOut, code = berth("", "push", r.Ref("course/copy:2"))
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "The push refers to repository ["+r.Ref("course/copy")+"]\n")
	assert.Contains(t, out, ": Mounted from course/hello\n", "the layers are in the registry already: mounted, not sent")
	assert.Regexp(t, `\n2: digest: sha256:[0-9a-f]{64} size: \d+\n$`, out)
	out, errOut, code = berth("", "push", "-q", r.Ref("course/copy:2"))
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, r.Ref("course/copy:2")+"\n", out)

	out, _, code = berth("", "info")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, " Registry: https://index.docker.io/v1/\n Insecure Registries:\n  127.0.0.0/8\n Live Restore", "as docker info shows dockerd's")

	out, _, code = berth("", "logout", r.Host())
	assert.Equal(t, 0, code)
	assert.Equal(t, "Removing login credentials for "+r.Host()+"\n", out)
	_, errOut, code = berth("", "pull", r.Ref("course/copy:2"))
	assert.Equal(t, 1, code, "logged out")
	assert.Contains(t, errOut, "pull access denied")
}
