package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// parseRun parses a run/create command line (without "run") into the
// create request.
func parseRun(t *testing.T, env map[string]string, args ...string) (*containerSpec, error) {
	t.Helper()
	var o containerOptions
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	c := New(nil, io.Discard, io.Discard)
	c.Getenv = func(k string) string { return env[k] }
	return o.parse(c, fs, fs.Args())
}

func mustParseRun(t *testing.T, args ...string) *containerSpec {
	t.Helper()
	spec, err := parseRun(t, nil, args...)
	require.NoError(t, err)
	return spec
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func TestS22_ImageCommandAndArgs(t *testing.T) {
	// Flags after the image belong to the command, not to berth.
	spec := mustParseRun(t, "--name", "x", "busybox:1.36", "sh", "-c", "echo -n hi", "-e", "X")
	assert.Equal(t, "busybox:1.36", spec.Config.Image)
	assert.Equal(t, []string{"sh", "-c", "echo -n hi", "-e", "X"}, spec.Config.Cmd)
	assert.Empty(t, spec.Config.Env)
	assert.Equal(t, "x", spec.Name)

	spec = mustParseRun(t, "busybox")
	assert.Nil(t, spec.Config.Cmd, "no command: the image's CMD applies")

	_, err := parseRun(t, nil)
	assert.Error(t, err)
}

func TestS24_NameOptional(t *testing.T) {
	assert.Equal(t, "web", mustParseRun(t, "--name", "web", "busybox").Name)
	assert.Equal(t, "", mustParseRun(t, "busybox").Name, "without --name the daemon generates one")
}

func TestS23_InteractiveAndTTY(t *testing.T) {
	spec := mustParseRun(t, "-it", "busybox", "sh")
	c := spec.Config
	assert.True(t, c.Tty)
	assert.True(t, c.OpenStdin)
	assert.True(t, c.AttachStdin)
	assert.True(t, c.StdinOnce)
	assert.True(t, c.AttachStdout)
	assert.True(t, c.AttachStderr)

	c = mustParseRun(t, "busybox").Config
	assert.False(t, c.Tty || c.OpenStdin || c.AttachStdin || c.StdinOnce)
	assert.True(t, c.AttachStdout && c.AttachStderr, "stdout and stderr are attached by default")

	c = mustParseRun(t, "-a", "stdout", "busybox").Config
	assert.True(t, c.AttachStdout)
	assert.False(t, c.AttachStderr || c.AttachStdin)

	_, err := parseRun(t, nil, "-a", "stdfoo", "busybox")
	assert.ErrorContains(t, err, "stdfoo")
}

func TestS26_PublishForms(t *testing.T) {
	cases := []struct {
		args          []string
		bindings      string
		exposed       string
		wantErrSubstr string
	}{
		{args: []string{"-p", "8080:80"}, bindings: `{"80/tcp":[{"HostIp":"","HostPort":"8080"}]}`, exposed: `{"80/tcp":{}}`},
		{args: []string{"--publish", "80"}, bindings: `{"80/tcp":[{"HostIp":"","HostPort":""}]}`, exposed: `{"80/tcp":{}}`},
		{args: []string{"-p", "127.0.0.1::53/udp"}, bindings: `{"53/udp":[{"HostIp":"127.0.0.1","HostPort":""}]}`, exposed: `{"53/udp":{}}`},
		{args: []string{"-p", "[::1]:8080:80"}, bindings: `{"80/tcp":[{"HostIp":"::1","HostPort":"8080"}]}`, exposed: `{"80/tcp":{}}`},
		{args: []string{"-p", "8000-8001:80-81"},
			bindings: `{"80/tcp":[{"HostIp":"","HostPort":"8000"}],"81/tcp":[{"HostIp":"","HostPort":"8001"}]}`,
			exposed:  `{"80/tcp":{},"81/tcp":{}}`},
		{args: []string{"-p", "127.0.0.1:8000-8001:80"}, bindings: `{"80/tcp":[{"HostIp":"127.0.0.1","HostPort":"8000-8001"}]}`, exposed: `{"80/tcp":{}}`},
		{args: []string{"-p", "80", "-p", "8080:80"}, bindings: `{"80/tcp":[{"HostIp":"","HostPort":""},{"HostIp":"","HostPort":"8080"}]}`, exposed: `{"80/tcp":{}}`},
		{args: []string{"--expose", "90-91", "-p", "80"}, bindings: `{"80/tcp":[{"HostIp":"","HostPort":""}]}`, exposed: `{"80/tcp":{},"90/tcp":{},"91/tcp":{}}`},
		// docker's error messages
		{args: []string{"-p", "1.2.3:80:80"}, wantErrSubstr: "invalid IP address: 1.2.3"},
		{args: []string{"-p", "8000-8002:80-81"}, wantErrSubstr: "invalid ranges specified for container and host Ports: 80-81 and 8000-8002"},
		{args: []string{"-p", "80:99999"}, wantErrSubstr: "invalid containerPort: 99999"},
		{args: []string{"-p", "x:80"}, wantErrSubstr: "invalid hostPort: x"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			spec, err := parseRun(t, nil, append(tc.args, "busybox")...)
			if tc.wantErrSubstr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErrSubstr)
				return
			}
			require.NoError(t, err)
			assert.JSONEq(t, tc.bindings, jsonOf(t, spec.HostConfig.PortBindings))
			assert.JSONEq(t, tc.exposed, jsonOf(t, spec.Config.ExposedPorts))
		})
	}
}

