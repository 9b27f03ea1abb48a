package daemon

import (
	"context"
	"errors"
	"net/netip"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	moby "github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/registry"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-project/berth/06-images/image"
	reg "github.com/berth-project/berth/06-images/registry"
	"github.com/berth-project/berth/final/api"
)

// The registry half of api.Backend: docker pull, push, login and
// manifest inspection, done by chapter 06's registry client (d.registry)
// into and out of chapter 06's store. The daemon adds three things: the
// client's credentials, which come with each request (X-Registry-Auth)
// and are never looked up anywhere else; the progress, passed on as the
// JSON messages dockerd sends; and the kinds of the registry's refusals,
// which the API server turns into 404, 401 and 400.
//
// A pull or a push holds no lock of the daemon's for its duration: the
// store takes its own lock for the moment it commits an image, so that
// every other request (ps, run, another pull) goes on meanwhile.

// registryClient makes the daemon's registry client from its options.
func registryClient(opts Options) (*reg.Client, error) {
	return reg.New(reg.Config{
		Insecure:  opts.InsecureRegistries,
		Mirrors:   opts.RegistryMirrors,
		CertsDirs: opts.CertsDirs,
		UserAgent: "berth/" + opts.Version,
	})
}

// registryAuth converts the client's credentials. No credentials is an
// empty AuthConfig, never nil: nil would make chapter 06's client read a
// docker config file (the right thing for the chapter's program, run by
// the user), and a daemon uses no one's credentials but the client's.
func registryAuth(a *registry.AuthConfig) *reg.AuthConfig {
	if a == nil {
		return &reg.AuthConfig{}
	}
	return &reg.AuthConfig{
		Username:      a.Username,
		Password:      a.Password,
		Auth:          a.Auth,
		ServerAddress: a.ServerAddress,
		IdentityToken: a.IdentityToken,
		RegistryToken: a.RegistryToken,
	}
}

// registryError gives a registry client's error the kind the API server
// answers: no such repository, tag or digest 404 (which `docker run`
// reads as "not found anywhere"), credentials refused or wanted 401, a
// malformed name or a manifest berth refuses 400. The message is the
// client's, which says which registry said what.
func registryError(err error) error {
	switch {
	case err == nil:
		return nil
	case errdefs.IsNotFound(err) || errdefs.IsUnauthorized(err) || errdefs.IsInvalidArgument(err):
		return err
	case errors.Is(err, reg.ErrNotFound):
		return giveKind(errdefs.ErrNotFound, err)
	case errors.Is(err, reg.ErrUnauthorized):
		return giveKind(errdefs.ErrUnauthenticated, err)
	case errors.Is(err, reg.ErrInvalidReference), errors.Is(err, reg.ErrUnsupported):
		return giveKind(errdefs.ErrInvalidArgument, err)
	}
	return err
}

// progressTo passes the registry client's progress on to out as
// dockerd's JSON messages. A message about a layer carries a
// progressDetail always, empty without numbers, as dockerd's do. The
// first failed write (the client went away) is kept: the caller stops
// and reports it. (The client says "Pulling from REPO" only once the
// manifest is in, as dockerd: a tag the registry does not have is then
// an ordinary HTTP 404, before the stream begins.)
type progressTo struct {
	out api.JSONStream
	err error
}

func (p *progressTo) report(pr reg.Progress) {
	if p.err != nil {
		return
	}
	msg := api.JSONMessage{ID: pr.ID, Status: pr.Status}
	switch {
	case pr.Aux != nil:
		msg = api.JSONMessage{Aux: pr.Aux}
	case pr.ID != "" || pr.Current > 0 || pr.Total > 0:
		msg.ProgressDetail = &api.ProgressDetail{Current: pr.Current, Total: pr.Total}
	}
	p.err = p.out.Write(msg)
}

// ImagePull pulls ref into the store.
func (d *Daemon) ImagePull(ctx context.Context, ref string, opts api.PullOptions, out api.JSONStream) error {
	p := &progressTo{out: out}
	pulled, err := d.registry.Pull(ctx, d.images, ref, reg.PullOptions{
		Platform: opts.Platform,
		AllTags:  opts.AllTags,
		Auth:     registryAuth(opts.Auth),
		Progress: p.report,
	})
	if err == nil {
		err = p.err
	}
	if err == nil {
		d.emitPulled(ref, opts.AllTags, pulled)
	}
	if errors.Is(err, reg.ErrUnauthorized) {
		// dockerd answers a pull the registry refused ("pull access
		// denied for ..., repository does not exist or may require
		// 'docker login'") with 404, as for a repository that is not
		// there: a registry does not tell the two apart for a client
		// without the right credentials. A 401 would make the docker
		// CLI 28 ask for a login on its standard input, and wait there
		// when that is no terminal.
		return giveKind(errdefs.ErrNotFound, err)
	}
	return registryError(err)
}

