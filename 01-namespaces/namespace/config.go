package namespace

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/explain"
)

// Config says which namespaces a container gets. The zero value gives a
// container every namespace except a user namespace.
type Config struct {
	// Hostname is the container's hostname (its UTS namespace).
	Hostname string
	// UserNS adds a user namespace: root (uid 0) inside is mapped to the
	// unprivileged IDBase on the host, so a process that escapes is nobody.
	UserNS bool
	// IDBase is the first host uid and gid of the user namespace's mapping
	// (IDCount IDs from there). Zero means DefaultIDBase.
	IDBase int
	// UIDs and GIDs, when set (Size > 0), replace IDBase and IDCount: the
	// host ranges that container uids and gids 0, 1, ... map to. They are
	// a user's subordinate ranges in /etc/subuid and /etc/subgid, which
	// need not start at the same number (berthd --userns-remap).
	UIDs, GIDs IDRange
	// Exe, when set, is the file init is executed from instead of
	// SealedSelf's copy (exe.go). It must protect the program's file as
	// well as the copy does: final/ociruntime's read-only mount of the
	// binary (tuning_exe.go there), which costs a system call where the
	// copy costs milliseconds.
	Exe *os.File `json:"-"`
	// InitEnv is init's own environment (the command's travels in the
	// spec and replaces it at the exec). Empty by default: nothing of
	// the starter's leaks in. final/ociruntime sets a glibc tunable
	// there (create.go tells why).
	InitEnv []string `json:"-"`
	// Files are open files that init inherits as descriptors 4, 5, ...
	// (after its spec on 3): chapter 04's idmapped mounts. They cannot
	// travel in a spec, which is JSON.
	Files []*os.File `json:"-"`
	// Init keeps berth-init as the container's PID 1, supervising the
	// command (docker run --init). Without it the command becomes PID 1.
	Init bool
	// Detached lets the container outlive the process that starts it
	// (chapter 07's shim re-executes itself and must not take the
	// container with it). Otherwise the container gets SIGKILL when its
	// starter dies: nobody would be left to wait for it.
	Detached bool
	// HostNetwork keeps the host's network namespace (docker run --net host).
	// Chapter 05 uses it; until then every container gets only lo.
	HostNetwork bool
	// JoinNetns is a network namespace to join instead of a new one
	// (/proc/PID/ns/net of another container's process): docker run
	// --network container:ID, Compose's network_mode: service:x. See
	// Process.startOnOwnThread for how.
	JoinNetns string
	// JoinPidns and JoinIpcns are a PID and an IPC namespace to join
	// instead of new ones (/proc/PID/ns/pid and /proc/PID/ns/ipc of
	// another container's init): docker run --pid container:ID, --ipc
	// container:ID. Joined the way JoinNetns is (startOnOwnThread). In
	// a joined PID namespace the container's command is not PID 1, and
	// it dies with the namespace's init (the kernel kills every process
	// of a PID namespace whose init exits).
	JoinPidns, JoinIpcns string
	// JoinUtsns and JoinCgroupns are a UTS and a cgroup namespace to
	// join (an OCI bundle's linux.namespaces with a path), entered the
	// same way: one thread may enter either. A joined cgroup namespace
	// is kept as it is: Setup makes no new one (set HostCgroupns too).
	JoinUtsns, JoinCgroupns string
	// JoinMntns is a mount namespace to join instead of a new one (an
	// OCI bundle's mount namespace path). Joined last, by a forking
	// thread that first leaves the process's shared filesystem state
	// (startOnOwnThread); the namespace must have a /proc, through
	// which init is executed.
	JoinMntns string
	// HostMounts keeps the starter's mount namespace: init is forked
	// without CLONE_NEWNS, and every mount it makes is the host's (an
	// OCI bundle whose linux.namespaces has no "mount"). Set
	// Spec.HostMounts too, so that Setup leaves the host's mounts'
	// propagation alone; whoever mounts in there must unmount too.
	HostMounts bool
	// HostPID and HostIPC keep the host's PID and IPC namespaces (docker
	// run --pid host, --ipc host): the container sees, and may signal,
	// the host's processes, and shares its System V IPC objects.
	HostPID, HostIPC bool
	// HostUTS keeps the host's UTS namespace: the container has the
	// host's hostname and may not set one (an OCI bundle without a uts
	// namespace: containerd's hostNetwork pods).
	HostUTS bool
	// NoPrestart: the start made mounts on the host that the container
	// must see (a shared /dev/shm), so its init must be forked now,
	// with a copy of the mount table as it is now: an init started
	// ahead of need (Prestart) has an older copy.
	NoPrestart bool
	// HostCgroupns keeps the host's cgroup namespace (docker run
	// --cgroupns host): /proc/self/cgroup then shows the container's
	// full path in the host's hierarchy instead of "/".
	HostCgroupns bool
	// Sysctls are kernel parameters to set in the container's own
	// namespaces (docker run --sysctl); see sysctl.go.
	Sysctls SysctlList
	// Explain (--explain) asks for the trace of each kernel-facing step
	// (01-namespaces/explain) on the program's stderr; Trace, when set,
	// is where it goes instead (berthd's debug log). Nil Trace: off.
	Explain bool           `json:",omitempty"`
	Trace   *explain.Trace `json:"-"`
}

