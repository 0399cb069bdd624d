package endpoint

import (
	"github.com/evalpin/evalpin/internal/lock"
	"github.com/evalpin/evalpin/internal/lockid"
)

// verifyManifest recomputes the id of a manifest published in a well-known
// document. lock.Parse already refuses a manifest whose recorded lock differs
// from its content; the caller compares the id with the published one.
func verifyManifest(data []byte) (lockid.ID, error) {
	m, err := lock.Parse(data)
	if err != nil {
		return "", err
	}
	return m.ID()
}
