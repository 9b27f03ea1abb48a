package apitest

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/volume"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-project/berth/final/api"
	"github.com/berth-project/berth/final/filters"
)

// img is a fake image: a config, files, and the history of how it was
// made. Each history entry that is not EmptyLayer stands for a layer.
type img struct {
	ID   string   `json:"id"` // "sha256:<64 hex>"
	Tags []string `json:"-"`  // familiar "name:tag"
	// RepoDigests are "name@sha256:..." of the registries it was
	// pulled from or pushed to (registry.go).
	RepoDigests []string          `json:"-"`
	Parent      string            `json:"parent,omitempty"`
	Created     time.Time         `json:"created"`
	Config      container.Config  `json:"config"`
	Files       map[string]string `json:"files"`
	History     []histEntry       `json:"history"`
	Comment     string            `json:"comment,omitempty"`
	Author      string            `json:"author,omitempty"`
}

type histEntry struct {
	Created    time.Time `json:"created"`
	CreatedBy  string    `json:"created_by"`
	Comment    string    `json:"comment,omitempty"`
	EmptyLayer bool      `json:"empty_layer,omitempty"`
	Layer      string    `json:"layer,omitempty"`
	Size       int64     `json:"size,omitempty"`
}

func (im *img) size() int64 {
	var n int64
	for _, c := range im.Files {
		n += int64(len(c))
	}
	return n
}

func (im *img) layers() []string {
	var out []string
	for _, h := range im.History {
		if !h.EmptyLayer {
			out = append(out, h.Layer)
		}
	}
	return out
}

// newImage stores im under an ID made from its content. Call with f.mu
// held.
func (f *Fake) newImage(im *img) *img {
	data, _ := json.Marshal(im)
	sum := sha256.Sum256(append(data, []byte(randomID())...))
	im.ID = "sha256:" + hex.EncodeToString(sum[:])
	f.images[im.ID] = im
	return im
}

// AddImage adds an image named ref (for example "alpine:3") with a config
// and files (path without leading slash -> content), and returns its ID.
func (f *Fake) AddImage(ref string, cfg container.Config, files map[string]string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	im := f.newImage(&img{
		Created: now,
		Config:  cfg,
		Files:   copyFiles(files),
		History: []histEntry{
			{Created: now, CreatedBy: "/bin/sh -c #(nop) ADD file:fake in / ", Layer: "sha256:" + randomID(), Size: int64(len(files))},
			{Created: now, CreatedBy: fmt.Sprintf("/bin/sh -c #(nop)  CMD %q", cfg.Cmd), EmptyLayer: true},
		},
	})
	if name, ok := familiar(ref); ok {
		f.tag(im, name)
	}
	return im.ID
}

func copyFiles(files map[string]string) map[string]string {
	out := make(map[string]string, len(files))
	for k, v := range files {
		out[k] = v
	}
	return out
}

// familiar normalizes a reference to "name:tag" as docker shows it.
func familiar(ref string) (string, bool) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", false
	}
	if _, ok := named.(reference.Digested); ok {
		return "", false
	}
	return reference.FamiliarString(reference.TagNameOnly(named)), true
}

// tag gives im the name, taking it from any other image. Call with f.mu
// held.
func (f *Fake) tag(im *img, name string) {
	for _, other := range f.images {
		for i, t := range other.Tags {
			if t == name {
				other.Tags = append(other.Tags[:i:i], other.Tags[i+1:]...)
				break
			}
		}
	}
	im.Tags = append(im.Tags, name)
	sort.Strings(im.Tags)
}

func isHex(s string) bool {
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	return s != ""
}

// lookupImage finds an image by name, ID or unique ID prefix. Call with
// f.mu held.
func (f *Fake) lookupImage(ref string) (*img, error) {
	if name, ok := familiar(ref); ok {
		for _, im := range f.images {
			for _, t := range im.Tags {
				if t == name {
					return im, nil
				}
			}
		}
	}
	hexID := strings.TrimPrefix(ref, "sha256:")
	if isHex(hexID) {
		var found *img
		for id, im := range f.images {
			if strings.HasPrefix(strings.TrimPrefix(id, "sha256:"), hexID) {
				if found != nil {
					return nil, errdefs.ErrInvalidArgument.WithMessage("multiple images found with provided prefix: " + ref)
				}
				found = im
			}
		}
		if found != nil {
			return found, nil
		}
	}
	return nil, errdefs.ErrNotFound.WithMessage("No such image: " + ref)
}

