package ociruntime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DefaultSpec is the config.json that `berth-runtime spec` writes: runc's
// starting point, so that a user who knows `runc spec` finds the same
// fields. It runs "sh" on a terminal in a rootfs/ directory next to it
// (a busybox tree is enough), as root with three capabilities in a
// read-only root, in new pid, network, ipc, uts and mount namespaces,
// with every device refused but those the runtime creates.
//
// With rootless it is the same for a user without privileges, as
// `runc spec --rootless` makes it: a user namespace maps the caller's
// uid and gid (uid and gid) to root, because only there may an
// unprivileged user mount anything; no network namespace (one would
// have no interface but lo, and nobody to add one); /sys bound from the
// host (a new sysfs needs a network namespace of one's own); devpts
// without gid=5 (group tty is not mapped); and no resources, since an
// unprivileged user may not write the cgroups.
func DefaultSpec(rootless bool, uid, gid int) *specs.Spec {
	caps := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	s := &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			Terminal: true,
			User:     specs.User{UID: 0, GID: 0},
			Args:     []string{"sh"},
			Env: []string{
				"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
				"TERM=xterm",
			},
			Cwd: "/",
			// No inheritable set: with one, a program with file
			// capabilities could gain them (CVE-2022-29162). The
			// ambient set is runc's too, though without inheritable
			// capabilities the kernel raises none of it (R2's
			// rootfs.CapSets.Apply leaves it out, as runc does).
			Capabilities: &specs.LinuxCapabilities{
				Bounding:  slices.Clone(caps),
				Effective: slices.Clone(caps),
				Permitted: slices.Clone(caps),
				Ambient:   slices.Clone(caps),
			},
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
			NoNewPrivileges: true,
		},
		Root:     &specs.Root{Path: "rootfs", Readonly: true},
		Hostname: "berth",
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs",
				Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts",
				Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm",
				Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue",
				Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs",
				Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup",
				Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
		},
		Linux: &specs.Linux{
			Resources: &specs.LinuxResources{
				Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
			},
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace},
				{Type: specs.NetworkNamespace},
				{Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace},
				{Type: specs.MountNamespace},
			},
			// What a container must not read or change of the host's
			// kernel, though /proc and /sys show it (chapter 03).
			MaskedPaths: []string{
				"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
				"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
				"/proc/sched_debug", "/sys/firmware", "/proc/scsi",
			},
			ReadonlyPaths: []string{
				"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
			},
		},
	}
	if rootless {
		toRootless(s, uid, gid)
	}
	return s
}

// toRootless changes DefaultSpec's result for a user without privileges
// (see DefaultSpec).
func toRootless(s *specs.Spec, uid, gid int) {
	var nss []specs.LinuxNamespace
	for _, ns := range s.Linux.Namespaces {
		if ns.Type != specs.NetworkNamespace && ns.Type != specs.UserNamespace {
			nss = append(nss, ns)
		}
	}
	s.Linux.Namespaces = append(nss, specs.LinuxNamespace{Type: specs.UserNamespace})
	s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(uid), Size: 1}}
	s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(gid), Size: 1}}
	for i := range s.Mounts {
		m := &s.Mounts[i]
		switch m.Destination {
		case "/sys":
			m.Type, m.Source = "none", "/sys"
			m.Options = []string{"rbind", "nosuid", "noexec", "nodev", "ro"}
		case "/dev/pts":
			m.Options = slices.DeleteFunc(m.Options, func(o string) bool { return o == "gid=5" })
		}
	}
	s.Linux.Resources = nil
}

// WriteSpec writes DefaultSpec into bundle's config.json, for the
// current user when rootless. It refuses to replace an existing one: it
// is somebody's configuration.
func WriteSpec(bundle string, rootless bool) error {
	path := filepath.Join(bundle, "config.json")
	b, err := json.MarshalIndent(DefaultSpec(rootless, os.Geteuid(), os.Getegid()), "", "\t")
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s exists: remove it first", path)
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
