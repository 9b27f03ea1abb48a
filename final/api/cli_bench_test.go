package api_test

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/final/api/apitest"
)

// BenchmarkDockerCLIRunRmWithAnEngineThatTakesNoTime is the docker CLI's
// own share of `docker run --rm IMAGE true`: its start-up and its
// requests, against this package's server on the fake engine, whose
// containers are Go functions that return at once. No engine behind the
// same CLI can be faster than this, which bounds its ratio to dockerd
// (final/bench prints both).
func BenchmarkDockerCLIRunRmWithAnEngineThatTakesNoTime(b *testing.B) {
	const docker = "/usr/local/bin/docker"
	_, err := os.Stat(docker)
	labtest.Need(b, err == nil, docker+" (the docker CLI) is not installed")
	f := apitest.NewFake()
	f.AddImage("bench:latest", container.Config{Cmd: []string{"true"}}, nil)
	f.SetProgram("true", func(context.Context, *apitest.Proc) int { return 0 })
	sock := apitest.Serve(b, f)
	env := append(os.Environ(), "DOCKER_HOST="+apitest.Host(sock), "DOCKER_CONFIG="+b.TempDir())
	var times []time.Duration
	for b.Loop() {
		cmd := exec.Command(docker, "run", "--rm", "--network", "none", "bench", "true")
		cmd.Env = env
		begin := time.Now()
		out, err := cmd.CombinedOutput()
		times = append(times, time.Since(begin))
		if err != nil {
			b.Fatalf("docker run: %v: %s", err, out)
		}
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "ms/median")
}
