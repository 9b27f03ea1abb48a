package main

import (
	"fmt"
	"io"

	"github.com/berth-project/berth/07-logs/shim"
)

// printExplained prints the trace of c's start (run --explain), which
// the shim kept in the container's directory: the start happened there,
// away from this command's stderr.
func printExplained(c *shim.Container, w io.Writer) {
	if !c.Config.Explain || w == nil {
		return
	}
	trace, err := c.Explained()
	if err != nil {
		fmt.Fprintf(w, "07-logs: %v\n", err)
	}
	_, _ = io.WriteString(w, trace)
}
