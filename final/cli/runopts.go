package cli

import (
	"bufio"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/spf13/pflag"

	"github.com/berth-project/berth/final/restart"
)

// containerOptions are the flags `create` and `run` share, with docker's
// names and short forms. parse turns them into the three objects of
// POST /containers/create.
type containerOptions struct {
	attach      listValue
	interactive bool
	tty         bool
	name        string
	env         listValue
	envFile     listValue
	workdir     string
	user        string
	hostname    string
	volumes     listValue
	mounts      listValue
	tmpfs       listValue
	volumesFrom listValue
	shmSize     bytesValue
	publish     listValue
	publishAll  bool
	expose      listValue
	networks    networkValue
	netAliases  listValue
	ip          ipv4Value
	macAddress  string
	addHosts    extraHostsValue
	dns         dnsValue
	dnsSearch   dnsSearchValue
	dnsOptions  listValue
	memory      bytesValue
	memoryRes   bytesValue
	oomKillOff  bool
	cpus        nanoCPUsValue
	cpuShares   int64
	cpusetCpus  string
	cpusetMems  string
	pidsLimit   int64
	entrypoint  string
	init        bool
	autoRemove  bool
	restart     string
	labels      listValue
	labelFiles  listValue
	links       listValue
	logDriver   string
	logOpts     listValue
	stopSignal  string
	stopTimeout int
	readOnly    bool
	privileged  bool
	devices     listValue
	deviceRules listValue
	hardening
	health healthOptions
	lessCommon

	// --cgroup-parent: the container's cgroup goes under this one.
	cgroupParent string
}

// hardening are the options that confine (or free) the container's
// processes: limits of each process, kernel parameters of its
// namespaces, its groups, namespaces shared with the host, security
// options.
type hardening struct {
	ulimits     listValue
	oomScoreAdj int
	sysctls     listValue
	groupAdd    listValue
	cgroupns    string
	userns      string
	pid         string
	ipc         string
	securityOpt listValue
}

// addFlags declares them with docker's names.
func (h *hardening) addFlags(fs *pflag.FlagSet) {
	fs.Var(&h.ulimits, "ulimit", "Ulimit options")
	fs.IntVar(&h.oomScoreAdj, "oom-score-adj", 0, "Tune host's OOM preferences (-1000 to 1000)")
	fs.Var(&h.sysctls, "sysctl", "Sysctl options")
	fs.Var(&h.groupAdd, "group-add", "Add additional groups to join")
	fs.StringVar(&h.cgroupns, "cgroupns", "", "Cgroup namespace to use (host|private)")
	fs.StringVar(&h.userns, "userns", "", "User namespace to use")
	fs.StringVar(&h.pid, "pid", "", "PID namespace to use (host, or container:NAME|ID)")
	fs.StringVar(&h.ipc, "ipc", "", "IPC mode to use (private, shareable, host, or container:NAME|ID)")
	fs.Var(&h.securityOpt, "security-opt", "Security Options")
}

// apply puts them into hc as the docker CLI does; --ulimit and --sysctl
// are checked here already, with docker's messages.
func (h *hardening) apply(hc *container.HostConfig) error {
	for _, s := range h.ulimits {
		u, err := units.ParseUlimit(s)
		if err != nil {
			return fmt.Errorf("invalid argument %q for \"--ulimit\" flag: %w", s, err)
		}
		hc.Ulimits = append(hc.Ulimits, &container.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
	}
	hc.OomScoreAdj = h.oomScoreAdj
	if len(h.sysctls) > 0 {
		hc.Sysctls = map[string]string{}
	}
	for _, s := range h.sysctls {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return fmt.Errorf("invalid argument %q for \"--sysctl\" flag: sysctl '%s' is not allowed", s, s)
		}
		hc.Sysctls[k] = v
	}
	hc.GroupAdd = h.groupAdd
	hc.CgroupnsMode = container.CgroupnsMode(h.cgroupns)
	hc.UsernsMode = container.UsernsMode(h.userns)
	// The docker CLI's checks and words; the daemon checks again.
	hc.PidMode = container.PidMode(h.pid)
	if !hc.PidMode.Valid() {
		return fmt.Errorf("--pid: invalid PID mode")
	}
	hc.IpcMode = container.IpcMode(h.ipc)
	if !hc.IpcMode.Valid() {
		return fmt.Errorf("--ipc: invalid IPC mode")
	}
	var err error
	hc.SecurityOpt, err = parseSecurityOpts(h.securityOpt)
	return err
}

