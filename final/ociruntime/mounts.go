package ociruntime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/02-cgroups/cgroup"
	"github.com/berth-project/berth/03-rootfs/rootfs"
	"github.com/berth-project/berth/04-cow-layers/atomicfile"
)

// How config.json's mounts are made, in their order (Prepare), each at
// its destination resolved inside the root (chapter 03's openat2 with
// RESOLVE_IN_ROOT: an image's symlink to "/" or "../.." leads to the
// root, never above it) and mounted onto /proc/self/fd/N of that very
// file:
//
//	bind, rbind   mount point made like the source (a directory, or an
//	              empty file for a file); mount(MS_BIND[|MS_REC]); then,
//	              if any other flag was asked for, a remount
//	              (MS_REMOUNT|MS_BIND|flags): a bind's own flags can
//	              only be set by a second call
//	tmpfs         mount(tmpfs, flags, data); the covered directory's
//	              mode unless mode= is given; tmpcopyup copies what it
//	              covers; ro is applied after pivot_root (see deferReadonly)
//	sysfs         chapter 03: sysfs, or the host's /sys bound read-only
//	              where a user namespace may not mount one
//	cgroup(2)     chapter 03: this machine's hierarchies, in the
//	              container's cgroup namespace
//	anything else mount(source, type, flags, data): proc, devpts,
//	              mqueue, overlay, ...
//	then          propagation options in their order, then the
//	              recursive ones (rro, ...) with mount_setattr

// Mount is one entry of config.json's mounts, its options turned into
// what mount(2) and mount_setattr(2) take. NewRootfs makes it on the
// host; Prepare mounts it in the container's init.
type Mount struct {
	// Destination is the path in the container, absolute and clean.
	Destination string `json:"destination"`
	// Type is the filesystem type ("proc", "tmpfs", ...); "" for a bind.
	Type string `json:"type,omitempty"`
	// Source is what is mounted: for a bind the host's path, absolute
	// (relative ones are relative to the bundle, as the spec says).
	Source string `json:"source,omitempty"`
	// Bind is true for a bind mount (type "bind", or a bind or rbind
	// option). Flags then holds MS_BIND, and MS_REC for rbind.
	Bind bool `json:"bind,omitempty"`
	// Flags are the mount(2) flags the options set.
	Flags uint64 `json:"flags,omitempty"`
	// Cleared are the flags an option turned off by name (rw, suid,
	// dev, exec, ...): a bind's remount may not put them back, even
	// where the kernel has them locked.
	Cleared uint64 `json:"cleared,omitempty"`
	// Propagation are the propagation changes asked for (private,
	// rshared, ...), made one by one after the mount, in order.
	Propagation []uint64 `json:"propagation,omitempty"`
	// AttrSet and AttrClr are the recursive options (rro, rnosuid,
	// ...), applied to the mount and every mount below it with
	// mount_setattr(2) last.
	AttrSet uint64 `json:"attrSet,omitempty"`
	AttrClr uint64 `json:"attrClr,omitempty"`
	// Data are the options mount(2) passes to the filesystem itself
	// (size=, mode=, newinstance, ...), comma-separated.
	Data string `json:"data,omitempty"`
	// CopyUp (tmpcopyup) fills a new tmpfs with what the image has at
	// Destination, so that covering a directory does not empty it.
	CopyUp bool `json:"copyUp,omitempty"`
}

// String names m in errors: its destination and type.
func (m Mount) String() string {
	t := m.Type
	if m.Bind {
		t = "bind"
	}
	return fmt.Sprintf("%s (%s)", m.Destination, t)
}

// flagOption is an option that sets a mount(2) flag, or clears it.
type flagOption struct {
	clear bool
	flag  uint64
}

