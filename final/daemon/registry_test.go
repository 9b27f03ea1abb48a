package daemon

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/06-images/registry/registrytest"
	"github.com/berth-project/berth/final/api/apitest"
)

// The registry tests: the real docker CLI 28 against berthd, berthd
// against a real registry (Debian's docker-registry, registrytest), and
// where Docker's behaviour is the reference, the same steps against a
// private dockerd.

// dockerSession is the docker CLI with one config directory for all
// its commands, so that a login is remembered, as a user's is.
type dockerSession struct {
	t      *testing.T
	host   string
	config string
}

func newDockerSession(t *testing.T, host string) *dockerSession {
	_, err := os.Stat(dockerBin)
	labtest.Need(t, err == nil, dockerBin+" (a docker client) is not installed")
	return &dockerSession{t: t, host: host, config: t.TempDir()}
}

func (s *dockerSession) run(stdin string, args ...string) (string, string, int) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, dockerBin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DOCKER_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "DOCKER_HOST="+s.host, "DOCKER_CONFIG="+s.config, "DOCKER_BUILDKIT=0")
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
	case err != nil:
		s.t.Fatalf("docker %s: %v", strings.Join(args, " "), err)
	}
	require.NoError(s.t, ctx.Err(), "docker %s timed out; stderr: %s", strings.Join(args, " "), errOut.String())
	return out.String(), errOut.String(), code
}

func (s *dockerSession) ok(args ...string) string {
	s.t.Helper()
	out, errOut, code := s.run("", args...)
	require.Equal(s.t, 0, code, "docker %s: %s", strings.Join(args, " "), errOut)
	return out
}

// registryLab is a lab whose daemon trusts r's CA.
func registryLab(t *testing.T, r *registrytest.Registry, insecure ...string) *lab {
	l := prepareLab(t)
	if r != nil && r.CertsDir() != "" {
		l.opts.CertsDirs = []string{r.CertsDir()}
	}
	l.opts.InsecureRegistries = insecure
	l.start()
	return l
}

