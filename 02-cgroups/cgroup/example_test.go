package cgroup_test

import (
	"fmt"
	"os/exec"

	"github.com/berth-project/berth/02-cgroups/cgroup"
)

// Limits come from the command line as text; the Parse functions apply
// Docker's rules to them.
func ExampleParseMemory() {
	for _, s := range []string{"32m", "1.5g", "512k"} {
		n, err := cgroup.ParseMemory(s)
		if err != nil {
			fmt.Println("error:", err)
			continue
		}
		fmt.Println(s, "=", n, "bytes")
	}
	// Output:
	// 32m = 33554432 bytes
	// 1.5g = 1610612736 bytes
	// error: memory limit "512k": minimum memory limit allowed is 6MB
}

// The life of a container's cgroup: create it with limits, start the
// first process held at a pipe, add it, let it go, and clean up.
// (Needs root; go test compiles it but does not run it.)
func Example() {
	cg, err := cgroup.New("web", cgroup.Resources{
		Memory:  64 << 20, // 64 MiB
		CPUs:    0.5,
		PidsMax: 100,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() {
		if err := cg.Destroy(); err != nil {
			fmt.Println(err)
		}
	}()

	// The child waits for a line on stdin before it runs the real
	// program, so it cannot do anything before it is in the cgroup.
	cmd := exec.Command("/bin/busybox", "sh", "-c", "read go && exec /bin/busybox sleep 1")
	release, err := cmd.StdinPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := cg.Add(cmd.Process.Pid); err != nil {
		fmt.Println(err)
		release.Close() // the child reads EOF and gives up
		_ = cmd.Wait()
		return
	}
	fmt.Fprintln(release, "go")
	release.Close()

	err = cmd.Wait()
	if oom, _ := cg.OOMKilled(); oom {
		fmt.Println("the container ran out of memory")
	}
	stats, _ := cg.Stats()
	fmt.Printf("exit: %v, CPU time: %v, peak memory: %d bytes\n", err, stats.CPUUsage, stats.MemoryPeak)
}