// mountFlags are the fstab options that are mount(2) flags, as mount(8)
// and runc read them. "defaults" means nothing beyond the kernel's
// defaults. A clearing option (rw, suid, ...) matters when an earlier
// option in the list set the flag, and for a bind's remount, which
// replaces all of a mount's flags.
var mountFlags = map[string]flagOption{
	"acl":           {false, unix.MS_POSIXACL},
	"async":         {true, unix.MS_SYNCHRONOUS},
	"atime":         {true, unix.MS_NOATIME},
	"bind":          {false, unix.MS_BIND},
	"defaults":      {false, 0},
	"dev":           {true, unix.MS_NODEV},
	"diratime":      {true, unix.MS_NODIRATIME},
	"dirsync":       {false, unix.MS_DIRSYNC},
	"exec":          {true, unix.MS_NOEXEC},
	"iversion":      {false, unix.MS_I_VERSION},
	"lazytime":      {false, unix.MS_LAZYTIME},
	"loud":          {true, unix.MS_SILENT},
	"mand":          {false, unix.MS_MANDLOCK},
	"noacl":         {true, unix.MS_POSIXACL},
	"noatime":       {false, unix.MS_NOATIME},
	"nodev":         {false, unix.MS_NODEV},
	"nodiratime":    {false, unix.MS_NODIRATIME},
	"noexec":        {false, unix.MS_NOEXEC},
	"noiversion":    {true, unix.MS_I_VERSION},
	"nolazytime":    {true, unix.MS_LAZYTIME},
	"nomand":        {true, unix.MS_MANDLOCK},
	"norelatime":    {true, unix.MS_RELATIME},
	"nostrictatime": {true, unix.MS_STRICTATIME},
	"nosuid":        {false, unix.MS_NOSUID},
	"nosymfollow":   {false, unix.MS_NOSYMFOLLOW}, // symlinks on it are not followed (Linux 5.10)
	"rbind":         {false, unix.MS_BIND | unix.MS_REC},
	"relatime":      {false, unix.MS_RELATIME},
	"remount":       {false, unix.MS_REMOUNT},
	"ro":            {false, unix.MS_RDONLY},
	"rw":            {true, unix.MS_RDONLY},
	"silent":        {false, unix.MS_SILENT},
	"strictatime":   {false, unix.MS_STRICTATIME},
	"suid":          {true, unix.MS_NOSUID},
	"symfollow":     {true, unix.MS_NOSYMFOLLOW},
	"sync":          {false, unix.MS_SYNCHRONOUS},
}

