#!/usr/bin/env bash
# mkarchives.sh: make the image archives in this folder with the real tools,
# offline, from the course's busybox rootfs. Needs root and the Debian
# packages docker.io (dockerd 20.10 and containerd 1.6), skopeo and
# busybox-static. It starts a private dockerd (its own data root, exec root
# and socket, no network), and stops it at the end.
#
#   06-images/testdata/mkarchives.sh
#
# It writes, next to itself:
#   docker-20.10.tar.gz     `docker save berth-test:v1 berth-test:v2`, gzipped:
#                           the legacy layout (<v1id>/layer.tar, manifest.json
#                           with "Parent", repositories)
#   containerd-export.tar.gz `ctr images export` of the same two images: an OCI
#                           layout plus manifest.json, as Docker 25+ writes it
#                           with the containerd image store
#   skopeo-oci.tar          `skopeo copy --dest-compress ... oci-archive:`: a
#                           plain OCI layout with gzip layers, no manifest.json
#   umoci-oci.tar           an OCI layout written by umoci alone (init, new,
#                           unpack, repack, config), tarred: the busybox rootfs
#                           plus /hello.txt, Cmd cat /hello.txt; its index
#                           names it "berth-umoci", a bare tag as umoci writes
#                           it, so it loads without a name
#   IDS                     what dockerd says the image IDs and diffIDs are
#
# The images: berth-base (the busybox rootfs, imported), berth-test:v1 (a
# commit that adds files, a hardlink, a symlink, a chmod and a chown) and
# berth-test:v2 (a commit that deletes a file, replaces a directory, so an
# opaque whiteout, and sets a security.capability xattr).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
rootfs_tar=${BERTH_ROOTFS:-/var/cache/berth/busybox/rootfs}.tar
[ -f "$rootfs_tar" ] || "$here/../../scripts/mkrootfs" >/dev/null
for tool in dockerd ctr skopeo umoci python3; do
	command -v $tool >/dev/null || { echo "mkarchives: $tool is missing (apt-get install docker.io skopeo)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/berth-mkarchives.XXXXXX)
sock=$work/docker.sock
cgparent=$(basename "$work") # containers' cgroups go under it, not under "docker"
cleanup() {
	if [ -f "$work/dockerd.pid" ]; then
		kill "$(cat "$work/dockerd.pid")" 2>/dev/null || true
		for _ in $(seq 1 50); do [ -e "$work/dockerd.pid" ] || break; sleep 0.2; done
	fi
	# Whatever dockerd left mounted under its private roots.
	grep -o " $work[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
	rm -rf "$work"
	find /sys/fs/cgroup -maxdepth 2 -depth -type d -name "$cgparent" -exec rmdir {} + 2>/dev/null || true
}
trap cleanup EXIT

echo '{}' >"$work/daemon.json"
dockerd --data-root "$work/root" --exec-root "$work/exec" -H "unix://$sock" \
	--pidfile "$work/dockerd.pid" --bridge=none --iptables=false --ip-masq=false --ip-forward=false \
	--cgroup-parent "$cgparent" --config-file "$work/daemon.json" \
	>"$work/dockerd.log" 2>&1 &
export DOCKER_HOST=unix://$sock
for _ in $(seq 1 100); do docker version >/dev/null 2>&1 && break; sleep 0.2; done
docker version >/dev/null || { cat "$work/dockerd.log" >&2; exit 1; }

docker import -c 'CMD ["/bin/sh"]' \
	-c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
	-m 'busybox base' "$rootfs_tar" berth-base:latest >/dev/null

docker run --network=none --name c1 berth-base:latest sh -c \
	'echo hello > /hello.txt && mkdir -p /data && echo v1 > /data/v && echo old > /data/old &&
	 ln /hello.txt /hello-link && ln -s hello.txt /hello-sym && chmod 0640 /hello.txt &&
	 chown 1000:1000 /data/v'
docker commit -c 'CMD ["cat","/hello.txt"]' -c 'ENV GREETING=hello' -c 'WORKDIR /data' \
	-m 'add hello' c1 berth-test:v1 >/dev/null

docker run --network=none --name c2 berth-test:v1 sh -c \
	'rm /bin/vi && rm -rf /data && mkdir /data && echo v2 > /data/v &&
	 echo bye >> /hello.txt && echo tagged > /data/xattr.txt'
# Docker's layer tars carry one xattr only, security.capability: set one in
# the container's upper directory (cap_net_bind_service, effective).
upper=$(docker inspect -f '{{.GraphDriver.Data.UpperDir}}' c2)
python3 -c "import os,sys; os.setxattr(sys.argv[1], 'security.capability', bytes([1,0,0,2, 0,4,0,0] + [0]*12))" "$upper/data/xattr.txt"
docker commit -c 'CMD ["cat","/hello.txt","/data/v"]' -m 'second change' c2 berth-test:v2 >/dev/null
docker rm c1 c2 >/dev/null
[ "$(docker run --rm --network=none berth-test:v2 | tr '\n' ' ')" = "hello bye v2 " ]

docker save berth-test:v1 berth-test:v2 -o "$work/docker-20.10.tar"
gzip -9n <"$work/docker-20.10.tar" >"$here/docker-20.10.tar.gz"

ctrsock=$work/exec/containerd/containerd.sock
ctr -a "$ctrsock" -n berth images import --no-unpack "$work/docker-20.10.tar" >/dev/null
ctr -a "$ctrsock" -n berth images export "$work/containerd-export.tar" \
	docker.io/library/berth-test:v2 docker.io/library/berth-test:v1
gzip -9n <"$work/containerd-export.tar" >"$here/containerd-export.tar.gz"

rm -f "$here/skopeo-oci.tar"
skopeo copy -q --dest-compress "docker-archive:$work/docker-20.10.tar:berth-test:v2" \
	"oci-archive:$here/skopeo-oci.tar:berth-test:v2"

{
	for ref in berth-base:latest berth-test:v1 berth-test:v2; do
		echo "$ref $(docker image inspect -f '{{.Id}}' $ref)"
	done
	echo "diff_ids $(docker image inspect -f '{{join .RootFS.Layers " "}}' berth-test:v2)"
	echo "parent-of-v2 $(docker image inspect -f '{{.Parent}}' berth-test:v2)"
} >"$here/IDS"

umoci init --layout "$work/umoci"
umoci new --image "$work/umoci:berth-umoci"
umoci unpack --image "$work/umoci:berth-umoci" "$work/bundle" >/dev/null
tar -C "$work/bundle/rootfs" -xf "$rootfs_tar"
echo "hello from umoci" >"$work/bundle/rootfs/hello.txt"
umoci repack --image "$work/umoci:berth-umoci" "$work/bundle"
umoci config --image "$work/umoci:berth-umoci" --config.cmd cat --config.cmd /hello.txt \
	--config.env PATH=/usr/sbin:/usr/bin:/sbin:/bin --config.workingdir /
tar -C "$work/umoci" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$here/umoci-oci.tar" .
ls -l "$here"
