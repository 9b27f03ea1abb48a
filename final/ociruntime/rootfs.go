package ociruntime

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/02-cgroups/cgroup"
	"github.com/berth-project/berth/03-rootfs/rootfs"
)

// Rootfs is everything config.json asks of the container's mount
// namespace: the root, the mounts in order, the device nodes, the paths
// to mask or make read-only. NewRootfs builds it on the host, where a
// config that berth cannot honour is refused before any process exists;
// it travels to init as JSON, where Prepare and Pivot apply it.
//
//	host: NewRootfs(config.json) ── JSON ──▶ init (new mount namespace):
//	                                          Setup (chapter 01: mounts private)
//	                                          Prepare: bind root onto itself,
//	                                                   mounts in order, /dev nodes
//	                                          createContainer hooks (R1)
//	                                          Pivot:   pivot_root (or MS_MOVE+chroot),
//	                                                   root propagation, read-only
//	                                                   and masked paths, ro root
type Rootfs struct {
	// Root is root.path, absolute (a relative one is the bundle's).
	Root string `json:"root"`
	// Readonly is root.readonly: "/" is remounted read-only last.
	Readonly bool `json:"readonly,omitempty"`
	// Propagation is linux.rootfsPropagation as mount(2) flags (0: as
	// chapter 01 left it, private), applied to "/" after pivot_root.
	Propagation uint64 `json:"propagation,omitempty"`
	// Mounts are config.json's mounts, in its order.
	Mounts []Mount `json:"mounts,omitempty"`
	// Devices are the nodes made in the root: the default ones, then
	// linux.devices (which replace a default one of the same path).
	Devices []Device `json:"devices,omitempty"`
	// DevLinks: make /dev/fd, stdin, stdout, stderr and ptmx. False,
	// like Devices empty, when /dev is a bind of the host's (runc).
	DevLinks bool `json:"devLinks,omitempty"`
	// Console: process.terminal is set, so /dev/console is made now, an
	// empty file for init to bind the terminal onto even once /dev or
	// "/" is read-only.
	Console bool `json:"console,omitempty"`
	// MaskedPaths and ReadonlyPaths are linux's, applied after
	// pivot_root.
	MaskedPaths   []string `json:"maskedPaths,omitempty"`
	ReadonlyPaths []string `json:"readonlyPaths,omitempty"`
	// NoPivot is --no-pivot: MS_MOVE and chroot instead of pivot_root,
	// for a root that pivot_root refuses (one on a ramfs/initramfs).
	NoPivot bool `json:"noPivot,omitempty"`
	// CgroupNS: the container has a cgroup namespace of its own (one
	// of linux.namespaces is "cgroup"), so cgroup mounts show its own
	// cgroup as their root; otherwise its directories are bound.
	CgroupNS bool `json:"cgroupNS,omitempty"`
	// HostMountNS: linux.namespaces has no "mount", so the container
	// lives in the runtime's mount namespace. Its mounts are the
	// host's, made under Root; it gets Root by chroot, since
	// pivot_root would change the host's root (see chrootInto).
	HostMountNS bool `json:"hostMountNS,omitempty"`
}

// Device is a node made in the container: one of linux.devices, or a
// default one (/dev/null, ...).
type Device struct {
	Path string `json:"path"`
	// Type is "c" (character; "u", unbuffered, is one too), "b"
	// (block) or "p" (a FIFO).
	Type  string `json:"type"`
	Major int64  `json:"major,omitempty"`
	Minor int64  `json:"minor,omitempty"`
	// Mode are the permission bits (fileMode; 0666 when absent, as
	// runc), UID and GID the owner.
	Mode uint32 `json:"mode"`
	UID  uint32 `json:"uid,omitempty"`
	GID  uint32 `json:"gid,omitempty"`
}