// propagationFlags are the propagation options of a mount and of
// linux.rootfsPropagation. The r- forms apply to every mount below too.
//
//	shared      mounts and unmounts under it reach its peers, and theirs reach it
//	slave       it receives its master's, sends nothing back
//	private     nothing crosses in either direction
//	unbindable  private, and it cannot be the source of a bind
var propagationFlags = map[string]uint64{
	"private":     unix.MS_PRIVATE,
	"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
	"shared":      unix.MS_SHARED,
	"rshared":     unix.MS_SHARED | unix.MS_REC,
	"slave":       unix.MS_SLAVE,
	"rslave":      unix.MS_SLAVE | unix.MS_REC,
	"unbindable":  unix.MS_UNBINDABLE,
	"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// attrOption is a recursive option: mount_setattr(2) attributes to set
// and to clear on the mount and all the mounts below it. A plain ro on
// an rbind makes only the top mount read-only; rro (runc's extension,
// Linux 5.12+) reaches the submounts that rbind brought along too.
type attrOption struct{ set, clr uint64 }

var recursiveOptions = map[string]attrOption{
	"rro":          {set: unix.MOUNT_ATTR_RDONLY},
	"rrw":          {clr: unix.MOUNT_ATTR_RDONLY},
	"rnosuid":      {set: unix.MOUNT_ATTR_NOSUID},
	"rsuid":        {clr: unix.MOUNT_ATTR_NOSUID},
	"rnodev":       {set: unix.MOUNT_ATTR_NODEV},
	"rdev":         {clr: unix.MOUNT_ATTR_NODEV},
	"rnoexec":      {set: unix.MOUNT_ATTR_NOEXEC},
	"rexec":        {clr: unix.MOUNT_ATTR_NOEXEC},
	"rnodiratime":  {set: unix.MOUNT_ATTR_NODIRATIME},
	"rdiratime":    {clr: unix.MOUNT_ATTR_NODIRATIME},
	"rnosymfollow": {set: unix.MOUNT_ATTR_NOSYMFOLLOW},
	"rsymfollow":   {clr: unix.MOUNT_ATTR_NOSYMFOLLOW},
	// The access-time mode is one field of three values (relatime,
	// the kernel's default, is 0): mount_setattr changes it only as a
	// whole, clearing MOUNT_ATTR__ATIME and setting one value. The
	// "not that mode" words (ratime, rnorelatime, rnostrictatime) have
	// no value of their own: they put the default back, as runc does.
	"rrelatime":      {set: unix.MOUNT_ATTR_RELATIME, clr: unix.MOUNT_ATTR__ATIME},
	"rnoatime":       {set: unix.MOUNT_ATTR_NOATIME, clr: unix.MOUNT_ATTR__ATIME},
	"rstrictatime":   {set: unix.MOUNT_ATTR_STRICTATIME, clr: unix.MOUNT_ATTR__ATIME},
	"ratime":         {set: unix.MOUNT_ATTR_RELATIME, clr: unix.MOUNT_ATTR__ATIME},
	"rnorelatime":    {set: unix.MOUNT_ATTR_RELATIME, clr: unix.MOUNT_ATTR__ATIME},
	"rnostrictatime": {set: unix.MOUNT_ATTR_RELATIME, clr: unix.MOUNT_ATTR__ATIME},
}

// refusedOptions are options berth knows and does not apply, with why.
var refusedOptions = map[string]string{
	// Idmapped mounts need a user namespace holding the mount's own
	// mapping (mount_setattr MOUNT_ATTR_IDMAP); berth makes none.
	"idmap":  "idmapped mounts are not supported",
	"ridmap": "idmapped mounts are not supported",
}

// MountOptions lists the mount options berth applies, sorted: what
// `berth-runtime features` reports as mountOptions.
func MountOptions() []string {
	var out []string
	for o := range mountFlags {
		out = append(out, o)
	}
	for o := range propagationFlags {
		out = append(out, o)
	}
	for o := range recursiveOptions {
		out = append(out, o)
	}
	out = append(out, "tmpcopyup")
	slices.Sort(out)
	return out
}

// parseMount checks mounts[i] of config.json and turns its options into
// a Mount. A relative bind source is relative to bundle.
func parseMount(i int, m specs.Mount, bundle string) (Mount, error) {
	field := fmt.Sprintf("mounts[%d]", i)
	if m.Destination == "" {
		return Mount{}, fmt.Errorf("%s.destination: missing", field)
	}
	field = fmt.Sprintf("mounts[%d] (%s)", i, m.Destination)
	if len(m.UIDMappings) > 0 {
		return Mount{}, fmt.Errorf("%s.uidMappings: idmapped mounts are not supported", field)
	}
	if len(m.GIDMappings) > 0 {
		return Mount{}, fmt.Errorf("%s.gidMappings: idmapped mounts are not supported", field)
	}
	// runc reads a relative destination from "/"; the spec asks for an
	// absolute one on Linux but tolerates it.
	out := Mount{Destination: path.Clean("/" + m.Destination), Type: m.Type, Source: m.Source}
	if out.Destination == "/" {
		return Mount{}, fmt.Errorf("%s.destination: a mount over the root itself is not supported (root.path is the root)", field)
	}
	var data []string
	for _, opt := range m.Options {
		if f, ok := mountFlags[opt]; ok {
			if f.clear {
				out.Flags &^= f.flag
				out.Cleared |= f.flag
			} else {
				out.Flags |= f.flag
				out.Cleared &^= f.flag
			}
			continue
		}
		if p, ok := propagationFlags[opt]; ok {
			out.Propagation = append(out.Propagation, p)
			continue
		}
		if a, ok := recursiveOptions[opt]; ok {
			out.AttrSet = out.AttrSet&^a.clr | a.set
			out.AttrClr = out.AttrClr&^a.set | a.clr
			continue
		}
		if why, ok := refusedOptions[opt]; ok {
			return Mount{}, fmt.Errorf("%s.options: %q: %s", field, opt, why)
		}
		if opt == "tmpcopyup" {
			out.CopyUp = true
			continue
		}
		if opt == "" {
			continue
		}
		// Anything else is the filesystem's own option (size=64m,
		// mode=755, newinstance, lowerdir=...): mount(2)'s data.
		data = append(data, opt)
	}
	out.Data = strings.Join(data, ",")
	out.Bind = out.Flags&unix.MS_BIND != 0 || m.Type == "bind"
	if out.Bind {
		// A bind takes no filesystem type: "none" and "bind" are what
		// configs write for one.
		if m.Type != "" && m.Type != "bind" && m.Type != "none" {
			return Mount{}, fmt.Errorf("%s: type %q with a bind option: a bind mount has no filesystem type", field, m.Type)
		}
		out.Type = ""
		out.Flags |= unix.MS_BIND
		if out.Data != "" {
			// The kernel ignores data on a bind, and runc passes it
			// on all the same: configs carry it (runtime-tools'
			// "mode=755,size=1k" on a bind, in most of its
			// programs). Refusing them would refuse those bundles;
			// it is said in the log instead, and dropped.
			Warn(fmt.Errorf("%s.options: %s: filesystem options of a bind mount, which the kernel does not apply: ignored", field, out.Data))
			out.Data = ""
		}
		if out.Source == "" {
			return Mount{}, fmt.Errorf("%s.source: a bind mount needs one", field)
		}
		if !filepath.IsAbs(out.Source) {
			out.Source = filepath.Join(bundle, out.Source)
		}
		out.Source = filepath.Clean(out.Source)
	} else if out.Type == "" {
		return Mount{}, fmt.Errorf("%s.type: missing (and no bind or rbind option)", field)
	}
	if out.CopyUp && out.Type != "tmpfs" {
		return Mount{}, fmt.Errorf("%s.options: \"tmpcopyup\" applies to a tmpfs only", field)
	}
	if out.Type == "cgroup" || out.Type == "cgroup2" {
		// berth mounts the cgroups this machine has (one cgroup2, or
		// a tmpfs of v1 hierarchies): it takes no data of its own.
		if out.Data != "" {
			return Mount{}, fmt.Errorf("%s.options: %q: berth mounts the machine's cgroup hierarchies, not chosen ones", field, data[0])
		}
	}
	return out, nil
}

// mountinfoEntry is one line of /proc/self/mountinfo.
type mountinfoEntry struct {
	ID     int    // the mount's ID (statx's STATX_MNT_ID)
	Point  string // where it is mounted
	Root   string // the directory of its filesystem that is mounted there
	FSType string
}

// parseMountinfo reads the mount table as /proc/PID/mountinfo shows it.
func parseMountinfo(text string) ([]mountinfoEntry, error) {
	var out []mountinfoEntry
	for _, line := range strings.Split(text, "\n") {
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		sep := slices.Index(f, "-")
		if sep < 6 || len(f) < sep+2 {
			return nil, fmt.Errorf("mountinfo: bad line %q", line)
		}
		id, err := strconv.Atoi(f[0])
		if err != nil {
			return nil, fmt.Errorf("mountinfo: bad mount ID in %q", line)
		}
		out = append(out, mountinfoEntry{ID: id, Point: cgroup.UnescapeMountinfo(f[4]), Root: cgroup.UnescapeMountinfo(f[3]), FSType: f[sep+1]})
	}
	return out, nil
}

// under reports whether p is dir or below it.
func under(p, dir string) bool {
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}

// mountPointOf returns the mount point, in mounts, on which the path p
// lies: the longest one that p is under.
func mountPointOf(mounts []mountinfoEntry, p string) (string, error) {
	best := ""
	for _, m := range mounts {
		if under(p, m.Point) && len(m.Point) > len(best) {
			best = m.Point
		}
	}
	if best == "" {
		return "", errors.New("no mount holds " + p)
	}
	return best, nil
}

// procFD is the path of a descriptor in the host's /proc (still mounted
// before pivot_root). Mounting onto it mounts onto the very file that
// was resolved inside the root: no path is looked up again.
func procFD(fd int) string { return fmt.Sprintf("/proc/self/fd/%d", fd) }

// deferReadonly reports whether m is mounted writable at first and made
// read-only only after pivot_root, as runc does: a tmpfs may need a
// copy-up, a chmod or mount points for later mounts made in it, and
// /dev needs its device nodes.
func deferReadonly(m Mount) bool {
	return m.Flags&unix.MS_RDONLY != 0 && (m.Type == "tmpfs" || m.Destination == "/dev")
}

// mount mounts m in the root rootfd (Root), at its destination resolved
// inside the root.
func (r *Rootfs) mount(rootfd int, m Mount) error {
	flags := uintptr(m.Flags)
	if deferReadonly(m) {
		flags &^= unix.MS_RDONLY
	}
	var err error
	switch {
	case m.Bind:
		err = r.bind(rootfd, m, flags)
	case m.Type == "cgroup" || m.Type == "cgroup2":
		// The machine's hierarchies, inside the container's cgroup
		// namespace (chapter 03): one cgroup2 on a v2 host, a tmpfs
		// of v1 hierarchies on v1 and hybrid ones; bound from the
		// container's own cgroup when it has no namespace of its own.
		// On v1 the tmpfs that holds the hierarchies stays writable
		// and only they take the mount's flags (ro), as with runc
		// and Docker.
		err = rootfs.MountCgroupsInRoot(rootfd, r.Root, m.Destination, flags, !r.CgroupNS)
	case m.Type == "sysfs" && m.Data == "":
		if err := r.ordinaryDirectory(rootfd, m.Destination); err != nil {
			return err
		}
		// sysfs, or where a user namespace may not mount one (no
		// network namespace of its own), the host's /sys bound
		// read-only (chapter 03).
		err = rootfs.MountSysInRoot(rootfd, r.Root, m.Destination, flags)
	case m.Type == "tmpfs":
		err = r.tmpfs(rootfd, m, flags)
	default:
		if m.Type == "proc" || m.Type == "sysfs" {
			if err := r.ordinaryDirectory(rootfd, m.Destination); err != nil {
				return err
			}
		}
		var fd int
		if fd, err = r.mountPoint(rootfd, m.Destination, true); err == nil {
			err = unix.Mount(m.Source, procFD(fd), m.Type, flags, m.Data)
			unix.Close(fd)
		}
	}
	if err != nil {
		return err
	}
	return r.setPropagation(rootfd, m)
}

// ordinaryDirectory refuses a proc or sysfs destination that the image
// made something other than a directory: a symlink there would send
// later writes meant for the kernel's files (/proc/self/attr/...,
// /proc/sys/...) through the image's own, as in CVE-2019-16884 and
// CVE-2019-19921. runc refuses them too. A missing one is created.
func (r *Rootfs) ordinaryDirectory(rootfd int, dest string) error {
	fd, err := rootfs.OpenInRoot(rootfd, r.Root, dest, unix.O_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat %s: %w", dest, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("%s in the image is not an ordinary directory (mode %#o): proc and sysfs are mounted on one only", dest, st.Mode&unix.S_IFMT)
	}
	return nil
}

// mountPoint opens the destination dest inside the root, creating it as
// a directory (dir) or an empty file if it is missing, and checks that
// it is of that kind and not the root itself (which a symlink to "/" in
// the image would lead to).
func (r *Rootfs) mountPoint(rootfd int, dest string, dir bool) (int, error) {
	var fd int
	var err error
	if dir {
		fd, err = rootfs.MkdirAllInRoot(rootfd, r.Root, dest, 0o755)
	} else {
		fd, err = rootfs.CreateFileInRoot(rootfd, r.Root, dest)
	}
	if err != nil {
		return -1, err
	}
	var st, rst unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("stat %s: %w", dest, err)
	}
	if err := unix.Fstat(rootfd, &rst); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("stat %s: %w", r.Root, err)
	}
	if st.Dev == rst.Dev && st.Ino == rst.Ino {
		unix.Close(fd)
		return -1, fmt.Errorf("%s resolves to the container's root directory", dest)
	}
	if isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR; isDir != dir {
		unix.Close(fd)
		want := "a directory"
		if !dir {
			want = "a file"
		}
		return -1, fmt.Errorf("%s in the image is not %s, as the mount needs", dest, want)
	}
	return fd, nil
}

