package ociruntime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
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
	abs, b, err := readBundle(dir)
	if err != nil {
		return nil, err
	}
	return parseBundle(abs, b)
}

// readBundle returns the bundle's absolute path and its config.json.
func readBundle(dir string) (abs string, config []byte, err error) {
	abs, err = filepath.Abs(dir)
	if err != nil {
		return "", nil, fmt.Errorf("bundle %s: %w", dir, err)
	}
	b, err := os.ReadFile(filepath.Join(abs, "config.json"))
	if err != nil {
		return "", nil, fmt.Errorf("bundle %s: %w", abs, err)
	}
	return abs, b, nil
}

// parseBundle decodes and checks the config.json of the bundle at abs.
func parseBundle(abs string, b []byte) (*Bundle, error) {
	spec, err := ParseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(abs, "config.json"), err)
	}
	return &Bundle{Dir: abs, Config: b, Spec: spec}, nil
}

// ParseConfig decodes a config.json and refuses what berth does not
// apply.
func ParseConfig(b []byte) (*specs.Spec, error) {
	var spec specs.Spec
	// A property berth-runtime's spec does not know is one of two
	// things. In a config of this spec version or an older one it is an
	// extension, which the spec says a runtime MUST ignore
	// (config.md, "Extensibility"): it is, with a warning in the log.
	// In a config of a newer version it may be a feature berth lacks (a
	// later spec's linux.netDevices): dropping it would be accepting and
	// ignoring it, so it is refused, by name.
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		if !strings.Contains(err.Error(), "unknown field") {
			return nil, err
		}
		unknown := strings.TrimPrefix(err.Error(), "json: ")
		spec = specs.Spec{}
		if lerr := json.Unmarshal(b, &spec); lerr != nil {
			return nil, lerr
		}
		if newerSpec(spec.Version) {
			return nil, fmt.Errorf("%s: not supported by berth-runtime (runtime spec %s; this config is %s)", unknown, specs.Version, spec.Version)
		}
		Warn(fmt.Errorf("config.json: %s: ignored, as the runtime spec asks of an unknown property", unknown))
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
	// Without a uts namespace the names would be the host's. A joined
	// one (a pod's, which containerd's CRI makes every container of the
	// pod join, with the pod's hostname) takes them, as with runc.
	if s.Hostname != "" && !hasNamespace(l, specs.UTSNamespace) {
		return errors.New("hostname: set without a uts namespace of the container's")
	}
	if s.Domainname != "" && !hasNamespace(l, specs.UTSNamespace) {
		return errors.New("domainname: set without a uts namespace of the container's")
	}
	return nil
}

// newerSpec reports whether a config's ociVersion is newer than the
// runtime spec berth-runtime implements (specs.Version): major.minor.
// patch, a "-suffix" ignored; a version it cannot read counts as newer.
func newerSpec(v string) bool {
	have, ok1 := semver(specs.Version)
	want, ok2 := semver(v)
	if !ok1 || !ok2 {
		return true
	}
	for i := range have {
		if want[i] != have[i] {
			return want[i] > have[i]
		}
	}
	return false
}

// semver reads "1.2.3" (and "1.2.3-dev") as {1, 2, 3}.
func semver(v string) ([3]int, bool) {
	var out [3]int
	v, _, _ = strings.Cut(v, "-")
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return out, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return out, false
		}
		out[i] = n
	}
	return out, true
}

// hasNamespace reports whether l lists a namespace of type t, new or
// joined by path.
func hasNamespace(l *specs.Linux, t specs.LinuxNamespaceType) bool {
	for _, n := range l.Namespaces {
		if n.Type == t {
			return true
		}
	}
	return false
}