// usedBy lists the containers made from im. Call with f.mu held.
func (f *Fake) usedBy(im *img) []*ctr {
	var out []*ctr
	for _, c := range f.containers {
		if c.image == im {
			out = append(out, c)
		}
	}
	return out
}

// ImageList lists the images, newest first.
func (f *Fake) ImageList(context.Context, bool) ([]image.Summary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []image.Summary{}
	for _, im := range f.images {
		out = append(out, image.Summary{
			ID:          im.ID,
			ParentID:    im.Parent,
			RepoTags:    append([]string{}, im.Tags...),
			RepoDigests: append([]string{}, im.RepoDigests...),
			Created:     im.Created.Unix(),
			Size:        im.size(),
			Containers:  int64(len(f.usedBy(im))),
			Labels:      im.Config.Labels,
		})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Created != out[j].Created {
			return out[i].Created > out[j].Created
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// ImageInspect describes an image as `docker image inspect` shows it.
func (f *Fake) ImageInspect(_ context.Context, name string) (image.InspectResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	im, err := f.lookupImage(name)
	if err != nil {
		return image.InspectResponse{}, err
	}
	cfg := im.Config
	ports := map[string]struct{}{}
	for p := range cfg.ExposedPorts {
		ports[p.String()] = struct{}{}
	}
	return image.InspectResponse{
		ID:           im.ID,
		RepoTags:     append([]string{}, im.Tags...),
		RepoDigests:  append([]string{}, im.RepoDigests...),
		Comment:      im.Comment,
		Created:      api.FormatTime(im.Created),
		Author:       im.Author,
		Architecture: "amd64",
		Os:           "linux",
		Size:         im.size(),
		RootFS:       image.RootFS{Type: "layers", Layers: im.layers()},
		Config: &dockerspec.DockerOCIImageConfig{ImageConfig: ocispec.ImageConfig{
			User:         cfg.User,
			ExposedPorts: ports,
			Env:          cfg.Env,
			Entrypoint:   cfg.Entrypoint,
			Cmd:          cfg.Cmd,
			WorkingDir:   cfg.WorkingDir,
			Labels:       cfg.Labels,
			StopSignal:   cfg.StopSignal,
		}},
	}, nil
}

// ImageHistory lists how the image was made, newest step first.
func (f *Fake) ImageHistory(_ context.Context, name string) ([]image.HistoryResponseItem, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	im, err := f.lookupImage(name)
	if err != nil {
		return nil, err
	}
	out := []image.HistoryResponseItem{}
	for i := len(im.History) - 1; i >= 0; i-- {
		h := im.History[i]
		item := image.HistoryResponseItem{ID: "<missing>", Created: h.Created.Unix(), CreatedBy: h.CreatedBy, Size: h.Size, Comment: h.Comment, Tags: []string{}}
		if i == len(im.History)-1 {
			item.ID = im.ID
			item.Tags = append(item.Tags, im.Tags...)
		}
		out = append(out, item)
	}
	return out, nil
}

// ImageTag names an image repo:tag.
func (f *Fake) ImageTag(_ context.Context, source, repo, tag string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	im, err := f.lookupImage(source)
	if err != nil {
		return err
	}
	name, ok := familiar(repo + ":" + tag)
	if !ok {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid reference format: %s:%s", repo, tag))
	}
	f.tag(im, name)
	return nil
}

// ImageRemove untags an image, and deletes it when it has no name left.
func (f *Fake) ImageRemove(_ context.Context, name string, force, _ bool) ([]image.DeleteResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	im, err := f.lookupImage(name)
	if err != nil {
		return nil, err
	}
	byName := ""
	if n, ok := familiar(name); ok {
		for _, t := range im.Tags {
			if t == n {
				byName = n
			}
		}
	}
	var out []image.DeleteResponse
	if byName != "" && len(im.Tags) > 1 {
		for i, t := range im.Tags {
			if t == byName {
				im.Tags = append(im.Tags[:i:i], im.Tags[i+1:]...)
				break
			}
		}
		return []image.DeleteResponse{{Untagged: byName}}, nil
	}
	if users := f.usedBy(im); len(users) > 0 && !force {
		if byName != "" {
			return nil, errdefs.ErrConflict.WithMessage(fmt.Sprintf("conflict: unable to remove repository reference %q (must force) - container %.12s is using its referenced image %.12s", byName, users[0].id, strings.TrimPrefix(im.ID, "sha256:")))
		}
		return nil, errdefs.ErrConflict.WithMessage(fmt.Sprintf("conflict: unable to delete %.12s (must be forced) - image is being used by container %.12s", strings.TrimPrefix(im.ID, "sha256:"), users[0].id))
	}
	if byName == "" && len(im.Tags) > 1 && !force {
		return nil, errdefs.ErrConflict.WithMessage(fmt.Sprintf("conflict: unable to delete %.12s (must be forced) - image is referenced in multiple repositories", strings.TrimPrefix(im.ID, "sha256:")))
	}
	for _, t := range im.Tags {
		out = append(out, image.DeleteResponse{Untagged: t})
	}
	delete(f.images, im.ID)
	out = append(out, image.DeleteResponse{Deleted: im.ID})
	return out, nil
}

// applyChanges applies Dockerfile instructions (CMD, ENTRYPOINT, ENV,
// LABEL, WORKDIR, USER, EXPOSE, STOPSIGNAL) to cfg.
func applyChanges(cfg *container.Config, changes []string) error {
	for _, ch := range changes {
		ch = strings.TrimSpace(ch)
		if ch == "" {
			continue
		}
		instr, arg, _ := strings.Cut(ch, " ")
		arg = strings.TrimSpace(arg)
		switch strings.ToUpper(instr) {
		case "CMD":
			cfg.Cmd = commandForm(arg)
		case "ENTRYPOINT":
			cfg.Entrypoint = commandForm(arg)
		case "ENV":
			k, v, ok := strings.Cut(arg, "=")
			if !ok {
				k, v, _ = strings.Cut(arg, " ")
			}
			cfg.Env = append(cfg.Env, strings.TrimSpace(k)+"="+strings.Trim(strings.TrimSpace(v), `"`))
		case "LABEL":
			k, v, _ := strings.Cut(arg, "=")
			if cfg.Labels == nil {
				cfg.Labels = map[string]string{}
			}
			cfg.Labels[strings.Trim(k, `"`)] = strings.Trim(v, `"`)
		case "WORKDIR":
			cfg.WorkingDir = arg
		case "USER":
			cfg.User = arg
		case "STOPSIGNAL":
			cfg.StopSignal = arg
		case "EXPOSE":
			for _, p := range strings.Fields(arg) {
				if !strings.Contains(p, "/") {
					p += "/tcp"
				}
				port, err := network.ParsePort(p)
				if err != nil {
					return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid port %q in %q", p, ch))
				}
				if cfg.ExposedPorts == nil {
					cfg.ExposedPorts = network.PortSet{}
				}
				cfg.ExposedPorts[port] = struct{}{}
			}
		default:
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("%s is not a valid change command", instr))
		}
	}
	return nil
}

// commandForm reads `["a","b"]` (exec form) or `a b` (shell form).
func commandForm(arg string) []string {
	var list []string
	if strings.HasPrefix(arg, "[") && json.Unmarshal([]byte(arg), &list) == nil {
		return list
	}
	return []string{"/bin/sh", "-c", arg}
}

// ContainerCommit makes an image of the container's files.
func (f *Fake) ContainerCommit(_ context.Context, opts api.CommitOptions) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookup(opts.Container)
	if err != nil {
		return "", err
	}
	cfg := c.config
	if opts.Config != nil {
		if opts.Config.Cmd != nil {
			cfg.Cmd = opts.Config.Cmd
		}
		if opts.Config.Entrypoint != nil {
			cfg.Entrypoint = opts.Config.Entrypoint
		}
		cfg.Env = append(cfg.Env, opts.Config.Env...)
		for k, v := range opts.Config.Labels {
			if cfg.Labels == nil {
				cfg.Labels = map[string]string{}
			}
			cfg.Labels[k] = v
		}
	}
	if err := applyChanges(&cfg, opts.Changes); err != nil {
		return "", err
	}
	now := time.Now()
	history := append(append([]histEntry{}, c.image.History...), histEntry{
		Created: now, CreatedBy: strings.Join(c.argv(), " "), Comment: opts.Comment, Layer: "sha256:" + randomID(),
	})
	im := f.newImage(&img{
		Parent: c.image.ID, Created: now, Config: cfg, Files: copyFiles(c.files),
		History: history, Comment: opts.Comment, Author: opts.Author,
	})
	if opts.Repo != "" {
		f.tag(im, opts.Repo+":"+opts.Tag)
	}
	return im.ID, nil
}

// readTar reads the regular files of a tar.
func readTar(r io.Reader) (map[string]string, error) {
	files := map[string]string{}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files, nil
		}
		if err != nil {
			return nil, errdefs.ErrInvalidArgument.WithMessage("reading the archive: " + err.Error())
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, errdefs.ErrInvalidArgument.WithMessage("reading the archive: " + err.Error())
		}
		files[cleanPath(path.Clean("/"+hdr.Name))] = string(data)
	}
}

