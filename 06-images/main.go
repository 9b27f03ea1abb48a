// Command 06-images runs containers from images kept in a content-addressed
// store, and manages the images: chapters 01-05, with `run IMAGE` instead
// of `run --image DIR`, and Docker's image commands.
//
//	sudo go run ./06-images import [--root DIR] [-m MSG] [-c CHANGE]... FILE|- [NAME[:TAG]]
//	sudo go run ./06-images run [chapter 01-05 flags] IMAGE [CMD [ARG...]]
//	sudo go run ./06-images commit [--root DIR] [-m MSG] [-a AUTHOR] [-c CHANGE]... CONTAINER [NAME[:TAG]]
//	sudo go run ./06-images images | history IMAGE | tag SOURCE TARGET | rmi [-f] IMAGE...
//	sudo go run ./06-images save [-o FILE] IMAGE... | load [-i FILE] | export [-o FILE] CONTAINER
//	sudo go run ./06-images diff CONTAINER | rm CONTAINER...
//	sudo go run ./06-images pull [--platform P] [-a] [--verbose] REF | push [-a] [--verbose] NAME[:TAG]
//	sudo go run ./06-images login [-u USER] [-p PASS | --password-stdin] [SERVER] | logout [SERVER]
//
// New on the host side: the image package's Store, under <root>/images.
// `run` looks the image up there, stacks its unpacked layers as chapter
// 04's lower directories and takes its command, environment, working
// directory and user from the image's config (image.RunOptions). Nothing
// is new on the container side: the init is chapter 04's. The concept
// lives in the image package (start with doc.go, then store.go,
// commit.go and archive.go); the commands here only print what it does.
// pull and push move images between the store and OCI registries: the
// registry package (its doc.go draws the HTTP exchanges).
package main

import (
	"errors"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/04-cow-layers/layer"
	"github.com/berth-project/berth/06-images/image"
)

var program = namespace.Program{
	Name: "06-images",
	Usage: "usage: 06-images run [--keep] [--root DIR] [--net bridge|host|none] [-p [HOSTIP:][HOSTPORT:]CONTAINERPORT[/udp]]...\n" +
		"                     [--bridge NAME] [--subnet CIDR] [-v HOST:CONTAINER[:ro]]... [-e KEY=VALUE]... [-w DIR]\n" +
		"                     [--read-only] [--privileged] [--memory SIZE] [--cpus N] [--pids-limit N] [--ulimit NAME=SOFT[:HARD]]... [--oom-score-adj N] [--hostname NAME] [--userns] [--init] [--sysctl KEY=VALUE]... [--explain]\n" +
		"                     IMAGE [CMD [ARG...]]\n" +
		"       06-images import [--root DIR] [-m MSG] [-c CHANGE]... FILE|- [NAME[:TAG]]\n" +
		"       06-images commit [--root DIR] [-m MSG] [-a AUTHOR] [-c CHANGE]... CONTAINER [NAME[:TAG]]\n" +
		"       06-images images [--root DIR] [-a] [-q] [--no-trunc] [--digests]\n" +
		"       06-images history [--root DIR] [--no-trunc] IMAGE\n" +
		"       06-images tag [--root DIR] SOURCE TARGET\n" +
		"       06-images rmi [--root DIR] [-f] IMAGE...\n" +
		"       06-images save [--root DIR] [-o FILE] IMAGE...\n" +
		"       06-images load [--root DIR] [-i FILE]\n" +
		"       06-images export [--root DIR] [-o FILE] CONTAINER\n" +
		"       06-images diff [--root DIR] CONTAINER\n" +
		"       06-images rm [--root DIR] CONTAINER...\n" +
		"       06-images pull [--root DIR] [--platform P] [-a|--all-tags] [--verbose] REF\n" +
		"       06-images push [--root DIR] [-a|--all-tags] [--verbose] NAME[:TAG]\n" +
		"       06-images login [-u USER] [-p PASS | --password-stdin] [SERVER]\n" +
		"       06-images logout [SERVER]\n" +
		"IMAGE is NAME[:TAG], NAME@sha256:... or an image ID (or a unique prefix of one). With run --keep, the container's ID is\n" +
		"printed on stderr at exit, for commit, export, diff and rm.",
	Commands: map[string]func([]string, namespace.Stdio) (int, error){
		"run":     run,
		"import":  importImage,
		"commit":  commit,
		"images":  images,
		"history": history,
		"tag":     tag,
		"rmi":     rmi,
		"save":    save,
		"load":    load,
		"export":  export,
		"diff":    layer.DiffCommand,
		"rm":      rm,
		"pull":    pull,
		"push":    push,
		"login":   login,
		"logout":  logout,
	},
	Init: layer.Init,
}

func main() { program.Main() }

// run is chapter 05's run, with the image taken from the store: the
// first argument after the flags names it, the rest (if any) replaces its
// Cmd.
func run(args []string, stdio namespace.Stdio) (int, error) {
	var opts image.RunOptions
	fs := namespace.FlagSet("run")
	opts.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 0, err
	}
	if fs.NArg() == 0 {
		return 0, errors.New("no image given: run [FLAGS] IMAGE [CMD [ARG...]]")
	}
	opts.Image = fs.Arg(0)
	c, err := opts.Container(namespace.NewID(), fs.Args()[1:], stdio)
	if err != nil {
		return 0, err
	}
	return c.Run()
}
