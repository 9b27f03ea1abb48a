package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/vishvananda/netlink"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/02-cgroups/cgroup"
	"github.com/berth-project/berth/03-rootfs/rootfs"
	"github.com/berth-project/berth/03-rootfs/seccomp"
	"github.com/berth-project/berth/04-cow-layers/layer"
	"github.com/berth-project/berth/05-network/network"
	"github.com/berth-project/berth/06-images/image"
	"github.com/berth-project/berth/07-logs/shim"
)

// Runtime tells chapter 07's shims how berthd starts a container and
// cleans up after it: with chapter 06's runner, from an image of the
// store, as 07-logs/runtime.go does with chapter 05's. A shim is the
// daemon's binary re-executed, so berthd's main (and the tests'
// TestMain) calls Runtime.Main first thing, before the init dispatch:
//
//	func main() {
//		daemon.Runtime.Main() // a shim: supervise a container, then exit
//		if namespace.IsInit() {
//			os.Exit(daemon.Init()) // a container's init
//		}
//		...
//	}
var Runtime = shim.Runtime{
	Start:   startContainer,
	Cleanup: cleanupContainer,
	Remove:  removeContainer,
	Warm:    warm,
}

// warm is the Runtime's Warm: in a spare shim, before its container is
// known, it does ahead what the start will do for the first time in
// this process, whatever the container.
//
//   - encoding/json builds its codec of a type at the type's first use
//     (chapter 07's warmUp says more): here for the run spec, decoded
//     from the shim's config, the init's spec, sent to the container's
//     init, and chapter 05's endpoint, written at the network's attach.
//   - A container on the bridge is attached by netlink requests, from
//     the host and from inside the container's network namespace. The
//     first of each cost 0.85 ms in the trace, against 0.05 later: the
//     code's first page faults, the Go runtime's first thread locked to
//     a namespace. Here they go to a harmless request about lo, made
//     from inside this process's own namespace.
//   - Docker's seccomp profile, compiled for the default capabilities
//     (about 0.3 ms of CPU cold, microseconds cached), as most containers run.
//   - On a cgroup v2 host, Docker's device policy as an eBPF program,
//     loaded (about 0.9 ms): the container's start only attaches it.
func warm() {
	var defaults rootfs.InitSpec
	_ = defaults.CompileSeccomp(seccomp.Profile{})
	_ = cgroup.PrepareDevices(nil)
	for _, v := range []any{&runSpec{}, &layer.InitSpec{}, &network.Endpoint{}} {
		if data, err := json.Marshal(v); err == nil {
			_ = json.Unmarshal(data, v)
		}
	}
	if h, err := network.NetnsHandle("/proc/self/ns/net"); err == nil {
		_, _ = h.LinkByName("lo")
		h.Close()
	}
	_, _ = netlink.LinkByName("lo")
}

// Init is the container side of berthd's containers: chapter 04's init
// (chapter 06 adds nothing inside the container), wrapped by the shim so
// that a terminal becomes the container's controlling terminal and a
// command that cannot be executed fails the start (shim.ContainerInit).
var Init = shim.ContainerInit(layer.Init)

// deletions are the container directories being deleted in the
// background (removeContainer), by any daemon of the process.
var deletions background

// background counts goroutines, like a sync.WaitGroup that may be waited
// for while others are added (several daemons in one test process).
type background struct {
	mu   sync.Mutex
	n    int
	idle sync.Cond
}

// Go runs f in a goroutine of its own.
func (b *background) Go(f func()) {
	b.mu.Lock()
	b.n++
	b.mu.Unlock()
	go func() {
		defer func() {
			b.mu.Lock()
			if b.n--; b.n == 0 && b.idle.L != nil {
				b.idle.Broadcast()
			}
			b.mu.Unlock()
		}()
		f()
	}()
}

// Wait waits until no goroutine of b runs.
func (b *background) Wait() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.idle.L == nil {
		b.idle.L = &b.mu
	}
	for b.n > 0 {
		b.idle.Wait()
	}
}

