package image

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/01-namespaces/namespace"
)

func TestUnmapIDs(t *testing.T) {
	u := &Unmap{UIDs: namespace.IDRange{Base: 165536, Size: 65536}, GIDs: namespace.IDRange{Base: 300000, Size: 10}}
	tests := []struct {
		name             string
		u                *Unmap
		uid, gid         int
		wantUID, wantGID int
	}{
		{"root", u, 165536, 300000, 0, 0},
		{"www-data", u, 165569, 300009, 33, 9},
		{"past the gids", u, 165536, 300010, 0, overflowID},
		{"the host's root", u, 0, 0, overflowID, overflowID},
		{"no unmap", nil, 165536, 0, 165536, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			uid, gid := tt.u.IDs(tt.uid, tt.gid)
			assert.Equal(t, [2]int{tt.wantUID, tt.wantGID}, [2]int{uid, gid})
		})
	}
}

// TestWriteDiffUnmapped: a layer whose files have a namespace's host ids
// is archived with the namespace's, by WriteDiff and Flatten alike.
func TestWriteDiffUnmapped(t *testing.T) {
	labtest.Privileged(t)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644))
	require.NoError(t, os.Chown(filepath.Join(dir, "f"), 165536+33, 165536+34))
	r := namespace.IDRange{Base: 165536, Size: 65536}
	u := &Unmap{UIDs: r, GIDs: r}
	owners := func(b *bytes.Buffer) []string {
		var out []string
		tr := tar.NewReader(b)
		for {
			hdr, err := tr.Next()
			if errors.Is(err, io.EOF) {
				return out
			}
			require.NoError(t, err)
			out = append(out, fmt.Sprintf("%s %d:%d", hdr.Name, hdr.Uid, hdr.Gid))
		}
	}
	var diff, flat bytes.Buffer
	require.NoError(t, WriteDiffUnmapped(&diff, dir, u))
	require.NoError(t, FlattenUnmapped(&flat, []string{dir}, u))
	assert.Equal(t, []string{"f 33:34"}, owners(&diff))
	assert.Contains(t, owners(&flat), "f 33:34")
}
