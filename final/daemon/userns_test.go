package daemon

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/06-images/image"
)

func TestSubIDRanges(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "subuid")
	require.NoError(t, os.WriteFile(file, []byte("# a comment\nalice:100000:65536\n1001:300000:1000\nbob:165536:65536\n"), 0o644))
	for _, tc := range []struct {
		name, user, id string
		want           namespace.IDRange
		err            string
	}{
		{name: "by name", user: "alice", id: "1000", want: namespace.IDRange{Base: 100000, Size: 65536}},
		{name: "by number", user: "carol", id: "1001", want: namespace.IDRange{Base: 300000, Size: 1000}},
		{name: "the first range of a name", user: "bob", want: namespace.IDRange{Base: 165536, Size: 65536}},
		{name: "none", user: "dave", id: "1002", err: "gives no subordinate ids to dave"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := subIDRange(file, tc.user, tc.id)
			if tc.err != "" {
				assert.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	free, err := freeRange(65536, file, filepath.Join(dir, "missing"))
	require.NoError(t, err)
	assert.Equal(t, namespace.IDRange{Base: 300000 + 1000, Size: 65536}, free, "after every range of every file")

	require.NoError(t, os.WriteFile(file, []byte("alice:x:1\n"), 0o644))
	_, err = subIDRange(file, "alice", "")
	assert.ErrorContains(t, err, "subuid:1: not NAME:FIRST:COUNT")
}

// remapUser creates a user of a unique name with 65536 subordinate uids
// and, elsewhere, 65536 subordinate gids, as an administrator would
// (useradd, usermod --add-subuids), and removes it and its lines of
// /etc/subuid and /etc/subgid at cleanup (userdel does; the lines are
// dropped in any case), leaving the files as they were, other lines
// untouched.
func remapUser(t *testing.T) (name string, uids, gids namespace.IDRange) {
	t.Helper()
	labtest.Privileged(t)
	name = labtest.Unique("berthu")
	run := func(args ...string) {
		t.Helper()
		out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
		require.NoError(t, err, "%s: %s", strings.Join(args, " "), out)
	}
	free, err := freeRange(2*namespace.IDCount, "/etc/subuid", "/etc/subgid")
	require.NoError(t, err)
	uids = namespace.IDRange{Base: free.Base, Size: namespace.IDCount}
	gids = namespace.IDRange{Base: free.Base + namespace.IDCount, Size: namespace.IDCount}
	run("useradd", "--system", "--user-group", "--no-create-home", "--shell", "/bin/false", name)
	t.Cleanup(func() { removeUser(t, name) })
	run("usermod", "--add-subuids", fmt.Sprintf("%d-%d", uids.Base, uids.Base+uids.Size-1),
		"--add-subgids", fmt.Sprintf("%d-%d", gids.Base, gids.Base+gids.Size-1), name)
	return name, uids, gids
}

// removeUser removes the user name and its lines of /etc/subuid and
// /etc/subgid (userdel does; they are dropped in any case), leaving the
// other lines as they are.
func removeUser(t *testing.T, name string) {
	if out, err := exec.Command("userdel", name).CombinedOutput(); err != nil {
		t.Errorf("userdel %s: %v: %s", name, err, out)
	}
	for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
		now, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var keep []string
		for _, line := range strings.SplitAfter(string(now), "\n") {
			if !strings.HasPrefix(line, name+":") {
				keep = append(keep, line)
			}
		}
		if after := strings.Join(keep, ""); after != string(now) {
			assert.NoError(t, os.WriteFile(f, []byte(after), 0o644))
		}
		// Not compared with before as a whole: the tests of other
		// packages may add their own users meanwhile.
		now, _ = os.ReadFile(f)
		assert.NotContains(t, string(now), name+":", "%s without the test's ranges", f)
	}
}

// TestUsernsRemapDefault: "default" creates the user berthremap with
// ranges after every range the files give, once. Skipped where the user
// exists already: the test would not know what to leave behind.
func TestUsernsRemapDefault(t *testing.T) {
	labtest.Privileged(t)
	if _, err := user.Lookup(DefaultRemapUser); err == nil {
		t.Skipf("the user %s exists: not touched", DefaultRemapUser)
	}
	free, err := freeRange(namespace.IDCount, "/etc/subuid", "/etc/subgid")
	require.NoError(t, err)
	t.Cleanup(func() { removeUser(t, DefaultRemapUser) })
	r, err := remapIDs("default")
	require.NoError(t, err)
	assert.Equal(t, DefaultRemapUser, r.User)
	assert.Equal(t, free, r.UIDs, "after every range of the files")
	assert.Equal(t, free, r.GIDs)
	again, err := remapIDs("default")
	require.NoError(t, err)
	assert.Equal(t, r, again, "the second time, the same user and ranges")
	_, err = user.Lookup(DefaultRemapUser)
	assert.NoError(t, err)
}

// remapLab is a lab whose daemon runs with --userns-remap user. Its data
// root and the directory above it let the containers' root through.
func remapLab(t *testing.T, user string) *lab {
	l := prepareLab(t)
	require.NoError(t, os.Chmod(filepath.Dir(l.opts.DataRoot), 0o711))
	l.opts.UsernsRemap = user
	l.start()
	return l
}

// hostDir is a directory that anyone may write to, for a bind mount.
func hostDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "berth-userns-bind-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o777))
	return dir
}

