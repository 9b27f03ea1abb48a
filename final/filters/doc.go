// Package filters reads and applies the "filters" argument of the Docker
// Engine API's list endpoints (docker ps, images, network ls, volume ls,
// and the prunes), with Docker's semantics.
//
// # The argument
//
// A client sends one JSON object. Since API 1.22 every key maps to a set,
// {"label":{"a=1":true,"b=1":true},"status":{"running":true}}; older
// clients and scripts send lists, {"status":["running"]}. Both mean the
// same thing, and Parse reads both into an Args.
//
// # How the values combine
//
// This is where a list can go quietly, dangerously wrong. Different keys
// always combine with AND. Several values of one key combine with OR,
// except for labels, whose values all must match:
//
//	docker ps --filter status=exited --filter status=created   exited OR created
//	docker ps --filter label=a=1 --filter label=b=1             a=1 AND b=1
//	docker ps --filter label=a=1 --filter status=running        a=1 AND running
//
// Docker Compose finds a project's containers with two or three label
// filters (com.docker.compose.project=P, com.docker.compose.service=S,
// com.docker.compose.oneoff=False). An engine that ORs them hands `docker
// compose exec web` a container of another service, and lets `docker
// compose up --remove-orphans` delete another project's containers. So
// labels go through one function, Args.Labels, and every list uses it.
//
// The keys of each list, as berthd applies them:
//
//	list        ORed within the key                           ANDed within the key
//	containers  id name status ancestor exited before since   label
//	            network volume
//	images      reference dangling                            label
//	networks    id name driver type dangling                  label
//	volumes     name driver dangling                          label
//
// A key a list does not know is an error (400 "invalid filter"), never
// ignored: a filter that filters nothing would list, and let a script
// remove, more than was asked for.
package filters
