package daemon

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

// volumeImage makes the image volimg: busybox with files in /data (an
// owner, a mode, a time, symlinks out of it) and VOLUME /data.
func (l *lab) volumeImage() {
	l.t.Helper()
	l.ok("run", "--name", "maker", "busybox", "sh", "-c", `
mkdir -p /data/sub && echo from-image > /data/sub/f && chown 1234:5678 /data/sub/f && chmod 640 /data/sub/f
touch -d '2001-02-03 04:05:06' /data/sub/f
ln -s /etc /data/etc && ln -s ../../../../../../.. /data/up`)
	l.ok("commit", "-c", "VOLUME /data", "maker", "volimg")
	l.ok("rm", "maker")
}

// volumeMounts is a container's Mounts from docker inspect.
func (l *lab) volumeMounts(name string) []container.MountPoint {
	l.t.Helper()
	var m []container.MountPoint
	require.NoError(l.t, json.Unmarshal([]byte(l.ok("inspect", "-f", "{{json .Mounts}}", name)), &m))
	return m
}

var anonName = regexp.MustCompile(`^[0-9a-f]{64}$`)

// TestVolumeCopyUpAndPersistence: a new named volume is filled from the
// image (modes, owners, times, symlinks as symlinks); what a container
// writes stays for the next; :ro refuses writes; a volume in use by a
// stopped container cannot be removed (409).
func TestVolumeCopyUpAndPersistence(t *testing.T) {
	l := newLab(t)
	l.volumeImage()
	out := l.ok("run", "--name", "first", "-v", "vol:/data", "volimg", "sh", "-c",
		"stat -c '%a %u:%g %Y %n' /data/sub/f; readlink /data/etc; readlink /data/up; echo written > /data/new")
	assert.Equal(t, "640 1234:5678 981173106 /data/sub/f\n/etc\n../../../../../../..\n", out)
	mp := l.ok("volume", "inspect", "-f", "{{.Mountpoint}}", "vol")
	assert.Equal(t, filepath.Join(l.opts.DataRoot, "volumes", "vol", "_data")+"\n", mp)
	data, err := os.ReadFile(filepath.Join(strings.TrimSpace(mp), "new"))
	require.NoError(t, err)
	assert.Equal(t, "written\n", string(data))

	out = l.ok("run", "--rm", "-v", "vol:/data:ro", "busybox", "sh", "-c", "cat /data/new; echo x > /data/y 2>&1 || echo refused")
	assert.Contains(t, out, "written\n")
	assert.Contains(t, out, "refused")

	m := l.volumeMounts("first")
	require.Len(t, m, 1)
	assert.Equal(t, container.MountPoint{Type: "volume", Name: "vol", Source: strings.TrimSpace(mp), Destination: "/data",
		Driver: "local", Mode: "z", RW: true}, m[0], "-v vol:/data takes the image's VOLUME /data: no anonymous volume")
	assert.Equal(t, "vol\n", l.ok("ps", "-a", "--filter", "name=first", "--format", "{{.Mounts}}"))

	_, errOut, code := l.docker("", "volume", "rm", "vol")
	assert.NotEqual(t, 0, code, "in use by a stopped container")
	assert.Contains(t, errOut, "volume is in use")
	_, errOut, code = l.docker("", "volume", "rm", "-f", "vol")
	assert.NotEqual(t, 0, code, "force does not remove a volume in use: %s", errOut)
	l.ok("rm", "-v", "first")
	assert.Equal(t, "vol\n", l.ok("volume", "ls", "-q"), "rm -v leaves named volumes")
	l.ok("volume", "rm", "vol")
	assert.Empty(t, l.ok("volume", "ls", "-q"))
}

