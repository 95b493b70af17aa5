package bench

import (
	"fmt"
	"math"
	"strconv"
)

// Float is a float64 that JSON-encodes NaN and ±Inf as null: results use
// NaN for "unknown" (no device counters, one round's spread), which JSON
// cannot represent, and encoding/json fails on it. null decodes back to
// NaN, so a report survives a round trip.
type Float float64

// MarshalJSON writes f, or null when it is not finite.
func (f Float) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// UnmarshalJSON reads a number, or null as NaN.
func (f *Float) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = Float(math.NaN())
		return nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("bench: bad JSON number %s: %w", b, err)
	}
	*f = Float(v)
	return nil
}
