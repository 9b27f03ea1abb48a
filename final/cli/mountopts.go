package cli

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/mount"
)

// parseMount reads a --mount value, comma-separated KEY=VALUE fields as
// docker takes them:
//
//	type=bind|volume|tmpfs            (volume by default)
//	source|src=..., target|dst|destination=..., readonly|ro[=true|false]
//	bind-propagation=..., bind-recursive=enabled|disabled|writable|readonly
//	volume-nocopy, volume-label=K=V, volume-driver=..., volume-opt=K=V, volume-subpath=...
//	tmpfs-size=64m, tmpfs-mode=1777
//
// Everything is passed on; what the daemon does not apply, it refuses.
func parseMount(value string) (mount.Mount, error) {
	r := csv.NewReader(strings.NewReader(value))
	fields, err := r.Read()
	if err != nil {
		return mount.Mount{}, fmt.Errorf("invalid argument %q for \"--mount\" flag: %w", value, err)
	}
	m := mount.Mount{Type: mount.TypeVolume}
	for _, f := range fields {
		key, val, hasValue := strings.Cut(f, "=")
		key = strings.ToLower(strings.TrimSpace(key))
		if !hasValue && !isBoolMountKey(key) {
			return m, fmt.Errorf("invalid field '%s' must be a key=value pair", f)
		}
		if err := setMountField(&m, key, val, hasValue); err != nil {
			return m, fmt.Errorf("invalid argument %q for \"--mount\" flag: %w", value, err)
		}
	}
	if m.Target == "" {
		return m, fmt.Errorf("invalid argument %q for \"--mount\" flag: target is required", value)
	}
	if m.Type == mount.TypeBind && m.Source != "" && !filepath.IsAbs(m.Source) {
		abs, err := filepath.Abs(m.Source) // the daemon does not know our working directory
		if err == nil {
			m.Source = abs
		}
	}
	return m, nil
}

func isBoolMountKey(key string) bool {
	switch key {
	case "readonly", "ro", "volume-nocopy", "bind-nonrecursive":
		return true
	}
	return false
}

// setMountField sets one KEY=VALUE field of a --mount value.
func setMountField(m *mount.Mount, key, val string, hasValue bool) error {
	flag := func() (bool, error) {
		if !hasValue {
			return true, nil
		}
		return strconv.ParseBool(val)
	}
	bind := func() *mount.BindOptions {
		if m.BindOptions == nil {
			m.BindOptions = &mount.BindOptions{}
		}
		return m.BindOptions
	}
	vol := func() *mount.VolumeOptions {
		if m.VolumeOptions == nil {
			m.VolumeOptions = &mount.VolumeOptions{}
		}
		return m.VolumeOptions
	}
	tmpfs := func() *mount.TmpfsOptions {
		if m.TmpfsOptions == nil {
			m.TmpfsOptions = &mount.TmpfsOptions{}
		}
		return m.TmpfsOptions
	}
	var err error
	switch key {
	case "type":
		m.Type = mount.Type(strings.ToLower(val))
	case "source", "src":
		m.Source = val
	case "target", "dst", "destination":
		m.Target = val
	case "readonly", "ro":
		m.ReadOnly, err = flag()
	case "consistency":
		m.Consistency = mount.Consistency(val)
	case "bind-propagation":
		bind().Propagation = mount.Propagation(strings.ToLower(val))
	case "bind-nonrecursive":
		bind().NonRecursive, err = flag()
	case "bind-recursive":
		switch val {
		case "enabled":
		case "disabled":
			bind().NonRecursive = true
		case "writable":
			bind().ReadOnlyNonRecursive = true
		case "readonly":
			bind().ReadOnlyForceRecursive = true
		default:
			return fmt.Errorf("invalid value for %s: %s (must be enabled, disabled, writable or readonly)", key, val)
		}
	case "bind-create-src":
		bind().CreateMountpoint, err = flag()
	case "volume-nocopy":
		vol().NoCopy, err = flag()
	case "volume-subpath":
		vol().Subpath = val
	case "volume-label":
		k, v, _ := strings.Cut(val, "=")
		if vol().Labels == nil {
			m.VolumeOptions.Labels = map[string]string{}
		}
		m.VolumeOptions.Labels[k] = v
	case "volume-driver":
		if vol().DriverConfig == nil {
			m.VolumeOptions.DriverConfig = &mount.Driver{}
		}
		m.VolumeOptions.DriverConfig.Name = val
	case "volume-opt":
		if vol().DriverConfig == nil {
			m.VolumeOptions.DriverConfig = &mount.Driver{}
		}
		if m.VolumeOptions.DriverConfig.Options == nil {
			m.VolumeOptions.DriverConfig.Options = map[string]string{}
		}
		k, v, _ := strings.Cut(val, "=")
		m.VolumeOptions.DriverConfig.Options[k] = v
	case "tmpfs-size":
		tmpfs().SizeBytes, err = units.RAMInBytes(val)
	case "tmpfs-mode":
		var mode uint64
		mode, err = strconv.ParseUint(val, 8, 32)
		tmpfs().Mode = os.FileMode(mode)
	default:
		return fmt.Errorf("unexpected key '%s'", key)
	}
	if err != nil {
		return fmt.Errorf("invalid value for %s: %s", key, val)
	}
	return nil
}

// parseTmpfs reads --tmpfs values, "/path[:OPTIONS]", into
// HostConfig.Tmpfs.
func parseTmpfs(values []string) (map[string]string, error) {
	if len(values) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, v := range values {
		dst, opts, _ := strings.Cut(v, ":")
		if !filepath.IsAbs(dst) {
			return nil, fmt.Errorf("invalid tmpfs: '%s': mount path must be absolute", v)
		}
		out[dst] = opts
	}
	return out, nil
}