// TestAnonymousVolumes: -v /path and the image's VOLUME make anonymous
// volumes, filled from the image; rm -v and --rm remove them.
func TestAnonymousVolumes(t *testing.T) {
	l := newLab(t)
	l.volumeImage()
	l.ok("run", "--name", "ca", "-v", "/cache", "busybox", "touch", "/cache/x")
	m := l.volumeMounts("ca")
	require.Len(t, m, 1)
	assert.Regexp(t, anonName, m[0].Name)
	assert.Equal(t, "/cache", m[0].Destination)
	assert.Equal(t, filepath.Join(l.opts.DataRoot, "volumes", m[0].Name, "_data"), m[0].Source)
	assert.FileExists(t, filepath.Join(m[0].Source, "x"))
	assert.Equal(t, "map[com.docker.volume.anonymous:]\n", l.ok("volume", "inspect", "-f", "{{.Labels}}", m[0].Name))

	out := l.ok("run", "--name", "cb", "volimg", "cat", "/data/sub/f")
	assert.Equal(t, "from-image\n", out, "the image's VOLUME is an anonymous volume, filled from the image")
	mb := l.volumeMounts("cb")
	require.Len(t, mb, 1)
	assert.Regexp(t, anonName, mb[0].Name)
	assert.Equal(t, "/data", mb[0].Destination)
	assert.Equal(t, "", mb[0].Mode)

	l.ok("rm", "-v", "ca")
	l.ok("rm", "cb")
	vols := l.ok("volume", "ls", "-q")
	assert.NotContains(t, vols, m[0].Name, "rm -v removed a's anonymous volume")
	assert.Contains(t, vols, mb[0].Name, "rm without -v keeps b's")

	// A relative path (an image's VOLUME as the builder keeps it) is
	// from the root.
	l.create("rel", container.Config{Cmd: []string{"true"}, Volumes: map[string]struct{}{"rel/dir": {}}}, nil)
	mr := l.volumeMounts("rel")
	require.Len(t, mr, 1)
	assert.Equal(t, "/rel/dir", mr[0].Destination)
	l.ok("rm", "-v", "rel")

	l.ok("run", "--rm", "-v", "/tmp/x", "-v", "kept:/k", "busybox", "true")
	assert.ElementsMatch(t, []string{"kept", mb[0].Name}, strings.Fields(l.ok("volume", "ls", "-q")), "--rm removed its anonymous volume only")
}

// A -v of a host directory that does not exist makes it, as Docker's
// does; --mount type=bind refuses it, as Docker's does.
func TestBindOfAMissingHostDirectoryMakesIt(t *testing.T) {
	l := newLab(t)
	dir := filepath.Join(t.TempDir(), "new", "data")
	l.ok("run", "--rm", "-v", dir+":/data", "busybox", "sh", "-c", "echo made > /data/f")
	got, err := os.ReadFile(filepath.Join(dir, "f"))
	require.NoError(t, err)
	assert.Equal(t, "made\n", string(got))
	other := filepath.Join(t.TempDir(), "absent")
	_, errOut, code := l.docker("", "run", "--rm", "--mount", "type=bind,source="+other+",target=/data", "busybox", "true")
	assert.Equal(t, 125, code)
	assert.Contains(t, errOut, "bind source path does not exist")
	assert.NoDirExists(t, other)

	// A propagation that would make mounts travel between the host and
	// the container is refused: nothing would travel.
	_, errOut, code = l.docker("", "run", "--rm", "-v", dir+":/data:rslave", "busybox", "true")
	assert.Equal(t, 125, code)
	assert.Contains(t, errOut, `bind propagation "rslave" is not supported`)
}

// TestVolumesFrom: --volumes-from C[:ro] mounts C's volumes and binds at
// the same paths.
func TestVolumesFrom(t *testing.T) {
	l := newLab(t)
	host := t.TempDir()
	l.ok("create", "--name", "src", "-v", "shared:/shared", "-v", "/anon", "-v", host+":/host", "busybox", "true")
	out := l.ok("run", "--rm", "--volumes-from", "src", "busybox", "sh", "-c", "echo a > /shared/a && echo b > /anon/b && echo c > /host/c && echo ok")
	assert.Equal(t, "ok\n", out)
	out = l.ok("run", "--rm", "--volumes-from", "src:ro", "busybox", "sh", "-c", "cat /shared/a /anon/b /host/c; touch /shared/z 2>/dev/null || echo refused")
	assert.Equal(t, "a\nb\nc\nrefused\n", out)
	_, errOut, code := l.docker("", "run", "--rm", "--volumes-from", "nosuch", "busybox", "true")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "nosuch")
}

