package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// VolumeType is how a Volume is mounted.
type VolumeType string

const (
	// TypeBind binds a host file or directory (-v /host:/path). It is
	// also what the zero value means.
	TypeBind VolumeType = "bind"
	// TypeVolume binds a named volume's directory (-v NAME:/path, or
	// -v /path for an anonymous one). Chapter 04's volume store turns
	// the name into Source; until then Source is empty and Enter
	// refuses the volume.
	TypeVolume VolumeType = "volume"
	// TypeTmpfs mounts a new, empty tmpfs (--tmpfs /path): memory that
	// is gone when the container stops.
	TypeTmpfs VolumeType = "tmpfs"
)

// Volume is a mount of something that is not the image into the
// container: a host path, a named volume's directory, or a tmpfs.
type Volume struct {
	// Type is bind ("" too), volume or tmpfs.
	Type VolumeType `json:"type,omitempty"`
	// Name is a TypeVolume's name; "" for an anonymous volume that is
	// yet to be created.
	Name string `json:"name,omitempty"`
	// Source is the host's path: absolute, and it must exist. A tmpfs
	// has none.
	Source string `json:"source,omitempty"`
	// Target is the path inside the container: absolute. It is created
	// (as a directory or an empty file, like Source) if it is missing.
	Target string `json:"target"`
	// ReadOnly makes the mount read-only in the container.
	ReadOnly bool `json:"readOnly,omitempty"`
	// Propagation is a bind's mount propagation (rprivate when empty):
	// private, rprivate, shared, rshared, slave or rslave.
	Propagation string `json:"propagation,omitempty"`
	// NoCopy leaves a new TypeVolume empty: without it chapter 04 fills
	// an empty volume with what the image has at Target (copy-up).
	NoCopy bool `json:"noCopy,omitempty"`
	// Tmpfs are a tmpfs's options, as --tmpfs takes them: size=,
	// mode=, uid=, gid=, nr_inodes= and the flags ro, rw, exec,
	// noexec, suid, nosuid, dev, nodev. noexec, nosuid and nodev apply
	// unless the options say otherwise, as in Docker.
	Tmpfs []string `json:"tmpfs,omitempty"`
}

// ValidVolumeName is Docker's rule for volume names. A name is one path
// component on the host (<root>/volumes/NAME): no "/", and no "." or
// ".." either, since the first character must be a letter or digit.
var ValidVolumeName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// String gives v back in the form ParseVolume (or, for a tmpfs,
// ParseTmpfs) reads.
func (v Volume) String() string {
	var s string
	switch v.Type {
	case TypeTmpfs:
		s = v.Target
		if len(v.Tmpfs) > 0 {
			s += ":" + strings.Join(v.Tmpfs, ",")
		}
		return s
	case TypeVolume:
		s = v.Target
		if v.Name != "" {
			s = v.Name + ":" + v.Target
		}
	default:
		s = v.Source + ":" + v.Target
	}
	var mode []string
	if v.ReadOnly {
		mode = append(mode, "ro")
	}
	if v.NoCopy {
		mode = append(mode, "nocopy")
	}
	if v.Propagation != "" {
		mode = append(mode, v.Propagation)
	}
	if len(mode) > 0 {
		s += ":" + strings.Join(mode, ",")
	}
	return s
}

// ParseVolume reads a -v argument:
//
//	/path                         an anonymous volume
//	NAME:/path[:MODE]             a named volume
//	/host/path:/path[:MODE]       a bind mount of a host path
//
// MODE is a comma-separated list: ro or rw (the default); nocopy, for a
// volume that must not be filled from the image; for a bind, one
// propagation (private, rprivate, shared, rshared, slave, rslave); z or
// Z (SELinux relabelling, see relabel). HOST must exist on this machine.
func ParseVolume(s string) (Volume, error) {
	parts := strings.Split(s, ":")
	if len(parts) > 3 || slices.Contains(parts, "") {
		return Volume{}, fmt.Errorf("volume %q: want [HOST-PATH|NAME:]CONTAINER-PATH[:MODE], no part empty", s)
	}
	var v Volume
	switch {
	case len(parts) == 1:
		v = Volume{Type: TypeVolume, Target: parts[0]}
	case strings.HasPrefix(parts[0], "/"):
		v = Volume{Type: TypeBind, Source: parts[0], Target: parts[1]}
	case ValidVolumeName.MatchString(parts[0]):
		v = Volume{Type: TypeVolume, Name: parts[0], Target: parts[1]}
	default:
		return Volume{}, fmt.Errorf("volume %q: %q is neither an absolute host path nor a valid volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]+)", s, parts[0])
	}
	if len(parts) == 3 {
		if err := v.setMode(parts[2]); err != nil {
			return Volume{}, fmt.Errorf("volume %q: %w", s, err)
		}
	}
	return v.Check()
}

// setMode applies a -v mode list to v.
func (v *Volume) setMode(mode string) error {
	rw := 0
	for _, m := range strings.Split(mode, ",") {
		switch m {
		case "ro", "rw":
			rw++
			v.ReadOnly = m == "ro"
		case "nocopy":
			if v.Type != TypeVolume {
				return errors.New("nocopy applies to volumes, not to bind mounts")
			}
			v.NoCopy = true
		case "z", "Z":
			if err := relabel(m); err != nil {
				return err
			}
		case "private", "rprivate", "shared", "rshared", "slave", "rslave":
			if v.Type != TypeBind {
				return fmt.Errorf("propagation %s applies to bind mounts, not to volumes", m)
			}
			if v.Propagation != "" {
				return fmt.Errorf("two propagations: %s and %s", v.Propagation, m)
			}
			v.Propagation = m
		default:
			return fmt.Errorf("unknown mode %q (want ro, rw, nocopy, z, Z or a propagation)", m)
		}
	}
	if rw > 1 {
		return fmt.Errorf("mode %q: ro and rw given more than once", mode)
	}
	return nil
}

