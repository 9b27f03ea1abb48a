package rootfs_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/03-rootfs/rootfs"
)

// hostEnv stands in for os.LookupEnv.
func hostEnv(key string) (string, bool) {
	v, ok := map[string]string{"HOME": "/home/me", "EMPTY": ""}[key]
	return v, ok
}

func TestParseEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"none", nil, nil},
		{"key=value", []string{"A=1", "B=2"}, []string{"A=1", "B=2"}},
		{"empty value", []string{"A="}, []string{"A="}},
		{"value holding =", []string{"URL=a=b=c"}, []string{"URL=a=b=c"}},
		{"from host", []string{"HOME"}, []string{"HOME=/home/me"}},
		{"from host, empty", []string{"EMPTY"}, []string{"EMPTY="}},
		{"not on host: left out", []string{"NOPE", "A=1"}, []string{"A=1"}},
		{"later wins, in place", []string{"A=1", "B=2", "A=3"}, []string{"A=3", "B=2"}},
		{"host value overridden", []string{"HOME", "HOME=/root"}, []string{"HOME=/root"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := rootfs.ParseEnv(tt.in, hostEnv)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseEnvInvalid(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "=", "=value", "A\x00B=1", "A=1\x00"} {
		t.Run(in, func(t *testing.T) {
			_, err := rootfs.ParseEnv([]string{"OK=1", in}, hostEnv)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "environment variable")
		})
	}
}

func TestMergeEnv(t *testing.T) {
	t.Parallel()
	image := []string{"PATH=/usr/bin", "HOSTNAME=abc", "HOME=/root"}
	user := []string{"HOME=/home/app", "DEBUG=1"}
	got, err := rootfs.MergeEnv(image, nil, user)
	require.NoError(t, err)
	assert.Equal(t, []string{"PATH=/usr/bin", "HOSTNAME=abc", "HOME=/home/app", "DEBUG=1"}, got)

	for _, bad := range []string{"NOEQUALS", "=x", ""} {
		_, err := rootfs.MergeEnv(image, []string{bad})
		assert.Error(t, err, "entry %q", bad)
	}
}

func TestEnvListFlag(t *testing.T) {
	t.Parallel()
	var l rootfs.EnvList
	require.NoError(t, l.Set("A=1"))
	require.NoError(t, l.Set("HOME"))
	assert.Error(t, l.Set("=1"))
	assert.Equal(t, "A=1,HOME", l.String())
	env, err := rootfs.ParseEnv(l, hostEnv)
	require.NoError(t, err)
	assert.Equal(t, []string{"A=1", "HOME=/home/me"}, env)
}
