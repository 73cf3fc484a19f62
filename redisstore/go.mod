module github.com/sessionstore/sessionstore/redisstore

go 1.25.0

replace github.com/sessionstore/sessionstore => ../

require (
	github.com/alexedwards/scs/v2 v2.9.0
	github.com/redis/go-redis/v9 v9.20.1
	github.com/sessionstore/sessionstore v0.1.0
	github.com/sessionstore/sessionstore/gorillastore v0.1.0
	go.uber.org/goleak v1.3.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/gorilla/securecookie v1.1.2 // indirect
	github.com/gorilla/sessions v1.4.0 // indirect
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/pgx/v5 v5.12.0 // indirect
	github.com/jackc/puddle/v2 v2.2.3 // indirect
	go.uber.org/atomic v1.11.0 // indirect
	golang.org/x/sync v0.22.0 // indirect
	golang.org/x/text v0.41.0 // indirect
)

replace github.com/sessionstore/sessionstore/gorillastore => ../gorillastore
