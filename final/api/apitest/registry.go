package apitest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/registry"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-project/berth/final/api"
)

// The fake's registries: a map of "remote" images by their full name
// (host/path:tag), seeded with AddRemoteImage or filled by pushes, and
// the credentials each registry host wants (SetRegistryLogin). Pulls and
// pushes report in dockerd's words, so that clients draw what they draw
// for dockerd; they move no bytes.

// remoteImage is an image in a fake registry.
type remoteImage struct {
	im     *img   // its content, shared with the local image it came from or goes to
	digest string // the manifest's digest
}

// registryState is the fake's registries.
type registryState struct {
	images map[string]remoteImage // by "host/path:tag"
	logins map[string]string      // host -> "user:password"
}

func (f *Fake) registries() *registryState {
	if f.remote == nil {
		f.remote = &registryState{images: map[string]remoteImage{}, logins: map[string]string{}}
	}
	return f.remote
}

// AddRemoteImage puts an image named ref ("alpine:3",
// "127.0.0.1:5000/team/app:1") in the fake registry of its host, with a
// config and files as AddImage's, and returns its manifest digest.
func (f *Fake) AddRemoteImage(ref string, cfg container.Config, files map[string]string) string {
	id := f.AddImage("", cfg, files)
	f.mu.Lock()
	defer f.mu.Unlock()
	im := f.images[id]
	delete(f.images, id)
	full, _ := fullName(ref)
	d := manifestDigest(im)
	f.registries().images[full] = remoteImage{im: im, digest: d}
	return d
}

// SetRegistryLogin makes the fake registry at host ("127.0.0.1:5000",
// "docker.io") want these credentials for everything.
func (f *Fake) SetRegistryLogin(host, user, password string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.registries().logins[host] = user + ":" + password
}

// fullName is ref's canonical "host/path:tag" and its host.
func fullName(ref string) (string, string) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return ref, ""
	}
	return reference.TagNameOnly(named).String(), reference.Domain(named)
}

func manifestDigest(im *img) string {
	sum := sha256.Sum256([]byte("manifest of " + im.ID))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// checkAuth is the registry at host's answer to auth. Call with f.mu held.
func (f *Fake) checkAuth(host string, auth *registry.AuthConfig) error {
	want, ok := f.registries().logins[host]
	if !ok {
		return nil
	}
	if auth != nil && auth.Username+":"+auth.Password == want {
		return nil
	}
	return errdefs.ErrUnauthenticated.WithMessage(fmt.Sprintf("Head \"https://%s/v2/\": unauthorized: authentication required", host))
}

// ImagePull copies the remote image(s) ref names into the fake's images.
func (f *Fake) ImagePull(_ context.Context, ref string, opts api.PullOptions, out api.JSONStream) error {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return errdefs.ErrInvalidArgument.WithMessage("invalid reference format: " + err.Error())
	}
	if opts.Platform != "" && opts.Platform != "linux/amd64" {
		return errdefs.ErrNotFound.WithMessage(fmt.Sprintf("no matching manifest for %s in the manifest list entries", opts.Platform))
	}
	f.mu.Lock()
	err = f.checkAuth(reference.Domain(named), opts.Auth)
	if err != nil {
		// dockerd's answer to a refused pull: a 404, in these words.
		err = errdefs.ErrNotFound.WithMessage(fmt.Sprintf("pull access denied for %s, repository does not exist or may require 'docker login': unauthorized: authentication required", reference.FamiliarName(named)))
	}
	var refs []string
	switch {
	case err != nil:
	case opts.AllTags:
		prefix := named.Name() + ":"
		for k := range f.registries().images {
			if strings.HasPrefix(k, prefix) {
				refs = append(refs, k)
			}
		}
		sort.Strings(refs)
		if len(refs) == 0 {
			err = errdefs.ErrNotFound.WithMessage(fmt.Sprintf("repository %s not found: name unknown", reference.FamiliarName(named)))
		}
	default:
		refs = []string{named.String()}
	}
	f.mu.Unlock()
	if err != nil {
		return err
	}
	for _, r := range refs {
		if err := f.pullOne(r, out); err != nil {
			return err
		}
	}
	return nil
}

