package daemon

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/system"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/02-cgroups/cgroup"
	"github.com/berth-project/berth/07-logs/shim"
)

// Info answers GET /info (docker info): the containers by state, the
// images, and what the engine runs on. berth has no seccomp or AppArmor
// profile; its one security option is dockerd's "name=userns" with
// --userns-remap.
func (d *Daemon) Info(ctx context.Context) (system.Info, error) {
	info := system.Info{
		Driver:          "overlay",
		DriverStatus:    [][2]string{{"Backing Filesystem", backingFS(d.opts.DataRoot)}},
		LoggingDriver:   "k8s-file", // the CRI log format, as podman names it
		CgroupDriver:    "cgroupfs",
		OSType:          "linux",
		Architecture:    runtime.GOARCH,
		NCPU:            runtime.NumCPU(),
		DockerRootDir:   d.opts.DataRoot,
		ServerVersion:   d.opts.Version,
		OperatingSystem: osName(),
		SystemTime:      time.Now().Format(time.RFC3339Nano),
		MemoryLimit:     true,
		CPUCfsPeriod:    true,
		CPUCfsQuota:     true,
		PidsLimit:       true,
		NGoroutines:     runtime.NumGoroutine(),
		InitBinary:      "berth-init",
		DefaultRuntime:  "berth",
		Runtimes:        map[string]system.RuntimeWithStatus{"berth": {}},
		SecurityOptions: []string{},
		Labels:          []string{},
		Warnings:        append([]string{}, d.warnings...),
		RegistryConfig:  registryServiceConfig(d.opts),
		// Where a name without a registry goes; `docker info` prints it
		// as "Registry:", and `docker login` without a server uses it.
		IndexServerAddress: "https://index.docker.io/v1/",
	}
	if d.remap != nil {
		info.SecurityOptions = append(info.SecurityOptions, "name=userns")
		// How remapped containers see the image's files (userns.go).
		how := "idmapped mounts"
		if d.chowned {
			how = "chowned copies in " + d.remapDir()
		}
		info.DriverStatus = append(info.DriverStatus, [2]string{"Userns Remap Layers", how})
	}
	if d.opts.Rootless {
		// As dockerd says it; and no cgroup applies a limit.
		info.SecurityOptions = append(info.SecurityOptions, "name=rootless")
		info.MemoryLimit, info.CPUCfsPeriod, info.CPUCfsQuota, info.PidsLimit = false, false, false, false
	}
	info.Name, _ = os.Hostname()
	sum := sha256.Sum256([]byte(d.opts.DataRoot))
	info.ID = strings.ToUpper(hex.EncodeToString(sum[:16]))
	var uts unix.Utsname
	if unix.Uname(&uts) == nil {
		info.KernelVersion = unix.ByteSliceToString(uts.Release[:])
	}
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		info.MemTotal = int64(si.Totalram) * int64(si.Unit)
	}
	if v, err := cgroup.Detect(); err == nil {
		info.CgroupVersion = "1"
		if v == cgroup.V2 {
			info.CgroupVersion = "2"
		}
	}
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); err == nil {
		info.IPv4Forwarding = strings.TrimSpace(string(b)) == "1"
	}
	if images, err := d.images.Images(); err == nil {
		info.Images = len(images)
	}
	d.live.mu.Lock()
	entries := make([]*entry, 0, len(d.live.byID))
	for _, e := range d.live.byID {
		entries = append(entries, e)
	}
	d.live.mu.Unlock()
	for _, e := range entries {
		v, ok := d.listView(e) // as docker ps counts them
		if !ok {
			continue
		}
		info.Containers++
		switch state, _, _ := viewState(e, v); state {
		case container.StatePaused:
			info.ContainersPaused++ // and not running, as Docker counts
		case container.StateRunning:
			info.ContainersRunning++
		default:
			info.ContainersStopped++
		}
	}
	return info, nil
}

// containerState is what the API shows of a container whose shim's
// state is st: the status word (docker ps --filter status=, inspect's
// State.Status), the STATUS column of ps, and whether it is paused. The
// shim knows nothing of pauses (a paused container runs, to it); the
// cgroup's freezer does (containers_pause.go). A paused container is
// "paused", "Up 3 minutes (Paused)", as in Docker.
func containerState(e *entry, st shim.State) (state container.ContainerState, status string, isPaused bool) {
	return stateFrom(e, st, func() bool { return paused(e, st) }, func() string { return healthStatus(e) })
}

// viewState is containerState from e's view (containers_view.go).
func viewState(e *entry, v *listView) (state container.ContainerState, status string, isPaused bool) {
	return stateFrom(e, v.st, func() bool { return v.paused }, func() string { return viewHealth(e, v) })
}

// stateFrom is containerState with the freezer's answer and the health
// status given: read from the disk, or from a view.
func stateFrom(e *entry, st shim.State, isFrozen func() bool, health func() string) (state container.ContainerState, status string, isPaused bool) {
	state, status = apiState(st), statusText(st)
	if st.Status != shim.Running && e.restartPending() {
		state, status = restartingStatus(st)
		return state, status, false
	}
	if st.Status == shim.Running && isFrozen() {
		return container.StatePaused, status + " (Paused)", true
	}
	if st.Status == shim.Running {
		// "Up 3 seconds (healthy)", as dockerd's State.String.
		switch h := health(); h {
		case string(container.Starting):
			status += " (health: starting)"
		case string(container.Healthy), string(container.Unhealthy):
			status += " (" + h + ")"
		}
	}
	return state, status, false
}

// osName is PRETTY_NAME of /etc/os-release, as docker info shows it.
func osName() string {
	f, err := os.Open("/etc/os-release")
	if err != nil {
		return "Linux"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "PRETTY_NAME="); ok {
			if s, err := strconv.Unquote(v); err == nil {
				return s
			}
			return v
		}
	}
	return "Linux"
}

// backingFS names the filesystem the data root is on.
func backingFS(dir string) string {
	var st unix.Statfs_t
	if unix.Statfs(dir, &st) != nil {
		return "unknown"
	}
	switch st.Type {
	case unix.EXT4_SUPER_MAGIC:
		return "extfs"
	case unix.XFS_SUPER_MAGIC:
		return "xfs"
	case unix.BTRFS_SUPER_MAGIC:
		return "btrfs"
	case unix.TMPFS_MAGIC:
		return "tmpfs"
	}
	return "0x" + strconv.FormatInt(int64(st.Type), 16)
}