// DefaultIDBase and IDCount describe the default user namespace mapping:
// container uids 0..65535 are host uids 100000..165535, the range that
// /etc/subuid conventionally gives the first user.
const (
	DefaultIDBase = 100000
	IDCount       = 65536
)

// IDRange is a range of host ids: Size ids from Base, the form of a line
// of /etc/subuid ("user:Base:Size").
type IDRange struct {
	Base, Size int
}

// AddFlags registers the chapter 01 flags on fs. Later chapters call it so
// that their programs accept these flags too.
func (c *Config) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Hostname, "hostname", "", "the container's hostname (default: the first 12 characters of its ID)")
	fs.BoolVar(&c.UserNS, "userns", false, "map root in the container to an unprivileged host uid")
	fs.BoolVar(&c.Init, "init", false, "keep an init as PID 1 that forwards signals and reaps zombies")
	fs.Var(&c.Sysctls, "sysctl", "set a kernel parameter of the container's namespaces: KEY=VALUE (repeatable)")
	fs.BoolVar(&c.Explain, "explain", false, "print each kernel-facing step on stderr, with the course section that teaches it")
}

// cloneFlags turns the config into CLONE_NEW* flags for clone(2). The
// cgroup namespace is not among them: init makes it itself, later
// (Setup), once it is in its cgroup.
func (c *Config) cloneFlags() uintptr {
	// No CLONE_NEWCGROUP: a cgroup namespace takes the cgroup its
	// process is in when it is made as its root, and init is moved to
	// the container's cgroup only after clone (chapter 02's OnStart).
	// Init unshares it in Setup, from inside its cgroup.
	flags := 0
	if c.JoinMntns == "" && !c.HostMounts {
		flags |= unix.CLONE_NEWNS
	}
	if !c.HostUTS && c.JoinUtsns == "" {
		flags |= unix.CLONE_NEWUTS
	}
	if !c.HostNetwork && c.JoinNetns == "" {
		flags |= unix.CLONE_NEWNET
	}
	if !c.HostPID && c.JoinPidns == "" {
		flags |= unix.CLONE_NEWPID
	}
	if !c.HostIPC && c.JoinIpcns == "" {
		flags |= unix.CLONE_NEWIPC
	}
	if c.UserNS {
		flags |= unix.CLONE_NEWUSER
	}
	return uintptr(flags)
}

// UIDRange and GIDRange are the host ids that the user namespace maps
// container ids 0, 1, ... to: UIDs and GIDs if set, else IDCount ids from
// IDBase (or DefaultIDBase). UIDRange().Base is the host uid of the
// container's root.
func (c *Config) UIDRange() IDRange { return c.idRange(c.UIDs) }
func (c *Config) GIDRange() IDRange { return c.idRange(c.GIDs) }

