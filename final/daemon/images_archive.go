package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	moby "github.com/moby/moby/api/types/events"

	"github.com/berth-project/berth/06-images/image"
	"github.com/berth-project/berth/final/api"
)

// Images in and out of berthd as archives: import (a file system tar
// becomes a one-layer image, S32), save and load (images with all their
// layers, configs and parent links, S33, S34). Chapter 06's store reads
// and writes the formats and checks everything that comes in; these
// methods give its results and errors the API's shape.

// archiveError gives an error about an archive that came in its kind.
// The store checks everything in an archive (its layout, every path, every
// layer's digest and size) and refuses what is wrong: that is the
// client's mistake (400). The store's own trouble, a full or broken disk,
// stays a server error.
func archiveError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EIO), errors.Is(err, syscall.EROFS),
		errors.Is(err, syscall.EDQUOT), errors.Is(err, syscall.EACCES):
		return err
	}
	return giveKind(errdefs.ErrInvalidArgument, err)
}

// ImageImport makes a one-layer image of a file system tar (S32), with
// the --change instructions applied to its configuration, and answers
// with its ID as Docker does: {"status":"sha256:..."}.
func (d *Daemon) ImageImport(ctx context.Context, src io.Reader, opts api.ImportOptions, out api.JSONStream) error {
	var cfg image.ContainerConfig
	for _, ch := range opts.Changes {
		if strings.TrimSpace(ch) == "" {
			continue
		}
		if err := image.ApplyChange(&cfg, ch); err != nil {
			return giveKind(errdefs.ErrInvalidArgument, err)
		}
	}
	ref := ""
	if opts.Repo != "" {
		ref = opts.Repo + ":" + opts.Tag
		if opts.Tag == "" {
			ref = opts.Repo
		}
		if _, err := image.ParseReference(ref); err != nil {
			return giveKind(errdefs.ErrInvalidArgument, err)
		}
	}
	img, err := d.images.Import(cancelReader{ctx, src}, image.ImportOptions{Ref: ref, Config: &cfg, Comment: opts.Message})
	if err != nil {
		return archiveError(err)
	}
	if ref != "" {
		d.emitImage(img.ID.String(), ref, moby.ActionTag)
	}
	d.emitImage(img.ID.String(), img.ID.String(), moby.ActionImport)
	return out.Write(api.JSONMessage{Status: img.ID.String()})
}

// ImageSave writes the images names name, with their ancestors, as one
// archive (S33): the OCI layout with Docker's manifest.json, which every
// Docker since 20.10 loads. Every name is resolved before the first byte
// is written, so an unknown one is a plain 404.
func (d *Daemon) ImageSave(ctx context.Context, names []string, w io.Writer) error {
	var ids []string // one save event per image, however many names it had
	for _, n := range names {
		img, err := d.images.Get(n)
		if err != nil {
			return imageError(n, err)
		}
		if !slices.Contains(ids, img.ID.String()) {
			ids = append(ids, img.ID.String())
		}
	}
	if err := d.images.Save(cancelWriter{ctx, w}, names); err != nil {
		return fmt.Errorf("saving %s: %w", strings.Join(names, " "), err)
	}
	for _, id := range ids {
		d.emitImage(id, id, moby.ActionSave)
	}
	return nil
}

// ImageLoad reads an archive (berth's or Docker's save, 20.10 or 25+, or
// a plain OCI layout from skopeo or umoci) into the store, and answers
// with Docker's lines: "Loaded image: name:tag" for each tag, "Loaded
// image ID: sha256:..." for an untagged image (but the ancestors that
// berth's archives carry along). Unless quiet (the docker
// client asks for quiet when its output is not a terminal), the bytes read
// so far are reported as they come. The store checks every layer against
// its diffID before it keeps an image; a bad archive changes nothing.
func (d *Daemon) ImageLoad(ctx context.Context, src io.Reader, quiet bool, out api.JSONStream) error {
	var r io.Reader = cancelReader{ctx, src}
	var prog *loadProgress
	if !quiet {
		prog = &loadProgress{r: r, out: out, status: "Loading", id: "archive", every: 100 * time.Millisecond}
		r = prog
	}
	loaded, err := d.images.Load(r)
	if prog != nil {
		prog.finish()
	}
	if err != nil {
		return archiveError(err)
	}
	// An archive of berth's carries the ancestors of its images, to
	// keep their history: they are not news, as in Docker's report.
	ancestors := map[image.Digest]bool{}
	for _, l := range loaded {
		if img, err := d.images.Get(l.ID.String()); err == nil && img.Parent != "" {
			ancestors[img.Parent] = true
		}
	}
	for _, l := range loaded {
		if len(l.Tags) == 0 && ancestors[l.ID] {
			continue
		}
		d.emitImage(l.ID.String(), l.ID.String(), moby.ActionLoad)
		for _, t := range l.Tags {
			if err := out.Write(api.JSONMessage{Stream: "Loaded image: " + t + "\n"}); err != nil {
				return err
			}
		}
		if len(l.Tags) == 0 {
			if err := out.Write(api.JSONMessage{Stream: "Loaded image ID: " + l.ID.String() + "\n"}); err != nil {
				return err
			}
		}
	}
	return nil
}

// loadProgress reports how many bytes of r have been read, on out, at most
// every so often, as Docker's progress messages: the client draws them
// as a line that updates itself.
type loadProgress struct {
	r          io.Reader
	out        api.JSONStream
	status, id string
	every      time.Duration

	mu   sync.Mutex
	n    int64
	last time.Time
}

func (p *loadProgress) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.mu.Lock()
	p.n += int64(n)
	due := time.Since(p.last) >= p.every
	if due {
		p.last = time.Now()
	}
	p.mu.Unlock()
	if due {
		p.report()
	}
	return n, err
}

func (p *loadProgress) report() {
	p.mu.Lock()
	n := p.n
	p.mu.Unlock()
	_ = p.out.Write(api.JSONMessage{
		Status: p.status, ID: p.id,
		Progress:       progressBytes(n),
		ProgressDetail: &api.ProgressDetail{Current: n},
	})
}

func (p *loadProgress) finish() { p.report() }

// progressBytes prints a size in the docker client's decimal units.
func progressBytes(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%dB", n)
	case n < 1000*1000:
		return fmt.Sprintf("%.4gkB", float64(n)/1000)
	case n < 1000*1000*1000:
		return fmt.Sprintf("%.4gMB", float64(n)/1000/1000)
	}
	return fmt.Sprintf("%.4gGB", float64(n)/1000/1000/1000)
}

// cancelReader stops reading when ctx is done: a client that went away
// stops a load or an import at its next read.
type cancelReader struct {
	ctx context.Context
	r   io.Reader
}

func (c cancelReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// cancelWriter stops writing when ctx is done.
type cancelWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c cancelWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