// bind binds m.Source onto the destination, then gives the bind its own
// flags with a remount.
func (r *Rootfs) bind(rootfd int, m Mount, flags uintptr) error {
	// The host's path, symlinks followed as runc does: the config is
	// the caller's, not the image's.
	fi, err := os.Stat(m.Source)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	// A bind needs a directory on a directory and a non-directory on a
	// non-directory: the mount point is made the same kind as the source.
	fd, err := r.mountPoint(rootfd, m.Destination, fi.IsDir())
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	// MS_BIND makes the same files visible in a second place; MS_REC
	// (rbind) takes the mounts below the source along. Every other
	// flag is ignored by the kernel with MS_BIND: see the remount.
	if err := unix.Mount(m.Source, procFD(fd), "", flags&(unix.MS_BIND|unix.MS_REC), ""); err != nil {
		return fmt.Errorf("bind of %s: %w", m.Source, err)
	}
	if flags&^(unix.MS_BIND|unix.MS_REC|unix.MS_REMOUNT) == 0 && m.Cleared == 0 {
		return nil // the source's own flags are what is asked for
	}
	mfd, err := rootfs.OpenInRoot(rootfd, r.Root, m.Destination, 0)
	if err != nil {
		return err
	}
	defer unix.Close(mfd)
	return remountBind(mfd, flags, uintptr(m.Cleared))
}