// writeTar writes files as a tar, in name order.
func writeTar(w io.Writer, files map[string]string) error {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	tw := tar.NewWriter(w)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}); err != nil {
			return fmt.Errorf("writing %s to the archive: %w", n, err)
		}
		if _, err := io.WriteString(tw, files[n]); err != nil {
			return fmt.Errorf("writing %s to the archive: %w", n, err)
		}
	}
	return tw.Close()
}

// ImageImport makes a one-layer image of a root filesystem tar.
func (f *Fake) ImageImport(_ context.Context, src io.Reader, opts api.ImportOptions, out api.JSONStream) error {
	files, err := readTar(src)
	if err != nil {
		return err
	}
	var cfg container.Config
	if err := applyChanges(&cfg, opts.Changes); err != nil {
		return err
	}
	now := time.Now()
	f.mu.Lock()
	im := f.newImage(&img{
		Created: now, Config: cfg, Files: files, Comment: opts.Message,
		History: []histEntry{{Created: now, CreatedBy: "", Comment: firstNonEmpty(opts.Message, "Imported from -"), Layer: "sha256:" + randomID()}},
	})
	if opts.Repo != "" {
		f.tag(im, opts.Repo+":"+opts.Tag)
	}
	f.mu.Unlock()
	return out.Write(api.JSONMessage{Status: im.ID})
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// saveManifest is an entry of manifest.json in the archive.
type saveManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// ImageSave writes the images in an archive laid out like docker save's:
// manifest.json, a config per image, a tar per layer. The fake's config
// also carries the files, so load gives back the same image.
func (f *Fake) ImageSave(_ context.Context, names []string, w io.Writer) error {
	f.mu.Lock()
	var images []*img
	for _, n := range names {
		im, err := f.lookupImage(n)
		if err != nil {
			f.mu.Unlock()
			return err
		}
		cp := *im
		cp.Tags = append([]string{}, im.Tags...)
		images = append(images, &cp)
	}
	f.mu.Unlock()
	entries := map[string]string{}
	var manifest []saveManifest
	for _, im := range images {
		cfg, err := json.Marshal(im)
		if err != nil {
			return fmt.Errorf("encoding %s: %w", im.ID, err)
		}
		hexID := strings.TrimPrefix(im.ID, "sha256:")
		entries[hexID+".json"] = string(cfg)
		m := saveManifest{Config: hexID + ".json", RepoTags: im.Tags}
		for _, l := range im.layers() {
			name := strings.TrimPrefix(l, "sha256:") + "/layer.tar"
			var layer bytes.Buffer
			if err := writeTar(&layer, nil); err != nil {
				return err
			}
			entries[name] = layer.String()
			m.Layers = append(m.Layers, name)
		}
		manifest = append(manifest, m)
	}
	data, err := json.Marshal(manifest)
	if err != nil {
		return fmt.Errorf("encoding manifest.json: %w", err)
	}
	entries["manifest.json"] = string(data)
	return writeTar(w, entries)
}

// ImageLoad reads an archive written by ImageSave.
func (f *Fake) ImageLoad(_ context.Context, src io.Reader, _ bool, out api.JSONStream) error {
	files, err := readTar(src)
	if err != nil {
		return err
	}
	var manifest []saveManifest
	if err := json.Unmarshal([]byte(files["manifest.json"]), &manifest); err != nil {
		return errdefs.ErrInvalidArgument.WithMessage("the archive has no valid manifest.json: " + err.Error())
	}
	for _, m := range manifest {
		var im img
		if err := json.Unmarshal([]byte(files[m.Config]), &im); err != nil || !strings.HasPrefix(im.ID, "sha256:") {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("the archive has no valid image config %s", m.Config))
		}
		f.mu.Lock()
		if old, ok := f.images[im.ID]; ok {
			im.Tags = old.Tags
		}
		f.images[im.ID] = &im
		for _, t := range m.RepoTags {
			f.tag(&im, t)
		}
		f.mu.Unlock()
		if len(m.RepoTags) == 0 {
			if err := out.Write(api.JSONMessage{Stream: "Loaded image ID: " + im.ID + "\n"}); err != nil {
				return err
			}
		}
		for _, t := range m.RepoTags {
			if err := out.Write(api.JSONMessage{Stream: "Loaded image: " + t + "\n"}); err != nil {
				return err
			}
		}
	}
	return nil
}

