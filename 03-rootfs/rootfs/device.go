package rootfs

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/02-cgroups/cgroup"
)

// Device is a host device node given to the container (docker run
// --device /dev/kmsg). Two things make it usable: a node with the host's
// numbers in the container's filesystem (Enter makes it), and a rule in
// the device cgroup that lets the container open it (Rule; chapter 02
// applies it). The node alone would fail with EPERM at open, the rule
// alone would allow a device the container has no node for.
type Device struct {
	// HostPath is the host's node, read for its numbers, and bound
	// in when a user namespace may not make nodes.
	HostPath string `json:"hostPath"`
	// Path is where the node goes in the container.
	Path  string            `json:"path"`
	Type  cgroup.DeviceType `json:"type"` // c or b
	Major int64             `json:"major"`
	Minor int64             `json:"minor"`
	// Mode is the node's permission bits, UID and GID its owner: the
	// host node's, so that the same users may open it.
	Mode uint32 `json:"mode"`
	UID  uint32 `json:"uid"`
	GID  uint32 `json:"gid"`
	// Access is what the cgroup allows: r, w and m, "rwm" by default.
	Access string `json:"access"`
}

// String is the --device form of d.
func (d Device) String() string { return d.HostPath + ":" + d.Path + ":" + d.Access }

// Rule is the device cgroup rule that lets the container use d.
func (d Device) Rule() cgroup.DeviceRule {
	return cgroup.DeviceRule{Allow: true, Type: d.Type, Major: d.Major, Minor: d.Minor, Access: d.Access}
}

// ParseDevice parses --device HOST[:CONTAINER][:ACCESS] (see SplitDevice)
// and reads the host's node (see DeviceFromHost).
func ParseDevice(s string) (Device, error) {
	host, ctr, access, err := SplitDevice(s)
	if err != nil {
		return Device{}, err
	}
	return DeviceFromHost(host, ctr, access)
}

// SplitDevice splits --device HOST[:CONTAINER][:ACCESS], Docker's form,
// into its parts, with docker 28's messages: "/dev/kmsg",
// "/dev/kmsg:/dev/log", "/dev/kmsg:rw", "/dev/sda:/dev/xvda:r". The
// container's path defaults to the host's, the access to rwm. It reads
// nothing: a client (the berth CLI) uses it too, and the node is the
// daemon's to read.
func SplitDevice(s string) (host, ctr, access string, err error) {
	host, access = s, "rwm"
	switch f := strings.Split(s, ":"); len(f) {
	case 1:
	case 2:
		// The second field is an access if it reads like one: a path
		// in the container must be absolute anyway.
		if validAccess(f[1]) {
			host, access = f[0], f[1]
		} else {
			host, ctr = f[0], f[1]
		}
	case 3:
		host, ctr, access = f[0], f[1], f[2]
	default:
		return "", "", "", fmt.Errorf("bad format for path: %s", s)
	}
	if ctr == "" {
		ctr = host
	}
	if !path.IsAbs(ctr) {
		return "", "", "", fmt.Errorf("%s is not an absolute path", ctr)
	}
	if !validAccess(access) {
		return "", "", "", fmt.Errorf("bad mode specified: %s", access)
	}
	return host, ctr, access, nil
}

func validAccess(s string) bool {
	if s == "" || len(s) > 3 {
		return false
	}
	for _, c := range "rwm" {
		if strings.Count(s, string(c)) > 1 {
			return false
		}
	}
	return strings.Trim(s, "rwm") == ""
}

