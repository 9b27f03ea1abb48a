package layer

import (
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/04-cow-layers/volume"
)

// VolumeCommand is the `volume` command of chapter 04's program and
// later ones: the volumes of the store under --root.
//
//	volume [--root DIR] ls
//	volume [--root DIR] create NAME
//	volume [--root DIR] rm NAME...
//
// The program knows no containers but the running ones, so rm does not
// ask whether a kept container still names the volume.
func VolumeCommand(args []string, stdio namespace.Stdio) (int, error) {
	var root string
	fs := namespace.FlagSet("volume")
	AddRootFlag(fs, &root)
	if err := fs.Parse(args); err != nil {
		return 0, err
	}
	usage := errors.New("volume takes ls, create NAME or rm NAME...: volume [--root DIR] ls|create|rm")
	if fs.NArg() == 0 {
		return 0, usage
	}
	store, err := volume.Open(root)
	if err != nil {
		return 0, err
	}
	names := fs.Args()[1:]
	switch fs.Arg(0) {
	case "ls":
		vols, err := store.List()
		if err != nil {
			return 0, err
		}
		tw := tabwriter.NewWriter(stdio.Out, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tCREATED\tMOUNTPOINT")
		for _, v := range vols {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Name, v.CreatedAt.Format("2006-01-02 15:04:05"), v.Mountpoint)
		}
		return 0, tw.Flush()
	case "create":
		if len(names) != 1 {
			return 0, usage
		}
		v, _, err := store.Create(names[0], nil, nil)
		if err != nil {
			return 0, err
		}
		fmt.Fprintln(stdio.Out, v.Name)
	case "rm":
		if len(names) == 0 {
			return 0, usage
		}
		for _, n := range names {
			if err := store.Remove(n); err != nil {
				return 0, err
			}
			fmt.Fprintln(stdio.Out, n)
		}
	default:
		return 0, usage
	}
	return 0, nil
}
