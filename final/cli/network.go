package cli

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// newNetworkCommand is `berth network`: the user-defined bridges that
// containers join by name, and on which they find each other by name.
func newNetworkCommand(c *CLI) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "network",
		Short: "Manage networks",
		Long: `Manage networks: bridges of their own, with a subnet each, that containers
join with --network NAME or network connect. Containers on one user network
reach each other by name and by their aliases.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SetOut(c.Err)
			return cmd.Help()
		},
	}
	cmd.AddCommand(newNetworkCreateCommand(c), newNetworkListCommand(c), newNetworkInspectCommand(c),
		newNetworkRmCommand(c), newNetworkPruneCommand(c), newNetworkConnectCommand(c),
		newNetworkDisconnectCommand(c))
	return cmd
}

// ipamFlags are network create's address flags; each may be repeated,
// one subnet per --subnet, as in docker.
type ipamFlags struct {
	subnets, ipRanges, gateways listValue
}

// config pairs each --ip-range and --gateway with the --subnet that
// holds it, with docker's checks and messages. The subnets keep the
// order they were given in.
func (f ipamFlags) config() ([]network.IPAMConfig, error) {
	if len(f.subnets) < len(f.ipRanges) || len(f.subnets) < len(f.gateways) {
		return nil, fmt.Errorf("every ip-range or gateway must have a corresponding subnet")
	}
	cfgs := make([]network.IPAMConfig, len(f.subnets))
	for i, s := range f.subnets {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("invalid subnet %s: %w", s, err)
		}
		for _, prev := range cfgs[:i] {
			if prev.Subnet.Overlaps(p) {
				return nil, fmt.Errorf("multiple overlapping subnet configuration is not supported")
			}
		}
		cfgs[i].Subnet = p
	}
	for _, r := range f.ipRanges {
		p, err := netip.ParsePrefix(r)
		if err != nil {
			return nil, fmt.Errorf("invalid ip-range %s: %w", r, err)
		}
		i := slices.IndexFunc(cfgs, func(c network.IPAMConfig) bool { return c.Subnet.Contains(p.Addr()) })
		if i < 0 {
			return nil, fmt.Errorf("no matching subnet for range %s", r)
		}
		if cfgs[i].IPRange.IsValid() {
			return nil, fmt.Errorf("cannot configure multiple ranges (%s, %s) on the same subnet (%s)", r, cfgs[i].IPRange, cfgs[i].Subnet)
		}
		cfgs[i].IPRange = p
	}
	for _, g := range f.gateways {
		a, err := netip.ParseAddr(g)
		if err != nil {
			return nil, fmt.Errorf("invalid gateway %s: %w", g, err)
		}
		i := slices.IndexFunc(cfgs, func(c network.IPAMConfig) bool { return c.Subnet.Contains(a) })
		if i < 0 {
			return nil, fmt.Errorf("no matching subnet for gateway %s", g)
		}
		if cfgs[i].Gateway.IsValid() {
			return nil, fmt.Errorf("cannot configure multiple gateways (%s, %s) for the same subnet (%s)", g, cfgs[i].Gateway, cfgs[i].Subnet)
		}
		cfgs[i].Gateway = a
	}
	return cfgs, nil
}

func newNetworkCreateCommand(c *CLI) *cobra.Command {
	var driver string
	var internal, attachable bool
	var ipam ipamFlags
	var labels, opts listValue
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] NETWORK",
		Short: "Create a network",
		Long: `Create a bridge network. Without --subnet the daemon picks a free one;