// keptFlags are the per-mount flags a bind keeps from the mount it
// copies unless an option clears them by name (see remountBind).
const keptFlags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC

// flagNames name mount flags in errors, as the options that set them.
var flagNames = []struct {
	flag uintptr
	name string
}{
	{unix.MS_RDONLY, "ro"}, {unix.MS_NOSUID, "nosuid"}, {unix.MS_NODEV, "nodev"}, {unix.MS_NOEXEC, "noexec"},
	{unix.MS_NOATIME, "noatime"}, {unix.MS_NODIRATIME, "nodiratime"}, {unix.MS_RELATIME, "relatime"},
}

func namesOf(flags uintptr) string {
	var out []string
	for _, f := range flagNames {
		if flags&f.flag != 0 {
			out = append(out, f.name)
		}
	}
	return strings.Join(out, ",")
}

// remountBind gives the bind mount mfd the flags flags.
//
// A bind gets flags of its own only through a second call:
// MS_REMOUNT|MS_BIND changes this one mount's flags, not those of the
// filesystem behind it (which the host may use read-write elsewhere),
// and replaces them all, the access-time mode excepted when none is
// given. So the ro, nosuid, nodev and noexec that the copied mount has
// are passed again, unless an option cleared one by name (rw, suid, dev,
// exec): "ro" on a bind of a nosuid mount must not make it suid. runc
// keeps them only where it must; berth always, so that a bind is never
// weaker than its source without being asked to.
//
// In a user namespace the flags of a mount made by a more privileged
// namespace (the host's) are locked: clearing one fails with EPERM, and
// the error says which the options cleared.
func remountBind(mfd int, flags, cleared uintptr) error {
	var st unix.Statfs_t
	if err := unix.Statfs(procFD(mfd), &st); err != nil {
		return fmt.Errorf("statfs of the bind: %w", err)
	}
	// statfs reports these with the same bits as mount(2) takes them.
	have := uintptr(st.Flags)
	flags = flags&^unix.MS_REC | unix.MS_BIND | unix.MS_REMOUNT | have&keptFlags&^cleared
	err := unix.Mount("", procFD(mfd), "", flags, "")
	if errors.Is(err, unix.EPERM) && have&cleared != 0 {
		return fmt.Errorf("remount with its flags: the mount it binds has %s, which a user namespace may not clear: %w", namesOf(have&cleared), err)
	}
	if err != nil {
		return fmt.Errorf("remount with its flags (%s): %w", namesOf(flags), err)
	}
	return nil
}