// AddFlags declares the options on fs. -h is --hostname here, as in
// docker, which leaves --help without a short form.
func (o *containerOptions) AddFlags(fs *pflag.FlagSet) {
	fs.SetInterspersed(false) // flags after IMAGE belong to the command
	fs.VarP(&o.attach, "attach", "a", "Attach to STDIN, STDOUT or STDERR")
	fs.BoolVarP(&o.interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
	fs.BoolVarP(&o.tty, "tty", "t", false, "Allocate a pseudo-TTY")
	fs.StringVar(&o.name, "name", "", "Assign a name to the container")
	fs.VarP(&o.env, "env", "e", "Set environment variables")
	fs.Var(&o.envFile, "env-file", "Read in a file of environment variables")
	fs.StringVarP(&o.workdir, "workdir", "w", "", "Working directory inside the container")
	fs.StringVarP(&o.user, "user", "u", "", "Username or UID (format: <name|uid>[:<group|gid>])")
	fs.StringVarP(&o.hostname, "hostname", "h", "", "Container host name")
	fs.VarP(&o.volumes, "volume", "v", "Bind mount a volume")
	fs.Var(&o.mounts, "mount", "Attach a filesystem mount to the container")
	fs.Var(&o.tmpfs, "tmpfs", "Mount a tmpfs directory")
	fs.Var(&o.volumesFrom, "volumes-from", "Mount volumes from the specified container(s)")
	fs.Var(&o.shmSize, "shm-size", "Size of /dev/shm")
	fs.VarP(&o.publish, "publish", "p", "Publish a container's port(s) to the host")
	fs.BoolVarP(&o.publishAll, "publish-all", "P", false, "Publish all exposed ports to random ports")
	fs.Var(&o.expose, "expose", "Expose a port or a range of ports")
	fs.Var(&o.networks, "network", "Connect a container to a network (bridge, host, none, container:NAME|ID, a network's name, or name=NET,alias=A,ip=IP,mac-address=MAC)")
	fs.Var(&o.netAliases, "network-alias", "Add network-scoped alias for the container")
	fs.Var(&o.ip, "ip", "IPv4 address (e.g., 172.30.100.104)")
	fs.StringVar(&o.macAddress, "mac-address", "", "Container MAC address (e.g., 92:d0:c6:0a:29:33)")
	fs.Var(&o.addHosts, "add-host", "Add a custom host-to-IP mapping (host:ip)")
	fs.Var(&o.dns, "dns", "Set custom DNS servers")
	fs.Var(&o.dnsSearch, "dns-search", "Set custom DNS search domains")
	fs.Var(&o.dnsOptions, "dns-option", "Set DNS options")
	fs.VarP(&o.memory, "memory", "m", "Memory limit")
	fs.Var(&o.memoryRes, "memory-reservation", "Memory soft limit")
	fs.BoolVar(&o.oomKillOff, "oom-kill-disable", false, "Disable OOM Killer")
	fs.Var(&o.cpus, "cpus", "Number of CPUs")
	fs.Int64VarP(&o.cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	fs.StringVar(&o.cpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	fs.StringVar(&o.cpusetMems, "cpuset-mems", "", "MEMs in which to allow execution (0-3, 0,1)")
	fs.Int64Var(&o.pidsLimit, "pids-limit", 0, "Tune container pids limit (set -1 for unlimited)")
	fs.StringVar(&o.cgroupParent, "cgroup-parent", "", "Optional parent cgroup for the container")
	fs.StringVar(&o.entrypoint, "entrypoint", "", "Overwrite the default ENTRYPOINT of the image")
	fs.BoolVar(&o.init, "init", false, "Run an init inside the container that forwards signals and reaps processes")
	fs.BoolVar(&o.autoRemove, "rm", false, "Automatically remove the container and its associated anonymous volumes when it exits")
	fs.StringVar(&o.restart, "restart", "no", "Restart policy to apply when a container exits (no, on-failure[:max-retries], always, unless-stopped)")
	fs.VarP(&o.labels, "label", "l", "Set meta data on a container")
	fs.BoolFunc("explain", "Print each kernel-facing step of the start, with the course section that teaches it (berthd on this machine)", o.askExplain)
	fs.Var(&o.labelFiles, "label-file", "Read in a line delimited file of labels")
	fs.Var(&o.links, "link", "Add link to another container")
	fs.StringVar(&o.logDriver, "log-driver", "", "Logging driver for the container")
	fs.Var(&o.logOpts, "log-opt", "Log driver options")
	fs.StringVar(&o.stopSignal, "stop-signal", "", "Signal to stop the container")
	fs.IntVar(&o.stopTimeout, "stop-timeout", 0, "Timeout (in seconds) to stop a container")
	fs.BoolVar(&o.readOnly, "read-only", false, "Mount the container's root filesystem as read only")
	fs.BoolVar(&o.privileged, "privileged", false, "Give extended privileges to this container")
	fs.Var(&o.devices, "device", "Add a host device to the container")
	fs.Var(&o.deviceRules, "device-cgroup-rule", "Add a rule to the cgroup allowed devices list")
	o.hardening.addFlags(fs)
	o.lessCommon.addFlags(fs)
	o.health.addFlags(fs)
}

// containerSpec is what POST /containers/create takes.
type containerSpec struct {
	Name             string
	Config           *container.Config
	HostConfig       *container.HostConfig
	NetworkingConfig *network.NetworkingConfig
}

// parse maps the options and the arguments IMAGE [COMMAND] [ARG...] to a
// create request the way the docker CLI does, field for field, so that
// berthd sees from berth exactly what it sees from docker.
func (o *containerOptions) parse(c *CLI, fs *pflag.FlagSet, args []string) (*containerSpec, error) {
	if len(args) == 0 {
		return nil, errors.New("an image name is required")
	}
	cfg := &container.Config{
		Image:      args[0],
		Hostname:   o.hostname,
		User:       o.user,
		WorkingDir: o.workdir,
		Tty:        o.tty,
		OpenStdin:  o.interactive,
		StopSignal: o.stopSignal,
		Labels:     map[string]string{},
		Volumes:    map[string]struct{}{},
	}
	if len(args) > 1 {
		cfg.Cmd = args[1:]
	}
	if fs.Changed("stop-timeout") {
		t := o.stopTimeout
		cfg.StopTimeout = &t
	}
	hcfg, err := o.health.config()
	if err != nil {
		return nil, err
	}
	cfg.Healthcheck = hcfg

	if err := o.streams(cfg); err != nil {
		return nil, err
	}

	// --entrypoint "" is not the same as no --entrypoint: it clears the
	// image's entrypoint, and docker says so with [""].
	if o.entrypoint != "" {
		cfg.Entrypoint = []string{o.entrypoint}
	} else if fs.Changed("entrypoint") {
		cfg.Entrypoint = []string{""}
	}

	env, err := c.readEnv(o.envFile, o.env)
	if err != nil {
		return nil, err
	}
	cfg.Env = env

	// --label-file lines first, then --label: a later one wins.
	labels, err := readKVFiles(o.labelFiles)
	if err != nil {
		return nil, err
	}
	for _, l := range append(labels, o.labels...) {
		k, v, _ := strings.Cut(l, "=")
		cfg.Labels[k] = v
	}

	exposed, bindings, err := parsePorts(o.publish, o.expose)
	if err != nil {
		return nil, err
	}
	cfg.ExposedPorts = exposed

	binds, err := parseVolumes(o.volumes, cfg.Volumes)
	if err != nil {
		return nil, err
	}
	var mounts []mount.Mount
	for _, v := range o.mounts {
		m, err := parseMount(v)
		if err != nil {
			return nil, err
		}
		mounts = append(mounts, m)
	}
	tmpfs, err := parseTmpfs(o.tmpfs)
	if err != nil {
		return nil, err
	}
	devices, err := parseDevices(o.devices)
	if err != nil {
		return nil, err
	}
	if err := checkDeviceCgroupRules(o.deviceRules); err != nil {
		return nil, err
	}
	policy, err := restart.Parse(o.restart)
	if err != nil {
		return nil, err
	}
	if policy.Name == "" {
		policy.Name = container.RestartPolicyDisabled
	}
	if o.autoRemove && !policy.IsNone() {
		return nil, errors.New("conflicting options: cannot specify both --restart and --rm") // docker's words
	}
	if !container.UsernsMode(o.hardening.userns).Valid() {
		return nil, errors.New("--userns: invalid USER mode") // docker's words
	}

	hc := &container.HostConfig{
		Binds:           binds,
		Mounts:          mounts,
		Tmpfs:           tmpfs,
		VolumesFrom:     o.volumesFrom,
		ShmSize:         int64(o.shmSize),
		NetworkMode:     container.NetworkMode("default"),
		PortBindings:    bindings,
		PublishAllPorts: o.publishAll,
		AutoRemove:      o.autoRemove,
		ReadonlyRootfs:  o.readOnly,
		Privileged:      o.privileged,
		RestartPolicy:   policy,
		Resources: container.Resources{
			Memory:            int64(o.memory),
			MemoryReservation: int64(o.memoryRes),
			NanoCPUs:          int64(o.cpus),
			CPUShares:         o.cpuShares,
			CpusetCpus:        o.cpusetCpus,
			CpusetMems:        o.cpusetMems,
			Devices:           devices,
			DeviceCgroupRules: o.deviceRules,
		},
	}
	hc.Resources.CgroupParent = o.cgroupParent
	if fs.Changed("oom-kill-disable") {
		b := o.oomKillOff
		hc.OomKillDisable = &b
	}
	hc.Links = o.links
	logOpts := map[string]string{}
	for _, l := range o.logOpts {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("invalid key value pair format in driver options: %s", l) // docker's words
		}
		logOpts[k] = v
	}
	hc.LogConfig = container.LogConfig{Type: o.logDriver, Config: logOpts}
	// Docker always sends the pids limit; 0 means none.
	pids := o.pidsLimit
	hc.PidsLimit = &pids
	if fs.Changed("init") {
		i := o.init
		hc.Init = &i
	}
	if err := o.lessCommon.apply(&hc.Resources); err != nil {
		return nil, err
	}
	if err := o.hardening.apply(hc); err != nil {
		return nil, err
	}

	nc, err := o.networking(hc)
	if err != nil {
		return nil, err
	}

	return &containerSpec{Name: o.name, Config: cfg, HostConfig: hc, NetworkingConfig: nc}, nil
}

// streams sets which streams the container's client attaches.
func (o *containerOptions) streams(cfg *container.Config) error {
	// Streams: -i adds stdin; without -a, stdout and stderr are attached.
	// (run -d clears all three afterwards.)
	for _, s := range o.attach {
		switch strings.ToLower(s) {
		case "stdin":
			cfg.AttachStdin = true
		case "stdout":
			cfg.AttachStdout = true
		case "stderr":
			cfg.AttachStderr = true
		default:
			return fmt.Errorf("invalid argument %q for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR", s)
		}
	}
	if o.interactive {
		cfg.AttachStdin = true
	}
	if len(o.attach) == 0 {
		cfg.AttachStdout = true
		cfg.AttachStderr = true
	}
	// An attached, open stdin closes when that client goes: `echo hi |
	// berth run -i busybox cat` ends when echo's output does.
	if cfg.OpenStdin && cfg.AttachStdin {
		cfg.StdinOnce = true
	}
	return nil
}

// networking sets the container's network mode, /etc/hosts entries and
// resolver settings in hc, and returns its endpoints.
func (o *containerOptions) networking(hc *container.HostConfig) (*network.NetworkingConfig, error) {
	hc.ExtraHosts = o.addHosts.list()
	hc.DNS = append([]netip.Addr{}, o.dns...)
	hc.DNSSearch = append([]string{}, o.dnsSearch...)
	hc.DNSOptions = append([]string{}, o.dnsOptions...)
	if len(o.networks) > 0 {
		hc.NetworkMode = container.NetworkMode(o.networks[0].target)
	}
	return o.endpoints()
}

// endpoints is the NetworkingConfig of the request, as the docker CLI
// makes it. Without --network the daemon picks its default (bridge), and
// docker names the endpoint "default". --network-alias, --ip and
// --mac-address are about the first network. The endpoint of a single
// network given by name is left out when nothing is said about it.
// Aliases only mean something on user networks, where other containers
// look them up, and a container is on user networks or on one other.
func (o *containerOptions) endpoints() (*network.NetworkingConfig, error) {
	nets := o.networks
	if len(nets) == 0 {
		nets = networkValue{{target: "default"}}
	}
	nc := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{}}
	var user, other bool
	for i, a := range nets {
		if i == 0 {
			if err := o.applyLegacy(&a.ep); err != nil {
				return nil, err
			}
		}
		mode := container.NetworkMode(a.target)
		user, other = user || mode.IsUserDefined(), other || !mode.IsUserDefined()
		if !mode.IsUserDefined() && len(a.ep.Aliases) > 0 {
			return nil, errors.New("network-scoped aliases are only supported for user-defined networks")
		}
		if !mode.IsUserDefined() && len(a.ep.Links) > 0 {
			return nil, errors.New("links are only supported for user-defined networks")
		}
		if _, dup := nc.EndpointsConfig[a.target]; dup {
			return nil, fmt.Errorf("network %q is specified multiple times", a.target)
		}
		if len(o.networks) == 1 && reflect.DeepEqual(a.ep, network.EndpointSettings{}) {
			continue
		}
		ep := a.ep
		nc.EndpointsConfig[a.target] = &ep
	}
	if user && other {
		return nil, errors.New("conflicting options: cannot attach both user-defined and non-user-defined network-modes")
	}
	return nc, nil
}

// applyLegacy puts --network-alias, --ip and --mac-address on the
// endpoint of the first network, unless its long syntax says otherwise.
func (o *containerOptions) applyLegacy(ep *network.EndpointSettings) error {
	if len(o.netAliases) > 0 {
		if len(ep.Aliases) > 0 {
			return errors.New("conflicting options: cannot specify both --network-alias and per-network alias")
		}
		ep.Aliases = append([]string{}, o.netAliases...)
	}
	if ip := netip.Addr(o.ip); ip.IsValid() {
		if ep.IPAMConfig != nil && ep.IPAMConfig.IPv4Address.IsValid() {
			return errors.New("conflicting options: cannot specify both --ip and per-network IPv4 address")
		}
		if ep.IPAMConfig == nil {
			ep.IPAMConfig = &network.EndpointIPAMConfig{}
		}
		ep.IPAMConfig.IPv4Address = ip
	}
	if o.macAddress != "" {
		if len(ep.MacAddress) > 0 {
			return errors.New("conflicting options: cannot specify both --mac-address and per-network MAC address")
		}
		mac, err := net.ParseMAC(strings.TrimSpace(o.macAddress))
		if err != nil {
			return fmt.Errorf("%s is not a valid mac address", o.macAddress)
		}
		ep.MacAddress = network.HardwareAddr(mac)
	}
	return nil
}

// readEnv collects --env-file files, then -e values, in that order (a
// later value wins inside the container). "-e NAME" without "=" takes
// NAME's value from berth's own environment, and is passed as it is when
// NAME is not set there.
func (c *CLI) readEnv(files, vars []string) ([]string, error) {
	var env []string
	for _, file := range files {
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("env file: %w", err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimLeft(sc.Text(), " \t")
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			env = append(env, c.expandEnv(line))
		}
		err = sc.Err()
		_ = f.Close()
		if err != nil {
			return nil, fmt.Errorf("env file %s: %w", file, err)
		}
	}
	for _, v := range vars {
		if strings.HasPrefix(v, "=") {
			return nil, fmt.Errorf("invalid environment variable: %s", v)
		}
		env = append(env, c.expandEnv(v))
	}
	return env, nil
}

// readKVFiles reads --label-file files as the docker CLI reads them:
// one KEY=VALUE a line, blank lines and lines starting with # skipped,
// leading blanks dropped; a key may not contain blanks. Unlike an env
// file, a line without "=" is a key with an empty value, not a name
// looked up in berth's environment.
func readKVFiles(files []string) ([]string, error) {
	var out []string
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("label file: %w", err)
		}
		for i, line := range strings.Split(strings.TrimPrefix(string(data), "\ufeff"), "\n") {
			line = strings.TrimLeft(strings.TrimRight(line, "\r"), " \t")
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			k, _, _ := strings.Cut(line, "=")
			if k == "" {
				return nil, fmt.Errorf("no variable name on line '%s' (%s:%d)", line, file, i+1)
			}
			if strings.ContainsAny(k, " \t") {
				return nil, fmt.Errorf("variable '%s' contains whitespaces (%s:%d)", k, file, i+1)
			}
			out = append(out, line)
		}
	}
	return out, nil
}

