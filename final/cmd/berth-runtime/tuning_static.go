// Engine tuning: skip on first reading. Without it, the binary is linked
// against the C library dynamically, as any cgo program is by default.

//go:debug netdns=go

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
// names and no user names (config.json's user is numeric), and the
// go:debug line above keeps the net package on its own resolver in any
// case, so the linker's warning about getaddrinfo, printed at each
// build, names code that never runs. The build needs the static C
// library (Debian's libc6-dev has it; Fedora's glibc-static).

// #cgo LDFLAGS: -static
import "C"
