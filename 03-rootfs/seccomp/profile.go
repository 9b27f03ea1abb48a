package seccomp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	moby "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Profile is the profile a container runs under, as docker run's
// --security-opt seccomp=... chooses it. The zero Profile is Docker's
// default profile.
type Profile struct {
	// Unconfined runs the container without any filter
	// (--security-opt seccomp=unconfined, and --privileged).
	Unconfined bool `json:"unconfined,omitempty"`
	// JSON is a custom profile in Docker's format: what the docker CLI
	// read from the file of --security-opt seccomp=FILE and sends. Empty
	// means Docker's default profile.
	JSON string `json:"json,omitempty"`
}

// Unconfined is the profile that installs no filter at all.
var Unconfined = Profile{Unconfined: true}

// String is the profile as --security-opt seccomp= would name it.
func (p Profile) String() string {
	switch {
	case p.Unconfined:
		return "unconfined"
	case p.JSON == "":
		return "builtin"
	}
	return "custom profile"
}

// ParseOption reads the value of --security-opt seccomp=VALUE as dockerd
// does: "unconfined", "builtin" (Docker's default), or the JSON of a
// profile (the CLI sends the file's content, not its name).
func ParseOption(value string) (Profile, error) {
	switch strings.TrimSpace(value) {
	case "unconfined":
		return Unconfined, nil
	case "builtin", "":
		return Profile{}, nil
	}
	p := Profile{JSON: value}
	// Checked now, so that a bad profile fails the create, not the start.
	if err := p.check(); err != nil {
		return Profile{}, err
	}
	return p, nil
}

// ReadProfile reads the argument of a --seccomp or --seccomp-profile flag:
// "unconfined", "builtin", or the path of a profile in Docker's JSON
// format.
func ReadProfile(arg string) (Profile, error) {
	if arg == "unconfined" || arg == "builtin" || arg == "" {
		return ParseOption(arg)
	}
	data, err := os.ReadFile(arg)
	if err != nil {
		return Profile{}, fmt.Errorf("seccomp profile: %w", err)
	}
	// Compacted as the docker CLI does before it sends the profile: the
	// profile's text is also the cache's key.
	var b bytes.Buffer
	if err := json.Compact(&b, data); err != nil {
		return Profile{}, fmt.Errorf("seccomp profile %s: %w", arg, err)
	}
	p, err := ParseOption(b.String())
	if err != nil {
		return Profile{}, fmt.Errorf("seccomp profile %s: %w", arg, err)
	}
	return p, nil
}

// rules resolves the profile for a container that keeps caps: Docker's
// profiles list some syscalls only for a capability (mount needs
// CAP_SYS_ADMIN), some only from a kernel version or for an architecture.
// moby's own code applies those conditions, so that berth decides exactly
// as dockerd does; what is left is a plain list of rules.
func (p Profile) rules(caps []string) (*specs.LinuxSeccomp, error) {
	rs := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: caps}}}
	var (
		s   *specs.LinuxSeccomp
		err error
	)
	if p.JSON == "" {
		s, err = moby.GetDefaultProfile(rs)
	} else {
		s, err = moby.LoadProfile(p.JSON, rs)
	}
	if err != nil {
		return nil, fmt.Errorf("seccomp profile: %w", err)
	}
	if s == nil {
		// moby's answer for a profile with neither a default action nor
		// rules: no filter. dockerd runs such a container unconfined.
		return nil, nil
	}
	if s.ListenerPath != "" || len(s.ListenerMetadata) > 0 {
		return nil, errors.New("seccomp profile: listenerPath (SCMP_ACT_NOTIFY): berth has no seccomp agent")
	}
	return s, nil
}
