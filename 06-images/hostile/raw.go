package hostile

import (
	"fmt"
	"sort"
	"strings"
)

// A tar is a sequence of 512-byte blocks: a header block per entry, then
// its content padded to a whole block, and two zero blocks at the end.
const block = 512

// rawHeader is what this package writes in a header block by hand.
type rawHeader struct {
	name     string
	typeflag byte
	size     int64 // the size field: the bytes of content that follow
	mode     int64
	gnu      bool // GNU magic ("ustar  \x00") rather than POSIX ("ustar\x0000")
	// sparse is GNU's old sparse map, in the header itself (type 'S'):
	// up to 4 (offset, length) pairs, and the file's real size.
	sparse   [][2]int64
	realsize int64
}

// octal writes n into field as NUL-terminated octal, as tar does.
func octal(field []byte, n int64) {
	s := fmt.Sprintf("%0*o", len(field)-1, n)
	copy(field, s)
	field[len(field)-1] = 0
}

func (h rawHeader) bytes() []byte {
	b := make([]byte, block)
	copy(b[0:100], h.name)
	octal(b[100:108], h.mode)
	octal(b[108:116], 0) // uid
	octal(b[116:124], 0) // gid
	octal(b[124:136], h.size)
	octal(b[136:148], epoch)
	b[156] = h.typeflag
	if h.gnu {
		copy(b[257:265], "ustar  \x00")
	} else {
		copy(b[257:265], "ustar\x0000")
	}
	for i, s := range h.sparse {
		off := 386 + 24*i
		octal(b[off:off+12], s[0])
		octal(b[off+12:off+24], s[1])
	}
	if h.typeflag == 'S' {
		octal(b[483:495], h.realsize)
	}
	// The checksum: the sum of the header's bytes, its own field counted
	// as eight spaces.
	copy(b[148:156], "        ")
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

// pad rounds content up to whole blocks.
func pad(content []byte) []byte {
	if r := len(content) % block; r != 0 {
		content = append(content, make([]byte, block-r)...)
	}
	return content
}

// paxRecords is the content of a PAX extended header: "LEN key=value\n"
// per record, LEN counting the whole record, itself included.
func paxRecords(records map[string]string) []byte {
	keys := make([]string, 0, len(records))
	for k := range records {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	for _, k := range keys {
		rec := " " + k + "=" + records[k] + "\n"
		n := len(rec) + 1
		for len(fmt.Sprint(n))+len(rec) != n {
			n++
		}
		fmt.Fprintf(&sb, "%d%s", n, rec)
	}
	return []byte(sb.String())
}

// endOfArchive is the two zero blocks that close a tar.
func endOfArchive() []byte { return make([]byte, 2*block) }
