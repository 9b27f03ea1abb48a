package dns

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"
)

// BenchmarkLookup is one lookup of a container's name over UDP, the
// server alone on loopback: what a container's resolver waits for,
// without the way through the bridge. The goal is a median under 1 ms
// from inside a container; it reports the median as ms/median.
func BenchmarkLookup(b *testing.B) {
	s := newServer(b)
	addr := addNetwork(b, s, "bench", "127.0.0.1", false)
	for i := range 100 {
		id := "c" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		require.NoError(b, s.SetEndpoint("bench", Endpoint{ID: id, Addr: netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 2)}), Names: []string{id, id + "-alias"}}))
	}
	c := &dns.Client{Net: "udp", Timeout: 5 * time.Second}
	conn, err := c.Dial(addr.String())
	require.NoError(b, err)
	defer conn.Close()
	q := new(dns.Msg).SetQuestion("cba.", dns.TypeA)
	times := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		resp, _, err := c.ExchangeWithConn(q, conn)
		times = append(times, time.Since(start))
		if err != nil || len(resp.Answer) != 1 {
			b.Fatalf("lookup: %v, %v", err, resp)
		}
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2])/float64(time.Millisecond), "ms/median")
}

// BenchmarkFiles is what a container's start does for its name files:
// read the host's resolv.conf, make the three files, write them.
func BenchmarkFiles(b *testing.B) {
	dir := b.TempDir()
	cfg := Config{ExtraHosts: []Host{{Name: "a", IP: netip.MustParseAddr("1.2.3.4")}}}
	ct := Container{Hostname: "0123456789ab", Addrs: []netip.Addr{netip.MustParseAddr("10.88.0.2")}}
	for b.Loop() {
		f, err := cfg.Files(ct, hostPaths)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.Write(dir); err != nil {
			b.Fatal(err)
		}
	}
}
