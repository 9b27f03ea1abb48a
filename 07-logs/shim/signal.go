package shim

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ParseSignal reads a signal as `kill -s`, `docker kill -s` and
// `--stop-signal` take it: a name with or without SIG, in any case
// ("TERM", "SIGTERM", "sigterm"), or a number from 1 to 64 ("15").
func ParseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n > 0 && n <= 64 {
			return unix.Signal(n), nil
		}
		return 0, fmt.Errorf("invalid signal: %s", s)
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("invalid signal: %s", s)
}