func owner(t *testing.T, path string) string {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	st := fi.Sys().(*syscall.Stat_t)
	return fmt.Sprintf("%d:%d", st.Uid, st.Gid)
}

// mapLine is a line of /proc/PID/uid_map as the kernel prints it.
func mapLine(r namespace.IDRange) string {
	return fmt.Sprintf("%10d %10d %10d\n", 0, r.Base, r.Size)
}

// TestUsernsRemap runs berthd with --userns-remap and checks, through
// the docker CLI and from inside the containers, that a container's
// root is not the host's root, and that images and volumes still work,
// from one copy of the image.
func TestUsernsRemap(t *testing.T) {
	name, uids, gids := remapUser(t)
	l := remapLab(t, name)
	bind := hostDir(t)

	assert.Contains(t, l.ok("info", "--format", "{{json .SecurityOptions}}"), `"name=userns"`)
	assert.Contains(t, l.ok("info", "--format", "{{json .DriverStatus}}"), `["Userns Remap Layers","idmapped mounts"]`)

	// Root inside, the user's ranges outside, uid and gid each their own.
	out := l.ok("run", "--rm", "-v", bind+":/host", "busybox", "sh", "-c",
		"id -u; cat /proc/self/uid_map /proc/self/gid_map; stat -c %u:%g /bin/busybox; touch /host/made-inside")
	assert.Equal(t, "0\n"+mapLine(uids)+mapLine(gids)+"0:0\n", out,
		"root, mapped to the ranges; the image's files are root's (idmapped)")
	assert.Equal(t, fmt.Sprintf("%d:%d", uids.Base, gids.Base), owner(t, filepath.Join(bind, "made-inside")),
		"a file the container's root makes on the host belongs to the mapped ids")

	// The host sees the container's processes as the mapped uid, and so
	// does docker exec's.
	id := l.ok("run", "-d", "busybox", "sleep", "1000")
	id = strings.TrimSpace(id)
	pid := l.inspect(id).State.Pid
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	assert.Contains(t, string(status), fmt.Sprintf("Uid:\t%d\t%d", uids.Base, uids.Base))
	assert.Equal(t, "0\n"+mapLine(uids), l.ok("exec", id, "sh", "-c", "id -u; cat /proc/self/uid_map"))
	l.ok("rm", "-f", id)

	// docker cp into a running remapped container writes as its root
	// would: the archive's owner inside, shifted on the host where the
	// mount is not idmapped.
	src := filepath.Join(hostDir(t), "f")
	require.NoError(t, os.WriteFile(src, []byte("hi\n"), 0o644))
	require.NoError(t, os.Chown(src, 33, 33))
	id = strings.TrimSpace(l.ok("run", "-d", "-v", bind+":/host", "busybox", "sleep", "1000"))
	l.ok("cp", src, id+":/root/f")
	l.ok("cp", src, id+":/host/copied")
	assert.Equal(t, "33:33\n33:33\n", l.ok("exec", id, "stat", "-c", "%u:%g", "/root/f", "/host/copied"))
	assert.Equal(t, fmt.Sprintf("%d:%d", uids.Base+33, gids.Base+33), owner(t, filepath.Join(bind, "copied")))
	l.ok("rm", "-f", id)

	// --userns host: this container is not remapped, on the same image.
	assert.Equal(t, mapLine(namespace.IDRange{Base: 0, Size: 4294967295})+"0:0\n",
		l.ok("run", "--rm", "--userns", "host", "busybox", "sh", "-c", "cat /proc/self/uid_map; stat -c %u:%g /bin/busybox"))

	// One copy of the image: both kinds of container read the very
	// inode of the image store's busybox.
	dirs := busyboxLayers(t, l)
	fi, err := os.Stat(filepath.Join(dirs[len(dirs)-1], "bin", "busybox"))
	require.NoError(t, err)
	ino := strconv.FormatUint(fi.Sys().(*syscall.Stat_t).Ino, 10) + "\n"
	assert.Equal(t, ino, l.ok("run", "--rm", "busybox", "stat", "-c", "%i", "/bin/busybox"), "remapped")
	assert.Equal(t, ino, l.ok("run", "--rm", "--userns", "host", "busybox", "stat", "-c", "%i", "/bin/busybox"), "not remapped")
	layers, err := os.ReadDir(filepath.Join(image.StoreDir(l.opts.DataRoot), "layers"))
	require.NoError(t, err)
	assert.Len(t, layers, len(dirs), "no second copy of the layers")

	// A volume: the remapped root writes to it, a container on the
	// host's ids reads it, and on the disk it is root's (idmapped).
	l.ok("volume", "create", "userns-vol")
	l.ok("run", "--rm", "-v", "userns-vol:/data", "busybox", "sh", "-c", "echo hello > /data/f && mkdir /data/d")
	assert.Equal(t, "hello\n", l.ok("run", "--rm", "--userns", "host", "-v", "userns-vol:/data", "busybox", "cat", "/data/f"))
	v, err := l.d.volumes.Get("userns-vol")
	require.NoError(t, err)
	assert.Equal(t, "0:0", owner(t, filepath.Join(v.Mountpoint, "f")))
	l.ok("volume", "rm", "userns-vol")
	// A volume that binds a host directory is the host's, as a bind
	// mount is: not idmapped, the mapped root's on the disk.
	l.ok("volume", "create", "-o", "type=none", "-o", "o=bind", "-o", "device="+bind, "userns-bindvol")
	l.ok("run", "--rm", "-v", "userns-bindvol:/data", "busybox", "touch", "/data/via-volume")
	assert.Equal(t, fmt.Sprintf("%d:%d", uids.Base, gids.Base), owner(t, filepath.Join(bind, "via-volume")))
	l.ok("volume", "rm", "userns-bindvol")

	// The writable layer: what root writes is stored with the image's
	// ids, so commit makes an ordinary image.
	l.ok("run", "--name", "userns-commit", "busybox", "sh", "-c", "echo x > /etc/made && chown 33:33 /etc/made")
	l.ok("commit", "userns-commit", "userns-img")
	assert.Equal(t, "33:33\n", l.ok("run", "--rm", "--userns", "host", "userns-img", "stat", "-c", "%u:%g", "/etc/made"))
	l.ok("rm", "userns-commit")
	l.ok("rmi", "userns-img")

	// A build's RUN is remapped too, and its layer keeps the ids it
	// set.
	_, errOut, code := l.docker("FROM busybox\nRUN cat /proc/self/uid_map > /map && touch /f && chown 33:33 /f\n", "build", "-q", "-t", "userns-built", "-")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, mapLine(uids)+"33:33\n", l.ok("run", "--rm", "--userns", "host", "userns-built", "sh", "-c", "cat /map; stat -c %u:%g /f"))
	l.ok("rmi", "userns-built")

	// --privileged needs --userns host, as with dockerd.
	_, errOut, code = l.docker("", "run", "--rm", "--privileged", "busybox", "true")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "privileged mode is incompatible with user namespaces")
}

