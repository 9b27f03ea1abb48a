package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/registry"

	"github.com/berth-project/berth/06-images/image"
)

// The registry endpoints: pull (POST /images/create?fromImage=), push
// (POST /images/{name}/push), login (POST /auth) and GET
// /distribution/{name}/json. The server reads the client's words (query,
// headers, body) into a reference and options; the backend talks to the
// registry.
//
// Credentials never live in the daemon: every request that reaches a
// registry carries its own, in the X-Registry-Auth header (base64url of
// an AuthConfig's JSON), or goes without. The docker CLI reads them from
// the user's ~/.docker/config.json (or its credential helper) and sends
// them; the daemon, like dockerd, never reads a config file of its own.

// decodeRegistryAuth reads the X-Registry-Auth header. The docker CLI
// writes base64url with padding, other clients without; both are read.
// An empty header, or one whose JSON is {} (what the CLI sends when the
// user has no credentials for the registry), means none: nil.
func decodeRegistryAuth(header string) (*registry.AuthConfig, error) {
	header = strings.TrimSpace(header)
	if header == "" {
		return nil, nil
	}
	data, err := decodeBase64URL(header)
	if err != nil {
		return nil, invalid("invalid X-Registry-Auth header: not base64url: " + err.Error())
	}
	var auth registry.AuthConfig
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&auth); err != nil {
		return nil, invalid("invalid X-Registry-Auth header: " + err.Error())
	}
	if auth == (registry.AuthConfig{}) {
		return nil, nil
	}
	return &auth, nil
}

// decodeBase64URL decodes base64url with or without its padding, and
// plain base64 too: old clients used the standard alphabet, and a value
// without "-", "_", "+" or "/" is the same in both.
func decodeBase64URL(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "+/") {
		return base64.RawStdEncoding.DecodeString(s)
	}
	return base64.RawURLEncoding.DecodeString(s)
}

// decodeRegistryConfig reads a build's X-Registry-Config header: base64url
// of a JSON object from registry host to AuthConfig, every credential the
// client has (the builder does not know in advance which FROM lines name
// which registry). Empty means none.
func decodeRegistryConfig(header string) (map[string]registry.AuthConfig, error) {
	header = strings.TrimSpace(header)
	if header == "" {
		return nil, nil
	}
	data, err := decodeBase64URL(header)
	if err != nil {
		return nil, invalid("invalid X-Registry-Config header: not base64url: " + err.Error())
	}
	var auths map[string]registry.AuthConfig
	if err := json.Unmarshal(data, &auths); err != nil {
		return nil, invalid("invalid X-Registry-Config header: " + err.Error())
	}
	if len(auths) == 0 {
		return nil, nil
	}
	return auths, nil
}

// pullReference turns fromImage and tag, as POST /images/create gets
// them, into the reference the backend pulls: "busybox:latest",
// "host:5000/team/app@sha256:...", or a name alone ("busybox") with
// allTags. Docker's rules: tag may be a tag or a digest; fromImage may
// carry either itself; a name with neither means every tag (the docker
// CLI sends tag=latest unless --all-tags, so only other clients reach
// that). A trailing ":" on fromImage is the old CLI's `pull -a` and is
// dropped.
func pullReference(fromImage, tag string) (ref string, allTags bool, err error) {
	fromImage = strings.TrimSuffix(fromImage, ":")
	name, digest, hasDigest := strings.Cut(fromImage, "@")
	if tag != "" {
		if strings.Contains(tag, ":") {
			if hasDigest && digest != tag {
				return "", false, invalid(fmt.Sprintf("invalid reference %q: it has a digest and tag=%q was given too", fromImage, tag))
			}
			digest, hasDigest = tag, true
		} else if hasDigest {
			return "", false, invalid(fmt.Sprintf("invalid reference %q: it has a digest and tag=%q was given too", fromImage, tag))
		}
	}
	if hasDigest {
		d, err := image.ParseDigest(digest)
		if err != nil {
			return "", false, invalid(fmt.Sprintf("invalid reference format: digest %q: %v", digest, err))
		}
		r, err := image.ParseReference(stripTag(name))
		if err != nil {
			return "", false, invalid("invalid reference format: " + err.Error())
		}
		return r.Name + "@" + d.String(), false, nil
	}
	hasTag := stripTag(name) != name
	if !hasTag && tag == "" {
		r, err := image.ParseReference(name)
		if err != nil {
			return "", false, invalid("invalid reference format: " + err.Error())
		}
		return r.Name, true, nil
	}
	repo, t, err := repoTag(name, tag)
	if err != nil {
		return "", false, err
	}
	return repo + ":" + t, false, nil
}

// stripTag drops NAME:TAG's tag, leaving a registry's port alone.
func stripTag(name string) string {
	if i := strings.LastIndex(name, ":"); i >= 0 && !strings.Contains(name[i+1:], "/") {
		return name[:i]
	}
	return name
}

