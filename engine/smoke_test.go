package engine

import (
	"context"
	"fmt"
	"testing"
)

func TestSmoke(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, &Options{SegmentSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 2000 {
		st := fmt.Sprintf("s-%d", i%7)
		if _, err := s.Append(ctx, st, Any, Event{Type: "t", Data: []byte(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for ev, err := range s.ReadStream("s-3", 0, Forward) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		_ = ev
	}
	t.Log("forward", n, s.Stats().Segments)
	n = 0
	for _, err := range s.ReadAll(0) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	t.Log("all", n)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, &Options{SegmentSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", s.Recovered())
	v, err := s.StreamVersion("s-3")
	t.Log(v, err)
	s.Close()
}
