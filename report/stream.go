package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
)

// json.Encoder marshals a whole value into memory, and indents it into a
// second copy, before it writes a byte: at 10,000 accounts the JSON report
// alone would be held twice (docs/scale.md). The writers here give the same
// bytes (indented by two spaces, no HTML escaping: plans hold shell
// commands) holding one element of a list at a time.

// list is a JSON array written an element at a time.
type list struct {
	name string // the field's JSON name, for a list inside an object
	n    int
	elem func(i int) any
}

// jsonStream writes indented JSON through a buffer.
type jsonStream struct {
	w   *bufio.Writer
	buf bytes.Buffer
}

func newJSONStream(w io.Writer) *jsonStream {
	return &jsonStream{w: bufio.NewWriterSize(w, 64<<10)}
}

// value writes v indented as it would be at the depth prefix gives, without
// the first line's prefix (the caller has written it) or a newline after.
func (s *jsonStream) value(v any, prefix string) error {
	s.buf.Reset()
	enc := json.NewEncoder(&s.buf)
	enc.SetIndent(prefix, "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := s.w.Write(bytes.TrimSuffix(s.buf.Bytes(), []byte("\n")))
	return err
}

// array writes l as an indented JSON array at the depth prefix gives.
func (s *jsonStream) array(l list, prefix string) error {
	if l.n == 0 {
		_, err := s.w.WriteString("[]")
		return err
	}
	s.w.WriteString("[")
	for i := range l.n {
		if i > 0 {
			s.w.WriteString(",")
		}
		s.w.WriteString("\n" + prefix + "  ")
		if err := s.value(l.elem(i), prefix+"  "); err != nil {
			return fmt.Errorf("%s[%d]: %w", l.name, i, err)
		}
	}
	_, err := s.w.WriteString("\n" + prefix + "]")
	return err
}

// writeJSONArray writes l as a whole document, as json.Encoder would.
func writeJSONArray(w io.Writer, l list) error {
	s := newJSONStream(w)
	if err := s.array(l, ""); err != nil {
		return err
	}
	s.w.WriteString("\n")
	return s.w.Flush()
}

// writeJSONObject writes head, a struct, as json.Encoder would, each of
// lists in place of its field, which head holds as null. lists are in the
// order of head's fields.
func writeJSONObject(w io.Writer, head any, lists ...list) error {
	s := newJSONStream(w)
	var doc bytes.Buffer
	enc := json.NewEncoder(&doc)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(head); err != nil {
		return err
	}
	// Indented JSON has a raw newline only between tokens, so a top-level
	// field is the only match of newline, two spaces and its quoted name.
	rest := doc.Bytes()
	for _, l := range lists {
		field := "\n  " + strconv.Quote(l.name) + ": "
		i := bytes.Index(rest, []byte(field+"null"))
		if i < 0 {
			return fmt.Errorf("report: %s is not a null top-level field of the head, or the lists are out of order", l.name)
		}
		s.w.Write(rest[:i+len(field)])
		rest = rest[i+len(field)+len("null"):]
		if err := s.array(l, "  "); err != nil {
			return err
		}
	}
	s.w.Write(rest)
	return s.w.Flush()
}
