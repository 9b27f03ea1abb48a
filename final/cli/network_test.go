package cli

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/network"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNetworkIPAMFlags(t *testing.T) {
	t.Parallel()
	pfx, addr := netip.MustParsePrefix, netip.MustParseAddr
	tests := []struct {
		name string
		in   ipamFlags
		want []network.IPAMConfig
		err  string
	}{
		{name: "none", want: []network.IPAMConfig{}},
		{name: "all three", in: ipamFlags{subnets: listValue{"10.201.5.0/24"}, gateways: listValue{"10.201.5.1"}, ipRanges: listValue{"10.201.5.128/25"}},
			want: []network.IPAMConfig{{Subnet: pfx("10.201.5.0/24"), Gateway: addr("10.201.5.1"), IPRange: pfx("10.201.5.128/25")}}},
		{name: "each gateway to its subnet", in: ipamFlags{subnets: listValue{"10.201.5.0/24", "10.201.6.0/24"}, gateways: listValue{"10.201.6.1"}},
			want: []network.IPAMConfig{{Subnet: pfx("10.201.5.0/24")}, {Subnet: pfx("10.201.6.0/24"), Gateway: addr("10.201.6.1")}}},
		{name: "gateway alone", in: ipamFlags{gateways: listValue{"10.0.0.1"}}, err: "every ip-range or gateway must have a corresponding subnet"},
		{name: "range alone", in: ipamFlags{ipRanges: listValue{"10.0.0.0/24"}}, err: "every ip-range or gateway must have a corresponding subnet"},
		{name: "gateway outside", in: ipamFlags{subnets: listValue{"10.1.0.0/16"}, gateways: listValue{"10.2.0.1"}}, err: "no matching subnet for gateway 10.2.0.1"},
		{name: "range outside", in: ipamFlags{subnets: listValue{"10.1.0.0/16"}, ipRanges: listValue{"10.2.0.0/24"}}, err: "no matching subnet for range 10.2.0.0/24"},
		{name: "two gateways", in: ipamFlags{subnets: listValue{"10.1.0.0/16", "10.3.0.0/16"}, gateways: listValue{"10.1.0.1", "10.1.0.2"}},
			err: "cannot configure multiple gateways (10.1.0.2, 10.1.0.1) for the same subnet (10.1.0.0/16)"},
		{name: "overlap", in: ipamFlags{subnets: listValue{"10.1.0.0/16", "10.1.2.0/24"}}, err: "multiple overlapping subnet configuration is not supported"},
		{name: "bad subnet", in: ipamFlags{subnets: listValue{"bogus"}}, err: "invalid subnet bogus"},
		{name: "bad gateway", in: ipamFlags{subnets: listValue{"10.1.0.0/16"}, gateways: listValue{"x"}}, err: "invalid gateway x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.in.config()
			if tt.err != "" {
				require.Error(t, err, "%v", got)
				assert.True(t, strings.HasPrefix(err.Error(), tt.err), err.Error())
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestNetworkCommands: berth network create, ls, inspect, connect,
// disconnect, rm and prune against the fake engine.
func TestNetworkCommands(t *testing.T) {
	e := newEngine(t)
	id := strings.TrimSpace(e.ok(t, "network", "create", "--label", "a=1", "--internal", "--attachable", "front"))
	assert.Regexp(t, `^[0-9a-f]{64}$`, id)
	e.ok(t, "network", "create", "back")
	_, errOut, code := e.berth(t, "", "network", "create", "back")
	assert.Equal(t, 1, code)
	assert.Equal(t, "Error response from daemon: creating network back: network with name back already exists: network exists\n", errOut)

	ls := e.ok(t, "network", "ls")
	lines := strings.Split(strings.TrimSuffix(ls, "\n"), "\n")
	require.Len(t, lines, 6, ls)
	assert.Equal(t, "NETWORK ID     NAME      DRIVER    SCOPE", lines[0])
	assert.Regexp(t, `^[0-9a-f]{12}   back      bridge    local$`, lines[1])
	assert.Regexp(t, `^[0-9a-f]{12}   none      null      local$`, lines[5])
	assert.Equal(t, id[:12]+"\n", e.ok(t, "network", "ls", "-q", "--filter", "label=a=1"))
	assert.Equal(t, id+"\n", e.ok(t, "network", "ls", "-q", "--no-trunc", "-f", "name=fro"))
	assert.Equal(t, "front true a=1\n", e.ok(t, "network", "ls", "--filter", "type=custom", "--filter", "label=a",
		"--format", "{{.Name}} {{.Internal}} {{.Labels}}"))
	assert.Contains(t, e.ok(t, "network", "ls", "--format", "json", "-f", "name=front"), `"Internal":"true","Labels":"a=1","Name":"front","Scope":"local"}`)

	assert.Equal(t, "front true\nbridge\n", e.ok(t, "network", "inspect", "-f", "{{.Name}}{{if .Attachable}} true{{end}}", "front", "bridge"))
	assert.Equal(t, "front\n", e.ok(t, "inspect", "-f", "{{.Name}}", "front"), "inspect finds networks too")
	assert.Equal(t, "front\n", e.ok(t, "inspect", "--type", "network", "-f", "{{.Name}}", id[:12]))
	out, errOut, code := e.berth(t, "", "network", "inspect", "nosuch")
	assert.Equal(t, 1, code)
	assert.Equal(t, "[]\n", out)
	assert.Equal(t, "Error response from daemon: network nosuch not found\n", errOut)

	e.ok(t, "create", "--name", "web", "busybox")
	assert.Empty(t, e.ok(t, "network", "connect", "--alias", "www", "front", "web"))
	assert.Equal(t, "web\n", e.ok(t, "network", "inspect", "-f", "{{range .Containers}}{{.Name}}{{end}}", "front"))
	out, errOut, code = e.berth(t, "", "network", "rm", "front", "back", "nosuch")
	assert.Equal(t, 1, code)
	assert.Equal(t, "back\n", out)
	assert.Contains(t, errOut, "network front id "+id+" has active endpoints (")
	assert.True(t, strings.HasSuffix(errOut, "Error response from daemon: network nosuch not found\nexit status 1\n"), errOut)
	assert.Empty(t, e.ok(t, "network", "rm", "-f", "nosuch"))
	assert.Empty(t, e.ok(t, "network", "disconnect", "-f", "front", "web"))

	e.ok(t, "network", "create", "--label", "keep=1", "kept")
	out, _, code = e.berth(t, "n\n", "network", "prune")
	assert.Equal(t, 0, code)
	assert.Equal(t, "WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] ", out)
	assert.Equal(t, "front\nkept\n", e.ok(t, "network", "ls", "--filter", "type=custom", "--format", "{{.Name}}"))
	out, _, _ = e.berth(t, "y\n", "network", "prune", "--filter", "label!=keep")
	assert.True(t, strings.HasSuffix(out, "[y/N] Deleted Networks:\nfront\n\n"), out)
	assert.Equal(t, "Deleted Networks:\nkept\n\n", e.ok(t, "network", "prune", "-f"))
	assert.Empty(t, e.ok(t, "network", "prune", "-f"), "nothing to prune: nothing printed")
	list, err := e.fake.NetworkList(context.Background())
	require.NoError(t, err)
	assert.Len(t, list, 3, "the built-in networks are left")
}

// TestNetworkCommandsMatchDocker runs the same command lines through the
// docker CLI and berth, each against a fake engine of its own, and
// compares what they print and their exit status.
func TestNetworkCommandsMatchDocker(t *testing.T) {
	docker, err := exec.LookPath("docker")
	if err != nil {
		t.Skip("no docker CLI to compare with")
	}
	lines := [][]string{
		{"network", "create", "--label", "a=1", "-o", "com.docker.network.bridge.name=br-x", "--subnet", "10.201.5.0/24",
			"--gateway", "10.201.5.1", "--ip-range", "10.201.5.128/25", "--internal", "--attachable", "n1"},
		{"network", "create", "n2"},
		{"network", "create", "n2"},
		{"network", "create", "-d", "macvlan", "n3"},
		{"network", "create", "--gateway", "10.0.0.1", "x"},
		{"network", "create", "--subnet", "10.1.0.0/16", "--gateway", "10.2.0.1", "x"},
		{"network", "create"},
		{"network", "ls"},
		{"network", "ls", "--no-trunc"},
		{"network", "ls", "-q"},
		{"network", "ls", "--filter", "label=a=1", "--filter", "driver=bridge"},
		{"network", "ls", "--format", "table {{.Name}}\t{{.Label \"a\"}}\t{{.Internal}}\t{{.IPv4}}\t{{.IPv6}}\t{{.Labels}}"},
		{"network", "ls", "--filter", "bogus=1"},
		{"network", "ls", "extra"},
		{"network", "inspect", "-f", "{{.Name}} {{.Internal}} {{.Attachable}} {{.Labels}} {{.Options}}", "n1"},
		{"network", "inspect", "-f", "{{.Name}} {{.Internal}} {{.Attachable}}", "n1", "bridge"},
		{"network", "inspect", "nosuch"},
		{"inspect", "-f", "{{.Name}}", "n2"},
		{"network", "connect", "--alias", "x", "n1", "c1"},
		{"network", "connect", "n1"},
		{"network", "rm", "n1", "n2", "nosuch"},
		{"network", "rm"},
		{"network", "disconnect", "n1", "c1"},
		{"network", "create", "n4"},
		{"network", "prune", "-f", "--filter", "bogus=1"},
		{"network", "prune", "-f"},
		{"network", "prune", "-f"},
		// run and create check their networking flags as docker does.
		{"create", "--network-alias", "a", "busybox"},
		{"create", "--network", "host", "--network-alias", "a", "busybox"},
		{"create", "--mac-address", "zz", "busybox"},
		{"create", "--add-host", "bad", "busybox"},
		{"create", "--add-host", "h:bogus", "busybox"},
		{"run", "--dns", "bogus", "busybox"},
		{"run", "--dns-search", "-x-", "busybox"},
		{"create", "--network", "n1", "--network", "n1", "busybox"},
		{"create", "--network", "n1", "--network", "bridge", "busybox"},
		{"create", "--network", "alias=a", "busybox"},
		{"create", "--network", "name=n1,colour=blue", "busybox"},
		{"create", "--network", "name=n1,alias=a", "--network-alias", "b", "busybox"},
	}
	eDocker, eBerth := newEngine(t), newEngine(t)
	for _, e := range []*engine{eDocker, eBerth} {
		e.ok(t, "create", "--name", "c1", "busybox")
	}
	cfg := t.TempDir()
	for _, args := range lines {
		cmd := exec.Command(docker, args...)
		cmd.Env = append(os.Environ(), "DOCKER_HOST="+eDocker.host, "DOCKER_CONFIG="+cfg)
		var dOut, dErr strings.Builder
		cmd.Stdout, cmd.Stderr = &dOut, &dErr
		dCode := 0
		if err := cmd.Run(); err != nil {
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit)
			dCode = exit.ExitCode()
		}
		bOut, bErr, bCode := eBerth.berth(t, "", args...)
		line := strings.Join(args, " ")
		assert.Equal(t, dOut.String(), bOut, "stdout of %s", line)
		assert.Equal(t, strings.ReplaceAll(dErr.String(), "docker", "berth"), bErr, "stderr of %s", line)
		assert.Equal(t, dCode, bCode, "exit status of %s", line)
	}
}