func (c *CLI) expandEnv(v string) string {
	if strings.Contains(v, "=") {
		return v
	}
	if val, ok := c.lookupEnv(v); ok {
		return v + "=" + val
	}
	return v
}

// parseVolumes splits -v values into bind mounts (HostConfig.Binds) and
// anonymous volumes (Config.Volumes), as docker does: "SRC:DST[:MODE]" is
// a bind (a relative SRC starting with "." is made absolute here, since
// the daemon does not know berth's working directory); a lone "DST" is a
// volume the daemon creates.
func parseVolumes(values []string, volumes map[string]struct{}) ([]string, error) {
	var binds []string
	for _, v := range values {
		parts := strings.Split(v, ":")
		switch len(parts) {
		case 1:
			if !path.IsAbs(v) {
				return nil, fmt.Errorf("invalid volume specification: '%s': invalid mount config: mount path must be absolute", v)
			}
			volumes[v] = struct{}{}
		case 2, 3:
			src, dst := parts[0], parts[1]
			if src == "" || dst == "" {
				return nil, fmt.Errorf("invalid volume specification: '%s'", v)
			}
			if !path.IsAbs(dst) {
				return nil, fmt.Errorf("invalid volume specification: '%s': invalid mount config: mount path must be absolute", v)
			}
			if len(parts) == 3 {
				for _, m := range strings.Split(parts[2], ",") {
					switch m {
					case "ro", "rw", "z", "Z", "nocopy", "shared", "rshared", "slave", "rslave", "private", "rprivate":
					default:
						return nil, fmt.Errorf("invalid mode: %s", parts[2])
					}
				}
			}
			if !filepath.IsAbs(src) && strings.HasPrefix(src, ".") {
				if abs, err := filepath.Abs(src); err == nil {
					src = abs
				}
			}
			parts[0] = src
			binds = append(binds, strings.Join(parts, ":"))
		default:
			return nil, fmt.Errorf("invalid volume specification: '%s'", v)
		}
	}
	return binds, nil
}