// selinuxEnforce is where the kernel shows SELinux, if it runs.
const selinuxEnforce = "/sys/fs/selinux/enforce"

// relabel is -v's z or Z: with SELinux, Docker relabels the source so
// that the container may use it (z shared between containers, Z private
// to one). Without SELinux there are no labels, and Docker does nothing;
// so does berth. With SELinux running the option is refused: berth
// labels nothing, and a mount that SELinux then denies would be a
// mystery.
func relabel(mode string) error {
	if _, err := os.Stat(selinuxEnforce); err == nil {
		return fmt.Errorf("mode %s: SELinux is enabled on this host and berth does not relabel volumes", mode)
	}
	return nil
}

// ParseTmpfs reads a --tmpfs argument, "/path[:OPTIONS]", OPTIONS as
// Volume.Tmpfs describes them.
func ParseTmpfs(s string) (Volume, error) {
	target, opts, _ := strings.Cut(s, ":")
	v := Volume{Type: TypeTmpfs, Target: target}
	if opts != "" {
		v.Tmpfs = strings.Split(opts, ",")
	}
	return v.Check()
}

// Check validates v and cleans its paths: the form of every field, and
// that a bind's source exists (which only the host can tell).
func (v Volume) Check() (Volume, error) {
	if v.Type == "" {
		v.Type = TypeBind
	}
	if err := v.validate(); err != nil {
		return Volume{}, fmt.Errorf("volume %s: %w", v, err)
	}
	v.Target = path.Clean(v.Target)
	if v.Source != "" {
		v.Source = filepath.Clean(v.Source)
		if _, err := os.Stat(v.Source); err != nil {
			return Volume{}, fmt.Errorf("volume %s: host path: %w", v, err)
		}
	}
	return v, nil
}

// validate checks the form of v's fields.
func (v Volume) validate() error {
	switch v.Type {
	case "", TypeBind:
		if !filepath.IsAbs(v.Source) {
			return fmt.Errorf("host path %q is not absolute", v.Source)
		}
	case TypeVolume:
		if v.Name != "" && !ValidVolumeName.MatchString(v.Name) {
			return fmt.Errorf("invalid volume name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-]+ are allowed", v.Name)
		}
		if v.Source != "" && !filepath.IsAbs(v.Source) {
			return fmt.Errorf("volume directory %q is not absolute", v.Source)
		}
	case TypeTmpfs:
		if v.Source != "" {
			return errors.New("a tmpfs has no source")
		}
		if _, _, err := tmpfsOptions(v.Tmpfs); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown volume type %q (want bind, volume or tmpfs)", v.Type)
	}
	if v.Propagation != "" {
		if _, ok := propagations[v.Propagation]; !ok || v.Type == TypeTmpfs || v.Type == TypeVolume {
			return fmt.Errorf("propagation %q: only bind mounts take one of private, rprivate, shared, rshared, slave, rslave", v.Propagation)
		}
	}
	if v.NoCopy && v.Type != TypeVolume {
		return errors.New("nocopy applies to volumes only")
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

// tmpfsKeys are the tmpfs options that go to the kernel as data; the
// value is checked by the kernel, but must be there.
var tmpfsKeys = []string{"size", "mode", "uid", "gid", "nr_inodes", "nr_blocks"}

// tmpfsOptions splits a tmpfs's options into mount flags and data.
// noexec, nosuid and nodev are the default: a tmpfs is scratch space,
// not a place for programs or devices.
func tmpfsOptions(opts []string) (flags uintptr, data string, err error) {
	set := map[string]bool{"exec": false, "suid": false, "dev": false, "ro": false}
	var kv []string
	for _, o := range opts {
		key, value, hasValue := strings.Cut(o, "=")
		if hasValue {
			if !slices.Contains(tmpfsKeys, key) || value == "" {
				return 0, "", fmt.Errorf("tmpfs option %q is not supported (want %s=VALUE or a flag)", o, strings.Join(tmpfsKeys, "=, "))
			}
			if key == "mode" {
				if _, perr := strconv.ParseUint(value, 8, 32); perr != nil {
					return 0, "", fmt.Errorf("tmpfs option %q: mode must be octal", o)
				}
			}
			kv = append(kv, o)
			continue
		}
		switch o {
		case "exec", "suid", "dev", "ro":
			set[o] = true
		case "noexec", "nosuid", "nodev":
			set[o[2:]] = false
		case "rw":
			set["ro"] = false
		default:
			return 0, "", fmt.Errorf("tmpfs option %q is not supported", o)
		}
	}
	return tmpfsFlags(set), strings.Join(kv, ","), nil
}

// VolumeList collects repeated -v flags. It implements flag.Value:
//
//	var vols rootfs.VolumeList
//	fs.Var(&vols, "v", "a volume: [HOST:|NAME:]CONTAINER[:MODE]")
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

// TmpfsList collects repeated --tmpfs flags into the same list as -v
// (a flag.Value, like VolumeList).
type TmpfsList []Volume

// String lists the tmpfs mounts as a space-separated string.
func (l *TmpfsList) String() string {
	if l == nil {
		return ""
	}
	s := make([]string, len(*l))
	for i, v := range *l {
		s[i] = v.String()
	}
	return strings.Join(s, " ")
}

// Set parses one --tmpfs argument with ParseTmpfs and appends it.
func (l *TmpfsList) Set(s string) error {
	v, err := ParseTmpfs(s)
	if err != nil {
		return err
	}
	*l = append(*l, v)
	return nil
}