// setPropagation applies m's propagation options, in order, then its
// recursive options, to the mount at m.Destination.
func (r *Rootfs) setPropagation(rootfd int, m Mount) error {
	if len(m.Propagation) == 0 && m.AttrSet == 0 && m.AttrClr == 0 {
		return nil
	}
	mfd, err := rootfs.OpenInRoot(rootfd, r.Root, m.Destination, 0)
	if err != nil {
		return err
	}
	defer unix.Close(mfd)
	for _, p := range m.Propagation {
		if err := unix.Mount("", procFD(mfd), "", uintptr(p), ""); err != nil {
			return fmt.Errorf("propagation %#x: %w", p, err)
		}
	}
	if m.AttrSet != 0 || m.AttrClr != 0 {
		// mount_setattr changes only the attributes named, on every
		// mount below too (AT_RECURSIVE): what rro & co promise.
		attr := unix.MountAttr{Attr_set: m.AttrSet, Attr_clr: m.AttrClr}
		if err := unix.MountSetattr(mfd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr); err != nil {
			return fmt.Errorf("recursive options (mount_setattr set %#x clear %#x): %w", m.AttrSet, m.AttrClr, err)
		}
	}
	return nil
}

// tmpfs mounts a new tmpfs on the destination. Its root directory takes
// the mode and owner of the directory it covers unless a mode= option
// says otherwise, as runc does: covering /tmp (1777) must not turn it
// into a 0755 directory. With tmpcopyup it also gets a copy of what it
// covers.
func (r *Rootfs) tmpfs(rootfd int, m Mount, flags uintptr) error {
	fd, err := r.mountPoint(rootfd, m.Destination, true)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat: %w", err)
	}
	src := -1
	if m.CopyUp {
		// Opened before the mount: afterwards the path leads to the
		// tmpfs, but this descriptor still to the directory beneath.
		if src, err = unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
			return fmt.Errorf("opening what tmpcopyup copies: %w", err)
		}
		defer unix.Close(src)
	}
	source := m.Source
	if source == "" {
		source = "tmpfs"
	}
	if err := unix.Mount(source, procFD(fd), "tmpfs", flags, m.Data); err != nil {
		return err
	}
	mfd, err := rootfs.OpenInRoot(rootfd, r.Root, m.Destination, unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	defer unix.Close(mfd)
	if !hasOption(m.Data, "mode") {
		if err := unix.Chmod(procFD(mfd), st.Mode&0o7777); err != nil {
			return fmt.Errorf("chmod like the directory it covers: %w", err)
		}
	}
	if src >= 0 {
		if !hasOption(m.Data, "uid") && !hasOption(m.Data, "gid") {
			if err := unix.Chown(procFD(mfd), int(st.Uid), int(st.Gid)); err != nil {
				return fmt.Errorf("tmpcopyup: chown: %w", err)
			}
		}
		if err := copyTree(src, mfd, m.Destination); err != nil {
			return fmt.Errorf("tmpcopyup: %w", err)
		}
	}
	return nil
}