func TestS38_PublishOnAllAddresses(t *testing.T) {
	spec := mustParseRun(t, "-p", "0.0.0.0:8888:80", "busybox")
	assert.JSONEq(t, `{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8888"}]}`, jsonOf(t, spec.HostConfig.PortBindings))
}

func TestResourceFlags(t *testing.T) {
	spec := mustParseRun(t, "--memory", "32m", "--cpus", "1.5", "--pids-limit", "64", "busybox")
	assert.Equal(t, int64(32<<20), spec.HostConfig.Memory)
	assert.Equal(t, int64(1_500_000_000), spec.HostConfig.NanoCPUs)
	require.NotNil(t, spec.HostConfig.PidsLimit)
	assert.Equal(t, int64(64), *spec.HostConfig.PidsLimit)
	// The JSON names the daemon reads.
	assert.Contains(t, jsonOf(t, spec.HostConfig), `"Memory":33554432`)
	assert.Contains(t, jsonOf(t, spec.HostConfig), `"NanoCpus":1500000000`)
	assert.Contains(t, jsonOf(t, spec.HostConfig), `"PidsLimit":64`)

	spec = mustParseRun(t, "--cgroup-parent", "/batch", "busybox")
	assert.Contains(t, jsonOf(t, spec.HostConfig), `"CgroupParent":"/batch"`)

	spec = mustParseRun(t, "-m", "1g", "--cpus", "0.1", "busybox")
	assert.Equal(t, int64(1<<30), spec.HostConfig.Memory)
	assert.Equal(t, int64(100_000_000), spec.HostConfig.NanoCPUs, "0.1 CPU exactly, not a float's 99999999")

	spec = mustParseRun(t, "busybox")
	assert.Zero(t, spec.HostConfig.Memory)
	assert.Zero(t, spec.HostConfig.NanoCPUs)
	require.NotNil(t, spec.HostConfig.PidsLimit, "docker always sends the pids limit")
	assert.Zero(t, *spec.HostConfig.PidsLimit)

	for _, bad := range [][]string{{"--memory", "1x"}, {"--cpus", "abc"}, {"--cpus", "0.0000000001"}, {"--pids-limit", "many"}} {
		_, err := parseRun(t, nil, append(bad, "busybox")...)
		assert.Error(t, err, "%v", bad)
	}
}

func TestRunFlags_RmInitEntrypoint(t *testing.T) {
	spec := mustParseRun(t, "--rm", "--init", "--entrypoint", "/bin/sh", "busybox", "-c", "true")
	assert.True(t, spec.HostConfig.AutoRemove)
	require.NotNil(t, spec.HostConfig.Init)
	assert.True(t, *spec.HostConfig.Init)
	assert.Equal(t, []string{"/bin/sh"}, []string(spec.Config.Entrypoint))

	spec = mustParseRun(t, "busybox")
	assert.False(t, spec.HostConfig.AutoRemove)
	assert.Nil(t, spec.HostConfig.Init, "without --init the daemon's default applies")
	assert.Nil(t, spec.Config.Entrypoint, "without --entrypoint the image's applies")

	spec = mustParseRun(t, "--entrypoint", "", "busybox")
	assert.Equal(t, []string{""}, []string(spec.Config.Entrypoint), `--entrypoint "" clears the image's`)

	spec = mustParseRun(t, "--init=false", "busybox")
	require.NotNil(t, spec.HostConfig.Init)
	assert.False(t, *spec.HostConfig.Init)
}

