package daemon

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every option berth does not apply is refused with a 400 that names it;
// what the docker CLI sends when the user asked for nothing passes.
func TestOptionsBerthDoesNotApplyAreRefused(t *testing.T) {
	// What docker 28 sent for `docker run -d busybox ...`, captured.
	data, err := os.ReadFile("../cli/testdata/docker28-run-detached.json")
	require.NoError(t, err)
	var plain container.CreateRequest
	require.NoError(t, json.Unmarshal(data, &plain))
	require.NotNil(t, plain.HostConfig)
	require.NoError(t, checkUnsupported(plain.Config, plain.HostConfig), "the CLI's defaults ask for nothing")

	ten := uint32(0o22)
	cases := []struct {
		set  func(*container.Config, *container.HostConfig)
		want string
	}{
		{func(_ *container.Config, h *container.HostConfig) { h.Runtime = "runc" }, "--runtime"},
		{func(_ *container.Config, h *container.HostConfig) { h.UsernsMode = "private" }, "--userns"},
		{func(_ *container.Config, h *container.HostConfig) { h.Umask = &ten }, "Umask"},
		{func(_ *container.Config, h *container.HostConfig) { h.MaskedPaths = []string{} }, "systempaths"},
		{func(_ *container.Config, h *container.HostConfig) { h.StorageOpt = map[string]string{"size": "1G"} }, "--storage-opt"},
	}
	for _, c := range cases {
		t.Run(c.want, func(t *testing.T) {
			cfg, host := *plain.Config, *plain.HostConfig
			c.set(&cfg, &host)
			err := checkUnsupported(&cfg, &host)
			require.Error(t, err)
			assert.True(t, errdefs.IsInvalidArgument(err), "a 400: %v", err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

// Through the docker CLI: the user sees which option, and nothing runs.
func TestOptionsBerthDoesNotApplyAreRefusedThroughTheCLI(t *testing.T) {
	l := newLab(t)
	for _, opt := range [][]string{
		{"--storage-opt", "size=1G"},
		{"--uts", "host"},
	} {
		args := append(append([]string{"run", "--rm"}, opt...), "busybox", "true")
		_, errOut, code := l.docker("", args...)
		assert.Equal(t, 125, code, "%v", opt)
		assert.Contains(t, errOut, opt[0], "the message names %s", opt[0])
	}
	assert.Empty(t, l.ok("ps", "-aq"), "nothing was created")
}