// DeviceFromHost describes the host's device node hostPath for the
// container: at ctrPath ("" means the same path) with cgroup access
// access ("" means rwm). It follows symlinks (/dev/disk/by-id/...). A
// directory (Docker takes every device under it) is refused, as is a file
// that is no device.
func DeviceFromHost(hostPath, ctrPath, access string) (Device, error) {
	if ctrPath == "" {
		ctrPath = hostPath
	}
	if access == "" {
		access = "rwm"
	}
	if !validAccess(access) {
		return Device{}, fmt.Errorf("bad mode specified: %s", access)
	}
	if !path.IsAbs(ctrPath) {
		return Device{}, fmt.Errorf("%s is not an absolute path", ctrPath)
	}
	var st unix.Stat_t
	if err := unix.Stat(hostPath, &st); err != nil {
		return Device{}, fmt.Errorf("error gathering device information while adding custom device %q: %w", hostPath, err)
	}
	d := Device{HostPath: hostPath, Path: path.Clean(ctrPath), Access: access,
		Major: int64(unix.Major(st.Rdev)), Minor: int64(unix.Minor(st.Rdev)),
		Mode: st.Mode & 0o7777, UID: st.Uid, GID: st.Gid}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		d.Type = cgroup.CharDevice
	case unix.S_IFBLK:
		d.Type = cgroup.BlockDevice
	case unix.S_IFDIR:
		return Device{}, fmt.Errorf("--device %s: a directory of devices is not supported, name each device", hostPath)
	default:
		return Device{}, fmt.Errorf("error gathering device information while adding custom device %q: not a device node", hostPath)
	}
	return d, nil
}

func (d Device) validate() error {
	if !path.IsAbs(d.Path) || path.Clean(d.Path) == "/" {
		return fmt.Errorf("device %s: the path in the container must be absolute, and not /", d)
	}
	if d.Type != cgroup.CharDevice && d.Type != cgroup.BlockDevice {
		return fmt.Errorf("device %s: type %q: must be c or b", d, d.Type)
	}
	if !validAccess(d.Access) {
		return fmt.Errorf("device %s: bad mode specified: %s", d, d.Access)
	}
	return nil
}

// DeviceList is the repeatable --device flag.
type DeviceList []Device

func (l *DeviceList) String() string {
	if l == nil {
		return ""
	}
	var s []string
	for _, d := range *l {
		s = append(s, d.String())
	}
	return strings.Join(s, ",")
}

func (l *DeviceList) Set(s string) error {
	d, err := ParseDevice(s)
	if err != nil {
		return err
	}
	*l = append(*l, d)
	return nil
}

// WithDeviceRules returns the device policy policy (nil: the default)
// with the rules that let the container use devs added: what --device
// asks of the cgroup. policy itself is not changed.
func WithDeviceRules(policy []cgroup.DeviceRule, devs []Device) []cgroup.DeviceRule {
	if len(devs) == 0 {
		return policy
	}
	if policy == nil {
		policy = cgroup.DefaultDevices()
	} else {
		policy = slices.Clone(policy)
	}
	for _, d := range devs {
		policy = append(policy, d.Rule())
	}
	return policy
}

// makeDevice creates d inside the root r: a node with the host's numbers,
// owner and mode, replacing whatever is at its path (the default /dev/tty,
// say, for --device /dev/tty). In a user namespace mknod of a device
// fails with EPERM, so the host's node is bound onto an empty file
// instead, as makeDevices does for the default devices.
func makeDevice(r dir, d Device) error {
	pfd, err := r.mkdirAll(path.Dir(d.Path), 0o755)
	if err != nil {
		return fmt.Errorf("device %s: %w", d.Path, err)
	}
	defer unix.Close(pfd)
	parent := dir{fd: pfd, name: r.name + path.Dir(d.Path)}
	base := path.Base(d.Path)
	if err := unix.Unlinkat(pfd, base, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("device %s: replacing %s/%s: %w", d.Path, parent.name, base, err)
	}
	mode := uint32(unix.S_IFCHR)
	if d.Type == cgroup.BlockDevice {
		mode = unix.S_IFBLK
	}
	err = unix.Mknodat(pfd, base, mode|d.Mode, int(unix.Mkdev(uint32(d.Major), uint32(d.Minor))))
	if errors.Is(err, unix.EPERM) {
		return bindDeviceFrom(parent, base, d.HostPath)
	}
	if err != nil {
		return fmt.Errorf("mknod %s/%s: %w", parent.name, base, err)
	}
	// mknod applies the umask, and makes the node root's: give it the
	// host node's mode and owner. AT_SYMLINK_NOFOLLOW: it is the node
	// just made, never a link.
	if err := unix.Fchmodat(pfd, base, d.Mode, 0); err != nil {
		return fmt.Errorf("chmod %s/%s: %w", parent.name, base, err)
	}
	if err := unix.Fchownat(pfd, base, int(d.UID), int(d.GID), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown %s/%s: %w", parent.name, base, err)
	}
	return nil
}
