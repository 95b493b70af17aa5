package compaction

import "github.com/spooldb/spool/segment"

// tempSuffix marks the file a Rewrite builds before renaming it over the
// first segment of its run.
const tempSuffix = ".compact"

// TempName is the name under which Rewrite builds the compacted file for a
// run starting at base. segment.ParseFileName rejects it, so a store never
// mistakes it for a segment.
func TempName(base uint64) string { return segment.FileName(base) + tempSuffix }
