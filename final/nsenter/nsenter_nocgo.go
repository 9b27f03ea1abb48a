//go:build !cgo

package nsenter

// haveConstructor is false without cgo: nothing can enter a mount
// namespace before the Go runtime starts its threads, so Command refuses
// (ErrNoCgo).
const haveConstructor = false
