package layer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/explain"
)

// MaxLayers is the most lower layers one overlay mount can stack
// (OVL_MAX_STACK in the kernel).
const MaxLayers = 500

// overlayMagic is the f_type that statfs(2) reports for an overlay.
const overlayMagic = 0x794c7630

// MountSpec is what it takes to mount a container's root filesystem: the
// image's read-only layers and the container's own writable layer. It
// travels to the container's init inside its spec, which is JSON.
type MountSpec struct {
	// Lower are the image's layer directories, BOTTOM FIRST, the order in
	// which images are built and --image lists them. (overlay's lowerdir=
	// option wants them the other way round: Options reverses them.)
	Lower []string `json:"lower"`
	// Upper receives every change the container makes.
	Upper string `json:"upper"`
	// Work is overlay's scratch directory, where a copy-up or a whiteout
	// is prepared before it is renamed into Upper in one atomic step. It
	// must be empty and on the same filesystem as Upper (a rename cannot
	// cross filesystems).
	Work string `json:"work"`
	// UserXattr is for a mount made inside a user namespace: overlay then
	// keeps its markers (opaque directories) in user.overlay.* extended
	// attributes, because trusted.* ones need privilege over the host.
	UserXattr bool `json:"userXattr,omitempty"`
	// Idmapped are directories (image layers, the container's directory,
	// volumes) that init replaces, in its mount namespace, with idmapped
	// mounts of themselves, which it inherits as descriptors
	// namespace.FilesFD, ... in this order (idmap.go). Only init uses
	// them: on the host (Mount) the directories are what they are.
	Idmapped []string `json:"idmapped,omitempty"`
	// Volatile is for a writable layer that is thrown away after the
	// run (see Volatile below): overlay then never makes the container
	// wait for the disk.
	Volatile bool `json:"volatile,omitempty"`
}

// Validate checks that the directories exist and fit together, so that a
// mistake is reported with the path involved instead of a bare EINVAL
// from mount(2).
func (m MountSpec) Validate() error {
	if len(m.Lower) == 0 {
		return errors.New("overlay: no image layers (lower directories) given")
	}
	if len(m.Lower) > MaxLayers {
		return fmt.Errorf("overlay: %d image layers, the kernel stacks at most %d", len(m.Lower), MaxLayers)
	}
	for _, dir := range m.Lower {
		if err := checkDir("image layer", dir); err != nil {
			return fmt.Errorf("overlay: %w", err)
		}
	}
	if err := checkDir("upper directory", m.Upper); err != nil {
		return fmt.Errorf("overlay: %w", err)
	}
	if err := checkDir("work directory", m.Work); err != nil {
		return fmt.Errorf("overlay: %w", err)
	}
	var up, work unix.Stat_t
	if err := unix.Stat(m.Upper, &up); err != nil {
		return fmt.Errorf("overlay: upper directory %s: %w", m.Upper, err)
	}
	if err := unix.Stat(m.Work, &work); err != nil {
		return fmt.Errorf("overlay: work directory %s: %w", m.Work, err)
	}
	if up.Dev != work.Dev {
		return fmt.Errorf("overlay: upper directory %s and work directory %s are on different filesystems", m.Upper, m.Work)
	}
	return nil
}

// checkDir checks that dir is an absolute path to a directory.
func checkDir(what, dir string) error {
	if !filepath.IsAbs(dir) {
		return fmt.Errorf("%s %q: not an absolute path", what, dir)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s %s: not a directory", what, dir)
	}
	return nil
}

// lowerTopFirst returns the lower directories in overlay's order: the
// topmost layer, whose files win, first.
func (m MountSpec) lowerTopFirst() []string {
	top := make([]string, len(m.Lower))
	for i, dir := range m.Lower {
		top[len(m.Lower)-1-i] = dir
	}
	return top
}

