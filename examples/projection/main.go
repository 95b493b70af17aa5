// Command projection is a small read model fed by a Spool subscription:
// it counts events per type, saves its checkpoint (the Next position of
// the last event it applied) with the counts, and on restart resumes from
// there: catch-up first, then live.
//
//	go run ./examples/projection            # a fresh store in a temporary directory
//	go run ./examples/projection -dir DIR   # resume a store and its read model
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/spooldb/spool/engine"
)

// readModel is the projection's state and the log position it reflects.
type readModel struct {
	Checkpoint uint64           `json:"checkpoint"`
	Counts     map[string]int64 `json:"counts"`
}

func main() {
	dir := flag.String("dir", "", "store directory (default: a new temporary one)")
	events := flag.Int("events", 200000, "events to append before projecting")
	flag.Parse()
	if *dir == "" {
		d, err := os.MkdirTemp("", "spool-projection-")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	s, err := engine.Open(filepath.Join(*dir, "store"), &engine.Options{Durability: engine.NoSync})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	types := []string{"OrderPlaced", "OrderPaid", "OrderShipped"}
	for i := range *events {
		ev := engine.Event{Type: types[i%3], Data: []byte(fmt.Sprintf(`{"order":%d}`, i/3))}
		if _, err := s.Append(context.Background(), fmt.Sprintf("order-%d", i/3), engine.Any, ev); err != nil {
			log.Fatal(err)
		}
	}

	modelPath := filepath.Join(*dir, "readmodel.json")
	m := readModel{Counts: map[string]int64{}}
	if b, err := os.ReadFile(modelPath); err == nil {
		if err := json.Unmarshal(b, &m); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("resuming from position %d\n", m.Checkpoint)
	}

	// Catch up to what is committed now, then follow live for a moment.
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	end := s.Stats().CommittedPosition
	start, n := time.Now(), 0
	var caughtUp time.Duration
	for e, err := range s.Subscribe(ctx, m.Checkpoint, nil) {
		if err != nil {
			if ctx.Err() == nil {
				log.Fatal(err)
			}
			break // the demo's time is up
		}
		m.Counts[e.Type]++
		m.Checkpoint = e.Next
		n++
		if caughtUp == 0 && e.Next >= end {
			caughtUp = time.Since(start)
		}
	}
	if caughtUp > 0 {
		fmt.Printf("caught up on %d events in %v (%.0f events/s), then followed live\n",
			n, caughtUp.Round(time.Millisecond), float64(n)/caughtUp.Seconds())
	}
	fmt.Printf("counts: %v\n", m.Counts)
	b, err := json.Marshal(m)
	if err != nil {
		log.Fatal(err)
	}
	// Write the model and its checkpoint together: a crash in between must
	// not leave a checkpoint ahead of the counts.
	tmp := modelPath + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		log.Fatal(err)
	}
	if err := os.Rename(tmp, modelPath); err != nil {
		log.Fatal(err)
	}
}
