package bench

import (
	"strconv"
)

// PayloadSize is the size of every event's data: a small JSON document.
const PayloadSize = 100

// EventType is the type of every benchmark event.
const EventType = "UserEvent"

// FillPayload writes the JSON document {"user":U,"n":N,"pad":"xx…"} padded
// to exactly PayloadSize bytes into buf (which must hold PayloadSize bytes)
// and returns buf[:PayloadSize].
func FillPayload(buf []byte, user, n int) []byte {
	b := buf[:0]
	b = append(b, `{"user":`...)
	b = strconv.AppendInt(b, int64(user), 10)
	b = append(b, `,"n":`...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, `,"pad":"`...)
	for len(b) < PayloadSize-2 {
		b = append(b, 'x')
	}
	b = append(b, `"}`...)
	return b[:PayloadSize]
}

// StreamNames returns "users/0" … "users/<n-1>".
func StreamNames(n int) []string {
	s := make([]string, n)
	for i := range s {
		s[i] = "users/" + strconv.Itoa(i)
	}
	return s
}
