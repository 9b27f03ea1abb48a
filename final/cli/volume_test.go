package cli

import (
	"context"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/mount"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseMount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want mount.Mount
		err  string
	}{
		{in: "type=volume,src=data,dst=/data,ro", want: mount.Mount{Type: "volume", Source: "data", Target: "/data", ReadOnly: true}},
		{in: "source=data,target=/data", want: mount.Mount{Type: "volume", Source: "data", Target: "/data"}},
		{in: "type=volume,destination=/d,volume-nocopy,volume-label=a=1,volume-opt=type=tmpfs,volume-driver=local",
			want: mount.Mount{Type: "volume", Target: "/d", VolumeOptions: &mount.VolumeOptions{NoCopy: true, Labels: map[string]string{"a": "1"},
				DriverConfig: &mount.Driver{Name: "local", Options: map[string]string{"type": "tmpfs"}}}}},
		{in: "type=bind,src=/srv,dst=/s,readonly=false,bind-propagation=rshared",
			want: mount.Mount{Type: "bind", Source: "/srv", Target: "/s", BindOptions: &mount.BindOptions{Propagation: "rshared"}}},
		{in: "type=bind,src=/srv,dst=/s,bind-recursive=disabled",
			want: mount.Mount{Type: "bind", Source: "/srv", Target: "/s", BindOptions: &mount.BindOptions{NonRecursive: true}}},
		{in: "type=tmpfs,dst=/t,tmpfs-size=64m,tmpfs-mode=1770",
			want: mount.Mount{Type: "tmpfs", Target: "/t", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 64 << 20, Mode: 0o1770}}},
		{in: `type=volume,src=v,dst=/x,"volume-subpath=a,b"`, want: mount.Mount{Type: "volume", Source: "v", Target: "/x", VolumeOptions: &mount.VolumeOptions{Subpath: "a,b"}}},
		{in: "type=volume,src=v", err: "target is required"},
		{in: "type=volume,dst=/d,bogus=1", err: "unexpected key 'bogus'"},
		{in: "type=volume,dst=/d,src", err: "must be a key=value pair"},
		{in: "type=tmpfs,dst=/t,tmpfs-mode=rwx", err: "invalid value for tmpfs-mode"},
		{in: "type=bind,src=/a,dst=/t,bind-recursive=sometimes", err: "invalid value for bind-recursive"},
		{in: "type=volume,dst=/t,ro=maybe", err: "invalid value for ro"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseMount(tt.in)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestRunFlags_MountsTmpfsVolumesFromShm(t *testing.T) {
	t.Parallel()
	spec := mustParseRun(t, "--mount", "type=tmpfs,dst=/t", "--tmpfs", "/run:size=1m", "--tmpfs", "/x",
		"--volumes-from", "a:ro", "--volumes-from", "b", "--shm-size", "16m", "-v", "named:/n:ro", "busybox")
	h := spec.HostConfig
	assert.Equal(t, []mount.Mount{{Type: "tmpfs", Target: "/t"}}, h.Mounts)
	assert.Equal(t, map[string]string{"/run": "size=1m", "/x": ""}, h.Tmpfs)
	assert.Equal(t, []string{"a:ro", "b"}, h.VolumesFrom)
	assert.Equal(t, int64(16<<20), h.ShmSize)
	assert.Equal(t, []string{"named:/n:ro"}, h.Binds)
	_, err := parseRun(t, nil, "--tmpfs", "rel", "busybox")
	assert.ErrorContains(t, err, "mount path must be absolute")

	cwd, err := os.Getwd()
	require.NoError(t, err)
	spec = mustParseRun(t, "--mount", "type=bind,src=./here,dst=/h", "busybox")
	assert.Equal(t, cwd+"/here", spec.HostConfig.Mounts[0].Source, "a relative bind source is berth's working directory's")
}

// TestVolumeCommands: berth volume create, ls (filters, -q, --format),
// inspect, rm, prune against the fake engine.
func TestVolumeCommands(t *testing.T) {
	e := newEngine(t)
	assert.Equal(t, "both\n", e.ok(t, "volume", "create", "--label", "a=1", "--label", "b=2", "both"))
	e.ok(t, "volume", "create", "--label", "a=1", "only-a")
	anon := strings.TrimSpace(e.ok(t, "volume", "create"))
	assert.Regexp(t, `^[0-9a-f]{64}$`, anon)

	names := []string{anon, "both", "only-a"}
	sort.Strings(names) // the anonymous one's random name may sort anywhere
	assert.Equal(t, "DRIVER    VOLUME NAME\nlocal     "+strings.Join(names, "\nlocal     ")+"\n", e.ok(t, "volume", "ls"))
	assert.Equal(t, "both\n", e.ok(t, "volume", "ls", "-q", "--filter", "label=a=1", "--filter", "label=b"))
	assert.Equal(t, "both a=1,b=2\n", e.ok(t, "volume", "ls", "--format", "{{.Name}} {{.Labels}}", "-f", "name=bo"))
	assert.Equal(t, "local both\n", e.ok(t, "volume", "inspect", "-f", "{{.Driver}} {{.Name}}", "both"))
	assert.Equal(t, "both\n", e.ok(t, "inspect", "-f", "{{.Name}}", "both"), "inspect finds volumes too")
	assert.Equal(t, "both\n", e.ok(t, "inspect", "--type", "volume", "-f", "{{.Name}}", "both"))
	_, errOut, code := e.berth(t, "", "volume", "inspect", "nosuch")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "No such volume: nosuch")

	out, _, code := e.berth(t, "n\n", "volume", "prune")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "Are you sure you want to continue? [y/N]")
	assert.Len(t, strings.Fields(e.ok(t, "volume", "ls", "-q")), 3, "answered no: nothing pruned")
	out = e.ok(t, "volume", "prune", "-f")
	assert.Contains(t, out, "Deleted Volumes:\n"+anon+"\n")
	out = e.ok(t, "volume", "prune", "-af", "--filter", "label=b=2")
	assert.Contains(t, out, "both\n")
	assert.Equal(t, "only-a\n", e.ok(t, "volume", "ls", "-q"))

	e.ok(t, "create", "--name", "user", "-v", "only-a:/a", "busybox")
	_, errOut, code = e.berth(t, "", "volume", "rm", "only-a")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "in use")
	e.ok(t, "rm", "user")
	assert.Equal(t, "only-a\n", e.ok(t, "volume", "rm", "only-a"))
	e.ok(t, "volume", "rm", "-f", "only-a")
	v, err := e.fake.VolumeList(context.Background(), nil)
	require.NoError(t, err)
	assert.Empty(t, v.Volumes)
}
