package labtest

import (
	"bytes"
	"fmt"
	"os"
	"sync"
	"time"
)

// ProcessGone waits up to two seconds for process pid to end, and says
// so if it has not. A zombie counts as ended: it runs no code and holds
// nothing but its PID, and its parent (PID 1, for a shim or an orphan)
// reaps it in its own time.
//
// It polls /proc because a test cannot wait(2) for a process that is not
// its child; the deadline is a bound on a failure, not a guess at how
// long a success takes.
func ProcessGone(pid int) error {
	for range 200 {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return nil
		}
		if zombie(stat) {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("process %d still exists", pid)
}

// zombie reads the state in a /proc/PID/stat line, "pid (comm) S ...":
// it follows the last ')', since comm may hold one too.
func zombie(stat []byte) bool {
	i := bytes.LastIndexByte(stat, ')')
	return i > 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}

// Buffer is a bytes.Buffer that a program's output copier and the test
// may use at once: a command's Stderr, read while the command runs.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String is what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
