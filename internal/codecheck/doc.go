// Package codecheck holds no code: its tests hold the repository to the
// rules a newcomer relies on — which package may import which, thin mains,
// documented exported identifiers, and no citation of files that are not
// in the repository.
package codecheck