// runSpec is what the daemon keeps in the shim's config (shim.Config.Spec)
// for the shim's Start: chapter 06's run options, and what the Engine
// API asks beyond them, which is applied to the container's spec once
// chapter 06 has made it.
type runSpec struct {
	Run image.RunOptions `json:"run"`
	// Args is the command, entrypoint included, as Docker resolves it
	// at create from the request and the image (--entrypoint replaces
	// the image's entrypoint, and then its Cmd too).
	Args []string `json:"args"`
	// UID and GID are the user the command runs as (-u, or the image's
	// USER), resolved at create.
	UID uint32 `json:"uid,omitempty"`
	GID uint32 `json:"gid,omitempty"`
	// Groups are its supplementary groups: the user's in the image's
	// /etc/group, and --group-add.
	Groups []uint32 `json:"groups,omitempty"`
	// Capabilities the command keeps: Docker's default set with
	// --cap-add and --cap-drop applied; nil for the default set, empty
	// for none (so no omitempty, as in chapter 03's InitSpec).
	Capabilities []string `json:"capabilities"`
	// NoNewPrivileges: --security-opt no-new-privileges.
	NoNewPrivileges bool `json:"noNewPrivileges,omitempty"`
	// NetContainer is the ID of the container whose network namespace
	// this one joins at each start (--network container:ID).
	NetContainer string `json:"netContainer,omitempty"`
	// PidContainer and IpcContainer are the IDs of the containers
	// whose PID and IPC namespaces this one joins at each start
	// (--pid container:ID, --ipc container:ID); the IPC donor's
	// /dev/shm (ShareShm) with it.
	PidContainer string `json:"pidContainer,omitempty"`
	IpcContainer string `json:"ipcContainer,omitempty"`
	// ShareShm (--ipc shareable): the container's /dev/shm is a tmpfs
	// the shim mounts on the host, in the container's directory
	// (shm.go), so that containers joining its IPC namespace can bind
	// it too. Otherwise /dev/shm is made inside the container, where
	// nothing else can reach it.
	ShareShm bool `json:"shareShm,omitempty"`
	// HostShm (--ipc host): the host's /dev/shm, with its IPC namespace.
	HostShm bool `json:"hostShm,omitempty"`
	// Forward, in a rootless daemon, has the published ports forwarded
	// from the host to its namespace (rootless.go).
	Forward *hostPorts `json:"forward,omitempty"`
}

// startContainer runs in the shim, at each start of the container: the
// container of chapters 01 to 05, started and left running. As in
// chapter 07 the container is Detached (it outlives the shim's Go half
// and the daemon) and its writable layer Persists (made at create,
// removed at rm).
//
// Chapter 06's part was done at create, as Docker does it: the image was
// resolved to its layers (Layer.Image), its configuration merged into
// the request (environment, working directory, user), the container's
// lease on it taken. So a start reads nothing of the image store: it is
// chapter 05's container on the image's layers, not chapter 06's runner.
//
// The API's command is already whole (and may replace the entrypoint),
// so the spec gets it afterwards, with the user, the capabilities and
// no_new_privs, the way chapter 06 itself sets the user on chapter 05's
// spec.
func startContainer(c *shim.Container, stdio namespace.Stdio) (*namespace.Process, error) {
	var s runSpec
	if err := c.DecodeSpec(&s); err != nil {
		return nil, err
	}
	o := s.Run
	o.Config.Detached = true
	o.Layer.Persist = true
	o.Config.Trace = c.Explain() // berthd --debug, berth run --explain: to the container's explain.log
	if s.NetContainer != "" {
		ns, err := netnsOf(o.Layer.Root, s.NetContainer)
		if err != nil {
			return nil, err
		}
		o.Config.JoinNetns = ns
	}
	if err := s.ipcAndPid(&o, c); err != nil {
		return nil, err
	}
	// Legacy links on the default bridge (links.go): the targets as
	// they are at this start.
	if err := legacyLinkStart(o.Layer.Root, c, &o); err != nil {
		return nil, err
	}
	ctr, err := o.RunOptions.Container(c.ID(), s.Args, stdio)
	if err != nil {
		return nil, err
	}
	if s.Forward != nil {
		forwardPorts(ctr, s.Forward, o.Layer.Root, c.ID())
	}
	spec, ok := ctr.Spec.(layer.InitSpec)
	if !ok {
		_ = ctr.Close()
		return nil, fmt.Errorf("container %s: unexpected spec %T from chapters 05 and 06", c.Name(), ctr.Spec)
	}
	spec.Command.Args = s.Args
	spec.Command.UID, spec.Command.GID, spec.Command.Groups = s.UID, s.GID, s.Groups
	spec.Capabilities = s.Capabilities
	spec.NoNewPrivileges = s.NoNewPrivileges
	// The filter depends on the capabilities: compiled again for these.
	if err := spec.CompileSeccomp(o.FS.Seccomp); err != nil {
		_ = ctr.Close()
		return nil, err
	}
	if s.NetContainer != "" {
		shareNameFiles(&spec, o.Layer.Root, c.ID(), s.NetContainer)
	}
	ctr.Spec = spec
	return ctr.Start()
}