// NewRootfs reads what config.json says of the container's filesystem,
// with relative paths resolved against bundle, and refuses, by field
// name, what berth does not apply. It reads only the root directory's
// kind from the filesystem: bind sources are checked in init, where a
// createRuntime hook may have made them meanwhile.
func NewRootfs(spec *specs.Spec, bundle string, noPivot bool) (*Rootfs, error) {
	if spec == nil {
		return nil, errors.New("config.json: empty")
	}
	bundle, err := filepath.Abs(bundle)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", bundle, err)
	}
	if spec.Root == nil || spec.Root.Path == "" {
		return nil, errors.New("root.path: missing")
	}
	r := &Rootfs{Root: spec.Root.Path, Readonly: spec.Root.Readonly, NoPivot: noPivot}
	if !filepath.IsAbs(r.Root) {
		r.Root = filepath.Join(bundle, r.Root)
	}
	// Resolved once, here: init finds the mount that holds the root by
	// its path in the mount table, which shows no symlinks.
	if r.Root, err = filepath.EvalSymlinks(r.Root); err != nil {
		return nil, fmt.Errorf("root.path: %w", err)
	}
	if r.Root == "/" {
		return nil, errors.New("root.path: the host's / cannot be a container's root")
	}
	if fi, err := os.Stat(r.Root); err != nil {
		return nil, fmt.Errorf("root.path: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("root.path %s: not a directory", r.Root)
	}

	devBound := -1 // index of a bind mount on /dev
	for i, m := range spec.Mounts {
		pm, err := parseMount(i, m, bundle)
		if err != nil {
			return nil, err
		}
		// A bind, or the kernel's devtmpfs (which is the host's /dev
		// whoever mounts it): either way nodes made there are made
		// on the host.
		if pm.Destination == "/dev" && (pm.Bind || pm.Type == "devtmpfs") {
			devBound = i
		}
		r.Mounts = append(r.Mounts, pm)
	}
	r.Console = spec.Process != nil && spec.Process.Terminal

	l := spec.Linux
	if l == nil {
		l = &specs.Linux{}
	}
	if l.MountLabel != "" {
		return nil, errors.New("linux.mountLabel: not supported (berth applies no SELinux labels)")
	}
	if p := l.RootfsPropagation; p != "" {
		flags, ok := propagationFlags[p]
		if !ok {
			return nil, fmt.Errorf("linux.rootfsPropagation: %q: want shared, slave, private or unbindable (r- forms too)", p)
		}
		r.Propagation = flags
	}
	r.HostMountNS = true
	for _, ns := range l.Namespaces {
		switch ns.Type {
		case specs.CgroupNamespace:
			r.CgroupNS = true
		case specs.MountNamespace:
			r.HostMountNS = false
		}
	}
	if r.HostMountNS {
		if err := needPrivateMounts(spec, l); err != nil {
			return nil, err
		}
	}
	for _, f := range []struct {
		field string
		paths []string
	}{{"linux.maskedPaths", l.MaskedPaths}, {"linux.readonlyPaths", l.ReadonlyPaths}} {
		for i, p := range f.paths {
			if !path.IsAbs(p) {
				return nil, fmt.Errorf("%s[%d]: %q is not an absolute path", f.field, i, p)
			}
		}
	}
	r.MaskedPaths = cleanPaths(l.MaskedPaths)
	r.ReadonlyPaths = cleanPaths(l.ReadonlyPaths)

	devs, err := parseDevices(l.Devices)
	if err != nil {
		return nil, err
	}
	if devBound >= 0 {
		// /dev is the host's (or some other directory): nodes made
		// there would be made on the host. runc makes none either.
		if len(devs) > 0 {
			return nil, fmt.Errorf("linux.devices: cannot be made in a /dev that mounts[%d] brings from the host (%s %s)", devBound, spec.Mounts[devBound].Type, spec.Mounts[devBound].Source)
		}
		return r, nil
	}
	r.DevLinks = true
	mounted := func(p string) bool {
		return slices.ContainsFunc(r.Mounts, func(m Mount) bool { return m.Destination == p })
	}
	for i, d := range devs {
		if mounted(d.Path) {
			return nil, fmt.Errorf("linux.devices[%d] (%s): a mount of config.json lands there too", i, d.Path)
		}
	}
	// The spec's default devices, unless linux.devices has its own of
	// the same path (runc gives linux.devices the last word), or a
	// mount covers that path (a bind of the host's /dev/null, say).
	for _, d := range rootfs.DefaultDevices() {
		if !mounted(d.Path) && !slices.ContainsFunc(devs, func(o Device) bool { return o.Path == d.Path }) {
			r.Devices = append(r.Devices, Device{Path: d.Path, Type: string(d.Type), Major: d.Major, Minor: d.Minor, Mode: d.Mode, UID: d.UID, GID: d.GID})
		}
	}
	r.Devices = append(r.Devices, devs...)
	return r, nil
}