func TestRunFlags_Userns(t *testing.T) {
	assert.Equal(t, container.UsernsMode("host"), mustParseRun(t, "--userns", "host", "busybox").HostConfig.UsernsMode)
	assert.Empty(t, mustParseRun(t, "busybox").HostConfig.UsernsMode)
	_, err := parseRun(t, nil, "--userns", "private", "busybox")
	assert.ErrorContains(t, err, "--userns: invalid USER mode")
}

func TestRunFlags_EnvWorkdirUserHostname(t *testing.T) {
	dir := t.TempDir()
	envFile := filepath.Join(dir, "env")
	require.NoError(t, os.WriteFile(envFile, []byte("# comment\nFROM_FILE=1\n\nA=file\nSHELL_VAR\n"), 0o644))
	spec, err := parseRun(t, map[string]string{"HOME": "/home/me", "SHELL_VAR": "s"},
		"--env-file", envFile, "-e", "A=1", "--env", "HOME", "-e", "UNSET", "-e", "B=x=y",
		"-w", "/srv", "--user", "1000:1000", "-h", "box", "busybox")
	require.NoError(t, err)
	assert.Equal(t, []string{"FROM_FILE=1", "A=file", "SHELL_VAR=s", "A=1", "HOME=/home/me", "UNSET", "B=x=y"}, spec.Config.Env)
	assert.Equal(t, "/srv", spec.Config.WorkingDir)
	assert.Equal(t, "1000:1000", spec.Config.User)
	assert.Equal(t, "box", spec.Config.Hostname)

	_, err = parseRun(t, nil, "-e", "=x", "busybox")
	assert.ErrorContains(t, err, "invalid environment variable")
}

func TestRunFlags_Volumes(t *testing.T) {
	wd, err := os.Getwd()
	require.NoError(t, err)
	spec := mustParseRun(t, "-v", "/srv/data:/data", "-v", "/tmp:/t:ro", "--volume", "./rel:/rel", "-v", "/cache", "busybox")
	assert.Equal(t, []string{"/srv/data:/data", "/tmp:/t:ro", filepath.Join(wd, "rel") + ":/rel"}, spec.HostConfig.Binds)
	assert.Equal(t, map[string]struct{}{"/cache": {}}, spec.Config.Volumes)

	for _, bad := range []string{"relative", "/a:b", "/a:/b:bogus", "/a:/b:ro:x", ":/b"} {
		_, err := parseRun(t, nil, "-v", bad, "busybox")
		assert.Error(t, err, bad)
	}
}

func TestNetworkFlag(t *testing.T) {
	spec := mustParseRun(t, "busybox")
	assert.Equal(t, container.NetworkMode("default"), spec.HostConfig.NetworkMode)
	require.Contains(t, spec.NetworkingConfig.EndpointsConfig, "default")
	assert.Len(t, spec.NetworkingConfig.EndpointsConfig, 1)

	for _, mode := range []string{"none", "host", "bridge"} {
		spec := mustParseRun(t, "--network", mode, "busybox")
		assert.Equal(t, container.NetworkMode(mode), spec.HostConfig.NetworkMode)
		assert.JSONEq(t, `{"EndpointsConfig":{}}`, jsonOf(t, spec.NetworkingConfig))
	}
}

