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
	bind := rootfs.TypeBind
	vol := rootfs.TypeVolume

	tests := []struct {
		in   string
		want rootfs.Volume
	}{
		{dir + ":/data", rootfs.Volume{Type: bind, Source: dir, Target: "/data"}},
		{dir + ":/data:rw", rootfs.Volume{Type: bind, Source: dir, Target: "/data"}},
		{dir + ":/data:ro", rootfs.Volume{Type: bind, Source: dir, Target: "/data", ReadOnly: true}},
		{file + ":/etc/f.conf:ro", rootfs.Volume{Type: bind, Source: file, Target: "/etc/f.conf", ReadOnly: true}},
		// Paths are cleaned.
		{dir + "/./:/srv//app/../data/", rootfs.Volume{Type: bind, Source: dir, Target: "/srv/data"}},
		{dir + ":/data:ro,rshared", rootfs.Volume{Type: bind, Source: dir, Target: "/data", ReadOnly: true, Propagation: "rshared"}},
		{dir + ":/data:slave", rootfs.Volume{Type: bind, Source: dir, Target: "/data", Propagation: "slave"}},
		{dir + ":/data:z", rootfs.Volume{Type: bind, Source: dir, Target: "/data"}},
		{dir + ":/data:Z,ro", rootfs.Volume{Type: bind, Source: dir, Target: "/data", ReadOnly: true}},
		// Named and anonymous volumes.
		{"cache:/data", rootfs.Volume{Type: vol, Name: "cache", Target: "/data"}},
		{"my.vol_1-x:/data:ro,nocopy", rootfs.Volume{Type: vol, Name: "my.vol_1-x", Target: "/data", ReadOnly: true, NoCopy: true}},
		{"/data", rootfs.Volume{Type: vol, Target: "/data"}},
		{"/data/", rootfs.Volume{Type: vol, Target: "/data"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := rootfs.ParseVolume(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			again, err := rootfs.ParseVolume(got.String())
			require.NoError(t, err, "String gives what ParseVolume reads")
			assert.Equal(t, got, again)
		})
	}
}

func TestParseVolumeInvalid(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		in, errContains string
	}{
		{"", "no part empty"},
		{dir + ":/a:ro:extra", "want [HOST-PATH|NAME:]"},
		{":/data", "no part empty"},
		{dir + ":", "no part empty"},
		{dir + ":/data:rx", `unknown mode "rx"`},
		{dir + ":/data:ro,rw", "more than once"},
		{dir + ":/data:shared,slave", "two propagations"},
		{dir + ":/data:nocopy", "nocopy applies to volumes"},
		{"vol:/data:rshared", "applies to bind mounts"},
		{"./data:/data", "neither an absolute host path nor a valid volume name"},
		{"..:/data", "neither an absolute host path nor a valid volume name"},
		{"a:/data", "neither an absolute host path nor a valid volume name"},
		{"data", `container path "data" is not absolute`},
		{dir + ":data", `container path "data" is not absolute`},
		{dir + ":/", "cannot be /"},
		{dir + ":/x/..", "cannot be /"},
		{"vol:/", "cannot be /"},
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

func TestParseTmpfs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in          string
		want        rootfs.Volume
		errContains string
	}{
		{in: "/run", want: rootfs.Volume{Type: rootfs.TypeTmpfs, Target: "/run"}},
		{in: "/run:size=64m,mode=1777", want: rootfs.Volume{Type: rootfs.TypeTmpfs, Target: "/run", Tmpfs: []string{"size=64m", "mode=1777"}}},
		{in: "/x:exec,ro,uid=1000,gid=1000,nr_inodes=100", want: rootfs.Volume{Type: rootfs.TypeTmpfs, Target: "/x", Tmpfs: []string{"exec", "ro", "uid=1000", "gid=1000", "nr_inodes=100"}}},
		{in: "run", errContains: "not absolute"},
		{in: "/", errContains: "cannot be /"},
		{in: "/run:mode=rwx", errContains: "mode must be octal"},
		{in: "/run:huge=always", errContains: `"huge=always" is not supported`},
		{in: "/run:mand", errContains: `"mand" is not supported`},
		{in: "/run:size=", errContains: `"size=" is not supported`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := rootfs.ParseTmpfs(tt.in)
			if tt.errContains != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.errContains)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
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
		{Type: rootfs.TypeBind, Source: dir, Target: "/a"},
		{Type: rootfs.TypeBind, Source: dir, Target: "/b", ReadOnly: true},
	}, vols)
	assert.Equal(t, dir+":/a,"+dir+":/b:ro", vols.String())

	err := fs.Parse([]string{"-v", "./relative:/a"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "neither an absolute host path nor a valid volume name")
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
		{"negative shm size", rootfs.Spec{Root: dir, ShmSize: -1}, "must not be negative"},
		{"bad tmpfs option", rootfs.Spec{Root: dir,
			Volumes: []rootfs.Volume{{Type: rootfs.TypeTmpfs, Target: "/x", Tmpfs: []string{"bogus"}}}}, `"bogus" is not supported`},
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