// needPrivateMounts refuses, by field, what only a mount table of the
// container's own can give, when linux.namespaces has no "mount" and
// the container's mounts are the host's:
//
//	linux.maskedPaths,     each a mount over a path of the container;
//	linux.readonlyPaths    they matter because the process cannot undo
//	                       them, and with the host's table it can (it may
//	                       unmount what the host may). runc refuses them
//	                       too ("unable to restrict sys entries without
//	                       a private MNT namespace").
//	linux.rootfsPropagation the propagation of the container's root
//	                       mount: without pivot_root there is no such
//	                       mount, only the host's that holds root.path,
//	                       whose propagation is the host's business.
//	root.readonly          a read-only remount of the root: there is no
//	                       root mount to remount without binding
//	                       root.path onto itself in the host's table, and
//	                       a chrooted root could unmount it again.
//
// Everything else works in the host's table: each mount lands under
// root.path and is the container's, to unmount at delete.
func needPrivateMounts(spec *specs.Spec, l *specs.Linux) error {
	const why = "needs a mount namespace of the container's own (linux.namespaces has no \"mount\")"
	switch {
	case len(l.MaskedPaths) > 0:
		return fmt.Errorf("linux.maskedPaths: %s", why)
	case len(l.ReadonlyPaths) > 0:
		return fmt.Errorf("linux.readonlyPaths: %s", why)
	case l.RootfsPropagation != "":
		return fmt.Errorf("linux.rootfsPropagation %q: %s", l.RootfsPropagation, why)
	case spec.Root.Readonly:
		return fmt.Errorf("root.readonly: %s", why)
	}
	return nil
}

func cleanPaths(ps []string) []string {
	var out []string
	for _, p := range ps {
		out = append(out, path.Clean(p))
	}
	return out
}

// parseDevices checks linux.devices.
func parseDevices(in []specs.LinuxDevice) ([]Device, error) {
	var out []Device
	for i, d := range in {
		field := fmt.Sprintf("linux.devices[%d] (%s)", i, d.Path)
		if !path.IsAbs(d.Path) || path.Clean(d.Path) == "/" {
			return nil, fmt.Errorf("%s.path: must be an absolute path other than /", field)
		}
		dev := Device{Path: path.Clean(d.Path), Type: d.Type, Major: d.Major, Minor: d.Minor, Mode: 0o666}
		switch d.Type {
		case "c", "b":
		case "u":
			// Unbuffered: a character device, as far as mknod goes.
			dev.Type = "c"
		case "p":
			dev.Major, dev.Minor = 0, 0
		default:
			return nil, fmt.Errorf("%s.type: %q: want c, b, u or p", field, d.Type)
		}
		if dev.Type != "p" && (d.Major < 0 || d.Minor < 0 || d.Major > 0xfff || d.Minor > 0xfffff) {
			return nil, fmt.Errorf("%s: major %d, minor %d out of range", field, d.Major, d.Minor)
		}
		if d.FileMode != nil {
			if *d.FileMode&^(os.ModePerm|os.ModeSetuid|os.ModeSetgid|os.ModeSticky|os.ModeDevice|os.ModeCharDevice|os.ModeNamedPipe) != 0 {
				return nil, fmt.Errorf("%s.fileMode: %o: permission bits only", field, uint32(*d.FileMode))
			}
			dev.Mode = uint32(d.FileMode.Perm())
			if *d.FileMode&os.ModeSetuid != 0 {
				dev.Mode |= unix.S_ISUID
			}
			if *d.FileMode&os.ModeSetgid != 0 {
				dev.Mode |= unix.S_ISGID
			}
			if *d.FileMode&os.ModeSticky != 0 {
				dev.Mode |= unix.S_ISVTX
			}
		}
		if d.UID != nil {
			dev.UID = *d.UID
		}
		if d.GID != nil {
			dev.GID = *d.GID
		}
		if slices.ContainsFunc(out, func(o Device) bool { return o.Path == dev.Path }) {
			return nil, fmt.Errorf("%s.path: given twice", field)
		}
		out = append(out, dev)
	}
	return out, nil
}

