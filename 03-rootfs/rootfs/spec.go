package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
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
	// ShmSize is the size of /dev/shm in bytes (docker run --shm-size);
	// 0 means DefaultShmSize.
	ShmSize int64 `json:"shmSize,omitempty"`
	// Devices are host device nodes to make in the container (docker
	// run --device). Their cgroup rules are chapter 02's business: see
	// RunOptions.Container.
	Devices []Device `json:"devices,omitempty"`
	// Privileged turns the filesystem confinement off (docker run
	// --privileged): /sys writable, /dev with every device of the host,
	// no masked and no read-only paths. InitSpec.Enter also keeps every
	// capability. See privileged.go for what that means.
	Privileged bool `json:"privileged,omitempty"`
	// HostCgroupns: the container keeps the host's cgroup namespace
	// (namespace.Spec.HostCgroupns, which InitSpec.Enter copies here):
	// Enter then binds the container's own cgroup directories onto
	// /sys/fs/cgroup: a cgroupfs mounted there would show the host's tree.
	HostCgroupns bool `json:"-"`
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
	if s.ShmSize < 0 {
		return fmt.Errorf("/dev/shm size %d: must not be negative", s.ShmSize)
	}
	for _, d := range s.Devices {
		if err := d.validate(); err != nil {
			return err
		}
	}
	if s.Workdir != "" && !path.IsAbs(s.Workdir) {
		return fmt.Errorf("working directory %q: not an absolute path", s.Workdir)
	}
	return nil
}
