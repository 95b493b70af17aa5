package segment

// SetReadSize makes s's scans read n bytes at a time instead of
// viewWindow, so that small test segments move the window too.
func (s *Scanner) SetReadSize(n int64) { s.view.read = n }