// Prepare builds the container's filesystem under Root, in the
// container's mount namespace (after chapter 01's Setup), up to but not
// including pivot_root: the root bound onto itself, then each mount of
// config.json in its order, then the device nodes and /dev's links. The
// createContainer hooks run after it, in the finished tree but still
// with the host's root.
//
// On error the mount namespace is left half-built: init exits, and the
// kernel discards the namespace with every mount in it.
func (r *Rootfs) Prepare() error {
	if r.HostMountNS {
		// The host's mount table: nothing of the host's is changed
		// (neither the propagation of the mount that holds the root
		// nor a bind of the root onto itself, which would propagate to
		// the host's peers and which chroot does not need); only the
		// mounts of config.json are added, under Root.
		return r.prepareIn(r.Root)
	}
	// pivot_root refuses a new root whose parent mount is shared, and a
	// bind under a shared mount would propagate to its peers (the
	// host's, when chapter 01 left them slave or shared). Chapter 01
	// made every mount private; the rootfs's parent is made private
	// again here so that Prepare holds on its own, as runc does.
	if err := makeParentPrivate(r.Root); err != nil {
		return err
	}
	// pivot_root needs the new root to be a mount point: binding the
	// directory onto itself makes one. MS_REC brings along what is
	// already mounted below it (a snapshotter's submounts).
	if err := unix.Mount(r.Root, r.Root, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind-mounting rootfs %s onto itself: %w", r.Root, err)
	}
	return r.prepareIn(r.Root)
}

// prepareIn makes the mounts, the device nodes and /dev's links in the
// root directory root.
func (r *Rootfs) prepareIn(root string) error {
	// Opened after the bind: the descriptor is the bind mount's root,
	// so every mount below lands in it, whatever the image's symlinks.
	rootfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening rootfs %s: %w", r.Root, err)
	}
	defer unix.Close(rootfd)
	for _, m := range r.Mounts {
		if err := r.mount(rootfd, m); err != nil {
			return fmt.Errorf("mount %s: %w", m, err)
		}
	}
	for _, d := range r.Devices {
		if err := makeDevice(rootfd, r.Root, d); err != nil {
			return err
		}
	}
	if r.DevLinks {
		if err := rootfs.DevSymlinksInRoot(rootfd, r.Root); err != nil {
			return err
		}
		if r.Console {
			fd, err := rootfs.CreateFileInRoot(rootfd, r.Root, "/dev/console")
			if err != nil {
				return fmt.Errorf("/dev/console: %w", err)
			}
			unix.Close(fd)
		}
	}
	return nil
}

// makeParentPrivate makes the mount that holds dir private.
func makeParentPrivate(dir string) error {
	text, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return fmt.Errorf("reading the mount table: %w", err)
	}
	mounts, err := parseMountinfo(string(text))
	if err != nil {
		return err
	}
	point, err := mountPointOf(mounts, dir)
	if err != nil {
		return err
	}
	if err := unix.Mount("", point, "", unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making %s, which holds the rootfs, private: %w", point, err)
	}
	return nil
}

// makeDevice makes d in the root: a character or block node through
// chapter 03 (a bind of the host's node in a user namespace), a FIFO
// here.
func makeDevice(rootfd int, what string, d Device) error {
	if d.Type == "p" {
		return makeFifo(rootfd, what, d)
	}
	t := cgroup.CharDevice
	if d.Type == "b" {
		t = cgroup.BlockDevice
	}
	dev := rootfs.Device{HostPath: hostNode(d), Path: d.Path, Type: t, Major: d.Major, Minor: d.Minor,
		Mode: d.Mode, UID: d.UID, GID: d.GID, Access: "rwm"}
	if err := rootfs.MakeDeviceInRoot(rootfd, what, dev); err != nil {
		return fmt.Errorf("linux.devices %s: %w", d.Path, err)
	}
	return nil
}

