package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/system"

	"github.com/berth-project/berth/02-cgroups/cgroup"
	"github.com/berth-project/berth/03-rootfs/seccomp"
	"github.com/berth-project/berth/04-cow-layers/layer"
	"github.com/berth-project/berth/04-cow-layers/volume"
	"github.com/berth-project/berth/06-images/image"
	reg "github.com/berth-project/berth/06-images/registry"
	"github.com/berth-project/berth/07-logs/shim"
	"github.com/berth-project/berth/final/api"
	"github.com/berth-project/berth/final/events"
	"github.com/berth-project/berth/final/tuning"
)

// Options say where a daemon keeps its state, as dockerd's flags do.
type Options struct {
	// DataRoot holds what survives a reboot: containers, images, network
	// leases (dockerd's --data-root). Default /var/lib/berth.
	DataRoot string
	// ExecRoot holds what lives only while the machine is up: sockets,
	// pid files (dockerd's --exec-root). Default /run/berth.
	ExecRoot string
	// Version is the engine's version, shown by `docker version`.
	Version string
	// Explain (berthd --debug) gets the explain trace of every
	// container's start (01-namespaces/explain), one debug record per
	// step; see explain.go.
	Explain *slog.Logger
	// Bridge and Subnet configure the default bridge network
	// (chapter 05's --bridge and --subnet); empty means berth0 and
	// 10.88.0.0/16.
	Bridge string
	Subnet string
	// CgroupParent is the cgroup, relative to the hierarchies' roots,
	// under which the containers' cgroups go (dockerd's
	// --cgroup-parent); a container's --cgroup-parent replaces it.
	// Empty means DefaultCgroupParent(DataRoot).
	CgroupParent string
	// FavorDynMods adds favordynmods to the host's cgroup2 mount
	// (final/tuning's FavorDynMods), which on some kernels spares each
	// container's first move into its cgroup an RCU grace period.
	// It changes a host-wide setting, so only when asked (berthd
	// --cgroup-favordynmods); BenchmarkFirstMoveIntoACgroup measures
	// what it saves on a host.
	FavorDynMods bool
	// Rootless says the daemon runs as an ordinary user, root only in
	// a user namespace of its own (final/rootless): its containers get
	// no cgroup, and what needs one is refused (rootless.go).
	Rootless bool
	// PortForwarder, in a rootless daemon, is the API socket of the
	// slirp4netns that forwards the host's ports to the daemon's
	// namespace (rootless.go); empty, ports cannot be published.
	PortForwarder string
	// AddressPools are the subnets a network created without one is
	// given, tried in turn; nil means chapter 05's DefaultPools
	// (Docker's).
	AddressPools []netip.Prefix
	// Endpoints, if set, is told where the containers are on the
	// user-defined networks (networks.go) instead of the daemon's own
	// DNS server (networks_dns.go), which then does not run.
	Endpoints EndpointWatcher
	// DNSUpstreams are where the DNS server of the user networks
	// forwards the names it does not know; nil means the nameservers
	// of the host's /etc/resolv.conf, empty none (SERVFAIL).
	DNSUpstreams []netip.AddrPort
	// UsernsRemap puts every container, unless run with --userns host,
	// in a user namespace whose ids are a user's subordinate ranges
	// (dockerd's --userns-remap): "default" (the user berthremap,
	// created if missing) or USER[:GROUP]. Empty: no remapping.
	UsernsRemap string
	// NoIdmap makes --userns-remap use chowned copies of the layers
	// (userns_copies.go) even where the data root can idmap: for tests,
	// which cannot find a filesystem without idmapped mounts at will.
	NoIdmap bool
	// SeccompProfile is the profile of containers that do not choose
	// one with --security-opt seccomp= (dockerd's --seccomp-profile);
	// the zero Profile is Docker's default.
	SeccompProfile seccomp.Profile
	// InsecureRegistries are reached over plain HTTP, or HTTPS without
	// verification (dockerd's --insecure-registry): "host[:port]" or a
	// CIDR. 127.0.0.0/8 and ::1 always are, as in dockerd.
	InsecureRegistries []string
	// RegistryMirrors are tried before Docker Hub for its images
	// (dockerd's --registry-mirror): URLs.
	RegistryMirrors []string
	// CertsDirs hold HOST:PORT/{ca.crt,client.cert,client.key} for the
	// registries; nil means /etc/berth/certs.d, then /etc/docker/certs.d.
	CertsDirs []string
}

// Defaults for Options.
const (
	DefaultDataRoot = "/var/lib/berth"
	DefaultExecRoot = "/run/berth"
)

