module github.com/sessionstore/sessionstore/redisstore

go 1.25.0

replace github.com/sessionstore/sessionstore => ../

require (
	github.com/redis/go-redis/v9 v9.20.1
	github.com/sessionstore/sessionstore v0.0.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/stretchr/testify v1.8.0 // indirect
	go.uber.org/atomic v1.11.0 // indirect
)
