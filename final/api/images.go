package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/common"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"

	"github.com/berth-project/berth/final/filters"
)

// imageList lists the images. The backend lists them all; the filters the
// CLI sends (`docker images busybox` is reference=busybox) are applied
// here, on the summaries.
func (s *Server) imageList(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	args, err := filters.Parse(q.Get("filters"))
	if err != nil {
		return err
	}
	// filter=NAME is the pre-1.25 form of reference=NAME.
	if v := q.Get("filter"); v != "" {
		args.Add("reference", v)
	}
	if err := args.Check("images", "reference", "dangling", "label"); err != nil {
		return err
	}
	dangling, onlyDangling, err := args.Bool("dangling")
	if err != nil {
		return err
	}
	list, err := s.backend.ImageList(r.Context(), boolValue(q, "all"))
	if err != nil {
		return err
	}
	out := []image.Summary{}
	for _, img := range list {
		if (!onlyDangling || isDangling(img) == dangling) &&
			args.Any("reference", func(v string) bool {
				return referenceMatches(img.RepoTags, v) || referenceMatches(img.RepoDigests, v)
			}) &&
			args.Labels(img.Labels) {
			out = append(out, img)
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// isDangling reports whether img has no name: docker images shows it as
// <none>:<none>.
func isDangling(img image.Summary) bool {
	for _, t := range img.RepoTags {
		if t != "<none>:<none>" {
			return false
		}
	}
	return true
}

// referenceMatches matches a pattern such as "busybox", "busybox:1.36" or
// "bus*" against an image's "repo:tag" names, as docker's reference
// filter does: against the whole name, or the repository alone.
//
// An image pulled by digest alone has no tag, only "name@sha256:..." in
// its RepoDigests; those names match too, as in dockerd.
func referenceMatches(repoTags []string, pattern string) bool {
	for _, rt := range repoTags {
		repo := rt
		if name, _, ok := strings.Cut(rt, "@"); ok {
			repo = name
		} else if i := strings.LastIndex(rt, ":"); i > strings.LastIndex(rt, "/") {
			repo = rt[:i]
		}
		if m, _ := path.Match(pattern, rt); m {
			return true
		}
		if m, _ := path.Match(pattern, repo); m {
			return true
		}
	}
	return false
}

// imageGet serves GET /images/<name>/json, /history and /get.
func (s *Server) imageGet(w http.ResponseWriter, r *http.Request) error {
	name, action := splitAction(r.PathValue("name"), "json", "history", "get")
	ctx := r.Context()
	switch action {
	case "json":
		info, err := s.backend.ImageInspect(ctx, name)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, imageInspectV141{InspectResponse: info, VirtualSize: info.Size})
	case "history":
		hist, err := s.backend.ImageHistory(ctx, name)
		if err != nil {
			return err
		}
		if hist == nil {
			hist = []image.HistoryResponseItem{}
		}
		writeJSON(w, http.StatusOK, hist)
	case "get":
		return s.save(w, r, []string{name})
	default:
		return notFound("page not found")
	}
	return nil
}

// imageInspectV141 is image inspect in the shape of the API versions
// berthd serves (up to 1.41), which still had fields that 1.44 and 1.45
// removed and that the Go types no longer carry. Clients of those
// versions read them: docker-compose 1.29 looks up
// ContainerConfig.Volumes of a service's image each time it recreates a
// container, and fails with KeyError: 'ContainerConfig' without it.
//
// ContainerConfig is, in Docker, the configuration of the container an
// image was committed from (a build step's). berth does not record it:
// it is empty, as dockerd's is for an imported or pulled image.
type imageInspectV141 struct {
	image.InspectResponse
	ContainerConfig container.Config
	// VirtualSize was Size again (1.44 removed it as redundant).
	VirtualSize int64
}

// imagePost serves POST /images/<name>/tag and /push.
func (s *Server) imagePost(w http.ResponseWriter, r *http.Request) error {
	name, action := splitAction(r.PathValue("name"), "tag", "push")
	switch action {
	case "tag":
		q := r.URL.Query()
		if q.Get("repo") == "" {
			return invalid("tag: the repository name (repo) is missing")
		}
		repo, tag, err := repoTag(q.Get("repo"), q.Get("tag"))
		if err != nil {
			return err
		}
		if err := s.backend.ImageTag(r.Context(), name, repo, tag); err != nil {
			return err
		}
		w.WriteHeader(http.StatusCreated)
		return nil
	case "push":
		return s.imagePush(w, r, name)
	default:
		return notFound("page not found")
	}
}

func (s *Server) imageRemove(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	deleted, err := s.backend.ImageRemove(r.Context(), r.PathValue("name"), boolValue(q, "force"), !boolValue(q, "noprune"))
	if err != nil {
		return err
	}
	if deleted == nil {
		deleted = []image.DeleteResponse{}
	}
	writeJSON(w, http.StatusOK, deleted)
	return nil
}

// imageSave serves GET /images/get?names=a&names=b: one archive of all
// the images.
func (s *Server) imageSave(w http.ResponseWriter, r *http.Request) error {
	names := r.URL.Query()["names"]
	if len(names) == 0 {
		return invalid("save: no image given (names)")
	}
	return s.save(w, r, names)
}

func (s *Server) save(w http.ResponseWriter, r *http.Request, names []string) error {
	return s.streamBody(w, r, "application/x-tar", func(out io.Writer) error {
		return s.backend.ImageSave(r.Context(), names, out)
	})
}

// imageLoad reads an archive made by save from the request body, which
// is streamed to the backend however large it is.
func (s *Server) imageLoad(w http.ResponseWriter, r *http.Request) error {
	defer readWhileWriting(w, r)()
	out := newJSONStream(w)
	err := s.protect(r, func() error {
		return s.backend.ImageLoad(r.Context(), r.Body, boolValue(r.URL.Query(), "quiet"), out)
	})
	return s.finish(w, out, err)
}

// imageCreate is two endpoints in one: with fromSrc an import (a tar of a
// root filesystem in the body), with fromImage a pull (registry.go).
func (s *Server) imageCreate(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	switch {
	case q.Get("fromImage") != "" && q.Has("fromSrc"):
		return invalid("images/create: fromImage (pull) and fromSrc (import) cannot be given together")
	case q.Get("fromImage") != "":
		return s.imagePull(w, r)
	case q.Get("fromSrc") == "-":
	case q.Get("fromSrc") != "":
		return errdefs.ErrNotImplemented.WithMessage(fmt.Sprintf("berth cannot import from %q: send the archive in the request body (fromSrc=-)", q.Get("fromSrc")))
	default:
		return invalid("images/create needs fromSrc=- (import) or fromImage (pull)")
	}
	repo, tag, err := repoTag(q.Get("repo"), q.Get("tag"))
	if err != nil {
		return err
	}
	opts := ImportOptions{Repo: repo, Tag: tag, Message: q.Get("message"), Changes: q["changes"]}
	defer readWhileWriting(w, r)()
	out := newJSONStream(w)
	return s.finish(w, out, s.protect(r, func() error { return s.backend.ImageImport(r.Context(), r.Body, opts, out) }))
}

// commit makes an image of a container. The body is the Config to give
// the image, or null (which the docker CLI sends when there is none).
func (s *Server) commit(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if q.Get("container") == "" {
		return invalid("commit: no container given (container)")
	}
	var cfg container.Config
	hasConfig, err := s.decodeJSON(w, r, &cfg)
	if err != nil {
		return err
	}
	repo, tag, err := repoTag(q.Get("repo"), q.Get("tag"))
	if err != nil {
		return err
	}
	opts := CommitOptions{
		Container: q.Get("container"),
		Repo:      repo,
		Tag:       tag,
		Comment:   q.Get("comment"),
		Author:    q.Get("author"),
		Changes:   q["changes"],
		Pause:     boolDefault(q, "pause", true),
	}
	if hasConfig {
		opts.Config = &cfg
	}
	id, err := s.backend.ContainerCommit(r.Context(), opts)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, common.IDResponse{ID: id})
	return nil
}

// build runs the classic builder on the context tar in the body. Its
// options are all checked before the body is read: a bad one changes
// nothing.
func (s *Server) build(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if v := q.Get("version"); v != "" && v != "1" {
		return errdefs.ErrNotImplemented.WithMessage(fmt.Sprintf("builder version %q is not supported: berth has only the classic builder (DOCKER_BUILDKIT=0)", v))
	}
	if q.Get("remote") != "" {
		return errdefs.ErrNotImplemented.WithMessage("berth builds only from a context sent in the request body, not from a remote URL")
	}
	opts := BuildOptions{
		Dockerfile: q.Get("dockerfile"),
		NoCache:    boolValue(q, "nocache"),
		Remove:     boolDefault(q, "rm", true),
		ForceRm:    boolValue(q, "forcerm"),
	}
	if opts.ForceRm {
		opts.Remove = true
	}
	for _, t := range q["t"] {
		repo, tag, err := repoTag(t, "")
		if err != nil {
			return err
		}
		opts.Tags = append(opts.Tags, repo+":"+tag)
	}
	if v := q.Get("buildargs"); v != "" {
		if err := json.Unmarshal([]byte(v), &opts.BuildArgs); err != nil {
			return invalid(fmt.Sprintf("invalid buildargs %q: %v", v, err))
		}
	}
	if v := q.Get("labels"); v != "" {
		if err := json.Unmarshal([]byte(v), &opts.Labels); err != nil {
			return invalid(fmt.Sprintf("invalid labels %q: %v", v, err))
		}
	}
	var err error
	if opts.AuthConfigs, err = decodeRegistryConfig(r.Header.Get("X-Registry-Config")); err != nil {
		return err
	}
	defer readWhileWriting(w, r)()
	out := newJSONStream(w)
	return s.finish(w, out, s.protect(r, func() error { return s.backend.ImageBuild(r.Context(), r.Body, opts, out) }))
}
