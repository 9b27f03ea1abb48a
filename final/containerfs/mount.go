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
	h := &nsHolder{spec: spec, target: target, mounts: mounts, what: what,
		ready: make(chan error), done: make(chan struct{}), unmounted: make(chan error)}
	go func() {
		runtime.LockOSThread()
		if unix.Gettid() != unix.Getpid() {
			h.hold() // the thread ends with this goroutine, still locked
			return
		}
		// The process's main thread: the runtime never ends it (that
		// would end the process), and /proc/self shows its mounts.
		// Keep it locked here, which makes the holder's goroutine run
		// on another thread, and give it back untouched afterwards.
		held := make(chan struct{})
		go func() {
			runtime.LockOSThread()
			h.hold()
			close(held)
		}()
		<-held
		runtime.UnlockOSThread()
	}()
	if err := <-h.ready; err != nil {
		return nil, err
	}
	return h.root, nil
}

// nsHolder is the thread that holds a stopped container's mounts.
type nsHolder struct {
	spec      layer.MountSpec
	target    string
	mounts    []rootfs.Volume
	what      string
	root      *Root
	ready     chan error    // the root is open, or could not be
	done      chan struct{} // closed by the root's Close
	unmounted chan error
}

// hold runs on a locked thread that is not the main one, and never
// unlocks it: when it returns, the runtime ends the thread, and with it
// the namespace. It unmounts the root explicitly before, so that when
// Close returns the overlay is gone: a start may mount the same upper
// directory next. (The root's descriptor is closed by then.)
func (h *nsHolder) hold() {
	root, err := mountOnThread(h.spec, h.target, h.mounts, h.what)
	if err != nil {
		h.ready <- err
		return
	}
	root.release = func() error { close(h.done); return <-h.unmounted }
	h.root = root
	h.ready <- nil
	<-h.done
	if err := unix.Unmount(h.target, unix.MNT_DETACH); err != nil {
		h.unmounted <- fmt.Errorf("unmounting the root of %s: %w", h.what, err)
		return
	}
	h.unmounted <- nil
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
	for i := 0; err == nil && i < len(mounts); i++ {
		if err = root.bind(mounts[i]); err != nil {
			root.Close()
		}
	}
	if err != nil {
		// Gone before the caller releases the layer, as after Close.
		_ = unix.Unmount(target, unix.MNT_DETACH)
		return nil, err
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
