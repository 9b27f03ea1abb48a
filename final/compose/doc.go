// Package compose runs Docker Compose against berthd: it finds the two
// Compose clients people use (Compose v2, the `docker compose` plugin,
// and the python `docker-compose` 1.29 that Debian still ships), runs
// their commands in a project against an engine, and asks the engine
// about the project the way Compose does. Its tests take the example
// project (example/, walked through in docs/multi-container.md) through
// its whole life with both clients, on berthd and on a real dockerd, and
// compare what the clients print.
//
// # Compose is only an API client
//
// Compose has no daemon and no state of its own. A project is whatever
// the engine holds that carries the project's labels:
//
//	com.docker.compose.project=NAME     on containers, networks, volumes
//	com.docker.compose.service=db       on containers
//	com.docker.compose.oneoff=False     on containers (True: `run`)
//	com.docker.compose.config-hash=...  on containers: the service's config
//	com.docker.compose.container-number=1
//
// So every command starts by asking the engine what exists, with label
// filters, and the engine's filters must be exact: several label values
// are ANDed (a container must carry them all). With ORed labels `exec db`
// can land in another project's db and `down` removes other projects.
//
// # What `up -d --wait` asks for (Compose v2, on berthd)
//
//	HEAD /_ping                          the API version to talk
//	GET  /images/busybox/json            the image is there: no pull
//	GET  /containers/json?filters=...    the project's containers (none yet)
//	GET  /networks?filters=...,  GET /volumes?filters=...
//	GET  /networks/P_back  -> 404        so it creates them:
//	POST /networks/create  (x2)          labels, driver bridge
//	POST /volumes/create                 P_dbdata, labels
//	POST /containers/create  (x3)        one network at create, then
//	POST /networks/P_front/connect       the others (app is on two)
//	POST /containers/{id}/start          db first: web depends on it
//	GET  /containers/{id}/json  ...      polled until State.Health says
//	                                     healthy, then web and app start
//	GET  /containers/{id}/json  ...      --wait: polled until all are
//	                                     running, healthy where checked
//
// The polls come every 500 ms from the start's answer (Compose's
// ticker), and the first check of db is due one interval (1 s) after its
// start: its result has the few milliseconds between that second and
// Compose's second poll, or web starts half a second later. berthd makes
// the check's setup during the interval for that (final/daemon's
// prepareCheck); BenchmarkComposeUpDown measures the whole life, and
// BERTH_TEST_API_LOG=FILE gives its timeline (docs/performance.md).
//
// A later `up -d` compares each container's config-hash label with the
// hash of the service's config now: an unchanged service is left alone,
// a changed one is stopped, renamed out of the way
// (POST /containers/{id}/rename), replaced by a new container, and the
// old one removed. `up --remove-orphans` removes the project's
// containers whose service is no longer in the file.
//
// `ps` is one list (GET /containers/json with the project's label
// filters) and an inspect per container; `down -v` is stop and DELETE
// of each container, then DELETE of the project's networks (found by
// label) and, with -v, of its volumes. `logs -f` reads each container's
// log stream and follows GET /events to learn when containers stop (it
// returns when every one it follows has stopped); `exec` is
// POST /containers/{id}/exec and /exec/{id}/start; `cp` is
// PUT and GET /containers/{id}/archive; `stats` is
// GET /containers/{id}/stats.
//
// docker-compose 1.29 asks for much the same through docker-py (which
// asks GET /version first and then talks the server's API version,
// 1.41 on berthd): it reads the image's ContainerConfig (an API
// 1.41 field that newer Go types dropped) each time it recreates a
// container, and it has no `up --wait`, `cp` or `stats`: its users poll
// inspect for health (Project.WaitHealthy) and use docker cp and docker
// stats on the containers that `docker-compose ps -q` names.
//
// # What the engine must do
//
//   - Labels and label filters on containers, networks and volumes.
//   - User networks with DNS by service name and by container name; a
//     container on two networks; networks that do not see each other
//     (web on front cannot resolve or reach db on back).
//   - Named volumes, bind mounts with :ro, ports published on one host
//     address (127.0.0.1 only).
//   - Healthchecks (State.Health), restart policies, rename, events.
package compose