// fixedOptions are the options besides the directories, as key=value
// pairs (a key alone is a flag).
//
// redirect_dir=nofollow and metacopy=off keep every change the container
// makes as plain files in Upper: otherwise renaming a directory or
// changing a file's owner may store only a pointer to the lower file in
// an extended attribute, which `diff` and chapter 06's commit (a tar of
// Upper) cannot express. ("nofollow" also ignores such pointers in the
// image; "off" would follow them, which a mount in a user namespace is
// not allowed to.) index=off: no hard-link bookkeeping in Work.
func (m MountSpec) fixedOptions() []string {
	opts := []string{"redirect_dir=nofollow", "metacopy=off", "index=off"}
	if m.UserXattr {
		opts = append(opts, "userxattr")
	}
	if m.Volatile {
		opts = append(opts, "volatile")
	}
	return opts
}

// A volatile overlay.
//
// An overlay keeps its promises about the disk: an fsync in the
// container flushes the upper directory's filesystem, and so does the
// overlay's unmount. The last one is paid at every container's end, by
// the container's last process as it exits and its mount namespace goes:
// the kernel writes back the upper filesystem's dirty inodes and asks the
// disk to flush its cache, a millisecond or more, before the container
// counts as exited.
//
// A writable layer that is removed after the run has no use for any of
// it: whatever reaches the disk is deleted next. Overlay's "volatile"
// option (Linux 5.10) skips every sync of the upper directory, so the
// container's end waits for no disk (Podman mounts `run --rm` containers
// so). The price is overlay's own: once mounted volatile, the work
// directory holds a marker, work/incompat/volatile, and overlay refuses
// to mount that upper directory again while it is there, because after a
// crash the upper directory may have lost writes. For a layer that is
// thrown away anyway that does not matter, so Mount removes the marker
// before a volatile mount (a container started again, say `restart` of
// a `run --rm` container, mounts its layer again).

// volatileMarker is the marker a volatile overlay leaves in its work
// directory.
func (m MountSpec) volatileMarker() string {
	return filepath.Join(m.Work, "work", "incompat", "volatile")
}