// netnsOf is the network namespace of the running container id, for a
// container that joins it (chapter 01's Config.JoinNetns). It is opened
// by the container's init's PID: the namespace lives as long as that
// init.
func netnsOf(root, id string) (string, error) {
	store, err := shim.OpenStore(root)
	if err != nil {
		return "", err
	}
	c, err := store.Get(id)
	if err != nil {
		return "", fmt.Errorf("joining the network of container %s: %w", id, err)
	}
	st, err := c.State()
	if err != nil {
		return "", err
	}
	if st.Status != shim.Running || st.Pid <= 0 {
		return "", fmt.Errorf("cannot join network namespace of a non running container: %s", c.Name())
	}
	return fmt.Sprintf("/proc/%d/ns/net", st.Pid), nil
}

// cleanupContainer runs in the shim once the container has exited (or in
// whoever finds that the shim died): chapter 05's Cleanup, through
// chapter 06's options, removes the cgroup and the network endpoint,
// found by the container's ID.
func cleanupContainer(c *shim.Container, st *shim.State) error {
	var s runSpec
	if err := c.DecodeSpec(&s); err != nil {
		return err
	}
	oom, err := s.Run.Cleanup(c.ID())
	if oom {
		st.OOMKilled = true
	}
	if s.ShareShm {
		err = errors.Join(err, unmountShm(c.Dir()))
	}
	if s.Forward != nil {
		err = errors.Join(err, s.Forward.remove(s.Run.Layer.Root, c.ID()))
	}
	return err
}

// removeContainer runs at rm, before the container's directory goes: the
// writable layer goes with the container (chapter 04), and so does its
// lease on the image (chapter 06), so that rmi may remove the image.
//
// The container's directory (the layer is in it) is set aside at once
// and its files deleted in the background (chapter 04's RemoveLater):
// `docker run --rm` waits for the removal, and deleting a tree costs a
// syscall per file. Close waits for the deletions; New sweeps what a
// killed daemon left set aside.
func removeContainer(c *shim.Container) error {
	var s runSpec
	if err := c.DecodeSpec(&s); err != nil {
		return err
	}
	root := s.Run.Layer.Root
	var errs []error
	if s.ShareShm {
		// Gone at the exit already, unless that cleanup failed.
		errs = append(errs, unmountShm(c.Dir()))
	}
	rw, err := layer.Open(root, c.ID())
	switch {
	case err == nil:
		finish, err := rw.RemoveLater()
		if err == nil {
			deletions.Go(func() { _ = finish() })
		}
		errs = append(errs, err)
	case !errors.Is(err, layer.ErrNotFound):
		errs = append(errs, err)
	}
	store, err := image.Open(image.StoreDir(root))
	if err == nil {
		err = store.Release(c.ID())
	}
	// The container's networks go with it (chapter 05's record; its
	// endpoint went at its exit).
	errs = append(errs, network.ForgetAttachments(root, c.ID()))
	return errors.Join(append(errs, err)...)
}
