// Command redisstore is what a user of redisstore builds: the store on a
// go-redis client, on Redis when SESSIONSTORE_REDIS_ADDR is set.
package main

import (
	"context"
	"fmt"

	"github.com/alexedwards/scs/v2"
	"github.com/redis/go-redis/v9"

	"github.com/sessionstore/sessionstore/redisstore"
)

var _ scs.Store = (*redisstore.RedisStore)(nil)

func main() {
	if addr, ok := dsn("SESSIONSTORE_REDIS_ADDR"); ok {
		check("redisstore on Redis: commit, find, delete", run(addr))
	}
	exit()
}

func run(addr string) (err error) {
	ctx := context.Background()
	client := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{addr}})
	defer client.Close()
	// Keys of this run's own: the tombstone of the check's Delete outlives
	// the run, and must not meet the next one.
	prefix := table() + ":"
	store, err := redisstore.NewWithConfig(client, redisstore.Config{
		Prefix: prefix + "session:", TombstonePrefix: prefix + "tombstone:", IndexPrefix: prefix + "index:",
	})
	if err != nil {
		return err
	}
	defer func() {
		iter := client.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			client.Del(ctx, iter.Val())
		}
		if scanErr := iter.Err(); err == nil && scanErr != nil {
			err = fmt.Errorf("clean up: %w", scanErr)
		}
	}()
	return exercise(store)
}