// ImageBuild runs a Dockerfile of FROM, RUN (the fake programs), COPY and
// the config instructions, reporting each step as the classic builder
// does.
func (f *Fake) ImageBuild(ctx context.Context, contextTar io.Reader, opts api.BuildOptions, out api.JSONStream) error {
	files, err := readTar(contextTar)
	if err != nil {
		return err
	}
	name := firstNonEmpty(opts.Dockerfile, "Dockerfile")
	dockerfile, ok := files[cleanPath(name)]
	if !ok {
		return errdefs.ErrInvalidArgument.WithMessage("Cannot locate specified Dockerfile: " + name)
	}
	var lines []string
	for _, l := range strings.Split(dockerfile, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 || !strings.EqualFold(strings.Fields(lines[0])[0], "FROM") {
		return errdefs.ErrInvalidArgument.WithMessage("the Dockerfile must start with FROM")
	}
	say := func(format string, a ...any) error {
		return out.Write(api.JSONMessage{Stream: fmt.Sprintf(format, a...)})
	}
	var cur *img
	for i, line := range lines {
		instr, arg, _ := strings.Cut(line, " ")
		arg = strings.TrimSpace(arg)
		if err := say("Step %d/%d : %s\n", i+1, len(lines), line); err != nil {
			return err
		}
		switch strings.ToUpper(instr) {
		case "FROM":
			f.mu.Lock()
			base, err := f.lookupImage(arg)
			f.mu.Unlock()
			if err != nil {
				return err
			}
			cp := *base
			cp.Files, cp.History, cp.Tags = copyFiles(base.Files), append([]histEntry{}, base.History...), nil
			cp.Parent = base.ID
			cur = &cp
			if err := say(" ---> %.12s\n", strings.TrimPrefix(base.ID, "sha256:")); err != nil {
				return err
			}
			continue
		case "RUN":
			tmp := &ctr{id: randomID(), config: cur.Config, files: cur.Files, changed: make(chan struct{})}
			var buf bytes.Buffer
			proc := &Proc{Args: []string{"/bin/sh", "-c", arg}, Env: cur.Config.Env, Stdin: strings.NewReader(""), Stdout: &buf, Stderr: &buf, fake: f, ctr: tmp}
			code := shell(ctx, proc)
			if buf.Len() > 0 {
				if err := say("%s", buf.String()); err != nil {
					return err
				}
			}
			if code != 0 {
				return fmt.Errorf("The command '/bin/sh -c %s' returned a non-zero code: %d", arg, code)
			}
			cur.History = append(cur.History, histEntry{Created: time.Now(), CreatedBy: "/bin/sh -c " + arg, Layer: "sha256:" + randomID()})
		case "COPY", "ADD":
			parts := strings.Fields(arg)
			if len(parts) < 2 {
				return errdefs.ErrInvalidArgument.WithMessage(line + ": needs a source and a destination")
			}
			dst := cleanPath(parts[len(parts)-1])
			for _, src := range parts[:len(parts)-1] {
				src = cleanPath(src)
				found := false
				for p, content := range files {
					switch {
					case p == src:
						target := dst
						if strings.HasSuffix(parts[len(parts)-1], "/") {
							target = path.Join(dst, path.Base(p))
						}
						cur.Files[target] = content
						found = true
					case src == "." || strings.HasPrefix(p, src+"/"):
						cur.Files[path.Join(dst, strings.TrimPrefix(strings.TrimPrefix(p, src), "/"))] = content
						found = true
					}
				}
				if !found {
					return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("COPY failed: file not found in build context: stat %s: file does not exist", src))
				}
			}
			cur.History = append(cur.History, histEntry{Created: time.Now(), CreatedBy: "/bin/sh -c #(nop) COPY " + arg, Layer: "sha256:" + randomID()})
		case "ARG", "MAINTAINER":
			cur.History = append(cur.History, histEntry{Created: time.Now(), CreatedBy: "/bin/sh -c #(nop) " + line, EmptyLayer: true})
		default:
			if err := applyChanges(&cur.Config, []string{line}); err != nil {
				return err
			}
			cur.History = append(cur.History, histEntry{Created: time.Now(), CreatedBy: "/bin/sh -c #(nop) " + line, EmptyLayer: true})
		}
		if err := say(" ---> %.12s\n", randomID()); err != nil {
			return err
		}
	}
	for k, v := range opts.Labels {
		if cur.Config.Labels == nil {
			cur.Config.Labels = map[string]string{}
		}
		cur.Config.Labels[k] = v
	}
	cur.Created = time.Now()
	f.mu.Lock()
	im := f.newImage(cur)
	for _, t := range opts.Tags {
		f.tag(im, t)
	}
	f.mu.Unlock()
	if err := out.Write(api.JSONMessage{Aux: map[string]string{"ID": im.ID}}); err != nil {
		return err
	}
	if err := say("Successfully built %.12s\n", strings.TrimPrefix(im.ID, "sha256:")); err != nil {
		return err
	}
	for _, t := range opts.Tags {
		if err := say("Successfully tagged %s\n", t); err != nil {
			return err
		}
	}
	return nil
}

