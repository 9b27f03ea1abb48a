package layer

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"

	"golang.org/x/sys/unix"
)

// The extended attributes that mark a directory opaque. A privileged
// overlay mount uses the trusted. namespace, which only a process with
// CAP_SYS_ADMIN in the host's user namespace can set or read, so that no
// container can forge one. A mount made inside a user namespace (the
// "userxattr" option) uses the user. namespace instead.
const (
	OpaqueXattr     = "trusted.overlay.opaque"
	UserOpaqueXattr = "user.overlay.opaque"
)

// IsWhiteout reports whether fi describes an overlay whiteout: a character
// device with device number 0/0. No real device has that number, so the
// kernel uses it in an upper (or lower) layer to say "the file of this
// name in the layers below is deleted".
func IsWhiteout(fi fs.FileInfo) bool {
	if fi == nil || fi.Mode()&fs.ModeCharDevice == 0 {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Rdev == 0
}

// IsOpaque reports whether dir, a directory in a layer, is opaque: it
// replaces the directory of the same name in the layers below instead of
// being merged with it, so none of their entries shows through. The
// kernel marks a directory opaque when it is created where the layers
// below had one that was deleted (rm -rf d; mkdir d).
//
// Only "y" means opaque. (Recent kernels also write "x", which means "this
// directory holds xattr whiteouts", for overlays nested in overlays.)
func IsOpaque(dir string) (bool, error) {
	for _, name := range []string{OpaqueXattr, UserOpaqueXattr} {
		v, err := getxattr(dir, name)
		if err != nil {
			return false, err
		}
		if v == "y" {
			return true, nil
		}
	}
	return false, nil
}

// getxattr reads attribute name of path, without following a symlink.
// A missing attribute, or a filesystem without extended attributes, is
// the empty string.
func getxattr(path, name string) (string, error) {
	buf := make([]byte, 8) // the values that matter here are one byte long
	for {
		n, err := unix.Lgetxattr(path, name, buf)
		switch {
		case errors.Is(err, unix.ENODATA), errors.Is(err, unix.ENOTSUP):
			return "", nil
		case errors.Is(err, unix.ERANGE):
			buf = make([]byte, 2*len(buf))
			continue
		case err != nil:
			return "", fmt.Errorf("reading xattr %s of %s: %w", name, path, err)
		}
		return string(buf[:n]), nil
	}
}

// MakeWhiteout creates a whiteout at path, deleting the file of that name
// in the layers below. Use it to turn an image archive's ".wh.NAME" entry
// into what overlay understands (chapter 06). path must not exist.
func MakeWhiteout(path string) error {
	if err := unix.Mknod(path, unix.S_IFCHR, 0); err != nil {
		return fmt.Errorf("creating whiteout %s: %w", path, err)
	}
	return nil
}

// MakeOpaque marks dir opaque for a privileged overlay mount, hiding the
// contents of the directories of the same name in the layers below. Use
// it to turn an image archive's ".wh..wh..opq" entry into what overlay
// understands (chapter 06).
func MakeOpaque(dir string) error {
	if err := unix.Lsetxattr(dir, OpaqueXattr, []byte("y"), 0); err != nil {
		return fmt.Errorf("marking %s opaque (%s): %w", dir, OpaqueXattr, err)
	}
	return nil
}
