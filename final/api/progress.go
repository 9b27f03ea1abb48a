package api

import (
	"fmt"
	"strings"

	"github.com/docker/go-units"
)

// ProgressString renders a transfer's progress as dockerd does in a JSON
// message's "progress" field and the docker CLI on a terminal:
//
//	[=========================>                         ]  1.234MB/2.468MB
//
// The bar has a "=" for each 2% done and a ">" at the head, 51 cells in
// all; sizes are decimal (kB, MB), with four significant digits. width is
// the terminal's: 110 columns or fewer leave the bar out, as docker does
// to fit the line; 0 means none (the daemon's side), which draws it.
// Without a total there is only the current size, and with numbers
// neither the empty string.
func ProgressString(current, total int64, width int) string {
	if width == 0 {
		width = 200
	}
	if current <= 0 && total <= 0 {
		return ""
	}
	cur := units.HumanSize(float64(current))
	if total <= 0 {
		return fmt.Sprintf("%8v", cur)
	}
	percent := min(int(float64(current)/float64(total)*100)/2, 50)
	percent = max(percent, 0)
	bar := ""
	if width > 110 {
		bar = fmt.Sprintf("[%s>%s] ", strings.Repeat("=", percent), strings.Repeat(" ", 50-percent))
	}
	numbers := fmt.Sprintf("%8v/%v", cur, units.HumanSize(float64(total)))
	if current > total {
		// A wonky count: the total would mislead.
		numbers = fmt.Sprintf("%8v", cur)
	}
	return bar + numbers
}