func TestDockerCLIThroughBerthdToARegistryWithTLSAndPasswords(t *testing.T) {
	r := registrytest.Start(t, registrytest.Options{TLS: true, Auth: registrytest.AuthBasic})
	img := registrytest.NewImage(t, registrytest.ImageOptions{Busybox: true, Layers: []int64{1 << 20}, Seed: 14, Cmd: []string{"echo", "from the registry"}})
	dg := r.Push(t, "team/hello:1", img)
	l := registryLab(t, r)
	d := newDockerSession(t, apitest.Host(l.sock))
	ref := r.Ref("team/hello:1")

	// run of an image only in the registry, not logged in: the create's
	// 404 makes the CLI pull, and the registry wants a password.
	_, errOut, code := d.run("", "run", "--rm", ref)
	assert.Equal(t, 125, code)
	assert.Contains(t, errOut, "Unable to find image '"+ref+"' locally")
	assert.Contains(t, errOut, "unauthorized")

	_, errOut, code = d.run("wrong\n", "login", "-u", r.Username(), "--password-stdin", r.Host())
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "Error response from daemon: ")
	assert.Contains(t, errOut, "401 Unauthorized")
	out, errOut, code := d.run(r.Password()+"\n", "login", "-u", r.Username(), "--password-stdin", r.Host())
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "Login Succeeded")

	out, errOut, code = d.run("", "run", "--rm", ref)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "from the registry\n", out)
	assert.Contains(t, errOut, "Unable to find image '"+ref+"' locally")
	assert.Contains(t, errOut, "Pull complete")
	assert.Contains(t, errOut, "Digest: "+dg)
	assert.Contains(t, errOut, "Status: Downloaded newer image for "+ref)

	// The digest the registry gave is the image's name by content.
	assert.Equal(t, "["+r.Ref("team/hello")+"@"+dg+"]\n", d.ok("image", "inspect", "--format", "{{.RepoDigests}}", ref))
	assert.Equal(t, r.Ref("team/hello")+" 1 "+dg+"\n", d.ok("images", "--digests", "--format", "{{.Repository}} {{.Tag}} {{.Digest}}", r.Ref("team/hello")))
	assert.Equal(t, "from the registry\n", d.ok("run", "--rm", r.Ref("team/hello")+"@"+dg), "run by digest: in the store already")

	// A pull of what is there fetches no layer.
	out = d.ok("pull", ref)
	assert.Contains(t, out, "Status: Image is up to date for "+ref)
	assert.True(t, strings.HasSuffix(out, "\n"+ref+"\n"), "the CLI's last line is the full name: %q", out)

	// push under another name; rmi; pull back: same image.
	id := strings.TrimSpace(d.ok("image", "inspect", "--format", "{{.ID}}", ref))
	mine := r.Ref("team/mine:v1")
	d.ok("tag", ref, mine)
	out = d.ok("push", mine)
	assert.Contains(t, out, "The push refers to repository ["+r.Ref("team/mine")+"]")
	pushed := regexp.MustCompile(`v1: digest: (sha256:[0-9a-f]{64}) size: \d+`).FindStringSubmatch(out)
	require.NotNil(t, pushed, out)
	d.ok("rmi", mine, ref)
	d.ok("pull", mine)
	assert.Equal(t, id+"\n", d.ok("image", "inspect", "--format", "{{.ID}}", mine), "the round trip keeps the image ID")
	assert.Contains(t, d.ok("image", "inspect", "--format", "{{.RepoDigests}}", mine), r.Ref("team/mine")+"@"+pushed[1])

	// docker manifest inspect's cousin: the distribution endpoint.
	res, err := l.client.DistributionInspect(labCtx(t), mine, client.DistributionInspectOptions{EncodedRegistryAuth: basicAuthHeader(t, r)})
	require.NoError(t, err)
	assert.Equal(t, pushed[1], res.Descriptor.Digest.String())

	// A build whose FROM is only in the registry pulls it, with the
	// credentials the CLI sends for builds (X-Registry-Config).
	ctxDir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte("FROM "+r.Ref("team/hello:1")+"\nRUN echo built > /built\n"), 0o644))
	d.ok("rmi", mine)
	out = d.ok("build", "-t", "built:1", ctxDir)
	assert.Contains(t, out, "Step 1/2 : FROM "+ref)
	assert.Contains(t, out, "Pulling from team/hello")
	assert.Contains(t, out, "Status: Downloaded newer image for "+ref)
	assert.Equal(t, "built\n", d.ok("run", "--rm", "built:1", "cat", "/built"))

	assert.Contains(t, d.ok("logout", r.Host()), "Removing login credentials for "+r.Host())
	_, errOut, code = d.run("", "pull", r.Ref("team/hello:2"))
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "pull access denied for "+r.Ref("team/hello"), "logged out: dockerd's words")
}

// basicAuthHeader is the X-Registry-Auth of r's account.
func basicAuthHeader(t *testing.T, r *registrytest.Registry) string {
	return encodeAuthForTest(t, `{"username":"`+r.Username()+`","password":"`+r.Password()+`","serveraddress":"`+r.Host()+`"}`)
}

// heldRegistry is a proxy in front of a plain registry that holds every
// blob download until release is closed, and tells when the first one
// arrives: a pull is then in the middle for as long as the test wants.
type heldRegistry struct {
	host    string
	arrived chan struct{}
	release chan struct{}
}

func holdBlobs(t *testing.T, r *registrytest.Registry) *heldRegistry {
	target, err := url.Parse(r.URL())
	require.NoError(t, err)
	h := &heldRegistry{arrived: make(chan struct{}), release: make(chan struct{})}
	var once sync.Once
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if strings.Contains(req.URL.Path, "/blobs/") && req.Method == http.MethodGet {
			once.Do(func() { close(h.arrived) })
			select {
			case <-h.release:
			case <-req.Context().Done():
				return
			}
		}
		proxy.ServeHTTP(w, req)
	})}
	ln := listenLoopback(t)
	h.host = ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		select {
		case <-h.release:
		default:
			close(h.release)
		}
		_ = srv.Close()
	})
	return h
}

