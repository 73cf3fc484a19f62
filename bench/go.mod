module github.com/sessionstore/sessionstore/bench

go 1.25.0

require (
	github.com/alexedwards/scs/goredisstore v0.0.0-20250212122300-421ef1d8611c
	github.com/alexedwards/scs/pgxstore v0.0.0-20240316134038-7e11d57e8885
	github.com/alexedwards/scs/v2 v2.9.0
	github.com/jackc/pgx/v5 v5.12.0
	github.com/lib/pq v1.12.3
	github.com/redis/go-redis/v9 v9.20.1
	github.com/sessionstore/sessionstore v0.1.0
	github.com/sessionstore/sessionstore/bunstore v0.1.0
	github.com/sessionstore/sessionstore/gormstore v0.1.0
	github.com/sessionstore/sessionstore/pgstore v0.1.0
	github.com/sessionstore/sessionstore/redisstore v0.1.0
	github.com/uptrace/bun v1.3.0
	github.com/uptrace/bun/dialect/pgdialect v1.3.0
	gorm.io/driver/postgres v1.6.3
	gorm.io/gorm v1.31.2
)

require (
	filippo.io/edwards25519 v1.2.0 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/go-sql-driver/mysql v1.10.1 // indirect
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/puddle/v2 v2.2.3 // indirect
	github.com/jinzhu/inflection v1.0.0 // indirect
	github.com/jinzhu/now v1.1.5 // indirect
	github.com/puzpuzpuz/xsync/v3 v3.5.1 // indirect
	github.com/tmthrgd/go-hex v0.0.0-20190904060850-447a3041c3bc // indirect
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	go.uber.org/atomic v1.11.0 // indirect
	golang.org/x/sync v0.22.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
	golang.org/x/text v0.41.0 // indirect
)

replace github.com/sessionstore/sessionstore => ../

replace github.com/sessionstore/sessionstore/pgstore => ../pgstore

replace github.com/sessionstore/sessionstore/redisstore => ../redisstore

replace github.com/sessionstore/sessionstore/gorillastore => ../gorillastore

replace github.com/sessionstore/sessionstore/gormstore => ../gormstore

replace github.com/sessionstore/sessionstore/bunstore => ../bunstore
