package api_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Docker's filter semantics for networks, through the docker CLI:
// different keys ANDed, label values ANDed, name values ORed.
func TestNetworkListFilters(t *testing.T) {
	d := newDockerCLI(t, dockerClients[0].path)
	ok := func(args ...string) string {
		t.Helper()
		out, errOut, code := d.run("", args...)
		require.Equal(t, 0, code, "docker %s: %s", strings.Join(args, " "), errOut)
		return out
	}
	ok("network", "create", "--label", "a=1", "--label", "b=1", "both")
	ok("network", "create", "--label", "a=1", "only-a")
	ok("network", "create", "--label", "b=1", "only-b")
	ls := func(filters ...string) []string {
		t.Helper()
		args := []string{"network", "ls", "--format", "{{.Name}}"}
		for _, f := range filters {
			args = append(args, "--filter", f)
		}
		out := strings.Fields(ok(args...))
		return out
	}
	for _, tc := range []struct {
		filters []string
		want    []string
	}{
		{[]string{"label=a=1", "label=b=1"}, []string{"both"}}, // the regression: not ORed
		{[]string{"label=a"}, []string{"both", "only-a"}},
		{[]string{"name=only-a", "name=only-b"}, []string{"only-a", "only-b"}},
		{[]string{"name=only", "label=b"}, []string{"only-b"}},
		{[]string{"type=builtin"}, []string{"bridge", "host", "none"}},
		{[]string{"type=custom"}, []string{"both", "only-a", "only-b"}},
		{[]string{"dangling=true"}, []string{"both", "only-a", "only-b"}},
		{[]string{"driver=null"}, []string{"none"}},
	} {
		assert.ElementsMatch(t, tc.want, ls(tc.filters...), "filters %v", tc.filters)
	}
	_, errOut, code := d.run("", "network", "ls", "--filter", "type=other")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "invalid filter: 'type'='other'")

	out, _, code := d.run("", "network", "prune", "-f", "--filter", "label=a=1", "--filter", "label=b=1")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "both")
	assert.NotContains(t, out, "only-a")
	assert.ElementsMatch(t, []string{"only-a", "only-b"}, ls("type=custom"))

	_, errOut, code = d.run("", "network", "rm", "bridge")
	assert.NotEqual(t, 0, code)
	_, errOut, code = d.run("", "network", "create", "-d", "overlay", "x")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, `network driver "overlay" is not supported`)
}