func (c *Config) idRange(set IDRange) IDRange {
	if set.Size > 0 {
		return set
	}
	base := c.IDBase
	if base == 0 {
		base = DefaultIDBase
	}
	return IDRange{Base: base, Size: IDCount}
}

// idMappings is the uid or gid map written for a user namespace: one
// line, "0 BASE SIZE".
func idMappings(r IDRange) []syscall.SysProcIDMap {
	return []syscall.SysProcIDMap{{ContainerID: 0, HostID: r.Base, Size: r.Size}}
}

// NewID returns a new container ID: 64 random hex digits, like Docker's.
func NewID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand never returns an error on Linux
	return hex.EncodeToString(b)
}

// ShortID is the 12-character form of an ID that `docker ps` shows and
// that Docker uses as the default hostname.
func ShortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// Validate reports a config that cannot work, before anything is created.
func (c *Config) Validate() error {
	if len(c.Hostname) > 64 {
		return fmt.Errorf("hostname %q: longer than 64 characters", c.Hostname)
	}
	if c.IDBase < 0 {
		return fmt.Errorf("user namespace id base %d: negative", c.IDBase)
	}
	for _, r := range []IDRange{c.UIDs, c.GIDs} {
		if r.Base < 0 || r.Size < 0 || r.Base+r.Size > math.MaxUint32 {
			return fmt.Errorf("user namespace id range %d-%d: outside the host's ids", r.Base, r.Base+r.Size-1)
		}
	}
	if c.JoinNetns != "" && c.HostNetwork {
		return fmt.Errorf("network namespace %s: cannot be joined with the host's network", c.JoinNetns)
	}
	if c.JoinPidns != "" && c.HostPID {
		return fmt.Errorf("PID namespace %s: cannot be joined with the host's PID namespace", c.JoinPidns)
	}
	if c.JoinIpcns != "" && c.HostIPC {
		return fmt.Errorf("IPC namespace %s: cannot be joined with the host's IPC namespace", c.JoinIpcns)
	}
	if c.JoinUtsns != "" && c.HostUTS {
		return fmt.Errorf("UTS namespace %s: cannot be joined with the host's UTS namespace", c.JoinUtsns)
	}
	if c.HostUTS && c.Hostname != "" {
		return fmt.Errorf("hostname %q: the container shares the host's UTS namespace", c.Hostname)
	}
	if c.JoinMntns != "" && c.HostMounts {
		return fmt.Errorf("mount namespace %s: cannot be joined with the host's mount namespace", c.JoinMntns)
	}
	if c.JoinCgroupns != "" && !c.HostCgroupns {
		return fmt.Errorf("cgroup namespace %s: joined, so init must not make one of its own (set HostCgroupns)", c.JoinCgroupns)
	}
	// A PID or IPC namespace belongs to the user namespace it was made
	// in: from a user namespace of its own, init would have no
	// privilege over the one it joins (it could not mount its /proc),
	// nor over the host's.
	if c.UserNS && (c.JoinPidns != "" || c.JoinIpcns != "" || c.JoinUtsns != "" || c.JoinCgroupns != "" || c.JoinMntns != "" || c.HostPID || c.HostIPC || c.HostMounts) {
		return errors.New("another container's or the host's PID, IPC, UTS, cgroup or mount namespace cannot be shared from a user namespace of the container's own")
	}
	for k := range c.Sysctls {
		if err := CheckSysctl(k, c.HostNetwork); err != nil {
			return err
		}
	}
	return nil
}

// NewSpec returns the spec that runs command in the container with ID id,
// with Docker's default environment. A config without a hostname gets the
// short ID, as Docker does.
func (c *Config) NewSpec(id string, command []string) Spec {
	if c.Hostname == "" {
		c.Hostname = ShortID(id)
	}
	return Spec{
		Hostname: c.Hostname,
		Command:  Command{Args: command, Env: DefaultEnv(c.Hostname)},
		Init:     c.Init,
		Sysctls:  c.Sysctls,

		HostCgroupns: c.HostCgroupns,
	}
}