// TestRunFlags_Networking: the networking flags of run and create, mapped
// as the docker CLI maps them (checked on the wire against docker's in
// TestCreateNetworkingSendsWhatDockerSends).
func TestRunFlags_Networking(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		args      []string
		mode      string
		endpoints string // NetworkingConfig.EndpointsConfig as JSON
		err       string
	}{
		{name: "user network", args: []string{"--network", "front"}, mode: "front", endpoints: `{}`},
		{name: "another container's", args: []string{"--network", "container:abc"}, mode: "container:abc", endpoints: `{}`},
		{name: "aliases and address", args: []string{"--network", "front", "--network-alias", "web", "--network-alias", "www", "--ip", "10.201.7.9"},
			mode: "front", endpoints: `{"front":{"Aliases":["web","www"],"IPAMConfig":{"IPv4Address":"10.201.7.9"}}}`},
		{name: "MAC on a user network", args: []string{"--network", "front", "--mac-address", "02:42:AC:11:00:02"},
			mode: "front", endpoints: `{"front":{"MacAddress":"02:42:ac:11:00:02"}}`},
		{name: "address on the default network", args: []string{"--ip", "10.88.0.9"},
			mode: "default", endpoints: `{"default":{"IPAMConfig":{"IPv4Address":"10.88.0.9"}}}`},
		{name: "MAC on the default network", args: []string{"--mac-address", "02:42:ac:11:00:02"},
			mode: "default", endpoints: `{"default":{"MacAddress":"02:42:ac:11:00:02"}}`},
		{name: "alias on the default network", args: []string{"--network-alias", "web"}, err: "network-scoped aliases are only supported for user-defined networks"},
		{name: "alias on bridge", args: []string{"--network", "bridge", "--network-alias", "web"}, err: "network-scoped aliases are only supported for user-defined networks"},
		{name: "alias on host", args: []string{"--network", "host", "--network-alias", "web"}, err: "network-scoped aliases are only supported for user-defined networks"},
		{name: "two networks", args: []string{"--network", "front", "--network", "back"}, mode: "front", endpoints: `{"front":{},"back":{}}`},
		{name: "the legacy flags are the first network's", args: []string{"--network", "front", "--network-alias", "web", "--network", "back"},
			mode: "front", endpoints: `{"front":{"Aliases":["web"]},"back":{}}`},
		{name: "long syntax", args: []string{"--network", "name=front,alias=web,alias=www,ip=10.201.7.9,mac-address=02:42:ac:11:00:02", "--network", "name=back,alias=api"},
			mode: "front", endpoints: `{"front":{"Aliases":["web","www"],"IPAMConfig":{"IPv4Address":"10.201.7.9"},"MacAddress":"02:42:ac:11:00:02"},"back":{"Aliases":["api"]}}`},
		{name: "long syntax, what berthd refuses", args: []string{"--network", `name=front,ip6=fd00::9,driver-opt=a=b,gw-priority=5,"link=db:d"`},
			mode: "front", endpoints: `{"front":{"IPAMConfig":{"IPv6Address":"fd00::9"},"DriverOpts":{"a":"b"},"GwPriority":5,"Links":["db:d"]}}`},
		{name: "long syntax without a name", args: []string{"--network", "alias=web"}, err: "network name/id is not specified"},
		{name: "long syntax, unknown key", args: []string{"--network", "name=a,colour=blue"}, err: "invalid field key colour"},
		{name: "a network twice", args: []string{"--network", "front", "--network", "front"}, err: `network "front" is specified multiple times`},
		{name: "user and built-in networks", args: []string{"--network", "front", "--network", "bridge"},
			err: "conflicting options: cannot attach both user-defined and non-user-defined network-modes"},
		{name: "two aliases for the first network", args: []string{"--network", "name=front,alias=a", "--network-alias", "b"},
			err: "conflicting options: cannot specify both --network-alias and per-network alias"},
		{name: "two addresses for the first network", args: []string{"--network", "name=front,ip=10.0.0.2", "--ip", "10.0.0.3"},
			err: "conflicting options: cannot specify both --ip and per-network IPv4 address"},
		{name: "bad MAC", args: []string{"--mac-address", "zz"}, err: "zz is not a valid mac address"},
		{name: "bad IP", args: []string{"--network", "front", "--ip", "bogus"}, err: `invalid argument "bogus" for "--ip" flag: bogus is not an IPv4 address`},
		{name: "IPv6 for --ip", args: []string{"--network", "front", "--ip", "::1"}, err: "::1 is not an IPv4 address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, err := parseRun(t, nil, append(tt.args, "busybox")...)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, container.NetworkMode(tt.mode), spec.HostConfig.NetworkMode)
			got := jsonOf(t, spec.NetworkingConfig.EndpointsConfig)
			var eps map[string]map[string]any
			require.NoError(t, json.Unmarshal([]byte(got), &eps))
			for _, ep := range eps { // only what the flags set
				for k, v := range ep {
					if v == nil || v == "" || v == float64(0) {
						delete(ep, k)
					}
				}
			}
			assert.JSONEq(t, tt.endpoints, jsonOf(t, eps))
		})
	}
}

