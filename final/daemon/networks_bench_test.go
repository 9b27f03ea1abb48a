package daemon

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/moby/moby/api/types/container"
	apinet "github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/05-network/nettest"
	"github.com/berth-project/berth/05-network/network"
)

// User networks, measured beside a real dockerd in the same run (its
// own data root, no default bridge, no iptables rules; the user
// networks both engines get are the benchmark's, on subnets of the
// tests' range):
//
//	go test -run '^$' -bench 'Network' ./final/daemon
//
// Goals: a user network adds under 5 ms to `run --rm true` compared
// with --network none; `network create` + `rm` and the run itself are
// shown beside dockerd's figures.

// benchEngine is one engine under measure, driven by moby's client.
type benchEngine struct {
	name   string
	client *client.Client
}

// benchEngines starts a berthd (benchLab) and a private dockerd, each
// with busybox, for the sub-benchmarks of one benchmark. dockerd is
// skipped, with a reason, where it is not installed.
func benchEngines(b *testing.B) []benchEngine {
	l := benchLab(b)
	engines := []benchEngine{{name: "berthd", client: l.client}}
	d := labtest.StartDockerd(b)
	if _, err := d.Run("import", labtest.BusyboxRootfs(b)+".tar", "busybox"); err != nil {
		b.Fatal(err)
	}
	c, err := client.New(client.WithHost(d.Host()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	return append(engines, benchEngine{name: "dockerd", client: c})
}

// userNetwork creates a user network named name on a free subnet of the
// tests' range, removed at the end.
func (e benchEngine) userNetwork(b *testing.B, name string) netip.Prefix {
	ctx := context.Background()
	subnet := nettest.Subnet(b, func(s netip.Prefix) error {
		_, err := e.client.NetworkCreate(ctx, name, client.NetworkCreateOptions{
			Driver: "bridge",
			IPAM:   &apinet.IPAM{Config: []apinet.IPAMConfig{{Subnet: s}}},
		})
		return err
	})
	b.Cleanup(func() { _, _ = e.client.NetworkRemove(ctx, name, client.NetworkRemoveOptions{}) })
	return subnet
}

// BenchmarkNetworkCreateRemove: docker network create --subnet S, then
// docker network rm.
func BenchmarkNetworkCreateRemove(b *testing.B) {
	for _, e := range benchEngines(b) {
		b.Run(e.name, func(b *testing.B) {
			ctx := context.Background()
			const name = "bench-create"
			subnet := e.userNetwork(b, name)
			if _, err := e.client.NetworkRemove(ctx, name, client.NetworkRemoveOptions{}); err != nil {
				b.Fatal(err)
			}
			var times []time.Duration
			for b.Loop() {
				begin := time.Now()
				_, err := e.client.NetworkCreate(ctx, name, client.NetworkCreateOptions{
					Driver: "bridge",
					IPAM:   &apinet.IPAM{Config: []apinet.IPAMConfig{{Subnet: subnet}}},
				})
				if err == nil {
					_, err = e.client.NetworkRemove(ctx, name, client.NetworkRemoveOptions{})
				}
				times = append(times, time.Since(begin))
				if err != nil {
					b.Fatal(err)
				}
			}
			reportMedian(b, times)
		})
	}
}

// BenchmarkRunRmOnAUserNetwork: run --rm busybox true on a user network,
// and with --network none, on each engine. The difference of the two
// medians is what the user network adds (goal: under 5 ms).
func BenchmarkRunRmOnAUserNetwork(b *testing.B) {
	for _, e := range benchEngines(b) {
		e.userNetwork(b, "bench-run")
		for _, network := range []string{"none", "bench-run"} {
			b.Run(e.name+"/"+network, func(b *testing.B) {
				ctx := context.Background()
				if _, err := runRm(ctx, e.client, network, "true"); err != nil { // warm caches
					b.Fatal(err)
				}
				var times []time.Duration
				for b.Loop() {
					begin := time.Now()
					code, err := runRm(ctx, e.client, network, "true")
					times = append(times, time.Since(begin))
					if err != nil || code != 0 {
						b.Fatalf("run: %d %v", code, err)
					}
				}
				reportMedian(b, times)
			})
		}
	}
}

// BenchmarkDNSLookupFromAContainer: one lookup of a container's name,
// sent from inside another container's network namespace to the
// resolver its /etc/resolv.conf names (berthd: the network's gateway;
// dockerd: 127.0.0.11), over UDP, as the container's resolver sends it.
// Goal: a median under 1 ms.
func BenchmarkDNSLookupFromAContainer(b *testing.B) {
	for _, e := range benchEngines(b) {
		b.Run(e.name, func(b *testing.B) {
			ctx := context.Background()
			e.userNetwork(b, "bench-dns")
			asker := e.runDetached(b, "bench-asker", "bench-dns")
			e.runDetached(b, "bench-target", "bench-dns")
			info, err := e.client.ContainerInspect(ctx, asker, client.ContainerInspectOptions{})
			if err != nil {
				b.Fatal(err)
			}
			pid := info.Container.State.Pid
			resolver := nameserverOf(b, pid)
			conn := dialInNetns(b, fmt.Sprintf("/proc/%d/ns/net", pid), netip.AddrPortFrom(resolver, 53))
			q := new(dns.Msg).SetQuestion("bench-target.", dns.TypeA)
			var times []time.Duration
			for b.Loop() {
				begin := time.Now()
				if err := conn.WriteMsg(q); err != nil {
					b.Fatal(err)
				}
				resp, err := conn.ReadMsg()
				times = append(times, time.Since(begin))
				if err != nil || len(resp.Answer) != 1 {
					b.Fatalf("lookup from the container: %v, %v", err, resp)
				}
			}
			reportMedian(b, times)
		})
	}
}

// runDetached runs busybox sleep as name on network, removed at the end.
func (e benchEngine) runDetached(b *testing.B, name, network string) string {
	ctx := context.Background()
	created, err := e.client.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:       name,
		Config:     &container.Config{Image: "busybox", Cmd: []string{"sleep", "1000"}},
		HostConfig: &container.HostConfig{NetworkMode: container.NetworkMode(network)},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_, _ = e.client.ContainerRemove(ctx, created.ID, client.ContainerRemoveOptions{Force: true})
	})
	if _, err := e.client.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		b.Fatal(err)
	}
	return created.ID
}

// nameserverOf reads the first nameserver of the resolv.conf that the
// container with init pid sees.
func nameserverOf(b *testing.B, pid int) netip.Addr {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/root/etc/resolv.conf", pid))
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		if addr, ok := strings.CutPrefix(strings.TrimSpace(line), "nameserver "); ok {
			return netip.MustParseAddr(strings.TrimSpace(addr))
		}
	}
	b.Fatalf("no nameserver in the resolv.conf of pid %d:\n%s", pid, data)
	return netip.Addr{}
}

// dialInNetns makes a UDP socket in the network namespace nsPath,
// connected to addr: the socket stays in that namespace whichever thread
// uses it later (chapter 05's InNetns says how the thread gets there
// and back).
func dialInNetns(b *testing.B, nsPath string, addr netip.AddrPort) *dns.Conn {
	var conn net.Conn
	err := network.InNetns(nsPath, func() (err error) {
		conn, err = net.Dial("udp", addr.String())
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.Close() })
	return &dns.Conn{Conn: conn}
}
