// Package registry moves images between chapter 06's store and OCI
// registries: pull, push, login, and the inspection of a remote manifest
// (GET /distribution/{name}/json in the daemon). It speaks the OCI
// Distribution protocol (Docker's "registry v2" API), which is plain
// HTTP: manifests and blobs addressed by digest, under /v2/<name>/.
//
// # Who does what
//
// The wire is go-containerregistry's (github.com/google/go-containerregistry),
// the library under crane, ko, kaniko and many CI tools: its name package
// parses references and knows registries' schemes, its authn package reads
// credentials (authn.DefaultKeychain: ~/.docker/config.json, DOCKER_CONFIG,
// credential helpers, exactly as the docker CLI stores them), and its
// remote/transport package does the handshake every client must get
// right: the ping (GET /v2/), the WWW-Authenticate challenge, Basic
// credentials or the exchange of credentials for a Bearer token scoped to
// "repository:NAME:pull,push", the refresh of a token that expired or
// lacks a scope, and not sending a registry's token to the storage host a
// blob download is redirected to. remote.Get fetches manifests with the
// right Accept header and checks one fetched by digest against it;
// remote.List lists tags; remote.Put sends a manifest. That is the part of
// the protocol where a hand-written client goes wrong in ways a test on
// loopback does not show (token caching, scopes, redirects), and where a
// library that thousands of pipelines use every day is the safer choice.
//
// The chapter does the rest itself, because it is what the course
// teaches and what the store needs:
//
//   - references: github.com/distribution/reference, Docker's own parser,
//     so "busybox" is docker.io/library/busybox:latest and the names that
//     RepoDigests and messages show are the ones dockerd shows;
//   - choosing the image of an index or manifest list for a platform
//     (platform.go: the OS and architecture must match, the variant by
//     containerd's rules);
//   - refusing what berth cannot run, by name: schema 1 manifests, foreign
//     (non-distributable) layers, OCI artifacts, unknown layer types;
//   - the blob requests (GET, HEAD, and on push POST/PATCH/PUT), on the
//     library's authenticated transport: the chapter needs each layer's
//     own outcome ("Layer already exists", "Mounted from", "Pushed") and
//     its own progress, and streams every byte exactly once;
//   - verifying each blob while it streams (verifier in pull.go): the
//     compressed bytes are hashed and counted as they arrive, and the end
//     of the stream is where the verdict is given, so the store, which
//     reads the stream to its end before it keeps anything, never keeps a
//     layer whose bytes were wrong; the store checks the uncompressed
//     tar's digest against the config's diffID (image.Pull);
//   - unpacking into the store: image.Pull, with the store's one-pass
//     ingest (decompress, hash, keep the tar, unpack, all at once), its
//     crash safety (tmp/, rename, a session's lease) and its layer
//     sharing (a layer the store has, by chainID, is not fetched);
//   - progress, in dockerd's words, so the daemon can pass it on as the
//     JSON messages the docker CLI draws bars from.
//
// # A pull, as HTTP
//
//	berth                                        registry (and token server)
//	  | GET /v2/                                      |
//	  |<------------- 401 WWW-Authenticate: Bearer realm="https://auth/token",service="reg"
//	  | GET https://auth/token?scope=repository:app:pull&service=reg  (Basic user:password)
//	  |<------------- 200 {"token": "..."}           |
//	  | GET /v2/app/manifests/1.0                     |   Authorization: Bearer ...
//	  |   Accept: OCI index, Docker list, OCI manifest, Docker schema 2
//	  |<------------- 200 Content-Type: ...index...  Docker-Content-Digest: sha256:IDX
//	  |   (choose linux/amd64 in the index)           |
//	  | GET /v2/app/manifests/sha256:M                |
//	  |<------------- 200 the image manifest: config C, layers L1 L2 L3
//	  | GET /v2/app/blobs/sha256:C                    |   the config: diffIDs D1 D2 D3
//	  |   (the store has chain(D1): "Already exists") |
//	  | GET /v2/app/blobs/sha256:L2  \  at once,      |
//	  | GET /v2/app/blobs/sha256:L3  /  up to 3       |
//	  |<------------- 200 (or 307 to storage) bytes -> verifier -> gunzip -> tar -> tmp/
//	  |   each layer checked (digest, size, diffID), then renamed into the store
//	  |   config, image record, tag busybox:1.0, RepoDigest app@sha256:IDX
//
// A pull of an image the store has is the first exchange and one manifest
// request: the manifest's digest (or the index's) is a RepoDigest of an
// image in the store, so nothing more is fetched ("Image is up to date").
// The Client keeps its authenticated transports, so a second pull does not
// ping or fetch a token again.
//
// # A push, as HTTP
//
//	berth                                        registry
//	  | (ping and token, scope repository:app:pull,push and, for mounts,
//	  |  repository:base:pull)
//	  | HEAD /v2/app/blobs/sha256:L1                  |   the store knows L1 was pushed here
//	  |<------------- 200                             |   "Layer already exists"
//	  | POST /v2/app/blobs/uploads/?mount=sha256:L2&from=base
//	  |<------------- 201 Location: /v2/app/blobs/sha256:L2      "Mounted from base"
//	  | POST /v2/app/blobs/uploads/                   |   L3: nobody has it
//	  |<------------- 202 Location: /v2/app/blobs/uploads/UUID?_state=...
//	  | PATCH /v2/app/blobs/uploads/UUID?...          |   the layer tar, gzip'd as it is
//	  |   Content-Type: application/octet-stream      |   read from the store (chunked)
//	  |<------------- 202 Location: ...               |
//	  | PUT ...?digest=sha256:L3                      |   known only now, at the end
//	  |<------------- 201                             |   "Pushed"
//	  | HEAD, or POST + PUT ?digest=, of the config   |
//	  | PUT /v2/app/manifests/1.0                     |   Docker schema 2, last: a manifest
//	  |   Content-Type: ...manifest.v2+json           |   may only name blobs that exist
//	  |<------------- 201 Docker-Content-Digest: sha256:M   "1.0: digest: sha256:M size: N"
//
// The store keeps layers uncompressed (its diffIDs), and compressing
// again gives other bytes, so a push can only skip an upload when it
// remembers which blob the registry has for the layer: the store's
// distribution records (image.BlobSources, Docker's "v2metadata"), written
// by every pull and push, say which compressed digest a layer had in
// which repository.
//
// Push compresses with klauspost/compress's gzip at level 1
// (BestSpeed). BenchmarkGzipLevels, on this project's 2-core machine
// (busy with other work when measured, so the figures are rough):
//
//	                      busybox tar x N (64 MiB)     random bytes (64 MiB)
//	klauspost, level 1    65-88 MB/s, 55.7 % of input   5300 MB/s, 100 %
//	klauspost, level 6    34-65 MB/s, 50.9 %             850 MB/s, 100 %
//	standard library, 6   10 MB/s,    50.0 %              26 MB/s, 100 %
//
// dockerd compresses with the standard library at the default level;
// level 1 of klauspost's is several times faster on text and binaries and
// two hundred times faster on data that does not compress (a layer of
// compressed files), for output about a tenth larger. On loopback and on
// fast networks the upload waits on the compressor, so speed wins.
//
// # What it costs
//
// The benchmark, a 200 MB image in 4 layers (random bytes, gzip)
// on the real registry on loopback, with dockerd 20.10 in the same run
// (BenchmarkPull200MB, BenchmarkPush200MB, BenchmarkDockerd200MB; the
// machine busy with other work, so the figures are rough):
//
//	                  chapter 06            dockerd 20.10
//	pull              1.35 s (155 MB/s)     4.8 s (44 MB/s)
//	push (upload)     1.7 s  (120 MB/s)     8.5 s (25 MB/s)
//	re-pull           5.6 ms: one manifest request
//	peak memory       37 MiB (the Go runtime's, during the pull)
//
// The pull streams: each layer's bytes go from the socket through the
// verifier and the decompressor into the store's ingest, whose buffers
// are a few chunks of a megabyte; no layer is held in memory, nor saved
// compressed to be unpacked later.
//
// # Registries, TLS and insecure registries
//
// HTTPS by default. A registry's CAs and client certificates are read as
// dockerd reads them, from /etc/berth/certs.d/HOST:PORT/ and then
// /etc/docker/certs.d/HOST:PORT/: every *.crt is a CA added to the
// system's, every *.cert a client certificate with the *.key of the same
// name. Plain HTTP (and TLS without verification) is only for insecure
// registries: those Config.Insecure names (host[:port], or a CIDR holding
// an address the name resolves to) and, as in dockerd, loopback
// (127.0.0.0/8, ::1). For those, HTTPS is tried first and HTTP after (the
// library's ping does that); for any other registry the guard transport
// refuses HTTP even where the library would fall back to it (it counts
// private networks as local too). Docker Hub names may go through
// mirrors (Config.Mirrors) first, as --registry-mirror does: a mirror that
// cannot give the manifest is skipped for the next one, then the hub.
//
// One limit comes from the library's safety rules: a Bearer realm (token
// server) on a private or loopback IP literal other than the registry's
// own address is refused (a registry could otherwise send its clients'
// credentials to an internal host). A token server on this machine is
// reached by the name "localhost" instead.
//
// # Verbose
//
// Config.Verbose gets one line per request and per response, with the
// headers that show the protocol: Accept, Content-Type, Content-Length,
// Range, Docker-Content-Digest, Location, WWW-Authenticate. Authorization
// is shown by its scheme only ("Authorization: Bearer …").
//
//	06-images pull --verbose 127.0.0.1:5000/app:1.0
//	> GET https://127.0.0.1:5000/v2/
//	< 200 OK  GET http://127.0.0.1:5000/v2/  Content-Type: application/json; charset=utf-8
//	> GET http://127.0.0.1:5000/v2/app/manifests/1.0  Accept: application/vnd.docker.distribution.manifest.v1+json,...
//	< 200 OK  GET .../manifests/1.0  Content-Type: application/vnd.docker.distribution.manifest.v2+json  Docker-Content-Digest: sha256:...
package registry
