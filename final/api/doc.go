// Package api serves the Docker Engine API, the part of it the docker
// command line uses, on top of berth's engine (a Backend). With it, the
// real docker client (28.x, and Debian's 20.10) drives berthd:
//
//	DOCKER_HOST=unix:///run/berth/berth.sock docker run --rm busybox echo hi
//
// # Why speak Docker's API
//
// The engine has three parts (claim S10): a daemon that owns the
// containers, a client that asks it for things, and images. The client
// and the daemon talk over HTTP on a unix socket. Speaking the same API
// as dockerd means every docker tool works with berth unchanged, and that
// the chapters' concepts can be checked against the behaviour of the real
// client, which is strict about small things (a header, a status, the
// moment a response starts).
//
// The request and answer bodies are the types of the moby API module
// (github.com/moby/moby/api/types): the package declares none of its
// own, so they cannot drift from what the client decodes.
//
// # Versions
//
// Every answer carries Api-Version: 1.41. A client first pings (HEAD
// /_ping), reads that header, and from then on prefixes its paths with
// the lower of its own version and the server's: /v1.41/containers/json.
// The server strips the prefix and routes the unversioned path, so each
// endpoint is declared once and answers both forms; a version outside
// [1.24, 1.41] is refused with a message. The ping's other headers steer
// the client: Ostype (run's flags depend on it), Builder-Version: 1 (the
// classic builder), Swarm: inactive (no swarm objects to look for).
//
// # Errors
//
// The backend's errors carry their kind (github.com/containerd/errdefs),
// which HTTPStatus turns into the status: not found 404, invalid argument
// 400, conflict 409, not modified 304, unauthenticated 401 (a registry
// that wants credentials), not implemented 501, anything else 500. The body is {"message": "..."}, the only shape the client reads. A
// 404 is more than an error to the client: `docker run` pulls the image
// and tries again, `docker inspect` tries the next kind of object. That is
// why every unknown path answers a JSON 404 too.
//
// Bad input is refused before the backend hears of it: malformed JSON
// (400), a JSON body over the size limit (413), a bad query parameter
// (400). A panic costs one request (500), never the daemon.
//
// # Hijacking: attach and exec
//
// HTTP is request then response, but a container's standard streams go
// both ways for as long as it runs. The client asks to leave HTTP
// ("Connection: Upgrade", "Upgrade: tcp"); the server answers
// "101 UPGRADED" and from then on the connection is a raw byte pipe: the
// client's bytes are the container's stdin, the server's bytes its output.
// When the client's input ends it half-closes the connection (shutdown of
// its write side): the server sees end-of-file on stdin but keeps
// writing output, and closes the connection when the process has exited.
//
// A `docker run` is five requests, and their order matters:
//
//	client                                   berthd
//	  │ HEAD /_ping ─────────────────────────▶│
//	  │◀──────────────── 200, Api-Version 1.41 │
//	  │ POST /v1.41/containers/create ───────▶│ ContainerCreate
//	  │◀───────────────────────── 201 {"Id"}   │
//	  │ POST /containers/ID/attach (Upgrade) ▶│ ContainerAttach: streams
//	  │◀──────────────────────── 101 UPGRADED  │  connected, then answer
//	  │ POST /containers/ID/wait ────────────▶│ ContainerWait
//	  │◀────────────── 200 (header only, now)  │
//	  │ POST /containers/ID/start ───────────▶│ ContainerStart
//	  │◀──────────────────────────────── 204   │
//	  │◀═══════ output frames (attach) ═══════ │ the process writes
//	  │═══════ stdin, then half-close ═══════▶ │
//	  │◀═══════════ connection closed ════════ │ the process exited
//	  │◀──────── {"StatusCode":0} (wait body)  │
//
// The client starts the container only once the attach is answered, and
// the server answers only once the backend has connected the streams
// (AttachOptions.Attached): no output can fall between the two. The wait
// is sent before the start and the client blocks until its header
// arrives, so the header is flushed at once and the body follows at the
// exit.
//
// # Framing: stdcopy
//
// A container with a terminal has one output stream, sent raw. Without a
// terminal, stdout and stderr share the connection, so each chunk goes in
// a frame that says which stream it belongs to (StdWriter):
//
//	[stream 1 byte][0 0 0][size uint32 big-endian][size bytes of payload]
//	 1 stdout, 2 stderr, 3 an error of the daemon
//
// Logs use the same framing, with a timestamp before each line on
// request. From API 1.42 the answer's Content-Type also says which format
// it is (application/vnd.docker.multiplexed-stream); before, both were
// application/vnd.docker.raw-stream and the client knew from the
// container's Tty alone.
//
// # JSON streams
//
// Import, load and build answer with newline-delimited JSON messages
// (Content-Type exactly application/json), each flushed as it is written
// so the client can show progress. An error before the first message is
// an ordinary HTTP error; after it the status is long gone, so the error
// travels in band as {"errorDetail":{"message":...},"error":...}. Their
// request bodies, tars, are streamed to the backend without a size limit.
//
// # Registries
//
// Pull (POST /images/create?fromImage=), push (POST /images/NAME/push),
// login (POST /auth) and GET /distribution/NAME/json carry the client's
// credentials in the X-Registry-Auth header, base64url of an AuthConfig's
// JSON (registry.go reads it padded or not; "{}" is none); a build gets
// all of them in X-Registry-Config. The daemon keeps no credentials of its
// own. Pull and push answer with JSON streams in dockerd's words, and the
// server renders the progress bar from the numbers as dockerd does
// (ProgressString), for clients that print the string instead of drawing.
//
// # Dependencies
//
// The request and response shapes are moby's own (github.com/moby/moby/api),
// not re-declared; containerd/errdefs is how the backend says which kind
// of error it returns; distribution/reference normalises image names
// (docker.io/library/foo is foo) as dockerd does.
package api
