// Engine tuning: skip on first reading. Without it, the binary is linked
// against the C library dynamically, as any cgo program is by default.

//go:build netgo

package main

// A binary that starts without the dynamic loader.
//
// The binary links C code (final/nsenter's constructor, chapter 07's
// monitor), so Go hands its final link to the system's linker, which
// makes a dynamic executable by default: every start first runs the
// dynamic loader, which maps the C library, resolves its symbols and
// applies its relocations. berth-runtime starts twice per container
// (the command, then the container's init), and that loader's work was
// about 0.3 ms of each start on this machine (perf: _dl_start and
// do_lookup_x), before a line of Go ran.
//
// Linked statically, the C library is part of the binary and the loader
// is not there. The one part of glibc that does not work in a static
// binary is what loads shared libraries at run time: the name services
// (NSS) behind getaddrinfo and getpwnam. berth-runtime resolves no host
// names and no user names (config.json's user is numeric).
//
// So the static link comes with Go's usual tag for it, netgo, which
// also keeps the net package on its own resolver, out of glibc's (else
// the linker warns at every build about a getaddrinfo that never
// runs). The builds that install or measure the runtime pass it:
//
//	go build -tags netgo ./final/cmd/berth-runtime    (make, scripts/critest,
//	                                                  the OCI harnesses)
//
// A plain `go build ./...` links it dynamically, without a warning. The
// static build needs the static C library (Debian's libc6-dev has it;
// Fedora's glibc-static).

// #cgo LDFLAGS: -static
import "C"
