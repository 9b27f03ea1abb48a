// Package apitest helps test clients of the berthd API without a real
// engine: Fake is an in-memory api.Backend whose containers run small Go
// programs instead of processes, and Serve puts the real API server in
// front of it on a unix socket in the test's temporary directory.
//
//	docker CLI / moby client / berth CLI
//	        │  HTTP over unix socket
//	        ▼
//	api.Server  (the real one: routing, hijacking, framing, errors)
//	        │  api.Backend
//	        ▼
//	apitest.Fake (containers, execs, images, volumes in memory)
//
// The fake keeps what clients depend on: the container state machine
// (created, running, exited, removed), attach before start, wait
// conditions, logs with follow, exec exit codes, 404/409/304 with the
// engine's messages, and round trips (commit, save then load, export then
// import). Volumes are records without files (a volume is in use while a
// container names it in Binds or Mounts). Programs run with the
// container's standard streams; the defaults (echo, cat, sh, sleep, true,
// false, touch, rm, ls, env) can be extended with SetProgram. Its
// registries are a map of "remote" images (AddRemoteImage, or what was
// pushed) and the credentials each host wants (SetRegistryLogin): pull,
// push and login answer in dockerd's words and statuses, with no bytes
// moved, so that a client's registry conversation can be tested without
// a registry.
//
// The fake is held to the daemon by the contract suite (package
// contract beside this one): the same behaviours, with the same statuses
// and words, run against a Fake (this package's TestContract) and against
// berthd (final/daemon's TestContract). Where the two disagree the daemon
// is right, and the fake is changed. What the fake does it does with the
// project's own parsers, not copies of them: final/build's Dockerfile
// parser for builds, chapter 06's image.ApplyChange for --change, chapter
// 07's shim.ParseSignal for signals. What it does not do (health checks,
// build flags) it refuses, naming it, as the daemon refuses what it does
// not apply.
//
//	fake := apitest.NewFake()
//	sock := apitest.Serve(t, fake)
//	cmd := exec.Command("docker", "run", "--rm", "busybox", "echo", "hi")
//	cmd.Env = append(os.Environ(), "DOCKER_HOST="+apitest.Host(sock))
package apitest
