//go:build !race

package memstore_test

// floodScale divides the floods of the flood tests (see race_test.go).
const floodScale = 1
