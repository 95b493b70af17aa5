package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// WriteJSON writes rep as indented JSON.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return fmt.Errorf("bench: encode report: %w", err)
	}
	return nil
}

// SaveJSON writes rep to path through a temporary file in the same
// directory, renamed into place: an interrupted run must not leave a
// truncated file that a later compare would misread.
func (rep *Report) SaveJSON(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("bench: save report: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	bw := bufio.NewWriter(tmp)
	err = rep.WriteJSON(bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// CreateTemp makes the file private; a report is meant to be shared.
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("bench: save report %s: %w", path, err)
	}
	return nil
}

// ReadReport decodes a report written by WriteJSON, checking its schema
// and version. Unknown fields are ignored (a newer writer of the same
// version may add some).
func ReadReport(r io.Reader) (*Report, error) {
	var rep Report
	if err := json.NewDecoder(r).Decode(&rep); err != nil {
		return nil, fmt.Errorf("bench: decode report: %w", err)
	}
	switch {
	case rep.Schema != ReportSchema:
		return nil, fmt.Errorf("bench: not a spool bench report (schema %q, want %q)", rep.Schema, ReportSchema)
	case rep.Version < 1 || rep.Version > ReportVersion:
		return nil, fmt.Errorf("bench: report version %d not supported (this spool reads 1 to %d)", rep.Version, ReportVersion)
	}
	return &rep, nil
}

// LoadReport reads the report in path.
func LoadReport(path string) (*Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer f.Close()
	rep, err := ReadReport(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rep, nil
}