// hasOption reports whether the data string data has key=... in it.
func hasOption(data, key string) bool {
	for _, o := range strings.Split(data, ",") {
		if strings.HasPrefix(o, key+"=") {
			return true
		}
	}
	return false
}

// copyTree copies the contents of the directory src into the directory
// dst, keeping modes, owners and times, never following a symlink (they
// are copied as links). name is src's path, for errors.
func copyTree(src, dst int, name string) error {
	d := os.NewFile(uintptr(mustDup(src)), name)
	if d == nil {
		return fmt.Errorf("%s: bad descriptor", name)
	}
	entries, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	for _, e := range entries {
		if err := copyEntry(src, dst, e.Name(), path.Join(name, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// mustDup duplicates fd, so that os.File may own and close the copy (-1
// if the kernel refuses, which os.NewFile turns into nil).
func mustDup(fd int) int {
	n, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return -1
	}
	return n
}

// copyEntry copies the entry base of the directory src into dst.
func copyEntry(src, dst int, base, name string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(src, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("stat %s: %w", name, err)
	}
	mode := st.Mode & 0o7777
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if err := unix.Mkdirat(dst, base, 0o700); err != nil {
			return fmt.Errorf("mkdir %s: %w", name, err)
		}
		s, err := unix.Openat(src, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open %s: %w", name, err)
		}
		defer unix.Close(s)
		t, err := unix.Openat(dst, base, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open the copy of %s: %w", name, err)
		}
		defer unix.Close(t)
		if err := copyTree(s, t, name); err != nil {
			return err
		}
	case unix.S_IFREG:
		if err := copyFile(src, dst, base, name); err != nil {
			return err
		}
	case unix.S_IFLNK:
		buf := make([]byte, unix.PathMax)
		n, err := unix.Readlinkat(src, base, buf)
		if err != nil {
			return fmt.Errorf("readlink %s: %w", name, err)
		}
		if err := unix.Symlinkat(string(buf[:n]), dst, base); err != nil {
			return fmt.Errorf("symlink %s: %w", name, err)
		}
	default: // devices, FIFOs, sockets: the node itself
		if err := unix.Mknodat(dst, base, st.Mode, int(st.Rdev)); err != nil {
			return fmt.Errorf("mknod %s: %w", name, err)
		}
	}
	if err := unix.Fchownat(dst, base, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown %s: %w", name, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		// After the chown, which clears setuid and setgid bits.
		if err := unix.Fchmodat(dst, base, mode, 0); err != nil {
			return fmt.Errorf("chmod %s: %w", name, err)
		}
	}
	times := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(dst, base, times, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("times of %s: %w", name, err)
	}
	return nil
}

// copyFile copies the regular file base of src into dst.
func copyFile(src, dst int, base, name string) error {
	s, err := unix.Openat(src, base, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", name, err)
	}
	in := os.NewFile(uintptr(s), name)
	defer in.Close()
	t, err := unix.Openat(dst, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("create the copy of %s: %w", name, err)
	}
	out := os.NewFile(uintptr(t), name)
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", name, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("copy %s: %w", name, err)
	}
	return nil
}

// A container without a mount namespace of its own (Rootfs.HostMountNS)
// mounts in the host's table, and nothing takes those mounts away when
// it ends: with a namespace of its own, the kernel drops the whole table
// with its last process; here they stay until someone unmounts them
// (runc leaves them on the host). So create writes down which mounts
// are the container's, and delete, delete --force and a failed create
// unmount exactly those:
//
//	create:  readMounts ─ before ─▶ init mounts under root.path
//	                                  (Prepare, createContainer hooks,
//	                                   /dev/console) ─ ready
//	         newMountsUnder(before, root) ─▶ <state dir>/host-mounts.json
//	delete:  kill init ─▶ unmountHostMounts, last made first, MNT_DETACH
//
// A mount is named by its ID and its mount point, both from
// /proc/self/mountinfo: an ID alone may be reused once its mount is gone,
// a path alone may be a mount the host made there since.

// hostMountsFile holds the container's mounts in the host's table.
const hostMountsFile = "host-mounts.json"

// hostMount is one mount a container made in the host's table.
type hostMount struct {
	ID    int    `json:"id"`
	Point string `json:"point"`
}

// readMounts reads this process's mount table.
func readMounts() ([]mountinfoEntry, error) {
	text, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("reading the mount table: %w", err)
	}
	return parseMountinfo(string(text))
}

