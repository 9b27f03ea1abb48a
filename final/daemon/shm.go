package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/03-rootfs/rootfs"
	"github.com/berth-project/berth/06-images/image"
	"github.com/berth-project/berth/07-logs/shim"
)

// Sharing a container's PID and IPC namespaces (docker run --pid and
// --ipc container:ID, Compose's pid: and ipc: "service:x").
//
// A namespace is joined, not made: the shim opens /proc/PID/ns/pid and
// /proc/PID/ns/ipc of the donor's init at each start, and chapter 01
// forks the container's init in them. So the donor must be running;
// otherwise the start fails with dockerd's words, and nothing is made.
// The namespaces live as long as the donor's init: when it exits the
// kernel kills every process of its PID namespace, the joiner's too
// (exit 137, as under dockerd).
//
// IPC is System V objects and message queues, which the namespace
// carries, and POSIX shared memory, which is files in /dev/shm: a
// tmpfs. A container's /dev/shm is made inside its own mount namespace,
// out of everyone else's reach; a shareable one's is mounted by the
// shim on the host, in the container's directory, and bound onto
// /dev/shm of the donor and of each container that joins it:
//
//	<DataRoot>/containers/<donor>/shm   tmpfs, mode 1777, --shm-size
//	   bound at /dev/shm in the donor and in each joiner
//
// The tmpfs goes at the donor's exit. --ipc host binds the host's
// /dev/shm the same way. Only a shareable donor may be joined (dockerd's
// rule): a private one's owner said no.

const shmDir = "shm"

// ipcAndPid completes o, at a start, with the namespaces s shares and
// the /dev/shm that goes with them.
func (s *runSpec) ipcAndPid(o *image.RunOptions, c *shim.Container) error {
	root := o.Layer.Root
	// IPC first, as dockerd checks it first.
	switch {
	case s.IpcContainer != "":
		pid, dir, err := donor(root, s.IpcContainer)
		if err == nil {
			err = shareable(dir)
		}
		if err != nil {
			return fmt.Errorf("can't join IPC of container %s: %w", s.IpcContainer, err)
		}
		o.Config.JoinIpcns = fmt.Sprintf("/proc/%d/ns/ipc", pid)
		o.Config.NoPrestart = true // the donor's tmpfs may be younger than a spare init
		o.FS.Volumes = append(o.FS.Volumes, rootfs.Volume{Source: filepath.Join(dir, shmDir), Target: "/dev/shm"})
	case s.HostShm:
		o.FS.Volumes = append(o.FS.Volumes, rootfs.Volume{Source: "/dev/shm", Target: "/dev/shm"})
	case s.ShareShm:
		dir := filepath.Join(c.Dir(), shmDir)
		if err := mountShm(dir, o.FS.ShmSize); err != nil {
			return err
		}
		o.Config.NoPrestart = true // a spare init's mounts predate it
		o.FS.Volumes = append(o.FS.Volumes, rootfs.Volume{Source: dir, Target: "/dev/shm"})
	}
	if s.PidContainer != "" {
		pid, _, err := donor(root, s.PidContainer)
		if err != nil {
			return err
		}
		o.Config.JoinPidns = fmt.Sprintf("/proc/%d/ns/pid", pid)
	}
	return nil
}

// donor is the running container id's init and directory, or dockerd's
// error.
func donor(root, id string) (pid int, dir string, err error) {
	store, err := shim.OpenStore(root)
	if err != nil {
		return 0, "", err
	}
	c, err := store.Get(id)
	if err != nil {
		return 0, "", fmt.Errorf("No such container: %s", id)
	}
	st, err := c.State()
	if err != nil {
		return 0, "", err
	}
	if st.Status != shim.Running || st.Pid <= 0 {
		return 0, "", fmt.Errorf("container %s is not running", id)
	}
	return st.Pid, c.Dir(), nil
}

// shareable checks that the container in dir was made --ipc shareable,
// and that its /dev/shm is there to bind.
func shareable(dir string) error {
	data, err := os.ReadFile(filepath.Join(dir, recordFile))
	var rec struct {
		HostConfig struct{ IpcMode string }
	}
	if err == nil {
		err = json.Unmarshal(data, &rec)
	}
	if err != nil || rec.HostConfig.IpcMode != "shareable" {
		return errors.New("non-shareable IPC (hint: use IpcMode:shareable for the donor container)")
	}
	return nil
}

// mountShm mounts a shareable container's /dev/shm at dir: a tmpfs with
// the options chapter 03 gives every /dev/shm. A tmpfs left by a
// cleanup that failed goes first, so that mounts never pile up.
func mountShm(dir string, size int64) error {
	if size == 0 {
		size = rootfs.DefaultShmSize
	}
	if err := unmountShm(filepath.Dir(dir)); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("shareable /dev/shm: %w", err)
	}
	if err := unix.Mount("shm", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, fmt.Sprintf("mode=1777,size=%d", size)); err != nil {
		return fmt.Errorf("shareable /dev/shm: mounting a tmpfs on %s: %w", dir, err)
	}
	return nil
}

// unmountShm unmounts the shareable /dev/shm of the container in
// ctrDir, if it is mounted, and removes its mount point. Lazily
// (MNT_DETACH): a joiner still running keeps its bind of it until it
// exits, which the kernel counts for us.
func unmountShm(ctrDir string) error {
	dir := filepath.Join(ctrDir, shmDir)
	for {
		err := unix.Unmount(dir, unix.MNT_DETACH)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			break // not (or no longer) a mount point
		}
		if err != nil {
			return fmt.Errorf("unmounting the shareable /dev/shm %s: %w", dir, err)
		}
	}
	// No mount point any more: what is left is the container's.
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("shareable /dev/shm: %w", err)
	}
	return nil
}
