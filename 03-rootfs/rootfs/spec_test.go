package rootfs_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/03-rootfs/rootfs"
)

func TestParseVolume(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "f.conf")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o644))

	tests := []struct {
		in   string
		want rootfs.Volume
	}{
		{dir + ":/data", rootfs.Volume{Source: dir, Target: "/data"}},
		{dir + ":/data:rw", rootfs.Volume{Source: dir, Target: "/data"}},
		{dir + ":/data:ro", rootfs.Volume{Source: dir, Target: "/data", ReadOnly: true}},
		{file + ":/etc/f.conf:ro", rootfs.Volume{Source: file, Target: "/etc/f.conf", ReadOnly: true}},
		// Paths are cleaned.
		{dir + "/./:/srv//app/../data/", rootfs.Volume{Source: dir, Target: "/srv/data"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := rootfs.ParseVolume(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseVolumeInvalid(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		in, errContains string
	}{
		{"", "want HOST:CONTAINER"},
		{dir, "want HOST:CONTAINER"},
		{dir + ":/a:ro:extra", "want HOST:CONTAINER"},
		{":/data", "both paths non-empty"},
		{dir + ":", "both paths non-empty"},
		{dir + ":/data:rx", `unknown mode "rx"`},
		{"data:/data", "not absolute (berth has no named volumes)"},
		{"./data:/data", "not absolute"},
		{dir + ":data", `container path "data" is not absolute`},
		{dir + ":/", "cannot be /"},
		{dir + ":/x/..", "cannot be /"},
		{dir + ":/proc", "inside /proc"},
		{dir + ":/proc/sys/kernel", "inside /proc"},
		{dir + "/missing:/data", "no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := rootfs.ParseVolume(tt.in)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.errContains)
		})
	}
}

func TestVolumeListFlag(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var vols rootfs.VolumeList
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(nopWriter{})
	fs.Var(&vols, "v", "volume")
	require.NoError(t, fs.Parse([]string{"-v", dir + ":/a", "-v", dir + ":/b:ro"}))
	assert.Equal(t, rootfs.VolumeList{
		{Source: dir, Target: "/a"},
		{Source: dir, Target: "/b", ReadOnly: true},
	}, vols)
	assert.Equal(t, dir+":/a,"+dir+":/b:ro", vols.String())

	err := fs.Parse([]string{"-v", "relative:/a"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not absolute")
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }

func TestSpecValidate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))

	require.NoError(t, rootfs.Spec{Root: dir, Workdir: "/app",
		Volumes: []rootfs.Volume{{Source: dir, Target: "/data"}}}.Validate())

	tests := []struct {
		name        string
		spec        rootfs.Spec
		errContains string
	}{
		{"no root", rootfs.Spec{}, "no root directory"},
		{"relative root", rootfs.Spec{Root: "rootfs"}, "not an absolute path"},
		{"host root", rootfs.Spec{Root: "/"}, "the host's root"},
		{"missing root", rootfs.Spec{Root: dir + "/missing"}, "no such file or directory"},
		{"root is a file", rootfs.Spec{Root: file}, "not a directory"},
		{"relative workdir", rootfs.Spec{Root: dir, Workdir: "app"}, `working directory "app"`},
		{"relative volume source", rootfs.Spec{Root: dir,
			Volumes: []rootfs.Volume{{Source: "x", Target: "/x"}}}, "not absolute"},
		{"volume on /", rootfs.Spec{Root: dir,
			Volumes: []rootfs.Volume{{Source: dir, Target: "/"}}}, "cannot be /"},
		{"volume in /proc", rootfs.Spec{Root: dir,
			Volumes: []rootfs.Volume{{Source: dir, Target: "/proc/kcore"}}}, "inside /proc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.spec.Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.errContains)
		})
	}
}