// ImagesPrune is docker image prune over the fake's images.
func (f *Fake) ImagesPrune(ctx context.Context, args filters.Args) (image.PruneReport, error) {
	return api.PruneImages(ctx, f, args)
}

// SystemDiskUsage is docker system df over the fake: its images share
// no layers (each is its files), its containers write nowhere, its
// volumes hold nothing on disk.
func (f *Fake) SystemDiskUsage(ctx context.Context) (api.DiskUsage, error) {
	du := api.DiskUsage{BuildCache: []build.CacheRecord{}}
	var err error
	if du.Images, err = f.ImageList(ctx, false); err != nil {
		return du, err
	}
	for i := range du.Images {
		du.Images[i].SharedSize = 0
		du.LayersSize += du.Images[i].Size
	}
	if du.Containers, err = f.ContainerList(ctx, api.ListOptions{All: true, Size: true}); err != nil {
		return du, err
	}
	vols, err := f.VolumeList(ctx, filters.Args{})
	if err != nil {
		return du, err
	}
	du.Volumes = vols.Volumes
	for i := range du.Volumes {
		refs := 0
		for _, c := range du.Containers {
			for _, m := range c.Mounts {
				if m.Name == du.Volumes[i].Name {
					refs++
				}
			}
		}
		du.Volumes[i].UsageData = &volume.UsageData{Size: 0, RefCount: int64(refs)}
	}
	return du, nil
}
