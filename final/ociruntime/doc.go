// Package ociruntime is berth as an OCI runtime: the runc command line
// that containerd's shim, dockerd and Kubernetes (through containerd's
// CRI) call, driving the chapters' isolation code from a bundle's
// config.json instead of berth's own flags.
//
// (The package documentation proper is written with the code of the
// create/start path; state.go is the record every command shares.)
package ociruntime
