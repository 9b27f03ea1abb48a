package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/containerd/errdefs"
	moby "github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/registry"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/04-cow-layers/atomicfile"
	"github.com/berth-project/berth/04-cow-layers/layer"
	"github.com/berth-project/berth/06-images/image"
	"github.com/berth-project/berth/final/api"
	"github.com/berth-project/berth/final/build"
)

// The classic builder behind POST /build (`docker build` with
// DOCKER_BUILDKIT=0, and `berth build`). Package build reads the
// Dockerfile and drives the steps; the daemon gives it the store and a
// way to run a step's command (buildBackend):
//
//	<DataRoot>/builder/
//	  cache/<key>         which image each step made (build.Cache)
//	  tmp/build-*/        one build's context and COPY layers, deleted after it
//	  running/<id>        a RUN container in progress, so that a crash's
//	                      leftovers are found at the next start
//
// A RUN runs in the daemon's own process, in the foreground, with chapter
// 06's runner, as `06-images run --keep --net none IMAGE CMD` would: the
// container's init is this very binary, re-executed (namespace.Start
// runs /proc/self/exe), so whatever binary hosts the daemon must call the
// container init first thing in main, as chapter programs do (layer.Init).
// Builds are offline: the container has only a loopback interface.

func (d *Daemon) builderDir(parts ...string) string {
	return filepath.Join(append([]string{d.opts.DataRoot, "builder"}, parts...)...)
}