// parsePorts reads -p and --expose values. Every published port is also
// exposed. The forms of -p:
//
//	80                  container port 80/tcp, host port chosen by the daemon
//	8080:80             host port 8080
//	127.0.0.1:8080:80   only on that host address
//	127.0.0.1::80       that address, any port
//	[::1]:8080:80       IPv6 addresses in brackets
//	8000-8001:80-81     ranges of equal length pair up; a host range for a
//	                    single container port lets the daemon choose in it
//	53:53/udp           a protocol other than tcp
func parsePorts(publish, expose []string) (network.PortSet, network.PortMap, error) {
	exposed := network.PortSet{}
	bindings := network.PortMap{}
	for _, spec := range publish {
		ip, hostPart, ctrPart, err := splitPortSpec(spec)
		if err != nil {
			return nil, nil, err
		}
		ctrPorts, proto, _ := strings.Cut(ctrPart, "/")
		if proto == "" {
			proto = "tcp"
		}
		if ctrPorts == "" {
			return nil, nil, fmt.Errorf("no port specified: %s<empty>", spec)
		}
		start, end, err := parsePortRange(ctrPorts)
		if err != nil {
			return nil, nil, fmt.Errorf("invalid containerPort: %s", ctrPorts)
		}
		var hostStart, hostEnd uint64
		if hostPart != "" {
			hostStart, hostEnd, err = parsePortRange(hostPart)
			if err != nil {
				return nil, nil, fmt.Errorf("invalid hostPort: %s", hostPart)
			}
		}
		if hostPart != "" && end-start != hostEnd-hostStart {
			// A host range for one container port is allowed; the
			// daemon picks a free port in it.
			if end != start {
				return nil, nil, fmt.Errorf("invalid ranges specified for container and host Ports: %s and %s", ctrPorts, hostPart)
			}
		}
		for i := uint64(0); i <= end-start; i++ {
			port, err := network.ParsePort(fmt.Sprintf("%d/%s", start+i, proto))
			if err != nil {
				return nil, nil, fmt.Errorf("invalid port %q: %w", spec, err)
			}
			hostPort := ""
			switch {
			case hostPart == "":
			case hostEnd != hostStart && end == start:
				hostPort = fmt.Sprintf("%d-%d", hostStart, hostEnd)
			default:
				hostPort = strconv.FormatUint(hostStart+i, 10)
			}
			exposed[port] = struct{}{}
			bindings[port] = append(bindings[port], network.PortBinding{HostIP: ip, HostPort: hostPort})
		}
	}
	for _, e := range expose {
		ports, proto, _ := strings.Cut(e, "/")
		if proto == "" {
			proto = "tcp"
		}
		start, end, err := parsePortRange(ports)
		if err != nil {
			return nil, nil, fmt.Errorf("invalid range format for --expose: %s, error: %w", e, err)
		}
		for p := start; p <= end; p++ {
			port, err := network.ParsePort(fmt.Sprintf("%d/%s", p, proto))
			if err != nil {
				return nil, nil, fmt.Errorf("invalid port %q: %w", e, err)
			}
			exposed[port] = struct{}{}
		}
	}
	return exposed, bindings, nil
}

