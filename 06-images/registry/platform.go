package registry

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/berth-project/berth/06-images/image"
)

// Choosing an image in a multi-platform index. An index (OCI) or a
// manifest list (Docker) lists one manifest per platform:
//
//	{"manifests": [
//	  {"digest": "sha256:aa..", "platform": {"os": "linux", "architecture": "amd64"}},
//	  {"digest": "sha256:bb..", "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
//	  {"digest": "sha256:cc..", "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}},
//	  {"digest": "sha256:dd..", "platform": {"os": "unknown", "architecture": "unknown"}}  <- an attestation
//	]}
//
// The rules are containerd's (which dockerd uses): the OS and the
// architecture must be equal, after the usual aliases (x86_64 is amd64,
// aarch64 is arm64). The variant is the architecture's version: amd64
// has none that counts (a variant there is ignored); arm64 without one
// is v8; 32-bit arm without one is v7. A machine runs its own variant and
// older ones, so linux/arm/v7 takes a v7 image first, else v6, else v5.
// Among equals, the first in the index wins.

// platform is a wanted or offered platform, normalised.
type platform struct {
	OS, Arch, Variant string
}

func (p platform) String() string {
	s := p.OS + "/" + p.Arch
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// hostPlatform is the machine's: berth runs Linux images.
func hostPlatform() platform { return normalize(platform{OS: "linux", Arch: runtime.GOARCH}) }

// parsePlatform reads "os/arch[/variant]" (or "arch" alone, for linux);
// "" is the host's.
func parsePlatform(s string) (platform, error) {
	if s == "" {
		return hostPlatform(), nil
	}
	parts := strings.Split(strings.ToLower(s), "/")
	var p platform
	switch len(parts) {
	case 1:
		p = platform{OS: "linux", Arch: parts[0]}
	case 2:
		p = platform{OS: parts[0], Arch: parts[1]}
	case 3:
		p = platform{OS: parts[0], Arch: parts[1], Variant: parts[2]}
	default:
		return platform{}, fmt.Errorf("%w: platform %q: want os/arch[/variant]", ErrUnsupported, s)
	}
	for _, x := range parts {
		if x == "" {
			return platform{}, fmt.Errorf("%w: platform %q: want os/arch[/variant]", ErrUnsupported, s)
		}
	}
	p = normalize(p)
	if p.OS != "linux" {
		return platform{}, fmt.Errorf("%w: platform %q: berth runs Linux images only", ErrUnsupported, s)
	}
	return p, nil
}

// normalize applies the aliases and default variants.
func normalize(p platform) platform {
	p.OS = strings.ToLower(p.OS)
	p.Arch = strings.ToLower(p.Arch)
	p.Variant = strings.ToLower(p.Variant)
	switch p.Arch {
	case "x86_64", "x86-64", "amd64":
		p.Arch, p.Variant = "amd64", ""
	case "i386", "i486", "i586", "i686", "386":
		p.Arch, p.Variant = "386", ""
	case "aarch64", "arm64":
		p.Arch = "arm64"
		if p.Variant == "8" || p.Variant == "" {
			p.Variant = "v8"
		}
	case "armhf":
		p.Arch, p.Variant = "arm", "v7"
	case "armel":
		p.Arch, p.Variant = "arm", "v6"
	case "arm":
		switch p.Variant {
		case "", "7":
			p.Variant = "v7"
		case "5", "6", "8":
			p.Variant = "v" + p.Variant
		}
	}
	return p
}

// rank says how well offered suits want: 0 not at all, higher is
// better.
func rank(want, offered platform) int {
	if want.OS != offered.OS || want.Arch != offered.Arch {
		return 0
	}
	if want.Variant == offered.Variant {
		return 100
	}
	if want.Arch == "arm" {
		// An older arm variant runs on a newer one.
		order := []string{"v5", "v6", "v7", "v8"}
		wi, oi := indexOf(order, want.Variant), indexOf(order, offered.Variant)
		if wi >= 0 && oi >= 0 && oi < wi {
			return 50 + oi
		}
		return 0
	}
	if want.Variant == "" {
		return 10 // any variant of an architecture that has no default
	}
	return 0
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// fromImage is the platform an entry of an index names.
func fromImage(p *image.Platform) platform {
	return normalize(platform{OS: p.OS, Arch: p.Architecture, Variant: p.Variant})
}

// choose picks the manifest for want among an index's entries.
func choose(want platform, entries []image.Descriptor) (image.Descriptor, error) {
	best, bestRank := -1, 0
	for i, d := range entries {
		if d.Platform == nil {
			continue
		}
		if r := rank(want, fromImage(d.Platform)); r > bestRank {
			best, bestRank = i, r
		}
	}
	if best < 0 {
		return image.Descriptor{}, fmt.Errorf("%w: no matching manifest for %s in the manifest list entries", ErrUnsupported, want)
	}
	return entries[best], nil
}