// hostNode is the host's node for d, which a user namespace binds in
// place of the mknod it may not do: the host's node at the same path if
// it has d's numbers (runc binds that one, whatever its numbers), else
// the one the kernel names for those numbers in /sys/dev (DEVNAME of its
// uevent: /dev/sda for b 8:0), so that a device may have another name
// in the container. Before pivot_root the host's /dev and /sys are still
// those of init's mount namespace.
func hostNode(d Device) string {
	kind, ifmt := "char", uint32(unix.S_IFCHR)
	if d.Type == "b" {
		kind, ifmt = "block", unix.S_IFBLK
	}
	var st unix.Stat_t
	want := unix.Mkdev(uint32(d.Major), uint32(d.Minor))
	if unix.Stat(d.Path, &st) == nil && st.Mode&unix.S_IFMT == ifmt && st.Rdev == want {
		return d.Path
	}
	uevent, err := os.ReadFile(fmt.Sprintf("/sys/dev/%s/%d:%d/uevent", kind, d.Major, d.Minor))
	if err != nil {
		return d.Path
	}
	for _, line := range strings.Split(string(uevent), "\n") {
		if name, ok := strings.CutPrefix(line, "DEVNAME="); ok && name != "" && !strings.Contains(name, "..") {
			return path.Join("/dev", name)
		}
	}
	return d.Path
}

// makeFifo makes the named pipe d, replacing what is at its path.
func makeFifo(rootfd int, what string, d Device) error {
	pfd, err := rootfs.MkdirAllInRoot(rootfd, what, path.Dir(d.Path), 0o755)
	if err != nil {
		return fmt.Errorf("linux.devices %s: %w", d.Path, err)
	}
	defer unix.Close(pfd)
	base := path.Base(d.Path)
	if err := unix.Unlinkat(pfd, base, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("linux.devices %s: replacing it: %w", d.Path, err)
	}
	if err := unix.Mknodat(pfd, base, unix.S_IFIFO|d.Mode, 0); err != nil {
		return fmt.Errorf("linux.devices %s: mkfifo: %w", d.Path, err)
	}
	// mknod applied the umask: set the exact mode, and the owner.
	if err := unix.Fchmodat(pfd, base, d.Mode, 0); err != nil {
		return fmt.Errorf("linux.devices %s: chmod: %w", d.Path, err)
	}
	if err := unix.Fchownat(pfd, base, int(d.UID), int(d.GID), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("linux.devices %s: chown: %w", d.Path, err)
	}
	return nil
}

// Pivot makes Root the container's "/" (pivot_root, or with NoPivot
// MS_MOVE and chroot), then applies linux.rootfsPropagation to it, the
// read-only and the masked paths, and root.readonly last.
func (r *Rootfs) Pivot() error {
	if r.HostMountNS {
		if err := chrootInto(r.Root); err != nil {
			return err
		}
		// NewRootfs refused what else Pivot does but this (masks,
		// read-only paths, root propagation, a read-only root).
		return r.remountDeferred()
	}
	if r.NoPivot {
		if err := moveRoot(r.Root); err != nil {
			return err
		}
	} else if err := rootfs.PivotRoot(r.Root); err != nil {
		return err
	}
	// After the switch, not before: on the root mount only, and the
	// host's mounts are out of reach by now, so that "shared" cannot
	// make a peer of anything outside the container (runc does the
	// same, for the same reason).
	if r.Propagation != 0 {
		if err := unix.Mount("", "/", "", uintptr(r.Propagation), ""); err != nil {
			return fmt.Errorf("linux.rootfsPropagation on /: %w", err)
		}
	}
	if err := r.remountDeferred(); err != nil {
		return err
	}
	// runc's order: read-only paths, then masks (a mask under a
	// read-only tree then still lands; the other order works too, as
	// the read-only bind is recursive).
	for _, p := range r.ReadonlyPaths {
		if err := rootfs.ReadonlyPath(p); err != nil {
			return fmt.Errorf("linux.readonlyPaths: %w", err)
		}
	}
	for _, p := range r.MaskedPaths {
		if err := rootfs.MaskPath(p); err != nil {
			return fmt.Errorf("linux.maskedPaths: %w", err)
		}
	}
	if r.Readonly {
		// Last: everything above creates mount points in the image.
		// Only the root mount becomes read-only, not the mounts on it.
		if err := rootfs.RemountReadonly("/"); err != nil {
			return fmt.Errorf("root.readonly: %w", err)
		}
	}
	return nil
}

