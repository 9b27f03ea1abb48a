// Command 05-network runs a command with a network of its own: chapters
// 01-04, plus an eth0 on a bridge, an IP address, a route out through the
// host, and published ports.
//
//	sudo go run ./05-network run --image DIR[:DIR...] [--net bridge|host|none] \
//	     [-p [HOSTIP:][HOSTPORT:]CONTAINERPORT[/udp]]... [--bridge NAME] [--subnet CIDR] \
//	     [--add-host NAME:IP]... [--dns IP]... [--dns-search DOMAIN]... [--dns-option OPT]... \
//	     [chapter 01-04 flags] -- CMD [ARG...]
//	sudo go run ./05-network diff [--root DIR] CONTAINER
//	sudo go run ./05-network rm [--root DIR] CONTAINER...
//	sudo go run ./05-network network create [--root DIR] [--subnet CIDR] [--internal] ... NAME
//	sudo go run ./05-network network ls|rm [--root DIR] [NAME...]
//
// New on the host side: network.RunOptions adds --net, -p, --bridge and
// --subnet, and its Container reserves the container's address and host
// ports before anything is created (network.Allocate), wires the
// container's network namespace to the bridge while init waits for its
// spec (Endpoint.Attach), and removes it all when the container is gone
// (Endpoint.Release). It also writes the container's /etc/hostname,
// /etc/hosts and /etc/resolv.conf and bind-mounts them (the dns package).
// `network create` makes a user-defined network, a bridge of its own that
// `run --network NAME` puts containers on, apart from the other networks
// (network.CreateNetwork). Nothing is new on the container side: eth0 is
// configured from the host, so the init is chapter 04's. The concept lives
// in the network package (start with doc.go, then run.go and endpoint.go).
package main

import (
	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/04-cow-layers/layer"
	"github.com/berth-project/berth/05-network/network"
)

var program = namespace.Program{
	Name: "05-network",
	Usage: "usage: 05-network run --image DIR[:DIR...] [--net bridge|host|none] [-p [HOSTIP:][HOSTPORT:]CONTAINERPORT[/udp]]...\n" +
		"                     [--bridge NAME] [--subnet CIDR] [--keep] [--root DIR]\n" +
		"                     [--add-host NAME:IP]... [--dns IP]... [--dns-search DOMAIN]... [--dns-option OPT]...\n" +
		"                     [-v HOST:CONTAINER[:ro]]... [-e KEY=VALUE]... [-w DIR] [--read-only] [--privileged]\n" +
		"                     [--memory SIZE] [--cpus N] [--pids-limit N] [--ulimit NAME=SOFT[:HARD]]... [--oom-score-adj N]\n" +
		"                     [--hostname NAME] [--userns] [--init] [--sysctl KEY=VALUE]... [--explain] -- CMD [ARG...]\n" +
		"       05-network diff [--root DIR] CONTAINER\n" +
		"       05-network rm [--root DIR] CONTAINER...\n" +
		"       05-network network create [--root DIR] [--subnet CIDR [--gateway IP] [--ip-range CIDR]] [--internal]\n" +
		"                                 [--label KEY=VALUE]... [-o com.docker.network.bridge.name=NAME] NAME\n" +
		"       05-network network ls [--root DIR]\n" +
		"       05-network network rm [--root DIR] NAME...\n" +
		"--net NAME (or --network NAME) puts the container on a network made by network create.\n" +
		"--rootfs DIR is --image DIR (a one-layer image). With --keep, the container's ID is printed on stderr at exit.\n" +
		"-p without a host port publishes on any free one, printed on stderr.",
	Commands: map[string]func([]string, namespace.Stdio) (int, error){
		"run":     namespace.RunCommand(func() namespace.Runner { return new(network.RunOptions) }),
		"diff":    layer.DiffCommand,
		"rm":      layer.RmCommand,
		"network": network.NetworkCommand,
	},
	Init: layer.Init,
}

func main() { program.Main() }
