// Package cli is berth, the command-line client: docker's commands and
// flags, made into calls of the Docker Engine API that berthd serves.
//
// # Why a client at all
//
// The chapters each ran a container from one program that did the work
// itself and ended with it. A real engine is split in two (S10). The
// daemon, berthd, owns the containers: it holds their state, their
// logs, their network and their cgroups, and it outlives any command
// that asked for them, which is what lets `run -d` return while the
// container goes on (S25). The client owns nothing. It turns a command
// line into HTTP requests on a unix socket, and the answers into text and
// an exit status. Because berthd speaks the Docker Engine API, the two
// halves are interchangeable: the docker CLI can drive berthd, and this
// client is built on the official Go client of that API
// (github.com/moby/moby/client).
//
// # From a command line to API calls
//
// Most commands are one call: `berth stop web` is POST
// /containers/web/stop, `berth ps -a` is GET /containers/json?all=1, and
// the work is in printing the answer the way docker does (format.go,
// human.go). `run` is the interesting one. Its flags become the body of
// POST /containers/create (runopts.go maps them field for field as the
// docker CLI does: -p 8080:80 becomes
// PortBindings {"80/tcp":[{"HostIp":"","HostPort":"8080"}]} plus
// ExposedPorts {"80/tcp":{}}, -i sets OpenStdin, AttachStdin and
// StdinOnce, --memory 32m sets Memory to 33554432). Then `berth run -it
// busybox sh` goes on like this:
//
//	berth                                          berthd
//	  │ POST /containers/create {Tty,OpenStdin,...}  │
//	  │ ───────────────────────────────────────────► │ 201 {"Id":"4f2a..."}
//	  │ POST /containers/4f2a/attach?stream=1&stdin=1&stdout=1&stderr=1
//	  │ Connection: Upgrade ───────────────────────► │ 101 UPGRADED
//	  │ ◄═══════ the socket is now a raw byte pipe ═══►│ (stdin in, pty out)
//	  │ POST /containers/4f2a/wait?condition=next-exit
//	  │ ───────────────────────────────────────────► │ 200, headers only;
//	  │                                              │ the body comes at exit
//	  │ POST /containers/4f2a/start ───────────────► │ 204
//	  │ POST /containers/4f2a/resize?h=50&w=120 ───► │ 200 (again on SIGWINCH)
//	  │      ... keystrokes ══►  ◄══ shell output ...│
//	  │ ◄─────────────────── {"StatusCode":0} ────── │ (sh exited)
//	  exit 0
//
// The order is the docker CLI's, and each step has a reason. Attach comes
// before start so that no output is lost. Wait comes before start so
// that a container that exits at once cannot exit unseen; with --rm it
// waits for "removed" instead, so that berth returns only once the
// container is gone. The attached connection is "hijacked": after the 101
// answer, HTTP is over and both sides copy bytes (stream.go). Without a
// terminal, the daemon multiplexes stdout and stderr on it in frames with
// an 8-byte header, which the client splits again (stdcopy); with one,
// the pty's output comes raw.
//
// # The terminal
//
// With -t the container's process has a pseudo-terminal of its own, in
// the daemon. Our terminal is then put in raw mode (term.go): keys are
// sent one by one as typed, ctrl-c included, and the container's pty
// does what a terminal does with them (SIGINT to its foreground process,
// line editing). When our window changes size, the kernel sends berth
// SIGWINCH, and berth passes the new size on with POST .../resize.
// ctrl-p ctrl-q (or --detach-keys) ends the attachment without ending the
// container (detachkeys.go).
//
// Without -t, ctrl-c is a signal to berth itself; berth catches it and
// passes it on, POST .../kill?signal=INT (--sig-proxy), so the container
// ends and berth exits with its status.
//
// # Exit status
//
// berth exits with the container's status. When there is none to give,
// it uses docker's codes: 125 when the engine failed (bad flag, no such
// image), 126 when the command exists but cannot be run, 127 when it does
// not exist. The daemon reports the last two only as text, so the text
// decides (startErrorStatus).
//
// # Man pages
//
// Every command's --help is also a man page (S8): GenManPages, or the
// hidden `berth docs man DIR`, writes berth.1, berth-run.1, ...; `make
// install` installs them so that `man berth-run` works.
//
// # Shell completion
//
// `berth completion bash|zsh|fish` prints a small script that, at each
// TAB, runs the hidden `berth __complete WORDS...`; berth answers from
// the same command tree as --help, and asks berthd for the names of
// containers, images, networks and volumes at that moment. What each
// argument names is read off the usage lines (completion.go). `make
// install` puts the three scripts where the shells look for them.
//
// # Dependencies
//
// github.com/moby/moby/client speaks the API, as the issue asks; cobra
// and pflag give Docker's command and flag syntax (and cobra/doc the man
// pages); golang.org/x/term puts the terminal in raw mode for -it;
// containerd/errdefs and distribution/reference read the client's errors
// and normalise image names exactly as the docker CLI does; docker/go-units
// prints sizes and durations the way `docker ps` and `docker images` do;
// docker/cli's config package reads and writes ~/.docker/config.json and
// runs its credential helpers (docker-credential-NAME get/store/erase),
// the docker CLI's own code for it, so the file and the helpers' protocol
// stay exactly docker's and `berth login` and `docker login` share their
// credentials (registry.go).
package cli