// ImagePush pushes ref from the store.
func (d *Daemon) ImagePush(ctx context.Context, ref string, opts api.PushOptions, out api.JSONStream) error {
	if !opts.AllTags {
		if _, err := d.images.Get(ref); errors.Is(err, image.ErrNotFound) {
			// dockerd's words and order: the repository line, then
			// the error in the stream.
			name := ref
			if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
				name = ref[:i]
			}
			full := name
			if r, perr := image.ParseReference(ref); perr == nil {
				full = strings.TrimSuffix(r.FullName(), ":"+r.Tag)
			}
			if err := out.Write(api.JSONMessage{Status: "The push refers to repository [" + full + "]"}); err != nil {
				return err
			}
			return errdefs.ErrNotFound.WithMessage("An image does not exist locally with the tag: " + name)
		}
	}
	p := &progressTo{out: out}
	_, err := d.registry.Push(ctx, d.images, ref, reg.PushOptions{
		AllTags:  opts.AllTags,
		Auth:     registryAuth(opts.Auth),
		Progress: p.report,
	})
	if err == nil {
		err = p.err
	}
	if err == nil {
		if named, perr := reference.ParseNormalizedNamed(ref); perr == nil {
			d.emitImage(reference.FamiliarString(named), reference.FamiliarName(named), moby.ActionPush)
		}
	}
	return registryError(err)
}

// emitPulled reports a pull as dockerd does: one event, named by the
// reference pulled (its tag or digest; the repository alone for
// --all-tags), with the image's labels.
func (d *Daemon) emitPulled(ref string, allTags bool, pulled []reg.PullResult) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return
	}
	id := reference.FamiliarName(named)
	if !allTags && len(pulled) == 1 {
		id = pulled[0].Ref
	}
	d.emitImage(id, reference.FamiliarName(named), moby.ActionPull)
}

// RegistryLogin checks the credentials against their registry. Nothing
// is kept: the client stores them.
func (d *Daemon) RegistryLogin(ctx context.Context, auth registry.AuthConfig) (registry.AuthResponse, error) {
	token, err := d.registry.Login(ctx, *registryAuth(&auth))
	if err != nil {
		return registry.AuthResponse{}, registryError(err)
	}
	return registry.AuthResponse{Status: "Login Succeeded", IdentityToken: token}, nil
}

// DistributionInspect asks the registry for ref's manifest.
func (d *Daemon) DistributionInspect(ctx context.Context, ref string, auth *registry.AuthConfig) (registry.DistributionInspect, error) {
	desc, err := d.registry.Inspect(ctx, ref, registryAuth(auth))
	if err != nil {
		return registry.DistributionInspect{}, registryError(err)
	}
	out := registry.DistributionInspect{
		Descriptor: ocispec.Descriptor{
			MediaType: desc.Descriptor.MediaType,
			Digest:    digest.Digest(desc.Descriptor.Digest),
			Size:      desc.Descriptor.Size,
		},
		Platforms: []ocispec.Platform{},
	}
	for _, p := range desc.Platforms {
		out.Platforms = append(out.Platforms, ocispec.Platform{
			Architecture: p.Architecture, OS: p.OS, OSVersion: p.OSVersion, OSFeatures: p.OSFeatures, Variant: p.Variant,
		})
	}
	return out, nil
}

// registryServiceConfig is `docker info`'s RegistryConfig, as dockerd
// fills it: the insecure CIDRs given, then 127.0.0.0/8 (loopback is
// always insecure; dockerd lists only the IPv4 block, and so does berth,
// though ::1 is insecure too), an index entry for Docker Hub with the
// mirrors, and one for each insecure registry given by name.
func registryServiceConfig(opts Options) *registry.ServiceConfig {
	cfg := &registry.ServiceConfig{
		InsecureRegistryCIDRs: []netip.Prefix{},
		IndexConfigs: map[string]*registry.IndexInfo{
			"docker.io": {Name: "docker.io", Mirrors: append([]string{}, opts.RegistryMirrors...), Secure: true, Official: true},
		},
		Mirrors: append([]string{}, opts.RegistryMirrors...),
	}
	add := func(p netip.Prefix) {
		for _, have := range cfg.InsecureRegistryCIDRs {
			if have == p {
				return
			}
		}
		cfg.InsecureRegistryCIDRs = append(cfg.InsecureRegistryCIDRs, p)
	}
	for _, entry := range opts.InsecureRegistries {
		if p, err := netip.ParsePrefix(entry); err == nil {
			add(p.Masked())
			continue
		}
		host := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(entry, "http://"), "https://"), "/")
		cfg.IndexConfigs[host] = &registry.IndexInfo{Name: host, Mirrors: []string{}, Secure: false, Official: false}
	}
	add(netip.MustParsePrefix("127.0.0.0/8"))
	return cfg
}
