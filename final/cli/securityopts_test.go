package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// --security-opt seccomp=FILE sends the file's content, compacted, as
// the docker CLI does; the other values go as they are.
func TestParseSecurityOpts(t *testing.T) {
	profile := filepath.Join(t.TempDir(), "profile.json")
	require.NoError(t, os.WriteFile(profile, []byte("{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\"\n}\n"), 0o644))
	tests := []struct {
		in      []string
		want    []string
		wantErr string
	}{
		{in: nil, want: nil},
		{in: []string{"seccomp=unconfined", "no-new-privileges"}, want: []string{"seccomp=unconfined", "no-new-privileges"}},
		{in: []string{"seccomp=builtin"}, want: []string{"seccomp=builtin"}},
		{in: []string{"seccomp=" + profile}, want: []string{`seccomp={"defaultAction":"SCMP_ACT_ALLOW"}`}},
		{in: []string{"seccomp:" + profile}, want: []string{`seccomp={"defaultAction":"SCMP_ACT_ALLOW"}`}},
		{in: []string{"apparmor=unconfined"}, want: []string{"apparmor=unconfined"}},
		{in: []string{"seccomp=/no/such/profile.json"}, wantErr: "/no/such/profile.json"},
	}
	for _, tt := range tests {
		got, err := parseSecurityOpts(tt.in)
		if tt.wantErr != "" {
			require.ErrorContains(t, err, tt.wantErr)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, tt.want, got)
	}
}