func TestRunFlags_HostsAndDNS(t *testing.T) {
	t.Parallel()
	spec := mustParseRun(t, "--add-host", "db:10.201.7.2", "--add-host", "gw:host-gateway", "--add-host", "v6=[::1]",
		"--add-host", "six:fe80::1", "--dns", " 127.0.0.53", "--dns", "::1", "--dns-search", "example.test", "--dns-search", ".",
		"--dns-option", "ndots:2", "busybox")
	h := spec.HostConfig
	assert.Equal(t, []string{"db:10.201.7.2", "gw:host-gateway", "v6:::1", "six:fe80::1"}, h.ExtraHosts)
	assert.JSONEq(t, `["127.0.0.53","::1"]`, jsonOf(t, h.DNS))
	assert.Equal(t, []string{"example.test", "."}, h.DNSSearch)
	assert.Equal(t, []string{"ndots:2"}, h.DNSOptions)

	h = mustParseRun(t, "busybox").HostConfig
	assert.Nil(t, h.ExtraHosts, "docker sends null")
	assert.JSONEq(t, `{"Dns":[],"DnsSearch":[],"DnsOptions":[]}`,
		jsonOf(t, map[string]any{"Dns": h.DNS, "DnsSearch": h.DNSSearch, "DnsOptions": h.DNSOptions}), "docker sends empty lists")

	for _, tc := range []struct{ flag, value, err string }{
		{"--add-host", "bad", `bad format for add-host: "bad"`},
		{"--add-host", ":1.2.3.4", `bad format for add-host: ":1.2.3.4"`},
		{"--add-host", "h:bogus", `invalid IP address in add-host: "bogus"`},
		{"--dns", "bogus", "IP address is not correctly formatted: bogus"},
		{"--dns-search", "-bad-.test", "-bad-.test is not a valid domain"},
	} {
		_, err := parseRun(t, nil, tc.flag, tc.value, "busybox")
		assert.EqualError(t, err, fmt.Sprintf("invalid argument %q for %q flag: %s", tc.value, tc.flag, tc.err))
	}
}

func TestRunFlags_LabelsStopSignal(t *testing.T) {
	spec := mustParseRun(t, "-l", "a=b", "--label", "c", "--stop-signal", "SIGINT", "--stop-timeout", "3", "busybox")
	assert.Equal(t, map[string]string{"a": "b", "c": ""}, spec.Config.Labels)
	assert.Equal(t, "SIGINT", spec.Config.StopSignal)
	require.NotNil(t, spec.Config.StopTimeout)
	assert.Equal(t, 3, *spec.Config.StopTimeout)
	assert.Nil(t, mustParseRun(t, "busybox").Config.StopTimeout)
}

func TestRunCommand_HelpAndHostnameShortFlag(t *testing.T) {
	// -h is --hostname for run, as in docker; --help still works.
	out, _, code := runBerth(t, "unix:///nonexistent", nil, nil, "run", "--help")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "-h, --hostname string")
	assert.Contains(t, out, "--help")
	assert.Contains(t, out, "-p, --publish list")
	assert.Contains(t, out, "-d, --detach")
	assert.Contains(t, out, "--sig-proxy")
	assert.Contains(t, out, "--detach-keys string")
}

// TestRunFlags_Hardening: --ulimit, --oom-score-adj, --sysctl,
// --group-add, --cgroupns, --userns and --security-opt reach the
// request as the docker CLI sends them.
func TestRunFlags_Hardening(t *testing.T) {
	hc := mustParseRun(t, "--ulimit", "nofile=100:200", "--ulimit", "core=0", "--oom-score-adj", "-5",
		"--sysctl", "net.core.somaxconn=99", "--sysctl", "kernel.msgmax=1=2", "--group-add", "wheel", "--group-add", "42",
		"--cgroupns", "host", "--userns", "host", "--security-opt", "label=disable", "--privileged", "busybox").HostConfig
	assert.Equal(t, []*container.Ulimit{{Name: "nofile", Soft: 100, Hard: 200}, {Name: "core", Soft: 0, Hard: 0}}, hc.Ulimits)
	assert.Equal(t, -5, hc.OomScoreAdj)
	assert.Equal(t, map[string]string{"net.core.somaxconn": "99", "kernel.msgmax": "1=2"}, hc.Sysctls)
	assert.Equal(t, []string{"wheel", "42"}, hc.GroupAdd)
	assert.Equal(t, container.CgroupnsMode("host"), hc.CgroupnsMode)
	assert.Equal(t, container.UsernsMode("host"), hc.UsernsMode)
	assert.Equal(t, []string{"label=disable"}, hc.SecurityOpt)
	assert.True(t, hc.Privileged)

	hc = mustParseRun(t, "busybox").HostConfig
	assert.Nil(t, hc.Ulimits)
	assert.Nil(t, hc.Sysctls)
	assert.Zero(t, hc.OomScoreAdj)

	_, err := parseRun(t, nil, "--ulimit", "nofile=2:1", "busybox")
	assert.ErrorContains(t, err, "ulimit soft limit must be less than or equal to hard limit: 2 > 1")
	_, err = parseRun(t, nil, "--ulimit", "files=1", "busybox")
	assert.ErrorContains(t, err, "invalid ulimit type: files")
	_, err = parseRun(t, nil, "--sysctl", "novalue", "busybox")
	assert.ErrorContains(t, err, "sysctl 'novalue' is not allowed")
}

