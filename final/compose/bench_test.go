//go:build compose

// The tests of real Compose clients are a slow suite of their own: run
// them with scripts/test-compose (go test -tags compose ./final/compose),
// which .ci/run calls after scripts/test.

package compose

import (
	"context"
	"testing"
	"time"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

// BenchmarkComposeUpDown is the example project's `docker compose up -d
// --wait` then `down -v` (Compose v2), on berthd and on a private dockerd
// in the same run: the time of a project's whole life, most of it the
// engine's (creating networks, a volume and three containers, starting
// them in depends_on order, reporting health, then stopping and removing
// everything).
//
//	go test ./final/compose -run '^$' -bench ComposeUpDown -benchtime 5x
func BenchmarkComposeUpDown(b *testing.B) {
	c, err := V2()
	labtest.Need(b, err == nil, "Compose v2: "+errString(err))
	for _, start := range []func(testing.TB) engine{startBerthd, startDockerd} {
		e := start(b)
		b.Run(e.name, func(b *testing.B) {
			p := Project{Client: c, Host: e.host, Dir: copyExample(b), Name: labtest.Unique("bench"),
				Env: []string{"WEB_PORT=" + freePort(b)}}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
			defer cancel()
			var up, down time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if _, _, err := p.Run(ctx, "up", "-d", "--wait"); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if _, _, err := p.Run(ctx, "down", "-v"); err != nil {
					b.Fatal(err)
				}
				up, down = up+t1.Sub(t0), down+time.Since(t1)
			}
			// The two halves apart: up is bounded below by the
			// healthcheck's first run, 1 s after db starts.
			b.ReportMetric(up.Seconds()/float64(b.N), "up-s/op")
			b.ReportMetric(down.Seconds()/float64(b.N), "down-s/op")
		})
	}
}