// newMountsUnder returns the mounts of the table now that are not in
// before and lie at or under root, in the table's order, which is the
// order they were made in (a mount joins the end of its namespace's
// list; Linux 6.8 and later sort by a mount ID that only grows).
func newMountsUnder(before []mountinfoEntry, root string) ([]hostMount, error) {
	now, err := readMounts()
	if err != nil {
		return nil, err
	}
	var out []hostMount
	for _, m := range now {
		if under(m.Point, root) && !slices.Contains(before, m) {
			out = append(out, hostMount{ID: m.ID, Point: m.Point})
		}
	}
	return out, nil
}

// saveHostMounts writes ms into the state directory dir.
func saveHostMounts(dir string, ms []hostMount) error {
	b, err := json.Marshal(ms)
	if err != nil {
		return fmt.Errorf("encoding the container's mounts: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, hostMountsFile), b, atomicfile.Options{}); err != nil {
		return fmt.Errorf("recording the container's mounts: %w", err)
	}
	return nil
}

// unmountRecorded unmounts the mounts recorded in the state directory
// dir, if there are any, then forgets them.
func unmountRecorded(dir string) error {
	name := filepath.Join(dir, hostMountsFile)
	b, err := os.ReadFile(name)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the container's mounts: %w", err)
	}
	var ms []hostMount
	if err := json.Unmarshal(b, &ms); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := unmountHostMounts(ms); err != nil {
		return err
	}
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("forgetting the container's mounts: %w", err)
	}
	return nil
}

// unmountHostMounts unmounts ms, the last made first, each only if it
// is still there under its ID. MNT_DETACH: a process of the host with a
// file open in one of them does not keep the others from going.
//
// Each is reached by a descriptor, not by its path: the container's
// root may have been changed while it ran (a directory on the way made
// a symlink to the host's /), so the path is resolved without following
// any symlink (openat2's RESOLVE_NO_SYMLINKS), checked to lead to the
// mount of that ID (statx), and the unmount made through /proc/self/fd.
func unmountHostMounts(ms []hostMount) error {
	for i := len(ms) - 1; i >= 0; i-- {
		m := ms[i]
		now, err := readMounts()
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(now, func(e mountinfoEntry) bool { return e.ID == m.ID && e.Point == m.Point }) {
			continue // gone already (with a mount above it, or unmounted in the container)
		}
		fd, err := unix.Openat2(unix.AT_FDCWD, m.Point, &unix.OpenHow{
			Flags: unix.O_PATH | unix.O_CLOEXEC | unix.O_NOFOLLOW, Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
		})
		if err != nil {
			return fmt.Errorf("unmounting the container's mount %s: %w", m.Point, err)
		}
		var stx unix.Statx_t
		err = unix.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_MNT_ID, &stx)
		if err == nil && int(stx.Mnt_id) != m.ID {
			err = fmt.Errorf("another mount (%d) covers it", stx.Mnt_id)
		}
		if err == nil {
			err = unix.Unmount(procFD(fd), unix.MNT_DETACH)
		}
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("unmounting the container's mount %s (mount %d): %w", m.Point, m.ID, err)
		}
	}
	return nil
}
