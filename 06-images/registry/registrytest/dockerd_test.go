package registrytest

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

// TestDockerdPushesAndPullsThroughEveryMode checks the harness against
// the other real client: a private dockerd logs in, pushes the course's
// busybox, pulls it back after removing it, and runs it, in each mode.
// It also pins what dockerd says to a wrong password, which
// docs/pitfalls.md explains.
func TestDockerdPushesAndPullsThroughEveryMode(t *testing.T) {
	labtest.Privileged(t)
	d := labtest.StartDockerd(t)
	tarball := busyboxTar(t)
	_, err := d.Run("import", "-c", `CMD ["/bin/sh"]`, tarball, "registrytest-busybox:1")
	require.NoError(t, err)

	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"plain", Options{}},
		{"tls-basic", Options{TLS: true, Auth: AuthBasic}},
		{"tls-token", Options{TLS: true, Auth: AuthToken}},
		{"token", Options{Auth: AuthToken}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Start(t, tc.opts)
			if tc.opts.TLS {
				// dockerd treats 127.0.0.0/8 as insecure and would not
				// verify the certificate anyway; installing the CA is
				// what a test of a secure registry does.
				r.InstallCA(t, "/etc/docker/certs.d")
			}
			ref := r.Ref("course/busybox:1")
			_, err := d.Run("tag", "registrytest-busybox:1", ref)
			require.NoError(t, err)
			if tc.opts.Auth != AuthNone {
				_, err = d.Run("push", ref)
				require.Error(t, err, "push without login")
				t.Logf("dockerd pushing without login: %v", err)
				_, err = d.Run("pull", ref)
				require.Error(t, err, "pull without login")
				t.Logf("dockerd pulling without login: %v", err)
				_, err = d.Run("login", "-u", r.Username(), "-p", r.Password()+"x", r.Host())
				require.Error(t, err, "login with a wrong password")
				t.Logf("dockerd on a wrong password: %v", err)
				out, err := d.Run("login", "-u", r.Username(), "-p", r.Password(), r.Host())
				require.NoError(t, err)
				assert.Contains(t, out, "Login Succeeded")
				t.Cleanup(func() { _, _ = d.Run("logout", r.Host()) })
			}
			out, err := d.Run("push", ref)
			require.NoError(t, err)
			assert.Contains(t, out, "digest: sha256:")
			_, err = d.Run("rmi", ref)
			require.NoError(t, err)
			_, err = d.Run("pull", ref)
			require.NoError(t, err)
			out, err = d.Run("run", "--rm", "--network=none", ref, "echo", "hello from "+tc.name)
			require.NoError(t, err)
			assert.Equal(t, "hello from "+tc.name, strings.TrimSpace(out))
			out, err = d.Run("images", "--digests", "--format", "{{.Digest}}", r.Host()+"/course/busybox")
			require.NoError(t, err)
			assert.True(t, strings.HasPrefix(strings.TrimSpace(out), "sha256:"), out)
			_, err = d.Run("rmi", ref)
			require.NoError(t, err)
		})
	}
}
