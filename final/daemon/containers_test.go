package daemon

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/06-images/registry/registrytest"
)

// S22: docker run IMAGE COMMAND, through the real client: create, attach,
// wait, start; the container's output, and its exit status as docker's.
// --rm removes it afterwards.
func TestS22_RunThroughTheDockerCLI(t *testing.T) {
	l := newLab(t)
	out, errOut, code := l.docker("", "run", "--rm", "busybox", "echo", "hello")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "hello\n", out)
	assert.Empty(t, l.ok("ps", "-aq"), "--rm removed it")

	out, errOut, code = l.docker("", "run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
	assert.Equal(t, 3, code, "the container's own status")
	assert.Equal(t, "out\n", out)
	assert.Equal(t, "err\n", errOut, "stderr stays stderr")
	assert.Empty(t, l.ok("ps", "-aq"))
}

// Exit statuses as Docker's: 125 for an engine error, 126 for a command
// that cannot be invoked, 127 for one that does not exist; the failed
// start is recorded in the container's state, and --rm removes it all the
// same.
func TestS22_ExitStatusesOfFailedStarts(t *testing.T) {
	l := newLab(t)
	for _, tc := range []struct {
		args  []string
		code  int
		words string
	}{
		{[]string{"no-such-command"}, 127, "executable file not found"},
		{[]string{"/no/such/file"}, 127, "no such file or directory"},
		{[]string{"/etc"}, 126, "permission denied"},
		{[]string{"/etc/passwd"}, 126, "permission denied"},
	} {
		_, errOut, code := l.docker("", append([]string{"run", "--rm", "busybox"}, tc.args...)...)
		assert.Equal(t, tc.code, code, "%v: %s", tc.args, errOut)
		assert.Contains(t, errOut, tc.words)
	}
	assert.Empty(t, l.ok("ps", "-aq"), "failed --rm containers are removed too")

	_, errOut, code := l.docker("", "run", "--name", "broken", "busybox", "no-such-command")
	assert.Equal(t, 127, code, errOut)
	info := l.inspect("broken")
	assert.Equal(t, container.StateCreated, info.State.Status, "it never ran")
	assert.Equal(t, 127, info.State.ExitCode)
	assert.Contains(t, info.State.Error, "executable file not found")

	// (From a registry on loopback that lacks it: a test never asks
	// Docker Hub.)
	missing := registrytest.Start(t, registrytest.Options{}).Ref("no-such-image:1")
	_, errOut, code = l.docker("", "run", "--rm", missing, "true")
	assert.Equal(t, 125, code, "an engine error: %s", errOut)
	assert.Contains(t, errOut, "Unable to find image '"+missing+"' locally", "the create's 404 made the client pull")
	assert.Contains(t, errOut, "manifest for "+missing+" not found", "and the pull's 404 ended it")
}

// S25: -d prints the ID and returns; the container stops by itself when
// its command ends, and its status and output are kept.
func TestS25_DetachedContainerStopsWhenItsCommandEnds(t *testing.T) {
	l := newLab(t)
	out, errOut, code := l.docker("", "run", "-d", "--name", "bg", "busybox", "sh", "-c", "echo working; sleep 0.3; echo done; exit 4")
	require.Equal(t, 0, code, errOut)
	id := strings.TrimSpace(out)
	assert.Regexp(t, `^[0-9a-f]{64}$`, id)
	assert.Equal(t, "bg\n", l.ok("ps", "--format", "{{.Names}}"), "running")
	assert.Equal(t, "4\n", l.ok("wait", "bg"))
	assert.Empty(t, l.ok("ps", "-q"), "no longer running")
	assert.Regexp(t, `^bg Exited \(4\) `, l.ok("ps", "-a", "--format", "{{.Names}} {{.Status}}"))
	stdout, _ := l.logs("bg")
	assert.Equal(t, "working\ndone\n", stdout)
	info := l.inspect(id[:12])
	assert.Equal(t, container.StateExited, info.State.Status)
	assert.Equal(t, 4, info.State.ExitCode)
	assert.False(t, info.State.Running)
}

// S24: --name names a container, a name is unique, and without --name a
// readable name is generated.
func TestS24_NamesAreUniqueAndGenerated(t *testing.T) {
	l := newLab(t)
	id := l.create("web", container.Config{Cmd: []string{"true"}}, nil)
	_, err := l.client.ContainerCreate(labCtx(t), client.ContainerCreateOptions{Name: "web", Config: &container.Config{Image: "busybox"}})
	require.True(t, errdefs.IsConflict(err), "%v", err)
	assert.ErrorContains(t, err, `Conflict. The container name "/web" is already in use by container "`+id+`". You have to remove (or rename) that container to be able to reuse that name.`)

	_, err = l.client.ContainerCreate(labCtx(t), client.ContainerCreateOptions{Name: "-bad", Config: &container.Config{Image: "busybox"}})
	assert.True(t, errdefs.IsInvalidArgument(err), "%v", err)

	gen := l.create("", container.Config{Cmd: []string{"true"}}, nil)
	name := l.inspect(gen).Name
	assert.Regexp(t, regexp.MustCompile(`^/[a-z]+_[a-z]+[0-9]*$`), name, "adjective_noun")
	assert.Equal(t, "/web", l.inspect("web").Name)
	assert.Equal(t, id, l.inspect(id[:10]).ID, "an ID prefix names it too")
	assert.Len(t, strings.Fields(l.ok("ps", "-aq")), 2)
}