--gateway and --ip-range must lie in the subnet. An --internal network has
no way out of the host. The one driver option berth applies is
com.docker.network.bridge.name (-o), the name of the bridge.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfgs, err := ipam.config()
			if err != nil {
				return err
			}
			cl, err := c.Client()
			if err != nil {
				return err
			}
			res, err := cl.NetworkCreate(cmd.Context(), args[0], client.NetworkCreateOptions{
				Driver:     driver,
				IPAM:       &network.IPAM{Driver: "default", Options: map[string]string{}, Config: cfgs},
				Internal:   internal,
				Attachable: attachable,
				Options:    keyValues(opts),
				Labels:     keyValues(labels),
			})
			if err != nil {
				return err
			}
			for _, w := range res.Warning {
				fmt.Fprintln(c.Err, w)
			}
			fmt.Fprintln(c.Out, res.ID)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&driver, "driver", "d", "bridge", "Driver to manage the Network")
	fs.Var(&ipam.subnets, "subnet", "Subnet in CIDR format that represents a network segment")
	fs.Var(&ipam.gateways, "gateway", "IPv4 Gateway for the master subnet")
	fs.Var(&ipam.ipRanges, "ip-range", "Allocate container ip from a sub-range")
	fs.BoolVar(&internal, "internal", false, "Restrict external access to the network")
	fs.BoolVar(&attachable, "attachable", false, "Enable manual container attachment")
	fs.Var(&labels, "label", "Set metadata on a network")
	fs.VarP(&opts, "opt", "o", "Set driver specific options")
	return cmd
}

// networkRow is one line of `network ls`.
type networkRow struct {
	n     network.Summary
	trunc bool
}

func (r networkRow) ID() string {
	if r.trunc {
		return truncateID(r.n.ID)
	}
	return r.n.ID
}
func (r networkRow) Name() string      { return r.n.Name }
func (r networkRow) Driver() string    { return r.n.Driver }
func (r networkRow) Scope() string     { return r.n.Scope }
func (r networkRow) IPv4() string      { return strconv.FormatBool(r.n.EnableIPv4) }
func (r networkRow) IPv6() string      { return strconv.FormatBool(r.n.EnableIPv6) }
func (r networkRow) Internal() string  { return strconv.FormatBool(r.n.Internal) }
func (r networkRow) Labels() string    { return sortedKeyValues(r.n.Labels) }
func (r networkRow) CreatedAt() string { return r.n.Created.String() }

// Label is the value of one label: {{.Label "tier"}}.
func (r networkRow) Label(name string) string { return r.n.Labels[name] }

var networkHeaders = map[string]string{
	"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv4": "IPV4", "IPv6": "IPV6",
	"Internal": "INTERNAL", "Labels": "LABELS", "Label": "LABEL", "CreatedAt": "CREATED AT",
}

func newNetworkListCommand(c *CLI) *cobra.Command {
	var quiet, noTrunc bool
	var format string
	var filters listValue
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List networks",
		Long: `List networks, by name. Filters: name (part of the name), id (a prefix),
driver, scope, type (custom or builtin), label (KEY or KEY=VALUE; every one
given must match), dangling (true: no container is on it).

--format fields: .ID .Name .Driver .Scope .IPv4 .IPv6 .Internal .Labels
.Label .CreatedAt.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := parseFilters(filters)
			if err != nil {
				return err
			}
			cl, err := c.Client()
			if err != nil {
				return err
			}
			res, err := cl.NetworkList(cmd.Context(), client.NetworkListOptions{Filters: f})
			if err != nil {
				return err
			}
			sort.Slice(res.Items, func(i, j int) bool { return res.Items[i].Name < res.Items[j].Name })
			rows := make([]networkRow, len(res.Items))
			for i, n := range res.Items {
				rows[i] = networkRow{n: n, trunc: !noTrunc}
			}
			if quiet {
				format = "{{.ID}}"
			}
			return writeFormatted(c.Out, format, "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}", networkHeaders, rows)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&quiet, "quiet", "q", false, "Only display network IDs")
	fs.BoolVar(&noTrunc, "no-trunc", false, "Do not truncate the output")
	fs.StringVar(&format, "format", "", tableFormatHelp)
	fs.VarP(&filters, "filter", "f", "Provide filter values (e.g. \"driver=bridge\")")
	return cmd
}

func newNetworkInspectCommand(c *CLI) *cobra.Command {
	// Kind "": docker prints the daemon's "network x not found" here.
	return newKindInspectCommand(c, "inspect [OPTIONS] NETWORK [NETWORK...]",
		"Display detailed information on one or more networks",
		`Display what the daemon knows of networks, by name, ID or ID prefix: the
subnet and gateway, the options, and the containers on each with their
addresses.`, "", c.inspectNetwork)
}

func newNetworkRmCommand(c *CLI) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm NETWORK [NETWORK...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more networks",
		Long: `Remove one or more user-defined networks. A network that a container is on
(running or not) cannot be removed: disconnect or remove the container first.`,
		Args: requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client()
			if err != nil {
				return err
			}
			failed := false
			for _, name := range args {
				if _, err := cl.NetworkRemove(cmd.Context(), name, client.NetworkRemoveOptions{}); err != nil {
					if force && cerrdefs.IsNotFound(err) {
						continue
					}
					fmt.Fprintln(c.Err, c.describe(err))
					failed = true
					continue
				}
				fmt.Fprintln(c.Out, name)
			}
			if failed {
				// docker 28 ends the list of errors with this line.
				return StatusError{Status: "exit status 1", StatusCode: 1}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not error if the network does not exist")
	return cmd
}

func newNetworkPruneCommand(c *CLI) *cobra.Command {
	var force bool
	var filters listValue
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all unused networks",
		Long: `Remove the user-defined networks no container is on. Filters: label (KEY or
KEY=VALUE), label! (not that label), until (created before: 10m, 24h, a
time or a timestamp).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := parseFilters(filters)
			if err != nil {
				return err
			}
			if !force && !c.confirm("WARNING! This will remove all custom networks not used by at least one container.") {
				return nil
			}
			cl, err := c.Client()
			if err != nil {
				return err
			}
			res, err := cl.NetworkPrune(cmd.Context(), client.NetworkPruneOptions{Filters: f})
			if err != nil {
				return err
			}
			c.printPruned("Networks", res.Report.NetworksDeleted)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	fs.Var(&filters, "filter", "Provide filter values (e.g. \"until=<timestamp>\")")
	return cmd
}

