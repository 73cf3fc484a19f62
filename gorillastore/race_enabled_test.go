//go:build race

package gorillastore

// raceEnabled: the race detector allocates, so allocation counts are not
// checked under it.
const raceEnabled = true
