package bunstore

import (
	"errors"

	"github.com/go-sql-driver/mysql"
)

// mysqlDeadlock reports whether err is MySQL's and MariaDB's
// ER_LOCK_DEADLOCK, by the number of the go-sql-driver/mysql error in its
// chain (1213), never by its message: InnoDB rolled the transaction back to
// break a deadlock, and running it again may succeed. The store retries on
// it (sqlstore.Config.Transient) as on PostgreSQL's codes
// (sqlstore.Transient).
func mysqlDeadlock(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1213
}