func newNetworkConnectCommand(c *CLI) *cobra.Command {
	var aliases listValue
	var ip ipv4Value
	cmd := &cobra.Command{
		Use:   "connect [OPTIONS] NETWORK CONTAINER",
		Short: "Connect a container to a network",
		Long: `Connect a container to a user-defined network: a running one gets an
interface on it at once, a stopped one when it starts. On the network the
container answers to its name and to each --alias; --ip asks for an address
of the network's subnet.`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client()
			if err != nil {
				return err
			}
			es := &network.EndpointSettings{
				IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: netip.Addr(ip)},
				Aliases:    append([]string{}, aliases...),
			}
			_, err = cl.NetworkConnect(cmd.Context(), args[0], client.NetworkConnectOptions{Container: args[1], EndpointConfig: es})
			return err
		},
	}
	fs := cmd.Flags()
	fs.Var(&aliases, "alias", "Add network-scoped alias for the container")
	fs.Var(&ip, "ip", "IPv4 address (e.g., \"172.30.100.104\")")
	return cmd
}

func newNetworkDisconnectCommand(c *CLI) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "disconnect [OPTIONS] NETWORK CONTAINER",
		Short: "Disconnect a container from a network",
		Long: `Disconnect a container from a network; a running one loses its interface
on it at once.`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client()
			if err != nil {
				return err
			}
			_, err = cl.NetworkDisconnect(cmd.Context(), args[0], client.NetworkDisconnectOptions{Container: args[1], Force: force})
			return err
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the container to disconnect from a network")
	return cmd
}

// ipv4Value is an --ip flag: an IPv4 address, checked as it is parsed.
type ipv4Value netip.Addr

func (v *ipv4Value) String() string {
	if a := netip.Addr(*v); a.IsValid() {
		return a.String()
	}
	return ""
}

func (v *ipv4Value) Set(s string) error {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return fmt.Errorf("%s is not an IPv4 address", s)
	}
	*v = ipv4Value(a)
	return nil
}

func (v *ipv4Value) Type() string { return "string" }

// confirm asks a yes/no question on c.Out and reads the answer from
// c.In; only "y" (in either case) is yes, as in docker.
func (c *CLI) confirm(warning string) bool {
	fmt.Fprintf(c.Out, "%s\nAre you sure you want to continue? [y/N] ", warning)
	var answer strings.Builder
	buf := make([]byte, 1)
	for {
		n, err := c.In.Read(buf)
		if n == 1 && buf[0] != '\n' {
			answer.WriteByte(buf[0])
		}
		if err != nil || (n == 1 && buf[0] == '\n') {
			break
		}
	}
	return strings.EqualFold(strings.TrimSpace(answer.String()), "y")
}
