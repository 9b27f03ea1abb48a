// Package contract is the behaviour every api.Backend owes its clients,
// written once and run against each implementation: the in-memory fake
// (final/api/apitest, whose own tests run it) and the real engine
// (final/daemon's TestContract runs it against a berthd over a data root
// of its own). It is the same idea as a storage driver test suite shared by
// every driver: the fake is only worth its speed while it answers as the
// daemon does, and a suite that both must pass is what keeps it so.
//
//	contract.Run(t, newTarget)
//	   │  one subtest per behaviour (Behaviours), each with a Target
//	   ▼
//	raw HTTP on Target.Socket ── api.Server ──► apitest.Fake
//	                                      └───► daemon.Daemon (berthd)
//
// The suite speaks plain HTTP to the socket, not through a client
// library, because what the docker CLI shows its user is the status and
// the message: a 304 that a client library turns into "no error", or a
// 409 whose words differ, is exactly the drift the suite is here to see.
//
// The daemon is the truth. When a behaviour fails on the fake only, the
// fake is wrong; when it fails on the daemon, either the daemon has a bug
// or the behaviour was written from the fake and is wrong.
//
// What a behaviour may assume of a target: an image busybox:latest whose
// sh, sleep, true and echo behave as busybox's, and nothing about what
// else the engine holds (targets may be shared by the subtests: every name
// is unique, and each subtest removes what it made). Containers run with
// network mode "none" unless the behaviour is about networks.
package contract
