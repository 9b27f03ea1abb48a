package rootless

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSubIDs(t *testing.T) {
	file := filepath.Join(t.TempDir(), "subuid")
	require.NoError(t, os.WriteFile(file, []byte("# a comment\nbob:200000:65536\n\nalice:100000:65536\n1234:300000:1000\nbroken:x:1\n"), 0o644))
	for _, tc := range []struct {
		name string
		id   int
		want Range
		err  string
	}{
		{name: "alice", id: 1000, want: Range{100000, 65536}},
		{name: "bob", id: 1001, want: Range{200000, 65536}},
		{name: "carol", id: 1234, want: Range{300000, 1000}}, // by number
		{name: "dave", id: 1002, err: "gives dave no subordinate IDs"},
		{name: "broken", id: 1003, err: `subuid:6: "broken:x:1" is not NAME:START:COUNT`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SubIDs(file, tc.name, tc.id)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	_, err := SubIDs(filepath.Join(t.TempDir(), "none"), "alice", 1000)
	assert.ErrorContains(t, err, "subordinate IDs of alice")
}

func TestMapArgs(t *testing.T) {
	assert.Equal(t, []string{"42", "0", "1000", "1", "1", "100000", "65536"}, mapArgs(42, 1000, Range{100000, 65536}))
}
