package shim

import (
	"testing"
	"time"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

// BenchmarkStartContainer is what the engine tuning of tuning_spares.go
// saves a start: StartContainer from its call to its return (the
// container's command running), with a shim launched for the start, and
// with a spare shim that was launched ahead and has started its
// container's init (namespace.Prestart) and warmed encoding/json up.
// Creating the container, waiting for its exit and removing it are
// outside the timer, and so is a pause after each start with spares, in
// which the spare that the start launched gets ready as it would between
// two `docker run`s:
//
//	go test -run X -bench StartContainer -benchtime 20x ./07-logs/shim
func BenchmarkStartContainer(b *testing.B) {
	labtest.Privileged(b)
	for _, withSpares := range []bool{false, true} {
		name := "shim launched at the start"
		if withSpares {
			name = "spare shim started ahead"
		}
		b.Run(name, func(b *testing.B) {
			s, err := OpenStore(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			start := testRuntime.StartContainer
			if withSpares {
				spares := testRuntime.Spares()
				defer spares.Close()
				start = spares.StartContainer
			}
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				if withSpares {
					time.Sleep(300 * time.Millisecond)
				}
				c, err := s.Create(Config{Command: []string{"true"}})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				_, err = start(c)
				b.StopTimer()
				if err == nil {
					_, err = c.Wait(10 * time.Second)
				}
				if rerr := testRuntime.RemoveContainer(c, true); err == nil {
					err = rerr
				}
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}