func TestAPullHoldsNoLockOverTheDaemon(t *testing.T) {
	r := registrytest.Start(t, registrytest.Options{})
	img := registrytest.NewImage(t, registrytest.ImageOptions{Busybox: true, Layers: []int64{1 << 20}, Seed: 15})
	r.Push(t, "slow:1", img)
	held := holdBlobs(t, r)
	l := registryLab(t, nil, held.host)
	d := newDockerSession(t, apitest.Host(l.sock))

	ref := held.host + "/slow:1"
	pulled := make(chan error, 1)
	go func() {
		resp, err := l.client.ImagePull(context.Background(), ref, client.ImagePullOptions{})
		if err == nil {
			err = resp.Wait(context.Background())
		}
		pulled <- err
	}()
	select {
	case <-held.arrived:
	case err := <-pulled:
		t.Fatalf("the pull ended before its first blob: %v", err)
	}
	// The pull is waiting for a blob: everything else goes on.
	assert.Equal(t, "\n", d.ok("ps", "-q")+"\n")
	assert.Contains(t, d.ok("images", "--format", "{{.Repository}}"), "busybox")
	assert.Equal(t, "meanwhile\n", d.ok("run", "--rm", "busybox", "echo", "meanwhile"))
	assert.Contains(t, d.ok("info", "--format", "{{json .RegistryConfig.IndexConfigs}}"), held.host)
	close(held.release)
	require.NoError(t, <-pulled)
	assert.Equal(t, "hi\n", d.ok("run", "--rm", ref, "echo", "hi"))
}

