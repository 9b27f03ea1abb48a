package daemon

import (
	"os"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/03-rootfs/rootfs"
	"github.com/berth-project/berth/04-cow-layers/volume"
)

func TestPlanBind(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		spec  string
		vol   rootfs.Volume
		point container.MountPoint
		err   string
	}{
		{spec: "vol:/data", vol: rootfs.Volume{Type: rootfs.TypeVolume, Name: "vol", Target: "/data"},
			point: container.MountPoint{Type: mount.TypeVolume, Driver: "local", Mode: "z", RW: true}},
		{spec: "vol:/data:ro,nocopy", vol: rootfs.Volume{Type: rootfs.TypeVolume, Name: "vol", Target: "/data", ReadOnly: true, NoCopy: true},
			point: container.MountPoint{Type: mount.TypeVolume, Driver: "local", Mode: "ro,nocopy"}},
		{spec: dir + ":/h", vol: rootfs.Volume{Type: rootfs.TypeBind, Source: dir, Target: "/h"},
			point: container.MountPoint{Type: mount.TypeBind, Source: dir, RW: true, Propagation: "rprivate"}},
		{spec: dir + ":/h:ro,rprivate,z", vol: rootfs.Volume{Type: rootfs.TypeBind, Source: dir, Target: "/h", ReadOnly: true, Propagation: "rprivate"},
			point: container.MountPoint{Type: mount.TypeBind, Source: dir, Mode: "ro,rprivate,z", Propagation: "rprivate"}},
		{spec: dir + ":/h:rslave", err: "bind propagation \"rslave\" is not supported"},
		{spec: dir + ":/h:shared", err: "bind propagation \"shared\" is not supported"},
		{spec: "/no/such/berth/dir:/h:ro", vol: rootfs.Volume{Type: rootfs.TypeBind, Source: "/no/such/berth/dir", Target: "/h", ReadOnly: true},
			point: container.MountPoint{Type: mount.TypeBind, Source: "/no/such/berth/dir", Mode: "ro", Propagation: "rprivate"}},
		{spec: "bad name:/h", err: "invalid volume specification"},
		{spec: "vol:/data:shared", err: "applies to bind mounts"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			p, err := planBind(tt.spec)
			if tt.err != "" {
				require.Error(t, err)
				assert.True(t, errdefs.IsInvalidArgument(err))
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.vol, p.vol)
			assert.Equal(t, tt.point, p.point)
		})
	}
}

func TestPlanMount(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name  string
		m     mount.Mount
		vol   rootfs.Volume
		point container.MountPoint
		err   string
	}{
		{name: "named volume", m: mount.Mount{Type: mount.TypeVolume, Source: "vv", Target: "/d", ReadOnly: true,
			VolumeOptions: &mount.VolumeOptions{NoCopy: true, Labels: map[string]string{"a": "1"}}},
			vol:   rootfs.Volume{Type: rootfs.TypeVolume, Name: "vv", Target: "/d", ReadOnly: true, NoCopy: true},
			point: container.MountPoint{Type: mount.TypeVolume, Driver: "local"}},
		{name: "anonymous volume", m: mount.Mount{Type: mount.TypeVolume, Target: "/d"},
			vol:   rootfs.Volume{Type: rootfs.TypeVolume, Target: "/d"},
			point: container.MountPoint{Type: mount.TypeVolume, Driver: "local", RW: true}},
		{name: "bind", m: mount.Mount{Type: mount.TypeBind, Source: dir, Target: "/b", BindOptions: &mount.BindOptions{Propagation: mount.PropagationPrivate}},
			vol:   rootfs.Volume{Type: rootfs.TypeBind, Source: dir, Target: "/b", Propagation: "private"},
			point: container.MountPoint{Type: mount.TypeBind, Source: dir, RW: true, Propagation: "private"}},
		{name: "slave", m: mount.Mount{Type: mount.TypeBind, Source: dir, Target: "/b", BindOptions: &mount.BindOptions{Propagation: mount.PropagationRSlave}}, err: `bind propagation "rslave"`},
		{name: "tmpfs", m: mount.Mount{Type: mount.TypeTmpfs, Target: "/t", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 1 << 20, Mode: 0o1777, Options: [][]string{{"exec"}, {"uid", "1000"}}}},
			vol:   rootfs.Volume{Type: rootfs.TypeTmpfs, Target: "/t", Tmpfs: []string{"size=1048576", "mode=1777", "exec", "uid=1000"}},
			point: container.MountPoint{Type: mount.TypeTmpfs, RW: true}},
		{name: "tmpfs sticky as os.FileMode", m: mount.Mount{Type: mount.TypeTmpfs, Target: "/t", TmpfsOptions: &mount.TmpfsOptions{Mode: os.ModeSticky | 0o777}},
			vol:   rootfs.Volume{Type: rootfs.TypeTmpfs, Target: "/t", Tmpfs: []string{"mode=1777"}},
			point: container.MountPoint{Type: mount.TypeTmpfs, RW: true}},
		{name: "subpath", m: mount.Mount{Type: mount.TypeVolume, Source: "vv", Target: "/d", VolumeOptions: &mount.VolumeOptions{Subpath: "x"}}, err: "volume-subpath"},
		{name: "driver", m: mount.Mount{Type: mount.TypeVolume, Source: "vv", Target: "/d", VolumeOptions: &mount.VolumeOptions{DriverConfig: &mount.Driver{Name: "nfs"}}}, err: `driver "nfs"`},
		{name: "volume-opt", m: mount.Mount{Type: mount.TypeVolume, Source: "vv", Target: "/d", VolumeOptions: &mount.VolumeOptions{DriverConfig: &mount.Driver{Options: map[string]string{"type": "nfs"}}}}, err: "type=nfs"},
		{name: "non-recursive", m: mount.Mount{Type: mount.TypeBind, Source: dir, Target: "/b", BindOptions: &mount.BindOptions{NonRecursive: true}}, err: "bind-recursive=disabled"},
		{name: "writable submounts", m: mount.Mount{Type: mount.TypeBind, Source: dir, Target: "/b", ReadOnly: true, BindOptions: &mount.BindOptions{ReadOnlyNonRecursive: true}}, err: "bind-recursive=writable"},
		{name: "missing source", m: mount.Mount{Type: mount.TypeBind, Source: "/no/such/berth", Target: "/b"}, err: "bind source path does not exist"},
		{name: "tmpfs source", m: mount.Mount{Type: mount.TypeTmpfs, Source: "x", Target: "/t"}, err: "source must not be specified"},
		{name: "bad tmpfs option", m: mount.Mount{Type: mount.TypeTmpfs, Target: "/t", TmpfsOptions: &mount.TmpfsOptions{Options: [][]string{{"huge", "always"}}}}, err: "huge=always"},
		{name: "mixed options", m: mount.Mount{Type: mount.TypeVolume, Source: "vv", Target: "/d", BindOptions: &mount.BindOptions{}}, err: "bind options"},
		{name: "consistency", m: mount.Mount{Type: mount.TypeBind, Source: dir, Target: "/b", Consistency: mount.ConsistencyCached}, err: "consistency"},
		{name: "npipe", m: mount.Mount{Type: mount.TypeNamedPipe, Source: "x", Target: "/p"}, err: `mount type "npipe"`},
		{name: "image", m: mount.Mount{Type: mount.TypeImage, Source: "busybox", Target: "/i", ImageOptions: &mount.ImageOptions{}}, err: "image"},
		{name: "relative target", m: mount.Mount{Type: mount.TypeVolume, Source: "vv", Target: "d"}, err: "not absolute"},
		{name: "bad name", m: mount.Mount{Type: mount.TypeVolume, Source: "../x", Target: "/d"}, err: "invalid volume name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := planMount(tt.m)
			if tt.err != "" {
				require.Error(t, err)
				assert.True(t, errdefs.IsInvalidArgument(err), "%v", err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.vol, p.vol)
			assert.Equal(t, tt.point, p.point)
		})
	}
}

