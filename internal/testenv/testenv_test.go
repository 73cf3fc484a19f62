package testenv

import "testing"

// TestDSNs checks that each database's one variable is read, and that its
// default is the server `make test` starts.
func TestDSNs(t *testing.T) {
	for _, c := range []struct {
		env, def string
		get      func() string
	}{
		{"SESSIONSTORE_POSTGRES_DSN", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", PostgresDSN},
		{"SESSIONSTORE_MYSQL_DSN", "root@tcp(127.0.0.1:3306)/test?parseTime=true&loc=UTC", MySQLDSN},
		{"SESSIONSTORE_REDIS_ADDR", "127.0.0.1:6379", RedisAddr},
	} {
		t.Setenv(c.env, "")
		if got := c.get(); got != c.def {
			t.Errorf("%s unset: got %q, want the default %q", c.env, got, c.def)
		}
		t.Setenv(c.env, "set-by-test")
		if got := c.get(); got != "set-by-test" {
			t.Errorf("%s=set-by-test: got %q", c.env, got)
		}
	}
}
