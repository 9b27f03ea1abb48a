package ociruntime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Bundle is an OCI bundle as create reads it: the directory, the
// config.json's bytes (kept in the Record, for delete's poststop hooks
// and for exec), and the spec decoded from them.
type Bundle struct {
	Dir    string // absolute
	Config []byte
	Spec   *specs.Spec
}

// LoadBundle reads dir/config.json and checks what berth applies itself:
// the fields that no other part of the package translates are refused
// here, by name, when set (see refuseUnapplied). A relative dir is made
// absolute against the working directory, as runc does: the state
// reports the bundle's path, and hooks get it.
func LoadBundle(dir string) (*Bundle, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", dir, err)
	}
	path := filepath.Join(abs, "config.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", abs, err)
	}
	spec, err := ParseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &Bundle{Dir: abs, Config: b, Spec: spec}, nil
}

// ParseConfig decodes a config.json and refuses what berth does not
// apply.
func ParseConfig(b []byte) (*specs.Spec, error) {
	var spec specs.Spec
	// A field this version of the spec does not know (a newer spec's
	// linux.netDevices, a typo) would be dropped by a plain Unmarshal:
	// accepted and ignored. The decoder refuses it instead, by name.
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		if strings.Contains(err.Error(), "unknown field") {
			return nil, fmt.Errorf("%s: not supported by berth-runtime (runtime spec %s)", strings.TrimPrefix(err.Error(), "json: "), specs.Version)
		}
		return nil, err
	}
	if err := refuseUnapplied(&spec); err != nil {
		return nil, err
	}
	return &spec, nil
}

// refuseUnapplied returns an error naming the first field of spec that
// berth-runtime would otherwise accept and ignore. Fields that the
// security (R2: process.capabilities, seccomp, labels...), resources and
// rootfs (R4: mounts, masked paths...) translations own are refused
// there; this covers the rest: the spec's version, the process's
// scheduling knobs, the other platforms, the Linux features berth has
// no code for.
func refuseUnapplied(s *specs.Spec) error {
	if !strings.HasPrefix(s.Version, "1.") {
		return fmt.Errorf("ociVersion %q: berth-runtime reads runtime spec 1.x", s.Version)
	}
	if s.Process == nil {
		// create with no process is for a runtime's own "create the
		// namespaces now, exec into them later" use, which berth does
		// not have.
		return errors.New("process: missing (berth-runtime needs the container's process)")
	}
	p := s.Process
	switch {
	case len(p.Args) == 0:
		return errors.New("process.args: empty")
	case p.Cwd == "" || !filepath.IsAbs(p.Cwd):
		return fmt.Errorf("process.cwd %q: must be an absolute path", p.Cwd)
	case p.CommandLine != "":
		return errors.New("process.commandLine: not supported (Windows only)")
	case p.Scheduler != nil:
		return errors.New("process.scheduler: not supported")
	case p.IOPriority != nil:
		return errors.New("process.ioPriority: not supported")
	case p.ExecCPUAffinity != nil:
		return errors.New("process.execCPUAffinity: not supported")
	}
	switch {
	case s.Solaris != nil:
		return errors.New("solaris: not supported")
	case s.Windows != nil:
		return errors.New("windows: not supported")
	case s.VM != nil:
		return errors.New("vm: not supported")
	case s.ZOS != nil:
		return errors.New("zos: not supported")
	case s.Linux == nil:
		return errors.New("linux: missing (berth-runtime runs Linux containers)")
	}
	l := s.Linux
	switch {
	case l.IntelRdt != nil:
		return errors.New("linux.intelRdt: not supported")
	case l.Personality != nil:
		return errors.New("linux.personality: not supported")
	case len(l.TimeOffsets) > 0:
		return errors.New("linux.timeOffsets: not supported (no time namespace)")
	}
	if s.Hostname != "" && !hasNewNamespace(l, specs.UTSNamespace) {
		return errors.New("hostname: set without a new uts namespace of the container's own")
	}
	if s.Domainname != "" && !hasNewNamespace(l, specs.UTSNamespace) {
		return errors.New("domainname: set without a new uts namespace of the container's own")
	}
	return nil
}

// hasNewNamespace reports whether l asks for a new namespace of kind t
// (listed, without a path).
func hasNewNamespace(l *specs.Linux, t specs.LinuxNamespaceType) bool {
	for _, ns := range l.Namespaces {
		if ns.Type == t && ns.Path == "" {
			return true
		}
	}
	return false
}