func TestVolumeFilter(t *testing.T) {
	t.Parallel()
	both := volume.Volume{Name: "both", Labels: map[string]string{"a": "1", "b": "2"}}
	onlyA := volume.Volume{Name: "only-a", Labels: map[string]string{"a": "1"}}
	tests := []struct {
		filters map[string][]string
		inUse   bool
		want    map[string]bool // name: matches
	}{
		{map[string][]string{}, false, map[string]bool{"both": true, "only-a": true}},
		// Every label must match (a regression test: they were ORed).
		{map[string][]string{"label": {"a=1", "b"}}, false, map[string]bool{"both": true, "only-a": false}},
		{map[string][]string{"label": {"a"}}, false, map[string]bool{"both": true, "only-a": true}},
		{map[string][]string{"label": {"a=2"}}, false, map[string]bool{"both": false, "only-a": false}},
		// Names are alternatives, and match a part of the name.
		{map[string][]string{"name": {"bo", "nly"}}, false, map[string]bool{"both": true, "only-a": true}},
		{map[string][]string{"name": {"bo"}, "label": {"a"}}, false, map[string]bool{"both": true, "only-a": false}},
		{map[string][]string{"driver": {"local"}}, false, map[string]bool{"both": true, "only-a": true}},
		{map[string][]string{"driver": {"nfs"}}, false, map[string]bool{"both": false, "only-a": false}},
		{map[string][]string{"dangling": {"true"}}, true, map[string]bool{"both": false, "only-a": false}},
		{map[string][]string{"dangling": {"0"}}, true, map[string]bool{"both": true, "only-a": true}},
		{map[string][]string{"label!": {"b"}}, false, map[string]bool{"both": false, "only-a": true}},
	}
	for _, tt := range tests {
		vf, err := parseVolumeFilter(tt.filters, "name", "driver", "label", "label!", "dangling")
		require.NoError(t, err)
		for _, v := range []volume.Volume{both, onlyA} {
			assert.Equal(t, tt.want[v.Name], vf.match(v, tt.inUse), "%v on %s", tt.filters, v.Name)
		}
	}
	for _, bad := range []map[string][]string{{"bogus": {"x"}}, {"dangling": {"maybe"}}, {"all": {"true"}}} {
		_, err := parseVolumeFilter(bad, "name", "driver", "label", "dangling")
		assert.True(t, errdefs.IsInvalidArgument(err), "%v: %v", bad, err)
	}
}
