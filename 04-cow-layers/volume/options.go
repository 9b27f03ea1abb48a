package volume

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/berth-project/berth/03-rootfs/rootfs"
)

// CheckOptions checks the local driver's options (docker volume create
// -o KEY=VALUE). berth's local driver makes three kinds of volume:
//
//	(none)                             a directory under the store (the usual)
//	type=tmpfs [device=tmpfs] [o=...]  a tmpfs; o= takes --tmpfs's options
//	                                   (size=, mode=, uid=, gid=, nr_inodes=, flags)
//	o=bind device=/host/path [type=none]  a host directory, bound
//
// Anything else (a block device, nfs, a type or key it does not know)
// is refused with the option named: Docker's local driver would mount
// it, and berth does not.
func CheckOptions(opts map[string]string) error {
	for k := range opts {
		if k != "type" && k != "o" && k != "device" {
			return fmt.Errorf("%w: option %q is not supported by the local driver (berth's takes type, o and device)", ErrInvalid, k)
		}
	}
	typ, o, device := opts["type"], opts["o"], opts["device"]
	switch {
	case typ == "" && o == "" && device == "":
		return nil
	case typ == "tmpfs":
		if device != "" && device != "tmpfs" {
			return fmt.Errorf("%w: device %q with type=tmpfs: a tmpfs has no device", ErrInvalid, device)
		}
		if _, err := rootfs.ParseTmpfs("/volume:" + o); o != "" && err != nil {
			return fmt.Errorf("%w: o=%s: %v", ErrInvalid, o, err)
		}
		return nil
	case typ != "" && typ != "none":
		return fmt.Errorf("%w: type=%s is not supported by berth's local driver (tmpfs, or o=bind with a device)", ErrInvalid, typ)
	}
	words := strings.Split(o, ",")
	if !slices.Contains(words, "bind") && !slices.Contains(words, "rbind") {
		return fmt.Errorf("%w: device=%q o=%q: berth's local driver mounts no devices, only binds (o=bind,device=/path) and tmpfs (type=tmpfs)", ErrInvalid, device, o)
	}
	for _, w := range words {
		if w != "bind" && w != "rbind" {
			return fmt.Errorf("%w: o=%s: option %q is not supported with bind", ErrInvalid, o, w)
		}
	}
	if !filepath.IsAbs(device) {
		return fmt.Errorf("%w: o=bind needs device=/absolute/host/path, not %q", ErrInvalid, device)
	}
	if fi, err := os.Stat(device); err != nil || !fi.IsDir() {
		return fmt.Errorf("%w: device %s: not a directory on this host", ErrInvalid, device)
	}
	return nil
}

// Mount is what chapter 03 mounts for v at target: a bind of its
// directory (Mountpoint, or the device of an o=bind volume), or a new
// tmpfs for a type=tmpfs volume. readOnly and noCopy are the container's
// mode. A tmpfs volume is mounted afresh in each container (so its
// files are each container's own, and gone at its exit); Docker's local
// driver instead mounts one on the host while any container uses it.
func (v Volume) Mount(target string, readOnly, noCopy bool) rootfs.Volume {
	switch {
	case v.Options["type"] == "tmpfs":
		var opts []string
		if o := v.Options["o"]; o != "" {
			opts = strings.Split(o, ",")
		}
		return rootfs.Volume{Type: rootfs.TypeTmpfs, Target: target, ReadOnly: readOnly, Tmpfs: opts}
	case v.Options["device"] != "":
		return rootfs.Volume{Type: rootfs.TypeVolume, Name: v.Name, Source: v.Options["device"], Target: target, ReadOnly: readOnly, NoCopy: noCopy}
	}
	return rootfs.Volume{Type: rootfs.TypeVolume, Name: v.Name, Source: v.Mountpoint, Target: target, ReadOnly: readOnly, NoCopy: noCopy}
}

// Resolve turns chapter 03's unresolved volumes (rootfs.TypeVolume
// without a Source) into mounts of the store's volumes, creating those
// that do not exist yet (an anonymous one for a volume without a name).
// It returns the mounts and the volumes it created, for the caller to
// remove if the container never comes to be.
func (s *Store) Resolve(vols []rootfs.Volume) ([]rootfs.Volume, []Volume, error) {
	out := slices.Clone(vols)
	var created []Volume
	for i, rv := range vols {
		if rv.Type != rootfs.TypeVolume || rv.Source != "" {
			continue
		}
		v, isNew, err := s.Create(rv.Name, nil, nil)
		if err != nil {
			return nil, created, err
		}
		if isNew {
			created = append(created, v)
		}
		out[i] = v.Mount(rv.Target, rv.ReadOnly, rv.NoCopy)
	}
	return out, created, nil
}