// Creates racing for one name: exactly one wins, every other is a 409,
// and none is answered 201 without a container (the conflict found by
// the store, for a winner whose record was not readable yet, once fell
// through as a success with an empty ID). Bad input is a 400 at create.
func TestCreatesRacingForOneNameOneWins(t *testing.T) {
	l := newLab(t)
	const n = 50
	type result struct {
		id  string
		err error
	}
	results := make(chan result, n)
	for range n {
		go func() {
			resp, err := l.client.ContainerCreate(labCtx(t), client.ContainerCreateOptions{Name: "contested", Config: &container.Config{Image: "busybox", Cmd: []string{"true"}}})
			results <- result{resp.ID, err}
		}()
	}
	var won []string
	for range n {
		r := <-results
		if r.err != nil {
			assert.True(t, errdefs.IsConflict(r.err), "%v", r.err)
			continue
		}
		require.NotEmpty(t, r.id, "a create answered 201 without a container")
		l.seen[r.id] = true
		won = append(won, r.id)
	}
	require.Len(t, won, 1)
	assert.Equal(t, won[0], l.inspect("contested").ID)

	// (The docker CLI checks the signal itself; other clients may not.)
	_, err := l.client.ContainerCreate(labCtx(t), client.ContainerCreateOptions{Config: &container.Config{Image: "busybox", StopSignal: "SIGBOGUS"}})
	require.True(t, errdefs.IsInvalidArgument(err), "%v", err)
	assert.ErrorContains(t, err, "Invalid signal: SIGBOGUS", "refused at create, not at stop")

	long := strings.Repeat("a", 200)
	_, err = l.client.ContainerCreate(labCtx(t), client.ContainerCreateOptions{Name: long, Config: &container.Config{Image: "busybox"}})
	require.True(t, errdefs.IsInvalidArgument(err), "%v", err)
	assert.NotContains(t, err.Error(), long, "the message does not echo the whole name")
}

// S10: the engine's three parts: the daemon that runs containers, the
// command-line client that drives it over the API, and the images.
func TestS10_DaemonClientAndImages(t *testing.T) {
	l := newLab(t)
	assert.Equal(t, "test\n", l.ok("version", "--format", "{{.Server.Version}}"))
	assert.Equal(t, "busybox:latest\n", l.ok("images", "--format", "{{.Repository}}:{{.Tag}}"))
	assert.Equal(t, "from the daemon\n", l.ok("run", "--rm", "busybox", "echo", "from the daemon"))
	info := l.ok("info", "--format", "{{.Driver}} {{.OSType}} {{.Images}} {{.Containers}} {{.CgroupDriver}}")
	assert.Equal(t, "overlay linux 1 0 cgroupfs\n", info)
	assert.Equal(t, "bridge\nhost\nnone\n", l.ok("network", "ls", "--format", "{{.Name}}"))
}

// A prefix of an ID names a container if no other container's ID starts
// with it; otherwise it is an error, not a guess.
func TestAmbiguousIDPrefixIsAnError(t *testing.T) {
	l := newLab(t)
	byFirst := map[byte][]string{}
	var shared, all []string
	// 17 IDs of 16 possible first digits: two (or more) share one.
	for range 17 {
		id := l.create("", container.Config{Cmd: []string{"true"}}, nil)
		all = append(all, id)
		byFirst[id[0]] = append(byFirst[id[0]], id)
		if len(byFirst[id[0]]) == 2 {
			shared = byFirst[id[0]]
		}
	}
	require.NotNil(t, shared)
	prefix := shared[0][:1]
	_, err := l.client.ContainerInspect(labCtx(t), prefix, client.ContainerInspectOptions{})
	assert.True(t, errdefs.IsInvalidArgument(err), "%v", err)
	assert.ErrorContains(t, err, "multiple IDs found with provided prefix: "+prefix)
	// The shortest prefix of shared[0] that no other ID has: a third ID
	// may share more than the first digit with it.
	n := 1
	for slices.ContainsFunc(all, func(id string) bool { return id != shared[0] && strings.HasPrefix(id, shared[0][:n]) }) {
		n++
	}
	assert.Equal(t, shared[0], l.inspect(shared[0][:n]).ID, "a longer prefix that only one has")
}

// Debian's docker client (20.10) speaks the API version berth
// advertises natively: run, logs, ps work with it too.
func TestS22_WithTheOlderDockerClient(t *testing.T) {
	l := newLab(t)
	const old = "/usr/bin/docker"
	out, errOut, code := l.dockerWith(old, strings.NewReader(""), "run", "--rm", "busybox", "sh", "-c", "echo hi; exit 2")
	assert.Equal(t, 2, code, errOut)
	assert.Equal(t, "hi\n", out)
	out, errOut, code = l.dockerWith(old, strings.NewReader(""), "run", "-d", "--name", "old-client", "busybox", "sh", "-c", "echo from 20.10")
	require.Equal(t, 0, code, errOut)
	id := strings.TrimSpace(out)
	assert.Equal(t, "0\n", l.ok("wait", id))
	out, _, _ = l.dockerWith(old, strings.NewReader(""), "logs", "old-client")
	assert.Equal(t, "from 20.10\n", out)
}