// TestUsernsRemapRefusals: a user without subordinate ids, or root, is
// refused at the daemon's start.
func TestUsernsRemapRefusals(t *testing.T) {
	labtest.Privileged(t)
	for _, tc := range []struct{ spec, err string }{
		{"root", "root cannot be remapped to itself"},
		{"nobody", "gives no subordinate ids to nobody"},
		{labtest.Unique("nosuchuser"), "unknown user"},
	} {
		_, err := New(Options{DataRoot: t.TempDir(), ExecRoot: t.TempDir(), UsernsRemap: tc.spec})
		assert.ErrorContains(t, err, tc.err, tc.spec)
	}
}

// TestUsernsRemapSameAsDockerd: the same steps against berthd and a
// dockerd, both with --userns-remap of one user, print the same.
func TestUsernsRemapSameAsDockerd(t *testing.T) {
	name, uids, gids := remapUser(t)
	l := remapLab(t, name)
	engines := sideBySide(t, l, labtest.StartDockerd(t, "--userns-remap", name))
	results := map[string][]string{}
	for _, e := range engines {
		must := e.mustFor(t)
		bind := hostDir(t)
		var got []string
		got = append(got, must("info", "--format", "{{range .SecurityOptions}}{{if eq . \"name=userns\"}}{{.}}{{end}}{{end}}"))
		got = append(got, must("run", "--rm", "-v", bind+":/host", "busybox", "sh", "-c",
			"id; cat /proc/self/uid_map /proc/self/gid_map; touch /host/f; echo x > /etc/x && cat /etc/x; cat /proc/sys/net/ipv4/ping_group_range /proc/sys/net/ipv4/ip_unprivileged_port_start"))
		got = append(got, owner(t, filepath.Join(bind, "f")))
		got = append(got, must("run", "--rm", "--userns", "host", "busybox", "cat", "/proc/self/uid_map"))
		must("volume", "create", "cmp-userns")
		got = append(got, must("run", "--rm", "-v", "cmp-userns:/data", "busybox", "sh", "-c", "echo hi > /data/f; cat /data/f; stat -c %u /data/f"))
		must("volume", "rm", "cmp-userns")
		_, err := e.run("run", "--rm", "--privileged", "busybox", "true")
		got = append(got, fmt.Sprint(err != nil && strings.Contains(err.Error(), "privileged mode is incompatible with user namespaces")))
		results[e.name] = got
	}
	assert.Equal(t, results["dockerd"], results["berthd"])
	assert.Equal(t, mapLine(uids)+mapLine(gids), strings.Join(strings.Split(results["berthd"][1], "\n")[1:3], "\n")+"\n")
}
