// Command 04-cow-layers runs a command on a copy-on-write root filesystem:
// chapters 01-03, with the image's directories stacked read-only by
// overlayfs and a fresh writable layer for each container.
//
//	sudo go run ./04-cow-layers run --image DIR[:DIR...] [--keep] [--root DIR] \
//	     [chapter 01-03 flags] -- CMD [ARG...]
//	sudo go run ./04-cow-layers diff [--root DIR] CONTAINER
//	sudo go run ./04-cow-layers rm [--root DIR] CONTAINER...
//	sudo go run ./04-cow-layers volume [--root DIR] ls|create NAME|rm NAME...
//
// New on the host side: layer.RunOptions adds --image, --keep and --root,
// and its Container creates the container's writable layer under --root
// before it starts and removes it after it exits (unless --keep). New on
// the container side: layer.Init mounts the overlay before chapter 03
// enters it. diff and rm are layer.DiffCommand and layer.RmCommand. The
// concept lives in the layer package (start with doc.go, then run.go).
//
// Data that must outlive the layer goes in volumes (package volume):
// -v NAME:/path mounts the volume NAME of the store under --root,
// created if missing and filled from the image the first time (copy-up,
// in layer.Init); -v /path makes an anonymous volume that goes with the
// container. The volume command lists, creates and removes them.
package main

import (
	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/04-cow-layers/layer"
)

var program = namespace.Program{
	Name: "04-cow-layers",
	Usage: "usage: 04-cow-layers run --image DIR[:DIR...] [--keep] [--root DIR]\n" +
		"                        [-v HOST:CONTAINER[:ro]]... [-v NAME:CONTAINER[:ro]]... [-v CONTAINER]...\n" +
		"                        [--tmpfs DIR[:OPTS]]... [--shm-size BYTES] [-e KEY=VALUE]... [-w DIR] [--read-only] [--privileged]\n" +
		"                        [--memory SIZE] [--cpus N] [--pids-limit N] [--ulimit NAME=SOFT[:HARD]]... [--oom-score-adj N]\n" +
		"                        [--hostname NAME] [--userns] [--init] [--sysctl KEY=VALUE]... [--explain] -- CMD [ARG...]\n" +
		"       04-cow-layers diff [--root DIR] CONTAINER\n" +
		"       04-cow-layers rm [--root DIR] CONTAINER...\n" +
		"       04-cow-layers volume [--root DIR] ls|create NAME|rm NAME...\n" +
		"--rootfs DIR is --image DIR (a one-layer image). With --keep, the container's ID is printed on stderr at exit.",
	Commands: map[string]func([]string, namespace.Stdio) (int, error){
		"run":    namespace.RunCommand(func() namespace.Runner { return new(layer.RunOptions) }),
		"diff":   layer.DiffCommand,
		"volume": layer.VolumeCommand,
		"rm":     layer.RmCommand,
	},
	Init: layer.Init,
}

func main() { program.Main() }
