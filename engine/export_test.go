package engine

// crashForTest stops s the way a killed process would leave its files:
// background goroutines stop, files are unmapped and the lock released,
// but the index is never marked clean and no final sync runs. (The page
// cache still holds every write, as after kill -9.)
func (s *Store) crashForTest() {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	s.failure.CompareAndSwap(nil, &errCrashed) // the flusher's last round must not sync
	s.stopBackground()
	<-s.flusherDone
	<-s.spareDone
	s.dropSpare()
	// As Close does: wait for a Compact (stopped above) before lifeMu, or
	// its Progress callback's reads queue behind the Lock below and hang.
	s.compactSlot <- struct{}{}
	s.lifeMu.Lock()
	s.closed.Store(true)
	s.releaseFiles()
	s.lifeMu.Unlock()
	_ = s.lock.Close()
}

var errCrashed error = errorString("crashed for test")

type errorString string

func (e errorString) Error() string { return string(e) }