// TestTmpfsMounts: --tmpfs and --mount type=tmpfs with a size and mode,
// --shm-size, seen from inside with df and /proc/mounts.
func TestTmpfsMounts(t *testing.T) {
	l := newLab(t)
	out := l.ok("run", "--rm", "--tmpfs", "/t:size=2m", "--mount", "type=tmpfs,dst=/m,tmpfs-size=3145728,tmpfs-mode=1770",
		"--shm-size", "16m", "busybox", "sh", "-c", "df -k /t /m /dev/shm | tail -n 3; stat -c %a /m; grep -E ' /(t|m) ' /proc/mounts")
	assert.Regexp(t, `tmpfs\s+2048\s.*/t\n`, out)
	assert.Regexp(t, `tmpfs\s+3072\s.*/m\n`, out)
	assert.Regexp(t, `\s16384\s.*/dev/shm\n`, out)
	assert.Contains(t, out, "1770\n")
	assert.Regexp(t, `tmpfs /t tmpfs rw,nosuid,nodev,noexec`, out)
	// A volume made by --mount with the local driver's options.
	out = l.ok("run", "--rm", "--mount", "type=volume,src=memv,dst=/mv,volume-opt=type=tmpfs,volume-opt=o=size=1m,volume-label=k=v",
		"busybox", "sh", "-c", "df -k /mv | tail -n 1")
	assert.Regexp(t, `^tmpfs\s+1024\s`, out)
	assert.Equal(t, "map[o:size=1m type:tmpfs] map[k:v]\n", l.ok("volume", "inspect", "-f", "{{.Options}} {{.Labels}}", "memv"))
	l.ok("create", "--name", "tm", "--mount", "type=tmpfs,dst=/m", "--tmpfs", "/t", "busybox")
	assert.Equal(t, "67108864 map[/t:]\n", l.ok("inspect", "-f", "{{.HostConfig.ShmSize}} {{.HostConfig.Tmpfs}}", "tm"))
	m := l.volumeMounts("tm")
	require.Len(t, m, 1, "--tmpfs is not in Mounts, --mount type=tmpfs is (as Docker)")
	assert.Equal(t, container.MountPoint{Type: "tmpfs", Destination: "/m", RW: true}, m[0])
}

