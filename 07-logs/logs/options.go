package logs

import (
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Options are a container's logging options: docker run --log-opt
// KEY=VALUE, with the keys of Docker's json-file driver and one of berth's.
//
//	max-size=10m   rotate the log when the current file would grow past 10 MiB
//	max-file=3     keep 3 files: container.log, container.log.1, container.log.2
//	stdin=false    do not record what is written to the container's stdin
type Options struct {
	// MaxSize is the most bytes one log file may hold before the writer
	// starts a new one. 0 means the log is never rotated.
	MaxSize int64 `json:"maxSize,omitempty"`
	// MaxFiles is how many files the log keeps, the current one
	// included: the oldest is deleted when a rotation would make one
	// more. 0 means 1. Without MaxSize it has no effect.
	MaxFiles int `json:"maxFiles,omitempty"`
	// NoStdin turns off the recording of the container's stdin, which
	// is recorded by default when the container has one (run -i).
	NoStdin bool `json:"noStdin,omitempty"`
}

// Files is the number of files the log keeps: MaxFiles, at least 1.
func (o Options) Files() int { return max(o.MaxFiles, 1) }

// Set applies one --log-opt value, "KEY=VALUE".
func (o *Options) Set(opt string) error {
	key, value, ok := strings.Cut(opt, "=")
	if !ok || value == "" {
		return fmt.Errorf("log option %q: want KEY=VALUE (max-size=10m, max-file=3, stdin=false)", opt)
	}
	switch key {
	case "max-size":
		n, err := ParseSize(value)
		if err != nil {
			return fmt.Errorf("log option %s: %w", key, err)
		}
		o.MaxSize = n
	case "max-file":
		n, err := strconv.Atoi(value)
		if err != nil || n < 1 {
			return fmt.Errorf("log option max-file=%s: want a whole number of files, at least 1", value)
		}
		o.MaxFiles = n
	case "stdin":
		b, err := strconv.ParseBool(value)
		if err != nil {
			return fmt.Errorf("log option stdin=%s: want true or false", value)
		}
		o.NoStdin = !b
	default:
		return fmt.Errorf("unknown log option %q (known: max-size, max-file, stdin)", key)
	}
	return nil
}

// Validate rejects options that cannot work together. As in Docker,
// max-file without max-size is an error: without a size nothing rotates.
func (o Options) Validate() error {
	if o.MaxSize < 0 || o.MaxFiles < 0 {
		return fmt.Errorf("log options: negative max-size or max-file")
	}
	if o.MaxFiles > 1 && o.MaxSize == 0 {
		return fmt.Errorf("log option max-file=%d needs max-size: without a size the log never rotates", o.MaxFiles)
	}
	return nil
}

// AddFlags registers --log-opt on fs. The flag may be repeated.
func (o *Options) AddFlags(fs *flag.FlagSet) {
	fs.Func("log-opt", "log option KEY=VALUE: max-size=10m, max-file=3, stdin=false (repeatable)", o.Set)
}

// ParseSize reads a size such as "10m", "512k", "1g" or "4096": binary
// units (k is 1024), as berth's --memory takes them.
func ParseSize(s string) (int64, error) {
	in := strings.ToLower(strings.TrimSpace(s))
	num := strings.TrimRight(in, "kmgbi")
	mult := int64(1)
	switch strings.TrimSuffix(strings.TrimSuffix(in[len(num):], "b"), "i") {
	case "":
	case "k":
		mult = 1 << 10
	case "m":
		mult = 1 << 20
	case "g":
		mult = 1 << 30
	default:
		return 0, fmt.Errorf("size %q: want a number with an optional k, m or g", s)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %q: want a positive whole number with an optional k, m or g", s)
	}
	return n * mult, nil
}
