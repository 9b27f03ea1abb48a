// Package conformance reads the results of runtime-tools' validation
// suite (the OCI runtime conformance programs that scripts/oci-validation
// builds and runs) and holds berth-runtime to one rule: every check that
// runc passes on the same machine, in the same run, berth-runtime passes
// too, unless the difference is written down with its reason.
//
// Why compare with runc instead of counting passes: the suite was written
// against runc on a host of its time, and on this kind of machine (cgroup
// v1 hybrid, no blkio weight, no hugetlb, no AppArmor or SELinux) runc
// itself fails 33 of its checks. A check that runc fails here says
// something about the host, not about the runtime; a check that runc
// passes and berth-runtime fails says something about berth.
//
//	scripts/oci-validation --out DIR runc berth-runtime
//	   DIR/runc/PROGRAM.tap            DIR/berth-runtime/PROGRAM.tap
//	            \                            /
//	          LoadRun                  LoadRun          (tap.go, run.go)
//	                \                  /
//	                 Compare(runc, berth)               (compare.go)
//	                        |
//	     Known (testdata/known-differences.txt)         (known.go)
//	        |  unexpected: differs, not listed  -> test fails
//	        |  stale: listed, no longer differs -> test fails
//	        v
//	     WriteReport -> docs/oci-conformance.md          (report.go)
//
// A check is one TAP test line of one program, named by its description
// (the text after "ok N -"); the number N is not part of the name, since a
// program that stops early renumbers nothing but loses the lines after.
// Where one program prints the same description several times (the
// cgroup programs check "cpu shares is set correctly" once per case), the
// k-th one is named "description #k". Each program also gets one check of
// its own, "(exit status 0)": a program that cannot create its container
// often prints no test line at all, only an error on stderr, and that
// must count as a failure too.
//
// The known-differences file keeps the list honest in both directions: a
// new difference fails the test until someone writes down why, and a
// fixed one fails it until someone removes the line, so the file is
// always the current list of what berth-runtime does not yet do.
package conformance
