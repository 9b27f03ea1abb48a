package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Spec describes a container's filesystem. It travels from the host to
// the container's init inside the spec that namespace.Release sends, so
// its fields are encoded as JSON.
type Spec struct {
	// Root is the host's path of the root filesystem directory.
	Root string `json:"root"`
	// Volumes are host files and directories to bind-mount into the
	// container (docker run -v).
	Volumes []Volume `json:"volumes,omitempty"`
	// Workdir is the container's working directory (docker run -w). Enter
	// creates it if the image lacks it, as Docker does; set
	// namespace.Command.Dir to it as well so that the command starts there.
	Workdir string `json:"workdir,omitempty"`
	// ReadonlyRootfs makes the root filesystem read-only (docker run
	// --read-only). Volumes, /dev, /dev/shm and the like stay writable.
	ReadonlyRootfs bool `json:"readonlyRootfs,omitempty"`
}

// Volume is a bind mount of a host file or directory into the container.
type Volume struct {
	// Source is the host's path: absolute, and it must exist.
	Source string `json:"source"`
	// Target is the path inside the container: absolute. It is created
	// (as a directory or an empty file, like Source) if it is missing.
	Target string `json:"target"`
	// ReadOnly makes the mount read-only in the container.
	ReadOnly bool `json:"readOnly,omitempty"`
}

// String gives v back in the form ParseVolume reads.
func (v Volume) String() string {
	s := v.Source + ":" + v.Target
	if v.ReadOnly {
		s += ":ro"
	}
	return s
}

// ParseVolume reads a -v argument, "HOST:CONTAINER[:ro|:rw]". HOST must be
// an absolute path that exists on this machine (berth has no named
// volumes); CONTAINER must be absolute. Without a mode the volume is
// writable.
func ParseVolume(s string) (Volume, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return Volume{}, fmt.Errorf("volume %q: want HOST:CONTAINER[:ro|:rw]", s)
	}
	v := Volume{Source: parts[0], Target: parts[1]}
	if len(parts) == 3 {
		switch parts[2] {
		case "ro":
			v.ReadOnly = true
		case "rw":
		default:
			return Volume{}, fmt.Errorf("volume %q: unknown mode %q (want ro or rw)", s, parts[2])
		}
	}
	if v.Source == "" || v.Target == "" {
		return Volume{}, fmt.Errorf("volume %q: want HOST:CONTAINER[:ro|:rw], both paths non-empty", s)
	}
	if err := v.validate(); err != nil {
		return Volume{}, fmt.Errorf("volume %q: %w", s, err)
	}
	v.Source = filepath.Clean(v.Source)
	v.Target = path.Clean(v.Target)
	if _, err := os.Stat(v.Source); err != nil {
		return Volume{}, fmt.Errorf("volume %q: host path: %w", s, err)
	}
	return v, nil
}

// validate checks the form of v's paths (not whether Source exists, which
// only the host can tell).
func (v Volume) validate() error {
	if !filepath.IsAbs(v.Source) {
		return fmt.Errorf("host path %q is not absolute (berth has no named volumes)", v.Source)
	}
	if !path.IsAbs(v.Target) {
		return fmt.Errorf("container path %q is not absolute", v.Target)
	}
	target := path.Clean(v.Target)
	if target == "/" {
		return errors.New("container path cannot be /: that is the root filesystem")
	}
	// /proc is the kernel's: a volume there could cover the files that
	// Enter masks (/proc/kcore) with writable ones. runc refuses it too.
	if target == "/proc" || strings.HasPrefix(target, "/proc/") {
		return fmt.Errorf("container path %s is inside /proc", target)
	}
	return nil
}

// Validate reports a spec that cannot work, before any container is
// started: relative paths, a root that is not a directory.
func (s Spec) Validate() error {
	if s.Root == "" {
		return errors.New("rootfs: no root directory given")
	}
	if !filepath.IsAbs(s.Root) {
		return fmt.Errorf("rootfs %q: not an absolute path", s.Root)
	}
	if filepath.Clean(s.Root) == "/" {
		return errors.New("rootfs /: the host's root cannot be a container's root")
	}
	fi, err := os.Stat(s.Root)
	if err != nil {
		return fmt.Errorf("rootfs: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("rootfs %s: not a directory", s.Root)
	}
	for _, v := range s.Volumes {
		if err := v.validate(); err != nil {
			return fmt.Errorf("volume %s: %w", v, err)
		}
	}
	if s.Workdir != "" && !path.IsAbs(s.Workdir) {
		return fmt.Errorf("working directory %q: not an absolute path", s.Workdir)
	}
	return nil
}

// VolumeList collects repeated -v flags. It implements flag.Value:
//
//	var vols rootfs.VolumeList
//	fs.Var(&vols, "v", "bind mount a volume: HOST:CONTAINER[:ro]")
type VolumeList []Volume

// String lists the volumes as a comma-separated string.
func (l *VolumeList) String() string {
	if l == nil {
		return ""
	}
	s := make([]string, len(*l))
	for i, v := range *l {
		s[i] = v.String()
	}
	return strings.Join(s, ",")
}

// Set parses one -v argument with ParseVolume and appends it.
func (l *VolumeList) Set(s string) error {
	v, err := ParseVolume(s)
	if err != nil {
		return err
	}
	*l = append(*l, v)
	return nil
}