// DefaultCgroupParent is the parent cgroup of the containers of a
// daemon over dataRoot (an absolute path) when no --cgroup-parent names
// one: chapter 02's "berth" for the default data root, "berth-" and 12
// hex digits of the path's SHA-256 for any other.
//
// Two daemons on one host (a user's second instance, tests, benchmarks)
// then keep their containers apart, as their data roots keep everything
// else apart. The data root is what identifies an instance: one daemon at
// a time serves it (the supervisor lock), and it does not change across
// restarts, so neither does the parent, which is how a restarted daemon
// (or a shim cleaning up) finds the cgroups of the containers that kept
// running. A hash rather than the path itself: any path becomes one short
// directory name, with no "/" or odd characters to escape. The price is
// that the name does not say which data root it is: berthd logs it at
// start, and each container's cgroup is recorded in its spec.
func DefaultCgroupParent(dataRoot string) string {
	if filepath.Clean(dataRoot) == DefaultDataRoot {
		return cgroup.DefaultParent
	}
	sum := sha256.Sum256([]byte(filepath.Clean(dataRoot)))
	return cgroup.DefaultParent + "-" + hex.EncodeToString(sum[:6])
}

// Daemon is berth's engine: it implements api.Backend with the chapters'
// packages. Containers run under chapter 07's shims, which outlive the
// daemon; images live in chapter 06's store. All state is on disk, so a
// new Daemon over the same DataRoot picks up where the last one stopped.
type Daemon struct {
	opts Options
	// builds is held for reading by each running build and for writing
	// by a build cache prune: a prune waits for the builds under way,
	// whose next step may stand on an entry it would remove.
	builds     sync.RWMutex
	started    time.Time
	images     *image.Store  // chapter 06: <DataRoot>/images
	containers *shim.Store   // chapter 07: <DataRoot>/containers, <DataRoot>/names
	volumes    *volume.Store // chapter 04: <DataRoot>/volumes
	registry   *reg.Client   // chapter 06: pulls and pushes (registry.go)
	// remap is --userns-remap's mapping, nil without it (userns.go).
	remap *remap
	// chowned: remapped containers run on chowned copies of the layers,
	// the data root having no idmapped mounts (userns_copies.go).
	chowned  bool
	copiesMu sync.Mutex
	// volumesMu: a create reads, a volume's removal writes (volumes.go).
	volumesMu sync.RWMutex

	// The container half's memory (containers_live.go): who waits for
	// which container, the watch on their directories, the execs.
	live *live
	// supervisor is chapter 07's supervisor lock of the container store,
	// held while the daemon runs.
	supervisor *shim.Supervisor
	// spares keeps a shim started ahead of the next container start
	// (chapter 07's tuning_spares.go): its start-up is off the path of run.
	spares *shim.Spares
	// names is the DNS server of the user networks (networks_dns.go).
	names *names

	// events is the bus of docker events (events.go).
	events *events.Bus

	// warnings are shown by `info`: what the daemon could not set up
	// as it wanted, and works without.
	warnings []string
}

// (*Daemon) implements api.Backend: see containers.go, exec.go and images.go.