// checkPlatform checks "os/arch[/variant]" (pull's platform parameter).
func checkPlatform(p string) error {
	parts := strings.Split(p, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return invalid(fmt.Sprintf("invalid platform %q: want os/arch[/variant]", p))
	}
	for _, part := range parts {
		if part == "" || strings.ToLower(part) != part {
			return invalid(fmt.Sprintf("invalid platform %q: want os/arch[/variant], lower case", p))
		}
	}
	return nil
}

// refuseQuery answers 400 naming the query parameters of q that the
// endpoint does not apply: a client that sends one expects it to act.
func refuseQuery(endpoint string, q map[string][]string, known ...string) error {
	var unknown []string
	for k := range q {
		if !slices.Contains(known, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return invalid(fmt.Sprintf("%s: berth does not apply the option(s) %s", endpoint, strings.Join(unknown, ", ")))
	}
	return nil
}

// imagePull serves POST /images/create?fromImage=NAME[&tag=TAG][&platform=P].
func (s *Server) imagePull(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := refuseQuery("pull", q, "fromImage", "tag", "platform"); err != nil {
		return err
	}
	ref, allTags, err := pullReference(q.Get("fromImage"), q.Get("tag"))
	if err != nil {
		return err
	}
	opts := PullOptions{AllTags: allTags, Platform: q.Get("platform")}
	if opts.Platform != "" {
		if err := checkPlatform(opts.Platform); err != nil {
			return err
		}
	}
	if opts.Auth, err = decodeRegistryAuth(r.Header.Get(registry.AuthHeader)); err != nil {
		return err
	}
	out := &progressStream{newJSONStream(w)}
	return s.finish(w, out.jsonStream, s.protect(r, func() error { return s.backend.ImagePull(r.Context(), ref, opts, out) }))
}

// imagePush serves POST /images/NAME/push[?tag=TAG]: without a tag,
// every tag of the repository goes, as in dockerd.
func (s *Server) imagePush(w http.ResponseWriter, r *http.Request, name string) error {
	q := r.URL.Query()
	if err := refuseQuery("push", q, "tag"); err != nil {
		return err
	}
	if strings.Contains(name, "@") {
		return invalid(fmt.Sprintf("push %s: an image is pushed by its tag, not by a digest", name))
	}
	tag := q.Get("tag")
	if strings.Contains(tag, ":") {
		return invalid(fmt.Sprintf("push %s: invalid tag %q (a digest cannot be pushed to)", name, tag))
	}
	opts := PushOptions{}
	var ref string
	if tag == "" && stripTag(name) == name {
		r, err := image.ParseReference(name)
		if err != nil {
			return invalid("invalid reference format: " + err.Error())
		}
		ref, opts.AllTags = r.Name, true
	} else {
		repo, t, err := repoTag(name, tag)
		if err != nil {
			return err
		}
		ref = repo + ":" + t
	}
	var err error
	if opts.Auth, err = decodeRegistryAuth(r.Header.Get(registry.AuthHeader)); err != nil {
		return err
	}
	out := &progressStream{newJSONStream(w)}
	return s.finish(w, out.jsonStream, s.protect(r, func() error { return s.backend.ImagePush(r.Context(), ref, opts, out) }))
}

// login serves POST /auth: the body is the AuthConfig to check. The
// daemon keeps nothing; the client stores the credentials (and the
// identity token, if the registry gave one) in its own config file.
func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	var auth registry.AuthConfig
	has, err := s.decodeJSON(w, r, &auth)
	if err != nil {
		return err
	}
	if !has {
		return invalid("login: the request body must be the credentials (an AuthConfig)")
	}
	resp, err := s.backend.RegistryLogin(r.Context(), auth)
	if err != nil {
		return err
	}
	if resp.Status == "" {
		resp.Status = "Login Succeeded"
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// distributionInspect serves GET /distribution/NAME/json: the manifest's
// descriptor and platforms, from the registry, without pulling.
func (s *Server) distributionInspect(w http.ResponseWriter, r *http.Request) error {
	name, action := splitAction(r.PathValue("name"), "json")
	if action != "json" {
		return notFound("page not found")
	}
	ref, all, err := pullReference(name, "")
	if err != nil {
		return err
	}
	if all {
		ref += ":" + image.DefaultTag
	}
	auth, err := decodeRegistryAuth(r.Header.Get(registry.AuthHeader))
	if err != nil {
		return err
	}
	desc, err := s.backend.DistributionInspect(r.Context(), ref, auth)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, desc)
	return nil
}

// progressStream completes each message that has numbers with dockerd's
// rendering of them (JSONMessage.Progress): clients that draw their own
// bar read progressDetail, older ones and scripts print the string.
type progressStream struct {
	*jsonStream
}

func (p *progressStream) Write(msg JSONMessage) error {
	if d := msg.ProgressDetail; d != nil && msg.Progress == "" {
		msg.Progress = ProgressString(d.Current, d.Total, 0)
	}
	return p.jsonStream.Write(msg)
}
