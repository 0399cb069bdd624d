package main

import (
	"fmt"

	"github.com/evalpin/evalpin/internal/lock"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/ollama"
	"github.com/evalpin/evalpin/internal/untrusted"
)

// A lock's identity document is what its id hashes, stored with the lock
// (the store's manifest column) and carried by baseline files. Its kind
// follows from the id's prefix:
//
//	sha256:<hex>         evalpin's lock manifest (internal/lock)
//	ollama:sha256:<hex>  the identity evalpin derived from Ollama (internal/ollama)
//
// This file is the one place that tells them apart.

// parseLockDocument reads doc as the identity document of id, as the kind
// id's prefix names, and verifies that it is id's: it returns a
// *lock.Manifest or an ollama.Identity, or an error that says why
// the document is refused.
func parseLockDocument(id lockid.ID, doc []byte) (any, error) {
	switch {
	case id.Kind() == lockid.Ollama:
		o, err := ollama.ParseIdentity(id, doc)
		if err != nil {
			return nil, err
		}
		return o, nil
	case id.Kind() == lockid.Manifest:
		m, err := lock.Parse(doc)
		if err != nil {
			return nil, err
		}
		got, err := m.ID()
		if err != nil {
			return nil, err
		}
		if got != id {
			return nil, fmt.Errorf("it is the manifest of lock %s", untrusted.Line(string(got)))
		}
		return m, nil
	}
	return nil, fmt.Errorf("evalpin knows no identity document for a lock of this kind")
}

// verifyLockDocument checks that doc is the identity document of id: a lock
// manifest whose id is id, or an Ollama identity that hashes to id.
func verifyLockDocument(id lockid.ID, doc []byte) error {
	_, err := parseLockDocument(id, doc)
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
	da, err := parseLockDocument(a.id, a.doc)
	if err != nil {
		return "", fmt.Errorf("the identity document of lock %s is refused: %w", untrusted.Line(string(a.id)), err)
	}
	db, err := parseLockDocument(b.id, b.doc)
	if err != nil {
		return "", fmt.Errorf("the identity document of lock %s is refused: %w", untrusted.Line(string(b.id)), err)
	}
	switch x := da.(type) {
	case *lock.Manifest:
		if y, ok := db.(*lock.Manifest); ok {
			return lock.Diff(x, y).Words(), nil
		}
	case ollama.Identity:
		if y, ok := db.(ollama.Identity); ok {
			return ollama.Diff(x, y).Words(), nil
		}
	}
	return "", nil
}

// A lockDoc is a lock id with its identity document (nil when unknown).
type lockDoc struct {
	id  lockid.ID
	doc []byte
}