// TestVolumeCommandsThroughTheDockerCLI: docker volume create, ls with
// filters, inspect, rm, prune, and the refusals.
func TestVolumeCommandsThroughTheDockerCLI(t *testing.T) {
	l := newLab(t)
	bindDir := t.TempDir()
	assert.Equal(t, "both\n", l.ok("volume", "create", "--label", "a=1", "--label", "b=2", "both"))
	l.ok("volume", "create", "--label", "a=1", "only-a")
	l.ok("volume", "create", "-o", "type=tmpfs", "-o", "o=size=1m", "mem")
	l.ok("volume", "create", "-o", "type=none", "-o", "o=bind", "-o", "device="+bindDir, "bound")
	anon := strings.TrimSpace(l.ok("volume", "create"))
	assert.Regexp(t, anonName, anon)
	assert.Equal(t, "mem\n", l.ok("volume", "create", "mem"), "an existing name is no error")
	_, errOut, code := l.docker("", "volume", "create", "-o", "type=tmpfs", "-o", "o=size=2m", "mem")
	assert.NotEqual(t, 0, code, "other options are not the volume asked for")
	assert.Contains(t, errOut, "has the options")

	ls := func(args ...string) []string {
		return strings.Fields(l.ok(append([]string{"volume", "ls", "-q"}, args...)...))
	}
	assert.ElementsMatch(t, []string{"both", "only-a", "mem", "bound", anon}, ls())
	// Every label asked for must match (a regression: they were ORed).
	assert.Equal(t, []string{"both"}, ls("--filter", "label=a=1", "--filter", "label=b"))
	assert.ElementsMatch(t, []string{"both", "only-a"}, ls("--filter", "label=a"))
	assert.ElementsMatch(t, []string{"both", "bound"}, ls("--filter", "name=bo"))
	assert.ElementsMatch(t, []string{"both", "only-a"}, ls("--filter", "name=both", "--filter", "name=only"))
	assert.Empty(t, ls("--filter", "driver=other"))
	assert.Equal(t, "local local tmpfs size=1m\n", l.ok("volume", "inspect", "-f", "{{.Driver}} {{.Scope}} {{.Options.type}} {{.Options.o}}", "mem"))

	l.ok("create", "--name", "user", "-v", "both:/b", "-v", "mem:/m", "-v", "bound:/x", "busybox")
	assert.ElementsMatch(t, []string{"only-a", anon}, ls("--filter", "dangling=true"))
	assert.ElementsMatch(t, []string{"both", "mem", "bound"}, ls("--filter", "dangling=false"))
	assert.Equal(t, "user\n", l.ok("ps", "-a", "--filter", "volume=both", "--format", "{{.Names}}"), "by a volume's name")
	assert.Equal(t, "user\n", l.ok("ps", "-a", "--filter", "volume=/m", "--format", "{{.Names}}"), "by a mount's destination")
	assert.Empty(t, l.ok("ps", "-a", "--filter", "volume=only-a", "--format", "{{.Names}}"))
	l.ok("start", "-a", "user") // the tmpfs and the bind work
	out := l.ok("run", "--rm", "-v", "mem:/m", "-v", "bound:/x", "busybox", "sh", "-c", "df -k /m | tail -n 1; touch /x/here")
	assert.Regexp(t, `^tmpfs\s+1024\s`, out)
	assert.FileExists(t, filepath.Join(bindDir, "here"))

	// Prune: at API 1.41, which berth speaks, a prune removes every
	// unused volume, named ones too, as dockerd 20.10 does (and the
	// docker CLI warns so); only from 1.42 on would it keep the named
	// ones without --all. Filters narrow it.
	out = l.ok("volume", "prune", "-f", "--filter", "label=a=1")
	assert.Contains(t, out, "only-a")
	assert.ElementsMatch(t, []string{"both", "mem", "bound", anon}, ls(), "in use, or not labelled a=1: kept")
	l.ok("rm", "user")
	out = l.ok("volume", "prune", "-f", "--filter", "label!=a")
	assert.ElementsMatch(t, []string{"mem", "bound", anon}, strings.Fields(strings.TrimPrefix(strings.Split(out, "Total")[0], "Deleted Volumes:")))
	assert.Equal(t, []string{"both"}, ls(), "label! keeps both")
	l.ok("volume", "rm", "both")
	assert.DirExists(t, bindDir, "a bound directory is the host's: prune removes the record only")

	for _, tt := range []struct {
		args        []string
		errContains string
	}{
		{[]string{"volume", "create", "../x"}, "invalid characters"},
		{[]string{"volume", "create", "-d", "nfs", "x1"}, `"nfs" is not supported`},
		{[]string{"volume", "create", "-o", "type=ext4", "-o", "device=/dev/vda", "x2"}, "type=ext4 is not supported"},
		{[]string{"volume", "create", "-o", "size=1g", "x3"}, `option "size" is not supported`},
		{[]string{"volume", "inspect", "nosuch"}, "no such volume"},
		{[]string{"volume", "rm", "nosuch"}, "no such volume"},
		{[]string{"volume", "ls", "--filter", "bogus=1"}, "invalid filter 'bogus'"},
		{[]string{"run", "--rm", "--mount", "type=volume,src=v,dst=/x,volume-subpath=a", "busybox"}, "volume-subpath"},
		{[]string{"run", "--rm", "--mount", "type=bind,src=/tmp,dst=/x,bind-recursive=disabled", "busybox"}, "bind-recursive=disabled"},
		{[]string{"run", "--rm", "--mount", "type=bind,src=/nonexistent-berth,dst=/x", "busybox"}, "bind source path does not exist"},
		{[]string{"run", "--rm", "--tmpfs", "/t:huge=always", "busybox"}, "huge=always"},
		{[]string{"run", "--rm", "-v", "va:/x", "-v", "vb:/x", "busybox"}, "Duplicate mount point"},
	} {
		_, errOut, code = l.docker("", tt.args...)
		assert.NotEqual(t, 0, code, "%v", tt.args)
		assert.Contains(t, errOut, tt.errContains, "%v", tt.args)
	}
	_, _, code = l.docker("", "volume", "rm", "-f", "nosuch")
	assert.Equal(t, 0, code, "rm -f of a missing volume is no error")
	assert.Empty(t, ls(), "nothing was left by the refused requests")
}

