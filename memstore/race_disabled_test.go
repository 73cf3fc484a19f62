//go:build !race

package memstore_test

// floodScale divides the floods of the flood tests (see race_enabled_test.go).
const floodScale = 1
