// gen writes the hostile corpus to testdata/: one NAME.tar per case.
//
//	go generate ./06-images/hostile
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/berth-project/berth/06-images/hostile"
)

func main() {
	dir := "testdata"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	for _, c := range hostile.Cases() {
		if err := os.WriteFile(filepath.Join(dir, c.Name+".tar"), c.Bytes(), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
	}
}
