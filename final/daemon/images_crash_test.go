package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/04-cow-layers/layer"
	"github.com/berth-project/berth/06-images/image"
	"github.com/berth-project/berth/final/api"
)

// kill -9 of berthd in the middle of a load, a commit or a build: the
// test binary re-executes itself as a worker daemon (TestMain) that does
// one of them on a data root, and the test kills it with SIGKILL at a
// chosen moment: when the work has reached a given stage on disk. Then:
//
//   - at once, before any cleanup, the store is consistent: every image's
//     config and layers are there, every blob has the digest it is named
//     by, nothing half-written is visible;
//   - a new daemon on the same root (its start cleans up) leaves no
//     temporary file, no layer or blob that nothing uses, no build
//     container, no stale lease;
//   - the same work, done again without a kill, succeeds.

const (
	crashWorkerEnv = "BERTH_IMAGES_CRASH_WORKER" // load, commit or build
	crashRootEnv   = "BERTH_IMAGES_CRASH_ROOT"
	crashInputEnv  = "BERTH_IMAGES_CRASH_INPUT"
)

// crashWorker runs in the re-executed test binary: a daemon that does one
// thing, as berthd would for a client, and exits.
func crashWorker(mode string) int {
	root, input := os.Getenv(crashRootEnv), os.Getenv(crashInputEnv)
	d, err := New(Options{DataRoot: root, ExecRoot: filepath.Join(root, "exec"), Version: "crash-worker"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 1
	}
	ctx := context.Background()
	switch mode {
	case "load", "build":
		f, ferr := os.Open(input)
		if ferr != nil {
			fmt.Fprintln(os.Stderr, "worker:", ferr)
			return 1
		}
		defer f.Close()
		if mode == "load" {
			err = d.ImageLoad(ctx, f, true, discardStream{})
		} else {
			err = d.ImageBuild(ctx, f, api.BuildOptions{Tags: []string{"built:1"}}, discardStream{})
		}
	case "commit":
		_, err = d.ContainerCommit(ctx, api.CommitOptions{Container: input, Repo: "committed", Tag: "1"})
	default:
		err = fmt.Errorf("unknown mode %q", mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 1
	}
	return 0
}

type discardStream struct{}

func (discardStream) Write(api.JSONMessage) error { return nil }

// stage is a moment of the work, seen on disk: the worker is killed as
// soon as reached says so.
type stage struct {
	name    string
	reached func() bool
}

// crashRun starts a worker and kills it at the stage; it reports whether
// the kill came before the worker finished by itself.
func crashRun(t *testing.T, mode, root, input string, at *stage) bool {
	t.Helper()
	cmd := exec.Command("/proc/self/exe", "-test.run=^$")
	cmd.Env = append(os.Environ(), crashWorkerEnv+"="+mode, crashRootEnv+"="+root, crashInputEnv+"="+input)
	log, err := os.Create(filepath.Join(t.TempDir(), "worker.log"))
	require.NoError(t, err)
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if at == nil {
		select {
		case err := <-exited:
			out, _ := os.ReadFile(log.Name())
			require.NoError(t, err, "the worker failed: %s", out)
		case <-time.After(2 * time.Minute):
			_ = cmd.Process.Kill()
			t.Fatal("the worker did not finish")
		}
		return false
	}
	deadline := time.Now().Add(time.Minute)
	for {
		select {
		case err := <-exited:
			out, _ := os.ReadFile(log.Name())
			require.NoError(t, err, "the worker failed: %s", out)
			t.Logf("%s: the worker finished before the stage %q was seen", mode, at.name)
			return false
		default:
		}
		if at.reached() {
			require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
			<-exited
			return true
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			t.Fatalf("%s: stage %q never reached", mode, at.name)
		}
		time.Sleep(500 * time.Microsecond)
	}
}

func entries(dir string) []string {
	list, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range list {
		names = append(names, e.Name())
	}
	return names
}

func has(dir, prefix string) bool {
	for _, n := range entries(dir) {
		if strings.HasPrefix(n, prefix) {
			return true
		}
	}
	return false
}

// checkVisible checks what a reader of the store sees, before anything
// cleaned up: complete images, blobs that match their names.
func checkVisible(t *testing.T, root string) {
	t.Helper()
	s, err := image.Open(image.StoreDir(root))
	require.NoError(t, err)
	images, err := s.Images()
	require.NoError(t, err, "the store can be listed")
	for _, img := range images {
		raw, err := s.RawConfig(img.ID)
		require.NoError(t, err)
		assert.Equal(t, img.ID, image.FromBytes(raw), "the config hashes to the image's ID")
		layers, err := s.Layers(img.ID)
		require.NoError(t, err, "image %s refers to a missing layer", img.ID.Short())
		for _, l := range layers {
			assert.FileExists(t, filepath.Join(s.Dir(), "blobs", "sha256", l.DiffID.Hex()))
		}
	}
	blobs := filepath.Join(s.Dir(), "blobs", "sha256")
	for _, name := range entries(blobs) {
		f, err := os.Open(filepath.Join(blobs, name))
		require.NoError(t, err)
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		require.NoError(t, err)
		assert.Equal(t, name, hex.EncodeToString(h.Sum(nil)), "blob %s is whole", name)
	}
	for _, name := range entries(filepath.Join(s.Dir(), "layers")) {
		var info map[string]any
		data, err := os.ReadFile(filepath.Join(s.Dir(), "layers", name, "layer.json"))
		require.NoError(t, err, "layer %s is complete", name)
		require.NoError(t, json.Unmarshal(data, &info))
		assert.DirExists(t, filepath.Join(s.Dir(), "layers", name, "diff"))
	}
	data, err := os.ReadFile(filepath.Join(s.Dir(), "repositories.json"))
	if err == nil {
		var tags map[string]string
		require.NoError(t, json.Unmarshal(data, &tags), "the tags file is whole")
		for tag, id := range tags {
			_, err := s.Get(id)
			assert.NoError(t, err, "tag %s names an image that exists", tag)
		}
	}
}

// checkClean checks, after a daemon started on the root, that nothing of
// the interrupted work is left: keep lists the container IDs that
// legitimately exist.
func checkClean(t *testing.T, root string, keep ...string) {
	t.Helper()
	store := image.StoreDir(root)
	assert.Empty(t, entries(filepath.Join(store, "tmp")), "the store's tmp/ is empty")
	assert.Empty(t, entries(filepath.Join(root, "builder", "tmp")), "no build scratch is left")
	assert.Empty(t, entries(filepath.Join(root, "builder", "running")), "no build container is recorded")
	ids, err := layer.List(root)
	require.NoError(t, err)
	assert.ElementsMatch(t, keep, ids, "no build container is left")
	var leases []string
	for _, n := range entries(filepath.Join(store, "leases")) {
		leases = append(leases, strings.TrimSuffix(n, ".json"))
	}
	assert.ElementsMatch(t, keep, leases, "only the containers' own leases are left")

	s, err := image.Open(store)
	require.NoError(t, err)
	images, err := s.Images()
	require.NoError(t, err)
	usedLayers, usedBlobs := map[string]bool{}, map[string]bool{}
	for _, img := range images {
		usedBlobs[img.ID.Hex()] = true
		for i, chain := range image.ChainIDs(img.Config.RootFS.DiffIDs) {
			usedLayers[chain.Hex()] = true
			usedBlobs[img.Config.RootFS.DiffIDs[i].Hex()] = true
		}
	}
	for _, id := range keep {
		l, err := s.Lease(id)
		require.NoError(t, err)
		for _, c := range l.Chain {
			usedLayers[c.Hex()] = true
		}
	}
	for _, n := range entries(filepath.Join(store, "layers")) {
		assert.True(t, usedLayers[n], "layer %s is used by an image or a container", n[:12])
	}
	for _, n := range entries(filepath.Join(store, "blobs", "sha256")) {
		assert.True(t, usedBlobs[n], "blob %s is used", n[:12])
	}
}

// crashAndRecover kills the worker at each stage, checks, restarts a
// daemon, checks again; then lets the work finish.
func crashAndRecover(t *testing.T, mode, root, input string, stages []stage, keep ...string) {
	t.Helper()
	interrupted := 0
	for i := range stages {
		if crashRun(t, mode, root, input, &stages[i]) {
			interrupted++
			t.Logf("%s: killed at %q", mode, stages[i].name)
		}
		checkVisible(t, root)
		d, err := New(Options{DataRoot: root, ExecRoot: t.TempDir()})
		require.NoError(t, err, "a daemon starts after the crash")
		checkClean(t, root, keep...)
		require.NoError(t, d.Close()) // the next worker is the data root's daemon
	}
	assert.GreaterOrEqual(t, interrupted, len(stages)-1, "the kills came in the middle of the work")
	crashRun(t, mode, root, input, nil)
	checkVisible(t, root)
	checkClean(t, root, keep...)
}

func countIn(dir string) int { return len(entries(dir)) }

func TestCrashDuringLoadLeavesTheStoreConsistent(t *testing.T) {
	src := newImageEnv(t)
	src.importBusybox()
	// Three big layers (random bytes: nothing is cheap), so that each
	// stage lasts long enough to be caught.
	src.makeContainer("c1", "busybox", "dd", "if=/dev/urandom", "of=/one", "bs=1M", "count=24")
	_, err := src.d.ContainerCommit(ctxFor(t), api.CommitOptions{Container: "c1", Repo: "big", Tag: "1"})
	require.NoError(t, err)
	src.makeContainer("c2", "big:1", "dd", "if=/dev/urandom", "of=/two", "bs=1M", "count=24")
	_, err = src.d.ContainerCommit(ctxFor(t), api.CommitOptions{Container: "c2", Repo: "big", Tag: "2"})
	require.NoError(t, err)
	archive := filepath.Join(t.TempDir(), "big.tar")
	f, err := os.Create(archive)
	require.NoError(t, err)
	require.NoError(t, src.d.ImageSave(ctxFor(t), []string{"big:2"}, f))
	require.NoError(t, f.Close())

	root := t.TempDir()
	d, err := New(Options{DataRoot: root, ExecRoot: t.TempDir()})
	require.NoError(t, err)
	require.NoError(t, d.Close())
	layers := filepath.Join(root, "images", "layers")
	tmp := filepath.Join(root, "images", "tmp")
	crashAndRecover(t, "load", root, archive, []stage{
		{"unpacking the archive", func() bool { return has(tmp, "load-") }},
		{"unpacking the first layer", func() bool { return has(tmp, "layer-") }},
		{"one layer in the store, no image yet", func() bool { return countIn(layers) >= 1 }},
		{"two layers in the store", func() bool { return countIn(layers) >= 2 }},
	})
	s, err := image.Open(image.StoreDir(root))
	require.NoError(t, err)
	img, err := s.Get("big:2")
	require.NoError(t, err, "the load done again succeeded")
	assert.Len(t, img.Config.RootFS.DiffIDs, 3)
}

func TestCrashDuringCommitLeavesTheStoreConsistent(t *testing.T) {
	e := newImageEnv(t)
	e.importBusybox()
	id := e.makeContainer("big", "busybox", "dd", "if=/dev/urandom", "of=/big", "bs=1M", "count=64")
	tmp := filepath.Join(e.root, "images", "tmp")
	blobBig := func() bool {
		for _, n := range entries(tmp) {
			if strings.HasPrefix(n, "blob-") {
				if fi, err := os.Stat(filepath.Join(tmp, n)); err == nil && fi.Size() > 16<<20 {
					return true
				}
			}
		}
		return false
	}
	reopen := e.handOver()
	crashAndRecover(t, "commit", e.root, "big", []stage{
		{"the layer is being written", func() bool { return has(tmp, "layer-") }},
		{"16 MB of the layer's tar written", blobBig},
		{"the layer in the store, no image yet", func() bool { return countIn(filepath.Join(e.root, "images", "layers")) >= 2 }},
	}, id)
	e = reopen()
	assert.Equal(t, int64(64<<20), fileSizeIn(t, e, "committed:1", "/big"))
}

func fileSizeIn(t *testing.T, e *imageEnv, ref, path string) int64 {
	t.Helper()
	out := e.runImage(ref, "stat", "-c", "%s", path)
	var n int64
	_, err := fmt.Sscan(out, &n)
	require.NoError(t, err, out)
	return n
}

func TestCrashDuringBuildLeavesTheStoreConsistent(t *testing.T) {
	e := newImageEnv(t)
	e.importBusybox()
	big := make([]byte, 32<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	ctxFile := filepath.Join(t.TempDir(), "context.tar")
	require.NoError(t, os.WriteFile(ctxFile, contextTar(t, map[string]string{
		"Dockerfile": "FROM busybox\nRUN dd if=/dev/urandom of=/one bs=1M count=24\nENV STEP=2\nCOPY big.bin /big.bin\nRUN sleep 0.2 && echo done > /done\nCMD [\"cat\", \"/done\"]\n",
		"big.bin":    string(big),
	}).Bytes(), 0o644))
	running := filepath.Join(e.root, "builder", "running")
	meta := filepath.Join(e.root, "images", "meta")
	// The RUN containers seen while the worker ran: after the restart,
	// nothing of them may be left, their cgroups included.
	seen := map[string]bool{}
	watch := func(reached func() bool) func() bool {
		return func() bool {
			for _, id := range entries(running) {
				seen[id] = true
			}
			return reached()
		}
	}
	reopen := e.handOver()
	crashAndRecover(t, "build", e.root, ctxFile, []stage{
		{"the context is being unpacked", watch(func() bool { return has(filepath.Join(e.root, "builder", "tmp"), "build-") })},
		{"the first RUN's container runs, in its cgroup", watch(func() bool {
			for id := range seen {
				if _, err := loadCgroup(e.root, id); err == nil {
					return true
				}
			}
			return false
		})},
		{"the first RUN is being committed", watch(func() bool { return has(filepath.Join(e.root, "images", "tmp"), "layer-") })},
		{"the second RUN's container runs", watch(func() bool { return countIn(running) > 0 && countIn(meta) >= 4 })},
	})
	e = reopen()
	assert.Equal(t, "done\n", e.runImage("built:1"))
	require.NotEmpty(t, seen)
	for id := range seen {
		_, err := loadCgroup(e.root, id)
		assert.ErrorIs(t, err, fs.ErrNotExist, "the cgroup of build container %s is gone", id[:12])
	}
}
