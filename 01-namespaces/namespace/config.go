package namespace

import (
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
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
}

// DefaultIDBase and IDCount describe the default user namespace mapping:
// container uids 0..65535 are host uids 100000..165535, the range that
// /etc/subuid conventionally gives the first user.
const (
	DefaultIDBase = 100000
	IDCount       = 65536
)

// AddFlags registers the chapter 01 flags on fs. Later chapters call it so
// that their programs accept these flags too.
func (c *Config) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Hostname, "hostname", "", "the container's hostname (default: the first 12 characters of its ID)")
	fs.BoolVar(&c.UserNS, "userns", false, "map root in the container to an unprivileged host uid")
	fs.BoolVar(&c.Init, "init", false, "keep an init as PID 1 that forwards signals and reaps zombies")
}

// cloneFlags turns the config into CLONE_NEW* flags for clone(2). The
// cgroup namespace is not among them: init makes it itself, later
// (Setup), once it is in its cgroup.
func (c *Config) cloneFlags() uintptr {
	flags := unix.CLONE_NEWUTS | unix.CLONE_NEWPID | unix.CLONE_NEWNS |
		unix.CLONE_NEWIPC
	if !c.HostNetwork && c.JoinNetns == "" {
		flags |= unix.CLONE_NEWNET
	}
	if c.UserNS {
		flags |= unix.CLONE_NEWUSER
	}
	return uintptr(flags)
}

// idMappings is the uid and gid map written for a user namespace.
func (c *Config) idMappings() []syscall.SysProcIDMap {
	base := c.IDBase
	if base == 0 {
		base = DefaultIDBase
	}
	return []syscall.SysProcIDMap{{ContainerID: 0, HostID: base, Size: IDCount}}
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
	if c.JoinNetns != "" && c.HostNetwork {
		return fmt.Errorf("network namespace %s: cannot be joined with the host's network", c.JoinNetns)
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
	}
}
