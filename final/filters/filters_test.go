package filters

import (
	"testing"

	"github.com/containerd/errdefs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseReadsBothForms(t *testing.T) {
	got, err := Parse(`{"name":{"web":true,"db":true,"off":false},"status":["exited"]}`)
	require.NoError(t, err)
	assert.Equal(t, Args{"name": {"db", "web"}, "status": {"exited"}}, got)

	got, err = Parse("")
	require.NoError(t, err)
	assert.Empty(t, got)

	for _, bad := range []string{`{`, `{"name":"web"}`, `{"name":{"web":"yes"}}`, `[]`, `["name"]`, `{"name":[1]}`} {
		_, err := Parse(bad)
		assert.True(t, errdefs.IsInvalidArgument(err), "%s: %v", bad, err)
	}
}

// TestSeveralLabelsMustAllMatch is the regression test of the bug that
// let Compose's label filters select another project's containers: two
// label values were ORed.
func TestSeveralLabelsMustAllMatch(t *testing.T) {
	both := Args{"label": {"com.docker.compose.project=p1", "com.docker.compose.service=web"}}
	cases := []struct {
		name   string
		labels map[string]string
		want   bool
	}{
		{"both", map[string]string{"com.docker.compose.project": "p1", "com.docker.compose.service": "web"}, true},
		{"other service of the project", map[string]string{"com.docker.compose.project": "p1", "com.docker.compose.service": "db"}, false},
		{"same service of another project", map[string]string{"com.docker.compose.project": "p2", "com.docker.compose.service": "web"}, false},
		{"one of the two only", map[string]string{"com.docker.compose.project": "p1"}, false},
		{"none", nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, both.Labels(c.labels))
		})
	}
}

func TestLabels(t *testing.T) {
	labels := map[string]string{"tier": "db", "empty": ""}
	cases := []struct {
		args Args
		want bool
	}{
		{Args{}, true},
		{Args{"label": {"tier"}}, true},
		{Args{"label": {"tier=db"}}, true},
		{Args{"label": {"tier=web"}}, false},
		{Args{"label": {"empty="}}, true},
		{Args{"label": {"empty"}}, true},
		{Args{"label": {"missing"}}, false},
		{Args{"label": {"tier", "missing"}}, false},
		{Args{"label!": {"tier=web"}}, true},
		{Args{"label!": {"tier=db"}}, false},
		{Args{"label!": {"tier"}}, false},
		{Args{"label": {"tier"}, "label!": {"empty"}}, false},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, c.args.Labels(labels), "%v", c.args)
	}
}

func TestAnyIsAnOrOfOneKey(t *testing.T) {
	a := Args{"status": {"created", "exited"}}
	is := func(s string) func(string) bool { return func(v string) bool { return v == s } }
	assert.True(t, a.Any("status", is("exited")))
	assert.True(t, a.Any("status", is("created")))
	assert.False(t, a.Any("status", is("running")))
	assert.True(t, a.Any("name", is("anything")), "a key without values filters nothing")
}

func TestBool(t *testing.T) {
	cases := []struct {
		values   []string
		want     bool
		set, bad bool
	}{
		{nil, false, false, false},
		{[]string{"true"}, true, true, false},
		{[]string{"1"}, true, true, false},
		{[]string{"false"}, false, true, false},
		{[]string{"0", "false"}, false, true, false},
		{[]string{"true", "false"}, false, false, true},
		{[]string{"yes"}, false, false, true},
	}
	for _, c := range cases {
		v, set, err := Args{"dangling": c.values}.Bool("dangling")
		if c.bad {
			assert.True(t, errdefs.IsInvalidArgument(err), "%v", c.values)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, c.want, v, "%v", c.values)
		assert.Equal(t, c.set, set, "%v", c.values)
	}
}

func TestCheckNamesTheUnknownKey(t *testing.T) {
	err := Args{"label": {"a"}, "colour": {"red"}}.Check("volumes", "name", "label")
	require.Error(t, err)
	assert.True(t, errdefs.IsInvalidArgument(err))
	assert.Contains(t, err.Error(), "invalid filter 'colour'")
	assert.NoError(t, Args{"label": {"a"}}.Check("volumes", "name", "label"))
}