// remountDeferred makes read-only, now, each tmpfs (or /dev) that was
// mounted writable so that mount points, nodes or copied files could be
// made in it (see deferReadonly).
func (r *Rootfs) remountDeferred() error {
	for _, m := range r.Mounts {
		if deferReadonly(m) {
			if err := rootfs.RemountReadonly(m.Destination); err != nil {
				return fmt.Errorf("mount %s: %w", m, err)
			}
		}
	}
	return nil
}

// chrootInto makes root the process's "/" without a mount namespace of
// its own: chroot(2) changes how this process (and its children)
// resolve "/", and nothing in the mount table. pivot_root would move the
// runtime's mount namespace's root, which is the host's; --no-pivot's
// MS_MOVE would move root.path's mount over the host's "/". Both are
// for a private table only.
//
// chroot is the weaker wall, and the spec's choice, not berth's: a
// process with CAP_SYS_CHROOT can walk back out (chroot into a
// subdirectory, then up past it), and one with CAP_SYS_ADMIN can
// unmount or mount anything of the host's. A container without a mount
// namespace trusts its process with the host's files, as one without a
// PID namespace trusts it with the host's processes.
func chrootInto(root string) error {
	if err := unix.Chdir(root); err != nil {
		return fmt.Errorf("chroot: chdir %s: %w", root, err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot %s: %w", root, err)
	}
	// The working directory is already the new root; chdir("/") makes
	// it so by name too.
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chroot: chdir /: %w", err)
	}
	return nil
}

// moveRoot is --no-pivot: it moves the root's mount onto "/" and
// chroots into it. pivot_root cannot leave a root that is the initial
// ramfs, so a runtime on a diskless system needs this. It is weaker:
// the old root stays in the mount namespace, under the new one, and a
// process with CAP_SYS_CHROOT can walk back to it. So the host's full
// proc and sysfs mounts are taken away first, as runc does: the kernel
// lets a container mount proc or sysfs only if one is fully visible in
// its mount namespace, and those would qualify (and show the host's
// unmasked /proc/kcore & co to whoever finds them).
func moveRoot(root string) error {
	text, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return fmt.Errorf("no-pivot: reading the mount table: %w", err)
	}
	mounts, err := parseMountinfo(string(text))
	if err != nil {
		return fmt.Errorf("no-pivot: %w", err)
	}
	// Deepest first, so that /proc/sys/fs/binfmt_misc's proc goes
	// before /proc's.
	slices.SortStableFunc(mounts, func(a, b mountinfoEntry) int { return strings.Count(b.Point, "/") - strings.Count(a.Point, "/") })
	for _, m := range mounts {
		if m.Root != "/" || (m.FSType != "proc" && m.FSType != "sysfs") || under(m.Point, root) {
			continue
		}
		err := unix.Unmount(m.Point, unix.MNT_DETACH)
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EINVAL) && !isMountRoot(m.Point) {
			continue // gone already, with a mount above it
		}
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EPERM) {
			// Locked (a user namespace may not unmount what its
			// parent mounted): cover it instead.
			err = unix.Mount("tmpfs", m.Point, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC|unix.MS_RDONLY, "size=0")
		}
		if err != nil {
			return fmt.Errorf("no-pivot: taking the host's %s away: %w", m.Point, err)
		}
	}
	if err := unix.Chdir(root); err != nil {
		return fmt.Errorf("no-pivot: chdir %s: %w", root, err)
	}
	// MS_MOVE: the root's bind mount itself moves to "/", on top of the
	// old root, rather than a second bind of it.
	if err := unix.Mount(root, "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("no-pivot: moving %s onto /: %w", root, err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("no-pivot: chroot: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("no-pivot: chdir /: %w", err)
	}
	return nil
}

// isMountRoot reports whether p is the root of a mount.
func isMountRoot(p string) bool {
	var stx unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, p, unix.AT_SYMLINK_NOFOLLOW, 0, &stx); err != nil {
		return false
	}
	return stx.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 && stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0
}