// escapeOption protects the characters that overlay's option parser
// gives a meaning to: "," ends an option and ":" separates lower
// directories. A backslash escapes either, and itself.
var escapeOption = strings.NewReplacer(`\`, `\\`, `,`, `\,`, `:`, `\:`).Replace

// Options returns the data string for mount(2), the same text that
// `mount -t overlay overlay -o OPTIONS merged` takes:
//
//	lowerdir=TOP:...:BOTTOM,upperdir=UPPER,workdir=WORK,redirect_dir=off,...
func (m MountSpec) Options() string {
	lower := m.lowerTopFirst()
	for i, dir := range lower {
		lower[i] = escapeOption(dir)
	}
	opts := []string{
		"lowerdir=" + strings.Join(lower, ":"),
		"upperdir=" + escapeOption(m.Upper),
		"workdir=" + escapeOption(m.Work),
	}
	return strings.Join(append(opts, m.fixedOptions()...), ",")
}

// Mount mounts the overlay at target, an existing directory. It works in
// any mount namespace: the chapter's init calls it inside the container's
// own, so that the mount disappears with the container.
//
// mount(2) copies at most one page (4096 bytes on most machines) of
// options from the caller, and an image of many layers with long paths
// does not fit: the options would be cut short. Then Mount uses the new
// mount API instead (fsopen, fsconfig, fsmount, move_mount), which takes
// the layers one by one with overlay's "lowerdir+" key (Linux 6.8+).
//
// A Volatile mount first removes the marker of the layer's last volatile
// mount, which would make overlay refuse it (see "A volatile overlay").
func (m MountSpec) Mount(target string) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if m.Volatile {
		if err := os.RemoveAll(m.volatileMarker()); err != nil {
			return fmt.Errorf("overlay: the last volatile mount's marker: %w", err)
		}
	}
	opts := m.Options()
	if t := explain.Inside(); t.On() { // --explain
		t.Stepf(explain.Layers, "mount", "(overlay on %s type overlay, %d lowerdirs, upperdir %s, volatile=%t)", target, len(m.Lower), m.Upper, m.Volatile)
	}
	if len(opts) < os.Getpagesize() {
		err := unix.Mount("overlay", target, "overlay", 0, opts)
		if errors.Is(err, unix.EINVAL) && m.Volatile {
			// A kernel older than 5.10 does not know "volatile": it
			// is only a saving, do without.
			m.Volatile = false
			err = unix.Mount("overlay", target, "overlay", 0, m.Options())
		}
		if err != nil {
			return fmt.Errorf("mounting overlay on %s (%d image layers, upper %s): %w", target, len(m.Lower), m.Upper, err)
		}
		return nil
	}
	if err := m.mountLayerByLayer(target); err != nil {
		return fmt.Errorf("mounting overlay on %s (%d image layers; their options take %d bytes, more than mount(2) accepts): %w",
			target, len(m.Lower), len(opts), err)
	}
	return nil
}

// mountLayerByLayer builds the overlay with the new mount API: a
// filesystem context is configured one key at a time, with no length
// limit on the whole, then turned into a mount and attached at target.
func (m MountSpec) mountLayerByLayer(target string) error {
	fsfd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("fsopen: %w", err)
	}
	defer unix.Close(fsfd)
	set := func(key, value string) error {
		var err error
		if value == "" {
			err = unix.FsconfigSetFlag(fsfd, key)
		} else {
			err = unix.FsconfigSetString(fsfd, key, value)
		}
		if err != nil {
			return fmt.Errorf("fsconfig %s=%s: %w%s", key, value, err, kernelMessages(fsfd))
		}
		return nil
	}
	for _, dir := range m.lowerTopFirst() {
		if err := set("lowerdir+", dir); err != nil {
			if errors.Is(err, unix.EINVAL) {
				err = fmt.Errorf("%w (lowerdir+ needs Linux 6.8 or later)", err)
			}
			return err
		}
	}
	if err := set("upperdir", m.Upper); err != nil {
		return err
	}
	if err := set("workdir", m.Work); err != nil {
		return err
	}
	for _, opt := range m.fixedOptions() {
		key, value, _ := strings.Cut(opt, "=")
		if err := set(key, value); err != nil {
			return err
		}
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return fmt.Errorf("creating the overlay: %w%s", err, kernelMessages(fsfd))
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("fsmount: %w", err)
	}
	defer unix.Close(mfd) // the mount stays once attached; the fd would pin it
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount to %s: %w", target, err)
	}
	return nil
}

// kernelMessages reads what the kernel logged about a failed fsconfig:
// with the new mount API, overlay's explanations ("overlayfs: failed to
// resolve ...") go to the context's file descriptor, not only to dmesg.
func kernelMessages(fsfd int) string {
	var msgs []string
	buf := make([]byte, 4096)
	for {
		n, err := unix.Read(fsfd, buf)
		if err != nil || n <= 0 {
			break
		}
		msgs = append(msgs, strings.TrimSpace(string(buf[:n])))
	}
	if len(msgs) == 0 {
		return ""
	}
	return " (kernel: " + strings.Join(msgs, "; ") + ")"
}

// Unmount unmounts the overlay at target.
func Unmount(target string) error {
	if err := unix.Unmount(target, 0); err != nil {
		return fmt.Errorf("unmounting overlay at %s: %w", target, err)
	}
	return nil
}

// onOverlay reports whether path lives on an overlay filesystem.
func onOverlay(path string) (bool, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return false, fmt.Errorf("statfs %s: %w", path, err)
	}
	return st.Type == overlayMagic, nil
}

// isMountPoint reports whether path is the root of a mount.
func isMountPoint(path string) (bool, error) {
	var stx unix.Statx_t
	err := unix.Statx(unix.AT_FDCWD, path, unix.AT_SYMLINK_NOFOLLOW, 0, &stx)
	if errors.Is(err, syscall.ENOENT) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("statx %s: %w", path, err)
	}
	if stx.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT == 0 {
		return false, fmt.Errorf("statx %s: this kernel does not report mount points (Linux 5.8+)", path)
	}
	return stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0, nil
}
