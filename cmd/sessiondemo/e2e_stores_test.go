package main

import "testing"

// e2eCase is one store the browser test runs the demo on.
type e2eCase struct {
	name       string
	cfg        config
	persistent bool
}

func e2eStores(t *testing.T) []e2eCase {
	return []e2eCase{
		{name: "memory", cfg: config{addr: "127.0.0.1:0", store: "memory", framework: "scs"}},
		{name: "memory-gorilla", cfg: config{addr: "127.0.0.1:0", store: "memory", framework: "gorilla", key: testKey}},
	}
}

// soakStores are the stores the load soak runs on.
func soakStores(t *testing.T) []e2eCase { return e2eStores(t) }

const testKey = "sessiondemo-test-key-0123456789abcdef"