// TestVolumeSurvivesKillNine: a volume and its files outlive a kill -9
// of berthd.
func TestVolumeSurvivesKillNine(t *testing.T) {
	l := prepareLab(t)
	first := l.spawnDaemon()
	l.ok("volume", "create", "--label", "k=v", "durable")
	l.ok("run", "--rm", "-v", "durable:/d", "busybox", "sh", "-c", "echo kept > /d/f")
	require.NoError(t, first.cmd.Process.Signal(syscall.SIGKILL))
	_ = first.cmd.Wait()

	second := l.spawnDaemon()
	assert.Equal(t, "durable k=v\n", l.ok("volume", "ls", "--format", "{{.Name}} {{.Labels}}"))
	assert.Equal(t, "kept\n", l.ok("run", "--rm", "-v", "durable:/d", "busybox", "cat", "/d/f"))
	l.ok("volume", "rm", "durable")
	require.NoError(t, second.cmd.Process.Signal(syscall.SIGTERM))
	_ = second.cmd.Wait()
}

// TestVolumeSymlinkEscape: an image whose volume content holds symlinks
// to /etc and up the tree, or whose volume path is itself a symlink to
// /etc: whatever the container writes through them, the host is
// untouched.
func TestVolumeSymlinkEscape(t *testing.T) {
	l := newLab(t)
	l.volumeImage()
	marker := labtest.Unique("berth-escape")
	out := l.ok("run", "--rm", "-v", "esc:/data", "volimg", "sh", "-c",
		"echo pwned > /data/etc/"+marker+"; echo pwned > /data/up/"+marker+"; ls /etc/"+marker+"; ls /"+marker)
	assert.Equal(t, "/etc/"+marker+"\n/"+marker+"\n", out, "the links lead into the container's own root")
	assert.NoFileExists(t, "/etc/"+marker)
	assert.NoFileExists(t, "/"+marker)
	mp := filepath.Join(l.opts.DataRoot, "volumes", "esc", "_data")
	link, err := os.Readlink(filepath.Join(mp, "etc"))
	require.NoError(t, err)
	assert.Equal(t, "/etc", link, "the volume holds the link itself")

	// The volume's path in the image is a symlink to /etc.
	l.ok("run", "--name", "linker", "busybox", "ln", "-s", "/etc", "/linked")
	l.ok("commit", "linker", "linkimg")
	out = l.ok("run", "--rm", "-v", "esc2:/linked", "linkimg", "sh", "-c", "echo pwned > /linked/"+marker+"; ls /linked/passwd")
	assert.Equal(t, "/linked/passwd\n", out, "the image's /etc was copied up")
	assert.NoFileExists(t, "/etc/"+marker)
	assert.FileExists(t, filepath.Join(l.opts.DataRoot, "volumes", "esc2", "_data", marker))
}
