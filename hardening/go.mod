module github.com/sessionstore/sessionstore/hardening

go 1.25

require (
	github.com/alexedwards/scs/v2 v2.9.0
	github.com/sessionstore/sessionstore v0.0.0
	go.uber.org/goleak v1.3.0
)

replace github.com/sessionstore/sessionstore => ../