// ImageBuild runs a build. The context tar is unpacked first and the
// Dockerfile parsed, so that a missing or malformed Dockerfile is an
// ordinary 400 answer; from the first step on, the report, the commands'
// output and any error go in the JSON stream, as Docker's do.
func (d *Daemon) ImageBuild(ctx context.Context, contextTar io.Reader, opts api.BuildOptions, out api.JSONStream) error {
	d.builds.RLock()
	defer d.builds.RUnlock()
	if err := os.MkdirAll(d.builderDir("tmp"), 0o700); err != nil {
		return err
	}
	scratch, err := os.MkdirTemp(d.builderDir("tmp"), "build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	contextDir := filepath.Join(scratch, "context")
	if err := os.Mkdir(contextDir, 0o755); err != nil {
		return err
	}
	if err := build.ExtractContext(cancelReader{ctx, contextTar}, contextDir); err != nil {
		return giveKind(errdefs.ErrInvalidArgument, err)
	}
	if err := readBodyEnd(contextTar); err != nil {
		return err
	}
	df, err := build.ReadDockerfile(contextDir, opts.Dockerfile)
	if err != nil {
		return giveKind(errdefs.ErrInvalidArgument, err)
	}
	// The .dockerignore of the context is honoured here too: a client
	// other than docker's may send everything. The Dockerfile and
	// .dockerignore themselves are left out only if it names them.
	ignore, err := build.ReadIgnore(contextDir)
	if err != nil {
		return giveKind(errdefs.ErrInvalidArgument, err)
	}
	if err := build.ApplyIgnore(contextDir, ignore); err != nil {
		return err
	}
	cache, err := build.OpenCache(d.builderDir("cache"))
	if err != nil {
		return err
	}
	text := &buildText{out: out}
	_, err = build.Build(ctx, &buildBackend{d: d, out: out, auths: opts.AuthConfigs}, build.Options{
		Dockerfile: df,
		Context:    contextDir,
		Scratch:    filepath.Join(scratch, "layers"),
		BuildArgs:  opts.BuildArgs,
		Tags:       opts.Tags,
		Labels:     opts.Labels,
		NoCache:    opts.NoCache,
		Cache:      cache,
		Out:        text,
		Built: func(id image.Digest) {
			_ = out.Write(api.JSONMessage{Aux: map[string]string{"ID": id.String()}})
		},
	})
	var perr *build.ParseError
	if errors.As(err, &perr) {
		return giveKind(errdefs.ErrInvalidArgument, err)
	}
	return err
}

// readBodyEnd reads what follows the context's tar in the request's
// body, up to a bound, so that the build learns when its client goes
// away:
//
//	client                          berthd (Go's net/http)
//	tar blocks ..., end of archive  ExtractContext stops at the archive's end
//	last chunk "0\r\n\r\n"          read here: the body's EOF, after which the
//	                                server reads the connection in the background
//	(killed: the connection closes) that read fails: the request's context is
//	                                cancelled, and the RUN under way is killed
//
// Go's server notices a closed connection only through that background
// read, which starts once the handler has read the body to its EOF, or
// through a write that fails. docker's CLI sends the body's last chunk
// apart from the archive, often after the tar reader has stopped: left
// unread, a client killed during a silent RUN (sleep) went unnoticed
// unless a later write failed, and the build went on holding
// Daemon.builds (every build prune waited) for as long as the step ran.
// A remainder above the bound is left: then only a failed write tells.
func readBodyEnd(body io.Reader) error {
	if _, err := io.Copy(io.Discard, io.LimitReader(body, 1<<20)); err != nil {
		return fmt.Errorf("build context: reading the request body's end: %w", err)
	}
	return nil
}

// buildText sends text as the stream's {"stream": ...} messages, one
// per Write. RUN's stdout and stderr write from two goroutines: the
// stream serialises them.
type buildText struct {
	out api.JSONStream
}

func (w *buildText) Write(p []byte) (int, error) {
	if err := w.out.Write(api.JSONMessage{Stream: string(p)}); err != nil {
		return 0, err
	}
	return len(p), nil
}

// buildBackend is build.Backend on the daemon's store and runner.
type buildBackend struct {
	d *Daemon
	// out is the build's stream: a FROM that pulls reports there.
	out api.JSONStream
	// auths are the client's credentials by registry (X-Registry-Config).
	auths map[string]registry.AuthConfig
}

// Image finds ref in the store, or pulls it when it is a name the store
// does not have, as dockerd's classic builder does for FROM and COPY
// --from: the pull's progress goes in the build's stream, between the
// step's line and its " ---> ID".
func (b *buildBackend) Image(ctx context.Context, ref string) (build.Image, error) {
	img, err := b.d.images.Get(ref)
	if errors.Is(err, image.ErrNotFound) && b.out != nil {
		if r, perr := image.ParseReference(ref); perr == nil {
			if err = b.d.ImagePull(ctx, r.String(), api.PullOptions{Auth: authFor(b.auths, r.Name)}, b.out); err != nil {
				return build.Image{}, err
			}
			img, err = b.d.images.Get(r.String())
		}
	}
	if err != nil {
		return build.Image{}, imageError(ref, err)
	}
	return b.image(img)
}

// authFor picks, from a build's credentials (keyed as the docker CLI
// keys its config file: "https://index.docker.io/v1/" for Docker Hub,
// "host:port" for the others, sometimes with a scheme), those of the
// registry of name, or nil.
func authFor(auths map[string]registry.AuthConfig, name string) *registry.AuthConfig {
	host := "docker.io"
	if first, rest, ok := strings.Cut(name, "/"); ok && rest != "" && (strings.ContainsAny(first, ".:") || first == "localhost") {
		host = first
	}
	keys := []string{host, "https://" + host, "http://" + host, "https://" + host + "/v1/", "https://" + host + "/v2/"}
	if host == "docker.io" {
		keys = append(keys, "https://index.docker.io/v1/", "index.docker.io")
	}
	for _, k := range keys {
		if a, ok := auths[k]; ok {
			return &a
		}
	}
	return nil
}

func (b *buildBackend) image(img image.Image) (build.Image, error) {
	dirs, err := b.d.images.LayerDirs(img.ID)
	if err != nil {
		return build.Image{}, err
	}
	return build.Image{ID: img.ID, Author: img.Config.Author, Config: img.Config.Config, Layers: dirs}, nil
}

func (b *buildBackend) Commit(ctx context.Context, req build.CommitRequest) (build.Image, error) {
	cfg := req.Config
	img, err := b.d.images.Commit(req.Dir, image.CommitOptions{
		Parent: req.Parent.ID, Config: &cfg, CreatedBy: req.CreatedBy, Author: req.Author,
	})
	if err != nil {
		return build.Image{}, err
	}
	return b.image(img)
}

func (b *buildBackend) Tag(ctx context.Context, id image.Digest, ref string) error {
	if err := b.d.images.Tag(id.String(), ref); err != nil {
		return imageError(ref, err)
	}
	b.d.emitImage(id.String(), ref, moby.ActionTag)
	return nil
}

// Run runs a RUN step's command in a container of req.Parent and commits
// its writable layer: chapter 06's runner with --keep (the layer stays
// after the exit, for the commit) and --net none. The container is
// recorded under builder/running first, so that if the daemon dies
// during the step, its next start removes what the step left.
func (b *buildBackend) Run(ctx context.Context, req build.RunRequest) (build.Image, error) {
	d := b.d
	var o image.RunOptions
	fs := namespace.FlagSet("build")
	o.AddFlags(fs)
	if err := fs.Parse([]string{"--root", d.opts.DataRoot, "--keep", "--net", "none", "--cgroup-parent", d.opts.CgroupParent}); err != nil {
		return build.Image{}, err
	}
	o.Image = req.Parent.ID.String()
	o.FS.Env = append(o.FS.Env, req.Env...)
	// With --userns-remap a RUN is remapped too, as dockerd does it; its
	// layer is idmapped, so the commit stores the image's own ids. Or,
	// without idmapped mounts, it runs on chowned copies of the layers
	// (userns_copies.go), and the commit shifts the ids back.
	d.userNS(&o.Config, "")
	var unmap *image.Unmap
	if d.chownedFor("") {
		o.Layers, o.Layer.Chowned = d.chownedLayers, true
		unmap = &image.Unmap{UIDs: d.remap.UIDs, GIDs: d.remap.GIDs}
	}

	id := namespace.NewID()
	if err := d.recordBuildContainer(id); err != nil {
		return build.Image{}, err
	}
	defer d.removeBuildContainer(id)

	stdout := &outputGate{w: req.Stdout}
	stderr := &outputGate{w: req.Stderr}
	c, err := o.Container(id, req.Command, namespace.Stdio{Out: stdout, Err: stderr})
	if err != nil {
		return build.Image{}, err
	}
	// A RUN ignores the image's Entrypoint, which the runner puts
	// before the command: the spec gets the command alone.
	spec, ok := c.Spec.(layer.InitSpec)
	if !ok {
		c.Close()
		return build.Image{}, fmt.Errorf("build: unexpected container spec %T", c.Spec)
	}
	spec.Command.Args = req.Command
	c.Spec = spec

	var pid atomic.Int64
	c.OnStart(func(p int) error {
		pid.Store(int64(p))
		// A client that went away before init's pid was known: the
		// AfterFunc below ran (or runs now) and found no pid to kill, so
		// the step stops here, before its command starts. The pid is
		// stored before ctx is checked, and ctx is done before its
		// AfterFunc runs: one of the two sees the other.
		if err := ctx.Err(); err != nil {
			return err
		}
		if req.Started != nil {
			req.Started(id)
		}
		return nil
	})
	// Exit hooks run last-registered first: this one closes the output
	// before chapter 04's hook prints the kept container's ID on stderr.
	c.OnExit(func() error { stdout.close(); stderr.close(); return nil })
	// A client that goes away (ctx done) stops the step: its init is
	// killed, and with it the container. Before init has a pid, the
	// OnStart hook above stops it instead.
	stop := context.AfterFunc(ctx, func() {
		if p := pid.Load(); p > 0 {
			_ = syscall.Kill(int(p), syscall.SIGKILL)
		}
	})
	status, err := c.Run()
	stop()
	if ctx.Err() != nil {
		return build.Image{}, ctx.Err()
	}
	if err != nil {
		return build.Image{}, err
	}
	if status != 0 {
		return build.Image{}, &build.ExitError{Command: req.Command, Code: status}
	}
	rw, err := layer.Open(d.opts.DataRoot, id)
	if err != nil {
		return build.Image{}, err
	}
	img, err := d.images.Commit(rw.Upper(), image.CommitOptions{Parent: req.Parent.ID, CreatedBy: req.CreatedBy, Unmap: unmap})
	if err != nil {
		return build.Image{}, err
	}
	return b.image(img)
}

// outputGate passes writes on until it is closed, then drops them.
type outputGate struct {
	mu     sync.Mutex
	w      io.Writer
	closed bool
}

func (g *outputGate) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed || g.w == nil {
		return len(p), nil
	}
	return g.w.Write(p)
}

func (g *outputGate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

// recordBuildContainer notes a RUN container before it exists: the
// record is what the next start looks for after a crash.
func (d *Daemon) recordBuildContainer(id string) error {
	dir := d.builderDir("running")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, id), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("recording build container: %w", err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = atomicfile.SyncDir(dir)
	}
	return err
}

// removeBuildContainer removes what a RUN container left: its directory
// (writable layer, chapter 06's record), its lease on the image, then its
// record.
func (d *Daemon) removeBuildContainer(id string) error {
	var errs []error
	if rw, err := layer.Open(d.opts.DataRoot, id); err == nil {
		errs = append(errs, rw.Remove())
	} else {
		// Chapter 04 makes the directory, then writes its record: a
		// crash in between leaves a directory with no record, or half
		// of one. The directory is the build's own, and nothing is
		// mounted on it on the host (the overlay was the container's).
		errs = append(errs, os.RemoveAll(filepath.Join(layer.ContainersDir(d.opts.DataRoot), id)))
	}
	errs = append(errs, d.images.Release(id))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("removing build container %s: %w", id, err)
	}
	return os.Remove(filepath.Join(d.builderDir("running"), id))
}