// splitPortSpec splits [IP:][HOSTPORT:]CONTAINERPORT[/PROTO].
func splitPortSpec(spec string) (ip netip.Addr, host, ctr string, err error) {
	var rawIP string
	rest := spec
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]")
		if end < 0 || !strings.HasPrefix(rest[end+1:], ":") {
			return ip, "", "", fmt.Errorf("invalid IP address: %s", spec)
		}
		rawIP, rest = rest[1:end], rest[end+2:]
		host, ctr, _ = strings.Cut(rest, ":")
		if !strings.Contains(rest, ":") {
			return ip, "", "", fmt.Errorf("invalid port specification: %q", spec)
		}
	} else {
		parts := strings.Split(rest, ":")
		switch n := len(parts); {
		case n == 1:
			ctr = parts[0]
		case n == 2:
			host, ctr = parts[0], parts[1]
		default:
			rawIP = strings.Join(parts[:n-2], ":")
			host, ctr = parts[n-2], parts[n-1]
		}
	}
	if rawIP != "" {
		ip, err = netip.ParseAddr(rawIP)
		if err != nil {
			return ip, "", "", fmt.Errorf("invalid IP address: %s", rawIP)
		}
	}
	return ip, host, ctr, nil
}

// parsePortRange reads "80" or "8000-8010".
func parsePortRange(s string) (start, end uint64, err error) {
	lo, hi, isRange := strings.Cut(s, "-")
	start, err = strconv.ParseUint(lo, 10, 16)
	if err != nil {
		return 0, 0, err
	}
	end = start
	if isRange {
		end, err = strconv.ParseUint(hi, 10, 16)
		if err != nil {
			return 0, 0, err
		}
		if end < start {
			return 0, 0, fmt.Errorf("invalid range %s", s)
		}
	}
	return start, end, nil
}

