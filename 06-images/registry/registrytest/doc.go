// Package registrytest runs a real OCI registry for tests, and makes the
// images to put in it.
//
// # Why a real registry
//
// A client that only ever talked to a fake registry has learnt the fake's
// reading of the protocol. The registry here is Debian's docker-registry
// (distribution 2.8, the reference implementation that Docker Hub and
// most private registries grew from), started as its own process on
// 127.0.0.1 with the storage in the test's temporary directory:
//
//	test ──► Start(t, Options{TLS, Auth, CountRequests})
//	           │ writes config.yml (port picked by binding 127.0.0.1:0;
//	           │ if another process takes it first, the registry exits
//	           │ "address already in use" and Start tries another)
//	           ▼
//	   [counting proxy] ──► docker-registry serve config.yml
//	   (CountRequests)        storage: TEMP/storage/docker/registry/v2/...
//	                          log:     TEMP/registry.log (t.Log on failure)
//	   [token server]  ◄── 401 Bearer realm="http(s)://localhost:T/token"
//	   (AuthToken)
//
// Start polls GET /v2/ until the answer carries a header with this start's
// random id (so an answer from some other server on a stolen port is not
// mistaken for ours); the process is killed and waited for at cleanup.
//
// # Modes
//
//   - plain HTTP, or TLS with a CA made for the registry (CAFile, and
//     CertsDir: a certs.d directory holding 127.0.0.1:PORT/ca.crt, the
//     layout dockerd and berth read; InstallCA puts it in
//     /etc/docker/certs.d for a dockerd and takes it out at cleanup);
//   - htpasswd basic auth: distribution reads bcrypt hashes only, and
//     Debian ships no htpasswd tool, so the file is written here with
//     golang.org/x/crypto/bcrypt;
//   - token auth: the Docker token protocol, served by a small server in
//     this package. It signs an ES256 JWT by hand (crypto/ecdsa: a JWT is
//     two base64url JSON documents and a signature; no module needed)
//     with a certificate sent in the header's x5c chain; the registry
//     trusts the chain's CA through auth.token.rootcertbundle. The
//     realm is named "localhost", not 127.0.0.1: go-containerregistry
//     refuses a realm that is a private IP literal other than the
//     registry's own address (a guard against a registry that would
//     send its clients' credentials to an internal host).
//
// With CountRequests a reverse proxy in front records every request when
// it arrives and its status when the header goes out, so a test that got
// its answer never misses its request: "a re-pull fetched one manifest
// and no blob" is then a plain assertion. (The registry's own access log
// is written after the response, too late to count on.)
//
// # Images
//
// NewImage, NewIndex and WithForeignLayer make images with
// go-containerregistry, not with berth's code, so a test of berth's
// client compares it with an independent implementation: layers of
// pseudo-random bytes (ChaCha8, seeded: the same options give the same
// digests in every run; random bytes do not compress, so a 200 MB image
// moves 200 MB), gzip, zstd or uncompressed, Docker schema 2 or OCI
// manifests, a three-platform index, a foreign layer, and the course's
// busybox as the bottom layer for an image that runs. Layers are
// generated again on each read rather than held in memory.
//
// # A tutorial
//
//	r := registrytest.Start(t, registrytest.Options{TLS: true, Auth: registrytest.AuthBasic})
//	img := registrytest.NewImage(t, registrytest.ImageOptions{Busybox: true, Layers: []int64{1 << 20}})
//	digest := r.Push(t, "team/app:1", img)
//	// berth pulls r.Ref("team/app:1") with r.Username()/r.Password(),
//	// trusting r.CertsDir(); the test compares digests, then corrupts
//	// a blob at r.BlobPath(...) and expects the next pull to fail.
package registrytest
