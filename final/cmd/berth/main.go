// Command berth is the command-line client of berthd. It has docker's
// commands and flags and talks to the daemon only through the Docker
// Engine API, on $BERTH_HOST or unix:///run/berth/berth.sock (-H to
// choose). See package final/cli.
package main

import (
	"os"

	"github.com/berth-project/berth/final/cli"
)

func main() {
	os.Exit(cli.Main())
}
