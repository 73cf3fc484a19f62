//go:build !race

package gorillastore

const raceEnabled = false
