package mmapfile

// populateRead reports false: Darwin has no MADV_POPULATE_READ, so prepare
// touches the pages one by one.
func populateRead([]byte) bool { return false }

// populateWrite does nothing: the stores fault the pages in.
func populateWrite([]byte) {}
