// Command standin makes critest's stand-in images and is, under other
// names, the programs inside them that Debian's busybox cannot be:
//
//	standin images ROOTFS.tar HELPER OUT.tar   write the docker-archive (scripts/critest)
//	/pause                                     a pod sandbox's process
//	/usr/local/bin/nonewprivs                  print the effective uid (installed setuid root)
//	/usr/sbin/nginx                            a web server on port 80 that looks like nginx's master
//	/usr/bin/pgrep PATTERN                     pids of the processes whose name matches
//	/usr/bin/ipcs -m                           the System V shared memory segments
//
// It must be built static (CGO_ENABLED=0): the images hold no libc.
package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"github.com/berth-project/berth/final/ociruntime/cri"
)

func main() {
	base := filepath.Base(os.Args[0])
	var err error
	switch {
	case base == filepath.Base(cri.PauseBinary):
		pause()
	case base == filepath.Base(cri.NoNewPrivsBinary):
		// A setuid-root file: the effective uid is 0 unless no_new_privs
		// stopped exec from granting it (what the NoNewPrivs specs check).
		fmt.Printf("Effective uid: %d\n", syscall.Geteuid())
	case strings.HasPrefix(base, "nginx"):
		err = nginx()
	case base == filepath.Base(cri.PgrepBinary):
		var pids []int
		pids, err = pgrep(os.Args[1:])
		for _, pid := range pids {
			fmt.Println(pid)
		}
		if err == nil && len(pids) == 0 {
			os.Exit(1) // pgrep's status when nothing matches
		}
	case base == filepath.Base(cri.IpcsBinary):
		err = ipcs(os.Stdout, os.Args[1:])
	case len(os.Args) == 5 && os.Args[1] == "images":
		err = cri.WriteArchive(os.Args[4], os.Args[2], os.Args[3])
	default:
		fmt.Fprintln(os.Stderr, "usage: standin images ROOTFS.tar HELPER OUT.tar")
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", base, err)
		os.Exit(1)
	}
}

// pause is a sandbox's PID 1: it does nothing until asked to stop, and
// reaps the orphans that a pod sharing its PID namespace leaves to it.
// PID 1 gets no signal it has no handler for, so SIGTERM and SIGINT are
// handled explicitly.
func pause() {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for sig := range sigs {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}

// masterTitle is how nginx's master process names itself in ps.
const masterTitle = "nginx: master process nginx -g daemon off;"

// nginx is what the PID namespace specs look for in nginx's image: a
// process named nginx (pidof), "master process" in its command line, its
// pid in /var/run/nginx.pid; and a page on port 80 for the networking
// specs. Real nginx rewrites its argv; this one executes itself again
// under that title (by its path, so that the process keeps the name nginx).
func nginx() error {
	if os.Args[0] != masterTitle {
		return syscall.Exec(cri.NginxBinary, []string{masterTitle}, os.Environ())
	}
	if err := os.MkdirAll("/var/run", 0o755); err != nil {
		return err
	}
	if err := os.WriteFile("/var/run/nginx.pid", []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return err
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT)
	go func() {
		<-sigs
		os.Exit(0)
	}()
	fmt.Println("nginx stand-in: serving on :80")
	return http.ListenAndServe(":80", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "<html><body>berth stand-in nginx</body></html>")
	}))
}

// pgrep PATTERN returns the pid of every other process whose name
// (/proc/PID/comm) matches the regular expression.
func pgrep(args []string) ([]int, error) {
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		return nil, fmt.Errorf("only `pgrep PATTERN` is supported, not %q", args)
	}
	re, err := regexp.Compile(args[0])
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		comm, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err != nil {
			continue // gone meanwhile
		}
		if re.MatchString(strings.TrimSuffix(string(comm), "\n")) {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// ipcs -m lists the shared memory segments of the IPC namespace, in
// util-linux's columns, from /proc/sysvipc/shm.
func ipcs(w io.Writer, args []string) error {
	if len(args) != 1 || args[0] != "-m" {
		return fmt.Errorf("only `ipcs -m` is supported, not %q", args)
	}
	f, err := os.Open("/proc/sysvipc/shm")
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintf(w, "\n------ Shared Memory Segments --------\n%-10s %-10s %-10s %-10s %-10s %-10s\n",
		"key", "shmid", "owner", "perms", "bytes", "nattch")
	sc := bufio.NewScanner(f)
	sc.Scan() // the header line
	for sc.Scan() {
		// key shmid perms size cpid lpid nattch uid gid ...
		c := strings.Fields(sc.Text())
		if len(c) < 8 {
			continue
		}
		key, _ := strconv.ParseInt(c[0], 10, 64)
		perms, _ := strconv.ParseInt(c[2], 8, 64) // the kernel prints it in octal
		fmt.Fprintf(w, "0x%08x %-10s %-10s %-10o %-10s %-10s\n", uint32(key), c[1], c[7], perms&0o777, c[3], c[6])
	}
	return sc.Err()
}
