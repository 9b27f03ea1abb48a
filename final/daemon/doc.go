// Package daemon is berth's engine, berthd: it answers the Docker Engine
// API (package api calls it as its Backend) with the chapters' packages,
// so that the docker client runs containers on berth (S10).
//
// # Who does what
//
//	docker CLI ──HTTP on a unix socket──> api.Server ──Backend──> Daemon
//	                                                               │
//	        images.go, build.go:  chapter 06's store (d.images) ◄──┤
//	        containers*.go:       chapter 07's store (d.containers)┤
//	        archive.go:           docker cp, final/containerfs     ┤
//	        registry.go:          pull, push, login: chapter 06's  ┤
//	                              registry client, into d.images   ┤
//	                                                               │ StartContainer
//	                                                               ▼
//	             berth-shim (one per running container, the daemon's binary
//	             re-executed; outlives the daemon) ── Runtime.Start ──►
//	             chapter 06's runner: image layers (04), network (05),
//	             cgroup (02), root filesystem (03), namespaces (01)
//	                                                               │
//	                                                               ▼
//	                                  the container's init, then its command
//
// The daemon itself runs no container: each one is started by a shim,
// its parent for life, which holds its stdio, writes its log and records
// its exit (chapter 07). Runtime (runtime.go) tells the shims how berthd
// starts a container: chapter 06's runner from an image of the store,
// with what the API asks beyond it (the whole command, the user, the
// capabilities, no_new_privs) set on the spec chapter 06 makes.
//
// # What survives what
//
// Everything about a container is in files under the data root, written
// by the daemon at create and by the shim at each start and exit:
//
//	<DataRoot>/containers/<id>/   config.json state.json exit.json (chapter 07),
//	                              container.log, upper/ work/ (chapter 04),
//	                              image.json (chapter 06), api.json (the request),
//	                              hosts resolv.conf hostname (chapter 05, at start)
//	<DataRoot>/dns/mountpoints/   chapter 05's: the empty files they are mounted on
//	<DataRoot>/names/<name>       the name, reserved atomically
//	<DataRoot>/images/            chapter 06's store, with a lease per container
//	<DataRoot>/network/           chapter 05's: user networks, address leases,
//	                              each container's networks and endpoint
//	<DataRoot>/remap/<uid>.<gid>/ --userns-remap without idmapped mounts: the
//	                              layers chowned for the mapping (userns_copies.go)
//
// So the daemon can die at any moment, even by kill -9, and lose
// nothing: the shims go on running the containers and logging them; a
// container that exits meanwhile has its status recorded by its shim.
// A new Daemon over the same data root (New) watches every container
// again, finds each as its shim left it, and removes the --rm containers
// that ended while no daemon ran. What the daemon keeps in memory
// (containers_live.go) is only what belongs to its clients of the moment:
// who waits for which container, the stdin of attached clients, the
// execs (which, as in Docker, do not survive a restart), and copies of
// what is on disk, read again whenever it changes: what docker ps shows
// of each container (containers_view.go), so that a list reads no file.
//
// # Networks
//
// networks.go serves the built-in networks (bridge: the daemon's chapter
// 05 bridge; host; none) and the user-defined ones, which are chapter
// 05's (network.CreateNetwork): a bridge each, kept apart by nftables. A
// container's networks are recorded by chapter 05 at create
// (network.SetAttachments), not in the shim's spec, because docker
// network connect and disconnect change them between starts; the shim's
// start reads them (network.Config.Recorded), and a connect to a running
// container hot-plugs the interface. Whoever needs to know where the
// containers are on the user networks is an EndpointWatcher
// (Options.Endpoints), told at every change: by default the daemon's own
// DNS server (networks_dns.go, chapter 05's dns.Server), which serves
// every user network on its gateway from its creation to its removal.
//
// # Events without polling
//
// The daemon learns of a container's exit from an inotify watch on its
// directory: the shim's files appear there in a known order (the exit
// status, then the final state, then the shim's lock is closed), and the
// daemon reads the state again on each event. Log readers (docker logs
// -f, attach) follow the log the same way. No loop sleeps on the path of
// a run.
//
// # Docker's rules
//
// The daemon applies Docker's semantics where the API leaves them to the
// engine: the image's entrypoint and command and how --entrypoint
// replaces them; names and ID prefixes (an ambiguous prefix is an error);
// the error kinds and words the docker client acts on (404 for an
// unknown image makes it try a pull; "executable file not found" in a
// failed start makes it exit 127); 304 for starting a running container;
// stop's signal, then SIGKILL after the timeout (a shell as PID 1 ignores
// SIGTERM, pitfall 7); the default capability set and masked paths
// (chapter 03); the log framed as stdcopy for a container without a
// terminal, raw with one; detach keys on a terminal. Options berth cannot
// honour (unsupported.go lists them: --uts host, --userns other than
// host, --gpus, blkio weights, --ipc none, ...) are refused with a 400
// that names them rather than ignored.
//
// # Dependencies
//
// The moby API types (github.com/moby/moby/api and the image config of
// moby/docker-image-spec) give the responses their exact shape, and the
// OCI image-spec types describe what inspect and history show; errdefs
// carries the error kinds the API server turns into 404, 409 and 400;
// docker/go-units writes "Up 3 seconds" and sizes as dockerd does.
package daemon
