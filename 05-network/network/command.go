package network

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"strings"
	"text/tabwriter"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/04-cow-layers/layer"
)

// NetworkCommand is the chapter program's `network` command:
//
//	network create [--root DIR] [--subnet CIDR [--gateway IP] [--ip-range CIDR]]
//	               [--internal] [--label KEY=VALUE]... [-o com.docker.network.bridge.name=NAME] NAME
//	network ls [--root DIR]
//	network rm [--root DIR] NAME...
//
// A container joins a network with run --network NAME.
func NetworkCommand(args []string, stdio namespace.Stdio) (int, error) {
	if len(args) == 0 {
		return 0, errors.New("network takes a command: create, ls or rm")
	}
	switch args[0] {
	case "create":
		return 0, createCommand(args[1:], stdio)
	case "ls":
		return 0, lsCommand(args[1:], stdio)
	case "rm":
		return 0, rmCommand(args[1:], stdio)
	}
	return 0, fmt.Errorf("network %s: unknown command (create, ls or rm)", args[0])
}

func createCommand(args []string, stdio namespace.Stdio) error {
	var root string
	var spec NetworkSpec
	fs := namespace.FlagSet("network create")
	layer.AddRootFlag(fs, &root)
	prefix := func(p *netip.Prefix) func(string) error {
		return func(s string) (err error) {
			*p, err = netip.ParsePrefix(s)
			return err
		}
	}
	fs.Func("subnet", "the network's subnet, CIDR (default: a free one of "+DefaultPools[0].String()+"...)", prefix(&spec.Subnet))
	fs.Func("ip-range", "the addresses given to containers, CIDR inside the subnet", prefix(&spec.IPRange))
	fs.Func("gateway", "the bridge's address (default: the subnet's first)", func(s string) (err error) {
		spec.Gateway, err = netip.ParseAddr(s)
		return err
	})
	fs.BoolVar(&spec.Internal, "internal", false, "no way out of the network")
	fs.Func("label", "a label, KEY=VALUE (repeatable)", keyValue(&spec.Labels))
	fs.Func("o", "a driver option, KEY=VALUE: "+BridgeNameOption, keyValue(&spec.Options))
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("network create takes one name: network create [flags] NAME")
	}
	spec.Name = fs.Arg(0)
	n, err := CreateNetwork(root, spec)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdio.Out, n.ID)
	return nil
}

func keyValue(m *map[string]string) func(string) error {
	return func(s string) error {
		k, v, _ := strings.Cut(s, "=")
		if k == "" {
			return fmt.Errorf("%q: want KEY=VALUE", s)
		}
		if *m == nil {
			*m = map[string]string{}
		}
		(*m)[k] = v
		return nil
	}
}

func lsCommand(args []string, stdio namespace.Stdio) error {
	var root string
	fs := namespace.FlagSet("network ls")
	layer.AddRootFlag(fs, &root)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	nets, err := Networks(root)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdio.Out, 0, 8, 3, ' ', 0)
	fmt.Fprintln(w, "NETWORK ID\tNAME\tBRIDGE\tSUBNET\tGATEWAY\tINTERNAL")
	for _, n := range nets {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%t\n", namespace.ShortID(n.ID), n.Name, n.Bridge, n.Subnet, n.Gateway, n.Internal)
	}
	return w.Flush()
}

func parseNoArgs(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s takes no arguments", fs.Name())
	}
	return nil
}

func rmCommand(args []string, stdio namespace.Stdio) error {
	var root string
	fs := namespace.FlagSet("network rm")
	layer.AddRootFlag(fs, &root)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("network rm takes at least one network: network rm [--root DIR] NAME...")
	}
	for _, ref := range fs.Args() {
		if err := RemoveNetwork(root, ref); err != nil {
			return err
		}
		fmt.Fprintln(stdio.Out, ref)
	}
	return nil
}
