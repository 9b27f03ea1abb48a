package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/06-images/image"
	"github.com/berth-project/berth/06-images/registry/registrytest"
)

// childEnv, set, makes the test binary run the chapter's program with
// the arguments it holds (separated by \x1f) instead of the tests: a pull
// in a process of its own, for a test to kill.
const childEnv = "BERTH_06_IMAGES_CHILD"

func runChildIfAsked() {
	args := os.Getenv(childEnv)
	if args == "" {
		return
	}
	os.Exit(program.Run(strings.Split(args, "\x1f"), namespace.Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}))
}

// The chapter's commands against the real registry, with TLS and a
// password: login (kept in docker's config file), push, pull into an
// empty store, run, images --digests, a re-pull, logout.
func TestRegistryCommandsAgainstARealRegistry(t *testing.T) {
	l := newLab(t)
	r := registrytest.Start(t, registrytest.Options{TLS: true, Auth: registrytest.AuthBasic})
	cfgDir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", cfgDir)
	ref := r.Ref("team/app:v1")

	_, errOut, status := l.run(strings.NewReader("wrong\n"), "login", "-u", r.Username(), "--password-stdin", r.Host())
	assert.Equal(t, 125, status)
	assert.Contains(t, errOut, "failed with status: 401 Unauthorized")
	_, errOut, status = l.run(strings.NewReader(r.Password()+"\n"), "login", "-u", r.Username(), "--password-stdin", r.Host())
	require.Equal(t, 0, status, errOut)
	var cf struct {
		Auths map[string]struct{ Auth string } `json:"auths"`
	}
	data, err := os.ReadFile(filepath.Join(cfgDir, "config.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &cf))
	assert.Equal(t, base64.StdEncoding.EncodeToString([]byte(r.Username()+":"+r.Password())), cf.Auths[r.Host()].Auth)

	l.importBusybox(ref)
	out := l.ok("push", ref)
	assert.Contains(t, out, "The push refers to repository ["+r.Ref("team/app")+"]\n")
	assert.Contains(t, out, ": Pushed\n")
	require.Regexp(t, `v1: digest: sha256:[0-9a-f]{64} size: \d+\n`, out)
	digest := idRE.FindString(out[strings.Index(out, "v1: digest:"):])

	// A fresh state root: the pull brings everything.
	l2 := &lab{t: t, root: t.TempDir()}
	out = l2.ok("pull", ref)
	assert.Contains(t, out, "v1: Pulling from team/app\n")
	assert.Contains(t, out, ": Pull complete\n")
	assert.Contains(t, out, "Digest: "+digest+"\n")
	assert.True(t, strings.HasSuffix(out, "Status: Downloaded newer image for "+ref+"\n"+ref+"\n"), out)
	assert.Equal(t, "from the registry\n", l2.image(ref, "echo", "from the registry"))
	out = l2.ok("images", "--digests")
	assert.Regexp(t, `REPOSITORY +TAG +DIGEST +IMAGE ID`, out)
	assert.Regexp(t, regexpQuote(r.Ref("team/app"))+` +v1 +`+digest, out)
	out = l2.ok("pull", ref)
	assert.Contains(t, out, "Status: Image is up to date for "+ref+"\n")
	out = l2.ok("pull", r.Ref("team/app@"+digest))
	assert.Contains(t, out, "Status: Image is up to date for "+r.Ref("team/app@"+digest)+"\n")

	out = l.ok("logout", r.Host())
	assert.Equal(t, "Removing login credentials for "+r.Host()+"\n", out)
	l3 := &lab{t: t, root: t.TempDir()}
	_, errOut, status = l3.run(nil, "pull", ref)
	assert.Equal(t, 125, status)
	assert.Contains(t, errOut, "pull access denied for "+r.Ref("team/app")+", repository does not exist or may require 'docker login'")
}

func regexpQuote(s string) string {
	return strings.NewReplacer(".", `\.`, "[", `\[`, "]", `\]`).Replace(s)
}

// A pull killed in the middle of a layer (SIGKILL: no cleanup of its
// own) leaves no image; the next pull completes, and what the killed one
// left is garbage that Recover collects.
func TestPullKilledMidLayerThenPulledAgain(t *testing.T) {
	l := newLab(t)
	inner := ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0)))
	var mu sync.Mutex
	var stall func(w http.ResponseWriter, r *http.Request) bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		s := stall
		mu.Unlock()
		if s != nil && s(w, r) {
			return
		}
		inner.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	img := registrytest.NewImage(t, registrytest.ImageOptions{Busybox: true, Layers: []int64{4 << 20}, Seed: 11})
	ref := host + "/app:v1"
	tag, err := name.ParseReference(ref)
	require.NoError(t, err)
	require.NoError(t, remote.Write(tag, img))
	layers, err := img.Layers()
	require.NoError(t, err)
	big, err := layers[1].Digest()
	require.NoError(t, err)

	// The big layer's download sends half its bytes, then stops until
	// the test is done with the child.
	release := make(chan struct{})
	halfSent := make(chan struct{}, 1)
	mu.Lock()
	stall = func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/blobs/"+big.String()) {
			return false
		}
		rc, err := layers[1].Compressed()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return true
		}
		defer rc.Close()
		size, _ := layers[1].Size()
		w.Header().Set("Content-Length", itoa(size))
		_, _ = io.CopyN(w, rc, size/2)
		w.(http.Flusher).Flush()
		halfSent <- struct{}{}
		<-release
		return true
	}
	mu.Unlock()

	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), childEnv+"="+strings.Join([]string{"pull", "--root", l.root, ref}, "\x1f"))
	var childOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &childOut, &childOut
	require.NoError(t, cmd.Start())
	select {
	case <-halfSent:
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("the child never reached the big layer: %s", childOut.String())
	}
	// Half the layer is in: unpacked as it came, into tmp/.
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	close(release)
	mu.Lock()
	stall = nil
	mu.Unlock()

	s, err := image.Open(image.StoreDir(l.root))
	require.NoError(t, err)
	imgs, err := s.Images()
	require.NoError(t, err)
	assert.Empty(t, imgs, "no half image")
	tmp, err := os.ReadDir(filepath.Join(s.Dir(), "tmp"))
	require.NoError(t, err)
	assert.NotEmpty(t, tmp, "the killed pull left its work in tmp/")

	out := l.ok("pull", ref)
	assert.Contains(t, out, "Status: Downloaded newer image for "+ref)
	assert.Equal(t, "whole again\n", l.image(ref, "echo", "whole again"))
	require.NoError(t, s.Recover())
	tmp, err = os.ReadDir(filepath.Join(s.Dir(), "tmp"))
	require.NoError(t, err)
	assert.Empty(t, tmp)
	layerDirs, err := os.ReadDir(filepath.Join(s.Dir(), "layers"))
	require.NoError(t, err)
	assert.Len(t, layerDirs, 2, "the image's two layers, nothing else")
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// The chapter and a real dockerd 20.10 meet at a real registry, both
// ways: an image dockerd pushed pulls and runs here with dockerd's image
// ID and RepoDigest; an image pushed from here pulls and runs in
// dockerd, and dockerd's RepoDigest is the digest the push printed.
func TestInteropWithDockerdThroughARegistry(t *testing.T) {
	l := newLab(t)
	d := labtest.StartDockerd(t)
	r := registrytest.Start(t, registrytest.Options{})
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	inspect := func(ref, format string) string {
		out, err := d.Run("inspect", "--format", format, ref)
		require.NoError(t, err)
		return strings.TrimSpace(out)
	}

	// dockerd pushes, the chapter pulls.
	fromDocker := r.Ref("docker/busybox:1")
	_, err := d.Run("import", "-c", `CMD ["/bin/sh"]`, labtest.BusyboxRootfs(t)+".tar", fromDocker)
	require.NoError(t, err)
	_, err = d.Run("push", fromDocker)
	require.NoError(t, err)
	// dockerd records the RepoDigest of a pushed image as of its next
	// pull; pull it back to see what it shows.
	_, err = d.Run("rmi", fromDocker)
	require.NoError(t, err)
	_, err = d.Run("pull", fromDocker)
	require.NoError(t, err)
	dockerID := inspect(fromDocker, "{{.Id}}")
	dockerDigests := inspect(fromDocker, "{{json .RepoDigests}}")
	l.ok("pull", fromDocker)
	s, err := image.Open(image.StoreDir(l.root))
	require.NoError(t, err)
	img, err := s.Get(fromDocker)
	require.NoError(t, err)
	assert.Equal(t, dockerID, string(img.ID))
	digests, err := json.Marshal(img.RepoDigests)
	require.NoError(t, err)
	assert.Equal(t, dockerDigests, string(digests))
	assert.Equal(t, "pulled from dockerd's push\n", l.image(fromDocker, "echo", "pulled from dockerd's push"))

	// The chapter pushes, dockerd pulls.
	fromBerth := r.Ref("berth/app:1")
	id := l.importBusybox(fromBerth)
	out := l.ok("push", fromBerth)
	digest := idRE.FindString(out[strings.Index(out, "1: digest:"):])
	_, err = d.Run("pull", fromBerth)
	require.NoError(t, err)
	assert.Equal(t, id, inspect(fromBerth, "{{.Id}}"))
	assert.Equal(t, `["`+r.Ref("berth/app@"+digest)+`"]`, inspect(fromBerth, "{{json .RepoDigests}}"))
	out, err = d.Run("run", "--rm", "--network=none", fromBerth, "echo", "pushed by berth")
	require.NoError(t, err)
	assert.Equal(t, "pushed by berth", strings.TrimSpace(out))
	img, err = s.Get(fromBerth)
	require.NoError(t, err)
	assert.Equal(t, []string{r.Ref("berth/app@" + digest)}, img.RepoDigests)
}