// The same steps on dockerd and on berthd, through the same CLI: what
// the user reads should not tell them apart.
func TestPullLoginAndInfoAsDockerdShowThem(t *testing.T) {
	r := registrytest.Start(t, registrytest.Options{TLS: true, Auth: registrytest.AuthBasic})
	// No busybox layer: the lab's store has busybox, dockerd's nothing.
	img := registrytest.NewImage(t, registrytest.ImageOptions{Layers: []int64{1 << 20, 2 << 20}, Seed: 16})
	dg := r.Push(t, "cmp/app:1", img)
	r.InstallCA(t, "/etc/docker/certs.d")
	dockerd := labtest.StartDockerd(t, "--insecure-registry", "10.99.0.0/16", "--insecure-registry", "registry.invalid:5000")
	l := registryLab(t, r, "10.99.0.0/16", "registry.invalid:5000")
	berth := newDockerSession(t, apitest.Host(l.sock))
	docker := newDockerSession(t, dockerd.Host())
	ref := r.Ref("cmp/app:1")

	// A wrong password: the registry's refusal, as the CLI shows it.
	_, berthErr, code := berth.run("nope\n", "login", "-u", r.Username(), "--password-stdin", r.Host())
	assert.Equal(t, 1, code)
	_, dockerErr, code := docker.run("nope\n", "login", "-u", r.Username(), "--password-stdin", r.Host())
	assert.Equal(t, 1, code)
	assert.Equal(t, dockerErr, berthErr)

	for _, s := range []*dockerSession{berth, docker} {
		s.run(r.Password()+"\n", "login", "-u", r.Username(), "--password-stdin", r.Host())
	}
	var berthCode, dockerCode int
	since := time.Now()
	// The pull's lines, in the order of each layer (layers move at the
	// same time, so their lines interleave differently from run to run).
	berthOut, dockerOut := pullLines(berth.ok("pull", ref)), pullLines(docker.ok("pull", ref))
	assert.Equal(t, dockerOut, berthOut)
	assert.Equal(t, docker.ok("image", "inspect", "--format", "{{.RepoDigests}}", ref), berth.ok("image", "inspect", "--format", "{{.RepoDigests}}", ref))
	assert.Contains(t, berth.ok("image", "inspect", "--format", "{{.RepoDigests}}", ref), dg)
	assert.Equal(t, docker.ok("pull", ref), berth.ok("pull", ref), "a pull of what is there")

	// The image events of two pulls, a tag and a push, as dockerd
	// reports them: named by the reference, with the image's labels.
	for _, s := range []*dockerSession{berth, docker} {
		s.ok("tag", ref, r.Ref("cmp/again:1"))
		s.ok("push", r.Ref("cmp/again:1"))
	}
	until := time.Now()
	imageEvents := func(s *dockerSession) string {
		return hexIDs.ReplaceAllString(s.ok("events", "--since", eventTime(since), "--until", eventTime(until),
			"--filter", "type=image", "--format", "{{.Action}} {{.Actor.ID}} {{.Actor.Attributes}}"), "<id>")
	}
	berthEvents := imageEvents(berth)
	assert.Equal(t, imageEvents(docker), berthEvents)
	assert.Contains(t, berthEvents, "pull "+ref)
	assert.Contains(t, berthEvents, "push "+r.Ref("cmp/again:1"))

	// Refusals, word for word: a tag the registry does not have, a push
	// of a name the store does not have.
	for _, args := range [][]string{
		{"pull", r.Ref("cmp/app:nosuch")},
		{"pull", r.Ref("cmp/nosuch:1")},
		{"push", r.Ref("cmp/notlocal:1")},
	} {
		_, berthErr, berthCode := berth.run("", args...)
		_, dockerErr, dockerCode := docker.run("", args...)
		assert.Equal(t, dockerCode, berthCode, "docker %v", args)
		assert.Equal(t, dockerErr, berthErr, "docker %v", args)
	}

	// The create's 404 that makes the CLI pull, in dockerd's words.
	_, berthErr, berthCode = berth.run("", "create", "--pull", "never", "nosuch")
	_, dockerErr, dockerCode = docker.run("", "create", "--pull", "never", "nosuch")
	assert.Equal(t, dockerCode, berthCode)
	assert.Equal(t, dockerErr, berthErr)
	assert.Contains(t, berthErr, "No such image: nosuch:latest")

	// Both ways: berthd pushes busybox and dockerd pulls and runs it;
	// dockerd pushes and berthd pulls the same image ID.
	berth.ok("tag", "busybox", r.Ref("cmp/bb:1"))
	berth.ok("push", r.Ref("cmp/bb:1"))
	docker.ok("pull", r.Ref("cmp/bb:1"))
	assert.Equal(t, "from berth's push\n", docker.ok("run", "--rm", "--network", "none", r.Ref("cmp/bb:1"), "echo", "from berth's push"))
	docker.ok("tag", ref, r.Ref("cmp/fromdockerd:1"))
	docker.ok("push", r.Ref("cmp/fromdockerd:1"))
	berth.ok("pull", r.Ref("cmp/fromdockerd:1"))
	assert.Equal(t, docker.ok("image", "inspect", "--format", "{{.ID}}", ref), berth.ok("image", "inspect", "--format", "{{.ID}}", r.Ref("cmp/fromdockerd:1")))

	// docker info's registry part.
	section := func(info string) string {
		var out []string
		keep := false
		for _, line := range strings.Split(info, "\n") {
			switch {
			case strings.HasPrefix(line, " Insecure Registries:"), strings.HasPrefix(line, " Registry Mirrors:"):
				keep = true
			case keep && !strings.HasPrefix(line, "  "):
				keep = false
			}
			if keep {
				out = append(out, line)
			}
		}
		return strings.Join(out, "\n")
	}
	berthInfo := section(berth.ok("info"))
	assert.Equal(t, section(docker.ok("info")), berthInfo)
	assert.Contains(t, berthInfo, "127.0.0.0/8")
	assert.Contains(t, berthInfo, "registry.invalid:5000")
	assert.Equal(t, docker.ok("info", "--format", "{{json .RegistryConfig}}"), berth.ok("info", "--format", "{{json .RegistryConfig}}"))
	assert.Equal(t, docker.ok("info", "--format", "{{.IndexServerAddress}}"), berth.ok("info", "--format", "{{.IndexServerAddress}}"))
}

