package containerfs

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/03-rootfs/rootfs"
	"github.com/berth-project/berth/04-cow-layers/layer"
)

// MountRoot makes the root of a container that is not running: its
// overlay (chapter 04's spec, mounted at target) and its mounts on top,
// in a mount namespace of their own, which nobody else sees and which
// goes away with Close. See doc.go for why a thread of its own holds it.
func MountRoot(spec layer.MountSpec, target string, mounts []rootfs.Volume, what string) (*Root, error) {
	type result struct {
		root *Root
		err  error
	}
	ready := make(chan result)
	done := make(chan struct{})
	unmounted := make(chan error)
	go func() {
		// The thread is never unlocked: when this goroutine returns,
		// the runtime ends the thread, and the namespace with it.
		runtime.LockOSThread()
		root, err := mountOnThread(spec, target, mounts, what)
		if err != nil {
			ready <- result{err: err}
			return
		}
		root.release = func() error { close(done); return <-unmounted }
		ready <- result{root: root}
		<-done
		// Unmount before the thread goes, so that when Close returns
		// the overlay is gone: a start may mount the same upper
		// directory next. (The root's descriptor is closed already.)
		if err := unix.Unmount(target, unix.MNT_DETACH); err != nil {
			unmounted <- fmt.Errorf("unmounting the root of %s: %w", what, err)
			return
		}
		unmounted <- nil
	}()
	res := <-ready
	return res.root, res.err
}

// mountOnThread runs on a locked thread: it unshares the thread's mount
// namespace (a copy of the host's, made private so that nothing
// propagates back), mounts the container's file systems and opens the
// root.
func mountOnThread(spec layer.MountSpec, target string, mounts []rootfs.Volume, what string) (*Root, error) {
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return nil, fmt.Errorf("mounting the root of %s: unshare: %w", what, err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return nil, fmt.Errorf("mounting the root of %s: making mounts private: %w", what, err)
	}
	if err := spec.Mount(target); err != nil {
		return nil, fmt.Errorf("mounting the root of %s: %w", what, err)
	}
	root, err := OpenRoot(target, what)
	if err != nil {
		return nil, err
	}
	for _, m := range mounts {
		if err := root.bind(m); err != nil {
			root.Close()
			return nil, err
		}
	}
	return root, nil
}

// bind mounts v in the root as the start does (chapter 03). A source
// that does not exist yet is left out: the start creates it.
func (r *Root) bind(v rootfs.Volume) error {
	if _, err := os.Stat(v.Source); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return rootfs.MountVolumeInRoot(r.fd, r.what, v)
}

// WithRelease has Close call release too, after what it did already.
func (r *Root) WithRelease(release func() error) *Root {
	prev := r.release
	r.release = func() error {
		var err error
		if prev != nil {
			err = prev()
		}
		return errors.Join(err, release())
	}
	return r
}
