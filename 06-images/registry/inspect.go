package registry

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth-project/berth/06-images/image"
)

// Inspect resolves ref's manifest (or index) without pulling it: the
// descriptor the registry gives for it, and the platforms it offers
// (each entry of an index; a single image's, from its config).
func (c *Client) Inspect(ctx context.Context, ref string, auth *AuthConfig) (Descriptor, error) {
	named, err := parseNamed(ref)
	if err != nil {
		return Descriptor{}, err
	}
	named = reference.TagNameOnly(named)
	pl := &puller{c: c, named: named, auth: auth, rep: &reporter{}}
	var out Descriptor
	err = pl.withEndpoint(ctx, func(ep *endpoint) error {
		var r name.Reference
		if cn, ok := named.(reference.Canonical); ok {
			r = ep.repo.Digest(cn.Digest().String())
		} else {
			r = ep.repo.Tag(named.(reference.Tagged).Tag())
		}
		desc, err := remote.Get(r, remote.WithTransport(ep.rt), remote.WithContext(ctx))
		if err != nil {
			return &manifestError{pullError(reference.FamiliarName(named), reference.FamiliarString(named), err)}
		}
		out = Descriptor{}
		out.Descriptor.MediaType = string(desc.MediaType)
		out.Descriptor.Digest = desc.Digest.String()
		out.Descriptor.Size = desc.Size
		out.Platforms = []Platform{}
		switch string(desc.MediaType) {
		case image.MediaTypeOCIIndex, image.MediaTypeDockerList:
			var idx struct {
				Manifests []struct {
					Platform *Platform `json:"platform"`
				} `json:"manifests"`
			}
			if err := json.Unmarshal(desc.Manifest, &idx); err != nil {
				return fmt.Errorf("manifest list for %s: %w", ref, err)
			}
			for _, m := range idx.Manifests {
				if m.Platform != nil {
					out.Platforms = append(out.Platforms, *m.Platform)
				}
			}
		case image.MediaTypeOCIManifest, image.MediaTypeDockerManifest:
			var m image.Manifest
			if err := json.Unmarshal(desc.Manifest, &m); err != nil {
				return fmt.Errorf("manifest for %s: %w", ref, err)
			}
			if err := checkManifest(reference.FamiliarString(named), m); err != nil {
				return err
			}
			raw, err := pl.fetchConfig(ctx, ep, m.Config)
			if err != nil {
				return err
			}
			var p Platform
			if err := json.Unmarshal(raw, &p); err != nil {
				return fmt.Errorf("config of %s: %w", ref, err)
			}
			out.Platforms = append(out.Platforms, p)
		default:
			return newError(ErrUnsupported, fmt.Sprintf("%s: manifest media type %q is not an image", ref, desc.MediaType), nil)
		}
		return nil
	})
	return out, err
}