// pullLines groups a non-terminal `docker pull`'s lines by their ID, in
// order within each ID, IDs sorted: the lines of layers pulled at once
// interleave in no set order. "Verifying Checksum" and "Download
// complete" are left out: dockerd 20.10 sometimes skips either (a
// transfer keeps only its latest progress for its watchers, so a status
// overtaken by the next before it is read is never shown), berthd always
// says both.
func pullLines(out string) []string {
	byID := map[string][]string{}
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		id, status, ok := strings.Cut(line, ": ")
		if status == "Download complete" || status == "Verifying Checksum" {
			continue
		}
		if !ok || strings.Contains(id, " ") {
			id = ""
		}
		if _, seen := byID[id]; !seen {
			ids = append(ids, id)
		}
		byID[id] = append(byID[id], line)
	}
	sort.Strings(ids)
	var lines []string
	for _, id := range ids {
		lines = append(lines, byID[id]...)
	}
	return lines
}

func encodeAuthForTest(t *testing.T, jsonText string) string {
	t.Helper()
	return base64.URLEncoding.EncodeToString([]byte(jsonText))
}

// listenLoopback listens on a free port of 127.0.0.1.
func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return ln
}

// docker pull's other forms through berthd: --all-tags, by digest, and
// --platform from a multi-platform index.
func TestDockerPullAllTagsDigestAndPlatform(t *testing.T) {
	r := registrytest.Start(t, registrytest.Options{})
	a := registrytest.NewImage(t, registrytest.ImageOptions{Layers: []int64{64 << 10}, Seed: 21})
	b := registrytest.NewImage(t, registrytest.ImageOptions{Layers: []int64{64 << 10}, Seed: 22})
	r.Push(t, "tags:a", a)
	dgB := r.Push(t, "tags:b", b)
	idxDigest := r.PushIndex(t, "multi:1", registrytest.NewIndex(t, registrytest.ImageOptions{Busybox: true, Seed: 23}))
	l := registryLab(t, nil)
	d := newDockerSession(t, apitest.Host(l.sock))

	out := d.ok("pull", "-a", r.Ref("tags"))
	assert.Contains(t, out, "Status: Downloaded newer image for "+r.Ref("tags"))
	listed := d.ok("images", "--format", "{{.Tag}}", r.Ref("tags"))
	assert.ElementsMatch(t, []string{"a", "b"}, strings.Fields(listed), "every tag")

	d.ok("rmi", r.Ref("tags:b"))
	out = d.ok("pull", r.Ref("tags")+"@"+dgB)
	assert.Contains(t, out, "Digest: "+dgB)
	assert.Contains(t, d.ok("images", "--digests", "--format", "{{.Digest}}", r.Ref("tags")), dgB)

	d.ok("pull", "--platform", "linux/arm64", r.Ref("multi:1"))
	assert.Equal(t, "linux arm64\n", d.ok("image", "inspect", "--format", "{{.Os}} {{.Architecture}}", r.Ref("multi:1")))
	assert.Contains(t, d.ok("image", "inspect", "--format", "{{.RepoDigests}}", r.Ref("multi:1")), idxDigest,
		"the index's digest names the image, as in dockerd")
	d.ok("pull", r.Ref("multi:1"))
	assert.Equal(t, "linux amd64\n", d.ok("image", "inspect", "--format", "{{.Os}} {{.Architecture}}", r.Ref("multi:1")), "the host's platform by default")
	assert.Equal(t, "linux/amd64\n", d.ok("run", "--rm", r.Ref("multi:1"), "cat", "/platform"))
}
