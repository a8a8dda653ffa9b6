package web

import (
	"bytes"
	"encoding/binary"
	"errors"
	"time"

	"github.com/alexedwards/scs/v2"
)

// sessionCodec stores a session's values (the user's id, a flash message)
// in a few bytes. scs's gob codec builds a new encoder or decoder for every
// session it touches, type descriptions and all: a twentieth of the CPU of
// a list page went to that. A session holding any other kind of value is
// stored with gob, and sessions stored with gob (by earlier releases) are
// read with gob, so nobody is logged out by the change.
type sessionCodec struct{}

// sessionMagic starts a session in this format. A gob stream starts with
// its first message's length, never zero.
var sessionMagic = []byte("\x00hris1")

const (
	sessionInt64 byte = iota + 1
	sessionString
)

var errSessionFormat = errors.New("session data: malformed")

func (sessionCodec) Encode(deadline time.Time, values map[string]any) ([]byte, error) {
	b := make([]byte, 0, 64)
	b = append(b, sessionMagic...)
	b = binary.AppendVarint(b, deadline.UnixNano())
	b = binary.AppendUvarint(b, uint64(len(values)))
	for k, v := range values {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		switch v := v.(type) {
		case int64:
			b = append(b, sessionInt64)
			b = binary.AppendVarint(b, v)
		case string:
			b = append(b, sessionString)
			b = binary.AppendUvarint(b, uint64(len(v)))
			b = append(b, v...)
		default:
			return scs.GobCodec{}.Encode(deadline, values)
		}
	}
	return b, nil
}

func (sessionCodec) Decode(b []byte) (time.Time, map[string]any, error) {
	if !bytes.HasPrefix(b, sessionMagic) {
		return scs.GobCodec{}.Decode(b)
	}
	r := sessionReader{b: b[len(sessionMagic):]}
	deadline := time.Unix(0, r.varint()).UTC()
	n := r.uvarint()
	if n > uint64(len(r.b)) { // each value takes a byte at least
		return time.Time{}, nil, errSessionFormat
	}
	values := make(map[string]any, n)
	for range n {
		k := string(r.bytes())
		switch r.byte() {
		case sessionInt64:
			values[k] = r.varint()
		case sessionString:
			values[k] = string(r.bytes())
		default:
			r.bad = true
		}
	}
	if r.bad || len(r.b) != 0 {
		return time.Time{}, nil, errSessionFormat
	}
	return deadline, values, nil
}

// sessionReader reads the fields of an encoded session; bad is set, and
// zero values returned, once the data runs short.
type sessionReader struct {
	b   []byte
	bad bool
}

func (r *sessionReader) varint() int64   { return readNumber(r, binary.Varint) }
func (r *sessionReader) uvarint() uint64 { return readNumber(r, binary.Uvarint) }

// readNumber reads one number with read (binary.Varint or Uvarint).
func readNumber[T int64 | uint64](r *sessionReader, read func([]byte) (T, int)) T {
	v, n := read(r.b)
	if n <= 0 {
		r.bad, r.b = true, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *sessionReader) byte() byte {
	if len(r.b) == 0 {
		r.bad = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *sessionReader) bytes() []byte {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.bad, r.b = true, nil
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}
