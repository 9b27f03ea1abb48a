package daemon

import (
	"testing"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every --log-opt key is applied or refused by name: none is dropped.
func TestLogOptionsAppliedOrRefused(t *testing.T) {
	for _, tc := range []struct {
		driver string
		opts   map[string]string
		err    string // "" = accepted
	}{
		{"", map[string]string{"max-size": "1m", "max-file": "3"}, ""},
		{"json-file", map[string]string{"compress": "false", "mode": "blocking"}, ""},
		{"json-file", map[string]string{"compress": "true"}, "log option compress=true is not supported"},
		{"json-file", map[string]string{"mode": "non-blocking"}, "log option mode=non-blocking is not supported"},
		{"json-file", map[string]string{"tag": "{{.Name}}"}, "log option tag is not supported"},
		{"json-file", map[string]string{"labels": "a"}, "log option labels is not supported"},
		{"", map[string]string{"env": "A"}, "log option env is not supported"},
		{"", map[string]string{"max-buffer-size": "1m"}, "log option max-buffer-size is not supported"},
		{"", map[string]string{"foo": "1"}, "unknown log opt 'foo' for json-file log driver"},
		{"local", map[string]string{"stdin": "false"}, "unknown log opt 'stdin' for local log driver"},
		{"json-file", map[string]string{"max-file": "2"}, "needs max-size"},
		{"syslog", nil, `logging driver "syslog" is not supported`},
	} {
		_, err := logOptions(container.LogConfig{Type: tc.driver, Config: tc.opts})
		if tc.err == "" {
			assert.NoError(t, err, "%v", tc.opts)
			continue
		}
		require.Error(t, err, "%v", tc.opts)
		assert.True(t, errdefs.IsInvalidArgument(err), "a 400: %v", err)
		assert.Contains(t, err.Error(), tc.err)
	}
}

// dockerd's words for a key json-file does not know, through the docker
// CLI, from both engines.
func TestSameAsDockerd_UnknownLogOpt(t *testing.T) {
	results := map[string][]string{}
	for _, e := range compareEngines(t) {
		_, err := e.run("create", "--log-opt", "foo=1", "busybox", "true")
		results[e.name] = []string{daemonError(err)}
	}
	assert.Equal(t, results["dockerd"], results["berthd"])
}
