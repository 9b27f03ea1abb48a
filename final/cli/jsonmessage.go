package cli

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/berth-project/berth/final/api"
)

// The daemon reports long operations (load, import, build, pull) as a
// stream of JSON objects, one per line:
//
//	{"stream":"Step 1/3 : FROM busybox\n"}            text for the user
//	{"status":"Loading layer","id":"3f1e","progressDetail":{"current":512,"total":2048}}
//	{"errorDetail":{"message":"no such file"},"error":"no such file"}
//
// An error arrives in band, with HTTP status 200 already sent: it is
// the last message, and the command fails with it.

type jsonMessage struct {
	Stream         string          `json:"stream"`
	Status         string          `json:"status"`
	ID             string          `json:"id"`
	Progress       string          `json:"progress"`
	ProgressDetail *progressDetail `json:"progressDetail"`
	Error          string          `json:"error"`
	ErrorDetail    *jsonError      `json:"errorDetail"`
	Aux            json.RawMessage `json:"aux"`
}

type progressDetail struct {
	Current int64 `json:"current"`
	Total   int64 `json:"total"`
}

// jsonError is an in-band error. Code, when the daemon sets it, becomes
// the exit status (build does this).
type jsonError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *jsonError) Error() string { return e.Message }

// displayJSONMessages prints a message stream to out. On a terminal,
// progress lines are redrawn in place, one line per ID; elsewhere only
// the text and the status lines are printed, so that logs stay
// readable. A body that is not JSON at all (some daemons answer load
// with plain text) is copied as it is.
func displayJSONMessages(r io.Reader, out io.Writer, terminal bool) error {
	return displayJSONMessagesAux(r, out, terminal, nil)
}

// displayJSONMessagesAux is displayJSONMessages that also hands the
// out-of-band "aux" objects to aux (build sends the image ID there).
func displayJSONMessagesAux(r io.Reader, out io.Writer, terminal bool, aux func(json.RawMessage)) error {
	br := bufio.NewReader(r)
	if !startsWithJSON(br) {
		_, err := io.Copy(out, br)
		return err
	}
	dec := json.NewDecoder(br)
	_, w := terminalSize(out)
	width := int(w)
	lines := map[string]int{} // ID -> its line, counted from the first progress line
	for {
		var m jsonMessage
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("reading the daemon's progress: %w", err)
		}
		if m.ErrorDetail != nil && m.ErrorDetail.Message != "" {
			return m.ErrorDetail
		}
		if m.Error != "" {
			return &jsonError{Message: m.Error}
		}
		if len(m.Aux) > 0 && aux != nil {
			aux(m.Aux)
			continue
		}
		progress := m.progressText(width)
		if m.ID != "" && progress != "" {
			if !terminal {
				continue
			}
			line, seen := lines[m.ID]
			if !seen {
				line = len(lines)
				lines[m.ID] = line
				fmt.Fprint(out, "\n")
			}
			up := len(lines) - line
			// Go up to the ID's line, clear it, rewrite it, come back.
			fmt.Fprintf(out, "\x1b[%dA\x1b[2K\r%s: %s %s\x1b[%dB\r", up, m.ID, m.Status, progress, up)
			continue
		}
		if m.ID == "" || !terminal {
			lines = map[string]int{} // anything else ends the block of progress lines
		}
		switch {
		case m.Stream != "":
			fmt.Fprint(out, m.Stream)
		case m.Status != "":
			if m.ID != "" {
				if line, seen := lines[m.ID]; seen && terminal {
					up := len(lines) - line
					fmt.Fprintf(out, "\x1b[%dA\x1b[2K\r%s: %s\x1b[%dB\r", up, m.ID, m.Status, up)
					continue
				}
				if terminal {
					// The ID's line from now on: a layer's "Pulling fs
					// layer", then its bar, then "Pull complete" all
					// take this one line, as docker draws them.
					lines[m.ID] = len(lines)
				}
				fmt.Fprintf(out, "%s: %s\n", m.ID, m.Status)
				continue
			}
			fmt.Fprintln(out, m.Status)
		}
	}
}

// progressText is dockerd's bar drawn from the numbers when there are
// numbers (api.ProgressString: no bar on a terminal of 110 columns or
// fewer, as docker), else the daemon's own rendering.
func (m *jsonMessage) progressText(width int) string {
	if d := m.ProgressDetail; d != nil && (d.Total > 0 || d.Current > 0) {
		return api.ProgressString(d.Current, d.Total, width)
	}
	return m.Progress
}

func startsWithJSON(br *bufio.Reader) bool {
	for {
		b, err := br.Peek(1)
		if err != nil {
			return false
		}
		switch b[0] {
		case ' ', '\t', '\r', '\n':
			_, _ = br.ReadByte()
			continue
		}
		return b[0] == '{'
	}
}
