//go:build race

package memstore_test

// floodScale divides the floods of the flood tests under the race detector,
// which makes each operation about ten times slower: the shapes stay, and
// `make test` stays quick. Without -race they run at full size.
const floodScale = 3
