package hashindex

import (
	"unsafe"

	"github.com/cespare/xxhash/v2"
	metro "github.com/dgryski/go-metro"
)

// Fingerprint is a stream ID's 128-bit hash: two independent 64-bit hashes,
// so that two different IDs share a fingerprint with probability about
// 2^-128 per pair. The index still never trusts a match on its own (see
// MatchFunc), but collisions are rare enough that the extra record read
// they cost never matters.
type Fingerprint struct{ Hi, Lo uint64 }

// IsZero reports whether fp is the all-zero fingerprint, which marks an
// empty slot and is never produced by FingerprintOf.
func (fp Fingerprint) IsZero() bool { return fp.Hi == 0 && fp.Lo == 0 }

// fingerprintFunc is the hash FingerprintOf applies; tests replace it to
// force collisions.
var fingerprintFunc = hashFingerprint

// hashFingerprint is the production fingerprint: xxhash64 and metro64.
func hashFingerprint(streamID []byte) Fingerprint {
	return Fingerprint{Hi: xxhash.Sum64(streamID), Lo: metro.Hash64(streamID, 0)}
}

// FingerprintOf returns the fingerprint of a stream ID. The all-zero value
// is reserved for empty slots, so a (0,0) hash is remapped to (0,1); the
// remapped fingerprint may collide with a real one, which the MatchFunc
// check resolves like any other collision.
func FingerprintOf(streamID []byte) Fingerprint {
	fp := fingerprintFunc(streamID)
	if fp.IsZero() {
		fp.Lo = 1
	}
	return fp
}

// FingerprintString is FingerprintOf for a string, without copying it.
func FingerprintString(streamID string) Fingerprint {
	// The hashes only read the bytes, so viewing the string's memory as a
	// slice is safe and saves the conversion's allocation.
	return FingerprintOf(unsafe.Slice(unsafe.StringData(streamID), len(streamID)))
}

// SetFingerprintFuncForTest replaces the fingerprint function used by
// FingerprintOf and FingerprintString (to force collisions in tests of this
// and other packages) and returns a function restoring the previous one. It
// is not safe to call concurrently with any use of fingerprints or indexes.
func SetFingerprintFuncForTest(f func([]byte) Fingerprint) (restore func()) {
	old := fingerprintFunc
	fingerprintFunc = f
	return func() { fingerprintFunc = old }
}
