package main

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestCommitted checks that each module's committed config.go is what
// genconfig writes: run go generate in the module after changing the
// template.
func TestCommitted(t *testing.T) {
	for pkg := range modules {
		t.Run(pkg, func(t *testing.T) {
			path := filepath.Join("..", "..", "..", pkg, "config.go")
			committed, err := os.ReadFile(path)
			if errors.Is(err, fs.ErrNotExist) {
				// The root module's zip holds no nested module.
				t.Skipf("%s: not in a checkout of the repository", path)
			}
			if err != nil {
				t.Fatal(err)
			}
			want, err := Render(pkg)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(committed, want) {
				t.Errorf("%s is not what genconfig writes: run go generate in %s", path, pkg)
			}
		})
	}
}
