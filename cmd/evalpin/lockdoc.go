package main

import (
	"fmt"

	"github.com/evalpin/evalpin/internal/identity"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/untrusted"
)

// A lock's identity document (a lock manifest, or the identity evalpin
// derived from Ollama) is stored with the lock, in the store's manifest
// column, and carried by baseline files; internal/identity reads, verifies
// and compares it.

// A lockDoc is a lock id with its identity document (nil when unknown).
type lockDoc struct {
	id  lockid.ID
	doc []byte
}

// verifyLockDocument checks that doc is the identity document of id
// (identity.Parse).
func verifyLockDocument(id lockid.ID, doc []byte) error {
	_, err := identity.Parse(id, doc)
	return err
}

// lockDocWords says in words what differs between the locks a and b, from
// their identity documents: "template changed; weights same; …". It returns
// "" when a document is missing or the two locks are of different kinds
// (the report then names the two ids), and an error when a document does not
// verify.
func lockDocWords(a, b lockDoc) (string, error) {
	if len(a.doc) == 0 || len(b.doc) == 0 {
		return "", nil
	}
	da, err := identity.Parse(a.id, a.doc)
	if err != nil {
		return "", fmt.Errorf("the identity document of lock %s is refused: %w", untrusted.Line(string(a.id)), err)
	}
	db, err := identity.Parse(b.id, b.doc)
	if err != nil {
		return "", fmt.Errorf("the identity document of lock %s is refused: %w", untrusted.Line(string(b.id)), err)
	}
	return da.Words(db), nil
}
