//go:build cgo

package nsenter

/*
#cgo CFLAGS: -O2 -Wall -Wextra

void berth_nsenter_early(int argc, char **argv);

// Run before the Go runtime starts, in every process of a program that
// links this package; it returns at once unless argv[0] is
// "berth-nsenter" (see nsenter.c). glibc passes constructors the
// program's arguments.
__attribute__((constructor)) static void berth_nsenter_init(int argc, char **argv, char **envp)
{
	(void)envp;
	berth_nsenter_early(argc, argv);
}
*/
import "C"

// haveConstructor: this build has nsenter.c, which enters the namespaces.
const haveConstructor = true
