// Package labtest is the lab checker's toolbox: the few helpers every
// chapter's tests share.
//
// Most of berth's tests need root and a Linux kernel with namespaces,
// cgroups and overlayfs. A learner who runs `go test ./...` as an ordinary
// user should see those tests skipped with a reason, not failed with
// EPERM. CI runs as root and sets BERTH_REQUIRE_PRIVILEGED=1: there a
// skipped privileged test would hide a broken lab, so Privileged fails the
// test instead of skipping it.
//
//	             not root            root
//	default      t.Skip(reason)      run
//	REQUIRE=1    t.Fatal(reason)     run
//
// The other helpers give tests unique names for host objects (cgroups,
// devices, state directories) so packages tested in parallel cannot
// collide, a busybox root filesystem built once per machine, and a way to
// compare the host's mount table before and after a test. Where berth
// should behave as Docker does, StartDockerd gives a test a private real
// dockerd to run the same steps against.
package labtest
