package restart

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/berth-project/berth/04-cow-layers/atomicfile"
)

// RecordFile is the Manager's file in the container's directory.
const RecordFile = "restart.json"

// Record is what must survive the daemon of a container's restart
// policy: the policy itself (an update changes it after create), the
// restarts since the last manual start (inspect's RestartCount, and
// on-failure's bound), and whether a user stopped the container (which
// unless-stopped obeys across daemon restarts).
type Record struct {
	Policy Policy `json:"policy"`
	Count  int    `json:"restartCount"`
	// Stopped: a docker stop or kill since the last manual start.
	Stopped bool `json:"manuallyStopped"`
}

// load reads the record in dir. A missing file is the zero Record and
// false: the container has the policy it was created with, and nothing
// happened yet.
func load(dir string) (Record, bool, error) {
	var r Record
	path := filepath.Join(dir, RecordFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("restart record %s: %w", path, err)
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return Record{}, false, fmt.Errorf("restart record %s: %w", path, err)
	}
	return r, true, nil
}

// save writes the record in dir: a new file renamed over the old one, so
// that a reader (or a crash) finds one or the other, never half of one.
// It is not synced to the disk: what a crash of the machine loses is a
// restart count or the stop flag of the last seconds, as a daemon that
// crashed loses its timers.
func save(dir string, r Record) error {
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encoding restart record of %s: %w", dir, err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, RecordFile), data, atomicfile.Options{Perm: 0o644}); err != nil {
		return fmt.Errorf("restart record: %w", err)
	}
	return nil
}
