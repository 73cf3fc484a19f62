module github.com/sessionstore/sessionstore

go 1.25

require (
	github.com/alexedwards/scs/v2 v2.9.0
	go.uber.org/goleak v1.3.0
)
