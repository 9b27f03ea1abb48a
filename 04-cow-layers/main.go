// Command 04-cow-layers runs a command on a copy-on-write root filesystem:
// chapters 01-03, with the image's directories stacked read-only by
// overlayfs and a fresh writable layer for each container.
//
//	sudo go run ./04-cow-layers run --image DIR[:DIR...] [--keep] [--root DIR] \
//	     [chapter 01-03 flags] -- CMD [ARG...]
//	sudo go run ./04-cow-layers diff [--root DIR] CONTAINER
//	sudo go run ./04-cow-layers rm [--root DIR] CONTAINER...
//
// New on the host side: the container's layer is created under --root
// before it starts, and removed after it exits (unless --keep). New on the
// container side: layer.Init mounts the overlay before chapter 03 enters
// it. The concept lives in the layer package.
package main

import (
	"errors"
	"fmt"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/02-cgroups/cgroup"
	"github.com/berth-project/berth/03-rootfs/rootfs"
	"github.com/berth-project/berth/04-cow-layers/layer"
)

var program = namespace.Program{
	Name: "04-cow-layers",
	Usage: "usage: 04-cow-layers run --image DIR[:DIR...] [--keep] [--root DIR]\n" +
		"                        [-v HOST:CONTAINER[:ro]]... [-e KEY=VALUE]... [-w DIR] [--read-only]\n" +
		"                        [--memory SIZE] [--cpus N] [--pids-limit N]\n" +
		"                        [--hostname NAME] [--userns] [--init] -- CMD [ARG...]\n" +
		"       04-cow-layers diff [--root DIR] CONTAINER\n" +
		"       04-cow-layers rm [--root DIR] CONTAINER...\n" +
		"--rootfs DIR is --image DIR (a one-layer image). With --keep, the container's ID is printed on stderr at exit.",
	Commands: map[string]func([]string, namespace.Stdio) (int, error){"run": run, "diff": diff, "rm": rm},
	Init:     layer.Init,
}

func main() { program.Main() }

func run(args []string, stdio namespace.Stdio) (status int, err error) {
	var cfg namespace.Config
	var limits cgroup.Resources
	var fsopts rootfs.Options
	var opts layer.Options
	fs := namespace.FlagSet("run")
	cfg.AddFlags(fs)
	limits.AddFlags(fs)
	fsopts.AddFlags(fs)
	opts.AddFlags(fs) // new: --image, --keep, --root
	command, err := namespace.ParseCommand(fs, args)
	if err != nil {
		return 0, err
	}
	// Chapter 03's --rootfs still works: the directory becomes a one-layer
	// image, so it is no longer written to either.
	if fsopts.Root != "" {
		if len(opts.Image) > 0 {
			return 0, errors.New("--rootfs and --image both given: --rootfs DIR means --image DIR, give one")
		}
		if err := opts.Image.Set(fsopts.Root); err != nil {
			return 0, err
		}
	}
	if len(opts.Image) == 0 {
		return 0, errors.New("no image: give --image DIR[:DIR...]")
	}
	id := namespace.NewID()

	// The container's own layer: empty directories, whatever the size of
	// the image. It goes when the container exits, unless --keep.
	rw, err := layer.Create(opts.Root, id, opts.Image)
	if err != nil {
		return 0, err
	}
	started := false
	defer func() {
		if opts.Keep && started {
			if rerr := rw.Release(); rerr != nil && err == nil {
				err = rerr
			}
			fmt.Fprintln(stdio.Err, id) // for diff and rm
			return
		}
		if rerr := rw.Remove(); rerr != nil && err == nil {
			err = rerr
		}
	}()
	// Held while the container runs: rm refuses to delete it meanwhile.
	if err := rw.Hold(); err != nil {
		return 0, err
	}
	mount := rw.MountSpec()
	if cfg.UserNS {
		// Root in the container is an unprivileged uid on the host. It
		// mounts the overlay, so it must own the directories it writes.
		hostRoot := cfg.IDBase
		if hostRoot == 0 {
			hostRoot = namespace.DefaultIDBase
		}
		if err := rw.Chown(hostRoot, hostRoot); err != nil {
			return 0, err
		}
		mount.UserXattr = true
	}
	// Chapter 03 enters the merged directory, where init first mounts
	// the overlay.
	fsopts.Root = rw.Merged()
	base, err := fsopts.InitSpec(cfg.NewSpec(id, command))
	if err != nil {
		return 0, err
	}
	spec := layer.InitSpec{InitSpec: base, Layer: mount}

	cg, err := cgroup.New(id, limits)
	if err != nil {
		return 0, err
	}
	c := namespace.Container{Config: cfg, Stdio: stdio, Spec: spec}
	c.OnStart(cg.Add)
	c.OnStart(func(int) error { started = true; return nil })
	status, err = c.Run()

	if oom, _ := cg.OOMKilled(); oom {
		fmt.Fprintf(stdio.Err, "04-cow-layers: the container was killed: out of memory (limit %s)\n", cgroup.FormatBytes(limits.Memory))
	}
	if derr := cg.Destroy(); derr != nil && err == nil {
		err = derr
	}
	return status, err
}

// diff lists what a container changed in its root filesystem, as
// `docker diff` does: A added, C changed, D deleted.
func diff(args []string, stdio namespace.Stdio) (int, error) {
	var root string
	fs := namespace.FlagSet("diff")
	layer.AddRootFlag(fs, &root)
	if err := fs.Parse(args); err != nil {
		return 0, err
	}
	if fs.NArg() != 1 {
		return 0, errors.New("diff takes one container: diff [--root DIR] CONTAINER")
	}
	rw, err := layer.Find(root, fs.Arg(0))
	if err != nil {
		return 0, err
	}
	changes, err := rw.Changes()
	if err != nil {
		return 0, err
	}
	for _, c := range changes {
		fmt.Fprintln(stdio.Out, c)
	}
	return 0, nil
}

// rm removes kept containers' layers, printing each name as given.
func rm(args []string, stdio namespace.Stdio) (int, error) {
	var root string
	fs := namespace.FlagSet("rm")
	layer.AddRootFlag(fs, &root)
	if err := fs.Parse(args); err != nil {
		return 0, err
	}
	if fs.NArg() == 0 {
		return 0, errors.New("rm takes at least one container: rm [--root DIR] CONTAINER...")
	}
	for _, ref := range fs.Args() {
		rw, err := layer.Find(root, ref)
		if err != nil {
			return 0, err
		}
		if err := rw.Remove(); err != nil {
			return 0, err
		}
		fmt.Fprintln(stdio.Out, ref)
	}
	return 0, nil
}
