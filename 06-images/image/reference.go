package image

import (
	"fmt"
	"strconv"
	"strings"
)

// Reference is an image name with a tag: "busybox:latest",
// "localhost:5000/team/app:v2". berth has no registry, so the name is only
// a label, but it follows Docker's rules so that archives move between
// berth and Docker with their names intact.
type Reference struct {
	Name string // "busybox", "team/app", "localhost:5000/team/app"
	Tag  string // "latest" when none was given
}

// DefaultTag is the tag of a name given without one.
const DefaultTag = "latest"

// String is "name:tag".
func (r Reference) String() string { return r.Name + ":" + r.Tag }

// FullName is the reference as containerd and Docker 25+ write it in an
// OCI index (annotation io.containerd.image.name): a name without a
// registry is on docker.io, and one without a path is in library/.
func (r Reference) FullName() string {
	name := r.Name
	if !hasRegistry(name) {
		if !strings.Contains(name, "/") {
			name = "library/" + name
		}
		name = "docker.io/" + name
	}
	return name + ":" + r.Tag
}

// hasRegistry says whether name starts with a registry host: a first
// path component, followed by more, that holds a "." or a ":" or is
// "localhost". Without one, a name is on docker.io.
func hasRegistry(name string) bool {
	first, _, hasSlash := strings.Cut(name, "/")
	return hasSlash && (strings.ContainsAny(first, ".:") || first == "localhost")
}

// shortName is Docker's short form of a name: without the docker.io
// registry, and without "library/" for an official image. Each is dropped
// only when what remains names the same image: "docker.io/docker.io/x"
// is the repository docker.io/x on Docker Hub, and its short form would
// be x on the registry docker.io; "library/a/b" is not an official image.
// (FuzzParseReference found the first: its short form did not read back
// as itself.)
func shortName(name string) string {
	for _, registry := range []string{"docker.io/", "index.docker.io/"} {
		if rest, ok := strings.CutPrefix(name, registry); ok {
			name = rest
			if hasRegistry(rest) {
				name = "docker.io/" + rest
			}
			break
		}
	}
	if rest, ok := strings.CutPrefix(name, "library/"); ok && !strings.Contains(rest, "/") {
		name = rest
	}
	return name
}

// ParseReference reads NAME[:TAG]. It accepts the long forms that archives
// carry ("docker.io/library/busybox:1.36") and gives back Docker's short
// form ("busybox:1.36"). Digest references (name@sha256:...) are refused:
// berth's store names images by tag or by ID.
func ParseReference(s string) (Reference, error) {
	if s == "" {
		return Reference{}, fmt.Errorf("image reference: empty")
	}
	if strings.Contains(s, "@") {
		return Reference{}, fmt.Errorf("image reference %q: digest references are not supported; use NAME[:TAG] or an image ID", s)
	}
	name, tag := s, DefaultTag
	// The tag is after the last colon, unless that colon is a registry's
	// port: then a slash follows it.
	if i := strings.LastIndex(s, ":"); i >= 0 && !strings.Contains(s[i+1:], "/") {
		name, tag = s[:i], s[i+1:]
	}
	if err := checkTag(tag); err != nil {
		return Reference{}, fmt.Errorf("image reference %q: %w", s, err)
	}
	name = shortName(name)
	if err := checkName(name); err != nil {
		return Reference{}, fmt.Errorf("image reference %q: %w", s, err)
	}
	return Reference{Name: name, Tag: tag}, nil
}

// checkHost checks a registry's host[:port]: DNS labels of letters,
// digits and inner hyphens joined by single dots, then a port of digits.
// "..", which a path component would take, is no host.
func checkHost(hostport string) error {
	host, port, hasPort := strings.Cut(hostport, ":")
	if hasPort {
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return fmt.Errorf("registry %q: invalid port %q", hostport, port)
		}
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("registry %q: not a host name", hostport)
		}
		for _, c := range label {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return fmt.Errorf("registry %q: invalid character %q in its host name", hostport, c)
			}
		}
	}
	return nil
}

// checkTag follows Docker: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.
func checkTag(tag string) error {
	if tag == "" || len(tag) > 128 {
		return fmt.Errorf("tag %q: want 1 to 128 characters", tag)
	}
	for i, c := range tag {
		ok := c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if i > 0 {
			ok = ok || c == '.' || c == '-'
		}
		if !ok {
			return fmt.Errorf("tag %q: invalid character %q", tag, c)
		}
	}
	return nil
}

// checkName follows Docker's grammar loosely: path components of lowercase
// letters and digits joined by ".", "_", "__" or "-", separated by "/",
// with an optional registry host (which may hold ":" and uppercase) first.
func checkName(name string) error {
	if name == "" || len(name) > 255 {
		return fmt.Errorf("name %q: want 1 to 255 characters", name)
	}
	parts := strings.Split(name, "/")
	for i, p := range parts {
		if p == "" {
			return fmt.Errorf("name %q: empty path component", name)
		}
		if i == 0 && len(parts) > 1 && (strings.ContainsAny(p, ".:") || p == "localhost") {
			// A registry host, "localhost:5000", "registry.example".
			if err := checkHost(p); err != nil {
				return fmt.Errorf("name %q: %w", name, err)
			}
			continue
		}
		for j, c := range p {
			alnum := 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
			sep := c == '.' || c == '_' || c == '-'
			if !alnum && !sep {
				return fmt.Errorf("name %q: invalid character %q (names are lowercase)", name, c)
			}
			if sep && (j == 0 || j == len(p)-1) {
				return fmt.Errorf("name %q: a component cannot start or end with %q", name, c)
			}
		}
	}
	// A 64-hex-digit name would be mistaken for an image ID.
	if isHex(name, 64) {
		return fmt.Errorf("name %q: cannot be 64 hex digits, the form of an image ID", name)
	}
	return nil
}