// New opens (or creates) the daemon's state under opts.DataRoot.
func New(opts Options) (*Daemon, error) {
	if opts.DataRoot == "" {
		opts.DataRoot = DefaultDataRoot
	}
	if opts.ExecRoot == "" {
		opts.ExecRoot = DefaultExecRoot
	}
	for _, dir := range []string{opts.DataRoot, opts.ExecRoot} {
		if err := os.MkdirAll(dir, 0o711); err != nil {
			return nil, fmt.Errorf("daemon: %w", err)
		}
	}
	abs, err := filepath.Abs(opts.DataRoot)
	if err != nil {
		return nil, fmt.Errorf("daemon: data root %s: %w", opts.DataRoot, err)
	}
	opts.DataRoot = abs
	if opts.CgroupParent == "" {
		opts.CgroupParent = DefaultCgroupParent(abs)
	}
	if opts.CgroupParent, err = cgroup.CleanParent(opts.CgroupParent); err != nil {
		return nil, fmt.Errorf("daemon: --cgroup-parent: %w", err)
	}
	images, err := image.Open(image.StoreDir(opts.DataRoot))
	if err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	containers, err := shim.OpenStore(opts.DataRoot)
	if err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	volumes, err := volume.Open(opts.DataRoot)
	if err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	registry, err := registryClient(opts)
	if err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	d := &Daemon{opts: opts, started: time.Now(), images: images, containers: containers, volumes: volumes, registry: registry}
	d.events = events.New(events.Options{})
	if opts.UsernsRemap != "" && opts.Rootless {
		// The remapped ids (subordinate ids of the host) do not exist
		// inside a rootless daemon's user namespace.
		return nil, errors.New("daemon: --userns-remap cannot be used with --rootless")
	}
	if opts.UsernsRemap != "" {
		if d.remap, err = remapIDs(opts.UsernsRemap); err != nil {
			return nil, fmt.Errorf("daemon: %w", err)
		}
		// The containers' root, an unprivileged uid, passes through
		// the data root to its layers and volumes (dockerd does so too).
		if err := os.Chmod(opts.DataRoot, 0o711); err != nil {
			return nil, fmt.Errorf("daemon: %w", err)
		}
		if opts.NoIdmap {
			d.chowned = true
		} else if err := d.remap.checkIdmap(opts.DataRoot); errors.Is(err, layer.ErrIdmapUnsupported) {
			d.chowned = true
			d.warnings = append(d.warnings, "WARNING: --userns-remap: the data root cannot have idmapped mounts: remapped containers run on chowned copies of the image layers, made at first use")
		} else if err != nil {
			return nil, fmt.Errorf("daemon: %w", err)
		}
		// Copies of layers removed while the daemon was down.
		if err := d.sweepCopies(); err != nil {
			return nil, fmt.Errorf("daemon: chowned copies: %w", err)
		}
	}
	if opts.Rootless {
		d.warnings = append(d.warnings, "WARNING: running in rootless mode: containers have no cgroup of their own; what a cgroup applies (--memory, --cpus, --pids-limit, --device, pause...) is refused")
	}
	// A rootless daemon may not remount anything of the host's.
	if opts.FavorDynMods && !opts.Rootless {
		if _, err := tuning.FavorDynMods(); err != nil {
			// Slower starts, nothing worse (a daemon in a
			// container may not remount): say so in `info`.
			d.warnings = append(d.warnings, "WARNING: "+err.Error())
		}
	}
	// What a daemon killed in the middle of a load, commit or build
	// left behind (images_recover.go).
	if err := d.recoverImages(); err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	// What a daemon killed in the middle of removals set aside.
	if err := layer.SweepRemoved(opts.DataRoot); err != nil {
		d.warnings = append(d.warnings, "WARNING: "+err.Error())
	}
	// The daemon cleans up after every container's exit itself, sooner
	// than the shim would (chapter 07's supervisor.go); and one daemon
	// at a time serves a data root.
	if d.supervisor, err = containers.Supervise(); err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	// An --rm container's records are written without waiting for the
	// disk (shim.Config.Ephemeral): a crash of the machine may have
	// torn one. It was to be removed anyway.
	if torn, err := containers.RemoveTorn(); err != nil {
		d.warnings = append(d.warnings, "WARNING: "+err.Error())
	} else if len(torn) > 0 {
		d.warnings = append(d.warnings, fmt.Sprintf("WARNING: removed %d container(s) whose records a crash tore: %s", len(torn), strings.Join(torn, ", ")))
	}
	// The user networks' DNS server, before the running containers
	// are told to it (startLive).
	if d.opts.Endpoints == nil {
		if d.names, err = newNames(opts.DataRoot, opts.DNSUpstreams); err != nil {
			d.supervisor.Close()
			return nil, fmt.Errorf("daemon: %w", err)
		}
		d.opts.Endpoints = d.names
		if err := d.names.sync(); err != nil {
			d.warnings = append(d.warnings, "WARNING: DNS server: "+err.Error())
		}
	}
	// Re-attach to the containers that shims kept running meanwhile,
	// and finish what happened while no daemon ran (containers_live.go).
	if err := d.startLive(); err != nil {
		d.supervisor.Close()
		return nil, errors.Join(fmt.Errorf("daemon: %w", err), d.closeNames())
	}
	if d.names != nil {
		// From here on the DNS server may ask about containers that are
		// starting (startingEndpoint reads the live set).
		f := d.startingEndpoint
		d.names.unknown.Store(&f)
	}
	d.spares = Runtime.Spares()
	// The containers that their restart policy starts with the daemon
	// (containers_restart.go).
	d.startAtBoot()
	return d, nil
}

// CgroupParent is the parent cgroup of the containers that name none
// (Options.CgroupParent, checked).
func (d *Daemon) CgroupParent() string { return d.opts.CgroupParent }

// Version answers GET /version.
func (d *Daemon) Version(ctx context.Context) (system.VersionResponse, error) {
	return system.VersionResponse{
		Platform:      system.PlatformInfo{Name: "berth"},
		Version:       d.opts.Version,
		APIVersion:    api.DefaultAPIVersion,
		MinAPIVersion: api.DefaultMinAPIVersion,
		GoVersion:     runtime.Version(),
		Os:            runtime.GOOS,
		Arch:          runtime.GOARCH,
		Components: []system.ComponentVersion{{
			Name:    "Engine",
			Version: d.opts.Version,
			Details: map[string]string{
				"ApiVersion":    api.DefaultAPIVersion,
				"MinAPIVersion": api.DefaultMinAPIVersion,
				"GoVersion":     runtime.Version(),
				"Os":            runtime.GOOS,
				"Arch":          runtime.GOARCH,
			},
		}},
	}, nil
}
