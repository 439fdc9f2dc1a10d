package postgres

import "io"

// Hooks for the tests of copyJSONL in export_test.go.
const (
	CopySignature = copySignature
	PGEpochMicros = pgEpochMicros
)

func NewCopyJSONL(w io.Writer) io.WriteCloser { return &copyJSONL{w: w} }