// listValue is a repeatable string flag. Unlike pflag's string slices it
// does not split values on commas ("-e A=1,2" is one variable), and its
// type shows as "list" in the help, as docker's does.
type listValue []string

func (l *listValue) String() string {
	if len(*l) == 0 {
		return ""
	}
	return "[" + strings.Join(*l, " ") + "]"
}
func (l *listValue) Set(s string) error { *l = append(*l, s); return nil }
func (l *listValue) Type() string       { return "list" }

// bytesValue is a size with docker's units: 32m, 1g, 512k, 1048576.
type bytesValue int64

func (b *bytesValue) String() string {
	if *b == 0 {
		return "0"
	}
	return units.BytesSize(float64(*b))
}

func (b *bytesValue) Set(s string) error {
	n, err := units.RAMInBytes(s)
	if err != nil {
		return err
	}
	*b = bytesValue(n)
	return nil
}

func (b *bytesValue) Type() string { return "bytes" }

// nanoCPUsValue is a number of CPUs, "1.5", stored as billionths of a CPU
// (HostConfig.NanoCpus). It is read as an exact fraction so that 0.1 does
// not become 99999999 nano-CPUs through a float.
type nanoCPUsValue int64

func (n *nanoCPUsValue) String() string {
	if *n == 0 {
		return ""
	}
	return big.NewRat(int64(*n), 1e9).FloatString(3)
}

func (n *nanoCPUsValue) Set(s string) error {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return fmt.Errorf("failed to parse %v as a rational number", s)
	}
	r.Mul(r, big.NewRat(1e9, 1))
	if !r.IsInt() {
		return fmt.Errorf("value is too precise")
	}
	if r.Sign() < 0 || !r.Num().IsInt64() {
		return fmt.Errorf("invalid number of CPUs %v", s)
	}
	*n = nanoCPUsValue(r.Num().Int64())
	return nil
}

func (n *nanoCPUsValue) Type() string { return "decimal" }
