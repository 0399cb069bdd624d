// Package architecture holds no code: its test walks the module's packages
// with go list and fails where one imports what docs/architecture.md says it
// must not, so that the package graph stays the list of jobs it is drawn as.
package architecture