func TestHealthOptions(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want *container.HealthConfig
		err  string
	}{
		{nil, nil, ""},
		{[]string{"--health-cmd", "curl -f x", "--health-interval", "1s", "--health-retries", "2"},
			&container.HealthConfig{Test: []string{"CMD-SHELL", "curl -f x"}, Interval: time.Second, Retries: 2}, ""},
		{[]string{"--health-timeout", "3s", "--health-start-period", "4s", "--health-start-interval", "500ms"},
			&container.HealthConfig{Timeout: 3 * time.Second, StartPeriod: 4 * time.Second, StartInterval: 500 * time.Millisecond}, ""},
		{[]string{"--no-healthcheck"}, &container.HealthConfig{Test: []string{"NONE"}}, ""},
		{[]string{"--no-healthcheck", "--health-cmd", "true"}, nil, "--no-healthcheck conflicts with --health-* options"},
		{[]string{"--health-interval", "-1s"}, nil, "--health-interval cannot be negative"},
	} {
		spec, err := parseRun(t, nil, append(tc.args, "busybox")...)
		if tc.err != "" {
			assert.EqualError(t, err, tc.err, "%v", tc.args)
			continue
		}
		require.NoError(t, err, "%v", tc.args)
		assert.Equal(t, tc.want, spec.Config.Healthcheck, "%v", tc.args)
	}
}

// TestRunFlags_ComposeOptions: --label-file, --link, --log-opt,
// --pid, --ipc and the CPU and memory weights reach the request as the
// docker CLI sends them.
func TestRunFlags_ComposeOptions(t *testing.T) {
	dir := t.TempDir()
	lf := filepath.Join(dir, "labels")
	require.NoError(t, os.WriteFile(lf, []byte("\ufeff# comment\n  a=file\n\nb=x=y\r\nbare\n"), 0o644))
	spec, err := parseRun(t, map[string]string{"bare": "env"},
		"--label-file", lf, "-l", "a=flag", "--link", "db:database", "--link", "cache",
		"--log-driver", "json-file", "--log-opt", "max-size=1m", "--log-opt", "max-file=2",
		"--pid", "container:db", "--ipc", "shareable",
		"--cpu-shares", "512", "--cpuset-cpus", "0", "--cpuset-mems", "0",
		"--memory-reservation", "64m", "--oom-kill-disable", "busybox")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"a": "flag", "b": "x=y", "bare": ""}, spec.Config.Labels, "a --label wins; a bare key is not looked up")
	hc := spec.HostConfig
	assert.Equal(t, []string{"db:database", "cache"}, hc.Links)
	assert.Equal(t, container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "1m", "max-file": "2"}}, hc.LogConfig)
	assert.Equal(t, container.PidMode("container:db"), hc.PidMode)
	assert.Equal(t, container.IpcMode("shareable"), hc.IpcMode)
	assert.Equal(t, int64(512), hc.CPUShares)
	assert.Equal(t, "0", hc.CpusetCpus)
	assert.Equal(t, "0", hc.CpusetMems)
	assert.Equal(t, int64(64<<20), hc.MemoryReservation)
	require.NotNil(t, hc.OomKillDisable)
	assert.True(t, *hc.OomKillDisable)
	assert.Nil(t, mustParseRun(t, "busybox").HostConfig.OomKillDisable)

	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"--pid", "nope"}, "--pid: invalid PID mode"},
		{[]string{"--ipc", "nope"}, "--ipc: invalid IPC mode"},
		{[]string{"--log-opt", "novalue"}, "invalid key value pair format in driver options: novalue"},
		{[]string{"--label-file", filepath.Join(dir, "missing")}, "label file: open " + filepath.Join(dir, "missing")},
	} {
		_, err := parseRun(t, nil, append(tc.args, "busybox")...)
		assert.ErrorContains(t, err, tc.err, "%v", tc.args)
	}
	bad := filepath.Join(dir, "bad")
	require.NoError(t, os.WriteFile(bad, []byte("a b=1\n"), 0o644))
	_, err = parseRun(t, nil, "--label-file", bad, "busybox")
	assert.ErrorContains(t, err, "variable 'a b' contains whitespaces")
}