// pullOne pulls one full reference, tag or digest.
func (f *Fake) pullOne(ref string, out api.JSONStream) error {
	named, _ := reference.ParseNormalizedNamed(ref)
	f.mu.Lock()
	var found *remoteImage
	if d, ok := named.(reference.Digested); ok {
		for k, ri := range f.registries().images {
			if ri.digest == d.Digest().String() && strings.HasPrefix(k, named.Name()+":") {
				found = &ri
				break
			}
		}
	} else if ri, ok := f.registries().images[named.String()]; ok {
		found = &ri
	}
	f.mu.Unlock()
	familiarRef := reference.FamiliarString(named)
	if found == nil {
		return errdefs.ErrNotFound.WithMessage(fmt.Sprintf("manifest for %s not found: manifest unknown: manifest unknown", familiarRef))
	}
	tagOrDigest := ""
	if t, ok := named.(reference.Tagged); ok {
		tagOrDigest = t.Tag()
	} else {
		tagOrDigest = named.(reference.Digested).Digest().String()
	}
	f.mu.Lock()
	local, have := f.images[found.im.ID]
	f.mu.Unlock()
	if err := out.Write(api.JSONMessage{ID: tagOrDigest, Status: "Pulling from " + reference.Path(named)}); err != nil {
		return err
	}
	if !have {
		size := found.im.size()
		for _, l := range found.im.layers() {
			id := strings.TrimPrefix(l, "sha256:")[:12]
			steps := []api.JSONMessage{
				{ID: id, Status: "Pulling fs layer"},
				{ID: id, Status: "Downloading", ProgressDetail: &api.ProgressDetail{Current: size / 2, Total: size}},
				{ID: id, Status: "Downloading", ProgressDetail: &api.ProgressDetail{Current: size, Total: size}},
				{ID: id, Status: "Verifying Checksum"},
				{ID: id, Status: "Download complete"},
				{ID: id, Status: "Extracting", ProgressDetail: &api.ProgressDetail{Current: size, Total: size}},
				{ID: id, Status: "Pull complete"},
			}
			for _, m := range steps {
				if err := out.Write(m); err != nil {
					return err
				}
			}
		}
		f.mu.Lock()
		copied := *found.im
		copied.Files = copyFiles(found.im.Files)
		copied.Tags = nil
		local = &copied
		f.images[local.ID] = local
		f.mu.Unlock()
	}
	f.mu.Lock()
	if _, byTag := named.(reference.Tagged); byTag {
		f.tag(local, familiarRef)
	}
	digested := reference.FamiliarName(named) + "@" + found.digest
	if !contains(local.RepoDigests, digested) {
		local.RepoDigests = append(local.RepoDigests, digested)
		sort.Strings(local.RepoDigests)
	}
	f.mu.Unlock()
	status := "Status: Downloaded newer image for " + familiarRef
	if have {
		status = "Status: Image is up to date for " + familiarRef
	}
	if err := out.Write(api.JSONMessage{Status: "Digest: " + found.digest}); err != nil {
		return err
	}
	return out.Write(api.JSONMessage{Status: status})
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// ImagePush copies the local image(s) ref names to the fake registry.
func (f *Fake) ImagePush(_ context.Context, ref string, opts api.PushOptions, out api.JSONStream) error {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return errdefs.ErrInvalidArgument.WithMessage("invalid reference format: " + err.Error())
	}
	f.mu.Lock()
	var tags []string
	for _, im := range f.images {
		for _, t := range im.Tags {
			n, _ := reference.ParseNormalizedNamed(t)
			if n.Name() == named.Name() && (opts.AllTags || reference.TagNameOnly(n).String() == named.String()) {
				tags = append(tags, t)
			}
		}
	}
	err = f.checkAuth(reference.Domain(named), opts.Auth)
	f.mu.Unlock()
	sort.Strings(tags)
	if err != nil && len(tags) > 0 {
		return err
	}
	// dockerd's order: the repository line, then (in the stream) the
	// refusal of a name the store does not have.
	if err := out.Write(api.JSONMessage{Status: "The push refers to repository [" + named.Name() + "]"}); err != nil {
		return err
	}
	if len(tags) == 0 {
		return errdefs.ErrNotFound.WithMessage("An image does not exist locally with the tag: " + reference.FamiliarName(named))
	}
	for _, t := range tags {
		f.mu.Lock()
		im, lerr := f.lookupImage(t)
		f.mu.Unlock()
		if lerr != nil {
			return lerr
		}
		full, _ := fullName(t)
		for _, l := range im.layers() {
			id := strings.TrimPrefix(l, "sha256:")[:12]
			for _, m := range []api.JSONMessage{
				{ID: id, Status: "Preparing"},
				{ID: id, Status: "Pushing", ProgressDetail: &api.ProgressDetail{Current: im.size(), Total: im.size()}},
				{ID: id, Status: "Pushed"},
			} {
				if err := out.Write(m); err != nil {
					return err
				}
			}
		}
		d := manifestDigest(im)
		const size = 527
		f.mu.Lock()
		f.registries().images[full] = remoteImage{im: im, digest: d}
		digested := reference.FamiliarName(named) + "@" + d
		if !contains(im.RepoDigests, digested) {
			im.RepoDigests = append(im.RepoDigests, digested)
			sort.Strings(im.RepoDigests)
		}
		f.mu.Unlock()
		tag := t[strings.LastIndex(t, ":")+1:]
		if err := out.Write(api.JSONMessage{Status: fmt.Sprintf("%s: digest: %s size: %d", tag, d, size)}); err != nil {
			return err
		}
		if err := out.Write(api.JSONMessage{Aux: map[string]any{"Tag": tag, "Digest": d, "Size": size}}); err != nil {
			return err
		}
	}
	return nil
}

// RegistryLogin checks auth against the fake registry's credentials.
func (f *Fake) RegistryLogin(_ context.Context, auth registry.AuthConfig) (registry.AuthResponse, error) {
	host := auth.ServerAddress
	if host == "" || strings.Contains(host, "index.docker.io") {
		host = "docker.io"
	}
	host = strings.TrimPrefix(strings.TrimPrefix(host, "https://"), "http://")
	host = strings.TrimSuffix(host, "/")
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.checkAuth(host, &auth); err != nil {
		return registry.AuthResponse{}, err
	}
	return registry.AuthResponse{Status: "Login Succeeded"}, nil
}

// DistributionInspect describes a remote image without pulling it.
func (f *Fake) DistributionInspect(_ context.Context, ref string, auth *registry.AuthConfig) (registry.DistributionInspect, error) {
	full, host := fullName(ref)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.checkAuth(host, auth); err != nil {
		return registry.DistributionInspect{}, err
	}
	ri, ok := f.registries().images[full]
	if !ok {
		return registry.DistributionInspect{}, errdefs.ErrNotFound.WithMessage(fmt.Sprintf("manifest for %s not found: manifest unknown: manifest unknown", ref))
	}
	return registry.DistributionInspect{
		Descriptor: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.Digest(ri.digest), Size: 527},
		Platforms:  []ocispec.Platform{{OS: "linux", Architecture: "amd64"}},
	}, nil
}
