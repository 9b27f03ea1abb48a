package daemon

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/06-images/registry/registrytest"
	"github.com/berth-project/berth/final/api/apitest"
)

// Images cross between berthd and dockerd through a real registry, both
// ways, driven by the same docker CLI: what one engine pushed, the other
// pulls and runs, and both name it alike (the image ID, the config's
// digest, and the RepoDigest, the manifest's). Once over plain HTTP, once
// over TLS with a password, as a private registry usually is.
func TestS7_ImagesCrossBetweenBerthdAndDockerdThroughARegistry(t *testing.T) {
	// One dockerd for both registries: it starts in seconds.
	dockerd := labtest.StartDockerd(t)
	for _, tc := range []struct {
		name string
		opts registrytest.Options
	}{
		{"plain", registrytest.Options{}},
		{"tls-basic", registrytest.Options{TLS: true, Auth: registrytest.AuthBasic}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := registrytest.Start(t, tc.opts)
			l := registryLab(t, r)
			berth := newDockerSession(t, apitest.Host(l.sock))
			docker := newDockerSession(t, dockerd.Host())
			if tc.opts.Auth != registrytest.AuthNone {
				for _, s := range []*dockerSession{berth, docker} {
					_, errOut, code := s.run(r.Password()+"\n", "login", "-u", r.Username(), "--password-stdin", r.Host())
					require.Equal(t, 0, code, errOut)
				}
			}

			// dockerd makes an image of two layers and pushes it.
			fromDocker := r.Ref("interop/from-dockerd:1")
			docker.ok("import", labtest.BusyboxRootfs(t)+".tar", "interop-base")
			docker.ok("run", "--name", "maker", "--network=none", "interop-base", "sh", "-c", "echo dockerd "+tc.name+" > /made-by")
			docker.ok("commit", "--change", `CMD ["cat", "/made-by"]`, "maker", fromDocker)
			docker.ok("rm", "maker")
			pushed := pushDigest(t, docker.ok("push", fromDocker))

			// berthd pulls it, runs it, and names it as dockerd does.
			out := berth.ok("pull", fromDocker)
			assert.Contains(t, out, "Digest: "+pushed)
			assert.Equal(t, "dockerd "+tc.name+"\n", berth.ok("run", "--rm", "--network=none", fromDocker))
			sameNames(t, docker, berth, fromDocker, pushed)

			// berthd makes one and pushes it; dockerd pulls and runs it.
			fromBerth := r.Ref("interop/from-berthd:1")
			berth.ok("run", "--name", "maker", "--network=none", "busybox", "sh", "-c", "echo berthd > /made-by")
			berth.ok("commit", "--change", `CMD ["cat", "/made-by"]`, "maker", fromBerth)
			berth.ok("rm", "maker")
			pushed = pushDigest(t, berth.ok("push", fromBerth))
			out = docker.ok("pull", fromBerth)
			assert.Contains(t, out, "Digest: "+pushed)
			assert.Equal(t, "berthd\n", docker.ok("run", "--rm", "--network=none", fromBerth))
			sameNames(t, berth, docker, fromBerth, pushed)

			// And back: what dockerd pulled from berthd, berthd pulls
			// again as up to date, without a blob.
			out = berth.ok("pull", fromBerth)
			assert.Contains(t, out, "Status: Image is up to date for "+fromBerth)
		})
	}
}

var pushDigestRE = regexp.MustCompile(`: digest: (sha256:[0-9a-f]{64}) size: \d+`)

// pushDigest is the manifest digest a `docker push` printed.
func pushDigest(t *testing.T, out string) string {
	t.Helper()
	m := pushDigestRE.FindStringSubmatch(out)
	require.NotNil(t, m, "no digest in the push's output:\n%s", out)
	return m[1]
}

// sameNames checks that the engine that pulled ref names it as the one
// that pushed it: the same image ID, and the RepoDigest the push printed
// (`docker images --digests` too).
func sameNames(t *testing.T, pusher, puller *dockerSession, ref, digest string) {
	t.Helper()
	id := strings.TrimSpace(pusher.ok("image", "inspect", "-f", "{{.Id}}", ref))
	assert.Equal(t, id, strings.TrimSpace(puller.ok("image", "inspect", "-f", "{{.Id}}", ref)), "image ID")
	repo, _, _ := strings.Cut(ref[strings.LastIndex(ref, "/")+1:], ":")
	name := ref[:strings.LastIndex(ref, "/")+1] + repo
	for _, s := range []*dockerSession{pusher, puller} {
		assert.Equal(t, "["+name+"@"+digest+"]", strings.TrimSpace(s.ok("image", "inspect", "-f", "{{.RepoDigests}}", ref)))
		assert.Equal(t, digest, strings.TrimSpace(s.ok("images", "--digests", "--format", "{{.Digest}}", name)))
	}
}
